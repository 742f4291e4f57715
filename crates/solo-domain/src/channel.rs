//! Realtime channel names.
//!
//! A channel is `namespace:id`. The product's namespaces are fixed by its
//! design: who may subscribe to each is decided by the server from the store,
//! never from anything the client claims. Any other namespace belongs to an
//! integrator ([`Channel::Integration`]): the server API publishes into it, and
//! a client reads it only with a subscription token the integrator signed.

use std::fmt;

use thiserror::Error;

use crate::ids::{InvalidId, MissionId, UserId, WorkspaceId, WorkstationId};

/// A parsed channel name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Channel {
    /// Board-level feed of one workspace, and the presence of who is online in it.
    Workspace(WorkspaceId),
    /// Everything about one mission.
    Mission(MissionId),
    /// Heartbeats, status and agents of one workstation.
    Workstation(WorkstationId),
    /// One user's notifications and unread counts.
    Notifications(UserId),
    /// A channel of an integrator's own namespace (its whole name): published
    /// by the server API, read with a subscription token only.
    Integration(String),
}

/// Why a channel name was refused.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ChannelError {
    #[error("unknown channel namespace in `{0}`")]
    UnknownNamespace(String),
    #[error(transparent)]
    InvalidId(#[from] InvalidId),
    #[error("`{0}` is not a channel name: `namespace:name`, letters, digits and `_-.:@=`")]
    Malformed(String),
}

/// The product's own namespaces, never an integrator's.
const PRODUCT_NAMESPACES: [&str; 4] = ["workspace", "mission", "workstation", "notifications"];

impl Channel {
    /// Longest channel name accepted; anything longer is refused before parsing.
    pub const MAX_LEN: usize = 128;

    pub fn parse(name: &str) -> Result<Self, ChannelError> {
        if name.len() > Self::MAX_LEN {
            return Err(ChannelError::UnknownNamespace(name.chars().take(64).collect()));
        }
        let (namespace, id) = name.split_once(':').ok_or_else(|| ChannelError::UnknownNamespace(name.to_owned()))?;
        Ok(match namespace {
            "workspace" => Channel::Workspace(WorkspaceId::parse(id)?),
            "mission" => Channel::Mission(MissionId::parse(id)?),
            "workstation" => Channel::Workstation(WorkstationId::parse(id)?),
            "notifications" => Channel::Notifications(UserId::parse(id)?),
            _ => return Err(ChannelError::UnknownNamespace(name.to_owned())),
        })
    }

    /// A product channel, or else an integrator's ([`Channel::Integration`]):
    /// for the places that accept both (the server API, a subscription token).
    pub fn parse_any(name: &str) -> Result<Self, ChannelError> {
        match Self::parse(name) {
            Err(ChannelError::UnknownNamespace(_)) => Self::integration(name),
            parsed => parsed,
        }
    }

    /// An integrator's channel: `namespace:name` in a namespace that is not the
    /// product's, both made of ASCII letters, digits and `_-.:@=`.
    pub fn integration(name: &str) -> Result<Self, ChannelError> {
        let malformed = || ChannelError::Malformed(name.chars().take(64).collect());
        if name.len() > Self::MAX_LEN {
            return Err(malformed());
        }
        let (namespace, rest) = name.split_once(':').ok_or_else(malformed)?;
        let allowed = |c: char| c.is_ascii_alphanumeric() || "_-.:@=".contains(c);
        if namespace.is_empty() || rest.is_empty() || !namespace.chars().chain(rest.chars()).all(allowed) {
            return Err(malformed());
        }
        if PRODUCT_NAMESPACES.contains(&namespace) {
            return Err(ChannelError::UnknownNamespace(name.to_owned()));
        }
        Ok(Channel::Integration(name.to_owned()))
    }

    pub fn namespace(&self) -> &'static str {
        match self {
            Channel::Workspace(_) => "workspace",
            Channel::Mission(_) => "mission",
            Channel::Workstation(_) => "workstation",
            Channel::Notifications(_) => "notifications",
            Channel::Integration(_) => "integration",
        }
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Channel::Workspace(id) => write!(f, "workspace:{id}"),
            Channel::Mission(id) => write!(f, "mission:{id}"),
            Channel::Workstation(id) => write!(f, "workstation:{id}"),
            Channel::Notifications(id) => write!(f, "notifications:{id}"),
            Channel::Integration(name) => f.write_str(name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let m = MissionId::generate();
        let ch = Channel::Mission(m.clone());
        assert_eq!(Channel::parse(&ch.to_string()), Ok(ch));
    }

    #[test]
    fn refuses_unknown_and_malformed() {
        assert!(matches!(Channel::parse("chat:x"), Err(ChannelError::UnknownNamespace(_))));
        assert!(matches!(Channel::parse("nocolon"), Err(ChannelError::UnknownNamespace(_))));
        assert!(matches!(
            Channel::parse("mission:u_0193f0c2a1b27c3d8e9f0a1b2c3d4e5f"),
            Err(ChannelError::InvalidId(_))
        ));
        assert!(Channel::parse(&"x".repeat(500)).is_err());
    }

    #[test]
    fn an_integrators_channel_is_any_other_namespace_and_never_the_products() {
        assert_eq!(Channel::parse_any("chat:room-1"), Ok(Channel::Integration("chat:room-1".into())));
        assert_eq!(
            Channel::parse_any("billing:acct@x=1:y.z").map(|c| c.to_string()),
            Ok("billing:acct@x=1:y.z".into())
        );
        let m = MissionId::generate();
        assert_eq!(Channel::parse_any(&format!("mission:{m}")), Ok(Channel::Mission(m)), "a product channel stays one");
        assert!(matches!(Channel::parse_any("mission:nope"), Err(ChannelError::InvalidId(_))), "not an integration");
        assert!(Channel::integration("mission:m_x").is_err(), "the product's namespaces are not for integrators");
        for bad in ["nocolon", ":x", "chat:", "chat:a b", "chat:a/b", "chät:x", &format!("chat:{}", "x".repeat(200))] {
            assert!(matches!(Channel::parse_any(bad), Err(ChannelError::Malformed(_))), "{bad}");
        }
        assert!(Channel::parse("chat:room-1").is_err(), "only where integrations are accepted");
    }
}
