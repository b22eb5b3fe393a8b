import OmniZipWire

/// One request and its response on a connection, from the request's first byte until its
/// response is written. Loop thread only; a worker sees at most the body buffer and a
/// `LoopBound` token of it.
final class Exchange {
    /// The core of the connection it came in on, which decides when its answer goes out.
    weak var owner: (any ExchangeOwner)?
    /// The connection state machine's name for this request.
    let id: Int
    var requestID: String
    let startedAt: ContinuousClock.Instant
    /// When the body was complete.
    var receivedAt: ContinuousClock.Instant

    // Request line and headers, accumulated as http_parser hands them over in pieces.
    var method = "-"
    var http10 = false
    var url: [UInt8] = []
    var path = "-"
    var query: [String: String] = [:]
    var contentType: String?
    var accept: String?
    var expectsContinue = false
    var requestIDHeader: [UInt8]?
    /// `Omnizip-Memfd-Length`, as sent ("" when repeated).
    var memfdLength: String?
    /// Descriptors received with this request's head (Unix socket only; `DescriptorBody`).
    var descriptors: [ReceivedDescriptor] = []
    /// The memfd's declared size when the body is a descriptor (set by `Router.check`).
    var descriptorLength: Int?
    var headersComplete = false
    var endpoint: Endpoint?

    // Body.
    /// Dropping the body cancels a compression running on it.
    var body: ByteBuffer? {
        didSet {
            guard body == nil else { return }
            if case let .streamed(streamed) = prefix { streamed.compression.cancel() }
            prefix = nil
        }
    }
    /// What the loop decided from the body's first bytes (compress and explain with a
    /// Content-Length), once its header and small tensors are in; handed to the job.
    var prefix: Job.Prefix?
    /// Body bytes needed before the prefix is worth decoding again; nil: not streamed.
    var prefixNeeded: Int?
    /// Content-Length when given (a direct socket read may fill the body in place).
    var contentLength: Int?
    /// Content-Length as sent (may exceed Int.max), for messages.
    var declaredLength: UInt64?
    var chunked = false
    /// The response was decided before the body: its bytes are counted, not kept.
    var discardBody = false
    var bytesIn = 0

    var response: HTTPResponse?
    /// What admission granted (compress, score and budget only), given back once at the end.
    var ticket: Admission.Ticket?
    var loggedDone = false
    /// What the finished job adds to the request's log line.
    var outcome: RequestLog.Outcome?

    init(id: Int, startedAt: ContinuousClock.Instant) {
        self.id = id
        self.startedAt = startedAt
        receivedAt = startedAt
        requestID = RequestID.next()
    }

    /// The response, decided; the connection's state machine says when it goes out. An answered
    /// request holds no descriptor: whatever came with it is closed now (`ReceivedDescriptor`).
    func respond(_ response: HTTPResponse) {
        self.response = response
        descriptors = []
        owner?.responseReady(self, close: false)
    }

    /// A response decided before the body is in (or instead of it): the body is not kept, and
    /// the state machine decides whether it is read and dropped or the connection closes.
    /// `close`: the connection closes after this response whatever the body.
    func reject(_ response: HTTPResponse, close: Bool = false) {
        self.response = response
        discardBody = true
        body = nil
        descriptors = []
        owner?.responseReady(self, close: close)
    }

    func rejectError(_ status: Int, _ code: ErrorCode, _ message: String, headers: [(String, String)] = [], close: Bool = false) {
        reject(ErrorBody.response(status, code, message, requestID: requestID, headers: headers), close: close)
    }
}
