//! The client subcommands: each talks to a running server with the saved login.

pub mod account;
pub mod boards;
pub mod community;
pub mod mission_detail;
pub mod notifications;
pub mod presence;
pub mod script;
pub mod workspace;

use clap::Subcommand;

#[derive(Subcommand)]
pub enum NotificationsCommand {
    /// Follow new notifications live (falls back to polling when the socket is down).
    Watch {
        /// Only this category: missions, workstations, community, system.
        #[arg(long)]
        category: Option<String>,
        /// First print what was missed since this point of your notification
        /// stream: an offset (42), a duration (90s, 15m, 2h, 1d) or the id of a
        /// notification or event; then follow live.
        #[arg(long)]
        since: Option<crate::client::since::Since>,
        #[command(flatten)]
        script: ScriptArgs,
    },
    /// List notifications, newest first.
    List {
        #[arg(long)]
        unread: bool,
        #[arg(long)]
        category: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: u32,
        /// Which part of the inbox: inbox (neither snoozed nor done), snoozed, done or all.
        #[arg(long, value_enum, default_value_t = ListState::Inbox)]
        state: ListState,
    },
    /// Snooze notifications: out of the inbox until then, then back unread (with a bell).
    #[command(group = clap::ArgGroup::new("when").required(true))]
    Snooze {
        #[arg(required = true)]
        ids: Vec<String>,
        /// For this long: 30m, 2h, 1d.
        #[arg(long = "for", value_name = "DURATION", group = "when")]
        duration: Option<script::Timeout>,
        /// Until this instant (RFC 3339, e.g. 2026-12-07T09:00:00+01:00).
        #[arg(long, value_name = "TIME", group = "when")]
        until: Option<String>,
    },
    /// End snoozes now: the notifications are back in the inbox, unread.
    Wake {
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Mark notifications done: out of the inbox, listed with `list --state done`.
    Done {
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Bring done notifications back into the inbox.
    Undone {
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Where a category's notifications show: toast (web), inbox (off: a
    /// rule's notifications of it are not created), cli (a watch prints them),
    /// e.g. `solo notifications surface workstations --toast off --cli off`.
    Surface {
        /// missions, workstations, community or system.
        category: String,
        #[arg(long, value_enum)]
        toast: Option<Switch>,
        #[arg(long, value_enum)]
        inbox: Option<Switch>,
        #[arg(long, value_enum)]
        cli: Option<Switch>,
    },
    /// Why you have a notification: the event that caused it, the rule that
    /// chose you, what your quiet hours decided, whether later events replaced
    /// it. With `--event EVENT_ID [--user NAME]`: what an event did for someone,
    /// and why it did not notify them when it did not.
    #[command(group = clap::ArgGroup::new("what").required(true))]
    Explain {
        #[arg(group = "what")]
        id: Option<String>,
        /// An event id, instead of a notification.
        #[arg(long, group = "what")]
        event: Option<String>,
        /// With --event: whose side (default: you; another member's needs a workspace admin).
        #[arg(long, requires = "event")]
        user: Option<String>,
    },
    /// What a notification showed, oldest first, before later events about the
    /// same mission or workstation replaced it (`updated ×N`).
    History { id: String },
    /// Mark notifications read.
    Read {
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Mark notifications unread.
    Unread {
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Mark everything (or one category) read.
    ReadAll {
        #[arg(long)]
        category: Option<String>,
    },
}

/// On or off, on the command line.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Switch {
    On,
    Off,
}

/// Which part of the inbox `notifications list` shows.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum ListState {
    Inbox,
    Snoozed,
    Done,
    All,
}

impl ListState {
    pub fn as_str(self) -> &'static str {
        match self {
            ListState::Inbox => "inbox",
            ListState::Snoozed => "snoozed",
            ListState::Done => "done",
            ListState::All => "all",
        }
    }
}

/// What a watch does for scripts: stop on a condition or a timeout, run a command per event.
#[derive(clap::Args, Clone)]
pub struct ScriptArgs {
    /// Exit 0 as soon as an event meets this condition: `field=value` matched
    /// against the event's `type` or a field of its data (`stage=review`,
    /// `type=review.decided`, `category=missions`); several joined by `,` must
    /// all match.
    #[arg(long, value_name = "EXPR")]
    until: Option<script::Until>,
    /// Exit 124 if the watch is still running after this long (30s, 15m, 2h, 1d).
    #[arg(long, value_name = "DURATION")]
    timeout: Option<script::Timeout>,
    /// Run this shell command for each event printed, with the event as one JSON line on its stdin.
    #[arg(long, value_name = "CMD")]
    exec: Option<String>,
}

impl ScriptArgs {
    pub fn script(self) -> script::Script {
        script::Script { until: self.until, timeout: self.timeout, exec: self.exec }
    }
}

#[derive(Subcommand)]
pub enum PresenceCommand {
    /// Follow workstation and agent status and who is online.
    Watch {
        /// Workspace slug or id (default: your only workspace).
        #[arg(long)]
        workspace: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum QuietHoursCommand {
    /// Show your quiet hours.
    Show,
    /// Set quiet hours, e.g. `solo quiet-hours set 22:00-07:00 --tz Europe/Paris`.
    Set {
        /// `HH:MM-HH:MM`, may cross midnight.
        window: String,
        /// IANA time zone (default: UTC).
        #[arg(long, default_value = "UTC")]
        tz: String,
        /// Let urgent notifications through.
        #[arg(long)]
        allow_urgent: bool,
    },
    /// Switch quiet hours off.
    Off,
}

#[derive(Subcommand)]
pub enum WorkspaceCommand {
    /// The workspace's settings: anyone may show them, its admins set them.
    Config {
        #[command(subcommand)]
        command: WorkspaceConfigCommand,
    },
}

#[derive(Subcommand)]
pub enum WorkspaceConfigCommand {
    /// Show the workspace's settings.
    Show {
        /// Workspace slug or id (default: your only workspace).
        #[arg(long)]
        workspace: Option<String>,
    },
    /// Set one setting (workspace admins only), e.g.
    /// `solo workspace config set default-quiet-hours 22:00-07:00 --tz Europe/Paris`.
    Set {
        key: ConfigKey,
        /// For `default-quiet-hours`: `HH:MM-HH:MM` (may cross midnight), `off`
        /// (members without their own have none) or `none` (unset: the server's default applies).
        value: String,
        /// IANA time zone of the window (default: UTC).
        #[arg(long, default_value = "UTC")]
        tz: String,
        /// Let urgent notifications through.
        #[arg(long)]
        allow_urgent: bool,
        /// Workspace slug or id (default: your only workspace).
        #[arg(long)]
        workspace: Option<String>,
    },
}

/// A workspace setting's name on the command line.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum ConfigKey {
    /// The quiet hours of members who set none of their own.
    DefaultQuietHours,
}

#[derive(Subcommand)]
pub enum TokensCommand {
    /// Create a personal access token (printed once).
    Create {
        name: String,
        #[arg(long, value_delimiter = ',')]
        scopes: Option<Vec<String>>,
        #[arg(long)]
        expires_in_days: Option<u32>,
    },
    /// List your tokens.
    List,
    /// Revoke a token by id.
    Revoke { id: String },
}

#[derive(Subcommand)]
pub enum MissionsCommand {
    /// List missions.
    List {
        #[arg(long)]
        stage: Option<String>,
    },
    /// Create a mission in backlog.
    Create {
        title: String,
        #[arg(long)]
        workspace: Option<String>,
    },
    /// Move a mission to a stage (backlog, spec, build, review, done).
    Stage { id: String, stage: String },
    /// Record a review decision (approved, changes_requested, rejected).
    Review {
        id: String,
        decision: String,
        #[arg(long)]
        comment: Option<String>,
    },
    /// Show one mission: stage, watchers, reviews and fallback generations.
    Show { id: String },
    /// Follow a mission's events live (stage changes, reviews, fallbacks, its agents).
    Watch {
        id: String,
        /// First print what was missed since this point of the mission's stream:
        /// an offset (42), a duration (90s, 15m, 2h, 1d) or an event id; then follow live.
        #[arg(long)]
        since: Option<crate::client::since::Since>,
        #[command(flatten)]
        script: ScriptArgs,
    },
    /// Record a fallback generation for a mission.
    Fallback {
        id: String,
        /// Why a fallback was needed, e.g. "agent crashed".
        #[arg(long)]
        reason: String,
        /// What the fallback plan is.
        #[arg(long)]
        summary: String,
    },
    /// Hear nothing of a mission (even as its owner), or only its urgent notifications.
    Mute {
        id: String,
        /// Only its urgent notifications instead of none.
        #[arg(long)]
        urgent_only: bool,
    },
    /// Hear of a mission as the rules say again (owner, watcher).
    Unmute { id: String },
    /// Add yourself as a watcher of a mission: its changes notify you.
    Subscribe { id: String },
    /// Stop watching a mission.
    Unsubscribe { id: String },
}

#[derive(Subcommand)]
pub enum CommunityCommand {
    /// The community feed, newest first.
    List {
        #[arg(long, default_value_t = 20)]
        limit: u32,
        /// Workspace slug or id (default: your only workspace).
        #[arg(long)]
        workspace: Option<String>,
    },
    /// Post to the community feed; `@name` mentions notify those members.
    Post {
        text: String,
        /// Workspace slug or id (default: your only workspace).
        #[arg(long)]
        workspace: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum WorkstationsCommand {
    /// List workstations and their agents.
    List,
    /// Register a workstation you own.
    Create {
        name: String,
        #[arg(long)]
        workspace: Option<String>,
    },
    /// Act as a simple workstation: send heartbeats with simulated agents.
    Heartbeat {
        id: String,
        /// Seconds between heartbeats.
        #[arg(long, default_value_t = 10)]
        every: u64,
        /// Number of simulated agents.
        #[arg(long, default_value_t = 2)]
        agents: u32,
        /// Send one heartbeat and exit.
        #[arg(long)]
        once: bool,
    },
}

/// Resolves a workspace given by slug or id against the caller's workspaces.
pub async fn resolve_workspace(api: &crate::client::Api, given: Option<&str>) -> anyhow::Result<String> {
    let me: serde_json::Value = api.get("/api/me").await?;
    let workspaces = me["workspaces"].as_array().cloned().unwrap_or_default();
    match given {
        Some(given) => workspaces
            .iter()
            .find(|w| w["slug"] == given || w["id"] == given)
            .and_then(|w| w["id"].as_str().map(str::to_owned))
            .ok_or_else(|| anyhow::anyhow!("you are not a member of a workspace `{given}`")),
        None => match workspaces.as_slice() {
            [only] => Ok(only["id"].as_str().unwrap_or_default().to_owned()),
            [] => anyhow::bail!("you are not a member of any workspace"),
            _ => anyhow::bail!("you belong to several workspaces: pass --workspace"),
        },
    }
}
