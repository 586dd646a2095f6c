//! Framework: an application built on `albany-mini-framework`, a minimal
//! framework (router, path parameters, request-id and timing middleware)
//! whose only dependency is the `albany` interface, served on any runtime.
//!
//! - `GET /` answers a short description;
//! - `GET /users/:id` answers `user ID`; `GET /users/me` (a literal route,
//!   chosen over the parameter) answers `the current user`;
//! - `GET /users/:id/posts/:post` answers `post POST of user ID`;
//! - `POST /users` reads the body (at most 1 KiB) and answers
//!   `201 Created` with `created NAME`;
//! - `GET /slow/:ms` waits that many milliseconds (at most 1000) on the
//!   runtime's timer (`Handle::sleep`), to see `server-timing` grow;
//! - other paths answer 404; other methods on these paths 405 with `Allow`.
//!
//! Every response carries `x-request-id` (the request's, or a new one) and
//! `server-timing: app;dur=MS`.
//!
//! ```text
//! cargo run --example framework -- --runtime smol --addr 127.0.0.1:3000
//! curl -i http://127.0.0.1:3000/users/42
//! curl -i -H 'x-request-id: abc-1' http://127.0.0.1:3000/slow/100
//! curl -i -X DELETE http://127.0.0.1:3000/users/42
//! ```

use std::process::ExitCode;
use std::time::Duration;

use albany_examples::{Runtime, Serve};
use clap::Parser;

use albany::http::StatusCode;
use albany::{Application, Request, RequestExt, Response};
use albany_mini_framework::{request_id_and_timing, text, RequestId, RequestParams, Router};

/// The most bytes `POST /users` reads.
const NAME_LIMIT: u64 = 1024;

/// The longest `GET /slow/:ms` waits, in milliseconds.
const MAX_SLOW_MS: u64 = 1000;

/// The application: routes and the middleware, built once.
fn app() -> impl Application {
    let router = Router::new()
        .get("/", |_| async {
            text(StatusCode::OK, "a users API on albany-mini-framework\n")
        })
        .get("/users/me", |_| async {
            text(StatusCode::OK, "the current user\n")
        })
        .get("/users/:id", user)
        .get("/users/:id/posts/:post", post)
        .post("/users", create)
        .get("/slow/:ms", slow);
    request_id_and_timing(router)
}

async fn user(request: Request) -> Response {
    let id = request.param("id").unwrap_or_default();
    let request_id = request
        .extensions()
        .get::<RequestId>()
        .map(ToString::to_string)
        .unwrap_or_default();
    text(
        StatusCode::OK,
        format!("user {id} (request {request_id})\n"),
    )
}

async fn post(request: Request) -> Response {
    let (id, post) = (
        request.param("id").unwrap_or_default(),
        request.param("post").unwrap_or_default(),
    );
    text(StatusCode::OK, format!("post {post} of user {id}\n"))
}

async fn create(request: Request) -> Response {
    match request.into_body().to_bytes(NAME_LIMIT).await {
        Ok(name) => match std::str::from_utf8(&name) {
            Ok(name) => text(StatusCode::CREATED, format!("created {name}\n")),
            Err(_) => text(StatusCode::BAD_REQUEST, "the name is not UTF-8\n"),
        },
        Err(error) => text(StatusCode::PAYLOAD_TOO_LARGE, format!("{error}\n")),
    }
}

async fn slow(request: Request) -> Response {
    let Some(ms) = request.param("ms").and_then(|ms| ms.parse::<u64>().ok()) else {
        return text(StatusCode::BAD_REQUEST, "milliseconds expected\n");
    };
    let Some(handle) = request.runtime() else {
        return text(StatusCode::INTERNAL_SERVER_ERROR, "no runtime\n");
    };
    let ms = ms.min(MAX_SLOW_MS);
    handle.sleep(Duration::from_millis(ms)).await;
    text(StatusCode::OK, format!("slept {ms} ms\n"))
}

/// An application on albany-mini-framework, on any runtime.
#[derive(Parser)]
struct Args {
    #[command(flatten)]
    serve: Serve,
}

fn main() -> ExitCode {
    let args = Args::parse();
    albany_examples::init_tracing();
    let served = match args.serve.runtime {
        Runtime::Tokio => albany_tokio::run(args.serve.addr, app()),
        Runtime::AsyncStd => albany_async_std::run(args.serve.addr, app()),
        Runtime::Smol => albany_smol::run(args.serve.addr, app()),
    };
    albany_examples::exit(served)
}

#[cfg(test)]
mod tests {
    use albany_examples::testing::{exchange, get, post, serve, TARGETS};

    /// The milliseconds of `server-timing: app;dur=MS`.
    fn app_duration(response: &albany_examples::testing::Response) -> f64 {
        let timing = response.header("server-timing").expect("server-timing");
        timing
            .strip_prefix("app;dur=")
            .and_then(|ms| ms.parse().ok())
            .unwrap_or_else(|| panic!("server-timing: {timing}"))
    }

    fn generated(response: &albany_examples::testing::Response) -> String {
        let id = response.header("x-request-id").expect("x-request-id");
        assert_eq!(id.len(), 32, "{id}");
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
        id.to_owned()
    }

    #[test]
    fn routes_params_and_errors_on_every_adapter() {
        for target in TARGETS {
            let name = target.name();
            let server = serve(target, super::app());
            let addr = server.addr();

            let user = get(addr, "/users/42");
            assert_eq!(user.status(), 200, "{name}");
            let id = generated(&user);
            assert_eq!(
                String::from_utf8(user.body.clone()).unwrap(),
                format!("user 42 (request {id})\n"),
                "{name}"
            );
            let decoded = get(addr, "/users/a%20b?ignored=1");
            assert!(decoded.body.starts_with(b"user a b "), "{name}");
            assert_eq!(get(addr, "/users/me").body, b"the current user\n", "{name}");
            assert_eq!(
                get(addr, "/users/7/posts/9").body,
                b"post 9 of user 7\n",
                "{name}"
            );
            let created = post(addr, "/users", b"ada");
            assert_eq!(created.status(), 201, "{name}");
            assert_eq!(created.body, b"created ada\n", "{name}");

            let missing = get(addr, "/nope");
            assert_eq!(missing.status(), 404, "{name}");
            assert_eq!(get(addr, "/users/42/posts").status(), 404, "{name}");
            assert_eq!(get(addr, "/users/%zz").status(), 400, "{name}");
            // Errors go through the middleware too.
            generated(&missing);
            assert!(missing.header("server-timing").is_some(), "{name}");

            let delete = exchange(
                addr,
                b"DELETE /users/42 HTTP/1.1\r\nHost: localhost\r\n\r\n",
            );
            assert_eq!(delete.status(), 405, "{name}");
            assert_eq!(delete.header("allow"), Some("GET, HEAD"), "{name}");
            let list = get(addr, "/users");
            assert_eq!(list.status(), 405, "{name}");
            assert_eq!(list.header("allow"), Some("POST"), "{name}");
            let head = exchange(addr, b"HEAD /users/42 HTTP/1.1\r\nHost: localhost\r\n\r\n");
            assert_eq!(head.status(), 200, "{name}");
            assert!(head.body.is_empty(), "{name}");

            server.shutdown().unwrap();
        }
    }

    #[test]
    fn request_id_and_timing_on_every_adapter() {
        for target in TARGETS {
            let name = target.name();
            let server = serve(target, super::app());
            let addr = server.addr();

            let echoed = exchange(
                addr,
                b"GET /users/1 HTTP/1.1\r\nHost: localhost\r\nX-Request-Id: front-42.a:b_c\r\n\r\n",
            );
            assert_eq!(
                echoed.header("x-request-id"),
                Some("front-42.a:b_c"),
                "{name}"
            );
            assert_eq!(echoed.body, b"user 1 (request front-42.a:b_c)\n", "{name}");
            // Not an acceptable id: a new one instead.
            let replaced = exchange(
                addr,
                b"GET /users/1 HTTP/1.1\r\nHost: localhost\r\nX-Request-Id: no spaces\r\n\r\n",
            );
            generated(&replaced);
            let (first, second) = (get(addr, "/"), get(addr, "/"));
            assert_ne!(generated(&first), generated(&second), "{name}");

            let quick = app_duration(&first);
            let slow = get(addr, "/slow/60");
            assert_eq!(slow.status(), 200, "{name}");
            let slow = app_duration(&slow);
            assert!(slow >= 60.0, "{name}: {slow} ms");
            assert!(quick < slow, "{name}: {quick} ms, {slow} ms");

            server.shutdown().unwrap();
        }
    }
}
