//! The community feed: posts and their mentions.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use solo_domain::time::format_ms;
use solo_domain::{PostId, UserId, WorkspaceId};
use solo_store::{NewPost, Post};

use crate::auth::{scopes, Caller};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::http::{conditional_json, ApiJson, ApiQuery};
use crate::state::AppState;
use crate::validate::text_field;

#[derive(Serialize, utoipa::ToSchema, ts_rs::TS)]
#[serde(rename_all = "camelCase")]
pub struct PostView {
    id: PostId,
    workspace_id: WorkspaceId,
    author_id: UserId,
    body: String,
    mentions: Vec<UserId>,
    created_at: String,
}

impl From<Post> for PostView {
    fn from(p: Post) -> Self {
        PostView {
            id: p.id,
            workspace_id: p.workspace_id,
            author_id: p.author_id,
            body: p.body,
            mentions: p.mentions,
            created_at: format_ms(p.created_at),
        }
    }
}

#[derive(Serialize, utoipa::ToSchema, ts_rs::TS)]
pub struct PostList {
    items: Vec<PostView>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PostsQuery {
    workspace_id: Option<WorkspaceId>,
    /// Newest first, at most this many (default 50, at most 200).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<i64>,
}

#[derive(Deserialize, utoipa::ToSchema, ts_rs::TS)]
#[ts(optional_fields)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreatePost {
    /// Text; `@name` mentions of workspace members notify them.
    #[schema(min_length = 1, max_length = 4000, pattern = r"\S")]
    body: String,
    #[serde(default)]
    workspace_id: Option<WorkspaceId>,
}

/// `@name` tokens in a post body.
fn mentioned_names(body: &str) -> Vec<&str> {
    body.split(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | ':' | '!' | '?' | '(' | ')'))
        .filter_map(|word| word.strip_prefix('@'))
        .map(|name| name.trim_end_matches('.'))
        .filter(|name| !name.is_empty())
        .collect()
}

/// The community feed of a workspace, newest first.
#[utoipa::path(get, path = "/api/community/posts", tag = "community", params(PostsQuery),
    responses((status = 200, body = PostList), (status = 304)))]
pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    caller: Caller,
    ApiQuery(query): ApiQuery<PostsQuery>,
) -> ApiResult<Response> {
    caller.require_scope(scopes::READ)?;
    let limit = query.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::BadRequest("`limit` must be between 1 and 200".into()));
    }
    let workspace = caller.pick_workspace(&state, query.workspace_id).await?;
    let posts = state.store().posts_in(&workspace, limit).await?;
    Ok(conditional_json(&headers, &PostList { items: posts.into_iter().map(PostView::from).collect() }))
}

/// Posts to the community feed; members mentioned as `@name` are recorded as mentions.
#[utoipa::path(post, path = "/api/community/posts", tag = "community", request_body = CreatePost,
    responses((status = 201, body = PostView), (status = 422, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<CreatePost>,
) -> ApiResult<Response> {
    caller.require_scope(scopes::WRITE)?;
    let body = text_field("body", &req.body, 4000)?;
    let workspace_id = caller.pick_workspace(&state, req.workspace_id).await?;
    let names = mentioned_names(&body);
    let mut mentions: Vec<UserId> = Vec::new();
    if !names.is_empty() {
        for member in state.store().workspace_members(&workspace_id).await? {
            if names.contains(&member.name.as_str()) && !mentions.contains(&member.id) {
                mentions.push(member.id);
            }
        }
    }
    let post = state
        .store()
        .create_post(
            &caller.write_context(),
            NewPost { workspace_id, author_id: caller.user.id.clone(), body, mentions },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(PostView::from(post))).into_response())
}

#[cfg(test)]
mod tests {
    #[test]
    fn finds_mentions() {
        assert_eq!(super::mentioned_names("hi @ada and @bo. (@cy) email@x"), vec!["ada", "bo", "cy"]);
    }
}
