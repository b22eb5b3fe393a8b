import OmniZipWire

/// A request body passed as a sealed memfd over the Unix socket instead of as bytes: the HTTP
/// body is empty, `Omnizip-Memfd-Length` says how long the memfd is, and exactly one descriptor
/// comes with the bytes of the request's head. Its contents are the safetensors request.
enum DescriptorBody {
    static let mediaType = "application/vnd.omnizip.memfd"
    static let lengthHeader = "omnizip-memfd-length"
    /// What `/v1/info` lists in `features` when a Unix-socket listener takes such bodies.
    static let feature = "memfd-body"

    struct Refusal: Error, Equatable {
        let status: Int
        let code: ErrorCode
        let message: String
    }

    /// The rules the headers and the descriptors received with them decide: nil for an
    /// ordinary request, the declared length for a descriptor body, or why it is refused.
    static func declaredLength(_ exchange: Exchange, maxBodyBytes: Int) -> Result<Int?, Refusal> {
        let declares = exchange.contentType.map(OmniZipServer.mediaType) == mediaType
        guard declares else {
            if exchange.descriptors.isEmpty { return .success(nil) }
            return .failure(
                Refusal(
                    status: 400, code: .invalidDescriptor,
                    message: "a file descriptor came with a request whose Content-Type is not \(mediaType); it was closed"))
        }
        guard exchange.contentLength == 0, !exchange.chunked else {
            return .failure(Refusal(status: 400, code: .invalidDescriptor, message: "a \(mediaType) request has an empty body (Content-Length: 0)"))
        }
        guard let text = exchange.memfdLength, !text.isEmpty, text.count <= 19, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
            let length = Int(text)
        else {
            return .failure(
                Refusal(
                    status: 400, code: .invalidDescriptor,
                    message: "a \(mediaType) request needs an Omnizip-Memfd-Length header with the memfd's size in bytes"))
        }
        guard length <= maxBodyBytes else {
            return .failure(
                Refusal(status: 413, code: .bodyTooLarge, message: "the memfd's \(length) bytes exceed the limit of \(maxBodyBytes) bytes"))
        }
        guard exchange.descriptors.count == 1 else {
            let message =
                exchange.descriptors.isEmpty
                ? "no file descriptor came with this \(mediaType) request: send the sealed memfd with SCM_RIGHTS on the bytes of its head, over the Unix socket"
                : "\(exchange.descriptors.count) file descriptors came with this request; send exactly one"
            return .failure(Refusal(status: 400, code: .invalidDescriptor, message: message))
        }
        return .success(length)
    }
}
