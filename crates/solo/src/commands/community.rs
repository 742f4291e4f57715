//! `solo community list|post`: the workspace's community feed.

use serde_json::{json, Value};

use super::{resolve_workspace, CommunityCommand};
use crate::client::Api;
use crate::output::{local_time, Output};

fn print_post(out: Output, post: &Value) {
    if out.json {
        out.json(post);
        return;
    }
    out.line(&format!(
        "{} {}: {}  {}",
        out.dim(&local_time(post["createdAt"].as_str().unwrap_or(""))),
        post["authorId"].as_str().unwrap_or(""),
        post["body"].as_str().unwrap_or(""),
        out.dim(post["id"].as_str().unwrap_or(""))
    ));
}

pub async fn run(command: CommunityCommand, out: Output) -> anyhow::Result<()> {
    let api = Api::from_config()?;
    match command {
        CommunityCommand::List { limit, workspace } => {
            let mut path = format!("/api/community/posts?limit={}", limit.clamp(1, 200));
            if workspace.is_some() {
                path.push_str(&format!("&workspaceId={}", resolve_workspace(&api, workspace.as_deref()).await?));
            }
            let page: Value = api.get(&path).await?;
            for post in page["items"].as_array().cloned().unwrap_or_default() {
                print_post(out, &post);
            }
        }
        CommunityCommand::Post { text, workspace } => {
            let mut body = json!({ "body": text });
            if workspace.is_some() {
                body["workspaceId"] = json!(resolve_workspace(&api, workspace.as_deref()).await?);
            }
            print_post(out, &api.post("/api/community/posts", body).await?);
        }
    }
    Ok(())
}
