//! Community posts and their mentions.

use async_trait::async_trait;
use solo_domain::event::{Subject, SubjectKind};
use solo_domain::time::now_ms;
use solo_domain::{EventPayload, PostId, UserId, WorkspaceId};
use sqlx::Row;

use super::{append_event, query, Exec, SqlStore};
use crate::{CommunityStore, NewPost, Post, StoreError, StoreResult, WriteContext};

#[async_trait]
impl CommunityStore for SqlStore {
    async fn create_post(&self, ctx: &WriteContext, new: NewPost) -> StoreResult<Post> {
        let now = now_ms();
        let post = Post {
            id: PostId::generate(),
            workspace_id: new.workspace_id,
            author_id: new.author_id,
            body: new.body,
            mentions: new.mentions,
            created_at: now,
        };
        let mentions = serde_json::to_string(&post.mentions).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let mut tx = self.begin().await?;
        tx.execute(query(
            "INSERT INTO community_posts (id, workspace_id, author_id, body, mentions, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(post.id.as_str())
        .bind(post.workspace_id.as_str())
        .bind(post.author_id.as_str())
        .bind(&post.body)
        .bind(mentions)
        .bind(now)
        ).await?;
        append_event(
            &mut tx,
            ctx,
            Subject { kind: SubjectKind::Post, id: post.id.to_string() },
            1,
            EventPayload::CommunityPosted {
                workspace_id: post.workspace_id.clone(),
                post_id: post.id.clone(),
                author_id: post.author_id.clone(),
                body: post.body.clone(),
                mentions: post.mentions.clone(),
            },
            now,
        )
        .await?;
        self.commit_with_events(tx).await?;
        Ok(post)
    }

    async fn posts_in(&self, workspace: &WorkspaceId, limit: i64) -> StoreResult<Vec<Post>> {
        let rows = sqlx::query(
            "SELECT id, workspace_id, author_id, body, mentions, created_at FROM community_posts \
             WHERE workspace_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2",
        )
        .bind(workspace.as_str())
        .bind(limit)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|row| {
                let mentions: String = row.try_get("mentions")?;
                Ok(Post {
                    id: PostId::from_trusted(row.try_get("id")?),
                    workspace_id: WorkspaceId::from_trusted(row.try_get("workspace_id")?),
                    author_id: UserId::from_trusted(row.try_get("author_id")?),
                    body: row.try_get("body")?,
                    mentions: serde_json::from_str(&mentions).map_err(|e| StoreError::Corrupt(e.to_string()))?,
                    created_at: row.try_get("created_at")?,
                })
            })
            .collect()
    }
}
