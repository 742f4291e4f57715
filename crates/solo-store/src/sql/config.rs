//! Small keyed JSON documents: user preferences, server secrets, later configuration templates.

use async_trait::async_trait;
use solo_domain::event::{Subject, SubjectKind};
use solo_domain::notification::PreferencesChanged;
use solo_domain::time::now_ms;
use solo_domain::{EventPayload, QuietHours, UserId};

use super::{append_event_only, query, Exec, SqlStore};
use crate::{ConfigStore, StoreError, StoreResult, WriteContext};

/// The key of a user's quiet hours in their scope (read by the inbox, `notifications.rs`).
const QUIET_KEY: &str = "quietHours";
/// The key of a user's preferences version in their scope.
const VERSION_KEY: &str = "preferencesVersion";

fn user_scope(user: &UserId) -> String {
    format!("user:{user}")
}

fn parse(raw: String) -> StoreResult<serde_json::Value> {
    serde_json::from_str(&raw).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn parse_version(raw: &str) -> StoreResult<i64> {
    raw.trim().parse().map_err(|_| StoreError::Corrupt(format!("preferences version `{raw}`")))
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
        self.write_one(
            query(
                "INSERT INTO config (scope, key, value, updated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (scope, key) DO UPDATE SET value = $3, updated_at = $4",
            )
            .bind(scope)
            .bind(key)
            .bind(value.to_string())
            .bind(now_ms()),
        )
        .await?;
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
        let set = query(
            "INSERT INTO config (scope, key, value, updated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (scope, key) DO UPDATE SET value = $3, updated_at = $4",
        )
        .bind(scope.as_str())
        .bind(QUIET_KEY)
        .bind(value)
        .bind(now);
        tx.execute(set).await?;
        // One statement takes the next version, so two concurrent changes
        // (PostgreSQL) never get the same one.
        let bump = query(
            "INSERT INTO config (scope, key, value, updated_at) VALUES ($1, $2, '1', $3) \
             ON CONFLICT (scope, key) DO UPDATE SET value = CAST(CAST(config.value AS BIGINT) + 1 AS TEXT), \
             updated_at = $3 RETURNING value",
        )
        .bind(scope.as_str())
        .bind(VERSION_KEY)
        .bind(now);
        let raw: String = tx.fetch_one(bump).await?.try_get("value")?;
        let version = parse_version(&raw)?;
        append_event_only(
            &mut tx,
            ctx,
            Subject { kind: SubjectKind::Preferences, id: user.to_string() },
            version,
            EventPayload::PreferencesUpdated(PreferencesChanged { user_id: user.clone(), quiet_hours: quiet.clone() }),
            now,
        )
        .await?;
        self.commit_with_events(tx).await?;
        Ok(version)
    }
}
