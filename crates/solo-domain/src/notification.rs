//! Notification categories and severities, shared by the inbox, the web UI and the CLI.

use serde::{Deserialize, Serialize};

/// The inbox tab a notification belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Missions,
    Workstations,
    Community,
    System,
}

impl Category {
    pub const ALL: [Category; 4] = [Self::Missions, Self::Workstations, Self::Community, Self::System];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::Missions => "missions",
            Category::Workstations => "workstations",
            Category::Community => "community",
            Category::System => "system",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == value)
    }
}

/// How loudly a notification asks for attention. `urgent` may pass quiet hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Warning,
    Urgent,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Urgent => "urgent",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [Self::Info, Self::Warning, Self::Urgent].into_iter().find(|s| s.as_str() == value)
    }
}
