/// What a body that is not safetensors looks like, and what to send instead: the usual
/// mistakes (JSON, a `torch.save` file, a numpy array, form data, nothing) get a message that
/// names them, where the safetensors parser could only report a nonsensical header length.
enum NotSafetensors {
    static func hint(_ body: UnsafeRawBufferPointer) -> String? {
        let bytes = body.prefix(512)
        func starts(with prefix: [UInt8]) -> Bool { bytes.starts(with: prefix) }
        if body.isEmpty {
            return "the request is empty (0 bytes): it must be a safetensors file (curl --data-binary @request.safetensors)"
        }
        if let first = bytes.first(where: { ![0x20, 0x09, 0x0A, 0x0D].contains($0) }), first == UInt8(ascii: "{") || first == UInt8(ascii: "[") {
            return "the body is JSON, not safetensors: /v1/compress and /v1/explain take the tensors as safetensors "
                + "(omnizip_client or safetensors.torch.save); JSON goes to /v1/score (scores and sizes) "
                + "or /v1/budget (sizes alone), with Content-Type: application/json"
        }
        if starts(with: Array("PK\u{3}\u{4}".utf8)) {
            return "the body is a zip archive (what torch.save writes), not safetensors: save the tensors with "
                + "safetensors.torch.save_file, or let omnizip_client send them"
        }
        if bytes.count >= 2, bytes[bytes.startIndex] == 0x80, (2...5).contains(bytes[bytes.startIndex + 1]) {
            return "the body is a Python pickle (torch.save's legacy format), not safetensors: save the tensors with "
                + "safetensors.torch.save_file, or let omnizip_client send them"
        }
        if starts(with: [0x93] + Array("NUMPY".utf8)) {
            return "the body is a numpy .npy array, not safetensors: a request is several named tensors in one "
                + "safetensors file (safetensors.numpy.save_file)"
        }
        if starts(with: Array("--".utf8)), String(decoding: bytes, as: UTF8.self).lowercased().contains("content-disposition") {
            return "the body is multipart form data (curl -F), not safetensors: send the file itself, "
                + "curl --data-binary @request.safetensors -H 'Content-Type: application/octet-stream'"
        }
        return nil
    }
}
