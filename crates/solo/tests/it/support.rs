//! Running the `solo` binary from tests.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

pub const SOLO: &str = env!("CARGO_BIN_EXE_solo");

/// `solo` run in `dir`, with no database or address inherited from the environment.
pub fn solo(dir: &std::path::Path) -> Command {
    let mut command = Command::new(SOLO);
    command.current_dir(dir).env_remove("SOLO_DATABASE_URL").env_remove("SOLO_ADDR").env("NO_COLOR", "1");
    command
}

/// Starts `solo serve` on port 0 and returns the child and the address it bound.
pub fn serve(dir: &std::path::Path) -> (Child, String) {
    let (child, addr, _) = serve_with(dir, &[]);
    (child, addr)
}

/// Everything a server wrote to its log so far.
pub type Log = Arc<Mutex<String>>;

/// As [`serve`], with extra environment (`SOLO_*` settings), keeping the log.
pub fn serve_with(dir: &std::path::Path, env: &[(&str, &str)]) -> (Child, String, Log) {
    serve_at(dir, "127.0.0.1:0", env)
}

/// As [`serve_with`], on a given address (to restart a server where clients expect it).
pub fn serve_at(dir: &std::path::Path, addr: &str, env: &[(&str, &str)]) -> (Child, String, Log) {
    let mut command = solo(dir);
    command
        .args(["serve", "--addr", addr])
        .env("SOLO_LOG_FORMAT", "json")
        .envs(env.iter().copied())
        .stderr(Stdio::piped())
        .stdout(Stdio::null());
    let mut child = command.spawn().expect("solo serve starts");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    let log = Log::default();
    let keep = |line: &str| log.lock().unwrap_or_else(|p| p.into_inner()).push_str(&format!("{line}\n"));
    let addr = loop {
        let line = lines.next().expect("server logs its address before exiting").expect("log line");
        keep(&line);
        let Ok(entry) = serde_json::from_str::<serde_json::Value>(&line) else { continue };
        if entry["message"] == "solo is serving" {
            break entry["addr"].as_str().expect("addr field").to_owned();
        }
    };
    // Keep draining the log so the server never blocks on a full pipe.
    let kept = log.clone();
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            kept.lock().unwrap_or_else(|p| p.into_inner()).push_str(&format!("{line}\n"));
        }
    });
    (child, addr, log)
}
