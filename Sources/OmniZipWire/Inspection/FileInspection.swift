import OmniZipCore

/// Everything `omnizip inspect` reports about one safetensors file: its tensors (dtype, shape,
/// byte range, statistics) and metadata, what kind of file it looks like, and for a request
/// the layout it implies and exactly how `/v1/compress` (and `/v1/score`) would answer it.
public struct FileInspection: Sendable {
    public enum Kind: String, Sendable {
        case request, compressResponse = "compress_response", scoreResponse = "score_response", other
    }

    public struct Tensor: Sendable {
        public var name: String
        public var dtype: String
        public var shape: [Int]
        /// Absolute byte offsets in the file, header included.
        public var byteRange: Range<Int>
        public var stats: TensorStats?
    }

    public var fileBytes: Int
    public var headerBytes: Int
    public var metadata: [String: String]
    /// In file order (by data offset).
    public var tensors: [Tensor]
    public var kind: Kind
    /// For a request: its layout, when it decodes (embeddings not required).
    public var request: RequestSummary?
    /// For a request: what /v1/compress and /v1/score would answer.
    public var compress: RequestVerdict?
    public var score: RequestVerdict?

    /// Names only a request has; any of them makes the file be judged as one (the decoder's rule).
    static let requestNames: Set<String> = [
        "input_ids", "inputs_embeds", "audio_scores", "video_grid_thw", "audio_embeds",
        "video_embeds", "audio_chunk_lens", "video_chunk_lens",
    ]

    /// Throws the server's own `invalid_safetensors` error for a file that does not parse.
    /// `workers` run the compression that tells whether the server would accept a request.
    public init(_ bytes: UnsafeRawBufferPointer, workers: Int = 1) throws(WireError) {
        let file: SafetensorsFile
        do {
            file = try SafetensorsFile(parsing: bytes)
        } catch {
            throw .notSafetensors(error, body: bytes)
        }
        fileBytes = bytes.count
        headerBytes = file.headerByteCount
        metadata = file.metadata
        tensors = file.tensors.map {
            Tensor(
                name: $0.name, dtype: $0.dtype.rawValue, shape: $0.shape, byteRange: $0.dataRange,
                stats: TensorStats($0, in: file, bytes: bytes))
        }
        let names = Set(file.tensors.map(\.name))
        if !names.isDisjoint(with: Self.requestNames) {
            kind = .request
        } else if names.contains("keep_mask") || names.contains("audio_keep") && names.contains("video_keep") {
            kind = .compressResponse
        } else if names.contains("video_chunk_kept") {
            kind = .scoreResponse
        } else {
            kind = .other
        }
        guard kind == .request else { return }

        if let decoded = try? RequestDecoder.decode(bytes, requireEmbeddings: false) {
            request = RequestSummary(decoded, file: file, bytes: bytes)
        }
        compress = Self.compressVerdict(bytes, workers: workers)
        score = Self.scoreVerdict(bytes)
    }

    /// The steps of `POST /v1/compress`, in its order, so the first error is the one it gives.
    static func compressVerdict(_ bytes: UnsafeRawBufferPointer, workers: Int) -> RequestVerdict {
        do throws(WireError) {
            let decoded = try RequestDecoder.decode(bytes, requireEmbeddings: true)
            let compressor = Compressor(workers: workers)
            let result = try decoded.compress(with: compressor)
            return .accepted(TokenCounts(decoded, result.plan, merged: result.mergedAnchors.count))
        } catch {
            return .refused(error)
        }
    }

    static func scoreVerdict(_ bytes: UnsafeRawBufferPointer) -> RequestVerdict {
        do throws(WireError) {
            let decoded = try RequestDecoder.decode(bytes, requireEmbeddings: false)
            return .accepted(TokenCounts(decoded, try decoded.budgetPlan()))
        } catch {
            return .refused(error)
        }
    }
}
