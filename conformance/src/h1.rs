//! A raw HTTP/1.1 client over `std::net`, for tests where framing matters.
//! Over a TLS [`Endpoint`] it speaks TLS and offers ALPN `http/1.1`.
//!
//! It sends bytes exactly as given and parses responses strictly enough to
//! tell a complete response from an aborted one (a chunked body without its
//! last chunk, a body shorter than its `Content-Length`).

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::transport::{Alpn, Endpoint, Handshake, Stream, Writer};

/// How long any read or write may block before the test fails, in seconds.
pub const IO_TIMEOUT: Duration = Duration::from_secs(20);

/// A response head: status and headers, in order, duplicates kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// The status code.
    pub status: u16,
    /// The minor HTTP version: 1 for HTTP/1.1, 0 for HTTP/1.0.
    pub minor_version: u8,
    /// Header fields, names lower-cased, in the order received.
    pub headers: Vec<(String, String)>,
}

impl Head {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// How the body is framed (RFC 9112 §6.3).
    pub fn framing(&self, head_request: bool) -> Framing {
        if head_request || matches!(self.status, 100..=199 | 204 | 304) {
            return Framing::None;
        }
        if let Some(coding) = self.header("transfer-encoding") {
            if coding.to_ascii_lowercase().ends_with("chunked") {
                return Framing::Chunked;
            }
            return Framing::Close;
        }
        match self
            .header("content-length")
            .map(|v| v.trim().parse::<u64>())
        {
            Some(Ok(length)) => Framing::Length(length),
            Some(Err(_)) => Framing::Close,
            None => Framing::Close,
        }
    }
}

/// How a response body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body (HEAD, 1xx, 204, 304).
    None,
    /// `Content-Length: N`.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Until the connection closes.
    Close,
}

/// A whole response.
#[derive(Debug, Clone)]
pub struct Response {
    /// Status and headers.
    pub head: Head,
    /// The body's bytes, as far as they arrived.
    pub body: Vec<u8>,
    /// Trailer fields of a chunked body.
    pub trailers: Vec<(String, String)>,
    /// `false` if the body was cut short: the connection closed before the
    /// last chunk or before `Content-Length` bytes.
    pub complete: bool,
}

impl Response {
    /// The status code.
    pub fn status(&self) -> u16 {
        self.head.status
    }

    /// The first value of header `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.header(name)
    }

    /// The first value of trailer `name`.
    pub fn trailer(&self, name: &str) -> Option<&str> {
        self.trailers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// One client connection, plain or TLS.
#[derive(Debug)]
pub struct Connection {
    stream: Stream,
    buffer: Vec<u8>,
}

impl Connection {
    /// Connects to `endpoint` with [`IO_TIMEOUT`] on reads and writes; over
    /// TLS, once the handshake is done and ALPN chose `http/1.1`.
    ///
    /// # Errors
    ///
    /// The connect or handshake error.
    pub fn open(endpoint: impl Into<Endpoint>) -> io::Result<Self> {
        Connection::connect(endpoint.into(), Handshake::Complete)
    }

    /// As [`open`](Connection::open), but over TLS without waiting for the
    /// handshake: it finishes on the first read, and what is sent before
    /// then is buffered. For a connection the server may not accept yet.
    ///
    /// # Errors
    ///
    /// The connect error.
    pub fn open_deferred(endpoint: impl Into<Endpoint>) -> io::Result<Self> {
        Connection::connect(endpoint.into(), Handshake::Deferred)
    }

    fn connect(endpoint: Endpoint, handshake: Handshake) -> io::Result<Self> {
        Ok(Connection {
            stream: Stream::connect(endpoint, Some(Alpn::Http1), handshake)?,
            buffer: Vec::new(),
        })
    }

    /// The TCP socket (beneath TLS, if any): for its addresses, its
    /// timeouts, or an abrupt shutdown. Write through the connection, not
    /// to the socket.
    pub fn stream(&self) -> &TcpStream {
        self.stream.socket()
    }

    /// Whether the connection is TLS.
    pub fn is_tls(&self) -> bool {
        self.stream.is_tls()
    }

    /// Sets how long a read may block.
    ///
    /// # Errors
    ///
    /// The socket's error.
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.stream.set_read_timeout(timeout)
    }

    /// Makes writes ([`write_some`](Connection::write_some)) return
    /// `WouldBlock` instead of waiting.
    ///
    /// # Errors
    ///
    /// The socket's error.
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.stream.set_nonblocking(nonblocking)
    }

    /// One write of at most `bytes.len()` bytes: how many the connection
    /// took.
    ///
    /// # Errors
    ///
    /// The write error; `WouldBlock` on a non-blocking connection that
    /// cannot take more.
    pub fn write_some(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.stream.write(bytes)
    }

    /// Ends the request side: a TCP half-close, or over TLS `close_notify`
    /// and then the half-close.
    ///
    /// # Errors
    ///
    /// The write or shutdown error.
    pub fn shutdown_write(&mut self) -> io::Result<()> {
        self.stream.shutdown_write()
    }

    /// A writer to the same connection, for another thread, while this one
    /// reads (see [`Stream::writer`]).
    ///
    /// # Errors
    ///
    /// The socket's error.
    pub fn writer(&mut self) -> io::Result<Writer> {
        self.stream.writer()
    }

    /// Writes `bytes` as they are.
    ///
    /// # Errors
    ///
    /// The write error.
    pub fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)?;
        self.stream.flush()
    }

    /// Reads more bytes into the buffer; `Ok(0)` at end of stream.
    fn fill(&mut self) -> io::Result<usize> {
        let mut chunk = [0u8; 64 * 1024];
        let n = self.stream.read(&mut chunk)?;
        self.buffer.extend_from_slice(&chunk[..n]);
        Ok(n)
    }

    /// Reads a response head.
    ///
    /// # Errors
    ///
    /// `UnexpectedEof` if the connection closes first, `InvalidData` if the
    /// head does not parse, or the read error (a timeout among them).
    pub fn read_head(&mut self) -> io::Result<Head> {
        loop {
            let mut headers = [httparse::EMPTY_HEADER; 128];
            let mut response = httparse::Response::new(&mut headers);
            match response.parse(&self.buffer) {
                Ok(httparse::Status::Complete(length)) => {
                    let head = Head {
                        status: response.code.unwrap_or(0),
                        minor_version: response.version.unwrap_or(1),
                        headers: response
                            .headers
                            .iter()
                            .map(|h| {
                                (
                                    h.name.to_ascii_lowercase(),
                                    String::from_utf8_lossy(h.value).into_owned(),
                                )
                            })
                            .collect(),
                    };
                    self.buffer.drain(..length);
                    return Ok(head);
                }
                Ok(httparse::Status::Partial) => {}
                Err(error) => return Err(io::Error::new(io::ErrorKind::InvalidData, error)),
            }
            if self.fill()? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the connection closed before a complete response head",
                ));
            }
        }
    }

    /// Reads up to `max` body bytes as they come (at least one, unless the
    /// connection closed: then an empty vector).
    ///
    /// # Errors
    ///
    /// The read error.
    pub fn read_some(&mut self, max: usize) -> io::Result<Vec<u8>> {
        if self.buffer.is_empty() && self.fill()? == 0 {
            return Ok(Vec::new());
        }
        let n = max.min(self.buffer.len());
        Ok(self.buffer.drain(..n).collect())
    }

    /// Reads exactly `length` raw bytes (an upgraded connection's, say).
    ///
    /// # Errors
    ///
    /// `UnexpectedEof` if the connection closes first, or the read error.
    pub fn read_exactly(&mut self, length: usize) -> io::Result<Vec<u8>> {
        let mut bytes = Vec::with_capacity(length);
        while bytes.len() < length {
            let more = self.read_some(length - bytes.len())?;
            if more.is_empty() {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "the connection closed after {} of {length} bytes",
                        bytes.len()
                    ),
                ));
            }
            bytes.extend(more);
        }
        Ok(bytes)
    }

    fn read_line(&mut self) -> io::Result<Option<Vec<u8>>> {
        loop {
            if let Some(end) = self.buffer.windows(2).position(|w| w == b"\r\n") {
                let line = self.buffer[..end].to_vec();
                self.buffer.drain(..end + 2);
                return Ok(Some(line));
            }
            if self.fill()? == 0 {
                return Ok(None);
            }
        }
    }

    fn read_exact_or_eof(&mut self, length: u64, body: &mut Vec<u8>) -> io::Result<bool> {
        let mut remaining = length;
        while remaining > 0 {
            if self.buffer.is_empty() && self.fill()? == 0 {
                return Ok(false);
            }
            let n = (remaining.min(self.buffer.len() as u64)) as usize;
            body.extend(self.buffer.drain(..n));
            remaining -= n as u64;
        }
        Ok(true)
    }

    /// Reads the body that `head` announces.
    ///
    /// # Errors
    ///
    /// The read error, or `InvalidData` for a malformed chunked body.
    pub fn read_body(&mut self, head: &Head, head_request: bool) -> io::Result<Response> {
        let mut body = Vec::new();
        let mut trailers = Vec::new();
        let complete = match head.framing(head_request) {
            Framing::None => true,
            Framing::Length(length) => self.read_exact_or_eof(length, &mut body)?,
            Framing::Close => {
                body.append(&mut self.buffer);
                while self.fill()? > 0 {
                    body.append(&mut self.buffer);
                }
                true
            }
            Framing::Chunked => self.read_chunked(&mut body, &mut trailers)?,
        };
        Ok(Response {
            head: head.clone(),
            body,
            trailers,
            complete,
        })
    }

    fn read_chunked(
        &mut self,
        body: &mut Vec<u8>,
        trailers: &mut Vec<(String, String)>,
    ) -> io::Result<bool> {
        let invalid = |what: &str| io::Error::new(io::ErrorKind::InvalidData, what.to_owned());
        loop {
            let Some(line) = self.read_line()? else {
                return Ok(false);
            };
            let line = String::from_utf8(line).map_err(|_| invalid("chunk size is not UTF-8"))?;
            let size = line.split(';').next().unwrap_or("").trim();
            let size = u64::from_str_radix(size, 16).map_err(|_| invalid("bad chunk size"))?;
            if size == 0 {
                break;
            }
            if !self.read_exact_or_eof(size, body)? {
                return Ok(false);
            }
            match self.read_line()? {
                Some(line) if line.is_empty() => {}
                Some(_) => return Err(invalid("chunk data not followed by CRLF")),
                None => return Ok(false),
            }
        }
        loop {
            let Some(line) = self.read_line()? else {
                return Ok(false);
            };
            if line.is_empty() {
                return Ok(true);
            }
            let line = String::from_utf8_lossy(&line);
            if let Some((name, value)) = line.split_once(':') {
                trailers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
            }
        }
    }

    /// Reads a whole response (head and body).
    ///
    /// # Errors
    ///
    /// As [`read_head`](Connection::read_head) and
    /// [`read_body`](Connection::read_body).
    pub fn read_response(&mut self, head_request: bool) -> io::Result<Response> {
        let head = self.read_head()?;
        self.read_body(&head, head_request)
    }

    /// Returns `true` if the server closed the connection: a read returns
    /// end of stream (or a reset) within `wait`.
    pub fn is_closed_within(&mut self, wait: Duration) -> bool {
        if self.stream.set_read_timeout(Some(wait)).is_err() {
            return false;
        }
        let closed = match self.fill() {
            Ok(0) => true,
            Ok(_) => false,
            Err(error) => matches!(
                error.kind(),
                io::ErrorKind::ConnectionReset
                    | io::ErrorKind::BrokenPipe
                    | io::ErrorKind::UnexpectedEof
            ),
        };
        let _ = self.stream.set_read_timeout(Some(IO_TIMEOUT));
        closed
    }
}

/// Opens a connection, sends `request` as it is, reads one response (also
/// when the server answered and closed before all of `request` was sent).
///
/// # Errors
///
/// Any connect, write, read or parse error.
pub fn exchange(endpoint: impl Into<Endpoint>, request: &[u8]) -> io::Result<Response> {
    let head_request = request.starts_with(b"HEAD ");
    let mut connection = Connection::open(endpoint)?;
    if let Err(error) = connection.send(request) {
        // A server may answer (413, say) and close before the request's
        // body is all sent (RFC 9112 §9.5): the answer is the response.
        if matches!(
            error.kind(),
            io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
        ) {
            if let Ok(response) = connection.read_response(head_request) {
                return Ok(response);
            }
        }
        return Err(error);
    }
    connection.read_response(head_request)
}

/// `GET path` with `Host` and nothing else.
pub fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").into_bytes()
}
