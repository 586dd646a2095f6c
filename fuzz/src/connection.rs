//! The `h1_connection` and `h2_connection` targets: raw bytes into one
//! connection served by the real engine (`albany_server::serve_io`) over an
//! in-memory duplex, on an executor ticked by hand on the calling thread.

use std::sync::Arc;

use albany::body::CollectError;
use albany::http::{header, HeaderValue, StatusCode};
use albany::shutdown::ShutdownTrigger;
use albany::{from_fn, Body, ConnectionInfo, Request, RequestExt, Response};
use albany_server::{serve_io, Settings};
use albany_smol::SmolBinding;
use async_executor::Executor;
use futures_lite::{future, io, AsyncReadExt, AsyncWriteExt};

/// The longest input used, in bytes; the rest is ignored.
pub const MAX_INPUT: usize = 64 * 1024;
/// The most task polls one input may take. Past it the connection is
/// taken to spin (a livelock): a finding.
const MAX_TICKS: usize = 200_000;
/// Each direction of the in-memory connection buffers this many bytes.
const PIPE_CAPACITY: usize = 16 * 1024;

/// The HTTP/2 client connection preface (RFC 9113 §3.4) and an empty
/// `SETTINGS` frame, sent before the input of [`h2_connection`].
const H2_PREFIX: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00";

/// Serves one HTTP/1.1 connection whose client sends `data` (after its
/// first byte), reads everything, and closes its side once every task is
/// idle (the engine has answered what it could); see [`h2_connection`] for the
/// HTTP/2 one.
///
/// The first byte is the run's controls: bits 0-5 the size of the pieces
/// the input is written in (1 to 505 bytes, each piece followed by a yield
/// so that the engine reads partial heads and bodies), bit 6 a request
/// body limit of 100 bytes (`Settings::max_request_body_size`), bit 7 a
/// graceful shutdown after the first piece. The engine runs with
/// `max_header_size` 8192 and its other defaults (HTTP/2 on), over
/// `albany_server::serve_io` on one in-memory duplex, every task on one
/// `async_executor::Executor` ticked on this thread: deterministic, no
/// sockets, no threads.
///
/// The application routes on the path: `/collect` (collects up to 4096
/// bytes, 413 past them), `/stream` (a spawned task copies the request
/// body's frames, trailers included, into a `Body::channel`), `/upgrade`
/// (101 and an echo on the upgraded connection), `/big` (100,000 bytes),
/// `/bad-length` (a `Content-Length` that the body breaks), `/no-content`
/// (204 with a body), anything else echoes the request body.
///
/// Checks: no panic, and the connection ends (the serving future and the
/// client both finish) once the client has closed, within a bounded
/// number of polls: no hang, no livelock.
pub fn h1_connection(data: &[u8]) {
    let received = serve(data, b"");
    // An input that starts with the HTTP/2 preface is served as HTTP/2.
    if data
        .get(1..)
        .is_some_and(|input| input.starts_with(&H2_PREFIX[..24]))
    {
        check_h2_preface(&received);
        return;
    }
    assert!(
        received.is_empty()
            || received.starts_with(b"HTTP/1.1 ")
            || received.starts_with(b"HTTP/1.0 "),
        "the engine's first bytes are not a status line; it sent: {:?}",
        String::from_utf8_lossy(&received)
    );
}

/// As [`h1_connection`], with the HTTP/2 client preface and an empty
/// `SETTINGS` frame written before the input (after its first byte), so
/// that the input is HTTP/2 frames.
pub fn h2_connection(data: &[u8]) {
    let received = serve(data, H2_PREFIX);
    check_h2_preface(&received);
}

/// The server's connection preface is a SETTINGS frame (RFC 9113 §3.4).
fn check_h2_preface(received: &[u8]) {
    assert!(
        received.is_empty() || (received.len() >= 9 && received[3] == 4 && received[8] == 0),
        "the engine's first bytes are not a SETTINGS frame: {:?}",
        &received[..received.len().min(16)]
    );
}

/// The first bytes the engine sends, kept by the client.
const KEPT: usize = 4096;

fn serve(data: &[u8], prefix: &[u8]) -> Vec<u8> {
    let data = &data[..data.len().min(MAX_INPUT)];
    let Some((&controls, input)) = data.split_first() else {
        return Vec::new();
    };
    let piece = usize::from(controls & 0x3f) * 8 + 1;
    let mut settings = Settings::default();
    settings.max_header_size = 8192;
    settings.max_request_body_size = (controls & 0x40 != 0).then_some(100);
    let shutdown_early = controls & 0x80 != 0;
    let mut bytes = prefix.to_vec();
    bytes.extend_from_slice(input);

    let executor = Arc::new(Executor::new());
    let binding = SmolBinding::with_executor(executor.clone());
    let (client, server) = albany_test::duplex(PIPE_CAPACITY);
    let trigger = ShutdownTrigger::new();
    let info = ConnectionInfo::new(
        "127.0.0.1:50000".parse().expect("an address"),
        "127.0.0.1:3000".parse().expect("an address"),
    );
    let signal = trigger.signal();
    let serving = executor.spawn(async move {
        serve_io(binding, &settings, info, signal, application(), server)
            .await
            .expect("valid settings");
    });
    let closing = ShutdownTrigger::new();
    let close = closing.signal();
    let talking = executor.spawn(async move {
        let (mut reader, mut writer) = io::split(client);
        let write = async {
            for (i, chunk) in bytes.chunks(piece).enumerate() {
                if writer.write_all(chunk).await.is_err() {
                    break;
                }
                if i == 0 && shutdown_early {
                    trigger.trigger();
                }
                future::yield_now().await;
            }
            // The client closes once the engine has nothing left to do
            // (below): the answers to everything sent come first.
            close.await;
            let _ = writer.close().await;
        };
        let read = async {
            let mut buf = vec![0; 8192];
            let mut received = Vec::new();
            loop {
                match reader.read(&mut buf).await {
                    Ok(0) | Err(_) => break received,
                    Ok(n) => {
                        let keep = n.min(KEPT - received.len().min(KEPT));
                        received.extend_from_slice(&buf[..keep]);
                    }
                }
            }
        };
        future::zip(write, read).await.1
    });
    let mut ticks = 0;
    for phase in 0..2 {
        if phase == 1 {
            closing.trigger();
        }
        while executor.try_tick() {
            ticks += 1;
            assert!(
                ticks <= MAX_TICKS,
                "livelock: more than {MAX_TICKS} polls for one connection"
            );
        }
    }
    assert!(
        serving.is_finished(),
        "hang: the connection was still served after the client closed and every task was idle"
    );
    assert!(
        talking.is_finished(),
        "hang: the client's side was not closed after the connection ended"
    );
    future::block_on(talking)
}

fn application() -> impl albany::Application {
    from_fn(|mut request: Request| async move {
        let path = request.uri().path().to_owned();
        match path.as_str() {
            "/collect" => match request.into_body().collect(4096).await {
                Ok(collected) => Response::new(Body::from(collected.into_bytes())),
                Err(CollectError::TooLarge { .. }) => status(StatusCode::PAYLOAD_TOO_LARGE),
                Err(_) => status(StatusCode::BAD_REQUEST),
            },
            "/stream" => {
                let Some(handle) = request.runtime().cloned() else {
                    return status(StatusCode::INTERNAL_SERVER_ERROR);
                };
                let (mut sender, body) = Body::channel(1024);
                let mut incoming = request.into_body();
                drop(handle.spawn(async move {
                    while let Some(frame) = incoming.frame().await {
                        let Ok(frame) = frame else {
                            sender.abort();
                            return;
                        };
                        let frame = match frame.into_data() {
                            Ok(data) => {
                                if sender.send(data).await.is_err() {
                                    return;
                                }
                                continue;
                            }
                            Err(frame) => frame,
                        };
                        if let Ok(trailers) = frame.into_trailers() {
                            let _ = sender.send_trailers(trailers).await;
                            return;
                        }
                    }
                    sender.finish();
                }));
                let mut response = Response::new(body);
                response
                    .headers_mut()
                    .insert(header::TRAILER, HeaderValue::from_static("x-checksum"));
                response
            }
            "/upgrade" => {
                let (Some(on_upgrade), Some(handle)) =
                    (request.take_upgrade(), request.runtime().cloned())
                else {
                    return status(StatusCode::UPGRADE_REQUIRED);
                };
                drop(handle.spawn(async move {
                    if let Ok(connection) = on_upgrade.await {
                        let (mut reader, mut writer) = io::split(connection);
                        let _ = io::copy(&mut reader, &mut writer).await;
                    }
                }));
                let mut response = status(StatusCode::SWITCHING_PROTOCOLS);
                let headers = response.headers_mut();
                headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
                headers.insert(header::UPGRADE, HeaderValue::from_static("echo"));
                response
            }
            "/big" => Response::new(Body::from(vec![b'x'; 100_000])),
            "/bad-length" => {
                let mut response = Response::new(Body::from("hello"));
                response
                    .headers_mut()
                    .insert(header::CONTENT_LENGTH, HeaderValue::from_static("3"));
                response
            }
            "/no-content" => {
                let mut response = Response::new(Body::from("x"));
                *response.status_mut() = StatusCode::NO_CONTENT;
                response
            }
            _ => Response::new(request.into_body()),
        }
    })
}

fn status(status: StatusCode) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = status;
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_get_is_answered() {
        let received = serve(b"\x00GET /collect HTTP/1.1\r\nHost: a\r\n\r\n", b"");
        let text = String::from_utf8_lossy(&received);
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
        assert!(text.contains("content-length: 0\r\n"), "{text}");
    }

    #[test]
    fn a_bad_request_is_answered_with_400() {
        let received = serve(b"\x05GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", b"");
        assert!(received.starts_with(b"HTTP/1.1 400 "), "{received:?}");
    }

    #[test]
    fn an_upgrade_echoes() {
        let received = serve(
            b"\x00GET /upgrade HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\nping",
            b"",
        );
        let text = String::from_utf8_lossy(&received);
        assert!(text.starts_with("HTTP/1.1 101 "), "{text}");
        assert!(text.ends_with("\r\n\r\nping"), "{text}");
    }

    #[test]
    fn an_h2_request_is_answered() {
        // SETTINGS ack, then HEADERS (END_STREAM | END_HEADERS) for GET /big.
        let mut input = vec![0u8];
        input.extend_from_slice(b"\x00\x00\x00\x04\x01\x00\x00\x00\x00");
        let block = b"\x82\x86\x04\x04/big\x01\x09localhost";
        input.extend_from_slice(&[0, 0, block.len() as u8, 1, 5, 0, 0, 0, 1]);
        input.extend_from_slice(block);
        let received = serve(&input, H2_PREFIX);
        // The server's SETTINGS, then (among others) a HEADERS frame on stream 1.
        assert_eq!(received[3], 4);
        let mut at = 0;
        let mut headers = false;
        while at + 9 <= received.len() {
            let len = usize::from(received[at]) << 16
                | usize::from(received[at + 1]) << 8
                | usize::from(received[at + 2]);
            headers |= received[at + 3] == 1 && received[at + 8] == 1;
            at += 9 + len;
        }
        assert!(headers, "{received:?}");
    }
}
