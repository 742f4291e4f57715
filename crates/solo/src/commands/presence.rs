//! `solo presence watch`: live workstation and agent status, and who is online.

use serde_json::{json, Value};

use super::{resolve_workspace, PresenceCommand};
use crate::client::realtime::{Item, Watcher};
use crate::client::Api;
use crate::output::Output;

pub async fn run(command: PresenceCommand, out: Output) -> anyhow::Result<()> {
    let PresenceCommand::Watch { workspace } = command;
    let api = Api::from_config()?;
    let workspace = resolve_workspace(&api, workspace.as_deref()).await?;
    let summary: Value = api.get(&format!("/api/presence?workspaceId={workspace}")).await?;
    let s = &summary["items"][0];
    if out.json {
        out.json(&json!({ "kind": "summary", "summary": s }));
    } else {
        out.line(&format!(
            "workstations {}/{} online ({} degraded), agents working {}, people online {}",
            s["workstations"]["online"],
            s["workstations"]["total"],
            s["workstations"]["degraded"],
            s["agents"]["working"],
            s["people"]["online"]
        ));
    }
    let mut watcher = Watcher::new(api, format!("workspace:{workspace}"), true);
    watcher
        .run(|item| {
            let (kind, line, value) = match item {
                Item::Join(info) => {
                    ("join", format!("{} is online", info["conn_info"]["name"].as_str().unwrap_or("someone")), info)
                }
                Item::Leave(info) => {
                    ("leave", format!("{} left", info["conn_info"]["name"].as_str().unwrap_or("someone")), info)
                }
                Item::Event(event) => {
                    let d = &event["data"];
                    let line = match event["type"].as_str() {
                        Some("workstation.status_changed") => format!(
                            "workstation {}: {} → {}",
                            d["name"].as_str().unwrap_or(""),
                            d["from"].as_str().unwrap_or(""),
                            d["to"].as_str().unwrap_or("")
                        ),
                        Some("agent.status_changed") => format!(
                            "agent {} on {}: {} → {}",
                            d["name"].as_str().unwrap_or(""),
                            d["workstationId"].as_str().unwrap_or(""),
                            d["from"].as_str().unwrap_or("new"),
                            d["to"].as_str().unwrap_or("")
                        ),
                        _ => return Ok(()),
                    };
                    ("event", line, event)
                }
            };
            if out.json {
                out.json(&json!({ "kind": kind, "data": value }));
            } else {
                out.line(&line);
            }
            Ok(())
        })
        .await
}
