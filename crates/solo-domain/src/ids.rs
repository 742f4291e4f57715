//! Typed identifiers.
//!
//! Every entity id is a short prefix naming its kind followed by a UUIDv7 in
//! simple (hex) form, e.g. `m_0193f0c2a1b27c3d8e9f0a1b2c3d4e5f`. The prefix makes
//! logs and URLs self-explanatory; UUIDv7 keeps ids roughly time-ordered, which
//! keeps B-tree inserts cheap. Ids are parsed at the edge (path parameters,
//! channel names) so the rest of the code never sees a malformed one.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};
use thiserror::Error;

/// Why a string is not a valid id of the expected kind.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("`{value}` is not a valid {kind} id (expected `{prefix}` followed by 32 hex digits)")]
pub struct InvalidId {
    pub kind: &'static str,
    pub prefix: &'static str,
    pub value: String,
}

fn is_valid(prefix: &str, value: &str) -> bool {
    value.strip_prefix(prefix).is_some_and(|rest| rest.len() == 32 && rest.bytes().all(|b| b.is_ascii_hexdigit()))
}

macro_rules! prefixed_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal, $kind:literal, $pattern:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, utoipa::ToSchema, ts_rs::TS)]
        #[serde(transparent)]
        #[schema(value_type = String, pattern = $pattern, example = json!(concat!($prefix, "0193f0c2a1b27c3d8e9f0a1b2c3d4e5f")))]
        pub struct $name(String);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            /// A new, unique, time-ordered id.
            pub fn generate() -> Self {
                Self(format!("{}{}", $prefix, uuid::Uuid::now_v7().simple()))
            }

            /// Parses an id, checking its prefix and shape.
            pub fn parse(value: &str) -> Result<Self, InvalidId> {
                if is_valid($prefix, value) {
                    Ok(Self(value.to_ascii_lowercase()))
                } else {
                    Err(InvalidId { kind: $kind, prefix: $prefix, value: value.chars().take(80).collect() })
                }
            }

            /// Wraps a value read back from our own store, where it was validated on the way in.
            pub fn from_trusted(value: String) -> Self {
                Self(value)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = InvalidId;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let raw = String::deserialize(deserializer)?;
                Self::parse(&raw).map_err(serde::de::Error::custom)
            }
        }
    };
}

prefixed_id!(
    /// A person (or service account) that can log in or hold tokens.
    UserId, "u_", "user", "^u_[0-9a-fA-F]{32}$");
prefixed_id!(
    /// A workspace: the unit of membership and permission.
    WorkspaceId, "ws_", "workspace", "^ws_[0-9a-fA-F]{32}$");
prefixed_id!(
    /// A mission on the board.
    MissionId, "m_", "mission", "^m_[0-9a-fA-F]{32}$");
prefixed_id!(
    /// A workstation that runs agents.
    WorkstationId, "wk_", "workstation", "^wk_[0-9a-fA-F]{32}$");
prefixed_id!(
    /// A review decision on a mission.
    ReviewId, "r_", "review", "^r_[0-9a-fA-F]{32}$");
prefixed_id!(
    /// A fallback generated for a mission.
    FallbackId, "fb_", "fallback", "^fb_[0-9a-fA-F]{32}$");
prefixed_id!(
    /// A community post.
    PostId, "p_", "post", "^p_[0-9a-fA-F]{32}$");
prefixed_id!(
    /// A personal access token (its id, never its secret).
    TokenId, "pat_", "token", "^pat_[0-9a-fA-F]{32}$");
prefixed_id!(
    /// A notification in someone's inbox.
    NotificationId, "n_", "notification", "^n_[0-9a-fA-F]{32}$");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_parse_back() {
        let id = MissionId::generate();
        assert_eq!(MissionId::parse(id.as_str()), Ok(id.clone()));
        assert!(id.as_str().starts_with("m_"));
    }

    #[test]
    fn wrong_prefix_or_shape_is_rejected() {
        let user = UserId::generate();
        assert!(MissionId::parse(user.as_str()).is_err());
        assert!(MissionId::parse("m_123").is_err());
        assert!(MissionId::parse("m_zz93f0c2a1b27c3d8e9f0a1b2c3d4e5f").is_err());
        let err = MissionId::parse("nope").expect_err("not an id");
        assert_eq!(err.kind, "mission");
    }

    #[test]
    fn deserializing_validates() {
        let ok: Result<UserId, _> = serde_json::from_str("\"u_0193f0c2a1b27c3d8e9f0a1b2c3d4e5f\"");
        assert!(ok.is_ok());
        let bad: Result<UserId, _> = serde_json::from_str("\"m_0193f0c2a1b27c3d8e9f0a1b2c3d4e5f\"");
        assert!(bad.is_err());
    }
}
