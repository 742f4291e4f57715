//! Solo Realtime's domain: the vocabulary every other crate speaks.
//!
//! - [`ids`]: prefixed, typed identifiers (`m_…` for missions, `u_…` for users, …).
//! - [`channel`]: realtime channel names, parsed once at the edge.
//! - [`config`]: workspace settings, decided by a workspace's admins.
//! - [`mission`]: mission stages and the transitions allowed between them.
//! - [`presence`]: workstation and agent health states.
//! - [`event`]: the versioned event envelope and every event type.
//! - [`notification`]: notification categories and severities.
//! - [`time`]: the one timestamp format used on the wire.
//! - [`spans`]: whether spans are exported (the one switch, set at start).
//!
//! This crate does no I/O: it is safe to use from the store, the server, the CLI
//! and the generators of the web UI's TypeScript types alike.

pub mod channel;
pub mod config;
pub mod event;
pub mod ids;
pub mod mission;
pub mod notification;
pub mod presence;
pub mod rules;
pub mod spans;
pub mod time;

pub use channel::{Channel, ChannelError};
pub use config::WorkspaceConfig;
pub use event::{Actor, EventEnvelope, EventPayload, Subject};
pub use ids::*;
pub use mission::{ReviewDecision, Stage};
pub use notification::{Category, QuietHours, Severity};
pub use presence::{AgentStatus, WorkstationStatus};
