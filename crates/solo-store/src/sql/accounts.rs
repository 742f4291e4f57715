//! Users, workspaces, memberships, sessions and personal access tokens.

use async_trait::async_trait;
use solo_domain::time::now_ms;
use solo_domain::{TokenId, UserId, WorkspaceId};
use sqlx::any::AnyRow;
use sqlx::Row;

use super::{decode, query, SqlStore};
use crate::{AccessToken, AccountStore, Membership, NewUser, Role, Session, StoreError, StoreResult, User, Workspace};

const USER_COLUMNS: &str = "id, name, display_name, avatar_url, password_hash, created_at";
const TOKEN_COLUMNS: &str = "id, user_id, name, token_hash, scopes, created_at, expires_at, revoked_at, last_used_at";

fn user_from(row: &AnyRow) -> StoreResult<User> {
    Ok(User {
        id: UserId::from_trusted(row.try_get("id")?),
        name: row.try_get("name")?,
        display_name: row.try_get("display_name")?,
        avatar_url: row.try_get("avatar_url")?,
        password_hash: row.try_get("password_hash")?,
        created_at: row.try_get("created_at")?,
    })
}

fn workspace_from(row: &AnyRow) -> StoreResult<Workspace> {
    Ok(Workspace {
        id: WorkspaceId::from_trusted(row.try_get("id")?),
        slug: row.try_get("slug")?,
        name: row.try_get("name")?,
    })
}

fn token_from(row: &AnyRow) -> StoreResult<AccessToken> {
    let scopes: String = row.try_get("scopes")?;
    Ok(AccessToken {
        id: TokenId::from_trusted(row.try_get("id")?),
        user_id: UserId::from_trusted(row.try_get("user_id")?),
        name: row.try_get("name")?,
        token_hash: row.try_get("token_hash")?,
        scopes: serde_json::from_str(&scopes).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
        revoked_at: row.try_get("revoked_at")?,
        last_used_at: row.try_get("last_used_at")?,
    })
}

impl SqlStore {
    /// Records that access was taken away (see [`AccountStore::auth_generation`]).
    async fn bump_auth_generation(&self) -> StoreResult<()> {
        self.write_one(query(
            "INSERT INTO config (scope, key, value, updated_at) VALUES ('server', 'auth_generation', '1', $1) \
             ON CONFLICT (scope, key) DO UPDATE SET value = CAST(CAST(config.value AS BIGINT) + 1 AS TEXT), updated_at = $1",
        )
        .bind(now_ms())
        ).await?;
        Ok(())
    }
}

fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
}

#[async_trait]
impl AccountStore for SqlStore {
    async fn ensure_workspace(&self, slug: &str, name: &str) -> StoreResult<Workspace> {
        self.write_one(query(
            "INSERT INTO workspaces (id, slug, name, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (slug) DO NOTHING",
        )
        .bind(WorkspaceId::generate().into_string())
        .bind(slug)
        .bind(name)
        .bind(now_ms())
        ).await?;
        let row = sqlx::query("SELECT id, slug, name FROM workspaces WHERE slug = $1")
            .bind(slug)
            .fetch_one(&self.read)
            .await?;
        workspace_from(&row)
    }

    async fn create_user(&self, new: NewUser) -> StoreResult<User> {
        let user = User {
            id: UserId::generate(),
            name: new.name,
            display_name: new.display_name,
            avatar_url: None,
            password_hash: new.password_hash,
            created_at: now_ms(),
        };
        let insert = query(
            "INSERT INTO users (id, name, display_name, avatar_url, password_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(user.id.as_str())
        .bind(&user.name)
        .bind(&user.display_name)
        .bind(user.avatar_url.as_deref())
        .bind(user.password_hash.as_deref())
        .bind(user.created_at);
        match self.write_one(insert).await {
            Ok(_) => Ok(user),
            Err(StoreError::Database(e)) if is_unique_violation(&e) => {
                Err(StoreError::AlreadyExists(format!("user `{}`", user.name)))
            }
            Err(e) => Err(e),
        }
    }

    async fn set_password_hash(&self, user: &UserId, hash: &str) -> StoreResult<()> {
        let done = self
            .write_one(query("UPDATE users SET password_hash = $1 WHERE id = $2").bind(hash).bind(user.as_str()))
            .await?;
        if done == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    async fn user_by_name(&self, name: &str) -> StoreResult<Option<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE name = $1 AND deleted_at IS NULL");
        let row = sqlx::query(&sql).bind(name).fetch_optional(&self.read).await?;
        row.as_ref().map(user_from).transpose()
    }

    async fn user_by_id(&self, id: &UserId) -> StoreResult<Option<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1 AND deleted_at IS NULL");
        let row = sqlx::query(&sql).bind(id.as_str()).fetch_optional(&self.read).await?;
        row.as_ref().map(user_from).transpose()
    }

    async fn set_membership(&self, workspace: &WorkspaceId, user: &UserId, role: Role) -> StoreResult<()> {
        self.write_one(
            query(
                "INSERT INTO memberships (workspace_id, user_id, role, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (workspace_id, user_id) DO UPDATE SET role = $3",
            )
            .bind(workspace.as_str())
            .bind(user.as_str())
            .bind(role.as_str())
            .bind(now_ms()),
        )
        .await?;
        Ok(())
    }

    async fn remove_membership(&self, workspace: &WorkspaceId, user: &UserId) -> StoreResult<bool> {
        let done = self
            .write_one(
                query("DELETE FROM memberships WHERE workspace_id = $1 AND user_id = $2")
                    .bind(workspace.as_str())
                    .bind(user.as_str()),
            )
            .await?;
        let removed = done > 0;
        if removed {
            self.bump_auth_generation().await?;
        }
        Ok(removed)
    }

    async fn memberships_of(&self, user: &UserId) -> StoreResult<Vec<Membership>> {
        let rows = sqlx::query(
            "SELECT w.id, w.slug, w.name, m.role FROM memberships m JOIN workspaces w ON w.id = m.workspace_id \
             WHERE m.user_id = $1 ORDER BY w.slug",
        )
        .bind(user.as_str())
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|row| {
                let role: String = row.try_get("role")?;
                Ok(Membership { workspace: workspace_from(row)?, role: decode(Role::parse(&role), "role")? })
            })
            .collect()
    }

    async fn role_in(&self, user: &UserId, workspace: &WorkspaceId) -> StoreResult<Option<Role>> {
        let role: Option<String> =
            sqlx::query_scalar("SELECT role FROM memberships WHERE user_id = $1 AND workspace_id = $2")
                .bind(user.as_str())
                .bind(workspace.as_str())
                .fetch_optional(&self.read)
                .await?;
        role.map(|r| decode(Role::parse(&r), "role")).transpose()
    }

    async fn workspace_members(&self, workspace: &WorkspaceId) -> StoreResult<Vec<User>> {
        let sql = format!(
            "SELECT {} FROM users u JOIN memberships m ON m.user_id = u.id \
             WHERE m.workspace_id = $1 AND u.deleted_at IS NULL ORDER BY u.name",
            USER_COLUMNS.split(", ").map(|c| format!("u.{c}")).collect::<Vec<_>>().join(", ")
        );
        let rows = sqlx::query(&sql).bind(workspace.as_str()).fetch_all(&self.read).await?;
        rows.iter().map(user_from).collect()
    }

    async fn create_session(&self, session: &Session) -> StoreResult<()> {
        self.write_one(query(
            "INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&session.token_hash)
        .bind(session.user_id.as_str())
        .bind(&session.csrf_token)
        .bind(session.created_at)
        .bind(session.expires_at)
        ).await?;
        Ok(())
    }

    async fn session_by_hash(&self, token_hash: &str, now_ms: i64) -> StoreResult<Option<Session>> {
        let row = sqlx::query(
            "SELECT s.token_hash, s.user_id, s.csrf_token, s.created_at, s.expires_at FROM sessions s \
             JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1 AND s.expires_at > $2 AND u.deleted_at IS NULL",
        )
        .bind(token_hash)
        .bind(now_ms)
        .fetch_optional(&self.read)
        .await?;
        row.map(|row| {
            Ok(Session {
                token_hash: row.try_get("token_hash")?,
                user_id: UserId::from_trusted(row.try_get("user_id")?),
                csrf_token: row.try_get("csrf_token")?,
                created_at: row.try_get("created_at")?,
                expires_at: row.try_get("expires_at")?,
            })
        })
        .transpose()
    }

    async fn delete_session(&self, token_hash: &str) -> StoreResult<()> {
        self.write_one(query("DELETE FROM sessions WHERE token_hash = $1").bind(token_hash)).await?;
        self.bump_auth_generation().await?;
        Ok(())
    }

    async fn delete_expired_sessions(&self, now_ms: i64) -> StoreResult<u64> {
        let done = self.write_one(query("DELETE FROM sessions WHERE expires_at <= $1").bind(now_ms)).await?;
        Ok(done)
    }

    async fn create_access_token(&self, token: &AccessToken) -> StoreResult<()> {
        let scopes = serde_json::to_string(&token.scopes).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.write_one(query(
            "INSERT INTO access_tokens (id, user_id, name, token_hash, scopes, created_at, expires_at, revoked_at, last_used_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, NULL)",
        )
        .bind(token.id.as_str())
        .bind(token.user_id.as_str())
        .bind(&token.name)
        .bind(&token.token_hash)
        .bind(scopes)
        .bind(token.created_at)
        .bind(token.expires_at)
        ).await?;
        Ok(())
    }

    async fn access_tokens_of(&self, user: &UserId) -> StoreResult<Vec<AccessToken>> {
        let sql =
            format!("SELECT {TOKEN_COLUMNS} FROM access_tokens WHERE user_id = $1 ORDER BY created_at DESC, id DESC");
        let rows = sqlx::query(&sql).bind(user.as_str()).fetch_all(&self.read).await?;
        rows.iter().map(token_from).collect()
    }

    async fn access_token_by_hash(&self, token_hash: &str) -> StoreResult<Option<AccessToken>> {
        let sql = format!(
            "SELECT {} FROM access_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1 AND u.deleted_at IS NULL",
            TOKEN_COLUMNS.split(", ").map(|c| format!("t.{c}")).collect::<Vec<_>>().join(", ")
        );
        let row = sqlx::query(&sql).bind(token_hash).fetch_optional(&self.read).await?;
        row.as_ref().map(token_from).transpose()
    }

    async fn access_token_by_id(&self, id: &TokenId) -> StoreResult<Option<AccessToken>> {
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM access_tokens WHERE id = $1");
        let row = sqlx::query(&sql).bind(id.as_str()).fetch_optional(&self.read).await?;
        row.as_ref().map(token_from).transpose()
    }

    async fn revoke_access_token(&self, user: &UserId, id: &TokenId, now_ms: i64) -> StoreResult<bool> {
        let done = self
            .write_one(
                query("UPDATE access_tokens SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2 AND user_id = $3")
                    .bind(now_ms)
                    .bind(id.as_str())
                    .bind(user.as_str()),
            )
            .await?;
        let removed = done > 0;
        if removed {
            self.bump_auth_generation().await?;
        }
        Ok(removed)
    }

    async fn auth_generation(&self) -> StoreResult<i64> {
        let value: Option<String> =
            sqlx::query_scalar("SELECT value FROM config WHERE scope = 'server' AND key = 'auth_generation'")
                .fetch_optional(&self.read)
                .await?;
        Ok(value.and_then(|v| v.parse().ok()).unwrap_or(0))
    }

    async fn touch_access_token(&self, id: &TokenId, now_ms: i64) -> StoreResult<()> {
        self.write_one(
            query("UPDATE access_tokens SET last_used_at = $1 WHERE id = $2").bind(now_ms).bind(id.as_str()),
        )
        .await?;
        Ok(())
    }
}
