//! Realtime channel names.
//!
//! A channel is `namespace:id`. The namespaces are fixed by the product design:
//! who may subscribe to each is decided by the server from the store, never from
//! anything the client claims.

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
}

/// Why a channel name was refused.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ChannelError {
    #[error("unknown channel namespace in `{0}`")]
    UnknownNamespace(String),
    #[error(transparent)]
    InvalidId(#[from] InvalidId),
}

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

    pub fn namespace(&self) -> &'static str {
        match self {
            Channel::Workspace(_) => "workspace",
            Channel::Mission(_) => "mission",
            Channel::Workstation(_) => "workstation",
            Channel::Notifications(_) => "notifications",
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
}
