//! Small keyed JSON documents: user preferences, workspace settings, server
//! secrets, later configuration templates.

use async_trait::async_trait;
use solo_domain::config::{WorkspaceConfig, WorkspaceConfigChanged};
use solo_domain::event::{Subject, SubjectKind};
use solo_domain::notification::{CategorySurfaces, MissionRule, MissionRules, PreferencesChanged};
use solo_domain::time::now_ms;
use solo_domain::{EventPayload, MissionId, QuietHours, UserId, WorkspaceId};

use super::preferences::{quiet_hours_in, user_scope, DEFAULT_QUIET_KEY, MISSION_RULES_KEY, QUIET_KEY, SURFACES_KEY};
use super::{append_event_only, query, Exec, Query, SqlStore};
use crate::{ConfigStore, StoreError, StoreResult, WriteContext};

/// The key of a user's preferences version in their scope.
const VERSION_KEY: &str = "preferencesVersion";

/// The key of a workspace's settings version in its scope.
const CONFIG_VERSION_KEY: &str = "configVersion";

fn workspace_scope(workspace: &WorkspaceId) -> String {
    format!("workspace:{workspace}")
}

/// The statement that sets `key` in `scope` to `value` (JSON text).
fn put_value<'a>(scope: &'a str, key: &'a str, value: String, now: i64) -> Query<'a> {
    query(
        "INSERT INTO config (scope, key, value, updated_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (scope, key) DO UPDATE SET value = $3, updated_at = $4",
    )
    .bind(scope)
    .bind(key)
    .bind(value)
    .bind(now)
}

/// The statement that takes the next value of a version counter kept in the
/// config table, in one statement, so two concurrent changes (PostgreSQL)
/// never get the same one.
fn bump_version<'a>(scope: &'a str, key: &'a str, now: i64) -> Query<'a> {
    query(
        "INSERT INTO config (scope, key, value, updated_at) VALUES ($1, $2, '1', $3) \
         ON CONFLICT (scope, key) DO UPDATE SET value = CAST(CAST(config.value AS BIGINT) + 1 AS TEXT), \
         updated_at = $3 RETURNING value",
    )
    .bind(scope)
    .bind(key)
    .bind(now)
}

fn parse(raw: String) -> StoreResult<serde_json::Value> {
    serde_json::from_str(&raw).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn parse_version(raw: &str) -> StoreResult<i64> {
    raw.trim().parse().map_err(|_| StoreError::Corrupt(format!("version `{raw}`")))
}

/// A user's rules per mission and surfaces, read within a write transaction.
async fn stored_in(tx: &mut dyn Exec, scope: &str) -> StoreResult<(MissionRules, CategorySurfaces)> {
    let statement = query("SELECT key, value FROM config WHERE scope = $1 AND key IN ($2, $3)")
        .bind(scope)
        .bind(MISSION_RULES_KEY)
        .bind(SURFACES_KEY);
    let (mut rules, mut surfaces) = (MissionRules::new(), CategorySurfaces::default());
    for row in tx.fetch_all(statement).await? {
        let key: String = row.try_get("key")?;
        let raw: String = row.try_get("value")?;
        let corrupt = |e: serde_json::Error| StoreError::Corrupt(e.to_string());
        if key == MISSION_RULES_KEY {
            rules = serde_json::from_str(&raw).map_err(corrupt)?;
        } else {
            surfaces = serde_json::from_str(&raw).map_err(corrupt)?;
        }
    }
    Ok((rules, surfaces))
}

/// Appends `preferences.updated` on the user's channel.
async fn append_preferences_event(
    tx: &mut super::WriteTx,
    ctx: &WriteContext,
    version: i64,
    changed: PreferencesChanged,
    now: i64,
) -> StoreResult<()> {
    let subject = Subject { kind: SubjectKind::Preferences, id: changed.user_id.to_string() };
    append_event_only(tx, ctx, subject, version, EventPayload::PreferencesUpdated(changed), now).await?;
    Ok(())
}

impl SqlStore {
    /// Changes a user's rules per mission or surfaces and, in the same
    /// transaction, emits `preferences.updated` with all their preferences.
    async fn change_preferences(
        &self,
        ctx: &WriteContext,
        user: &UserId,
        change: impl FnOnce(&mut MissionRules, &mut CategorySurfaces) + Send,
    ) -> StoreResult<(i64, PreferencesChanged)> {
        let now = now_ms();
        let scope = user_scope(user);
        let mut tx = self.begin().await?;
        // The version first (see `update_preferences`): concurrent changes never lose one another's.
        let raw: String = tx.fetch_one(bump_version(&scope, VERSION_KEY, now)).await?.try_get("value")?;
        let version = parse_version(&raw)?;
        let (mut mission_rules, mut surfaces) = stored_in(&mut tx, &scope).await?;
        change(&mut mission_rules, &mut surfaces);
        let corrupt = |e: serde_json::Error| StoreError::Corrupt(e.to_string());
        let rules_value = serde_json::to_string(&mission_rules).map_err(corrupt)?;
        tx.execute(put_value(&scope, MISSION_RULES_KEY, rules_value, now)).await?;
        let surfaces_value = serde_json::to_string(&surfaces).map_err(corrupt)?;
        tx.execute(put_value(&scope, SURFACES_KEY, surfaces_value, now)).await?;
        let own = query("SELECT value FROM config WHERE scope = $1 AND key = $2").bind(scope.as_str()).bind(QUIET_KEY);
        let quiet_hours_set = tx.fetch_optional(own).await?.is_some();
        let quiet_hours = quiet_hours_in(&mut tx, user).await?;
        let changed =
            PreferencesChanged { user_id: user.clone(), quiet_hours, quiet_hours_set, mission_rules, surfaces };
        append_preferences_event(&mut tx, ctx, version, changed.clone(), now).await?;
        self.commit_with_events(tx).await?;
        Ok((version, changed))
    }
}

#[async_trait]
impl ConfigStore for SqlStore {
    async fn config_get(&self, scope: &str, key: &str) -> StoreResult<Option<serde_json::Value>> {
        let raw: Option<String> = sqlx::query_scalar("SELECT value FROM config WHERE scope = $1 AND key = $2")
            .bind(scope)
            .bind(key)
            .fetch_optional(&self.read)
            .await?;
        raw.map(parse).transpose()
    }

    async fn config_put(&self, scope: &str, key: &str, value: &serde_json::Value) -> StoreResult<()> {
        self.write_one(put_value(scope, key, value.to_string(), now_ms())).await?;
        Ok(())
    }

    async fn config_put_if_absent(
        &self,
        scope: &str,
        key: &str,
        value: &serde_json::Value,
    ) -> StoreResult<serde_json::Value> {
        self.write_one(query(
            "INSERT INTO config (scope, key, value, updated_at) VALUES ($1, $2, $3, $4) ON CONFLICT (scope, key) DO NOTHING",
        )
        .bind(scope)
        .bind(key)
        .bind(value.to_string())
        .bind(now_ms())
        ).await?;
        let raw: String = sqlx::query_scalar("SELECT value FROM config WHERE scope = $1 AND key = $2")
            .bind(scope)
            .bind(key)
            .fetch_one(&self.read)
            .await?;
        parse(raw)
    }

    async fn preferences_version(&self, user: &UserId) -> StoreResult<i64> {
        let raw: Option<String> = sqlx::query_scalar("SELECT value FROM config WHERE scope = $1 AND key = $2")
            .bind(user_scope(user))
            .bind(VERSION_KEY)
            .fetch_optional(&self.read)
            .await?;
        raw.as_deref().map(parse_version).transpose().map(Option::unwrap_or_default)
    }

    async fn update_preferences(&self, ctx: &WriteContext, user: &UserId, quiet: &QuietHours) -> StoreResult<i64> {
        let now = now_ms();
        let scope = user_scope(user);
        let value = serde_json::to_string(quiet).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let mut tx = self.begin().await?;
        // The version first: its row lock queues concurrent changes of this
        // user's preferences (PostgreSQL), so each reads what the previous wrote.
        let raw: String = tx.fetch_one(bump_version(&scope, VERSION_KEY, now)).await?.try_get("value")?;
        let version = parse_version(&raw)?;
        tx.execute(put_value(&scope, QUIET_KEY, value, now)).await?;
        let (mission_rules, surfaces) = stored_in(&mut tx, &scope).await?;
        let changed = PreferencesChanged {
            user_id: user.clone(),
            quiet_hours: quiet.clone(),
            quiet_hours_set: true,
            mission_rules,
            surfaces,
        };
        append_preferences_event(&mut tx, ctx, version, changed, now).await?;
        self.commit_with_events(tx).await?;
        Ok(version)
    }

    async fn set_mission_rule(
        &self,
        ctx: &WriteContext,
        user: &UserId,
        mission: &MissionId,
        rule: Option<MissionRule>,
    ) -> StoreResult<(i64, PreferencesChanged)> {
        self.change_preferences(ctx, user, |rules, _| {
            match rule {
                Some(rule) => rules.insert(mission.to_string(), rule),
                None => rules.remove(mission.as_str()),
            };
        })
        .await
    }

    async fn set_surfaces(
        &self,
        ctx: &WriteContext,
        user: &UserId,
        surfaces: &CategorySurfaces,
    ) -> StoreResult<(i64, PreferencesChanged)> {
        self.change_preferences(ctx, user, |_, held| *held = *surfaces).await
    }

    async fn notification_preferences(&self, user: &UserId) -> StoreResult<(bool, MissionRules, CategorySurfaces)> {
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT key, value FROM config WHERE scope = $1 AND key IN ($2, $3, $4)")
                .bind(user_scope(user))
                .bind(QUIET_KEY)
                .bind(MISSION_RULES_KEY)
                .bind(SURFACES_KEY)
                .fetch_all(&self.read)
                .await?;
        let (mut set, mut rules, mut surfaces) = (false, MissionRules::new(), CategorySurfaces::default());
        let corrupt = |e: serde_json::Error| StoreError::Corrupt(e.to_string());
        for (key, value) in rows {
            if key == QUIET_KEY {
                set = true;
            } else if key == MISSION_RULES_KEY {
                rules = serde_json::from_str(&value).map_err(corrupt)?;
            } else {
                surfaces = serde_json::from_str(&value).map_err(corrupt)?;
            }
        }
        Ok((set, rules, surfaces))
    }

    async fn workspace_config(&self, workspace: &WorkspaceId) -> StoreResult<(WorkspaceConfig, i64)> {
        // One statement, so the settings and their version are of the same moment.
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT key, value FROM config WHERE scope = $1 AND key IN ($2, $3)")
                .bind(workspace_scope(workspace))
                .bind(DEFAULT_QUIET_KEY)
                .bind(CONFIG_VERSION_KEY)
                .fetch_all(&self.read)
                .await?;
        let (mut config, mut version) = (WorkspaceConfig::default(), 0);
        for (key, value) in rows {
            if key == CONFIG_VERSION_KEY {
                version = parse_version(&value)?;
            } else {
                config.default_quiet_hours =
                    Some(serde_json::from_str(&value).map_err(|e| StoreError::Corrupt(e.to_string()))?);
            }
        }
        Ok((config, version))
    }

    async fn update_workspace_config(
        &self,
        ctx: &WriteContext,
        workspace: &WorkspaceId,
        config: &WorkspaceConfig,
    ) -> StoreResult<i64> {
        let now = now_ms();
        let scope = workspace_scope(workspace);
        let mut tx = self.begin().await?;
        // The version first: its row lock queues concurrent changes of this
        // workspace's settings (PostgreSQL), so each writes the document after
        // the previous one committed, and the versions follow the commits.
        let raw: String = tx.fetch_one(bump_version(&scope, CONFIG_VERSION_KEY, now)).await?.try_get("value")?;
        let version = parse_version(&raw)?;
        match &config.default_quiet_hours {
            Some(quiet) => {
                let value = serde_json::to_string(quiet).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                tx.execute(put_value(&scope, DEFAULT_QUIET_KEY, value, now)).await?;
            }
            None => {
                let unset = query("DELETE FROM config WHERE scope = $1 AND key = $2")
                    .bind(scope.as_str())
                    .bind(DEFAULT_QUIET_KEY);
                tx.execute(unset).await?;
            }
        }
        append_event_only(
            &mut tx,
            ctx,
            Subject { kind: SubjectKind::WorkspaceConfig, id: workspace.to_string() },
            version,
            EventPayload::ConfigUpdated(WorkspaceConfigChanged {
                workspace_id: workspace.clone(),
                config: config.clone(),
            }),
            now,
        )
        .await?;
        self.commit_with_events(tx).await?;
        Ok(version)
    }
}
