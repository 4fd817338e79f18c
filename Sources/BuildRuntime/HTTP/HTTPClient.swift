import CCurl
import Foundation
import Synchronization

/// What a request sends as its body.
public enum HTTPBody: Sendable {
    case none
    case bytes(Data)
    /// `length` bytes of the file at `path` from `offset` (a blob, or one chunk of it), read as
    /// they are sent, never held whole.
    case file(path: String, offset: Int64, length: Int64)
    /// What can be read from `fd` (a pipe a producer writes) until its end, sent as it comes
    /// (chunked transfer encoding). The caller owns `fd`. Such a body cannot be sent twice.
    case stream(fd: Int32)
}

/// One HTTP request. Redirects are never followed here: the caller decides (see
/// `RedirectPolicy`), so credentials cannot follow a redirect by accident.
public struct HTTPRequest: Sendable {
    public var method: String
    public var url: URL
    public var headers: [(String, String)]
    public var body: HTTPBody
    /// Seconds for the whole transfer; a transfer slower than 1 KiB/s for 30 s also fails.
    public var timeout: Double
    /// PEM CA certificates trusted for https besides the system's (a registry's own CA).
    public var trustedCertificates: Data?
    /// Which addresses the transfer may connect to, checked on each address curl is about to
    /// connect to (after name resolution); nil: any.
    public var addressPolicy: OutboundAddressPolicy?

    public init(method: String = "GET", url: URL, headers: [(String, String)] = [], body: HTTPBody = .none, timeout: Double = 300,
                trustedCertificates: Data? = nil, addressPolicy: OutboundAddressPolicy? = nil) {
        self.trustedCertificates = trustedCertificates
        self.addressPolicy = addressPolicy
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeout = timeout
    }
}

/// Where a response body goes. Every sink has a cap on the bytes it accepts.
public enum HTTPResponseSink {
    /// Kept in memory, at most `maxBytes` (manifests, token answers, error bodies).
    case memory(maxBytes: Int)
    /// Streamed into `writer` as it arrives (blobs, archives), at most `maxBytes`.
    case stream(BlobWriter, maxBytes: Int64)
}

/// A response: status, headers (names lowercased) and, for a memory sink, the body.
public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: [String: String]
    public var body: Data
    /// Bytes the body had (for a stream sink, what was written to it).
    public var bodyBytes: Int64
}

/// Why a transfer failed.
public enum HTTPError: Error, Equatable, CustomStringConvertible {
    /// The peer could not be reached, or the connection broke (curl's message).
    case transport(String)
    /// The TLS handshake failed: often a peer that speaks plain HTTP.
    case tlsHandshake(String)
    /// The peer's certificate is not signed by a trusted CA, or names another host.
    case untrustedCertificate(String)
    /// The body was larger than the sink's cap; the transfer was stopped there.
    case tooLarge(limit: Int64)
    /// The request's address policy refused every address the host resolved to (no connection
    /// was attempted); the message names the (first) address and how to allow it.
    case addressRefused(String)

    /// Whether an https attempt failing this way may mean a peer that speaks plain HTTP: the
    /// handshake failed or the connection broke. Never for a certificate that is not trusted
    /// (the peer speaks TLS).
    public var mayMeanPlainHTTP: Bool {
        switch self {
        case .tlsHandshake, .transport: return true
        case .untrustedCertificate, .tooLarge, .addressRefused: return false
        }
    }

    public var description: String {
        switch self {
        case .transport(let m), .tlsHandshake(let m), .untrustedCertificate(let m), .addressRefused(let m): return m
        case .tooLarge(let limit): return "the answer is larger than \(limit) bytes"
        }
    }
}

/// An HTTP/1.1 and HTTP/2 client on libcurl's easy interface, one blocking transfer per
/// thread (`BlockingWork`). It speaks only http and https, follows no redirect, caps what it
/// reads, streams bodies to disk, and can be cancelled.
public struct HTTPClient: Sendable {
    public init() { _ = Self.globalInit }

    private static let globalInit: Void = { curl_global_init(Int(CURL_GLOBAL_ALL)) }()

    /// The system's CA bundle (Debian's path), read once; empty where there is none.
    static let systemCertificates: Data = FileManager.default.contents(atPath: "/etc/ssl/certs/ca-certificates.crt") ?? Data()

    /// Sends `request` and returns the response; the body goes to `sink`.
    public func send(_ request: HTTPRequest, sink: HTTPResponseSink = .memory(maxBytes: 4 << 20)) async throws -> HTTPResponse {
        let transfer = Transfer(sink: sink, addressPolicy: request.addressPolicy)
        return try await withTaskCancellationHandler {
            try await BlockingWork.run { try transfer.perform(request) }
        } onCancel: {
            transfer.cancelled.store(true, ordering: .relaxed)
        }
    }
}

/// The state of one transfer, reached from libcurl's C callbacks through an unretained pointer
/// while `perform` runs.
///
/// `@unchecked Sendable`: the mutable fields are touched only by the thread running `perform`
/// (curl calls its callbacks on that thread, inside `curl_easy_perform`); `cancelled` is the
/// one field other threads write, and it is atomic.
private final class Transfer: @unchecked Sendable {
    let sink: HTTPResponseSink
    let cancelled = Atomic<Bool>(false)
    var body = Data()
    var bodyBytes: Int64 = 0
    var headers: [String: String] = [:]
    var overLimit: Int64?
    var sinkError: Error?
    let addressPolicy: OutboundAddressPolicy?
    /// Why the address policy refused a connection (the first refusal), and whether it let
    /// any through.
    var addressRefusal: String?
    var addressAllowed = false
    var upload: FileHandle?
    var uploadStream: Int32?
    var uploadRemaining: Int64 = 0
    var uploadBytes = Data()
    var uploadOffset = 0

    init(sink: HTTPResponseSink, addressPolicy: OutboundAddressPolicy?) {
        self.sink = sink
        self.addressPolicy = addressPolicy
    }

    func perform(_ request: HTTPRequest) throws -> HTTPResponse {
        guard let h = curl_easy_init() else { throw HTTPError.transport("libcurl could not start a transfer") }
        defer { curl_easy_cleanup(h) }
        var list: UnsafeMutablePointer<curl_slist>?
        defer { curl_slist_free_all(list) }
        let context = Unmanaged.passUnretained(self).toOpaque()

        slipway_curl_set_string(h, CURLOPT_URL, request.url.absoluteString)
        slipway_curl_set_string(h, CURLOPT_PROTOCOLS_STR, "http,https")
        slipway_curl_set_long(h, CURLOPT_FOLLOWLOCATION, 0)
        slipway_curl_set_long(h, CURLOPT_NOSIGNAL, 1)
        slipway_curl_set_long(h, CURLOPT_TIMEOUT_MS, Int(request.timeout * 1000))
        slipway_curl_set_long(h, CURLOPT_CONNECTTIMEOUT, 30)
        slipway_curl_set_long(h, CURLOPT_LOW_SPEED_LIMIT, 1024)
        slipway_curl_set_long(h, CURLOPT_LOW_SPEED_TIME, 30)
        slipway_curl_set_string(h, CURLOPT_USERAGENT, "slipway")
        // Proxies come only from what Slipway is told, never from the environment of a build;
        // there is none, so the address an address policy checks is the peer's own.
        slipway_curl_set_string(h, CURLOPT_PROXY, "")
        if addressPolicy != nil {
            // Every socket curl opens (each resolved address of each attempt) is checked first,
            // so no resolution (a rebinding name, a CONNECT_TO/RESOLVE override, which nothing
            // sets, or a cached answer; the handle is new anyway) gets around it; redirects are
            // the caller's, each a new transfer checked the same way.
            slipway_curl_set_opensocket_callback(h, { ctx, _, address in
                Unmanaged<Transfer>.fromOpaque(ctx!).takeUnretainedValue().openSocket(address!)
            })
            slipway_curl_set_pointer(h, CURLOPT_OPENSOCKETDATA, context)
        }
        if let extra = request.trustedCertificates {
            // A CA bundle given as a blob replaces the default file, so the system's go with it.
            let bundle = HTTPClient.systemCertificates + Data("\n".utf8) + extra
            bundle.withUnsafeBytes { _ = slipway_curl_set_blob(h, CURLOPT_CAINFO_BLOB, $0.baseAddress, $0.count) }
        }
        slipway_curl_set_data_callback(h, CURLOPT_WRITEFUNCTION, { data, size, count, ctx in
            Unmanaged<Transfer>.fromOpaque(ctx!).takeUnretainedValue().receive(data!, size * count)
        })
        slipway_curl_set_pointer(h, CURLOPT_WRITEDATA, context)
        slipway_curl_set_data_callback(h, CURLOPT_HEADERFUNCTION, { data, size, count, ctx in
            Unmanaged<Transfer>.fromOpaque(ctx!).takeUnretainedValue().header(data!, size * count)
        })
        slipway_curl_set_pointer(h, CURLOPT_HEADERDATA, context)
        slipway_curl_set_long(h, CURLOPT_NOPROGRESS, 0)
        slipway_curl_set_progress_callback(h, { ctx, _, _, _, _ in
            Unmanaged<Transfer>.fromOpaque(ctx!).takeUnretainedValue().cancelled.load(ordering: .relaxed) ? 1 : 0
        })
        slipway_curl_set_pointer(h, CURLOPT_XFERINFODATA, context)

        var headerLines = request.headers.map { "\($0.0): \($0.1)" }
        headerLines.append("Expect:")  // no 100-continue round trip before uploads
        switch request.method {
        case "GET": break
        case "HEAD": slipway_curl_set_long(h, CURLOPT_NOBODY, 1)
        default:
            // Every other method sends a body (possibly empty) with its Content-Length.
            slipway_curl_set_string(h, CURLOPT_CUSTOMREQUEST, request.method)
            slipway_curl_set_long(h, CURLOPT_UPLOAD, 1)
            let size: Int64
            switch request.body {
            case .none: size = 0
            case .bytes(let d):
                uploadBytes = d
                size = Int64(d.count)
            case .file(let path, let offset, let length):
                guard let f = FileHandle(forReadingAtPath: path) else { throw HTTPError.transport("cannot read \(path) to send it") }
                try f.seek(toOffset: UInt64(offset))
                upload = f
                size = length
            case .stream(let fd):
                uploadStream = fd
                size = -1  // unknown: chunked
                headerLines.append("Transfer-Encoding: chunked")
            }
            uploadRemaining = size < 0 ? Int64.max : size
            slipway_curl_set_offset(h, CURLOPT_INFILESIZE_LARGE, curl_off_t(size))
            slipway_curl_set_long(h, CURLOPT_UPLOAD_BUFFERSIZE, 1 << 20)  // fewer, larger reads and sends
            slipway_curl_set_data_callback(h, CURLOPT_READFUNCTION, { data, size, count, ctx in
                Unmanaged<Transfer>.fromOpaque(ctx!).takeUnretainedValue().send(data!, size * count)
            })
            slipway_curl_set_pointer(h, CURLOPT_READDATA, context)
        }
        defer { try? upload?.close() }  // closing a file opened for reading cannot lose anything
        for line in headerLines { list = curl_slist_append(list, line) }
        slipway_curl_set_pointer(h, CURLOPT_HTTPHEADER, UnsafeMutableRawPointer(list))

        var errorText = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        let code = errorText.withUnsafeMutableBufferPointer { buffer -> CURLcode in
            slipway_curl_set_pointer(h, CURLOPT_ERRORBUFFER, UnsafeMutableRawPointer(buffer.baseAddress!))
            return curl_easy_perform(h)
        }
        if let limit = overLimit { throw HTTPError.tooLarge(limit: limit) }
        if let e = sinkError { throw e }
        if code == CURLE_ABORTED_BY_CALLBACK { throw CancellationError() }
        if code != CURLE_OK, !addressAllowed, let refusal = addressRefusal { throw HTTPError.addressRefused(refusal) }
        guard code == CURLE_OK else {
            let detail = String(decoding: errorText.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let message = detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail
            switch code {
            case CURLE_SSL_CONNECT_ERROR: throw HTTPError.tlsHandshake(message)
            case CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CACERT_BADFILE: throw HTTPError.untrustedCertificate(message)
            default: throw HTTPError.transport(message)
            }
        }
        return HTTPResponse(status: slipway_curl_response_code(h), headers: headers, body: body, bodyBytes: bodyBytes)
    }

    /// Body bytes: returning less than `count` stops the transfer.
    func receive(_ data: UnsafeMutablePointer<CChar>, _ count: Int) -> Int {
        let bytes = UnsafeRawBufferPointer(start: data, count: count)
        switch sink {
        case .memory(let max):
            if body.count + count > max { overLimit = Int64(max); return 0 }
            body.append(contentsOf: bytes)
        case .stream(let writer, let max):
            if bodyBytes + Int64(count) > max { overLimit = max; return 0 }
            do { try writer.write(bytes) } catch {
                sinkError = error
                return 0
            }
        }
        bodyBytes += Int64(count)
        return count
    }

    /// A socket for a connection to `address`, when the address policy allows it; else
    /// `CURL_SOCKET_BAD` (curl then tries the host's next address, if any) and the refusal kept.
    func openSocket(_ address: UnsafeMutablePointer<curl_sockaddr>) -> curl_socket_t {
        var bytes = [UInt8](repeating: 0, count: 16)
        var port: UInt16 = 0
        let count = Int(slipway_curl_sockaddr_ip(address, &bytes, &port))
        let refusal: String?
        if let ip = IPAddress(bytes: Array(bytes.prefix(count))) {
            refusal = addressPolicy?.refusal(connectingTo: ip, port: Int(port))
        } else {
            refusal = "connections go only to IPv4 and IPv6 addresses, not to one of address family \(address.pointee.family)"
        }
        if let refusal {
            if addressRefusal == nil { addressRefusal = refusal }
            return CURL_SOCKET_BAD
        }
        addressAllowed = true
        return slipway_curl_open_socket(address)
    }

    /// One header line; a new status line (an interim 1xx answer) starts the headers afresh.
    func header(_ data: UnsafeMutablePointer<CChar>, _ count: Int) -> Int {
        let line = String(decoding: UnsafeRawBufferPointer(start: data, count: count), as: UTF8.self)
        if line.hasPrefix("HTTP/") {
            headers = [:]
        } else if let colon = line.firstIndex(of: ":") {
            let name = line[..<colon].lowercased()
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespacesAndNewlines)
            if headers.count < 200 { headers[name] = value }
        }
        return count
    }

    /// Upload bytes for curl to send; 0 ends the body.
    func send(_ buffer: UnsafeMutablePointer<CChar>, _ capacity: Int) -> Int {
        let want = Int(min(Int64(capacity), uploadRemaining))
        guard want > 0 else { return 0 }
        var n = 0
        if let fd = uploadStream {
            var got = -1
            repeat { got = read(fd, buffer, want) } while got < 0 && errno == EINTR
            return got < 0 ? Int(CURL_READFUNC_ABORT) : got  // 0: the producer is done
        } else if let upload {
            // Straight into curl's buffer: no copy, no allocation per call.
            var got = -1
            repeat { got = read(upload.fileDescriptor, buffer, want) } while got < 0 && errno == EINTR
            guard got > 0 else { return Int(CURL_READFUNC_ABORT) }
            n = got
        } else {
            uploadBytes.withUnsafeBytes { raw in
                UnsafeMutableRawPointer(buffer).copyMemory(from: raw.baseAddress! + uploadOffset, byteCount: want)
            }
            uploadOffset += want
            n = want
        }
        uploadRemaining -= Int64(n)
        return n
    }
}
