//! The TypeScript types of the API and the events, generated from the Rust
//! types (never written twice by hand), for the package
//! `packages/domain-schema` that the web UI and other apps import. Its
//! `src/index.ts` is the output, beside `events.schema.json` (`event_schema.rs`);
//! a test fails when either is stale, and
//! `SOLO_UPDATE_TYPESCRIPT=1 cargo test -p solo-server typescript` rewrites both.

use ts_rs::{Config, TS};

use crate::routes::{
    auth, community, events, explain, inbox_state, mission_rules, missions, notification_history, notifications,
    tokens, workspaces, workstations,
};

fn declare<T: TS>(cfg: &Config, out: &mut String) {
    out.push_str("export ");
    out.push_str(&T::decl(cfg));
    out.push_str("\n\n");
}

/// Every exported type, in one module.
pub fn declarations() -> String {
    // JSON numbers are JavaScript numbers: our integers stay far below 2^53.
    let cfg = Config::new().with_large_int("number");
    let mut out = String::from(
        "// Generated from the server's Rust types by `crates/solo-server/src/typescript.rs`.\n\
         // Do not edit: run `SOLO_UPDATE_TYPESCRIPT=1 cargo test -p solo-server typescript`.\n\n",
    );
    macro_rules! all {
        ($($t:ty),* $(,)?) => { $( declare::<$t>(&cfg, &mut out); )* };
    }
    use solo_domain::config::WorkspaceConfigChanged;
    use solo_domain::event::{Actor, AgentState, EventEnvelope, EventPayload, ServerPublication, Subject, SubjectKind};
    use solo_domain::notification::{
        ByCategory, CategorySurfaces, InboxReadAll, MissionRule, NotificationChanged, NotificationView,
        PreferencesChanged, Surfaces, UnreadCounts,
    };
    use solo_domain::*;
    all!(
        UserId,
        WorkspaceId,
        MissionId,
        WorkstationId,
        ReviewId,
        FallbackId,
        PostId,
        TokenId,
        NotificationId,
        Stage,
        ReviewDecision,
        WorkstationStatus,
        AgentStatus,
        Category,
        Severity,
        QuietHours,
        Actor,
        SubjectKind,
        Subject,
        AgentState,
        EventPayload,
        EventEnvelope,
        NotificationView,
        ByCategory,
        UnreadCounts,
        NotificationChanged,
        MissionRule,
        Surfaces,
        CategorySurfaces,
        PreferencesChanged,
        InboxReadAll,
        WorkspaceConfig,
        WorkspaceConfigChanged,
        ServerPublication,
        crate::error::ErrorBody,
        auth::LoginRequest,
        auth::WorkspaceView,
        auth::Me,
        auth::LoginResponse,
        tokens::CreateToken,
        tokens::TokenView,
        tokens::TokenList,
        tokens::CreatedToken,
        missions::CreateMission,
        missions::ChangeStage,
        missions::CreateReview,
        missions::CreateFallback,
        missions::MissionView,
        missions::MissionDetail,
        missions::MissionList,
        missions::ReviewView,
        missions::ReviewCreated,
        missions::FallbackView,
        missions::FallbackCreated,
        workstations::CreateWorkstation,
        workstations::Heartbeat,
        workstations::AgentView,
        workstations::WorkstationView,
        workstations::WorkstationList,
        workstations::WorkstationDetail,
        workstations::WorkstationCounts,
        workstations::AgentCounts,
        workstations::OnlineUser,
        workstations::PeopleOnline,
        workstations::PresenceSummary,
        workstations::PresenceList,
        community::CreatePost,
        community::PostView,
        community::PostList,
        events::HistoryEntry,
        events::EventsPage,
        notifications::CreateNotification,
        notifications::ReadAll,
        inbox_state::Snooze,
        explain::ExplainedEvent,
        explain::Explanation,
        explain::EventExplanation,
        mission_rules::SetMissionRule,
        notification_history::NotificationHistory,
        notifications::NotificationPage,
        notifications::ReadAllResult,
        notifications::Preferences,
        notifications::PreferencesView,
        workspaces::WorkspaceConfigView,
        crate::realtime::ConnectionToken,
    );
    out.truncate(out.trim_end().len());
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    fn package() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../packages/domain-schema")
    }

    /// Rewrites `file` with `fresh` under `SOLO_UPDATE_TYPESCRIPT`, else fails when they differ.
    fn current(file: &str, fresh: &str) {
        let path = package().join(file);
        if std::env::var_os("SOLO_UPDATE_TYPESCRIPT").is_some() {
            std::fs::write(&path, fresh).expect("write a generated file");
            return;
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == fresh,
            "packages/domain-schema/{file} is stale: run `SOLO_UPDATE_TYPESCRIPT=1 cargo test -p solo-server typescript` and commit it"
        );
    }

    #[test]
    fn typescript_types_are_current() {
        current("src/index.ts", &super::declarations());
    }

    #[test]
    fn typescript_package_event_schema_is_current() {
        current("events.schema.json", &crate::event_schema::document_text());
    }
}
