//! The HTTP/1.1 clients: std `TcpStream`s on threads of the driver, never
//! on the adapter under test. Responses are read strictly: a head, then a
//! `Content-Length` body (the stress routes answer with one).

use std::io::{self, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// How long a client waits for a response, or for a write to go through.
pub(crate) const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// A complete response.
#[derive(Debug)]
pub(crate) struct Response {
    /// The status code.
    pub(crate) status: u16,
    /// The body.
    pub(crate) body: Vec<u8>,
    /// Whether the head said `Connection: close`.
    pub(crate) close: bool,
}

/// What reading one response gave.
#[derive(Debug)]
pub(crate) enum Read1 {
    /// A complete response.
    Full(Response),
    /// The connection ended (EOF or reset) before any response byte.
    Nothing,
    /// Some bytes, then the end: a truncated response.
    Partial,
    /// No byte within [`IO_TIMEOUT`].
    TimedOut,
}

/// Connects to `addr` with `TCP_NODELAY` and [`IO_TIMEOUT`] on reads and
/// writes.
pub(crate) fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
    let stream = TcpStream::connect_timeout(&addr, IO_TIMEOUT)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    Ok(stream)
}

/// The request head of `GET PATH`.
pub(crate) fn get_request(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: stress\r\n\r\n").into_bytes()
}

/// `GET PATH` on a fresh connection, closed afterwards.
///
/// # Errors
///
/// When the connection fails or the response is not complete.
pub(crate) fn get_once(addr: SocketAddr, path: &str) -> io::Result<Response> {
    let mut stream = connect(addr)?;
    stream.write_all(&get_request(path))?;
    match read_response(&mut stream, &mut Vec::new()) {
        Read1::Full(response) => Ok(response),
        other => Err(io::Error::other(format!("GET {path}: {other:?}"))),
    }
}

/// Reads one response from `stream` (`buf` is scratch space).
pub(crate) fn read_response(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Read1 {
    buf.clear();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let status = head
                .get(9..12)
                .and_then(|s| s.parse::<u16>().ok())
                .unwrap_or(0);
            let length = head
                .lines()
                .find_map(|line| line.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            let close = head.lines().any(|line| line == "connection: close");
            let total = end + 4 + length;
            while buf.len() < total {
                match stream.read(&mut chunk) {
                    Ok(0) | Err(_) => return Read1::Partial,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
            if buf.len() != total {
                // Bytes after the body: nothing was pipelined, so the
                // framing is wrong.
                return Read1::Partial;
            }
            return Read1::Full(Response {
                status,
                body: buf[end + 4..].to_vec(),
                close,
            });
        }
        match stream.read(&mut chunk) {
            Ok(0) if buf.is_empty() => return Read1::Nothing,
            Ok(0) => return Read1::Partial,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(error)
                if buf.is_empty()
                    && matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) =>
            {
                return Read1::TimedOut
            }
            Err(_) if buf.is_empty() => return Read1::Nothing,
            Err(_) => return Read1::Partial,
        }
    }
}

/// The `q` quantile (0 to 1) of `samples` (sorted here), or zero
/// (`T::default()`) when empty.
pub(crate) fn quantile<T: Ord + Copy + Default>(samples: &mut [T], q: f64) -> T {
    if samples.is_empty() {
        return T::default();
    }
    samples.sort_unstable();
    let index = ((samples.len() - 1) as f64 * q).round() as usize;
    samples[index.min(samples.len() - 1)]
}

/// Sets `SO_LINGER` to zero, so that closing `stream` resets the
/// connection (RST) instead of closing it (FIN).
pub(crate) fn reset_on_close(stream: &TcpStream) -> io::Result<()> {
    socket2::SockRef::from(stream).set_linger(Some(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles() {
        let mut samples: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        samples.reverse();
        assert_eq!(quantile(&mut samples, 0.5), Duration::from_millis(51));
        assert_eq!(quantile(&mut samples, 0.99), Duration::from_millis(99));
        assert_eq!(quantile::<Duration>(&mut [], 0.5), Duration::ZERO);
    }
}
