#![doc = include_str!("../README.md")]

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use albany::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Version};
use albany::rt::Handle;
use albany::upgrade::{OnUpgrade, Protocol, UpgradeError, Upgraded};
use albany::{Body, Request, RequestExt, Response, ShutdownSignal};
use async_tungstenite::tungstenite::handshake::derive_accept_key;
use async_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use async_tungstenite::tungstenite::protocol::{CloseFrame, Role};
use async_tungstenite::tungstenite::Utf8Bytes;

pub use async_tungstenite;
pub use async_tungstenite::tungstenite::protocol::WebSocketConfig;
pub use async_tungstenite::tungstenite::{Error, Message};

/// A WebSocket over an Albany upgraded connection: async-tungstenite's
/// stream of [`Message`]s (`futures::Stream`) and sink of them
/// (`futures::Sink`, and its inherent `send`).
pub type WebSocket = async_tungstenite::WebSocketStream<Upgraded>;

/// The only WebSocket version (RFC 6455 §4.1): `Sec-WebSocket-Version: 13`.
pub const VERSION: &str = "13";

/// A close frame with code 1001 "going away" (RFC 6455 §7.4.1), the reason
/// `server shutting down`: what to send when the request's
/// [`ShutdownSignal`] resolves.
pub fn going_away() -> Message {
    Message::Close(Some(CloseFrame {
        code: CloseCode::Away,
        reason: Utf8Bytes::from_static("server shutting down"),
    }))
}

/// Accepts a WebSocket handshake and runs `handler` with the WebSocket on
/// the request's runtime; the one call most applications need.
///
/// `protocols` are the subprotocols the application speaks, in no
/// particular order (`&[]` for none): the first of the client's list that
/// is among them is chosen (see [`WebSocketUpgrade::protocols`]). Returns
/// the handshake's answer (`101`, or `200` over HTTP/2) or, when the
/// handshake is refused, the [`Rejection`]'s response (`400`, `405`,
/// `426`). Without a runtime handle in the request (a request built by
/// hand), answers `500`.
pub fn upgrade<F, Fut>(mut request: Request, protocols: &[&str], handler: F) -> Response
where
    F: FnOnce(WebSocket) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    match WebSocketUpgrade::from_request(&mut request) {
        Ok(upgrade) => upgrade.protocols(protocols).on_upgrade(handler),
        Err(rejection) => rejection.into_response(),
    }
}

/// How the client asked for the WebSocket.
#[derive(Debug, Clone)]
enum Handshake {
    /// HTTP/1.1 `Upgrade: websocket`, with the `Sec-WebSocket-Accept`
    /// value to answer.
    Http1 { accept: String },
    /// HTTP/2 extended `CONNECT` (RFC 8441).
    Http2,
}

/// A checked WebSocket handshake, not answered yet: choose a subprotocol
/// and a configuration, then answer it with [`on_upgrade`](Self::on_upgrade)
/// or [`into_response`](Self::into_response).
#[derive(Debug)]
pub struct WebSocketUpgrade {
    on_upgrade: OnUpgrade,
    handshake: Handshake,
    requested: Vec<String>,
    protocol: Option<String>,
    config: WebSocketConfig,
    runtime: Option<Handle>,
    shutdown: Option<ShutdownSignal>,
}

impl WebSocketUpgrade {
    /// Checks `request`'s WebSocket handshake (RFC 6455 §4.2.1 over
    /// HTTP/1.1, RFC 8441 §5 over HTTP/2; spec WS-1 to WS-5) and takes its
    /// upgrade handle.
    ///
    /// # Errors
    ///
    /// A [`Rejection`] with the status to answer (see the crate's table):
    /// `400` for HTTP/1.0, a missing `Connection: upgrade`, a missing or
    /// malformed `Sec-WebSocket-Key`, a missing `Sec-WebSocket-Version`, or
    /// an HTTP/2 request that is not an extended `CONNECT` for
    /// `websocket`; `405` for a method other than `GET`; `426` without
    /// `Upgrade: websocket` or with a version other than 13; `500` when the
    /// server gave the request no upgrade handle.
    pub fn from_request(request: &mut Request) -> Result<Self, Rejection> {
        let headers = request.headers();
        let handshake = match request.version() {
            Version::HTTP_2 => {
                let protocol = request.extensions().get::<Protocol>();
                if request.method() != Method::CONNECT || protocol.is_none() {
                    return Err(Rejection::new(
                        StatusCode::BAD_REQUEST,
                        "a WebSocket over HTTP/2 is opened with an extended CONNECT (RFC 8441)",
                    ));
                }
                if protocol.is_some_and(|protocol| protocol != "websocket") {
                    return Err(Rejection::new(
                        StatusCode::BAD_REQUEST,
                        "the extended CONNECT's :protocol is not websocket",
                    ));
                }
                check_version(headers)?;
                Handshake::Http2
            }
            Version::HTTP_11 => {
                if request.method() != Method::GET {
                    return Err(Rejection::new(
                        StatusCode::METHOD_NOT_ALLOWED,
                        "a WebSocket handshake is a GET request",
                    )
                    .header(header::ALLOW, HeaderValue::from_static("GET")));
                }
                if !has_token(headers, &header::UPGRADE, "websocket") {
                    return Err(Rejection::new(
                        StatusCode::UPGRADE_REQUIRED,
                        "this resource is a WebSocket: send Upgrade: websocket",
                    )
                    .header(header::UPGRADE, HeaderValue::from_static("websocket"))
                    .header(header::CONNECTION, HeaderValue::from_static("upgrade")));
                }
                if !has_token(headers, &header::CONNECTION, "upgrade") {
                    return Err(Rejection::new(
                        StatusCode::BAD_REQUEST,
                        "a WebSocket handshake needs Connection: upgrade",
                    ));
                }
                check_version(headers)?;
                let key = single(headers, &header::SEC_WEBSOCKET_KEY)
                    .filter(|key| is_key(key.as_bytes()))
                    .ok_or_else(|| {
                        Rejection::new(
                            StatusCode::BAD_REQUEST,
                            "Sec-WebSocket-Key is missing or not 16 bytes in base64",
                        )
                    })?;
                Handshake::Http1 {
                    accept: derive_accept_key(key.as_bytes()),
                }
            }
            _ => {
                return Err(Rejection::new(
                    StatusCode::BAD_REQUEST,
                    "a WebSocket handshake needs HTTP/1.1 or HTTP/2",
                ))
            }
        };
        let requested = requested_protocols(request.headers());
        let runtime = request.runtime().cloned();
        let shutdown = request.shutdown_signal();
        let Some(on_upgrade) = request.take_upgrade() else {
            return Err(Rejection::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the server gave this request no upgrade handle",
            ));
        };
        Ok(WebSocketUpgrade {
            on_upgrade,
            handshake,
            requested,
            protocol: None,
            config: WebSocketConfig::default(),
            runtime,
            shutdown,
        })
    }

    /// The subprotocols the client offered (`Sec-WebSocket-Protocol`), in
    /// its order of preference.
    pub fn requested_protocols(&self) -> impl Iterator<Item = &str> {
        self.requested.iter().map(String::as_str)
    }

    /// Chooses the subprotocol: the first of the client's offers that is in
    /// `supported` (compared case-sensitively, RFC 6455 §4.1), echoed in
    /// the answer's `Sec-WebSocket-Protocol` (spec WS-6). With none in
    /// common, none is chosen and the answer has no such field.
    pub fn protocols<S: AsRef<str>>(mut self, supported: impl IntoIterator<Item = S>) -> Self {
        let supported: Vec<S> = supported.into_iter().collect();
        self.protocol = self
            .requested
            .iter()
            .find(|offered| supported.iter().any(|s| s.as_ref() == offered.as_str()))
            .cloned();
        self
    }

    /// The chosen subprotocol, if any.
    pub fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    /// Sets tungstenite's limits and buffers (default
    /// `WebSocketConfig::default()`: messages up to 64 MiB, frames up to
    /// 16 MiB).
    pub fn config(mut self, config: WebSocketConfig) -> Self {
        self.config = config;
        self
    }

    /// The request's shutdown signal: resolves when the server begins
    /// graceful shutdown (send [`going_away`] then).
    pub fn shutdown_signal(&self) -> Option<ShutdownSignal> {
        self.shutdown.clone()
    }

    /// Answers the handshake, and spawns `handler` on the request's runtime
    /// with the WebSocket once the answer is sent. Without a runtime handle
    /// in the request, answers `500`.
    pub fn on_upgrade<F, Fut>(self, handler: F) -> Response
    where
        F: FnOnce(WebSocket) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let Some(runtime) = self.runtime.clone() else {
            return Rejection::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the request has no runtime handle to run the WebSocket on",
            )
            .into_response();
        };
        let (response, pending) = self.into_response();
        drop(runtime.spawn(async move {
            if let Ok(socket) = pending.await {
                handler(socket).await;
            }
        }));
        response
    }

    /// The answer to the handshake, and the WebSocket it opens: await
    /// [`PendingWebSocket`] (in a spawned task) after returning the
    /// response.
    ///
    /// Over HTTP/1.1 the answer is `101 Switching Protocols` with
    /// `Upgrade: websocket`, `Connection: upgrade` and
    /// `Sec-WebSocket-Accept`; over HTTP/2 it is `200` (RFC 8441 §5).
    /// Both carry `Sec-WebSocket-Protocol` when a subprotocol was chosen.
    pub fn into_response(self) -> (Response, PendingWebSocket) {
        let mut response = Response::new(Body::empty());
        match &self.handshake {
            Handshake::Http1 { accept } => {
                *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
                let headers = response.headers_mut();
                headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
                headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
                headers.insert(
                    header::SEC_WEBSOCKET_ACCEPT,
                    HeaderValue::try_from(accept.as_str()).expect("base64 is a valid header value"),
                );
            }
            Handshake::Http2 => {}
        }
        if let Some(protocol) = &self.protocol {
            // It came from a header value: it is one.
            if let Ok(value) = HeaderValue::try_from(protocol.as_str()) {
                response
                    .headers_mut()
                    .insert(header::SEC_WEBSOCKET_PROTOCOL, value);
            }
        }
        let pending = PendingWebSocket {
            inner: Box::pin(open(self.on_upgrade, self.config)),
        };
        (response, pending)
    }
}

async fn open(on_upgrade: OnUpgrade, config: WebSocketConfig) -> Result<WebSocket, UpgradeError> {
    let upgraded = on_upgrade.await?;
    Ok(WebSocket::from_raw_socket(upgraded, Role::Server, Some(config)).await)
}

/// The WebSocket a handshake answer opens: resolves once the server has
/// sent the answer, or to an [`UpgradeError`] if the connection closed
/// first.
pub struct PendingWebSocket {
    inner: Pin<Box<dyn Future<Output = Result<WebSocket, UpgradeError>> + Send>>,
}

impl Future for PendingWebSocket {
    type Output = Result<WebSocket, UpgradeError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.inner.as_mut().poll(cx)
    }
}

impl fmt::Debug for PendingWebSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingWebSocket").finish_non_exhaustive()
    }
}

/// A refused WebSocket handshake: the status to answer (`400`, `405`,
/// `426`, `500`), the fields that go with it, and why.
#[derive(Debug, Clone)]
pub struct Rejection {
    status: StatusCode,
    reason: &'static str,
    headers: HeaderMap,
}

impl Rejection {
    fn new(status: StatusCode, reason: &'static str) -> Self {
        Rejection {
            status,
            reason,
            headers: HeaderMap::new(),
        }
    }

    fn header(mut self, name: header::HeaderName, value: HeaderValue) -> Self {
        self.headers.insert(name, value);
        self
    }

    /// The status to answer with.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// Why, in a sentence (also the response body).
    pub fn reason(&self) -> &'static str {
        self.reason
    }

    /// The response: the status, its fields (`Allow`, `Upgrade`,
    /// `Sec-WebSocket-Version`), and the reason as `text/plain`.
    pub fn into_response(self) -> Response {
        let mut response = Response::new(Body::from(self.reason));
        *response.status_mut() = self.status;
        *response.headers_mut() = self.headers;
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        response
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "WebSocket handshake refused ({}): {}",
            self.status, self.reason
        )
    }
}

impl std::error::Error for Rejection {}

impl From<Rejection> for Response {
    fn from(rejection: Rejection) -> Response {
        rejection.into_response()
    }
}

/// [WS-4] RFC 6455 §4.2.2 item 4, §4.4: version 13 only; another gets
/// `426` naming the one supported.
fn check_version(headers: &HeaderMap) -> Result<(), Rejection> {
    match single(headers, &header::SEC_WEBSOCKET_VERSION) {
        Some(version) if version.as_bytes() == VERSION.as_bytes() => Ok(()),
        Some(_) => Err(Rejection::new(
            StatusCode::UPGRADE_REQUIRED,
            "only WebSocket version 13 is supported",
        )
        .header(
            header::SEC_WEBSOCKET_VERSION,
            HeaderValue::from_static(VERSION),
        )),
        None => Err(Rejection::new(
            StatusCode::BAD_REQUEST,
            "a WebSocket handshake needs Sec-WebSocket-Version: 13",
        )
        .header(
            header::SEC_WEBSOCKET_VERSION,
            HeaderValue::from_static(VERSION),
        )),
    }
}

/// The field's value when it occurs exactly once.
fn single<'a>(headers: &'a HeaderMap, name: &header::HeaderName) -> Option<&'a HeaderValue> {
    let mut values = headers.get_all(name).iter();
    let value = values.next()?;
    values.next().is_none().then_some(value)
}

/// Whether a comma-separated field (all its lines) lists `token`,
/// compared case-insensitively.
fn has_token(headers: &HeaderMap, name: &header::HeaderName, token: &str) -> bool {
    headers.get_all(name).iter().any(|value| {
        value
            .as_bytes()
            .split(|&b| b == b',')
            .any(|item| item.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
    })
}

/// RFC 6455 §4.1: the key is 16 bytes in base64, so 24 characters ending
/// in `==`.
fn is_key(key: &[u8]) -> bool {
    let is_base64 = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/');
    key.len() == 24 && key[..22].iter().all(is_base64) && &key[22..] == b"=="
}

/// The subprotocols of every `Sec-WebSocket-Protocol` line, in order.
fn requested_protocols(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .filter(|protocol| !protocol.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handshake(method: Method, version: Version, headers: &[(&str, &str)]) -> Request {
        let mut request = Request::new(Body::empty());
        *request.method_mut() = method;
        *request.version_mut() = version;
        for (name, value) in headers {
            request.headers_mut().append(
                header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        request
            .extensions_mut()
            .insert(OnUpgrade::new(async { Err(UpgradeError::new("test")) }));
        request
    }

    const GOOD: &[(&str, &str)] = &[
        ("upgrade", "websocket"),
        ("connection", "keep-alive, Upgrade"),
        ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ("sec-websocket-version", "13"),
        ("sec-websocket-protocol", "chat, superchat"),
    ];

    /// RFC 6455 §1.3's example key and its accept value, and the
    /// subprotocol chosen from the client's order.
    #[test]
    fn accepts_the_rfc_example() {
        let mut request = handshake(Method::GET, Version::HTTP_11, GOOD);
        let upgrade = WebSocketUpgrade::from_request(&mut request)
            .unwrap()
            .protocols(["superchat", "chat"]);
        assert_eq!(upgrade.protocol(), Some("chat"));
        let (response, _) = upgrade.into_response();
        assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
        assert_eq!(
            response.headers()["sec-websocket-accept"],
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
        assert_eq!(response.headers()["sec-websocket-protocol"], "chat");
    }

    #[test]
    fn refuses_bad_handshakes_with_their_status() {
        let without = |name: &str| -> Vec<(&str, &str)> {
            GOOD.iter().copied().filter(|(n, _)| *n != name).collect()
        };
        let status = |method, version, headers: &[(&str, &str)]| {
            let mut request = handshake(method, version, headers);
            WebSocketUpgrade::from_request(&mut request)
                .unwrap_err()
                .status()
        };
        assert_eq!(
            status(Method::GET, Version::HTTP_10, GOOD),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            status(Method::POST, Version::HTTP_11, GOOD),
            StatusCode::METHOD_NOT_ALLOWED
        );
        assert_eq!(
            status(Method::GET, Version::HTTP_11, &without("upgrade")),
            StatusCode::UPGRADE_REQUIRED
        );
        assert_eq!(
            status(Method::GET, Version::HTTP_11, &without("connection")),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            status(Method::GET, Version::HTTP_11, &without("sec-websocket-key")),
            StatusCode::BAD_REQUEST
        );
        let mut wrong_version = without("sec-websocket-version");
        wrong_version.push(("sec-websocket-version", "8"));
        assert_eq!(
            status(Method::GET, Version::HTTP_11, &wrong_version),
            StatusCode::UPGRADE_REQUIRED
        );
        let mut short_key = without("sec-websocket-key");
        short_key.push(("sec-websocket-key", "c2hvcnQ="));
        assert_eq!(
            status(Method::GET, Version::HTTP_11, &short_key),
            StatusCode::BAD_REQUEST
        );
        // HTTP/2: a GET, or a CONNECT without :protocol.
        assert_eq!(
            status(Method::GET, Version::HTTP_2, GOOD),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            status(Method::CONNECT, Version::HTTP_2, GOOD),
            StatusCode::BAD_REQUEST
        );
    }

    #[test]
    fn accepts_an_extended_connect() {
        let mut request = handshake(
            Method::CONNECT,
            Version::HTTP_2,
            &[("sec-websocket-version", "13")],
        );
        request.extensions_mut().insert(Protocol::new("websocket"));
        let (response, _) = WebSocketUpgrade::from_request(&mut request)
            .unwrap()
            .protocols(["chat"])
            .into_response();
        assert_eq!(response.status(), StatusCode::OK);
        assert!(response.headers().get("sec-websocket-accept").is_none());
        assert!(response.headers().get("sec-websocket-protocol").is_none());
    }
}
