import OmniZipWire

/// The media type of a Content-Type or Accept entry: lower-cased, parameters dropped.
func mediaType(_ value: String) -> String {
    let head = value.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
    return String(head).trimmingSpaces().lowercased()
}
