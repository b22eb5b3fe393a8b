import OmniZipCore

/// Typed, validated access to one request's tensors, with errors that name the tensor.
struct TensorReader {
    let file: SafetensorsFile
    let body: UnsafeRawBufferPointer

    struct Embeddings {
        let base: UnsafeRawPointer
        let elementType: ElementType
        let rows: Int
        let dimension: Int

        func rowsView(_ indices: [Int]) -> TokenRows {
            TokenRows(base: base, elementType: elementType, dimension: dimension, rowIndices: indices)
        }
    }

    func allowOnly(_ names: Set<String>, layout: String) throws(WireError) {
        if let extra = file.tensors.first(where: { !names.contains($0.name) }) {
            let guess = names.sorted().first { Self.editDistance($0, extra.name) <= 2 }.map { " (did you mean '\($0)'?)" } ?? ""
            let article = layout.first.map { "aeiou".contains($0) } == true ? "an" : "a"
            throw WireError(
                .unexpectedTensor,
                "tensor '\(extra.name)' is not part of \(article) \(layout) request\(guess); expected only \(names.sorted().joined(separator: ", "))")
        }
    }

    /// Levenshtein distance, for the near-miss names people type (`input_embeds`).
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        guard !a.isEmpty, !b.isEmpty else { return max(a.count, b.count) }
        var row = Array(0...b.count)
        for i in 1...a.count {
            var diagonal = row[0]
            row[0] = i
            for j in 1...b.count {
                let above = row[j]
                row[j] = min(above + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1))
                diagonal = above
            }
        }
        return row[b.count]
    }

    func require(_ name: String) throws(WireError) -> SafetensorsTensor {
        guard let tensor = file.tensor(name) else { throw WireError(.missingTensor, "tensor '\(name)' missing") }
        return tensor
    }

    /// A 1-D integer tensor (I64 or I32); `[1, n]` is accepted as a batch of one when allowed.
    func integers(_ name: String, rank: [Int], allowingBatch: Bool) throws(WireError) -> [Int64] {
        let tensor = try require(name)
        guard tensor.dtype == .i64 || tensor.dtype == .i32 else {
            throw WireError(.invalidDtype, "tensor '\(name)' must be I64 or I32, got \(tensor.dtype.rawValue)")
        }
        guard tensor.shape.count == 1 || (allowingBatch && tensor.shape.count == 2 && tensor.shape[0] == 1) else {
            throw WireError(.invalidShape, "tensor '\(name)' must have shape [n]\(allowingBatch ? " or [1, n]" : ""), got \(tensor.shape)")
        }
        do {
            return try file.int64Values(tensor, in: body)
        } catch {
            throw .malformed(error)
        }
    }

    /// `audio_scores [Na]`, any float dtype (the budget plan checks the values).
    func scores() throws(WireError) -> [Float] {
        let tensor = try require("audio_scores")
        guard tensor.dtype.isFloatingPoint else {
            throw WireError(.invalidDtype, "tensor 'audio_scores' must be F32, F16, BF16 or F64, got \(tensor.dtype.rawValue)")
        }
        guard tensor.shape.count == 1 || (tensor.shape.count == 2 && tensor.shape[0] == 1) else {
            throw WireError(.invalidShape, "tensor 'audio_scores' must have shape [Na], got \(tensor.shape)")
        }
        let values: [Float]
        do {
            values = tensor.dtype == .f64 ? try file.doubleValues(tensor, in: body).map { Float($0) } : try file.floatValues(tensor, in: body)
        } catch {
            throw .malformed(error)
        }
        return values
    }

    /// `video_grid_thw`, `[3]` or `[1, 3]` (the layout checks the values).
    func grid() throws(WireError) -> (t: Int, h: Int, w: Int) {
        let tensor = try require("video_grid_thw")
        guard tensor.shape == [3] || tensor.shape == [1, 3] else {
            throw WireError(.invalidShape, "tensor 'video_grid_thw' must have shape [3] or [1, 3] (one video per request), got \(tensor.shape)")
        }
        let v = try integers("video_grid_thw", rank: [1], allowingBatch: true)
        return (Int(v[0]), Int(v[1]), Int(v[2]))
    }

    /// A `[rows, D]` (or `[1, rows, D]`) F32/F16/BF16 tensor, viewed in place.
    func embeddings(_ name: String, required: Bool) throws(WireError) -> Embeddings? {
        guard let tensor = file.tensor(name) else {
            if required { throw WireError(.missingTensor, "tensor '\(name)' missing") }
            return nil
        }
        let type: ElementType
        switch tensor.dtype {
        case .f32: type = .float32
        case .f16: type = .float16
        case .bf16: type = .bfloat16
        default: throw WireError(.invalidDtype, "tensor '\(name)' must be F32, F16 or BF16, got \(tensor.dtype.rawValue)")
        }
        let shape = tensor.shape.count == 3 && tensor.shape[0] == 1 ? Array(tensor.shape.dropFirst()) : tensor.shape
        guard shape.count == 2 else {
            throw WireError(.invalidShape, "tensor '\(name)' must have shape [n, D], got \(tensor.shape)")
        }
        guard shape[1] > 0 || shape[0] == 0 else {
            throw WireError(.invalidShape, "tensor '\(name)' has hidden size 0")
        }
        let bytes: UnsafeRawBufferPointer
        do {
            bytes = try file.bytes(of: tensor, in: body)
        } catch {
            throw .malformed(error)
        }
        // A zero-byte tensor may have no address; any valid pointer will do as nothing is read.
        let base = bytes.baseAddress ?? body.baseAddress ?? UnsafeRawPointer(bitPattern: 8)!
        return Embeddings(base: base, elementType: type, rows: shape[0], dimension: shape[1])
    }
}
