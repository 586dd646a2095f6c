//! A small blocking HTTP/1.1 client on `std::net`, as fast as the loopback
//! lets it be: the driver's client for streams, idle connections and
//! allocation counts, and over TLS (rustls) for the TLS servers.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, StreamOwned};

/// How long a connect, read or write may block.
pub(crate) const IO_TIMEOUT: Duration = Duration::from_secs(30);

/// The longest response head accepted, in bytes.
const MAX_HEAD: usize = 64 * 1024;

/// The longest response body read into memory, in bytes.
const MAX_BODY: u64 = 1 << 20;

/// A response head: the status and the framing of the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Head {
    /// The status code.
    pub(crate) status: u16,
    /// `Content-Length`, if present.
    pub(crate) content_length: Option<u64>,
    /// Whether the body is chunked.
    pub(crate) chunked: bool,
}

/// What a connection runs on: TCP, or TLS over TCP.
enum Transport {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
}

impl Read for Transport {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(stream) => stream.read(buf),
            Transport::Tls(stream) => stream.read(buf),
        }
    }
}

impl Write for Transport {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(stream) => stream.write(buf),
            Transport::Tls(stream) => stream.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Transport::Plain(stream) => stream.flush(),
            Transport::Tls(stream) => stream.flush(),
        }
    }
}

/// One keep-alive connection.
pub(crate) struct Connection {
    reader: BufReader<Transport>,
}

impl Connection {
    /// Connects to `addr` with a read buffer of `buffer` bytes.
    pub(crate) fn connect(addr: SocketAddr, buffer: usize) -> io::Result<Connection> {
        Ok(Connection {
            reader: BufReader::with_capacity(buffer, Transport::Plain(tcp(addr)?)),
        })
    }

    /// Connects to `addr` over TLS with `config`, the server named by its
    /// IP address, with a read buffer of `buffer` bytes. The handshake runs
    /// with the first write (or read), and its errors come from there.
    pub(crate) fn connect_tls(
        addr: SocketAddr,
        config: Arc<ClientConfig>,
        buffer: usize,
    ) -> io::Result<Connection> {
        let stream = tcp(addr)?;
        let tls = ClientConnection::new(config, ServerName::IpAddress(addr.ip().into()))
            .map_err(io::Error::other)?;
        let transport = Transport::Tls(Box::new(StreamOwned::new(tls, stream)));
        Ok(Connection {
            reader: BufReader::with_capacity(buffer, transport),
        })
    }

    /// The ALPN protocol the TLS handshake agreed, if any (`None` before
    /// the handshake and over TCP).
    pub(crate) fn alpn_protocol(&self) -> Option<Vec<u8>> {
        match self.reader.get_ref() {
            Transport::Plain(_) => None,
            Transport::Tls(stream) => stream.conn.alpn_protocol().map(<[u8]>::to_vec),
        }
    }

    /// Reads until the server closes the connection, and fails if it sent
    /// anything more or, over TLS, closed without `close_notify`.
    pub(crate) fn expect_close(&mut self) -> io::Result<()> {
        let mut byte = [0u8; 1];
        match self.reader.read(&mut byte)? {
            0 => Ok(()),
            _ => Err(invalid(
                "bytes after the response on a `Connection: close` connection",
            )),
        }
    }

    /// Writes `bytes` (a request head, or part of a body).
    pub(crate) fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        let transport = self.reader.get_mut();
        transport.write_all(bytes)?;
        // Sends rustls's pending records; nothing over TCP.
        transport.flush()
    }

    /// Sends `GET path` and returns the status and the body (at most 1 MiB).
    pub(crate) fn get(&mut self, path: &str) -> io::Result<(u16, Vec<u8>)> {
        self.request(&format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"))
    }

    /// Sends `GET path` with `Connection: close` and returns the status
    /// and the body (at most 1 MiB); the server closes the connection
    /// after it (see [`Connection::expect_close`]).
    pub(crate) fn get_and_close(&mut self, path: &str) -> io::Result<(u16, Vec<u8>)> {
        self.request(&format!(
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        ))
    }

    fn request(&mut self, head: &str) -> io::Result<(u16, Vec<u8>)> {
        self.write_all(head.as_bytes())?;
        let head = self.read_head()?;
        let body = self.read_body(head)?;
        Ok((head.status, body))
    }

    /// Reads a response head.
    pub(crate) fn read_head(&mut self) -> io::Result<Head> {
        let mut line = String::new();
        let mut read = 0;
        let mut head = Head {
            status: 0,
            content_length: None,
            chunked: false,
        };
        let mut first = true;
        loop {
            line.clear();
            let n = self.reader.read_line(&mut line)?;
            if n == 0 {
                return Err(invalid(
                    "the connection closed before the response head ended",
                ));
            }
            read += n;
            if read > MAX_HEAD {
                return Err(invalid("response head too large"));
            }
            let trimmed = line.trim_end();
            if first {
                first = false;
                head.status = trimmed
                    .split(' ')
                    .nth(1)
                    .and_then(|code| code.parse().ok())
                    .ok_or_else(|| invalid(format!("bad status line `{trimmed}`")))?;
                continue;
            }
            if trimmed.is_empty() {
                if (100..200).contains(&head.status) {
                    // An interim response: the final one follows.
                    first = true;
                    continue;
                }
                return Ok(head);
            }
            if let Some((name, value)) = trimmed.split_once(':') {
                let value = value.trim();
                if name.eq_ignore_ascii_case("content-length") {
                    head.content_length = Some(
                        value
                            .parse()
                            .map_err(|_| invalid(format!("bad Content-Length `{value}`")))?,
                    );
                } else if name.eq_ignore_ascii_case("transfer-encoding") {
                    head.chunked = value.to_ascii_lowercase().contains("chunked");
                }
            }
        }
    }

    /// Reads a body of at most 1 MiB into memory.
    pub(crate) fn read_body(&mut self, head: Head) -> io::Result<Vec<u8>> {
        let mut body = Vec::new();
        self.body(head, |chunk| {
            if body.len() as u64 + chunk.len() as u64 > MAX_BODY {
                return Err(invalid("response body larger than 1 MiB"));
            }
            body.extend_from_slice(chunk);
            Ok(())
        })?;
        Ok(body)
    }

    /// Reads a body of any size, discarding it, and returns its length.
    pub(crate) fn discard_body(&mut self, head: Head) -> io::Result<u64> {
        self.body(head, |_| Ok(()))
    }

    /// Reads the body that `head` frames, passing each piece to `sink`, and
    /// returns its length.
    fn body(
        &mut self,
        head: Head,
        mut sink: impl FnMut(&[u8]) -> io::Result<()>,
    ) -> io::Result<u64> {
        if head.chunked {
            let mut total = 0;
            let mut line = String::new();
            loop {
                line.clear();
                self.read_short_line(&mut line)?;
                let size = line.trim_end().split(';').next().unwrap_or("");
                let size = u64::from_str_radix(size.trim(), 16)
                    .map_err(|_| invalid(format!("bad chunk size `{}`", line.trim_end())))?;
                if size == 0 {
                    // Trailers, if any, then the empty line.
                    loop {
                        line.clear();
                        self.read_short_line(&mut line)?;
                        if line.trim_end().is_empty() {
                            return Ok(total);
                        }
                    }
                }
                self.exact(size, &mut sink)?;
                total += size;
                line.clear();
                self.read_short_line(&mut line)?;
                if !line.trim_end().is_empty() {
                    return Err(invalid("chunk data not followed by CRLF"));
                }
            }
        } else if let Some(length) = head.content_length {
            self.exact(length, &mut sink)?;
            Ok(length)
        } else {
            Err(invalid(
                "a response without Content-Length or chunked framing",
            ))
        }
    }

    /// Passes exactly `length` bytes of the stream to `sink`.
    fn exact(
        &mut self,
        mut length: u64,
        sink: &mut impl FnMut(&[u8]) -> io::Result<()>,
    ) -> io::Result<()> {
        while length > 0 {
            let available = self.reader.fill_buf()?;
            if available.is_empty() {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the connection closed in the middle of a body",
                ));
            }
            let n = available
                .len()
                .min(usize::try_from(length).unwrap_or(usize::MAX));
            sink(&available[..n])?;
            self.reader.consume(n);
            length -= n as u64;
        }
        Ok(())
    }

    /// Reads one line of at most 4 KiB.
    fn read_short_line(&mut self, line: &mut String) -> io::Result<()> {
        let n = (&mut self.reader).take(4096).read_line(line)?;
        if n == 0 || !line.ends_with('\n') {
            return Err(invalid("the connection closed or sent a line too long"));
        }
        Ok(())
    }
}

/// A TCP connection to `addr` with `TCP_NODELAY` and the I/O timeouts.
fn tcp(addr: SocketAddr) -> io::Result<TcpStream> {
    let stream = TcpStream::connect_timeout(&addr, IO_TIMEOUT)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    Ok(stream)
}

fn invalid(message: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.into())
}
