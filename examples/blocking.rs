//! Blocking: a synchronous handler, served without stalling the event loop.
//!
//! [`albany::blocking`] turns a plain `Fn(Request<Bytes>) -> Response` into
//! an application: the server reads the request body in full (here up to
//! 1 MiB; a longer one gets `413 Content Too Large`), then runs the function
//! on the runtime's blocking thread pool. The function may block as it
//! likes (a synchronous database driver, file I/O, hashing); here it sleeps
//! a few milliseconds and computes the FNV-1a hash of the body.
//!
//! Try it:
//!
//! ```text
//! cargo run --example blocking -- --runtime smol --addr 127.0.0.1:3000
//! curl -s --data-binary 'hello' http://127.0.0.1:3000/hash
//! head -c 2000000 /dev/zero | curl -s --data-binary @- http://127.0.0.1:3000/  # 413
//! ```

use std::process::ExitCode;
use std::thread;
use std::time::{Duration, Instant};

use albany::http::StatusCode;
use albany::{Request, Response};
use albany_examples::{Runtime, Serve};
use bytes::Bytes;
use clap::Parser;

/// The 64-bit FNV-1a hash of `data`: a simple, non-cryptographic checksum.
fn fnv1a_64(data: &[u8]) -> u64 {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut hash = OFFSET_BASIS;
    for &byte in data {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(PRIME);
    }
    hash
}

/// The synchronous handler: it runs on a blocking thread, never on the
/// event loop.
fn handle(request: Request<Bytes>) -> Response {
    let started = Instant::now();
    // Stands for slow synchronous work, such as a query to a database.
    thread::sleep(Duration::from_millis(5));
    let body = request.body();
    let hash = fnv1a_64(body);
    let text = format!(
        "{} {}: {} bytes, fnv1a-64 {hash:016x}, on thread {}, in {:?}\n",
        request.method(),
        request.uri().path(),
        body.len(),
        thread::current().name().unwrap_or("unnamed"),
        started.elapsed(),
    );
    albany_examples::text(StatusCode::OK, text)
}

/// The application: [`handle`] on the blocking pool, bodies up to 1 MiB.
fn app() -> albany::Blocking<fn(Request<Bytes>) -> Response> {
    albany::blocking(handle as fn(Request<Bytes>) -> Response).body_limit(1024 * 1024)
}

/// Blocking: a synchronous handler on the blocking pool.
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
    use albany_examples::testing::{post, serve, TARGETS};

    use super::fnv1a_64;

    #[test]
    fn hashes_on_the_blocking_pool_on_every_runtime() {
        for target in TARGETS {
            let server = super::app();
            let server = serve(target, server);
            let answer = String::from_utf8(post(server.addr(), "/hash", b"foobar").body).unwrap();
            assert!(
                answer.starts_with("POST /hash: 6 bytes, fnv1a-64 85944171f73967e8, on thread "),
                "{}: {answer}",
                target.name()
            );
            let too_large = post(server.addr(), "/", &vec![0u8; 1024 * 1024 + 1]);
            assert_eq!(too_large.status(), 413, "{}", target.name());
            server.shutdown().unwrap();
        }
    }

    /// The application alone, in memory: the handler runs on the test
    /// client's blocking pool, and the body limit answers 413.
    #[test]
    fn hashes_in_memory() {
        let client = albany_test::TestClient::new(super::app());
        client
            .post("/hash")
            .body("foobar")
            .block()
            .assert_ok()
            .assert_body_contains("POST /hash: 6 bytes, fnv1a-64 85944171f73967e8, on thread ");
        client
            .post("/")
            .body(vec![0u8; 1024 * 1024 + 1])
            .block()
            .assert_status(413);
    }

    #[test]
    fn fnv1a_known_values() {
        assert_eq!(fnv1a_64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a_64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a_64(b"foobar"), 0x8594_4171_f739_67e8);
    }
}
