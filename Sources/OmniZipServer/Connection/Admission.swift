/// Who gets to send work (compress, score, budget), decided from the headers alone: by the
/// requests already complete and waiting for or holding a worker, and by the memory held in
/// request bodies. A client still uploading holds memory it declared, never a worker slot, so
/// slow uploads cannot lock others out, and no request is refused after its whole body came.
/// Pure bookkeeping (no I/O, no clock): tested directly. Loop thread only.
struct Admission: Equatable {
    /// Complete requests waiting for or holding a worker (`--max-inflight`).
    let maxQueued: Int
    /// Bytes of request bodies held in memory at once (`--max-buffered-bytes`).
    let maxBufferedBytes: Int
    /// Requests admitted and not answered yet (uploading, queued or running).
    private(set) var admitted = 0
    private(set) var queued = 0
    private(set) var bufferedBytes = 0

    /// One admitted request's share.
    struct Ticket: Equatable {
        var reservedBytes: Int
        var queued = false
    }

    init(maxQueued: Int, maxBufferedBytes: Int) {
        self.maxQueued = max(1, maxQueued)
        self.maxBufferedBytes = max(1, maxBufferedBytes)
    }

    /// A ticket reserving `bytes` of body memory, or why not.
    mutating func admit(reserving bytes: Int) -> Result<Ticket, Refusal> {
        if queued >= maxQueued {
            return .failure(.queueFull("\(queued) requests are already waiting for a worker (--max-inflight \(maxQueued))"))
        }
        if bytes > maxBufferedBytes - bufferedBytes {
            return .failure(
                .memory(
                    "a body of \(bytes) bytes does not fit: \(bufferedBytes) of \(maxBufferedBytes) bytes of request bodies are held (--max-buffered-bytes)"
                ))
        }
        admitted += 1
        bufferedBytes += bytes
        return .success(Ticket(reservedBytes: bytes))
    }

    /// A chunked body outgrew its reservation.
    mutating func grow(_ ticket: inout Ticket, to bytes: Int) -> Bool {
        let extra = bytes - ticket.reservedBytes
        guard extra > 0 else { return true }
        guard extra <= maxBufferedBytes - bufferedBytes else { return false }
        bufferedBytes += extra
        ticket.reservedBytes = bytes
        return true
    }

    /// The body is complete: the request joins the worker queue, whatever its length now.
    mutating func enqueue(_ ticket: inout Ticket) {
        guard !ticket.queued else { return }
        ticket.queued = true
        queued += 1
    }

    /// The work is done: the request leaves the worker queue now, so a client slow to read
    /// its answer holds no compute slot; its body memory stays reserved until `release`.
    mutating func workDone(_ ticket: inout Ticket) {
        guard ticket.queued else { return }
        ticket.queued = false
        queued -= 1
    }

    /// Answered or abandoned: everything the ticket held comes back.
    mutating func release(_ ticket: Ticket) {
        admitted -= 1
        bufferedBytes -= ticket.reservedBytes
        if ticket.queued { queued -= 1 }
    }

    enum Refusal: Error, Equatable {
        case queueFull(String)
        case memory(String)

        var message: String {
            switch self {
            case let .queueFull(m), let .memory(m): m
            }
        }
    }
}
