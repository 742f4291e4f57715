//! How the CLI prints: lines for people on a terminal, NDJSON for programs
//! (`--json`, or whenever stdout is not a terminal). Colour only on a terminal
//! and never with `NO_COLOR`. Status lines go to stderr.

use std::io::{IsTerminal, Write};

use serde::Serialize;

#[derive(Debug, Clone, Copy)]
pub struct Output {
    pub json: bool,
    pub color: bool,
    pub terminal: bool,
}

impl Output {
    pub fn new(json_flag: bool) -> Self {
        let terminal = std::io::stdout().is_terminal();
        let color = terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        Self { json: json_flag || !terminal, color, terminal }
    }

    /// One NDJSON line.
    pub fn json<T: Serialize>(&self, value: &T) {
        let mut out = std::io::stdout().lock();
        if serde_json::to_writer(&mut out, value).is_ok() {
            let _ = writeln!(out);
            let _ = out.flush();
        }
    }

    /// One human line.
    pub fn line(&self, text: &str) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{text}");
        let _ = out.flush();
    }

    pub fn paint(&self, text: &str, ansi: &str) -> String {
        if self.color {
            format!("\x1b[{ansi}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }

    pub fn dim(&self, text: &str) -> String {
        self.paint(text, "2")
    }

    pub fn bold(&self, text: &str) -> String {
        self.paint(text, "1")
    }

    /// The terminal bell, for people only.
    pub fn bell(&self) {
        if self.terminal && !self.json {
            let mut out = std::io::stdout().lock();
            let _ = write!(out, "\x07");
            let _ = out.flush();
        }
    }
}

/// Quiet hours in a few words, e.g. `on, 22:00-07:00 Europe/Paris, urgent notifications pass`.
pub fn describe_quiet(q: &solo_domain::QuietHours) -> String {
    if !q.enabled {
        return "off".to_owned();
    }
    let urgent = if q.allow_urgent { ", urgent notifications pass" } else { "" };
    format!("on, {}-{} {}{urgent}", q.start, q.end, q.timezone)
}

/// A local `HH:MM` for an RFC 3339 timestamp.
pub fn local_time(rfc3339: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .map(|t| t.with_timezone(&chrono::Local).format("%H:%M").to_string())
        .unwrap_or_default()
}
