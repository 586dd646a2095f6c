//! Fanout: one request, two upstream calls at once under one deadline,
//! written once, served on any runtime.
//!
//! `GET /` calls `--first` and `--second` concurrently: the second in a
//! task spawned with the runtime's [`Handle::spawn`], the first in the
//! request's own future, both bounded by one deadline (`--deadline-ms`,
//! through [`Handle::timeout`]). The answer is a JSON object with each
//! upstream's status and body, or its error:
//!
//! - `200 OK` when both answered,
//! - `502 Bad Gateway` when one failed,
//! - `504 Gateway Timeout` when the deadline passed first; the spawned call
//!   is then aborted.
//!
//! ```text
//! cargo run --example hello -- --addr 127.0.0.1:8080 &
//! cargo run --example fanout -- --runtime async-std \
//!     --first http://127.0.0.1:8080/ --second http://127.0.0.1:8080/json
//! curl -s http://127.0.0.1:3000/
//! ```

use std::process::ExitCode;
use std::time::{Duration, Instant};

use albany::http::{header, HeaderValue, StatusCode};
use albany::rt::Handle;
use albany::{Application, Body, Request, RequestExt, Response};
use albany_client::{Client, LazyClient};
use albany_examples::{text, Runtime, Serve};
use clap::Parser;
use serde_json::{json, Value};

/// The most bytes of each upstream body kept in the answer.
const BODY_LIMIT: u64 = 64 * 1024;

struct Fanout {
    first: String,
    second: String,
    deadline: Duration,
    client: LazyClient,
}

/// What became of one upstream call.
enum Outcome {
    Answered(StatusCode, String),
    Failed(String),
    TimedOut,
}

impl Outcome {
    fn to_json(&self) -> Value {
        match self {
            Outcome::Answered(status, body) => json!({ "status": status.as_u16(), "body": body }),
            Outcome::Failed(error) => json!({ "error": error }),
            Outcome::TimedOut => json!({ "error": "the deadline passed first" }),
        }
    }
}

/// `GET url`, its status and (at most [`BODY_LIMIT`] bytes of) its body.
async fn fetch(client: Client, url: String) -> Result<(StatusCode, String), String> {
    let response = client.get(&url).await.map_err(|error| error.to_string())?;
    let status = response.status();
    let body = response
        .into_body()
        .to_bytes(BODY_LIMIT)
        .await
        .map_err(|error| error.to_string())?;
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

impl Application for Fanout {
    async fn call(&self, request: Request) -> Response {
        let Some(handle) = request.runtime().cloned() else {
            return text(StatusCode::INTERNAL_SERVER_ERROR, "no runtime\n");
        };
        let client = self.client.get(&handle).clone();
        let deadline = Instant::now() + self.deadline;
        // The second call runs in a task of its own, on the runtime.
        let mut second_task = handle.spawn(fetch(client.clone(), self.second.clone()));
        let first = outcome(&handle, deadline, fetch(client, self.first.clone())).await;
        let second = outcome(&handle, deadline, async {
            match (&mut second_task).await {
                Ok(result) => result,
                Err(error) => Err(error.to_string()),
            }
        })
        .await;
        if matches!(second, Outcome::TimedOut) {
            // Dropping a JoinHandle detaches its task: stop it instead.
            second_task.abort();
        }
        let status = match (&first, &second) {
            (Outcome::TimedOut, _) | (_, Outcome::TimedOut) => StatusCode::GATEWAY_TIMEOUT,
            (Outcome::Failed(_), _) | (_, Outcome::Failed(_)) => StatusCode::BAD_GATEWAY,
            _ => StatusCode::OK,
        };
        let answer = json!({ "first": first.to_json(), "second": second.to_json() });
        let mut response = Response::new(Body::from(answer.to_string()));
        *response.status_mut() = status;
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        response
    }
}

/// Runs `call` until `deadline`.
async fn outcome(
    handle: &Handle,
    deadline: Instant,
    call: impl std::future::Future<Output = Result<(StatusCode, String), String>>,
) -> Outcome {
    let left = deadline.saturating_duration_since(Instant::now());
    match handle.timeout(left, call).await {
        Ok(Ok((status, body))) => Outcome::Answered(status, body),
        Ok(Err(error)) => Outcome::Failed(error),
        Err(_elapsed) => Outcome::TimedOut,
    }
}

/// Fanout: calls two upstream URLs concurrently and combines the answers.
#[derive(Parser)]
struct Args {
    #[command(flatten)]
    serve: Serve,
    /// The first upstream URL.
    #[arg(long, default_value = "http://127.0.0.1:8080/")]
    first: String,
    /// The second upstream URL, called in a task of its own.
    #[arg(long, default_value = "http://127.0.0.1:8080/json")]
    second: String,
    /// The deadline for both calls, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    deadline_ms: u64,
}

fn main() -> ExitCode {
    let args = Args::parse();
    albany_examples::init_tracing();
    let fanout = Fanout {
        first: args.first,
        second: args.second,
        deadline: Duration::from_millis(args.deadline_ms),
        client: Client::builder().build_lazy(),
    };
    let served = match args.serve.runtime {
        Runtime::Tokio => albany_tokio::run(args.serve.addr, fanout),
        Runtime::AsyncStd => albany_async_std::run(args.serve.addr, fanout),
        Runtime::Smol => albany_smol::run(args.serve.addr, fanout),
    };
    albany_examples::exit(served)
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use albany::{from_fn, Body, Request, RequestExt, Response};
    use albany_client::Client;
    use albany_examples::testing::{get, serve, RunningServer, TARGETS, TOKIO};
    use serde_json::Value;

    use super::Fanout;

    /// `/a` and `/b` answer at once, `/slow` after 2 s.
    fn upstream() -> RunningServer {
        serve(
            &TOKIO,
            from_fn(|request: Request| async move {
                let path = request.uri().path().to_owned();
                if path == "/slow" {
                    if let Some(handle) = request.runtime() {
                        handle.sleep(Duration::from_secs(2)).await;
                    }
                }
                Response::new(Body::from(format!("answer of {path}")))
            }),
        )
    }

    fn fanout(upstream: &RunningServer, second: &str, deadline: Duration) -> Fanout {
        Fanout {
            first: format!("http://{}/a", upstream.addr()),
            second: format!("http://{}{second}", upstream.addr()),
            deadline,
            client: Client::builder().build_lazy(),
        }
    }

    #[test]
    fn combines_two_answers_on_every_runtime() {
        let upstream = upstream();
        for target in TARGETS {
            let server = serve(target, fanout(&upstream, "/b", Duration::from_secs(5)));
            let response = get(server.addr(), "/");
            assert_eq!(response.status(), 200, "{}", target.name());
            let answer: Value = serde_json::from_slice(&response.body).unwrap();
            assert_eq!(answer["first"]["body"], "answer of /a", "{}", target.name());
            assert_eq!(
                answer["second"]["body"],
                "answer of /b",
                "{}",
                target.name()
            );
            assert_eq!(answer["second"]["status"], 200, "{}", target.name());
            server.shutdown().unwrap();
        }
        upstream.shutdown().unwrap();
    }

    #[test]
    fn the_deadline_bounds_a_slow_upstream_on_every_runtime() {
        let upstream = upstream();
        for target in TARGETS {
            let server = serve(
                target,
                fanout(&upstream, "/slow", Duration::from_millis(300)),
            );
            let started = Instant::now();
            let response = get(server.addr(), "/");
            let elapsed = started.elapsed();
            assert_eq!(response.status(), 504, "{}", target.name());
            assert!(
                elapsed < Duration::from_millis(1500),
                "{}: {elapsed:?}",
                target.name()
            );
            let answer: Value = serde_json::from_slice(&response.body).unwrap();
            assert_eq!(answer["first"]["body"], "answer of /a", "{}", target.name());
            assert_eq!(
                answer["second"]["error"],
                "the deadline passed first",
                "{}",
                target.name()
            );
            server.shutdown().unwrap();
        }
        upstream.shutdown().unwrap();
    }

    /// The application in memory (its upstream on loopback): both calls
    /// through the test client's runtime, under the deadline.
    #[test]
    fn combines_and_bounds_in_memory() {
        let upstream = upstream();
        let client = albany_test::TestClient::new(fanout(&upstream, "/b", Duration::from_secs(5)));
        let response = client.get("/").block();
        response
            .assert_ok()
            .assert_header("content-type", "application/json");
        let answer: Value = serde_json::from_slice(response.body()).unwrap();
        assert_eq!(answer["first"]["body"], "answer of /a");
        assert_eq!(answer["second"]["body"], "answer of /b");

        let client =
            albany_test::TestClient::new(fanout(&upstream, "/slow", Duration::from_millis(300)));
        let started = Instant::now();
        let response = client.get("/").block();
        assert!(started.elapsed() < Duration::from_millis(1500));
        response.assert_status(504);
        let answer: Value = serde_json::from_slice(response.body()).unwrap();
        assert_eq!(answer["second"]["error"], "the deadline passed first");
        upstream.shutdown().unwrap();
    }
}
