use std::time::Duration;

/// The engine's settings, with safe defaults.
///
/// Set them through the adapter's server builder (`Server::max_header_size`
/// and so on) or all at once with `Server::settings`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Settings {
    /// The largest request head accepted, in bytes: the request line and
    /// headers over HTTP/1.1, the decoded header list over HTTP/2. A larger
    /// head gets `431 Request Header Fields Too Large` (RFC 6585 §5) over
    /// HTTP/1.1 (an incomplete one once the read buffer holds
    /// `max(417792, max_header_size + 8192)` bytes; spec LIMIT-1). At least
    /// 8192. Default: 65536 (64 KiB).
    pub max_header_size: usize,
    /// How long a client may take to send a request head, in seconds; past
    /// it the connection is closed without a response (spec LIMIT-3). It
    /// runs from accept to the HTTP/2 preface or the first complete
    /// HTTP/1.x head, then over HTTP/1.1 from the end of each response to
    /// the next complete head (so it is also the idle timeout between
    /// keep-alive requests). Request bodies and responses are not timed.
    /// `None` disables it. Default: 30 seconds.
    pub header_read_timeout: Option<Duration>,
    /// Whether HTTP/1.1 connections are kept open between requests
    /// (RFC 9112 §9.3). Default: `true`.
    pub keep_alive: bool,
    /// The most connections served at once. When reached, the server stops
    /// accepting until one closes (pending connections wait in the listen
    /// backlog). Default: 10000.
    pub max_connections: usize,
    /// The longest request body, in bytes. A request whose `Content-Length`
    /// is larger gets `413 Content Too Large` without the application being
    /// called; a body that grows past it fails, when read, with an
    /// `albany::body::LengthLimitError` (which `Body::collect` reports as
    /// `CollectError::TooLarge`, and `albany::blocking` answers with `413`).
    /// `None`: no limit (applications bound what they buffer, see
    /// `albany::Body::collect`). Default: `None`.
    pub max_request_body_size: Option<u64>,
    /// After graceful shutdown starts, how long requests in flight may take
    /// to finish, in seconds; then their connections are closed. Default: 30
    /// seconds.
    pub graceful_shutdown_timeout: Duration,
    /// Whether HTTP/2 with prior knowledge (h2c, RFC 9113 §3.3) is served on
    /// the same port as HTTP/1.1. Default: `true`.
    pub http2: bool,
    /// The most concurrent streams per HTTP/2 connection (RFC 9113 §5.1.2).
    /// Default: 200.
    pub http2_max_concurrent_streams: u32,
    /// The listen backlog: connections the kernel queues before they are
    /// accepted. Default: 1024.
    pub backlog: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            max_header_size: 64 * 1024,
            header_read_timeout: Some(Duration::from_secs(30)),
            keep_alive: true,
            max_connections: 10_000,
            max_request_body_size: None,
            graceful_shutdown_timeout: Duration::from_secs(30),
            http2: true,
            http2_max_concurrent_streams: 200,
            backlog: 1024,
        }
    }
}
