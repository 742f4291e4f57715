//! Workspace settings: what a workspace's admins decide for all of its members.
//!
//! A workspace's settings are one small document (kept in the store's `config`
//! table under the scope `workspace:{id}`), versioned as a whole: every change
//! emits `config.updated` on `workspace:{id}` with the whole document as it now
//! is, so a client replaces what it holds rather than merging a difference.

use serde::{Deserialize, Serialize};

use crate::ids::WorkspaceId;
use crate::notification::QuietHours;

/// A workspace's settings. Every field is optional: unset means "not decided
/// by the workspace", and whatever comes next in the lookup applies.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema, ts_rs::TS)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WorkspaceConfig {
    /// Quiet hours of the members who set none of their own; null: the
    /// server's default (`SOLO_DEFAULT_QUIET_HOURS`) applies to them.
    #[serde(default)]
    pub default_quiet_hours: Option<QuietHours>,
}

/// Data of `config.updated`: a workspace's settings as they are after the
/// change (the event's `version` counts the workspace's setting changes, from 1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct WorkspaceConfigChanged {
    pub workspace_id: WorkspaceId,
    /// The whole document, not only what changed.
    pub config: WorkspaceConfig,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_document_is_all_unset_and_unknown_keys_are_refused() {
        let config: WorkspaceConfig = serde_json::from_str("{}").expect("empty");
        assert_eq!(config, WorkspaceConfig::default());
        let json = serde_json::to_value(&config).expect("serializes");
        assert_eq!(json, serde_json::json!({ "defaultQuietHours": null }));
        assert!(serde_json::from_str::<WorkspaceConfig>(r#"{"quietHours": null}"#).is_err());
    }
}
