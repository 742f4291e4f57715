//! Missions move through stages; reviews decide on their work.

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// A mission's stage on the board: `backlog → spec → build → review → done`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema, ts_rs::TS,
)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Backlog,
    Spec,
    Build,
    Review,
    Done,
}

/// A stage change the board does not allow.
#[derive(Debug, Error, PartialEq, Eq)]
#[error(
    "a mission cannot move from `{from}` to `{to}`: it may advance one stage at a time or go back to any earlier stage"
)]
pub struct InvalidTransition {
    pub from: Stage,
    pub to: Stage,
}

impl Stage {
    pub const ALL: [Stage; 5] = [Stage::Backlog, Stage::Spec, Stage::Build, Stage::Review, Stage::Done];

    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Backlog => "backlog",
            Stage::Spec => "spec",
            Stage::Build => "build",
            Stage::Review => "review",
            Stage::Done => "done",
        }
    }

    pub fn parse(value: &str) -> Option<Stage> {
        Stage::ALL.into_iter().find(|s| s.as_str() == value)
    }

    fn index(self) -> usize {
        self as usize
    }

    /// The board's rule: advance exactly one stage, or send work back to any
    /// earlier stage (a review that asks for changes goes back to `build`).
    /// Skipping ahead and "moving" to the same stage are refused, so every
    /// accepted change is a real change with its own event.
    pub fn transition_to(self, to: Stage) -> Result<Stage, InvalidTransition> {
        if to.index() == self.index() + 1 || to.index() < self.index() {
            Ok(to)
        } else {
            Err(InvalidTransition { from: self, to })
        }
    }
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The outcome of a review of a mission's work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum ReviewDecision {
    Approved,
    ChangesRequested,
    Rejected,
}

impl ReviewDecision {
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewDecision::Approved => "approved",
            ReviewDecision::ChangesRequested => "changes_requested",
            ReviewDecision::Rejected => "rejected",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [Self::Approved, Self::ChangesRequested, Self::Rejected].into_iter().find(|d| d.as_str() == value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forward_one_or_back_any() {
        assert!(Stage::Backlog.transition_to(Stage::Spec).is_ok());
        assert!(Stage::Review.transition_to(Stage::Build).is_ok());
        assert!(Stage::Done.transition_to(Stage::Backlog).is_ok());
        assert!(Stage::Backlog.transition_to(Stage::Build).is_err());
        assert!(Stage::Build.transition_to(Stage::Build).is_err());
        assert!(Stage::Done.transition_to(Stage::Done).is_err());
    }

    #[test]
    fn names_round_trip() {
        for s in Stage::ALL {
            assert_eq!(Stage::parse(s.as_str()), Some(s));
        }
        assert_eq!(Stage::parse("shipped"), None);
    }
}
