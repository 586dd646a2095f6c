//! The TLS targets and the clients' transport: the clients trust exactly
//! the certificate made at start, speak TLS only to a TLS target, and ALPN
//! chooses what they ask for.

use std::sync::Arc;

use albany_conformance::app::{self, AppState};
use albany_conformance::transport::{self, Alpn, Endpoint, Handshake, Stream, TlsClient};
use albany_conformance::{h1, h2, suite_settings, RunningServer, Target, TOKIO, TOKIO_TLS};

fn start(target: &dyn Target) -> RunningServer {
    let state = Arc::new(AppState::default());
    target
        .start(app::application(state), suite_settings())
        .expect("the server starts")
}

#[test]
fn a_tls_target_is_served_over_tls() {
    let server = start(&TOKIO_TLS);
    let endpoint = server.endpoint();
    assert!(endpoint.is_tls() && server.is_tls());
    assert_eq!(endpoint.scheme(), "https");
    let response = h1::exchange(endpoint, &h1::get("/info")).unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        String::from_utf8_lossy(&response.body).ends_with(" scheme=https"),
        "{:?}",
        String::from_utf8_lossy(&response.body)
    );
    let responses = h2::send_all(endpoint, vec![h2::get(endpoint, "/hello")]).unwrap();
    assert_eq!(responses[0].status.as_u16(), 200);
    server.shutdown().unwrap();
}

#[test]
fn plain_http_to_a_tls_target_gets_no_response() {
    let server = start(&TOKIO_TLS);
    let plain = Endpoint::plain(server.addr());
    assert!(h1::exchange(plain, &h1::get("/hello")).is_err());
    // The server goes on serving TLS clients.
    assert_eq!(
        h1::exchange(server.endpoint(), &h1::get("/hello"))
            .unwrap()
            .status(),
        200
    );
    server.shutdown().unwrap();
}

#[test]
fn tls_to_a_plain_target_fails() {
    let server = start(&TOKIO);
    assert!(!server.is_tls());
    let client = &transport::test_certificate().unwrap().client;
    let tls = Endpoint::tls(server.addr(), client);
    assert!(h1::Connection::open(tls).is_err());
    server.shutdown().unwrap();
}

#[test]
fn the_clients_trust_only_the_test_certificate() {
    let server = start(&TOKIO_TLS);
    let other = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let stranger: &'static TlsClient = Box::leak(Box::new(
        TlsClient::trusting(other.cert.der(), "localhost").unwrap(),
    ));
    let endpoint = Endpoint::tls(server.addr(), stranger);
    let error = Stream::connect(endpoint, Some(Alpn::Http1), Handshake::Complete).unwrap_err();
    assert!(
        error.to_string().to_lowercase().contains("certificate"),
        "{error}"
    );
    server.shutdown().unwrap();
}

#[test]
fn alpn_chooses_what_the_client_offers() {
    let server = start(&TOKIO_TLS);
    for alpn in [Some(Alpn::Http1), Some(Alpn::H2), None] {
        Stream::connect(server.endpoint(), alpn, Handshake::Complete)
            .unwrap_or_else(|error| panic!("{alpn:?}: {error}"));
    }
    server.shutdown().unwrap();

    // With HTTP/2 off only http/1.1 is offered: a client asking for h2
    // alone fails the handshake.
    let state = Arc::new(AppState::default());
    let mut settings = suite_settings();
    settings.http2 = false;
    let server = TOKIO_TLS.start(app::application(state), settings).unwrap();
    assert!(Stream::connect(server.endpoint(), Some(Alpn::H2), Handshake::Complete).is_err());
    Stream::connect(server.endpoint(), Some(Alpn::Http1), Handshake::Complete).unwrap();
    server.shutdown().unwrap();
}
