//! Timestamps.
//!
//! The store keeps instants as Unix milliseconds (an integer sorts and compares
//! the same on SQLite and PostgreSQL); the wire shows them as RFC 3339 in UTC with
//! exactly three fractional digits, e.g. `2026-11-26T10:15:02.123Z`.

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};

/// Milliseconds since the Unix epoch, now. Read from the system clock
/// directly: the write path asks on every delivery, and a calendar date is
/// not needed to count milliseconds.
pub fn now_ms() -> i64 {
    match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        Ok(since) => i64::try_from(since.as_millis()).unwrap_or(i64::MAX),
        // A clock set before 1970.
        Err(before) => -i64::try_from(before.duration().as_millis()).unwrap_or(i64::MAX),
    }
}

/// Formats Unix milliseconds for the wire.
pub fn format_ms(ms: i64) -> String {
    Utc.timestamp_millis_opt(ms)
        .single()
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Parses an RFC 3339 timestamp into Unix milliseconds.
pub fn parse_rfc3339_ms(value: &str) -> Option<i64> {
    DateTime::parse_from_rfc3339(value).ok().map(|t| t.timestamp_millis())
}

/// Serde helpers for `i64` milliseconds shown as RFC 3339 strings.
pub mod serde_ms {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(ms: &i64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::format_ms(*ms))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        let raw = String::deserialize(d)?;
        super::parse_rfc3339_ms(&raw).ok_or_else(|| serde::de::Error::custom("expected an RFC 3339 timestamp"))
    }

    /// The same for optional timestamps (`null` when absent).
    pub mod option {
        use serde::{Deserialize, Deserializer, Serializer};

        pub fn serialize<S: Serializer>(ms: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
            match ms {
                Some(ms) => s.serialize_str(&super::super::format_ms(*ms)),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
            let raw = Option::<String>::deserialize(d)?;
            raw.map(|r| {
                super::super::parse_rfc3339_ms(&r)
                    .ok_or_else(|| serde::de::Error::custom("expected an RFC 3339 timestamp"))
            })
            .transpose()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_fraction_digits_and_z() {
        assert_eq!(format_ms(1_795_688_102_123), "2026-11-26T10:15:02.123Z");
        assert_eq!(parse_rfc3339_ms("2026-11-26T10:15:02.123Z"), Some(1_795_688_102_123));
    }
}
