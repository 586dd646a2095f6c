#![doc = include_str!("../README.md")]

mod client;
mod duplex;
mod engine;
mod request;
mod response;

pub use client::{TestClient, DEFAULT_LOCAL_ADDR, DEFAULT_PEER_ADDR};
pub use duplex::{duplex, Duplex, DUPLEX_CAPACITY};
pub use engine::{Engine, EngineConnection, RawExchange, RawResponse};
pub use request::{TestRequest, DEFAULT_BODY_LIMIT, DEFAULT_TIMEOUT};
pub use response::{StreamingResponse, TestResponse};

/// Runs `future` to completion on the calling thread, which meanwhile also
/// drives async-io's reactor (timers, and the sockets of smol and
/// async-std): the way a plain `#[test]` waits for a request. Tasks the
/// application spawns run on the client's runtime, not here.
///
/// Do not call it from inside an async runtime's worker thread (a
/// `#[tokio::test]`, `smol::block_on`): `.await` there instead.
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    async_io::block_on(future)
}

/// Asserts a [`TestResponse`]'s status: `assert_status!(response, 404)`.
/// The message on failure shows the whole response.
#[macro_export]
macro_rules! assert_status {
    ($response:expr, $status:expr $(,)?) => {
        $crate::TestResponse::assert_status(&$response, $status)
    };
}

/// Asserts `200 OK`, and with a second argument the body:
/// `assert_ok!(response)`, `assert_ok!(response, "Hello")`.
#[macro_export]
macro_rules! assert_ok {
    ($response:expr $(,)?) => {
        $crate::TestResponse::assert_ok(&$response)
    };
    ($response:expr, $body:expr $(,)?) => {
        $crate::TestResponse::assert_body($crate::TestResponse::assert_ok(&$response), $body)
    };
}

/// Asserts a [`TestResponse`]'s body: `assert_body!(response, "Hello")`.
#[macro_export]
macro_rules! assert_body {
    ($response:expr, $body:expr $(,)?) => {
        $crate::TestResponse::assert_body(&$response, $body)
    };
}

/// Asserts a [`TestResponse`]'s header field:
/// `assert_header!(response, "content-type", "text/plain")`.
#[macro_export]
macro_rules! assert_header {
    ($response:expr, $name:expr, $value:expr $(,)?) => {
        $crate::TestResponse::assert_header(&$response, $name, $value)
    };
}
