//! How the suite's clients reach a server: plain TCP, or TLS trusting
//! exactly the certificate the target was started with.
//!
//! [`Endpoint`] is where a server listens and how to speak to it;
//! [`Stream`] is one blocking client connection over either transport, the
//! one place the raw clients ([`h1`](crate::h1),
//! [`h2_frames`](crate::h2_frames)) open connections, so that a case reads
//! the same over both. The HTTP/2 client ([`h2`](crate::h2)) uses the same
//! [`TlsClient`] through tokio-rustls.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

use crate::h1::IO_TIMEOUT;

/// The name the test certificate is issued for, and the name (SNI) the
/// clients ask for.
pub const SERVER_NAME: &str = "localhost";

/// The application protocol a client offers with ALPN (RFC 7301).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alpn {
    /// `http/1.1`.
    Http1,
    /// `h2`.
    H2,
}

impl Alpn {
    /// The protocol id on the wire.
    pub fn id(self) -> &'static [u8] {
        match self {
            Alpn::Http1 => b"http/1.1",
            Alpn::H2 => b"h2",
        }
    }
}

/// The client side of TLS: configurations that trust one certificate, one
/// per ALPN protocol, and one without ALPN.
pub struct TlsClient {
    http1: Arc<ClientConfig>,
    h2: Arc<ClientConfig>,
    no_alpn: Arc<ClientConfig>,
    server_name: ServerName<'static>,
}

impl TlsClient {
    /// Clients that trust exactly `certificate` (DER) and ask for
    /// `server_name`.
    ///
    /// # Errors
    ///
    /// `InvalidInput` if the certificate cannot be a trust anchor or the
    /// name is not a valid server name.
    pub fn trusting(certificate: &[u8], server_name: &str) -> io::Result<TlsClient> {
        let invalid = |error: String| io::Error::new(io::ErrorKind::InvalidInput, error);
        let mut roots = RootCertStore::empty();
        roots
            .add(CertificateDer::from(certificate.to_vec()))
            .map_err(|error| invalid(format!("the certificate is no trust anchor: {error}")))?;
        let config = |alpn: Option<Alpn>| -> io::Result<Arc<ClientConfig>> {
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let mut config = ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|error| invalid(error.to_string()))?
                .with_root_certificates(roots.clone())
                .with_no_client_auth();
            config.alpn_protocols = alpn.into_iter().map(|a| a.id().to_vec()).collect();
            Ok(Arc::new(config))
        };
        Ok(TlsClient {
            http1: config(Some(Alpn::Http1))?,
            h2: config(Some(Alpn::H2))?,
            no_alpn: config(None)?,
            server_name: ServerName::try_from(server_name.to_owned())
                .map_err(|error| invalid(error.to_string()))?,
        })
    }

    /// The configuration that offers `alpn` and nothing else.
    pub fn config(&self, alpn: Alpn) -> Arc<ClientConfig> {
        match alpn {
            Alpn::Http1 => self.http1.clone(),
            Alpn::H2 => self.h2.clone(),
        }
    }

    /// The configuration that sends no ALPN extension.
    pub fn config_without_alpn(&self) -> Arc<ClientConfig> {
        self.no_alpn.clone()
    }

    /// The server name the clients send (SNI) and verify.
    pub fn server_name(&self) -> ServerName<'static> {
        self.server_name.clone()
    }
}

impl fmt::Debug for TlsClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsClient")
            .field("server_name", &self.server_name)
            .finish_non_exhaustive()
    }
}

/// A self-signed certificate for `localhost` and 127.0.0.1, made with rcgen
/// when first asked for, and the clients that trust it.
pub struct TestCertificate {
    /// The certificate, PEM.
    pub certificate_pem: String,
    /// Its private key, PEM (PKCS #8).
    pub key_pem: String,
    /// Clients that trust exactly this certificate.
    pub client: TlsClient,
}

impl fmt::Debug for TestCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestCertificate")
            .field("client", &self.client)
            .finish_non_exhaustive()
    }
}

/// The process's test certificate: generated on the first call (rcgen,
/// ECDSA P-256), the same afterwards.
///
/// # Errors
///
/// If the certificate could not be generated (the error of the first call,
/// every time).
pub fn test_certificate() -> io::Result<&'static TestCertificate> {
    static CERTIFICATE: OnceLock<Result<TestCertificate, String>> = OnceLock::new();
    CERTIFICATE
        .get_or_init(|| {
            let names = vec![SERVER_NAME.to_owned(), "127.0.0.1".to_owned()];
            let certified = rcgen::generate_simple_self_signed(names)
                .map_err(|error| format!("cannot generate the test certificate: {error}"))?;
            let client = TlsClient::trusting(certified.cert.der(), SERVER_NAME)
                .map_err(|error| error.to_string())?;
            Ok(TestCertificate {
                certificate_pem: certified.cert.pem(),
                key_pem: certified.signing_key.serialize_pem(),
                client,
            })
        })
        .as_ref()
        .map_err(|error| io::Error::other(error.clone()))
}

/// Where a server listens and how to speak to it: plain TCP, or TLS with a
/// [`TlsClient`].
#[derive(Clone, Copy)]
pub struct Endpoint {
    addr: SocketAddr,
    tls: Option<&'static TlsClient>,
}

impl Endpoint {
    /// Plain TCP to `addr`.
    pub fn plain(addr: SocketAddr) -> Self {
        Endpoint { addr, tls: None }
    }

    /// TLS to `addr`, trusting what `client` trusts.
    pub fn tls(addr: SocketAddr, client: &'static TlsClient) -> Self {
        Endpoint {
            addr,
            tls: Some(client),
        }
    }

    /// The socket address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The TLS client, for a TLS endpoint.
    pub fn tls_client(&self) -> Option<&'static TlsClient> {
        self.tls
    }

    /// Whether clients speak TLS to it.
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// `"https"` over TLS, `"http"` otherwise: the scheme of the URIs the
    /// application sees.
    pub fn scheme(&self) -> &'static str {
        if self.is_tls() {
            "https"
        } else {
            "http"
        }
    }

    /// `scheme://addr` followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}://{}{path}", self.scheme(), self.addr)
    }
}

impl From<SocketAddr> for Endpoint {
    fn from(addr: SocketAddr) -> Self {
        Endpoint::plain(addr)
    }
}

/// The socket address, as `SocketAddr` shows it (an `:authority`, say).
impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.addr, f)
    }
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.scheme(), self.addr)
    }
}

/// Whether [`Stream::connect`] waits for the TLS handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handshake {
    /// Finish the handshake before returning, and check the protocol ALPN
    /// chose, as ordinary clients do.
    Complete,
    /// Send the ClientHello only; the handshake finishes on the first read.
    /// Bytes written before then are buffered (up to rustls' limit) and sent
    /// once it finishes. For connections a server does not accept yet.
    Deferred,
}

type TlsStream = StreamOwned<ClientConnection, TcpStream>;

/// A TLS stream shared by a reader and a [`Writer`], on a non-blocking
/// socket.
struct Shared {
    tls: Mutex<TlsStream>,
    read_timeout: Mutex<Option<Duration>>,
}

enum Inner {
    Plain(TcpStream),
    /// A TLS stream, and whether a write failed: then reads no longer try
    /// to write what is pending (an early response can still be read).
    Tls(Box<TlsStream>, bool),
    Shared(Arc<Shared>, TcpStream),
}

/// One blocking client connection, plain or TLS, with [`IO_TIMEOUT`] on
/// reads and writes.
///
/// Over TLS, a read that finds the connection closed without `close_notify`
/// returns end of stream, as a closed TCP connection does.
pub struct Stream {
    inner: Inner,
}

impl Stream {
    /// Connects to `endpoint`; over TLS it offers `alpn` (no ALPN extension
    /// for `None`) and, with [`Handshake::Complete`], returns once the
    /// handshake is done and ALPN chose `alpn` (chose nothing, for `None`).
    ///
    /// # Errors
    ///
    /// The connect or handshake error, or `InvalidData` if ALPN chose
    /// another protocol (or none).
    pub fn connect(
        endpoint: Endpoint,
        alpn: Option<Alpn>,
        handshake: Handshake,
    ) -> io::Result<Stream> {
        let socket = TcpStream::connect_timeout(&endpoint.addr, IO_TIMEOUT)?;
        socket.set_read_timeout(Some(IO_TIMEOUT))?;
        socket.set_write_timeout(Some(IO_TIMEOUT))?;
        socket.set_nodelay(true)?;
        let Some(client) = endpoint.tls else {
            return Ok(Stream {
                inner: Inner::Plain(socket),
            });
        };
        let config = match alpn {
            Some(alpn) => client.config(alpn),
            None => client.config_without_alpn(),
        };
        let connection =
            ClientConnection::new(config, client.server_name()).map_err(io::Error::other)?;
        let mut tls = StreamOwned::new(connection, socket);
        while tls.conn.wants_write() {
            tls.conn.write_tls(&mut tls.sock)?;
        }
        if handshake == Handshake::Complete {
            // Each round reads or writes at least one flight, or fails.
            for _ in 0..16 {
                if !tls.conn.is_handshaking() {
                    break;
                }
                tls.conn.complete_io(&mut tls.sock)?;
            }
            let chosen = tls.conn.alpn_protocol();
            let expected = alpn.map(Alpn::id);
            if tls.conn.is_handshaking() || chosen != expected {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "ALPN chose {:?}, not {:?}",
                        chosen.map(String::from_utf8_lossy),
                        expected.map(String::from_utf8_lossy)
                    ),
                ));
            }
        }
        Ok(Stream {
            inner: Inner::Tls(Box::new(tls), false),
        })
    }

    /// Whether the connection is TLS.
    pub fn is_tls(&self) -> bool {
        !matches!(self.inner, Inner::Plain(_))
    }

    /// The TCP socket, beneath TLS if any: for its addresses, its timeouts,
    /// or to shut it down abruptly. Over TLS, never write to it.
    pub fn socket(&self) -> &TcpStream {
        match &self.inner {
            Inner::Plain(socket) => socket,
            Inner::Tls(tls, _) => &tls.sock,
            Inner::Shared(_, socket) => socket,
        }
    }

    /// Sets how long a read may block (`None`: forever).
    ///
    /// # Errors
    ///
    /// The socket's error.
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        match &self.inner {
            Inner::Shared(shared, _) => {
                *lock(&shared.read_timeout) = timeout;
                Ok(())
            }
            _ => self.socket().set_read_timeout(timeout),
        }
    }

    /// Makes reads and writes return `WouldBlock` instead of waiting (or
    /// waiting again). Not for a split stream.
    ///
    /// # Errors
    ///
    /// The socket's error.
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        match &self.inner {
            Inner::Shared(..) => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "a split stream is always non-blocking underneath",
            )),
            _ => self.socket().set_nonblocking(nonblocking),
        }
    }

    /// Ends the client's side: over TCP a half-close
    /// (`shutdown(Write)`), over TLS a `close_notify` alert (RFC 8446 §6.1)
    /// and then the half-close.
    ///
    /// # Errors
    ///
    /// The write or shutdown error.
    pub fn shutdown_write(&mut self) -> io::Result<()> {
        match &mut self.inner {
            Inner::Plain(socket) => socket.shutdown(Shutdown::Write),
            Inner::Tls(tls, broken) => {
                tls.conn.send_close_notify();
                if let Err(error) = tls.flush() {
                    // The server has closed: what it sent before is still
                    // read, without writing (as after a failed write).
                    if !would_block(&error) {
                        *broken = true;
                    }
                    return Err(error);
                }
                tls.sock.shutdown(Shutdown::Write)
            }
            Inner::Shared(shared, socket) => {
                let deadline = Instant::now() + IO_TIMEOUT;
                let mut tls = lock(&shared.tls);
                tls.conn.send_close_notify();
                loop {
                    match raw_flush(&mut tls) {
                        Ok(()) => break,
                        Err(error) if would_block(&error) && Instant::now() < deadline => {
                            thread::sleep(POLL);
                        }
                        Err(error) => return Err(error),
                    }
                }
                socket.shutdown(Shutdown::Write)
            }
        }
    }

    /// Writes from another thread while this one reads: the returned
    /// [`Writer`] writes to the same connection. Over TCP it is a clone of
    /// the socket; over TLS both share the TLS state on a non-blocking
    /// socket, each taking turns with a short poll.
    ///
    /// # Errors
    ///
    /// The socket's error.
    pub fn writer(&mut self) -> io::Result<Writer> {
        let placeholder = Inner::Plain(self.socket().try_clone()?);
        let inner = std::mem::replace(&mut self.inner, placeholder);
        let (inner, writer) = match inner {
            Inner::Plain(socket) => {
                let writer = Writer {
                    inner: WriterInner::Plain(socket.try_clone()?),
                };
                (Inner::Plain(socket), writer)
            }
            Inner::Tls(tls, _) => {
                let socket = tls.sock.try_clone()?;
                socket.set_nonblocking(true)?;
                let shared = Arc::new(Shared {
                    read_timeout: Mutex::new(socket.read_timeout()?),
                    tls: Mutex::new(*tls),
                });
                let writer = Writer {
                    inner: WriterInner::Shared(shared.clone()),
                };
                (Inner::Shared(shared, socket), writer)
            }
            Inner::Shared(shared, socket) => {
                let writer = Writer {
                    inner: WriterInner::Shared(shared.clone()),
                };
                (Inner::Shared(shared, socket), writer)
            }
        };
        self.inner = inner;
        Ok(writer)
    }
}

impl fmt::Debug for Stream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stream")
            .field("tls", &self.is_tls())
            .field("socket", self.socket())
            .finish()
    }
}

/// How long a split TLS stream waits between tries.
const POLL: Duration = Duration::from_micros(500);

fn would_block(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A TLS read: end of stream without `close_notify` is end of stream.
fn tls_read(tls: &mut TlsStream, buf: &mut [u8]) -> io::Result<usize> {
    match tls.read(buf) {
        Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => Ok(0),
        other => other,
    }
}

/// A TLS write. While the handshake is unfinished the bytes are buffered
/// without waiting for the server (while rustls' buffer has room); a full
/// buffer, or a non-blocking socket that cannot take more, is `WouldBlock`.
fn tls_write(tls: &mut TlsStream, buf: &[u8]) -> io::Result<usize> {
    if buf.is_empty() {
        return Ok(0);
    }
    if tls.conn.is_handshaking() {
        let n = tls.conn.writer().write(buf)?;
        while tls.conn.wants_write() {
            tls.conn.write_tls(&mut tls.sock)?;
        }
        if n > 0 {
            return Ok(n);
        }
        for _ in 0..16 {
            if !tls.conn.is_handshaking() {
                break;
            }
            tls.conn.complete_io(&mut tls.sock)?;
        }
    }
    match tls.write(buf)? {
        0 => Err(io::Error::new(
            io::ErrorKind::WouldBlock,
            "the TLS send buffer is full",
        )),
        n => Ok(n),
    }
}

/// A TLS read that never waits to write: on a split stream the writer may
/// be blocked on a full socket, and the peer may be waiting for this side
/// to read before it reads again; after a failed write the socket cannot
/// take what is pending. With `write`, what can be written at once is
/// (alerts, handshake messages).
fn raw_read(tls: &mut TlsStream, buf: &mut [u8], write: bool) -> io::Result<usize> {
    // Each round takes bytes from the socket, or returns.
    for _ in 0..4096 {
        match tls.conn.reader().read(buf) {
            Ok(n) => return Ok(n),
            Err(error) if error.kind() == io::ErrorKind::UnexpectedEof => return Ok(0),
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
            Err(error) => return Err(error),
        }
        // Handshake messages or alerts this side owes the peer.
        while write && tls.conn.wants_write() {
            match tls.conn.write_tls(&mut tls.sock) {
                Ok(_) => {}
                Err(error) if would_block(&error) => break,
                Err(error) => return Err(error),
            }
        }
        tls.conn.read_tls(&mut tls.sock)?;
        tls.conn
            .process_new_packets()
            .map_err(|error| io::Error::new(io::ErrorKind::InvalidData, error))?;
    }
    Err(io::Error::new(io::ErrorKind::WouldBlock, "no data yet"))
}

/// A write on a non-blocking TLS stream that never reads.
fn raw_write(tls: &mut TlsStream, buf: &[u8]) -> io::Result<usize> {
    raw_flush(tls)?;
    let n = tls.conn.writer().write(buf)?;
    match raw_flush(tls) {
        Err(error) if would_block(&error) => {}
        other => other?,
    }
    if n == 0 && !buf.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::WouldBlock,
            "the TLS send buffer is full",
        ));
    }
    Ok(n)
}

/// Writes out what the TLS stream holds, without reading.
fn raw_flush(tls: &mut TlsStream) -> io::Result<()> {
    while tls.conn.wants_write() {
        tls.conn.write_tls(&mut tls.sock)?;
    }
    Ok(())
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match &mut self.inner {
            Inner::Plain(socket) => socket.read(buf),
            Inner::Tls(tls, false) => tls_read(tls, buf),
            Inner::Tls(tls, true) => raw_read(tls, buf, false),
            Inner::Shared(shared, _) => {
                let timeout = *lock(&shared.read_timeout);
                let started = Instant::now();
                loop {
                    match raw_read(&mut lock(&shared.tls), buf, true) {
                        Err(error) if would_block(&error) => {}
                        other => return other,
                    }
                    if timeout.is_some_and(|timeout| started.elapsed() >= timeout) {
                        return Err(io::Error::new(
                            io::ErrorKind::WouldBlock,
                            "the read timed out",
                        ));
                    }
                    thread::sleep(POLL);
                }
            }
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.inner {
            Inner::Plain(socket) => socket.write(buf),
            Inner::Tls(tls, broken) => match tls_write(tls, buf) {
                Err(error) if !would_block(&error) => {
                    *broken = true;
                    Err(error)
                }
                other => other,
            },
            Inner::Shared(shared, _) => shared_write(shared, buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.inner {
            Inner::Plain(socket) => socket.flush(),
            // Mid-handshake, only what is due now: the rest waits for the
            // server's flight, which the first read takes.
            Inner::Tls(tls, _) if tls.conn.is_handshaking() => {
                while tls.conn.wants_write() {
                    tls.conn.write_tls(&mut tls.sock)?;
                }
                Ok(())
            }
            Inner::Tls(tls, broken) => tls.flush().inspect_err(|error| {
                if !would_block(error) {
                    *broken = true;
                }
            }),
            Inner::Shared(shared, _) => shared_flush(shared),
        }
    }
}

/// Writes through a shared TLS stream, waiting at most [`IO_TIMEOUT`] for
/// room.
fn shared_write(shared: &Shared, buf: &[u8]) -> io::Result<usize> {
    let started = Instant::now();
    loop {
        match raw_write(&mut lock(&shared.tls), buf) {
            Err(error) if would_block(&error) && started.elapsed() < IO_TIMEOUT => {}
            other => return other,
        }
        thread::sleep(POLL);
    }
}

fn shared_flush(shared: &Shared) -> io::Result<()> {
    let started = Instant::now();
    loop {
        match raw_flush(&mut lock(&shared.tls)) {
            Err(error) if would_block(&error) && started.elapsed() < IO_TIMEOUT => {}
            other => return other,
        }
        thread::sleep(POLL);
    }
}

enum WriterInner {
    Plain(TcpStream),
    Shared(Arc<Shared>),
}

/// The writing side of a [`Stream`], for another thread (see
/// [`Stream::writer`]). Writes are flushed before they return.
pub struct Writer {
    inner: WriterInner,
}

impl fmt::Debug for Writer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Writer")
            .field("tls", &matches!(self.inner, WriterInner::Shared(_)))
            .finish()
    }
}

impl Write for Writer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.inner {
            WriterInner::Plain(socket) => socket.write(buf),
            WriterInner::Shared(shared) => {
                let n = shared_write(shared, buf)?;
                shared_flush(shared)?;
                Ok(n)
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.inner {
            WriterInner::Plain(socket) => socket.flush(),
            WriterInner::Shared(shared) => shared_flush(shared),
        }
    }
}
