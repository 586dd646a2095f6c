//! For the examples' tests: headless Chromium driven over the DevTools
//! protocol (a WebSocket, with the tungstenite client), to check pages in
//! a real browser. Every wait is bounded.
//!
//! Debian's package works as root with the flags used here (`apt-get
//! install chromium`); [`find_chromium`] says when it is missing.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tungstenite::client::IntoClientRequest;
use tungstenite::{Message, WebSocket};

/// How long Chromium may take to start, and a page to meet a condition.
pub const WAIT: Duration = Duration::from_secs(30);

/// Chromium's path: `$CHROMIUM`, else `chromium` or `chromium-browser` in
/// `/usr/bin`. `None` (with a line on standard error saying the test is
/// skipped and how to install it) when there is none.
///
/// # Panics
///
/// When there is none and `CI` is set: CI installs it (`.ci/run`), so a
/// missing browser there is a failure, not a skip.
pub fn find_chromium() -> Option<PathBuf> {
    let candidates = std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .into_iter()
        .chain(["/usr/bin/chromium", "/usr/bin/chromium-browser"].map(PathBuf::from));
    for candidate in candidates {
        if candidate.is_file() {
            return Some(candidate);
        }
    }
    if std::env::var_os("CI").is_some() {
        panic!("chromium is not installed, and CI must run the browser test (.ci/run installs it)");
    }
    eprintln!("skipped: chromium not found (install it with `apt-get install -y chromium`, or set CHROMIUM=PATH)");
    None
}

/// A headless Chromium with a fresh profile, in a process group of its
/// own, killed (the whole group) when dropped.
pub struct Browser {
    child: Child,
    devtools: SocketAddr,
    profile: PathBuf,
}

impl Browser {
    /// Starts Chromium at `path` with remote debugging on a free loopback
    /// port.
    ///
    /// # Panics
    ///
    /// If it does not start or does not print its DevTools address within
    /// [`WAIT`] (a test failure).
    pub fn launch(path: &std::path::Path) -> Browser {
        static LAUNCHED: AtomicUsize = AtomicUsize::new(0);
        let profile = std::env::temp_dir().join(format!(
            "albany-chromium-{}-{}",
            std::process::id(),
            LAUNCHED.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&profile);
        let mut child = Command::new(path)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", path.display()));
        // Chromium prints `DevTools listening on ws://127.0.0.1:PORT/...`;
        // the thread keeps draining its standard error afterwards.
        let stderr = child.stderr.take().expect("piped stderr");
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.split("DevTools listening on ws://").nth(1) {
                    let addr = rest.split('/').next().unwrap_or_default().to_owned();
                    let _ = sender.send(addr);
                }
            }
        });
        let mut browser = Browser {
            child,
            devtools: "127.0.0.1:0".parse().unwrap(),
            profile,
        };
        let addr = receiver
            .recv_timeout(WAIT)
            .unwrap_or_else(|_| panic!("chromium printed no DevTools address within {WAIT:?}"));
        browser.devtools = addr
            .parse()
            .unwrap_or_else(|e| panic!("DevTools address {addr:?}: {e}"));
        browser
    }

    /// Opens `url` in a new tab (`PUT /json/new`) and attaches to it.
    ///
    /// # Panics
    ///
    /// If DevTools refuses or the attach fails (a test failure).
    pub fn open(&self, url: &str) -> Tab {
        let request = format!(
            "PUT /json/new?{url} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.devtools
        );
        let response = crate::testing::exchange(self.devtools, request.as_bytes());
        assert_eq!(response.status(), 200, "PUT /json/new: {response:?}");
        let target: Value = serde_json::from_slice(&response.body).expect("DevTools JSON");
        let debugger = target["webSocketDebuggerUrl"]
            .as_str()
            .unwrap_or_else(|| panic!("no webSocketDebuggerUrl in {target}"));
        let stream = TcpStream::connect(self.devtools).expect("connecting to DevTools");
        stream.set_read_timeout(Some(WAIT)).unwrap();
        stream.set_write_timeout(Some(WAIT)).unwrap();
        let request = debugger.into_client_request().expect("a ws:// URL");
        let (socket, _) = tungstenite::client(request, stream).expect("the DevTools WebSocket");
        Tab { socket, next_id: 0 }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Its renderer and helper processes are in its process group.
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// One tab, attached over its DevTools WebSocket.
pub struct Tab {
    socket: WebSocket<TcpStream>,
    next_id: u64,
}

impl Tab {
    /// Evaluates the JavaScript `expression` in the page and returns its
    /// value (`Runtime.evaluate` with `returnByValue`).
    ///
    /// # Panics
    ///
    /// If DevTools does not answer within [`WAIT`] or the expression
    /// throws (a test failure).
    pub fn evaluate(&mut self, expression: &str) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let command = json!({
            "id": id,
            "method": "Runtime.evaluate",
            "params": { "expression": expression, "returnByValue": true },
        });
        self.socket
            .send(Message::text(command.to_string()))
            .expect("sending to DevTools");
        let deadline = Instant::now() + WAIT;
        while Instant::now() < deadline {
            let message = self.socket.read().expect("reading from DevTools");
            let Message::Text(text) = message else {
                continue;
            };
            let answer: Value = serde_json::from_str(text.as_str()).expect("DevTools JSON");
            if answer["id"].as_u64() != Some(id) {
                continue; // an event
            }
            if let Some(exception) = answer["result"].get("exceptionDetails") {
                panic!("{expression} threw: {exception}");
            }
            return answer["result"]["result"]["value"].clone();
        }
        panic!("no answer from DevTools within {WAIT:?}");
    }

    /// Waits (every 100 ms, at most [`WAIT`]) until `expression` evaluates
    /// to the string `expected`.
    ///
    /// # Panics
    ///
    /// If it does not in time (a test failure).
    pub fn wait_for(&mut self, expression: &str, expected: &str) {
        self.wait_until(expression, |value| value == expected);
    }

    /// Waits (every 100 ms, at most [`WAIT`]) until `expression` evaluates
    /// to a string that `condition` accepts.
    ///
    /// # Panics
    ///
    /// If it does not in time (a test failure).
    pub fn wait_until(&mut self, expression: &str, condition: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + WAIT;
        let mut last = Value::Null;
        while Instant::now() < deadline {
            last = self.evaluate(expression);
            if last.as_str().is_some_and(&condition) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("{expression} was still {last} after {WAIT:?}");
    }
}
