import COmniZipKernels

/// How the cross-modal maximum `x_i = max_j a_i . v_j` is computed for a request.
///
/// F32/F16 inputs: unit rows in float32 through SGEMM (the reference's own order of operations).
/// BF16 inputs on the avx2, avx512 and avx512bf16 kernel paths: the raw BF16 rows through BF16
/// dot products with float32 accumulation, divided by the norms afterwards (natively with
/// vdpbf16ps, or two FMAs a pair with the same bits). Every BF16 product is exact in float32, so
/// this is the same arithmetic up to summation order, without widened copies of the rows.
enum CrossModalPath: Sendable, Equatable {
    case float32
    case bfloat16

    static func choose(audio: ElementType, video: ElementType, allowBF16: Bool) -> CrossModalPath {
        allowBF16 && audio == .bfloat16 && video == .bfloat16 && omnizip_has_bf16_dot() != 0 ? .bfloat16 : .float32
    }
}

/// The pooled audio rows in the BF16 kernel's column panels, packed once per request, a panel
/// per unit of work (`pack(panel:)`), each as soon as its rows are in.
struct PackedBF16Rows {
    /// Columns (pooled tokens) per panel: the kernel's layout.
    static let panelColumns = 32
    let panels: Scratch<UInt32>
    let count: Int
    /// Words of one panel, so that panel `k` starts at `panels.base + k * panelWords`.
    let panelWords: Int
    let source: TokenRows
    /// The pooled tokens' rows, in panel order.
    let indices: [Int]

    init(_ source: TokenRows, indices: [Int], buffers: BufferPool) throws(OmniZipError) {
        count = indices.count
        panelWords = omnizip_bf16_packed_size(Self.panelColumns, source.dimension)
        panels = try .required(omnizip_bf16_packed_size(count, source.dimension), from: buffers)
        self.source = source
        self.indices = indices
    }

    var panelCount: Int { (count + Self.panelColumns - 1) / Self.panelColumns }

    /// The pooled tokens that panel `panel` holds.
    func tokens(ofPanel panel: Int) -> Range<Int> {
        (panel * Self.panelColumns)..<min(count, panel * Self.panelColumns + Self.panelColumns)
    }

    func pack(panel: Int) {
        let tokens = tokens(ofPanel: panel)
        withUnsafeTemporaryAllocation(of: UnsafeRawPointer?.self, capacity: Self.panelColumns) { addresses in
            for (k, token) in tokens.enumerated() { addresses[k] = source.address(indices[token]) }
            omnizip_bf16_pack_columns(addresses.baseAddress!, tokens.count, source.dimension, panels.base + panel * panelWords)
        }
    }

    /// The panels from pooled token `first` on (a multiple of `panelColumns`).
    func panels(from first: Int) -> UnsafePointer<UInt32> {
        UnsafePointer(panels.base + first / Self.panelColumns * panelWords)
    }
}
