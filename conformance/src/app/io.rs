//! The reference application's `/io/…` routes: the runtime's network I/O
//! and child processes (spec §11), used through the request's `Handle`
//! only, so that the same code runs on every adapter.
//!
//! | route | what the application does | answer |
//! | --- | --- | --- |
//! | `/io/connect?to=D&send=T[&attempt_ms=N][&resolve_ms=N]` | connects to `D` (an address, `a,b,…` addresses in order, or `host:port`), writes `T`, shuts down its write half, reads to the end | `reply: …`, `peer: …`, `nodelay: true` |
//! | `/io/connect-from-blocking?to=A&send=T` | the same, on a thread of the blocking pool (`block_on`), not a runtime thread | as `/io/connect` |
//! | `/io/unix?path=P&send=T` | the same over the Unix socket at `P` | `reply: …` |
//! | `/io/process?send=T` | `sh -c 'cat; printf err >&2; exit 3'` with piped stdio: writes `T`, collects the output | `stdout: T`, `stderr: err`, `status: 3` |
//! | `/io/process-kill` | spawns `sleep 30`, kills it, waits | `signal: 9` |
//! | `/io/process-missing` | spawns a program that does not exist | `kind: NotFound` |
//! | `/io/listen` | binds 127.0.0.1:0, and in a task accepts one connection and writes a greeting | `port: N` |
//! | `/io/hold?to=A` | connects to `A`, then waits for it forever | never answers |
//! | `/io/child-hold` | spawns `sleep 30` with `kill_on_drop`, records its pid in [`AppState::child_pid`], waits for it | never answers |
//!
//! A failure to connect or spawn answers `502` with `kind: {ErrorKind:?}`
//! and `message: …`.

use std::io;
use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::atomic::Ordering;
use std::time::Duration;

use albany::http::StatusCode;
use albany::net::{Connector, Destination};
use albany::process::Command;
use albany::rt::Handle;
use albany::{Request, RequestExt, Response};
use futures_lite::{AsyncReadExt, AsyncWriteExt};

use super::{text, AppState};

/// Answers an `/io/…` request.
pub(super) async fn call(request: Request, state: &AppState) -> Response {
    let Some(handle) = request.runtime().cloned() else {
        return text(StatusCode::INTERNAL_SERVER_ERROR, "no runtime");
    };
    let query = Query(request.uri().query().unwrap_or("").to_owned());
    let answer = match request.uri().path() {
        "/io/connect" => connect(&handle, &query).await,
        "/io/connect-from-blocking" => {
            let on_pool = handle.clone();
            match handle
                .spawn_blocking(move || futures_lite::future::block_on(connect(&on_pool, &query)))
                .await
            {
                Ok(answer) => answer,
                Err(error) => Err(error.into()),
            }
        }
        #[cfg(unix)]
        "/io/unix" => unix(&handle, &query).await,
        "/io/process" => process(&handle, &query).await,
        "/io/process-kill" => process_kill(&handle).await,
        "/io/process-missing" => handle
            .spawn_process(Command::new("albany-conformance-no-such-program"))
            .map(|_| "spawned\n".to_owned()),
        "/io/listen" => listen(&handle).await,
        "/io/hold" => hold(&handle, &query).await,
        "/io/child-hold" => child_hold(&handle, state).await,
        _ => return text(StatusCode::NOT_FOUND, "no such I/O route"),
    };
    match answer {
        Ok(body) => text(StatusCode::OK, body),
        Err(error) => text(
            StatusCode::BAD_GATEWAY,
            format!("kind: {:?}\nmessage: {error}\n", error.kind()),
        ),
    }
}

/// The request's query, `name=value` pairs separated by `&`, not
/// percent-decoded (the suite sends only addresses, paths and words).
struct Query(String);

impl Query {
    fn get(&self, name: &str) -> Option<&str> {
        self.0.split('&').find_map(|pair| {
            let (key, value) = pair.split_once('=')?;
            (key == name).then_some(value)
        })
    }

    fn millis(&self, name: &str) -> Option<Duration> {
        self.get(name)?.parse().ok().map(Duration::from_millis)
    }

    fn destination(&self) -> Destination {
        let to = self.get("to").unwrap_or("");
        if to.contains(',') {
            let addrs: Option<Vec<SocketAddr>> = to.split(',').map(|a| a.parse().ok()).collect();
            if let Some(addrs) = addrs {
                return addrs.into();
            }
        }
        to.into()
    }
}

async fn connect(handle: &Handle, query: &Query) -> io::Result<String> {
    let mut connector = Connector::new();
    if let Some(bound) = query.millis("attempt_ms") {
        connector = connector.attempt_timeout(Some(bound));
    }
    if let Some(bound) = query.millis("resolve_ms") {
        connector = connector.resolve_timeout(Some(bound));
    }
    let mut stream = connector.connect(handle, query.destination()).await?;
    // Asked now: once both ends have closed, getpeername(2) fails.
    let peer = stream.peer_addr()?;
    stream.set_nodelay(true)?;
    let nodelay = stream.nodelay()?;
    let reply = round_trip(&mut stream, query).await?;
    Ok(format!(
        "reply: {reply}\npeer: {peer}\nnodelay: {nodelay}\n"
    ))
}

/// Writes the query's `send`, shuts down the write half (the peer reads
/// the end of the message) and reads the reply to its end.
async fn round_trip(
    stream: &mut (impl futures_lite::AsyncRead + futures_lite::AsyncWrite + Unpin),
    query: &Query,
) -> io::Result<String> {
    stream
        .write_all(query.get("send").unwrap_or("").as_bytes())
        .await?;
    stream.close().await?;
    let mut reply = String::new();
    stream.read_to_string(&mut reply).await?;
    Ok(reply)
}

#[cfg(unix)]
async fn unix(handle: &Handle, query: &Query) -> io::Result<String> {
    let mut stream = handle.connect_unix(query.get("path").unwrap_or("")).await?;
    let reply = round_trip(&mut stream, query).await?;
    Ok(format!("reply: {reply}\n"))
}

async fn process(handle: &Handle, query: &Query) -> io::Result<String> {
    let mut command = Command::new("sh");
    command
        .args(["-c", "cat; printf err >&2; exit 3"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = handle.spawn_process(command)?;
    let mut stdin = child
        .stdin
        .take()
        .ok_or_else(|| io::Error::other("no stdin"))?;
    stdin
        .write_all(query.get("send").unwrap_or("").as_bytes())
        .await?;
    stdin.close().await?;
    drop(stdin);
    let output = child.wait_with_output().await?;
    Ok(format!(
        "stdout: {}\nstderr: {}\nstatus: {}\n",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
        output
            .status
            .code()
            .map_or_else(|| "none".to_owned(), |code| code.to_string())
    ))
}

async fn process_kill(handle: &Handle) -> io::Result<String> {
    let mut command = Command::new("sleep");
    command.arg("30");
    let mut child = handle.spawn_process(command)?;
    child.kill().await?;
    let status = child.wait().await?;
    #[cfg(unix)]
    let signal = std::os::unix::process::ExitStatusExt::signal(&status);
    #[cfg(not(unix))]
    let signal = status.code();
    Ok(format!(
        "signal: {}\n",
        signal.map_or_else(|| "none".to_owned(), |s| s.to_string())
    ))
}

async fn listen(handle: &Handle) -> io::Result<String> {
    let mut listener = handle.bind(SocketAddr::from(([127, 0, 0, 1], 0)))?;
    let port = listener.local_addr().port();
    // The task outlives the response: it serves the one connection the
    // case opens after reading the port.
    drop(handle.spawn(async move {
        if let Ok((mut stream, peer)) = listener.accept().await {
            let greeting = format!("hello from the listener, {peer}\n");
            let _ = stream.write_all(greeting.as_bytes()).await;
            let _ = stream.close().await;
        }
    }));
    Ok(format!("port: {port}\n"))
}

async fn hold(handle: &Handle, query: &Query) -> io::Result<String> {
    let mut stream = handle.connect(query.destination()).await?;
    // Waits for the peer, which never writes: only the client going away
    // (the server then drops this future, and the stream) ends it.
    let mut byte = [0u8; 1];
    let _ = stream.read(&mut byte).await?;
    Ok("the upstream wrote or closed\n".to_owned())
}

async fn child_hold(handle: &Handle, state: &AppState) -> io::Result<String> {
    let mut command = Command::new("sleep");
    command.arg("30").kill_on_drop(true);
    let mut child = handle.spawn_process(command)?;
    let pid = child.id().map_or(0, u64::from);
    state.child_pid.store(pid, Ordering::SeqCst);
    let status = child.wait().await?;
    Ok(format!("the child exited: {status}\n"))
}
