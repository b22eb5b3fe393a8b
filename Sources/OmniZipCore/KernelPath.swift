import COmniZipKernels

/// Which instruction-set path the kernels run: "scalar", "avx2", "avx512" or "avx512bf16".
/// The best this CPU runs, or a lower one named by `OMNIZIP_ISA` (to test and benchmark the
/// paths other CPUs get). The paths sum the cross-modal products in different orders, so their
/// float32 results can differ in the last bits; a decision flips only where it is that close to
/// a tie (no golden case is).
public enum KernelPath {
    public static let environmentVariable = "OMNIZIP_ISA"
    public static let names = ["scalar", "avx2", "avx512", "avx512bf16"]

    /// The path in use.
    public static var current: String { String(cString: omnizip_kernels_isa()) }

    /// The best path this CPU runs.
    public static var best: String { String(cString: omnizip_kernels_isa_best()) }

    /// Why `OMNIZIP_ISA` cannot be honoured (nil when it is unset or names a path this CPU runs):
    /// the kernels would silently run another path, so entry points refuse to start.
    public static var requestProblem: String? {
        switch omnizip_kernels_isa_request_status() {
        case 1: return "\(environmentVariable) must be one of \(names.joined(separator: ", "))"
        case 2: return "\(environmentVariable) asks for a path this CPU cannot run (its best is \(best))"
        default: return nil
        }
    }
}
