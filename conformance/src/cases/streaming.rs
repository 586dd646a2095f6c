//! Streaming in both directions: timeliness, backpressure, bounded memory,
//! trailers.

use std::io::{ErrorKind, Write};
use std::sync::atomic::Ordering;
use std::thread;
use std::time::{Duration, Instant};

use super::case;
use crate::app::{pattern, pattern_mismatch};
use crate::{ensure, ensure_eq, eventually, h1, h2, Case, Context, Failure};

pub(super) const CASES: &[Case] = &[
    case!(
        "streaming.download-64mib",
        Must,
        ["RESP-2", "BODY-1"],
        ["RFC 9112 §7.1"],
        "a 64 MiB streamed response arrives byte-exact and complete",
        download_64mib
    ),
    case!(
        "streaming.upload-16mib",
        Must,
        ["REQ-10", "REQ-12"],
        ["RFC 9112 §7.1"],
        "a 16 MiB chunked upload reaches the application byte-exact",
        upload_16mib
    ),
    case!(
        "streaming.full-duplex-echo",
        Must,
        ["REQ-16", "RESP-24"],
        ["RFC 9112 §9.3"],
        "an 8 MiB echo streams back while the upload is still being sent",
        full_duplex_echo
    ),
    case!(
        "streaming.response-timeliness",
        Must,
        ["RESP-24"],
        ["RFC 9110 §6.4"],
        "a response chunk is written at once, not held for the next",
        response_timeliness
    ),
    case!(
        "streaming.request-timeliness",
        Must,
        ["REQ-16"],
        ["RFC 9110 §6.4"],
        "request body bytes reach the application as they arrive",
        request_timeliness
    ),
    case!(
        "streaming.slow-reader-bounded",
        Must,
        ["RESP-25", "BODY-12"],
        ["RFC 9113 §5.2"],
        "a producer stalls while the client does not read, then completes",
        slow_reader_bounded
    ),
    case!(
        "streaming.unread-upload-bounded",
        Must,
        ["REQ-17"],
        ["RFC 9112 §9.3"],
        "a client uploading to an application that never reads is held back",
        unread_upload_bounded
    ),
    case!(
        "streaming.trailers-http1",
        Must,
        ["RESP-19"],
        ["RFC 9112 §7.1.2", "RFC 9110 §6.5"],
        "trailers after the last chunk when the request accepts them",
        trailers_http1
    ),
    case!(
        "streaming.trailers-need-te",
        Must,
        ["RESP-19", "RESP-20"],
        ["RFC 9110 §10.1.4"],
        "without TE: trailers, the body ends normally without trailers",
        trailers_need_te
    ),
    case!(
        "streaming.trailers-http2",
        Must,
        ["RESP-18"],
        ["RFC 9113 §8.1"],
        "trailers as a final HEADERS frame over HTTP/2",
        trailers_http2
    ),
    case!(
        "streaming.download-http2",
        Must,
        ["RESP-2", "H2-1"],
        ["RFC 9113 §8.1"],
        "a 16 MiB response over HTTP/2 arrives byte-exact",
        download_http2
    ),
];

fn download_64mib(context: &mut Context<'_>) -> Result<(), Failure> {
    const SIZE: usize = 64 * 1024 * 1024;
    let (server, _) = context.start()?;
    let response = h1::exchange(
        server.endpoint(),
        &h1::get(&format!("/download?size={SIZE}")),
    )?;
    ensure_eq!(response.status(), 200, "status");
    ensure!(
        response.complete,
        "the body did not end with its last chunk"
    );
    ensure_eq!(response.body.len(), SIZE, "length");
    ensure_eq!(pattern_mismatch(&response.body), None, "first wrong byte");
    server.shutdown()?;
    Ok(())
}

fn upload_16mib(context: &mut Context<'_>) -> Result<(), Failure> {
    const SIZE: usize = 16 * 1024 * 1024;
    let (server, _) = context.start()?;
    let mut connection = h1::Connection::open(server.endpoint())?;
    connection
        .send(b"POST /count HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n")?;
    let data = pattern(0, SIZE);
    for chunk in data.chunks(100_000) {
        connection.send(format!("{:x}\r\n", chunk.len()).as_bytes())?;
        connection.send(chunk)?;
        connection.send(b"\r\n")?;
    }
    connection.send(b"0\r\n\r\n")?;
    let response = connection.read_response(false)?;
    ensure_eq!(response.status(), 200, "status");
    ensure_eq!(
        response.body,
        SIZE.to_string().into_bytes(),
        "bytes counted"
    );
    server.shutdown()?;
    Ok(())
}

fn full_duplex_echo(context: &mut Context<'_>) -> Result<(), Failure> {
    const SIZE: usize = 8 * 1024 * 1024;
    const FIRST: usize = 1024 * 1024;
    let (server, _) = context.start()?;
    let mut connection = h1::Connection::open(server.endpoint())?;
    connection.send(
        format!("POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: {SIZE}\r\n\r\n")
            .as_bytes(),
    )?;
    let mut writer = connection.writer()?;
    let (echo_started, wait_for_echo) = std::sync::mpsc::channel::<()>();
    let body = pattern(0, SIZE);
    let upload = thread::spawn(move || -> Result<(), String> {
        writer
            .write_all(&body[..FIRST])
            .map_err(|e| e.to_string())?;
        // The rest goes only once echoed bytes came back: a server that
        // buffers the whole upload makes this wait fail.
        wait_for_echo
            .recv_timeout(Duration::from_secs(10))
            .map_err(|_| "no echoed byte arrived while the upload was unfinished".to_owned())?;
        writer.write_all(&body[FIRST..]).map_err(|e| e.to_string())
    });
    let head = connection.read_head()?;
    ensure_eq!(head.status, 200, "status");
    let mut echoed = connection.read_some(SIZE)?;
    ensure!(!echoed.is_empty(), "the echo ended at once");
    let _ = echo_started.send(());
    while echoed.len() < SIZE {
        let more = connection.read_some(SIZE - echoed.len())?;
        ensure!(
            !more.is_empty(),
            "the echo ended after {} bytes",
            echoed.len()
        );
        echoed.extend(more);
    }
    upload
        .join()
        .map_err(|_| Failure::Fail("the upload thread panicked".into()))?
        .map_err(Failure::Fail)?;
    ensure_eq!(pattern_mismatch(&echoed), None, "first wrong byte");
    server.shutdown()?;
    Ok(())
}

fn response_timeliness(context: &mut Context<'_>) -> Result<(), Failure> {
    let (server, _) = context.start()?;
    let mut connection = h1::Connection::open(server.endpoint())?;
    let sent = Instant::now();
    connection.send(&h1::get("/ticks?n=2&ms=3000"))?;
    let head = connection.read_head()?;
    ensure_eq!(head.status, 200, "status");
    let first = connection.read_some(64)?;
    let elapsed = sent.elapsed();
    ensure!(
        String::from_utf8_lossy(&first).contains("tick"),
        "first chunk {:?}",
        String::from_utf8_lossy(&first)
    );
    // The second chunk comes 3 s after the first: a server that waits for
    // more data before writing delivers the first only then.
    ensure!(
        elapsed < Duration::from_millis(1500),
        "the first chunk took {elapsed:?}"
    );
    drop(connection);
    server.shutdown()?;
    Ok(())
}

fn request_timeliness(context: &mut Context<'_>) -> Result<(), Failure> {
    let (server, _) = context.start()?;
    // Content-Length framing: 5 of 10 bytes sent.
    let mut connection = h1::Connection::open(server.endpoint())?;
    connection.send(
        b"POST /first-chunk HTTP/1.1\r\nHost: localhost\r\nContent-Length: 10\r\n\r\nhello",
    )?;
    let response = connection.read_response(false)?;
    ensure_eq!(
        response.body,
        b"5".to_vec(),
        "first frame over Content-Length"
    );
    // Chunked framing: one chunk sent, no last chunk.
    let mut connection = h1::Connection::open(server.endpoint())?;
    connection.send(b"POST /first-chunk HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n")?;
    let response = connection.read_response(false)?;
    ensure_eq!(response.body, b"3".to_vec(), "first frame over chunked");
    server.shutdown()?;
    Ok(())
}

fn slow_reader_bounded(context: &mut Context<'_>) -> Result<(), Failure> {
    const SIZE: u64 = 64 * 1024 * 1024;
    let (server, state) = context.start()?;
    let mut connection = h1::Connection::open(server.endpoint())?;
    connection.send(&h1::get(&format!("/push?size={SIZE}")))?;
    let head = connection.read_head()?;
    ensure_eq!(head.status, 200, "status");
    let stalled = eventually(Duration::from_secs(10), || {
        let before = state.pushed.load(Ordering::SeqCst);
        thread::sleep(Duration::from_millis(200));
        before > 0 && state.pushed.load(Ordering::SeqCst) == before
    });
    ensure!(
        stalled,
        "the producer never stalled while the client did not read"
    );
    let pushed = state.pushed.load(Ordering::SeqCst);
    ensure!(
        pushed < 32 * 1024 * 1024,
        "the producer ran {pushed} bytes ahead of the reader"
    );
    let response = connection.read_body(&head, false)?;
    ensure!(response.complete, "incomplete body");
    ensure_eq!(response.body.len() as u64, SIZE, "length");
    ensure_eq!(pattern_mismatch(&response.body), None, "first wrong byte");
    server.shutdown()?;
    Ok(())
}

fn unread_upload_bounded(context: &mut Context<'_>) -> Result<(), Failure> {
    const SIZE: usize = 256 * 1024 * 1024;
    let (server, state) = context.start()?;
    let mut connection = super::open_pending(
        &server,
        &state,
        format!("POST /pending HTTP/1.1\r\nHost: localhost\r\nContent-Length: {SIZE}\r\n\r\n")
            .as_bytes(),
    )?;
    connection.set_nonblocking(true)?;
    let chunk = vec![0u8; 64 * 1024];
    let mut written = 0usize;
    let mut blocked_since: Option<Instant> = None;
    let started = Instant::now();
    while written < SIZE && started.elapsed() < Duration::from_secs(30) {
        match connection.write_some(&chunk) {
            Ok(n) => {
                written += n;
                blocked_since = None;
            }
            Err(error) if error.kind() == ErrorKind::WouldBlock => {
                let since = *blocked_since.get_or_insert_with(Instant::now);
                if since.elapsed() > Duration::from_millis(500) {
                    break;
                }
                thread::sleep(Duration::from_millis(5));
            }
            Err(error) => return Err(error.into()),
        }
    }
    ensure!(
        written < 64 * 1024 * 1024,
        "the server took {written} bytes of a body the application never reads"
    );
    connection.set_nonblocking(false)?;
    drop(connection);
    server.shutdown()?;
    Ok(())
}

fn trailers_http1(context: &mut Context<'_>) -> Result<(), Failure> {
    let (server, _) = context.start()?;
    let response = h1::exchange(
        server.endpoint(),
        b"GET /trailers HTTP/1.1\r\nHost: localhost\r\nTE: trailers\r\n\r\n",
    )?;
    ensure_eq!(
        response.header("transfer-encoding"),
        Some("chunked"),
        "Transfer-Encoding"
    );
    ensure!(response.complete, "incomplete body");
    ensure_eq!(response.body, b"hello".to_vec(), "body");
    ensure_eq!(response.trailer("x-checksum"), Some("5d41402a"), "trailer");
    server.shutdown()?;
    Ok(())
}

fn trailers_need_te(context: &mut Context<'_>) -> Result<(), Failure> {
    let (server, _) = context.start()?;
    let response = h1::exchange(server.endpoint(), &h1::get("/trailers"))?;
    ensure!(response.complete, "the body did not end normally");
    ensure_eq!(response.body, b"hello".to_vec(), "body");
    ensure!(
        response.trailers.is_empty(),
        "trailers sent without TE: trailers: {:?}",
        response.trailers
    );
    server.shutdown()?;
    Ok(())
}

fn trailers_http2(context: &mut Context<'_>) -> Result<(), Failure> {
    let (server, _) = context.start()?;
    let responses = h2::send_all(
        server.endpoint(),
        vec![h2::get(server.endpoint(), "/trailers")],
    )?;
    ensure_eq!(
        responses[0].body.as_deref().ok(),
        Some(&b"hello"[..]),
        "body"
    );
    let trailer = responses[0]
        .trailers
        .as_ref()
        .and_then(|t| t.get("x-checksum"))
        .and_then(|v| v.to_str().ok());
    ensure_eq!(trailer, Some("5d41402a"), "trailer");
    server.shutdown()?;
    Ok(())
}

fn download_http2(context: &mut Context<'_>) -> Result<(), Failure> {
    const SIZE: usize = 16 * 1024 * 1024;
    let (server, _) = context.start()?;
    let responses = h2::send_all(
        server.endpoint(),
        vec![h2::get(
            server.endpoint(),
            &format!("/download?size={SIZE}"),
        )],
    )?;
    let body = responses[0]
        .body
        .as_ref()
        .map_err(|e| Failure::Fail(format!("stream failed: {e}")))?;
    ensure_eq!(body.len(), SIZE, "length");
    ensure_eq!(pattern_mismatch(body), None, "first wrong byte");
    server.shutdown()?;
    Ok(())
}
