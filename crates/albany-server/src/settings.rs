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
    /// keep-alive requests). Request bodies and responses are not timed by
    /// it (see [`request_body_timeout`](Settings::request_body_timeout),
    /// [`request_body_min_rate`](Settings::request_body_min_rate) and
    /// [`response_write_timeout`](Settings::response_write_timeout)).
    /// `None` disables it; zero is invalid. Default: 30 seconds.
    pub header_read_timeout: Option<Duration>,
    /// The longest the application waits for the next bytes of a request
    /// body while it reads it (nginx's `client_body_timeout`; spec
    /// LIMIT-14): a poll of the body left pending this long, without data,
    /// fails the body with an `albany::body::TimeoutError`, and the client
    /// gets `408 Request Timeout` (spec LIMIT-16). Only time spent waiting
    /// counts: a body the application does not read is not timed. `None`
    /// disables it; zero is invalid. Default: 60 seconds.
    pub request_body_timeout: Option<Duration>,
    /// The slowest a request body may arrive, in bytes per second, measured
    /// over the time the application spends waiting for its data, once
    /// that time passes the rate's grace period (Kestrel's
    /// `MinRequestBodyDataRate`; spec LIMIT-15). Below it, the body fails
    /// as for [`request_body_timeout`](Settings::request_body_timeout). A
    /// client that announces a large body and sends it a byte a second is
    /// stopped by this, not by the timeout. `None` disables it; a rate of 0
    /// or a grace of zero is invalid. Default: 240 bytes per second after a
    /// 5 second grace period.
    pub request_body_min_rate: Option<MinDataRate>,
    /// The longest a write to the client may make no progress (nginx's
    /// `send_timeout`; spec LIMIT-17): when the connection has not taken a
    /// byte for this long (the client stopped reading and the socket's
    /// buffers are full), the connection is closed, whatever it was
    /// writing: a response over HTTP/1.1 or HTTP/2, or an upgraded
    /// connection's data. A push writer (`Body::channel`) blocked on it is
    /// freed: its next send fails. `None` disables it; zero is invalid.
    /// Default: 60 seconds.
    pub response_write_timeout: Option<Duration>,
    /// Whether HTTP/1.1 connections are kept open between requests
    /// (RFC 9112 §9.3). Default: `true`.
    pub keep_alive: bool,
    /// The most connections served at once. When the table is full and a
    /// new connection arrives, the server accepts it (one beyond the limit)
    /// and closes an idle connection to make room: the one served longest
    /// among those with no request in flight (HTTP/1.x between
    /// requests, closed as graceful shutdown closes it, so that a request
    /// already sent is answered; HTTP/2 with no open stream, sent `GOAWAY`).
    /// With none idle, the new connection waits until one is, or closes;
    /// further ones wait in the listen backlog (spec LIMIT-5, LIMIT-20). At
    /// least 1. Default: 10000.
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
    /// How long an HTTP/2 connection may have no open stream (no request
    /// in flight, no response still being sent, no upgraded stream) before
    /// the server sends it `GOAWAY` and closes it (spec LIMIT-11). The time
    /// runs from the end of the last stream, or from the preface. A peer
    /// that does not answer the `GOAWAY`'s `PING` within one second is
    /// closed then. `None` disables it; zero is invalid. Default: 60
    /// seconds: longer than the 30-second header read timeout that bounds
    /// an idle HTTP/1.1 connection (an HTTP/2 connection is more costly to
    /// set up again, and clients keep one per server), and the value
    /// nginx's `keepalive_timeout` (75 s) and Go's `IdleTimeout` practice
    /// are near.
    pub http2_idle_timeout: Option<Duration>,
    /// How often an HTTP/2 connection that has read nothing for that long
    /// is sent a `PING` (hyper's `keep_alive_interval`, RFC 9113 §6.7),
    /// open streams or not; a peer that does not answer within
    /// [`http2_keep_alive_timeout`](Settings::http2_keep_alive_timeout) is
    /// closed (spec LIMIT-21). It finds peers that are gone (a network
    /// path lost without a FIN or reset) and peers that stopped reading.
    /// `None` disables the pings; zero is invalid. Default: 20 seconds.
    pub http2_keep_alive_interval: Option<Duration>,
    /// How long the server waits for the answer to a keep-alive `PING`
    /// before it closes the connection (spec LIMIT-21). Longer than zero.
    /// Default: 20 seconds (hyper's default).
    pub http2_keep_alive_timeout: Duration,
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
            request_body_timeout: Some(Duration::from_secs(60)),
            request_body_min_rate: Some(MinDataRate::new(240, Duration::from_secs(5))),
            response_write_timeout: Some(Duration::from_secs(60)),
            keep_alive: true,
            max_connections: 10_000,
            max_request_body_size: None,
            graceful_shutdown_timeout: Duration::from_secs(30),
            http2: true,
            http2_extended_connect: false,
            http2_max_concurrent_streams: 200,
            http2_idle_timeout: Some(Duration::from_secs(60)),
            http2_keep_alive_interval: Some(Duration::from_secs(20)),
            http2_keep_alive_timeout: Duration::from_secs(20),
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
    /// 8192 bytes, `header_read_timeout`, `request_body_timeout` or
    /// `response_write_timeout` of zero, a `request_body_min_rate` of 0
    /// bytes per second or with a grace of zero, `max_connections`,
    /// `http2_max_concurrent_streams` or `backlog` of 0,
    /// `tls_handshake_timeout`, `http2_idle_timeout`,
    /// `http2_keep_alive_interval` or `http2_keep_alive_timeout` of zero,
    /// `http2_initial_stream_window_size` or
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
        if self.request_body_timeout == Some(Duration::ZERO) {
            return invalid(
                "request_body_timeout",
                "longer than zero (None disables it)",
            );
        }
        if let Some(rate) = self.request_body_min_rate {
            if rate.bytes_per_second == 0 {
                return invalid(
                    "request_body_min_rate",
                    "at least 1 byte per second (None disables it)",
                );
            }
            if rate.grace.is_zero() {
                return invalid("request_body_min_rate", "a grace period longer than zero");
            }
        }
        if self.response_write_timeout == Some(Duration::ZERO) {
            return invalid(
                "response_write_timeout",
                "longer than zero (None disables it)",
            );
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
        if self.http2_idle_timeout == Some(Duration::ZERO) {
            return invalid("http2_idle_timeout", "longer than zero (None disables it)");
        }
        if self.http2_keep_alive_interval == Some(Duration::ZERO) {
            return invalid(
                "http2_keep_alive_interval",
                "longer than zero (None disables the pings)",
            );
        }
        if self.http2_keep_alive_timeout.is_zero() {
            return invalid("http2_keep_alive_timeout", "longer than zero");
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

/// A minimum data rate: the slowest a request body may arrive once a grace
/// period has passed ([`Settings::request_body_min_rate`], spec LIMIT-15).
///
/// The rate is measured over the time spent waiting for the body's data:
/// with `bytes` received after waiting `waited` in all, the body fails when
/// `waited` exceeds both `grace` and `bytes / bytes_per_second` seconds.
///
/// ```
/// use std::time::Duration;
/// use albany_server::MinDataRate;
///
/// let rate = MinDataRate::new(240, Duration::from_secs(5));
/// assert_eq!(rate.bytes_per_second(), 240);
/// assert_eq!(rate.grace(), Duration::from_secs(5));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MinDataRate {
    bytes_per_second: u64,
    grace: Duration,
}

impl MinDataRate {
    /// At least `bytes_per_second` (at least 1, [`Settings::validate`]
    /// checks it), measured once `grace` (longer than zero) of waiting has
    /// passed.
    pub const fn new(bytes_per_second: u64, grace: Duration) -> Self {
        MinDataRate {
            bytes_per_second,
            grace,
        }
    }

    /// The rate, in bytes per second.
    pub const fn bytes_per_second(&self) -> u64 {
        self.bytes_per_second
    }

    /// The time spent waiting before the rate is enforced.
    pub const fn grace(&self) -> Duration {
        self.grace
    }

    /// How long a body that has received `received` bytes may have waited
    /// in all before it is below the rate: `max(grace, received / rate)`.
    pub(crate) fn allowed_wait(&self, received: u64) -> Duration {
        let rate = self.bytes_per_second.max(1);
        let seconds = received / rate;
        let nanos = (received % rate).saturating_mul(1_000_000_000) / rate;
        let earned = Duration::from_secs(seconds).saturating_add(Duration::from_nanos(nanos));
        earned.max(self.grace)
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

    #[test]
    fn the_new_timeouts_are_checked() {
        let broken: [(&str, Settings); 4] = [
            (
                "request_body_timeout",
                Settings {
                    request_body_timeout: Some(Duration::ZERO),
                    ..Settings::default()
                },
            ),
            (
                "request_body_min_rate",
                Settings {
                    request_body_min_rate: Some(MinDataRate::new(0, Duration::from_secs(1))),
                    ..Settings::default()
                },
            ),
            (
                "request_body_min_rate",
                Settings {
                    request_body_min_rate: Some(MinDataRate::new(1, Duration::ZERO)),
                    ..Settings::default()
                },
            ),
            (
                "response_write_timeout",
                Settings {
                    response_write_timeout: Some(Duration::ZERO),
                    ..Settings::default()
                },
            ),
        ];
        for (name, settings) in broken {
            assert_eq!(settings.validate().unwrap_err().name(), name);
        }
    }

    #[test]
    fn the_allowed_wait_grows_with_the_bytes_received() {
        let rate = MinDataRate::new(240, Duration::from_secs(5));
        assert_eq!(rate.allowed_wait(0), Duration::from_secs(5));
        assert_eq!(rate.allowed_wait(240 * 5), Duration::from_secs(5));
        assert_eq!(rate.allowed_wait(240 * 10), Duration::from_secs(10));
        assert_eq!(rate.allowed_wait(360 * 10), Duration::from_secs(15));
        assert_eq!(
            rate.allowed_wait(u64::MAX),
            Duration::from_secs(u64::MAX / 240)
                .saturating_add(Duration::from_nanos((u64::MAX % 240) * 1_000_000_000 / 240))
        );
    }

    /// [LIMIT-23] The HTTP/2 idle and keep-alive durations: zero is
    /// invalid, `None` turns them off.
    #[test]
    fn http2_idle_and_keep_alive_settings() {
        let defaults = Settings::default();
        assert_eq!(defaults.http2_idle_timeout, Some(Duration::from_secs(60)));
        assert_eq!(
            defaults.http2_keep_alive_interval,
            Some(Duration::from_secs(20))
        );
        assert_eq!(defaults.http2_keep_alive_timeout, Duration::from_secs(20));
        let off = Settings {
            http2_idle_timeout: None,
            http2_keep_alive_interval: None,
            ..Settings::default()
        };
        assert_eq!(off.validate(), Ok(()));
        let zero: [(&str, Settings); 3] = [
            (
                "http2_idle_timeout",
                Settings {
                    http2_idle_timeout: Some(Duration::ZERO),
                    ..Settings::default()
                },
            ),
            (
                "http2_keep_alive_interval",
                Settings {
                    http2_keep_alive_interval: Some(Duration::ZERO),
                    ..Settings::default()
                },
            ),
            (
                "http2_keep_alive_timeout",
                Settings {
                    http2_keep_alive_timeout: Duration::ZERO,
                    ..Settings::default()
                },
            ),
        ];
        for (name, settings) in zero {
            assert_eq!(settings.validate().map_err(|e| e.name()), Err(name));
        }
    }
}
