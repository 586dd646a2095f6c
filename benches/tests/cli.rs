//! The harness's three programs refuse bad command lines with their usage
//! and exit status 2, as their documentation says. Also makes `cargo test`
//! build the programs (in the test build's profile), which `.ci/run` then
//! runs in their quick modes without a build of their own.

use std::process::{Command, Output};

fn run(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|error| panic!("{program}: {error}"))
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn bench_server_without_arguments_prints_its_usage() {
    let output = run(env!("CARGO_BIN_EXE_bench-server"), &[]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("Usage: bench-server --server NAME"));
}

#[test]
fn bench_server_names_an_unknown_server() {
    let output = run(
        env!("CARGO_BIN_EXE_bench-server"),
        &[
            "--server",
            "no-such-server",
            "--threads",
            "1",
            "--addr",
            "127.0.0.1:1",
        ],
    );
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("no-such-server"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn the_drivers_refuse_an_unknown_option() {
    for program in [
        env!("CARGO_BIN_EXE_albany-bench"),
        env!("CARGO_BIN_EXE_albany-stress"),
    ] {
        let output = run(program, &["--no-such-option"]);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{program}: {}",
            stderr(&output)
        );
        assert!(
            stderr(&output).contains("--no-such-option"),
            "{program}: {}",
            stderr(&output)
        );
        assert!(
            stderr(&output).contains("Usage:"),
            "{program}: {}",
            stderr(&output)
        );
    }
}
