//! A user's preferences as the inbox reads them: their keys in the `config`
//! table (written by `config.rs`) and, for the recipients of a notification
//! write, each one's quiet hours, rules per mission and surfaces in one
//! statement per chunk of users. Below both the inbox and the config store,
//! which each read them.

use std::collections::HashMap;

use solo_domain::notification::{CategorySurfaces, MissionRules};
use solo_domain::{QuietHours, UserId};

use super::{placeholders, query, rows_per_statement, Exec};
use crate::{StoreError, StoreResult};

/// The key of a user's quiet hours in their scope .
pub(super) const QUIET_KEY: &str = "quietHours";
/// The key of a user's rules per mission in their scope .
pub(super) const MISSION_RULES_KEY: &str = "missionRules";
/// The key of a user's surfaces per category in their scope .
pub(super) const SURFACES_KEY: &str = "surfaces";
/// The key of a workspace's default quiet hours in its scope (the server's default has the
/// same key in the scope `server`).
pub(super) const DEFAULT_QUIET_KEY: &str = "quietHoursDefault";
/// A user's scope in the `config` table.
pub(super) fn user_scope(user: &UserId) -> String {
    format!("user:{user}")
}

/// A recipient's preferences the insert honours.
#[derive(Default)]
pub(super) struct Honoured {
    pub(super) missions: MissionRules,
    pub(super) surfaces: CategorySurfaces,
}

/// The user's quiet hours (see [`quiet_hours_of`]), in at most two statements.
pub(super) async fn quiet_hours_in(conn: &mut dyn Exec, user: &UserId) -> StoreResult<QuietHours> {
    let (mut of, _) = quiet_hours_of(conn, &[user]).await?;
    Ok(of.remove(user.as_str()).unwrap_or_else(QuietHours::off))
}

/// Each user's quiet hours, the first of:
///
/// 1. their own setting;
/// 2. the default of their workspace (`quietHoursDefault` in the scope
///    `workspace:{id}`); for a member of several workspaces that set one, the
///    workspace they joined first (then the lowest workspace id), so a user's
///    quiet hours do not depend on which workspace a notification comes from;
/// 3. the server default (`SOLO_DEFAULT_QUIET_HOURS`);
/// 4. off.
///
/// It runs inside notification writes for up to a thousand recipients, so it
/// reads a chunk of users per statement, all three sources at once (as many
/// statements as when it read only the first and the third). The same
/// statement reads each user's rules per mission and surfaces (returned
/// beside), which the insert honours: no statement more for them.
pub(super) async fn quiet_hours_of(
    conn: &mut dyn Exec,
    users: &[&UserId],
) -> StoreResult<(HashMap<String, QuietHours>, HashMap<String, Honoured>)> {
    let mut ids: Vec<&str> = users.iter().map(|u| u.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    let (mut own, mut default) = (HashMap::new(), None);
    let mut rules: HashMap<String, Honoured> = HashMap::new();
    // Per user, the workspace default of the earliest membership: (joined at, workspace id, value).
    let mut workspace_default: HashMap<String, (i64, String, String)> = HashMap::new();
    for chunk in ids.chunks(rows_per_statement(2)) {
        // `owner` is `user:{id}` or `server` for the first part, the member's id for the second.
        let sql = format!(
            "SELECT scope AS owner, key, value, 0 AS joined, '' AS via FROM config \
             WHERE (key IN ($1, $3, $4) AND scope IN ({})) OR (scope = 'server' AND key = $2) \
             UNION ALL \
             SELECT m.user_id AS owner, c.key, c.value, m.created_at AS joined, m.workspace_id AS via FROM memberships m \
             JOIN config c ON c.scope = 'workspace:' || m.workspace_id AND c.key = $2 \
             WHERE m.user_id IN ({})",
            placeholders(4, chunk.len()),
            placeholders(4 + chunk.len(), chunk.len())
        );
        let mut statement =
            query(sql).bind(QUIET_KEY).bind(DEFAULT_QUIET_KEY).bind(MISSION_RULES_KEY).bind(SURFACES_KEY);
        for id in chunk {
            statement = statement.bind(format!("user:{id}"));
        }
        for id in chunk {
            statement = statement.bind(*id);
        }
        for row in conn.fetch_all(statement).await? {
            let owner: String = row.try_get("owner")?;
            let value: String = row.try_get("value")?;
            let key: String = row.try_get("key")?;
            if owner == "server" {
                default = Some(value);
            } else if let (Some(user), true) = (owner.strip_prefix("user:"), key == MISSION_RULES_KEY) {
                let parsed = serde_json::from_str(&value).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                rules.entry(user.to_owned()).or_default().missions = parsed;
            } else if let (Some(user), true) = (owner.strip_prefix("user:"), key == SURFACES_KEY) {
                let parsed = serde_json::from_str(&value).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                rules.entry(user.to_owned()).or_default().surfaces = parsed;
            } else if let Some(user) = owner.strip_prefix("user:") {
                own.insert(user.to_owned(), value);
            } else {
                let joined: i64 = row.try_get("joined")?;
                let via: String = row.try_get("via")?;
                let earlier = workspace_default.get(&owner).is_none_or(|(at, ws, _)| (joined, &via) < (*at, ws));
                if earlier {
                    workspace_default.insert(owner, (joined, via, value));
                }
            }
        }
    }
    let parse = |raw: &str| serde_json::from_str::<QuietHours>(raw).map_err(|e| StoreError::Corrupt(e.to_string()));
    // Each stored document is parsed once, however many users it applies to,
    // and only when someone's quiet hours come from it.
    let mut parsed: HashMap<&str, QuietHours> = HashMap::new();
    let mut of = HashMap::with_capacity(users.len());
    for user in users {
        let raw = own
            .get(user.as_str())
            .or_else(|| workspace_default.get(user.as_str()).map(|(_, _, value)| value))
            .or(default.as_ref());
        let quiet = match raw {
            Some(raw) => match parsed.get(raw.as_str()) {
                Some(quiet) => quiet.clone(),
                None => {
                    let quiet = parse(raw)?;
                    parsed.insert(raw.as_str(), quiet.clone());
                    quiet
                }
            },
            None => QuietHours::off(),
        };
        of.insert(user.as_str().to_owned(), quiet);
    }
    Ok((of, rules))
}
