//! What the engine tells about each request: a `tracing` span with the
//! OpenTelemetry HTTP server field names and the access log (spec OBS-1,
//! OBS-2). One [`Observed`] per request travels from its head to the end
//! of its response body, only when there is something to tell: with the
//! access log off and no subscriber enabling DEBUG, a request costs one
//! check of tracing's level filter and nothing else (no field is computed,
//! nothing is allocated, the body is not counted); with a subscriber that
//! enables DEBUG but not the span, the span's cached interest too.

use std::fmt;
use std::net::IpAddr;
use std::task::Poll;
use std::time::Instant;

use albany::{ConnectionContext, ConnectionInfo, Forwarded, Transport};
use bytes::Bytes;
use http::{Method, Version};
use http_body::Frame;
use tracing::field::Empty;
use tracing::level_filters::{LevelFilter, STATIC_MAX_LEVEL};
use tracing::{Level, Span};

/// The target of the access log's events.
pub(crate) const ACCESS_LOG_TARGET: &str = "albany::access";

/// One request, observed: boxed, so that the futures and the response
/// body that carry it grow by one pointer only.
pub(crate) struct Observed {
    span: Span,
    access: Option<Access>,
    /// Body bytes written so far.
    bytes: u64,
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
    /// Starts observing `request`, received over the connection of
    /// `context` (`forwarded` by a trusted proxy, if so); the span is a
    /// child of `connection`'s. `None` when the span is disabled and the
    /// access log is off.
    #[inline(always)]
    pub(crate) fn start(
        request: &http::Request<hyper::body::Incoming>,
        forwarded: Option<&Forwarded>,
        context: &ConnectionContext,
        connection: &Span,
        access_log: bool,
    ) -> Option<Box<Self>> {
        // The first check `debug_span!` makes (one load), here so that the
        // rest is out of line: with no subscriber enabling DEBUG and the
        // access log off, this is all a request costs.
        if !access_log && (Level::DEBUG > STATIC_MAX_LEVEL || Level::DEBUG > LevelFilter::current())
        {
            return None;
        }
        Self::start_span(request, forwarded, context, connection, access_log)
    }

    /// [`start`](Self::start) past its first check.
    #[inline(never)]
    fn start_span(
        request: &http::Request<hyper::body::Incoming>,
        forwarded: Option<&Forwarded>,
        context: &ConnectionContext,
        connection: &Span,
        access_log: bool,
    ) -> Option<Box<Self>> {
        // [OBS-1] DEBUG, as tower-http's `TraceLayer`: nothing is built
        // unless a subscriber wants it (the field values are computed in
        // the macro's enabled branch only).
        let span = tracing::debug_span!(
            target: "albany::request",
            parent: connection,
            "request",
            "http.request.method" = %request.method(),
            "url.path" = request.uri().path(),
            "url.query" = request.uri().query(),
            "network.protocol.version" = protocol_version(request.version()),
            "client.address" = client(forwarded, context).map(tracing::field::display),
            "network.peer.address" = context.connection_info().peer_addr().map(|peer| tracing::field::display(peer.ip())),
            "network.peer.port" = context.connection_info().peer_addr().map(|peer| peer.port()),
            "http.response.status_code" = Empty,
            "http.response.body.size" = Empty,
        );
        if span.is_disabled() && !access_log {
            return None;
        }
        let access = access_log.then(|| Access {
            client: client(forwarded, context),
            method: request.method().clone(),
            target: request
                .uri()
                .path_and_query()
                .map_or_else(|| request.uri().to_string(), ToString::to_string),
            version: request.version(),
            status: 0,
            started: Instant::now(),
        });
        Some(Box::new(Observed {
            span,
            access,
            bytes: 0,
        }))
    }

    /// The request's span, to enter while its futures are polled.
    pub(crate) fn span(&self) -> &Span {
        &self.span
    }

    /// Records the response status.
    #[inline(never)]
    pub(crate) fn status(&mut self, status: u16) {
        // `record` looks the field up by name even on a disabled span.
        if !self.span.is_disabled() {
            self.span.record("http.response.status_code", status);
        }
        if let Some(access) = &mut self.access {
            access.status = status;
        }
    }

    /// Counts the bytes of a frame of the response body, if `polled` is
    /// one with data.
    #[inline(never)]
    pub(crate) fn sent<E>(&mut self, polled: &Poll<Option<Result<Frame<Bytes>, E>>>) {
        if let Poll::Ready(Some(Ok(frame))) = polled {
            if let Some(data) = frame.data_ref() {
                self.bytes += data.len() as u64;
            }
        }
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

/// `client.address`: the client a trusted proxy forwarded for, else the
/// peer.
fn client(forwarded: Option<&Forwarded>, context: &ConnectionContext) -> Option<IpAddr> {
    forwarded
        .and_then(|forwarded| forwarded.client)
        .or_else(|| context.connection_info().peer_addr().map(|peer| peer.ip()))
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
