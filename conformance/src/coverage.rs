//! How the suite covers the specification: the MUST clauses that no server
//! case checks, each with the reason. The coverage test
//! (`tests/coverage.rs`) checks that every MUST clause of `spec/albany.md`
//! is cited by a case, enforced by a validator rule (`VAL-*`), or listed
//! here, and that every clause id a case cites exists.

/// MUST clauses that no server case checks, with the reason.
pub const NOT_BY_CASES: &[(&str, &str)] = &[
    // Requirements on applications and middleware, not on servers.
    ("APP-1", "a requirement on application types, enforced by the compiler (the Application trait's bounds)"),
    ("APP-2", "a requirement on applications; the suite's reference application meets it under concurrency.* cases"),
    ("APP-4", "a requirement on applications, enforced by the compiler (call returns a Response)"),
    ("APP-6", "an API contract of the albany crate, tested by crates/albany/tests/clauses.rs"),
    ("APP-7", "an API contract of the albany crate, tested by crates/albany/tests/clauses.rs"),
    ("APP-8", "an API contract of the albany crate, tested by crates/albany/tests/clauses.rs"),
    ("MW-1", "a requirement on middleware, not observable from the wire"),
    ("MW-2", "a requirement on middleware, not observable from the wire"),
    ("MW-4", "a requirement on middleware, not observable from the wire"),
    ("REQ-8", "a requirement on applications"),
    ("REQ-9", "a requirement on applications"),
    ("EXT-7", "a requirement on applications"),
    ("EXT-10", "a rule for versions of this specification"),
    ("RESP-14", "a requirement on applications, checked by validator rule VAL-3"),
    ("RESP-27", "a requirement on applications, checked by validator rule VAL-2"),
    ("BODY-3", "a requirement on body producers, checked by validator rule VAL-9"),
    ("BODY-6", "a requirement on body producers, checked by validator rule VAL-7"),
    ("UPG-2", "a requirement on applications (awaiting OnUpgrade inside the future deadlocks it)"),
    // API contracts of the albany crate, which a server does not implement.
    ("EXT-6", "an API contract of albany::RequestExt, tested by crates/albany/tests/clauses.rs"),
    ("BODY-2", "an API contract of albany::Body and its consumers, tested by crates/albany/tests/clauses.rs"),
    ("BODY-4", "an API contract of albany::Body, tested by crates/albany/tests/clauses.rs"),
    ("BODY-7", "an API contract of albany::Body, tested by crates/albany/tests/clauses.rs"),
    ("BODY-8", "an API contract of Body::new, tested by crates/albany/tests/clauses.rs except a hint that changes between polls (spec §27, open items)"),
    ("BODY-9", "an API contract of albany::Body, tested by crates/albany/tests/clauses.rs"),
    ("BODY-10", "an API contract of albany::Body, tested by crates/albany/tests/clauses.rs"),
    ("BODY-11", "an API contract of albany::Body, tested by crates/albany/tests/clauses.rs"),
    ("BODY-13", "an API contract of Body::channel, tested by crates/albany/tests/clauses.rs"),
    ("BODY-14", "an API contract of Body::channel, tested by crates/albany/tests/clauses.rs"),
    ("BODY-15", "an API contract of Body::channel, tested by crates/albany/tests/clauses.rs"),
    ("BODY-16", "an API contract of Body::channel, tested by crates/albany/tests/clauses.rs"),
    ("BODY-18", "an API contract of Body::channel, tested by crates/albany/tests/clauses.rs"),
    ("BODY-19", "an API contract of Body::collect, tested by crates/albany/tests/clauses.rs"),
    ("BODY-20", "an API contract of Body::collect, tested by crates/albany/tests/clauses.rs"),
    ("BODY-21", "an API contract of Body::collect, tested by crates/albany/tests/clauses.rs"),
    ("BODY-22", "an API contract of Body::limit, tested by crates/albany/tests/clauses.rs except a hint that grows after the first frame (spec §27, open items)"),
    ("RT-1", "an API contract of albany::rt::Runtime, enforced by the compiler"),
    ("RT-5", "a requirement on Runtime implementations, not observable from the wire"),
    ("RT-7", "an API contract of the albany crate, tested by crates/albany/tests/clauses.rs"),
    ("RT-9", "an API contract of JoinHandle, tested by crates/albany/tests/clauses.rs"),
    ("RT-10", "an API contract of JoinHandle, tested by crates/albany/tests/clauses.rs"),
    ("RT-11", "an API contract of JoinHandle, tested by crates/albany/tests/clauses.rs"),
    ("BLOCK-6", "albany::blocking without a runtime: only reachable from a request built by hand"),
    ("BLOCK-8", "a cancelled blocking job: not reachable from the wire"),
    ("UPG-6", "an API contract of OnUpgrade; crates/albany/tests/clauses.rs shows concurrent clones are not all woken (spec §27, open items)"),
    // Adapter and process behaviour outside a server run.
    ("ADAPT-1", "the adapters' public API, checked by their compile-only doc tests"),
    ("ADAPT-2", "checked by the differential run (tests/differential.rs) rather than by one case"),
    ("ADAPT-7", "accept errors cannot be caused from a loopback client"),
    ("ADAPT-8", "process-level behaviour of run: signals tested in real processes by examples/tests/signals.rs"),
    ("ADAPT-9", "process-level behaviour of run: a second signal, tested by examples/tests/signals.rs"),
    ("ADAPT-10", "process-level behaviour of run: handlers added with signal-hook, which chains (crates/albany-server/src/signal)"),
    ("LIMIT-10", "the listen(2) backlog is not observable from a client"),
    ("OBS-1", "tracing spans, recorded by a subscriber in examples/tests/observe.rs"),
    ("OBS-2", "the access log, recorded by a subscriber in examples/tests/observe.rs"),
    ("OBS-3", "an API of albany_server::Server, tested by examples/tests/observe.rs"),
    ("ADAPT-11", "process environment (LISTEN_FDS, HOST, PORT), tested in real processes by examples/tests/listeners.rs"),
    ("ADAPT-12", "SO_REUSEPORT across servers, tested by examples/tests/listeners.rs"),
    ("ADAPT-13", "an inherited blocking listener, tested by examples/tests/listeners.rs"),
    ("ADAPT-14", "sd_notify readiness, tested with a notify socket by examples/tests/listeners.rs"),
    ("H1-23", "behind nginx (buffering and streaming request bodies) on each adapter, the whole differential corpus, tested by examples/tests/smuggling.rs (RELIABILITY.md)"),
    ("ADAPT-15", "Unix domain socket listeners (a socket file in the file system), tested on each adapter by examples/tests/unix.rs, examples/tests/listeners.rs and examples/tests/nginx.rs"),
    ("ADAPT-16", "the socket file's mode and removal, tested by examples/tests/unix.rs and the engine's unit tests"),
    // TLS (spec chapter 19): tested on every adapter against curl, not by
    // the suite's plain-TCP clients.
    ("EXT-11", "ConnectionInfo::tls over TLS, tested with curl by examples/tests/tls.rs"),
    ("H2-6", "h2 by ALPN over TLS, tested with curl by examples/tests/tls.rs"),
    ("TLS-1", "TLS on every adapter, tested with curl by examples/tests/tls.rs"),
    ("TLS-2", "ALPN h2 / http/1.1 / none, tested with curl by examples/tests/tls.rs"),
    ("TLS-3", "the handshake timeout, tested by examples/tests/tls.rs (failed_handshakes_close_that_connection_only)"),
    ("TLS-4", "an API contract of albany_server::Tls, tested by crates/albany-server/tests/tls_config.rs"),
    ("TLS-5", "Tls::reload, tested with curl by examples/tests/tls.rs and by crates/albany-server/tests/tls_config.rs"),
    ("TLS-6", "client certificates, tested with curl by examples/tests/tls.rs"),
    ("TLS-7", "failed handshakes, tested by examples/tests/tls.rs"),
    ("TLS-8", "ConnectionInfo::scheme and tls over TLS, tested with curl by examples/tests/tls.rs"),
    ("VER-1", "a statement about this specification"),
    ("VER-2", "a rule for conformance claims"),
    ("VER-3", "a rule for this specification's clause ids"),
    ("VER-4", "a rule for versions of this specification"),
    // Tower interoperability (spec chapter 23).
    // WebSockets (spec chapter 24).
    // Testing without sockets (spec chapter 25).
    // tokio compatibility (spec chapter 26).
    // Not verified in this version: spec §27, "Open items".
    ("UPG-7", "CONNECT over HTTP/2 has no case yet (spec §27, open items)"),
];
