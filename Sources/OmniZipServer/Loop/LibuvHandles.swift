import CUV

/// libuv's handle and stream types are C "subclasses" by layout: every handle begins with the
/// uv_handle_t fields, and every stream with the uv_stream_t ones.
extension UnsafeMutablePointer {
    var handleRef: UnsafeMutablePointer<uv_handle_t> { UnsafeMutableRawPointer(self).assumingMemoryBound(to: uv_handle_t.self) }
    var streamRef: UnsafeMutablePointer<uv_stream_t> { UnsafeMutableRawPointer(self).assumingMemoryBound(to: uv_stream_t.self) }
}
