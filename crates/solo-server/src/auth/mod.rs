//! Who is calling: passwords, sessions, personal access tokens, and the
//! [`Caller`] extractor every authenticated route takes.

pub mod caller;
pub mod password;
pub mod pat_cache;
pub mod secrets;

pub use caller::{Caller, Via};

/// Scopes a personal access token may carry.
pub mod scopes {
    /// Read anything the user can read.
    pub const READ: &str = "read";
    /// Change missions, workstations, posts, preferences and tokens.
    pub const WRITE: &str = "write";
    /// Create notifications for other members of the user's workspaces.
    pub const NOTIFICATIONS_WRITE: &str = "notifications:write";

    pub const ALL: [&str; 3] = [READ, WRITE, NOTIFICATIONS_WRITE];
    pub const DEFAULT: [&str; 2] = [READ, WRITE];

    pub fn is_known(scope: &str) -> bool {
        ALL.contains(&scope)
    }
}
