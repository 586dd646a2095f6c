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

use albany_examples::text;

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
        .map(|info| info.peer_addr.to_string());
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

fn main() -> ExitCode {
    albany_examples::run(Hello)
}
