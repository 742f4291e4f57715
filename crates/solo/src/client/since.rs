//! `--since`: where a watch starts in a channel's history.

use std::str::FromStr;

/// The point in a channel's history a watch replays from, before following it live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Since {
    /// Publications after this stream offset (`0`: everything kept).
    Offset(u64),
    /// Events committed in the last this many milliseconds (`90s`, `15m`, `2h`, `1d`).
    Within(u64),
    /// Events after the one with this id: an event id (UUID), or a notification
    /// id (`n_…`) standing for the event that created it.
    After(String),
}

/// Why a `--since` value was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "`{0}` is not a starting point: use an offset (42), a duration (90s, 15m, 2h, 1d) or an event or notification id"
)]
pub struct BadSince(String);

fn is_hex(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// An event id: a UUID in its hyphenated form.
fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5 && groups.iter().zip([8, 4, 4, 4, 12]).all(|(g, n)| g.len() == n && is_hex(g))
}

impl FromStr for Since {
    type Err = BadSince;

    fn from_str(raw: &str) -> Result<Self, BadSince> {
        let s = raw.trim();
        let bad = || BadSince(raw.chars().take(64).collect());
        if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
            return s.parse().map(Since::Offset).map_err(|_| bad());
        }
        if let Some(unit) = s.chars().last().filter(|c| matches!(c, 's' | 'm' | 'h' | 'd')) {
            let amount = &s[..s.len() - 1];
            if !amount.is_empty() && amount.bytes().all(|b| b.is_ascii_digit()) {
                let amount: u64 = amount.parse().map_err(|_| bad())?;
                let unit_ms: u64 = match unit {
                    's' => 1_000,
                    'm' => 60_000,
                    'h' => 3_600_000,
                    _ => 86_400_000,
                };
                return amount.checked_mul(unit_ms).filter(|ms| *ms > 0).map(Since::Within).ok_or_else(bad);
            }
        }
        if is_uuid(s) || s.strip_prefix("n_").is_some_and(|hex| hex.len() == 32 && is_hex(hex)) {
            return Ok(Since::After(s.to_ascii_lowercase()));
        }
        Err(bad())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_durations_and_ids() {
        assert_eq!("42".parse(), Ok(Since::Offset(42)));
        assert_eq!("0".parse(), Ok(Since::Offset(0)));
        assert_eq!("90s".parse(), Ok(Since::Within(90_000)));
        assert_eq!("15m".parse(), Ok(Since::Within(900_000)));
        assert_eq!("2h".parse(), Ok(Since::Within(7_200_000)));
        assert_eq!("1d".parse(), Ok(Since::Within(86_400_000)));
        let event = "01935f1c-9e2b-7c3d-8e4f-0123456789ab";
        assert_eq!(event.parse(), Ok(Since::After(event.to_owned())));
        let notification = format!("n_{}", "0123456789abcdef".repeat(2));
        assert_eq!(notification.parse(), Ok(Since::After(notification.clone())));
    }

    #[test]
    fn refuses_what_is_none_of_them() {
        for bad in ["", "-5", "10x", "0s", "m", "yesterday", "n_xyz", "99999999999999999999", "999999999999999999d"] {
            assert!(bad.parse::<Since>().is_err(), "{bad}");
        }
    }
}
