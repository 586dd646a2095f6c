//! Pipe: the request body streamed through a child process, and its output
//! streamed back, written once, served on any runtime.
//!
//! - `POST /gzip`: the body through `gzip -c` (the response is gzip data);
//! - `POST /sha256`: the body through `sha256sum` (the response is its
//!   hex digest).
//!
//! The child is spawned with [`Handle::spawn_process`] on the runtime's
//! reactor. One task writes the request body into its standard input as it
//! arrives and then closes it; another reads its standard output as it
//! comes and sends it on through a [`Body::channel`] (backpressure: a slow
//! client slows the child down, and nothing is buffered whole). When the
//! output ends, the exit status decides how the response ends: normally
//! after a zero status, aborted otherwise, so that a failed child never
//! looks like a complete response. The child is spawned with
//! `kill_on_drop`: if the client goes away, the response body is dropped,
//! and with it the child.
//!
//! ```text
//! cargo run --example pipe -- --runtime smol
//! curl -s --data-binary @Cargo.toml http://127.0.0.1:3000/gzip | gunzip
//! curl -s --data-binary 'hello' http://127.0.0.1:3000/sha256
//! ```

use std::process::{ExitCode, Stdio};

use albany::body::Sender;
use albany::http::{header, HeaderValue, Method, StatusCode};
use albany::process::{Child, ChildStdin, ChildStdout, Command};
use albany::{Application, Body, Request, RequestExt, Response};
use albany_examples::{text, Runtime, Serve};
use clap::Parser;
use futures_lite::{AsyncReadExt, AsyncWriteExt};

/// Bytes of output that may wait for a slow client before the child waits.
const CHANNEL_CAPACITY: u64 = 64 * 1024;

struct Pipe;

impl Application for Pipe {
    async fn call(&self, request: Request) -> Response {
        let (program, args, content_type): (&str, &[&str], &'static str) =
            match request.uri().path() {
                "/gzip" => ("gzip", &["-c"], "application/gzip"),
                "/sha256" => ("sha256sum", &[], "text/plain; charset=utf-8"),
                _ => return text(StatusCode::NOT_FOUND, "try POST /gzip or POST /sha256\n"),
            };
        if request.method() != Method::POST {
            let mut response = text(StatusCode::METHOD_NOT_ALLOWED, "use POST\n");
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("POST"));
            return response;
        }
        let Some(handle) = request.runtime().cloned() else {
            return text(StatusCode::INTERNAL_SERVER_ERROR, "no runtime\n");
        };
        let mut command = Command::new(program);
        command
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true);
        let mut child = match handle.spawn_process(command) {
            Ok(child) => child,
            Err(error) => {
                tracing::error!(program, %error, "cannot start the child process");
                return text(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("cannot start {program}: {error}\n"),
                );
            }
        };
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return text(StatusCode::INTERNAL_SERVER_ERROR, "the pipes are missing\n");
        };
        drop(handle.spawn(feed(request.into_body(), stdin)));
        let (sender, body) = Body::channel(CHANNEL_CAPACITY);
        drop(handle.spawn(drain(program, child, stdout, sender)));
        let mut response = Response::new(body);
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        response
    }
}

/// Writes the request body into the child's standard input as it arrives,
/// then closes it (the child reads its end).
async fn feed(mut body: Body, mut stdin: ChildStdin) {
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            // The client's body failed: close the input early; the output
            // will be incomplete, and so will the response.
            tracing::debug!("the request body failed");
            return;
        };
        if let Some(data) = frame.data_ref() {
            if stdin.write_all(data).await.is_err() {
                // The child closed its input (it exited, or was killed).
                return;
            }
        }
    }
    let _ = stdin.close().await;
}

/// Sends the child's standard output on as it comes, then ends the
/// response by the child's exit status.
async fn drain(
    program: &'static str,
    mut child: Child,
    mut stdout: ChildStdout,
    mut sender: Sender,
) {
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        match stdout.read(&mut buffer).await {
            Ok(0) => break,
            Ok(n) => {
                if sender.send(buffer[..n].to_vec()).await.is_err() {
                    // The client went away: dropping `child` kills it.
                    return;
                }
            }
            Err(error) => {
                sender.abort_with(albany::Error::new(error));
                return;
            }
        }
    }
    match child.wait().await {
        Ok(status) if status.success() => sender.finish(),
        Ok(status) => {
            tracing::warn!(program, %status, "the child process failed");
            sender.abort_with(albany::Error::new(format!(
                "{program} exited with {status}"
            )));
        }
        Err(error) => sender.abort_with(albany::Error::new(error)),
    }
}

/// Pipe: streams the request body through gzip or sha256sum.
#[derive(Parser)]
struct Args {
    #[command(flatten)]
    serve: Serve,
}

fn main() -> ExitCode {
    let args = Args::parse();
    albany_examples::init_tracing();
    let served = match args.serve.runtime {
        Runtime::Tokio => albany_tokio::run(args.serve.addr, Pipe),
        Runtime::AsyncStd => albany_async_std::run(args.serve.addr, Pipe),
        Runtime::Smol => albany_smol::run(args.serve.addr, Pipe),
    };
    albany_examples::exit(served)
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::process::{Command, Stdio};

    use albany_examples::testing::{get, post, serve, TARGETS};

    /// `data` through `gzip -dc`, run by the test itself.
    fn gunzip(data: &[u8]) -> Vec<u8> {
        let mut gzip = Command::new("gzip")
            .arg("-dc")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = gzip.stdin.take().unwrap();
        let data = data.to_vec();
        let writer = std::thread::spawn(move || stdin.write_all(&data));
        let output = gzip.wait_with_output().unwrap();
        writer.join().unwrap().unwrap();
        assert!(output.status.success());
        output.stdout
    }

    #[test]
    fn pipes_through_sha256sum_and_gzip_on_every_runtime() {
        let large: Vec<u8> = (0..1_500_000u32).map(|i| (i * 7 % 253) as u8).collect();
        for target in TARGETS {
            let server = serve(target, super::Pipe);
            let digest = post(server.addr(), "/sha256", b"hello");
            assert_eq!(digest.status(), 200, "{}", target.name());
            assert_eq!(
                String::from_utf8(digest.body).unwrap(),
                "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824  -\n",
                "{}",
                target.name()
            );
            let gzipped = post(server.addr(), "/gzip", &large);
            assert_eq!(gzipped.status(), 200, "{}", target.name());
            assert_eq!(gzipped.header("content-type"), Some("application/gzip"));
            assert!(gzipped.body.len() < large.len(), "{}", target.name());
            assert!(
                gunzip(&gzipped.body) == large,
                "{}: gzip round trip",
                target.name()
            );
            assert_eq!(
                get(server.addr(), "/gzip").status(),
                405,
                "{}",
                target.name()
            );
            server.shutdown().unwrap();
        }
    }

    /// The application alone, in memory: the child process runs on the
    /// test client's runtime (smol's, through async-process), and its
    /// output comes back as the body.
    #[test]
    fn pipes_through_sha256sum_and_gzip_in_memory() {
        let client = albany_test::TestClient::new(super::Pipe);
        client
            .post("/sha256")
            .body("hello")
            .block()
            .assert_ok()
            .assert_body("2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824  -\n");
        let large: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 253) as u8).collect();
        let gzipped = client.post("/gzip").body(large.clone()).block();
        gzipped
            .assert_ok()
            .assert_header("content-type", "application/gzip");
        assert_eq!(gzipped.body_error(), None);
        assert!(gunzip(gzipped.body()) == large, "gzip round trip");
        client.get("/gzip").block().assert_status(405);
        client.post("/nope").block().assert_status(404);
    }
}
