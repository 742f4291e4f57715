//! Small keyed JSON documents: user preferences, server secrets, later configuration templates.

use async_trait::async_trait;
use solo_domain::time::now_ms;

use super::SqlStore;
use crate::{ConfigStore, StoreError, StoreResult};

fn parse(raw: String) -> StoreResult<serde_json::Value> {
    serde_json::from_str(&raw).map_err(|e| StoreError::Corrupt(e.to_string()))
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
        sqlx::query(
            "INSERT INTO config (scope, key, value, updated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (scope, key) DO UPDATE SET value = $3, updated_at = $4",
        )
        .bind(scope)
        .bind(key)
        .bind(value.to_string())
        .bind(now_ms())
        .execute(&self.write)
        .await?;
        Ok(())
    }

    async fn config_put_if_absent(
        &self,
        scope: &str,
        key: &str,
        value: &serde_json::Value,
    ) -> StoreResult<serde_json::Value> {
        sqlx::query(
            "INSERT INTO config (scope, key, value, updated_at) VALUES ($1, $2, $3, $4) ON CONFLICT (scope, key) DO NOTHING",
        )
        .bind(scope)
        .bind(key)
        .bind(value.to_string())
        .bind(now_ms())
        .execute(&self.write)
        .await?;
        let raw: String = sqlx::query_scalar("SELECT value FROM config WHERE scope = $1 AND key = $2")
            .bind(scope)
            .bind(key)
            .fetch_one(&self.write)
            .await?;
        parse(raw)
    }
}
