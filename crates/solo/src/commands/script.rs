//! Scriptable watches: `--until EXPR`, `--timeout DURATION` and `--exec CMD`
//! on `solo notifications watch` and `solo missions watch`, so a script can
//! block on "mission X reached review" instead of polling.
//!
//! The watch exits 0 once an event meets the condition, and 124 when the
//! timeout passes first (as timeout(1) does); 4 stays authentication.

use std::io::Write;
use std::process::{Command, Stdio};
use std::str::FromStr;
use std::time::Duration;

use serde_json::Value;

/// `--until`: `field=value` conditions joined by `,`, all of which must hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Until(Vec<(String, String)>);

/// Why an `--until` value was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("`{0}` is not a condition: use field=value, several joined by `,` (e.g. stage=review or type=review.decided,decision=approved)")]
pub struct BadUntil(String);

impl FromStr for Until {
    type Err = BadUntil;

    fn from_str(raw: &str) -> Result<Self, BadUntil> {
        let bad = || BadUntil(raw.chars().take(64).collect());
        let mut conditions = Vec::new();
        for part in raw.split(',') {
            let (field, value) = part.split_once('=').ok_or_else(bad)?;
            let (field, value) = (field.trim(), value.trim());
            let valid_field = !field.is_empty()
                && field.split('.').all(|s| !s.is_empty())
                && field.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.');
            if !valid_field || value.is_empty() {
                return Err(bad());
            }
            conditions.push((field.to_owned(), value.to_owned()));
        }
        Ok(Until(conditions))
    }
}

/// A JSON value as the text a condition compares with (strings unquoted).
fn as_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A field of `object` by name, with `.` to reach into nested objects.
fn lookup<'a>(object: &'a Value, field: &str) -> &'a Value {
    field.split('.').fold(object, |v, key| &v[key])
}

impl Until {
    /// Whether every condition holds: `type` against `kind`, every other field
    /// against `fields` (an event's `data`, or a notification).
    pub fn holds(&self, kind: Option<&str>, fields: &Value) -> bool {
        self.0.iter().all(|(field, expected)| {
            if field == "type" {
                kind == Some(expected.as_str())
            } else {
                as_text(lookup(fields, field)).as_deref() == Some(expected.as_str())
            }
        })
    }
}

/// `--timeout`: a duration such as `30s`, `15m`, `2h` or `1d` (a bare number is seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeout(pub Duration);

/// Why a `--timeout` value was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("`{0}` is not a duration: use e.g. 30s, 15m, 2h or 1d")]
pub struct BadTimeout(String);

impl FromStr for Timeout {
    type Err = BadTimeout;

    fn from_str(raw: &str) -> Result<Self, BadTimeout> {
        let s = raw.trim();
        let bad = || BadTimeout(raw.chars().take(64).collect());
        let (amount, unit_secs) = match s.chars().last() {
            Some('s') => (&s[..s.len() - 1], 1),
            Some('m') => (&s[..s.len() - 1], 60),
            Some('h') => (&s[..s.len() - 1], 3_600),
            Some('d') => (&s[..s.len() - 1], 86_400),
            _ => (s, 1),
        };
        if amount.is_empty() || !amount.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let amount: u64 = amount.parse().map_err(|_| bad())?;
        amount
            .checked_mul(unit_secs)
            .filter(|secs| *secs > 0 && *secs <= 366 * 86_400)
            .map(|secs| Timeout(Duration::from_secs(secs)))
            .ok_or_else(bad)
    }
}

/// The watch's `--timeout` passed before its `--until` condition was met: exit 124.
#[derive(Debug, thiserror::Error)]
#[error("timed out after {}s", .0.as_secs())]
pub struct TimedOut(pub Duration);

/// The `--until` condition was met: the watch ends successfully.
#[derive(Debug, thiserror::Error)]
#[error("condition met")]
struct ConditionMet;

/// What a watch does besides printing, from its `--until`, `--timeout` and `--exec`.
#[derive(Debug, Clone, Default)]
pub struct Script {
    pub until: Option<Until>,
    pub timeout: Option<Timeout>,
    pub exec: Option<String>,
}

impl Script {
    /// Runs `--exec` with `shown` as JSON on its stdin, then ends the watch
    /// (an error [`Script::finish`] turns into success) when the condition holds.
    pub fn on_event(&self, shown: &Value, kind: Option<&str>, fields: &Value) -> anyhow::Result<()> {
        if let Some(command) = &self.exec {
            run_exec(command, shown)?;
        }
        if self.until.as_ref().is_some_and(|u| u.holds(kind, fields)) {
            return Err(ConditionMet.into());
        }
        Ok(())
    }

    /// Ends the watch at once, as met, when the state it starts from already meets the condition.
    pub fn met_already(&self, kind: Option<&str>, fields: &Value) -> bool {
        self.until.as_ref().is_some_and(|u| u.holds(kind, fields))
    }

    /// Runs a watch under the timeout; a met condition is success.
    pub async fn finish(&self, watch: impl std::future::Future<Output = anyhow::Result<()>>) -> anyhow::Result<()> {
        let ended = match self.timeout {
            Some(Timeout(limit)) => match tokio::time::timeout(limit, watch).await {
                Ok(ended) => ended,
                Err(_) => return Err(TimedOut(limit).into()),
            },
            None => watch.await,
        };
        match ended {
            Err(e) if e.downcast_ref::<ConditionMet>().is_some() => Ok(()),
            other => other,
        }
    }
}

/// Runs `command` with the shell, `event` as one JSON line on its stdin, and
/// waits for it (so commands run one at a time, in the order of the events).
/// A command that fails is reported on stderr; the watch goes on.
fn run_exec(command: &str, event: &Value) -> anyhow::Result<()> {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(command)
        .stdin(Stdio::piped())
        .spawn()
        .map_err(|e| anyhow::anyhow!("cannot run --exec command: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A command that does not read its input closes the pipe early: not an error.
        let _ = writeln!(stdin, "{event}");
    }
    let status = child.wait().map_err(|e| anyhow::anyhow!("--exec command: {e}"))?;
    if !status.success() {
        eprintln!("--exec command failed ({status})");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn conditions_match_the_type_and_fields_of_data() {
        let until: Until = "type=mission.stage_changed, to=review".parse().expect("parses");
        let data = json!({ "from": "build", "to": "review", "version": 3 });
        assert!(until.holds(Some("mission.stage_changed"), &data));
        assert!(!until.holds(Some("review.decided"), &data), "every condition must hold");
        assert!(!until.holds(Some("mission.stage_changed"), &json!({ "to": "build" })));
        let numeric: Until = "version=3".parse().expect("parses");
        assert!(numeric.holds(None, &data), "numbers compare as their text");
        let nested: Until = "notification.category=missions".parse().expect("parses");
        assert!(nested.holds(None, &json!({ "notification": { "category": "missions" } })));
        assert!(!nested.holds(None, &json!({ "notification": null })));
    }

    #[test]
    fn malformed_conditions_are_refused() {
        for bad in ["", "stage", "=review", "stage=", "stage=review,", "a..b=1", "st age=x", "a=1,,b=2"] {
            assert!(bad.parse::<Until>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn timeouts_are_durations() {
        assert_eq!("30s".parse(), Ok(Timeout(Duration::from_secs(30))));
        assert_eq!("5".parse(), Ok(Timeout(Duration::from_secs(5))));
        assert_eq!("2m".parse(), Ok(Timeout(Duration::from_secs(120))));
        assert_eq!("1d".parse(), Ok(Timeout(Duration::from_secs(86_400))));
        for bad in ["", "0s", "-1s", "1w", "s", "9999999999999999999d", "1.5s"] {
            assert!(bad.parse::<Timeout>().is_err(), "{bad:?}");
        }
    }

    #[tokio::test]
    async fn a_met_condition_is_success_and_a_timeout_is_its_own_error() {
        let script = Script { until: Some("to=review".parse().expect("until")), ..Script::default() };
        let met = script.finish(async {
            script.on_event(&json!({}), None, &json!({ "to": "build" }))?;
            script.on_event(&json!({}), None, &json!({ "to": "review" }))?;
            anyhow::bail!("the watch went on past the condition")
        });
        assert!(met.await.is_ok());
        let script = Script { timeout: Some(Timeout(Duration::from_millis(10))), ..Script::default() };
        let err = script.finish(std::future::pending()).await.expect_err("times out");
        assert!(err.downcast_ref::<TimedOut>().is_some());
        let failing = Script::default().finish(async { anyhow::bail!("boom") }).await;
        assert_eq!(failing.map_err(|e| e.to_string()), Err("boom".to_owned()));
    }
}
