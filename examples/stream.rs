//! Stream: a server-sent-events clock that ends cleanly on shutdown.
//!
//! `GET /` answers an endless `text/event-stream`: every second an event
//! whose data is the time in seconds since the UNIX epoch. The response
//! body is a [`Body::channel`], fed by a task that the application spawns
//! with the runtime [`Handle`] found in the request; it sleeps with
//! [`Handle::sleep`], so the same code runs on tokio, async-std and smol.
//!
//! The task stops when the client goes away (sending fails). When the
//! server begins a graceful shutdown (Ctrl-C, SIGTERM), the request's
//! [`ShutdownSignal`] fires: the task sends a last `shutdown` event and
//! ends the body, so the response completes and the server can exit
//! without waiting for its shutdown deadline.
//!
//! Try it:
//!
//! ```text
//! cargo run --example stream -- --runtime smol --addr 127.0.0.1:3000
//! curl -N http://127.0.0.1:3000/
//! ```
//!
//! then press Ctrl-C in the server's terminal: curl prints
//! `event: shutdown` / `data: bye` and exits.

use std::process::ExitCode;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use albany_examples::{text, Runtime, Serve};
use clap::Parser;

use albany::body::Sender;
use albany::http::{header, HeaderValue, Method, StatusCode};
use albany::rt::Handle;
use albany::{Application, Body, Request, RequestExt, Response, ShutdownSignal};
use futures_lite::future;

/// How many bytes of events may wait for a slow client before the clock
/// task waits too.
const CHANNEL_CAPACITY: u64 = 16 * 1024;

/// The application: each request to `/` gets its own clock task.
struct Clock;

impl Application for Clock {
    async fn call(&self, request: Request) -> Response {
        if request.uri().path() != "/" {
            return text(StatusCode::NOT_FOUND, "Not Found\n");
        }
        if request.method() != Method::GET && request.method() != Method::HEAD {
            let mut response = text(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed\n");
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
            return response;
        }
        // Both are in every request an adapter serves.
        let (Some(handle), Some(shutdown)) =
            (request.runtime().cloned(), request.shutdown_signal())
        else {
            return text(StatusCode::INTERNAL_SERVER_ERROR, "no runtime\n");
        };
        let (sender, body) = Body::channel(CHANNEL_CAPACITY);
        // The task outlives this call: it runs until the client leaves or
        // the server shuts down. Dropping its JoinHandle detaches it.
        handle.spawn(tick(handle.clone(), shutdown, sender));

        let mut response = Response::new(body);
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/event-stream"),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        response
    }
}

/// Sends the time every second until the client leaves (a send fails) or
/// the server shuts down (the signal fires).
async fn tick(handle: Handle, mut shutdown: ShutdownSignal, mut sender: Sender) {
    loop {
        let event = format!("data: {}\n\n", unix_time());
        if sender.send(event).await.is_err() {
            tracing::debug!("the client went away; the clock stops");
            return;
        }
        // Wait for whichever comes first; the signal is polled first, so it
        // wins a tie.
        let shutting_down = future::or(
            async {
                (&mut shutdown).await;
                true
            },
            async {
                handle.sleep(Duration::from_secs(1)).await;
                false
            },
        )
        .await;
        if shutting_down {
            tracing::debug!("shutdown: the clock says goodbye");
            if sender.send("event: shutdown\ndata: bye\n\n").await.is_ok() {
                sender.finish();
            }
            return;
        }
    }
}

/// Seconds since the UNIX epoch (0 if the clock is set before it).
fn unix_time() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

/// Stream: a server-sent-events clock that ends on graceful shutdown.
#[derive(Parser)]
struct Args {
    #[command(flatten)]
    serve: Serve,
}

fn main() -> ExitCode {
    let args = Args::parse();
    albany_examples::init_tracing();
    let served = match args.serve.runtime {
        Runtime::Tokio => albany_tokio::run(args.serve.addr, Clock),
        Runtime::AsyncStd => albany_async_std::run(args.serve.addr, Clock),
        Runtime::Smol => albany_smol::run(args.serve.addr, Clock),
    };
    albany_examples::exit(served)
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpStream;
    use std::time::Duration;

    use albany_examples::testing::{serve, TARGETS};

    #[test]
    fn ticks_then_says_goodbye_on_shutdown() {
        for target in TARGETS {
            let server = serve(target, super::Clock);
            let mut stream = TcpStream::connect(server.addr()).unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            stream
                .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
                .unwrap();
            let mut seen = Vec::new();
            let mut buffer = [0u8; 4096];
            while !String::from_utf8_lossy(&seen).contains("data: 1") {
                let n = stream.read(&mut buffer).unwrap();
                assert!(
                    n > 0,
                    "{}: the stream ended before its first event",
                    target.name()
                );
                seen.extend_from_slice(&buffer[..n]);
            }
            // Graceful shutdown: the clock's last event, then the end.
            server.begin_shutdown();
            stream.read_to_end(&mut seen).unwrap();
            let text = String::from_utf8_lossy(&seen);
            assert!(
                text.contains("text/event-stream"),
                "{}: {text}",
                target.name()
            );
            assert!(
                text.contains("event: shutdown\ndata: bye\n\n"),
                "{}: {text}",
                target.name()
            );
            assert!(
                text.ends_with("0\r\n\r\n"),
                "{}: the body ended cleanly: {text}",
                target.name()
            );
            server.shutdown().unwrap();
        }
    }

    /// The application alone, in memory: the test fires the shutdown
    /// signal and sees the goodbye event end the body.
    #[test]
    fn says_goodbye_on_the_tests_shutdown_signal() {
        use albany_test::TestClient;

        let client = TestClient::new(super::Clock);
        albany_test::block_on(async {
            let mut events = client.get("/").send_streaming().await;
            assert_eq!(events.status(), 200);
            assert_eq!(events.header("content-type"), Some("text/event-stream"));
            let first = events.next_chunk().await.unwrap().unwrap();
            assert!(first.starts_with(b"data: "), "{first:?}");
            client.shutdown();
            let mut rest = Vec::new();
            while let Some(chunk) = events.next_chunk().await.unwrap() {
                rest.extend_from_slice(&chunk);
            }
            let rest = String::from_utf8(rest).unwrap();
            assert!(rest.ends_with("event: shutdown\ndata: bye\n\n"), "{rest}");
        });
        client.post("/").block().assert_status(405);
    }

    /// Through the engine: the same goodbye, chunked.
    #[test]
    fn says_goodbye_through_the_engine() {
        let engine = albany_test::Engine::new(super::Clock);
        albany_test::block_on(async {
            let events = engine.get("/").send_streaming().await;
            assert_eq!(events.header("transfer-encoding"), Some("chunked"));
            engine.shutdown();
            let events = events.collect().await;
            events.assert_body_contains("event: shutdown\ndata: bye\n\n");
            assert_eq!(events.body_error(), None);
        });
    }
}
