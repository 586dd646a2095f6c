//! Echo: streams the request body back as it arrives.
//!
//! The response body *is* the request body, passed through: the server
//! writes each chunk back to the client as soon as it has read it. Nothing
//! is buffered whole, so the echo starts before the upload ends and a body
//! of any size goes through in constant memory (a client that reads slowly
//! slows its own upload down: that is backpressure). Trailers sent by the
//! client come back as trailers (over HTTP/1.1, when the request announced
//! them in a `Trailer` header and accepts them with `TE: trailers`), the
//! request's `Content-Type` is copied to the response, and a body with a
//! `Content-Length` is echoed with the same `Content-Length`.
//!
//! The application waits for the first chunk of the body before it answers.
//! Reading the body is what makes the server send `100 Continue` to a client
//! that asked for it (`Expect: 100-continue`, which curl sends for uploads
//! over 1 MiB); answering before that would leave such a client waiting for
//! a `100 Continue` that never comes (curl gives up after one second).
//!
//! Try it:
//!
//! ```text
//! cargo run --example echo -- --runtime async-std --addr 127.0.0.1:3000
//! head -c 4000000 /dev/urandom > upload.bin
//! curl -s --data-binary @upload.bin http://127.0.0.1:3000/ -o echoed.bin && cmp upload.bin echoed.bin
//! curl -s -H 'Content-Type: text/plain' --data 'hello' http://127.0.0.1:3000/
//! ```
//!
//! Any method and path are echoed; a request without a body gets an empty
//! response.

use std::pin::Pin;
use std::process::ExitCode;
use std::task::{Context, Poll};

use albany::body::Frame;
use albany::http::{header, StatusCode};
use albany::{from_fn, Body, Error, Request, Response};
use albany_examples::{Runtime, Serve};
use bytes::Bytes;
use clap::Parser;
use http_body::SizeHint;

async fn echo(request: Request) -> Response {
    let (parts, mut body) = request.into_parts();
    let first = match body.frame().await {
        None => None,
        Some(Ok(frame)) => Some(frame),
        Some(Err(error)) => {
            tracing::debug!(%error, "the request body failed");
            return albany_examples::text(StatusCode::BAD_REQUEST, "malformed request body\n");
        }
    };
    let mut response = Response::new(Body::new(Prepend { first, rest: body }));
    // The same content type, and the same announced trailer fields: over
    // HTTP/1.1, hyper sends only the trailers that the response's `Trailer`
    // header names (RFC 9110 §6.6.2), and only to a client that sent
    // `TE: trailers`.
    for name in [header::CONTENT_TYPE, header::TRAILER] {
        for value in parts.headers.get_all(&name) {
            response.headers_mut().append(name.clone(), value.clone());
        }
    }
    response
}

/// A body made of a frame already read, then the rest of the body it came
/// from. Its size hint adds the two, so an exact length stays exact.
struct Prepend {
    first: Option<Frame<Bytes>>,
    rest: Body,
}

impl http_body::Body for Prepend {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        match self.first.take() {
            Some(frame) => Poll::Ready(Some(Ok(frame))),
            None => self.rest.poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.first.is_none() && self.rest.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        let first = self
            .first
            .as_ref()
            .and_then(Frame::data_ref)
            .map_or(0, |data| data.len() as u64);
        let rest = self.rest.size_hint();
        let mut hint = SizeHint::new();
        hint.set_lower(rest.lower().saturating_add(first));
        if let Some(upper) = rest.upper() {
            hint.set_upper(upper.saturating_add(first));
        }
        hint
    }
}

/// Echo: the request body streamed back as it arrives.
#[derive(Parser)]
struct Args {
    #[command(flatten)]
    serve: Serve,
}

fn main() -> ExitCode {
    let args = Args::parse();
    albany_examples::init_tracing();
    let served = match args.serve.runtime {
        Runtime::Tokio => albany_tokio::run(args.serve.addr, from_fn(echo)),
        Runtime::AsyncStd => albany_async_std::run(args.serve.addr, from_fn(echo)),
        Runtime::Smol => albany_smol::run(args.serve.addr, from_fn(echo)),
    };
    albany_examples::exit(served)
}

#[cfg(test)]
mod tests {
    use albany_examples::testing::{exchange, post, serve, TARGETS};

    #[test]
    fn echoes_bodies_on_every_runtime() {
        let large: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        for target in TARGETS {
            let server = serve(target, albany::from_fn(super::echo));
            let addr = server.addr();
            let echoed = post(addr, "/", &large);
            assert_eq!(echoed.status(), 200, "{}", target.name());
            assert_eq!(echoed.body, large, "{}", target.name());
            assert_eq!(
                echoed.header("content-length"),
                Some("300000"),
                "{}: a known length stays known",
                target.name()
            );
            let typed = exchange(
                addr,
                b"POST / HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello",
            );
            assert_eq!(typed.body, b"hello", "{}", target.name());
            assert_eq!(
                typed.header("content-type"),
                Some("text/plain"),
                "{}",
                target.name()
            );
            server.shutdown().unwrap();
        }
    }

    /// The application alone, in memory: bodies, content types and
    /// trailers come back.
    #[test]
    fn echoes_in_memory() {
        use albany::http::{HeaderMap, HeaderValue};
        use albany_test::{assert_body, TestClient};

        let client = TestClient::new(albany::from_fn(super::echo));
        let echoed = client.post("/").text("hello").block();
        assert_body!(echoed, "hello");
        echoed.assert_header("content-type", "text/plain; charset=utf-8");
        let mut trailers = HeaderMap::new();
        trailers.insert("x-checksum", HeaderValue::from_static("42"));
        client
            .put("/")
            .header("trailer", "x-checksum")
            .body("with trailers")
            .trailers(trailers)
            .block()
            .assert_body("with trailers")
            .assert_header("trailer", "x-checksum")
            .assert_trailer("x-checksum", "42");
        client.get("/").block().assert_ok().assert_body("");
    }

    /// Through the engine: a known length stays known.
    #[test]
    fn keeps_the_length_through_the_engine() {
        let engine = albany_test::Engine::new(albany::from_fn(super::echo));
        let large: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        engine
            .post("/")
            .body(large.clone())
            .block()
            .assert_header("content-length", "300000")
            .assert_body(&large);
    }
}
