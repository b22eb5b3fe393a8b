import OmniZipCore
import OmniZipWire

/// libFuzzer target: request decoding as the server does it, safetensors and JSON. Every input
/// must be decoded or refused with a WireError; a small valid request is also compressed and
/// encoded, so the pipeline sees what decoding lets through. `make fuzz` builds and runs it.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let body = UnsafeRawBufferPointer(start: data, count: size)
    if let decoded = try? RequestDecoder.decode(body, overrides: [:], requireEmbeddings: false) {
        if let plan = try? decoded.budgetPlan() {
            _ = ScoreCodec.json(decoded, plan)
            _ = ScoreCodec.tensors(decoded, plan).serialized()
        }
        // Bounded so one input cannot take seconds: a few thousand values, small frames.
        let values = (decoded.chunks.audioTokenCount + decoded.chunks.videoTokenCount) * max(1, decoded.dimension)
        if decoded.hasEmbeddings, values <= 1 << 16, decoded.chunks.tokensPerFrame <= 64,
            let input = try? decoded.compressionInput(), let result = try? compressor.compress(input)
        {
            _ = ResponseEncoder.compress(decoded, result, includeEmbeddings: true).serialized()
        }
    }
    if let decoded = try? ScoreCodec.decodeJSON(body, overrides: [:]), let plan = try? decoded.budgetPlan() {
        _ = ScoreCodec.json(decoded, plan)
    }
    if let request = try? BudgetCodec.decodeJSON(body, overrides: [:]) {
        _ = BudgetCodec.json(request, BudgetCodec.budget(request))
    }
    return 0
}

private let compressor = Compressor(workers: 1)

// SwiftPM links an executable with `main` pointing at `FuzzRequestDecoding_main`; libFuzzer's driver is
// entered from here (its own `main` is then not linked in).
@_cdecl("FuzzRequestDecoding_main")
public func fuzzerEntryPoint(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv, fuzzOneInput)
}

// C functions with pointer and int arguments only: the Swift and C conventions agree on x86-64
// and arm64 for these, so a silgen name is enough and no C shim target is needed.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt
) -> CInt
