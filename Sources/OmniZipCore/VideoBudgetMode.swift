/// How many video tokens each whole frame keeps (stage 3's per-frame counts).
public enum VideoBudgetMode: String, Sendable, Hashable, CaseIterable {
    /// The reference's counts: every frame of a run keeps `int(P * (1 - ratio))`, so the kept
    /// total depends on the audio scores through the per-run ratios.
    case reference
    /// The kept video total is K*, known from sizes and parameters alone; per-frame counts are
    /// reconciled to it by largest remainder (spec: "Option: exact-count video budget").
    /// Serving engines that size placeholders before any encoder runs need this.
    case exact
}
