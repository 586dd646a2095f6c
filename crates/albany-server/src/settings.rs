use std::fmt;
use std::time::Duration;

use ipnet::IpNet;

/// The engine's settings, with safe defaults.
///
/// Set them through the adapter's server builder (`Server::max_header_size`
/// and so on) or all at once with `Server::settings`. Whichever way they
/// are set, [`Server::serve`](crate::Server::serve) checks them with
/// [`Settings::validate`] before it accepts a connection, and fails with an
/// error naming the setting when one is out of range.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Settings {
    /// The largest request head accepted, in bytes: the request line and
    /// headers over HTTP/1.1, the decoded header list over HTTP/2. A larger
    /// head gets `431 Request Header Fields Too Large` (RFC 6585 §5) over
    /// HTTP/1.1 (an incomplete one once the read buffer holds
    /// `max(417792, max_header_size + 8192)` bytes; spec LIMIT-1). At least
    /// 8192. Default: 65536 (64 KiB).
    pub max_header_size: u64,
    /// How long a client may take to send a request head; past
    /// it the connection is closed without a response (spec LIMIT-3). It
    /// runs from accept to the HTTP/2 preface or the first complete
    /// HTTP/1.x head, then over HTTP/1.1 from the end of each response to
    /// the next complete head (so it is also the idle timeout between
    /// keep-alive requests). Request bodies and responses are not timed.
    /// `None` disables it; zero is invalid. Default: 30 seconds.
    pub header_read_timeout: Option<Duration>,
    /// Whether HTTP/1.1 connections are kept open between requests
    /// (RFC 9112 §9.3). Default: `true`.
    pub keep_alive: bool,
    /// The most connections served at once. When reached, the server stops
    /// accepting until one closes (pending connections wait in the listen
    /// backlog). At least 1. Default: 10000.
    pub max_connections: usize,
    /// The longest request body, in bytes. A request whose `Content-Length`
    /// is larger gets `413 Content Too Large` without the application being
    /// called; a body that grows past it fails, when read, with an
    /// `albany::body::LengthLimitError` (which `Body::collect` reports as
    /// `CollectError::TooLarge`, and `albany::blocking` answers with `413`).
    /// `None`: no limit (applications bound what they buffer, see
    /// `albany::Body::collect`). Default: `None`.
    pub max_request_body_size: Option<u64>,
    /// After graceful shutdown starts, how long requests in flight and
    /// upgraded connections (WebSockets) may take to finish; then their
    /// connections are closed and `serve` returns (spec SHUT-5, SHUT-8).
    /// Default: 30 seconds.
    pub graceful_shutdown_timeout: Duration,
    /// Whether HTTP/2 with prior knowledge (h2c, RFC 9113 §3.3) is served on
    /// the same port as HTTP/1.1. Default: `true`.
    pub http2: bool,
    /// Whether HTTP/2 connections offer extended `CONNECT` (RFC 8441): the
    /// server's SETTINGS carry `SETTINGS_ENABLE_CONNECT_PROTOCOL = 1`, and a
    /// `CONNECT` request with a `:protocol` pseudo-header (WebSockets over
    /// HTTP/2: `websocket`) reaches the application with an
    /// `albany::upgrade::Protocol` extension and an `OnUpgrade`; a `2xx`
    /// answer hands it the stream (spec UPG-8). Off, such a request is
    /// refused by the HTTP/2 layer (`RST_STREAM` with `PROTOCOL_ERROR`) and
    /// the setting is not advertised.
    ///
    /// Off by default: browsers read the setting as a promise that
    /// WebSockets over HTTP/2 work on every path of the server and no
    /// longer fall back to HTTP/1.1 (Go turned it off by default for that
    /// reason, golang/go#71128). Turn it on when the application answers
    /// WebSocket handshakes over HTTP/2 (`albany-websocket` does). Has no
    /// effect when [`http2`](Settings::http2) is off. Default: `false`.
    pub http2_extended_connect: bool,
    /// The most concurrent streams per HTTP/2 connection (RFC 9113 §5.1.2).
    /// At least 1. Default: 200.
    pub http2_max_concurrent_streams: u32,
    /// The listen backlog: connections the kernel queues before they are
    /// accepted. At least 1. Default: 1024.
    pub backlog: u32,
    /// Over TLS ([`Server::tls`](crate::Server::tls)), how long a client
    /// may take to finish the handshake, from accept; past it the
    /// connection is closed (spec TLS-3). The header read timeout starts
    /// when the handshake ends. Longer than zero. Default: 10 seconds.
    pub tls_handshake_timeout: Duration,
    /// Whether every response writes one access log line when it ends:
    /// the Common Log Format and the time taken, as a `tracing` event at
    /// INFO with the target `albany::access` (spec OBS-2). Default: `false`.
    pub access_log: bool,
    /// The peers whose `Forwarded` (RFC 7239) and `X-Forwarded-For`,
    /// `-Proto`, `-Host` fields are believed: front servers such as nginx.
    /// A request from one of them carries an `albany::Forwarded` extension
    /// (`RequestExt::forwarded`, `RequestExt::client_ip`); from any other
    /// peer those fields are passed on untouched and mean nothing to the
    /// server (spec EXT-13). Default: empty (trust no one).
    pub trusted_proxies: Vec<IpNet>,
    /// Whether peers on a Unix domain socket are trusted front servers, as
    /// a peer in [`trusted_proxies`](Settings::trusted_proxies) is (nginx's
    /// `set_real_ip_from unix:`): such a peer has no IP address, and the
    /// socket file's permissions decide who can connect (spec EXT-13).
    /// Default: `false`.
    pub trust_unix_peers: bool,
    /// HTTP/2 stream flow control: the server's
    /// `SETTINGS_INITIAL_WINDOW_SIZE` (RFC 9113 §6.5.2, §6.9.2), the bytes
    /// of a request body a client may send on one stream before the
    /// application has read them. From 65535 (RFC 9113's initial value)
    /// to 2147483647 (2^31 − 1, the largest window). Default: 1048576
    /// (1 MiB; spec H2-12).
    pub http2_initial_stream_window_size: u32,
    /// HTTP/2 connection flow control: the window of the whole connection
    /// (raised from RFC 9113's initial 65535 by a `WINDOW_UPDATE` on stream
    /// 0 after the server's SETTINGS, RFC 9113 §6.9), the bytes of request
    /// bodies, all streams together, a client may send before the
    /// application has read them: what one connection's request bodies can
    /// hold in the server's memory. From 65535 to 2147483647. Default:
    /// 1048576 (1 MiB; spec H2-12).
    pub http2_initial_connection_window_size: u32,
    /// The most requests served on one connection; `None`: no limit. Over
    /// HTTP/1.1 the response to the last one says `Connection: close` and
    /// the server closes the connection after it; over HTTP/2, once the
    /// last one has arrived, the server starts a graceful close (`GOAWAY`,
    /// RFC 9113 §6.8): the streams already open finish, later ones are
    /// refused, and the client opens a new connection (spec LIMIT-26). At
    /// least 1.
    ///
    /// Default: `None`, as hyper and Go's `net/http` (nginx's
    /// `keepalive_requests` is 1000): a cap exists to spread long-lived
    /// clients over servers behind a balancer or to free per-connection
    /// memory, neither of which a connection needs by itself here, and
    /// clients that do not reconnect after `GOAWAY` (`h2load`) fail their
    /// remaining requests under a cap.
    pub max_requests_per_connection: Option<u64>,
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
            http2_extended_connect: false,
            http2_max_concurrent_streams: 200,
            backlog: 1024,
            tls_handshake_timeout: Duration::from_secs(10),
            access_log: false,
            trusted_proxies: Vec::new(),
            trust_unix_peers: false,
            http2_initial_stream_window_size: 1024 * 1024,
            http2_initial_connection_window_size: 1024 * 1024,
            max_requests_per_connection: None,
        }
    }
}

impl Settings {
    /// Checks every setting against its documented range (spec LIMIT-12).
    ///
    /// # Errors
    ///
    /// The first setting out of range, by name: `max_header_size` below
    /// 8192 bytes, `header_read_timeout` of zero, `max_connections`,
    /// `http2_max_concurrent_streams` or `backlog` of 0, `tls_handshake_timeout`
    /// of zero, `http2_initial_stream_window_size` or
    /// `http2_initial_connection_window_size` outside 65535 to 2147483647,
    /// `max_requests_per_connection` of `Some(0)`.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        let invalid = |name, requirement| Err(InvalidSetting { name, requirement });
        if self.max_header_size < 8192 {
            return invalid("max_header_size", "at least 8192 bytes");
        }
        if self.header_read_timeout == Some(Duration::ZERO) {
            return invalid("header_read_timeout", "longer than zero (None disables it)");
        }
        if self.max_connections == 0 {
            return invalid("max_connections", "at least 1");
        }
        if self.http2_max_concurrent_streams == 0 {
            return invalid("http2_max_concurrent_streams", "at least 1");
        }
        if self.backlog == 0 {
            return invalid("backlog", "at least 1");
        }
        if self.tls_handshake_timeout.is_zero() {
            return invalid("tls_handshake_timeout", "longer than zero");
        }
        let windows = [
            (
                "http2_initial_stream_window_size",
                self.http2_initial_stream_window_size,
            ),
            (
                "http2_initial_connection_window_size",
                self.http2_initial_connection_window_size,
            ),
        ];
        for (name, window) in windows {
            if !(65_535..=0x7fff_ffff).contains(&window) {
                return invalid(name, "from 65535 to 2147483647 bytes");
            }
        }
        if self.max_requests_per_connection == Some(0) {
            return invalid("max_requests_per_connection", "at least 1 (None: no limit)");
        }
        Ok(())
    }
}

/// A [`Settings`] field out of its documented range, from
/// [`Settings::validate`]; [`Server::serve`](crate::Server::serve) returns
/// it inside an `io::Error` of kind `InvalidInput`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidSetting {
    name: &'static str,
    requirement: &'static str,
}

impl InvalidSetting {
    /// The field's name, such as `"max_connections"`.
    pub fn name(&self) -> &'static str {
        self.name
    }
}

impl fmt::Display for InvalidSetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid server setting `{}`: it must be {}",
            self.name, self.requirement
        )
    }
}

impl std::error::Error for InvalidSetting {}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every range is checked through a served adapter by the conformance
    /// case `limits.invalid-settings`; here, the defaults and the message.
    #[test]
    fn defaults_are_valid_and_an_error_names_its_setting() {
        assert_eq!(Settings::default().validate(), Ok(()));
        let settings = Settings {
            max_header_size: 8191,
            ..Settings::default()
        };
        let error = settings.validate().unwrap_err();
        assert_eq!(error.name(), "max_header_size");
        assert_eq!(
            error.to_string(),
            "invalid server setting `max_header_size`: it must be at least 8192 bytes"
        );
    }
}
