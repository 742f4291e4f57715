//! Replays the committed fuzz corpus, and every input a fuzzer once broke a
//! property with (`fuzz/regressions/`), through the same property functions the
//! fuzz targets run, on the stable toolchain.

use std::path::PathBuf;

fn inputs(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let fuzz = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut found = Vec::new();
    for folder in ["corpus", "regressions"] {
        let Ok(entries) = std::fs::read_dir(fuzz.join(folder).join(target)) else { continue };
        for entry in entries {
            let path = entry.expect("corpus entry").path();
            let bytes = std::fs::read(&path).expect("read corpus file");
            found.push((path, bytes));
        }
    }
    found.sort();
    found
}

fn replay(target: &str, property: fn(&[u8])) {
    let inputs = inputs(target);
    assert!(inputs.len() >= 10, "the {target} corpus is committed ({} inputs found)", inputs.len());
    for (path, bytes) in inputs {
        if std::panic::catch_unwind(|| property(&bytes)).is_err() {
            panic!("{} breaks a property of `{target}`", path.display());
        }
    }
}

#[test]
fn frame_corpus_holds() {
    replay("frame", solo_server::fuzzing::frame);
}

#[test]
fn token_corpus_holds() {
    replay("token", solo_server::fuzzing::token);
}

#[test]
fn quiet_hours_corpus_holds() {
    replay("quiet_hours", solo_server::fuzzing::quiet_hours);
}

#[test]
fn websocket_corpus_holds() {
    replay("websocket", solo_server::fuzzing::websocket);
}
