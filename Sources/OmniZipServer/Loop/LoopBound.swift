#if canImport(Glibc)
    import Glibc
#endif

/// A reference that crosses to a worker and back without ever being dereferenced there: only
/// the loop thread reads `value`.
struct LoopBound<T: AnyObject>: @unchecked Sendable {
    let value: T
}
