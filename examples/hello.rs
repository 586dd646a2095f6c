//! Hello, world: a tiny router, written once, served on any runtime.
//!
//! - `GET /` answers `Hello, world!` as plain text;
//! - `GET /json` answers a small JSON object with what the server knows
//!   about the request: its HTTP version and the client's address (from
//!   [`RequestExt::connection_info`]);
//! - other paths answer `404 Not Found`; other methods than `GET` and
//!   `HEAD` on the two paths above answer `405 Method Not Allowed` with an
//!   `Allow` header.
//!
//! The application knows nothing of the runtime serving it: pick one with
//! `--runtime`.
//!
//! ```text
//! cargo run --example hello -- --runtime tokio --addr 127.0.0.1:3000
//! curl -i http://127.0.0.1:3000/
//! curl -s --http2-prior-knowledge http://127.0.0.1:3000/json
//! curl -i -X DELETE http://127.0.0.1:3000/
//! ```

use std::process::ExitCode;

use albany_examples::{text, Runtime, Serve};
use clap::Parser;

use albany::http::{header, HeaderValue, Method, StatusCode};
use albany::{Application, Body, Request, RequestExt, Response};

/// The application: one value, shared by every connection.
struct Hello;

impl Application for Hello {
    async fn call(&self, request: Request) -> Response {
        let route = match request.uri().path() {
            "/" => Route::Hello,
            "/json" => Route::Json,
            _ => return text(StatusCode::NOT_FOUND, "Not Found\n"),
        };
        if request.method() != Method::GET && request.method() != Method::HEAD {
            let mut response = text(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed\n");
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
            return response;
        }
        match route {
            Route::Hello => text(StatusCode::OK, "Hello, world!"),
            Route::Json => json(&request),
        }
    }
}

enum Route {
    Hello,
    Json,
}

/// The `/json` response: a greeting and what the request tells about the
/// connection. The runtime's name is not there: the application does not
/// know it, by design.
fn json(request: &Request) -> Response {
    let peer_addr = request
        .connection_info()
        .and_then(|info| info.peer_addr())
        .map(|addr| addr.to_string());
    let value = serde_json::json!({
        "message": "Hello, world!",
        "http_version": format!("{:?}", request.version()),
        "peer_addr": peer_addr,
    });
    let mut response = Response::new(Body::from(value.to_string()));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// Hello, world: a text route and a JSON route, on any runtime.
#[derive(Parser)]
struct Args {
    #[command(flatten)]
    serve: Serve,
}

fn main() -> ExitCode {
    let args = Args::parse();
    albany_examples::init_tracing();
    let served = match args.serve.runtime {
        Runtime::Tokio => albany_tokio::run(args.serve.addr, Hello),
        Runtime::AsyncStd => albany_async_std::run(args.serve.addr, Hello),
        Runtime::Smol => albany_smol::run(args.serve.addr, Hello),
    };
    albany_examples::exit(served)
}

#[cfg(test)]
mod tests {
    use albany_examples::testing::{exchange, get, serve, TARGETS};

    #[test]
    fn routes_on_every_runtime() {
        for target in TARGETS {
            let server = serve(target, super::Hello);
            let addr = server.addr();
            let hello = get(addr, "/");
            assert_eq!(hello.status(), 200, "{}", target.name());
            assert_eq!(hello.body, b"Hello, world!", "{}", target.name());
            let json = String::from_utf8(get(addr, "/json").body).unwrap();
            assert!(
                json.contains("\"peer_addr\":\"127.0.0.1:"),
                "{}: {json}",
                target.name()
            );
            assert!(json.contains("HTTP/1.1"), "{}: {json}", target.name());
            let delete = exchange(addr, b"DELETE / HTTP/1.1\r\nHost: localhost\r\n\r\n");
            assert_eq!(delete.status(), 405, "{}", target.name());
            assert_eq!(
                delete.header("allow"),
                Some("GET, HEAD"),
                "{}",
                target.name()
            );
            assert_eq!(get(addr, "/nope").status(), 404, "{}", target.name());
            server.shutdown().unwrap();
        }
    }

    /// The application alone, in memory: no socket, no runtime to choose.
    #[test]
    fn routes_in_memory() {
        use albany_test::{assert_ok, TestClient};

        let client = TestClient::new(super::Hello);
        let hello = client.get("/").block();
        assert_ok!(hello, "Hello, world!");
        client
            .get("/json")
            .block()
            .assert_ok()
            .assert_header("content-type", "application/json")
            .assert_body_contains(r#""peer_addr":"127.0.0.1:49152""#)
            .assert_body_contains(r#""http_version":"HTTP/1.1""#);
        client
            .delete("/")
            .block()
            .assert_status(405)
            .assert_header("allow", "GET, HEAD");
        client.get("/nope").block().assert_status(404);
    }

    /// Through the engine, still without a socket: HEAD has no body but
    /// the length GET has, and HTTP/2 says so in the JSON.
    #[test]
    fn head_and_http2_through_the_engine() {
        use albany::http::Version;

        let engine = albany_test::Engine::new(super::Hello);
        engine
            .head("/")
            .block()
            .assert_ok()
            .assert_header("content-length", "13")
            .assert_body("");
        engine
            .get("/json")
            .version(Version::HTTP_2)
            .block()
            .assert_body_contains(r#""http_version":"HTTP/2.0""#);
    }
}
