//! Replays the committed corpus of every fuzz target (`fuzz/corpus/<target>/`)
//! through its function: what the fuzzer found once stays fixed.

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

/// Every corpus file of `target`, run through its function; the folder
/// must hold at least one file.
fn replay(target: &str) {
    let (_, run) = albany_fuzz::TARGETS
        .iter()
        .find(|(name, _)| *name == target)
        .expect("a known target");
    let folder = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target);
    let mut files: Vec<_> = fs::read_dir(&folder)
        .unwrap_or_else(|error| panic!("{}: {error}", folder.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} holds no input", folder.display());
    let started = Instant::now();
    for file in &files {
        let input = fs::read(file).expect("a readable corpus file");
        run(&input);
    }
    // Bounded: a few hundred small inputs take well under a second each.
    assert!(
        started.elapsed() < Duration::from_secs(120),
        "{target}: {} inputs took {:?}",
        files.len(),
        started.elapsed()
    );
}

#[test]
fn body_ops() {
    replay("body_ops");
}

#[test]
fn validator() {
    replay("validator");
}

#[test]
fn h1_connection() {
    replay("h1_connection");
}

#[test]
fn h2_connection() {
    replay("h2_connection");
}

/// Every corpus folder belongs to a target, and every target has one.
#[test]
fn corpus_folders_match_the_targets() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let mut folders: Vec<String> = fs::read_dir(&corpus)
        .expect("fuzz/corpus")
        .map(|entry| {
            entry
                .expect("an entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    folders.sort();
    let mut targets: Vec<String> = albany_fuzz::TARGETS
        .iter()
        .map(|(name, _)| (*name).to_owned())
        .collect();
    targets.sort();
    assert_eq!(folders, targets);
}
