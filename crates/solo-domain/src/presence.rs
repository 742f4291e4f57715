//! Health of workstations and their agents, derived from heartbeats.

use serde::{Deserialize, Serialize};

/// A workstation is `online` while heartbeats arrive, `degraded` after a few
/// missed intervals and `offline` after more (thresholds are configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum WorkstationStatus {
    Online,
    Degraded,
    Offline,
}

impl WorkstationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            WorkstationStatus::Online => "online",
            WorkstationStatus::Degraded => "degraded",
            WorkstationStatus::Offline => "offline",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [Self::Online, Self::Degraded, Self::Offline].into_iter().find(|s| s.as_str() == value)
    }

    /// The status a workstation should have given how many heartbeat
    /// intervals have passed since its last heartbeat.
    pub fn from_missed_intervals(missed: u64, degraded_after: u64, offline_after: u64) -> Self {
        if missed >= offline_after {
            WorkstationStatus::Offline
        } else if missed >= degraded_after {
            WorkstationStatus::Degraded
        } else {
            WorkstationStatus::Online
        }
    }
}

/// What an agent on a workstation reports doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum AgentStatus {
    Idle,
    Working,
    WaitingReview,
    Error,
}

impl AgentStatus {
    pub const ALL: [AgentStatus; 4] = [Self::Idle, Self::Working, Self::WaitingReview, Self::Error];

    pub fn as_str(self) -> &'static str {
        match self {
            AgentStatus::Idle => "idle",
            AgentStatus::Working => "working",
            AgentStatus::WaitingReview => "waiting_review",
            AgentStatus::Error => "error",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds() {
        assert_eq!(WorkstationStatus::from_missed_intervals(1, 2, 3), WorkstationStatus::Online);
        assert_eq!(WorkstationStatus::from_missed_intervals(2, 2, 3), WorkstationStatus::Degraded);
        assert_eq!(WorkstationStatus::from_missed_intervals(3, 2, 3), WorkstationStatus::Offline);
        assert_eq!(WorkstationStatus::from_missed_intervals(99, 2, 3), WorkstationStatus::Offline);
    }
}
