//! What the engine tells about each request: a `tracing` span with the
//! OpenTelemetry HTTP server field names, the access log, and the
//! in-flight count (spec OBS-1 to OBS-3). One [`Observed`] per request
//! travels from its head to the end of its response body.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use albany::{ConnectionInfo, Transport};
use http::{Method, Version};
use tracing::field::Empty;
use tracing::Span;

use crate::counters::InFlightRequest;

/// The target of the access log's events.
pub(crate) const ACCESS_LOG_TARGET: &str = "albany::access";

/// One request, observed.
pub(crate) struct Observed {
    span: Span,
    access: Option<Box<Access>>,
    /// Body bytes written so far.
    bytes: u64,
    _in_flight: InFlightRequest,
}

/// What the access log line needs from the request head.
struct Access {
    /// `None`: a Unix domain socket peer, with nothing forwarded.
    client: Option<IpAddr>,
    method: Method,
    target: String,
    version: Version,
    status: u16,
    started: Instant,
}

/// The peer of a connection, for log lines: `ADDR:PORT` over TCP, `unix`
/// (or `unix:PATH` for a named peer socket) on a Unix domain socket.
pub(crate) struct Peer<'a>(pub(crate) &'a ConnectionInfo);

impl fmt::Display for Peer<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0.transport {
            Transport::Tcp { peer_addr, .. } => write!(f, "{peer_addr}"),
            Transport::Unix {
                peer_path: Some(path),
                ..
            } => write!(f, "unix:{}", path.display()),
            _ => f.write_str("unix"),
        }
    }
}

impl Observed {
    /// Starts observing `request`, from `client` (the forwarded client, or
    /// the peer) over a connection from `peer` (`None`: on a Unix domain
    /// socket); the span is a child of `connection`'s.
    pub(crate) fn start(
        request: &http::Request<hyper::body::Incoming>,
        client: Option<IpAddr>,
        peer: Option<SocketAddr>,
        connection: &Span,
        access_log: bool,
        in_flight: InFlightRequest,
    ) -> Self {
        // [OBS-1] DEBUG, as tower-http's `TraceLayer`: nothing is built
        // unless a subscriber wants it.
        let span = tracing::debug_span!(
            target: "albany::request",
            parent: connection,
            "request",
            "http.request.method" = %request.method(),
            "url.path" = request.uri().path(),
            "url.query" = request.uri().query(),
            "network.protocol.version" = protocol_version(request.version()),
            "client.address" = client.map(tracing::field::display),
            "network.peer.address" = peer.map(|peer| tracing::field::display(peer.ip())),
            "network.peer.port" = peer.map(|peer| peer.port()),
            "http.response.status_code" = Empty,
            "http.response.body.size" = Empty,
        );
        let access = access_log.then(|| {
            Box::new(Access {
                client,
                method: request.method().clone(),
                target: request
                    .uri()
                    .path_and_query()
                    .map_or_else(|| request.uri().to_string(), ToString::to_string),
                version: request.version(),
                status: 0,
                started: Instant::now(),
            })
        });
        Observed {
            span,
            access,
            bytes: 0,
            _in_flight: in_flight,
        }
    }

    /// The request's span, to enter while its futures are polled.
    pub(crate) fn span(&self) -> &Span {
        &self.span
    }

    /// Records the response status.
    pub(crate) fn status(&mut self, status: u16) {
        // `record` looks the field up by name even on a disabled span.
        if !self.span.is_disabled() {
            self.span.record("http.response.status_code", status);
        }
        if let Some(access) = &mut self.access {
            access.status = status;
        }
    }

    /// Counts `bytes` of response body written.
    pub(crate) fn sent(&mut self, bytes: usize) {
        self.bytes += bytes as u64;
    }
}

impl Drop for Observed {
    /// The response has ended (or was given up): the size is recorded and
    /// the access log line written.
    fn drop(&mut self) {
        if !self.span.is_disabled() {
            self.span.record("http.response.body.size", self.bytes);
        }
        if let Some(access) = self.access.take() {
            log(&access, self.bytes);
        }
    }
}

/// `network.protocol.version`: `1.1`, `2`, as OpenTelemetry spells them.
fn protocol_version(version: Version) -> &'static str {
    match version {
        Version::HTTP_09 => "0.9",
        Version::HTTP_10 => "1.0",
        Version::HTTP_2 => "2",
        Version::HTTP_3 => "3",
        _ => "1.1",
    }
}

/// Writes the access log line: the Common Log Format (as Apache's and
/// nginx's `common`), then the time to the end of the response:
/// `127.0.0.1 - - [01/Dec/2026:15:54:12 +0000] "GET / HTTP/1.1" 200 13 0.412ms`.
fn log(access: &Access, bytes: u64) {
    const DATE: &[time::format_description::BorrowedFormatItem<'_>] = time::macros::format_description!(
        "[day]/[month repr:short]/[year]:[hour]:[minute]:[second] +0000"
    );
    let date = time::OffsetDateTime::now_utc()
        .format(DATE)
        .unwrap_or_else(|_| "-".to_owned());
    let size = if bytes == 0 {
        "-".to_owned()
    } else {
        bytes.to_string()
    };
    let elapsed = access.started.elapsed().as_secs_f64() * 1000.0;
    let client = access
        .client
        .map_or_else(|| "-".to_owned(), |client| client.to_string());
    tracing::info!(
        target: ACCESS_LOG_TARGET,
        "{client} - - [{date}] \"{} {} {:?}\" {} {size} {elapsed:.3}ms",
        access.method,
        access.target,
        access.version,
        access.status,
    );
}
