//! The request body timeouts and the response write timeout (spec
//! LIMIT-14 to LIMIT-18), on every adapter, from `std` sockets and the
//! conformance suite's raw HTTP/2 client (no client shares the server's
//! runtime). The conformance cases `limits.body-*` and
//! `limits.write-timeout` check the wire; here:
//!
//! - each adapter's builder methods set the new settings (a zero is
//!   refused by `serve` naming the setting; short timeouts set through
//!   them take effect);
//! - the application sees the typed error (`CollectError::TimedOut`,
//!   `TimeoutError` by `downcast_ref`) and the client gets `408` although
//!   the application answered something else;
//! - over HTTP/2, a client that grants a large window and then stops
//!   reading has its connection closed after the write timeout, and the
//!   push writer is freed; with the timeout off, it is not.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use albany::body::{CollectError, TimeoutError};
use albany::http::StatusCode;
use albany::{from_fn, Application, Body, BoxApplication, Request, RequestExt, Response};
use albany_conformance::app::{application, AppState};
use albany_conformance::h2_frames::{kind, RawConnection};
use albany_examples::testing::{serve_with, ADAPTERS};
use albany_server::{Binding, Settings};

/// Sends a request head announcing 100 bytes and 10 of them, then nothing;
/// returns the status line and whether `Connection: close` came, within
/// 5 s.
fn stall_body(addr: SocketAddr, path: &str) -> (String, bool) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("read timeout");
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\n0123456789"
    )
    .expect("write");
    let mut response = Vec::new();
    let mut buffer = [0u8; 4096];
    let started = Instant::now();
    // Until the end of file: the connection must close after the 408.
    while started.elapsed() < Duration::from_secs(5) {
        match stream.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => response.extend_from_slice(&buffer[..n]),
            Err(error) if error.kind() == ErrorKind::ConnectionReset => break,
            Err(error) => panic!("{path}: reading the response: {error}"),
        }
    }
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text.lines().next().unwrap_or_default().to_owned();
    (
        status,
        text.to_ascii_lowercase().contains("connection: close"),
    )
}

/// Serves `application` on the adapter `B` with 1 s body and write
/// timeouts set through the builder's methods, in a thread of its own.
fn serve_through_builder<B: Binding + Default>(
    application: impl Application,
) -> (
    SocketAddr,
    albany::shutdown::ShutdownTrigger,
    std::thread::JoinHandle<std::io::Result<()>>,
) {
    let server = albany_server::Server::<B>::bind("127.0.0.1:0")
        .expect("bind")
        .request_body_timeout(Some(Duration::from_secs(1)))
        .request_body_min_rate(Some(albany_server::MinDataRate::new(
            1,
            Duration::from_secs(30),
        )))
        .response_write_timeout(Some(Duration::from_secs(1)));
    let addr = server.local_addr().expect("the address");
    let trigger = server.shutdown_trigger();
    let thread = std::thread::spawn(move || server.serve_blocking(application));
    (addr, trigger, thread)
}

fn builder_methods<B: Binding + Default>(adapter: &str) {
    // Zero is refused, naming the setting.
    type Breaker<B> = fn(albany_server::Server<B>) -> albany_server::Server<B>;
    let breakers: [(&str, Breaker<B>); 4] = [
        ("request_body_timeout", |s| {
            s.request_body_timeout(Some(Duration::ZERO))
        }),
        ("request_body_min_rate", |s| {
            s.request_body_min_rate(Some(albany_server::MinDataRate::new(
                0,
                Duration::from_secs(1),
            )))
        }),
        ("request_body_min_rate", |s| {
            s.request_body_min_rate(Some(albany_server::MinDataRate::new(1, Duration::ZERO)))
        }),
        ("response_write_timeout", |s| {
            s.response_write_timeout(Some(Duration::ZERO))
        }),
    ];
    for (name, break_it) in breakers {
        let server = break_it(albany_server::Server::<B>::bind("127.0.0.1:0").expect("bind"));
        let hello = from_fn(|_request: Request| async { Response::new(Body::from("hello")) });
        let error = server
            .serve_blocking(hello)
            .expect_err("served with a zero setting");
        assert_eq!(error.kind(), ErrorKind::InvalidInput, "{adapter}: {name}");
        assert!(
            error.to_string().contains(name),
            "{adapter}: the error does not name {name}: {error}"
        );
    }
    // Short timeouts through the builder take effect.
    let state = Arc::new(AppState::default());
    let (addr, trigger, thread) = serve_through_builder::<B>(application(state));
    let started = Instant::now();
    let (status, close) = stall_body(addr, "/count");
    assert!(status.contains(" 408 "), "{adapter}: {status}");
    assert!(close, "{adapter}: no Connection: close");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{adapter}: the 408 took {:?}",
        started.elapsed()
    );
    trigger.trigger();
    thread.join().expect("the server thread").expect("serve");
}

#[test]
fn builder_methods_set_the_timeouts_on_every_adapter() {
    builder_methods::<albany_tokio::TokioBinding>("tokio");
    builder_methods::<albany_async_std::AsyncStdBinding>("async-std");
    builder_methods::<albany_smol::SmolBinding>("smol");
}

/// Collects the body; on a timeout, counts it (and checks the error the
/// body itself gives, by `downcast_ref`) and answers 418.
fn collecting(timeouts: Arc<AtomicU64>) -> BoxApplication {
    BoxApplication::new(from_fn(move |request: Request| {
        let timeouts = timeouts.clone();
        async move {
            let mut body = request.into_body();
            // The first frame (the 10 bytes sent), then the failure.
            let first = body.frame().await;
            assert!(matches!(first, Some(Ok(_))), "the first frame: {first:?}");
            let error = match body.frame().await {
                Some(Err(error)) => error,
                other => panic!("not an error: {other:?}"),
            };
            let typed = error
                .downcast_ref::<TimeoutError>()
                .expect("a TimeoutError");
            assert_eq!(typed.idle_timeout(), Some(Duration::from_secs(1)));
            // Then the body ends.
            assert!(body.frame().await.is_none(), "the body did not end");
            timeouts.fetch_add(1, Ordering::SeqCst);
            let mut response = Response::new(Body::from("a teapot"));
            *response.status_mut() = StatusCode::IM_A_TEAPOT;
            response
        }
    }))
}

#[test]
fn the_application_sees_a_typed_timeout_and_the_client_gets_408() {
    for adapter in ADAPTERS {
        let timeouts = Arc::new(AtomicU64::new(0));
        let mut settings = Settings::default();
        settings.request_body_timeout = Some(Duration::from_secs(1));
        settings.request_body_min_rate = None;
        let server = serve_with(adapter, collecting(timeouts.clone()), settings);
        let (status, close) = stall_body(server.addr(), "/");
        assert!(status.contains(" 408 "), "{adapter}: {status}");
        assert!(close, "{adapter}: no Connection: close");
        assert_eq!(timeouts.load(Ordering::SeqCst), 1, "{adapter}");
        server.stop().expect("serve");
    }
    // Body::collect's view of the same failure.
    let collected = futures_lite::future::block_on(
        Body::from_stream(futures_lite::stream::iter([Err::<bytes::Bytes, _>(
            albany::Error::new(TimeoutError::min_rate(240)),
        )]))
        .collect(1024),
    );
    assert!(
        matches!(collected, Err(CollectError::TimedOut(error)) if error.min_bytes_per_second() == Some(240))
    );
}

/// Opens an HTTP/2 connection that grants the largest windows, asks for
/// 1 GiB through the push writer, and never reads.
fn http2_reader_that_stops(addr: SocketAddr) -> RawConnection {
    let mut connection = RawConnection::open(addr).expect("connect");
    // SETTINGS_INITIAL_WINDOW_SIZE (0x4) = 2^31 - 1, and as much for the
    // connection's window.
    let mut settings = vec![0x00, 0x04];
    settings.extend_from_slice(&0x7fff_ffffu32.to_be_bytes());
    connection
        .write_frame(kind::SETTINGS, 0, 0, &settings)
        .expect("SETTINGS");
    connection
        .write_frame(
            kind::WINDOW_UPDATE,
            0,
            0,
            &(0x7fff_ffffu32 - 65_535).to_be_bytes(),
        )
        .expect("WINDOW_UPDATE");
    let authority = addr.to_string();
    connection
        .send_get(1, &authority, &format!("/push?size={}", 1u64 << 30), &[])
        .expect("the request");
    connection
}

#[test]
fn an_http2_client_that_stops_reading_is_closed_after_the_write_timeout() {
    for adapter in ADAPTERS {
        for timeout in [Some(Duration::from_secs(1)), None] {
            let state = Arc::new(AppState::default());
            let mut settings = Settings::default();
            settings.response_write_timeout = timeout;
            let server = serve_with(adapter, application(state.clone()), settings);
            let connection = http2_reader_that_stops(server.addr());
            std::thread::sleep(Duration::from_secs(3));
            let pushed = state.pushed.load(Ordering::SeqCst);
            assert!(pushed > 0, "{adapter}: nothing was pushed");
            assert!(pushed < 1 << 30, "{adapter}: everything was pushed");
            let freed = state.push_stopped.load(Ordering::SeqCst);
            match timeout {
                Some(_) => assert_eq!(freed, 1, "{adapter}: the push writer was not freed"),
                None => assert_eq!(freed, 0, "{adapter}: freed with the timeout off"),
            }
            drop(connection);
            server.stop().expect("serve");
        }
    }
}

/// Answers at once with a channel body that never sends, while a task it
/// spawns reads the request body (and, once that fails, holds the sender
/// forever).
fn answers_before_reading() -> BoxApplication {
    BoxApplication::new(from_fn(|request: Request| async move {
        let Some(handle) = request.runtime().cloned() else {
            return Response::new(Body::from("no runtime"));
        };
        let (sender, body) = Body::channel(1024);
        handle.spawn(async move {
            let _sender = sender;
            let collected = request.into_body().collect(1 << 20).await;
            assert!(
                matches!(collected, Err(CollectError::TimedOut(_))),
                "{collected:?}"
            );
            std::future::pending::<()>().await;
        });
        Response::new(body)
    }))
}

#[test]
fn a_timeout_after_the_head_aborts_a_pending_response() {
    for adapter in ADAPTERS {
        let mut settings = Settings::default();
        settings.request_body_timeout = Some(Duration::from_secs(1));
        settings.request_body_min_rate = None;
        let server = serve_with(adapter, answers_before_reading(), settings);
        let started = Instant::now();
        let mut stream = TcpStream::connect(server.addr()).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("read timeout");
        stream
            .write_all(
                b"POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\n0123456789",
            )
            .expect("write");
        let mut response = Vec::new();
        let mut buffer = [0u8; 4096];
        let ended = loop {
            match stream.read(&mut buffer) {
                Ok(0) => break Ok(()),
                Ok(n) => response.extend_from_slice(&buffer[..n]),
                Err(error) => break Err(error),
            }
        };
        let text = String::from_utf8_lossy(&response);
        assert!(
            matches!(&ended, Ok(()))
                || matches!(&ended, Err(error) if error.kind() == ErrorKind::ConnectionReset),
            "{adapter}: the connection stayed open: {ended:?}, {text:?}"
        );
        assert!(text.starts_with("HTTP/1.1 200 "), "{adapter}: {text:?}");
        assert!(
            !text.ends_with("0\r\n\r\n"),
            "{adapter}: the response ended normally: {text:?}"
        );
        let elapsed = started.elapsed();
        assert!(
            elapsed >= Duration::from_millis(800) && elapsed < Duration::from_secs(4),
            "{adapter}: aborted after {elapsed:?}"
        );
        server.stop().expect("serve");
    }
}

/// With the default settings, a client that announces 1 MiB and sends a
/// byte a second gets `408` once the minimum rate's 5 s grace has passed
/// (240 bytes/s, LIMIT-15): the adapters in parallel, about 5 s in all.
#[test]
fn the_defaults_stop_a_one_byte_a_second_body() {
    let runs: Vec<_> = ADAPTERS
        .into_iter()
        .map(|adapter| {
            std::thread::spawn(move || {
                let state = Arc::new(AppState::default());
                let server = serve_with(adapter, application(state), Settings::default());
                let mut stream = TcpStream::connect(server.addr()).expect("connect");
                stream
                    .write_all(
                        b"POST /count HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1048576\r\n\r\n",
                    )
                    .expect("the head");
                let started = Instant::now();
                let mut reader = stream.try_clone().expect("clone");
                reader
                    .set_read_timeout(Some(Duration::from_millis(1000)))
                    .expect("read timeout");
                let mut response = Vec::new();
                let mut buffer = [0u8; 1024];
                // A byte a second; at most 10 s.
                while started.elapsed() < Duration::from_secs(10) {
                    if stream.write_all(b"x").is_err() {
                        break;
                    }
                    match reader.read(&mut buffer) {
                        Ok(0) => break,
                        Ok(n) => {
                            response.extend_from_slice(&buffer[..n]);
                            break;
                        }
                        Err(error)
                            if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                        Err(error) => panic!("{adapter}: {error}"),
                    }
                }
                let elapsed = started.elapsed();
                let text = String::from_utf8_lossy(&response).into_owned();
                assert!(text.starts_with("HTTP/1.1 408 "), "{adapter}: {text:?} after {elapsed:?}");
                assert!(
                    elapsed >= Duration::from_secs(4) && elapsed < Duration::from_secs(8),
                    "{adapter}: the 408 came after {elapsed:?}"
                );
                server.stop().expect("serve");
                elapsed
            })
        })
        .collect();
    for run in runs {
        let elapsed = run.join().expect("an adapter's run");
        println!("408 after {elapsed:?}");
    }
}

/// [LIMIT-17] An HTTP/1.1 client that asks for a large streamed response
/// and never reads it (a 4 KiB receive buffer) is closed once the write
/// timeout passes without progress, on every adapter (in parallel). The
/// timeout is 20 s, not 1 s: while a client's window is zero the kernel
/// probes it at growing intervals, and async-io wakes the stalled writer at
/// each probe; a flush that is ready then counted as progress and kept
/// the timer from firing whenever the probes came more often than the
/// timeout (smol and async-std held such clients for minutes at 60 s).
#[test]
fn an_http1_client_that_stops_reading_a_stream_is_closed_after_the_write_timeout() {
    const TIMEOUT: Duration = Duration::from_secs(20);
    let runs: Vec<_> = ADAPTERS
        .into_iter()
        .map(|adapter| std::thread::spawn(move || stops_reading(adapter, TIMEOUT)))
        .collect();
    for run in runs {
        run.join().expect("a client thread panicked");
    }
}

fn stops_reading(adapter: &'static str, timeout: Duration) {
    let mut settings = Settings::default();
    settings.response_write_timeout = Some(timeout);
    let endless = from_fn(|_: Request| async {
        let chunks = futures_lite::stream::repeat(vec![b'x'; 64 * 1024]);
        Response::new(Body::from_stream(futures_lite::StreamExt::map(
            chunks,
            Ok::<_, std::io::Error>,
        )))
    });
    let server = serve_with(adapter, endless, settings);
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect(&server.addr().into()).unwrap();
    let mut stream: TcpStream = socket.into();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    // Not read for the timeout and 8 s more: the server's writes stall,
    // and the timeout passes.
    std::thread::sleep(timeout + Duration::from_secs(8));
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    // What is left to read is what the socket buffers held (a few MiB); a
    // connection still open would stream on without end.
    let mut buf = vec![0u8; 64 * 1024];
    let mut read = 0usize;
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => read += n,
            Err(error) if error.kind() == ErrorKind::ConnectionReset => break,
            Err(error) => panic!("{adapter}: the connection is still open: {error}"),
        }
        assert!(
            read < 64 * 1024 * 1024,
            "{adapter}: 64 MiB read after the timeout passed: the connection is still open"
        );
    }
    server.stop().unwrap();
}
