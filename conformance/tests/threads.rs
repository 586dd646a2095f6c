//! Spec IO-1: the runtime's I/O starts no threads of its own. async-process
//! starts a thread named `async-process` to reap children unless something
//! runs its driver; the async-io bindings (smol, async-std) run it as a task
//! on their executor. Checked in a process of its own (this test binary),
//! where no other test spawns children first.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use albany_conformance::app::{application, AppState};
use albany_conformance::{suite_settings, Target, ASYNC_STD, SMOL, TOKIO};

/// The names of this process's threads (Linux: `/proc/self/task/*/comm`).
fn thread_names() -> Vec<String> {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    tasks
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .map(|name| name.trim().to_owned())
        .collect()
}

#[test]
fn child_processes_are_reaped_without_a_thread_of_their_own() {
    if !std::path::Path::new("/proc/self/task").exists() {
        eprintln!("skipped: this system has no /proc/self/task to list threads");
        return;
    }
    let targets: [&dyn Target; 3] = [&TOKIO, &ASYNC_STD, &SMOL];
    for target in targets {
        let server = target
            .start(
                application(std::sync::Arc::new(AppState::default())),
                suite_settings(),
            )
            .unwrap();
        for _ in 0..3 {
            let mut stream = TcpStream::connect(server.addr()).unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            stream
                .write_all(b"GET /io/process?send=x HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                .unwrap();
            let mut response = String::new();
            stream.read_to_string(&mut response).unwrap();
            assert!(
                response.contains("status: 3"),
                "{}: {response}",
                target.name()
            );
        }
        let names = thread_names();
        assert!(
            !names.iter().any(|name| name == "async-process"),
            "{}: async-process started its own thread: {names:?}",
            target.name()
        );
        server.shutdown().unwrap();
    }
}
