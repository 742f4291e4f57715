//! `solo missions …` and `solo workstations …`.

use std::time::Duration;

use serde_json::{json, Value};

use super::{mission_detail, resolve_workspace, MissionsCommand, WorkstationsCommand};
use crate::client::Api;
use crate::output::Output;

/// Missions asked for per request (the API's largest page).
const MISSIONS_PAGE: u32 = 500;

fn print_mission(out: Output, m: &Value) {
    if out.json {
        out.json(m);
    } else {
        out.line(&format!(
            "{}  {:<8} v{:<3} {}",
            m["id"].as_str().unwrap_or(""),
            m["stage"].as_str().unwrap_or(""),
            m["version"],
            m["title"].as_str().unwrap_or("")
        ));
    }
}

pub async fn missions(command: MissionsCommand, out: Output) -> anyhow::Result<()> {
    let api = Api::from_config()?;
    match command {
        MissionsCommand::List { stage } => {
            // Newest first, every page.
            let mut path = format!("/api/missions?limit={MISSIONS_PAGE}");
            if let Some(stage) = stage {
                path.push_str(&format!("&stage={stage}"));
            }
            let mut cursor: Option<String> = None;
            loop {
                let page_path = match &cursor {
                    Some(cursor) => format!("{path}&cursor={cursor}"),
                    None => path.clone(),
                };
                let list: Value = api.get(&page_path).await?;
                for m in list["items"].as_array().cloned().unwrap_or_default() {
                    print_mission(out, &m);
                }
                match list["nextCursor"].as_str() {
                    Some(next) => cursor = Some(next.to_owned()),
                    None => break,
                }
            }
        }
        MissionsCommand::Create { title, workspace } => {
            let mut body = json!({ "title": title });
            if workspace.is_some() {
                body["workspaceId"] = json!(resolve_workspace(&api, workspace.as_deref()).await?);
            }
            print_mission(out, &api.post("/api/missions", body).await?);
        }
        MissionsCommand::Stage { id, stage } => {
            print_mission(out, &api.post(&format!("/api/missions/{id}/stage"), json!({ "stage": stage })).await?);
        }
        MissionsCommand::Review { id, decision, comment } => {
            let mut body = json!({ "decision": decision });
            if let Some(comment) = comment {
                body["comment"] = json!(comment);
            }
            let result: Value = api.post(&format!("/api/missions/{id}/reviews"), body).await?;
            if out.json {
                out.json(&result);
            } else {
                out.line(&format!(
                    "{} on {}",
                    result["review"]["decision"].as_str().unwrap_or(""),
                    result["mission"]["title"].as_str().unwrap_or("")
                ));
            }
        }
        MissionsCommand::Show { id } => mission_detail::show(&api, out, &id).await?,
        MissionsCommand::Mute { id, urgent_only } => {
            let rule = if urgent_only { "urgent_only" } else { "mute" };
            mission_detail::set_rule(&api, out, &id, Some(rule)).await?
        }
        MissionsCommand::Unmute { id } => mission_detail::set_rule(&api, out, &id, None).await?,
        MissionsCommand::Watch { id, since, script } => {
            mission_detail::watch(api, out, &id, since, script.script()).await?
        }
        MissionsCommand::Fallback { id, reason, summary } => {
            mission_detail::fallback(&api, out, &id, &reason, &summary).await?
        }
        MissionsCommand::Subscribe { id } => mission_detail::set_watching(&api, out, &id, true).await?,
        MissionsCommand::Unsubscribe { id } => mission_detail::set_watching(&api, out, &id, false).await?,
    }
    Ok(())
}

fn print_workstation(out: Output, w: &Value) {
    if out.json {
        out.json(w);
        return;
    }
    let agents: Vec<String> = w["agents"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|a| format!("{}:{}", a["name"].as_str().unwrap_or(""), a["status"].as_str().unwrap_or("")))
        .collect();
    out.line(&format!(
        "{}  {:<9} {}  {}",
        w["id"].as_str().unwrap_or(""),
        w["status"].as_str().unwrap_or(""),
        w["name"].as_str().unwrap_or(""),
        agents.join(" ")
    ));
}

pub async fn workstations(command: WorkstationsCommand, out: Output) -> anyhow::Result<()> {
    let api = Api::from_config()?;
    match command {
        WorkstationsCommand::List => {
            let list: Value = api.get("/api/workstations").await?;
            for w in list["items"].as_array().cloned().unwrap_or_default() {
                print_workstation(out, &w);
            }
        }
        WorkstationsCommand::Create { name, workspace } => {
            let mut body = json!({ "name": name });
            if workspace.is_some() {
                body["workspaceId"] = json!(resolve_workspace(&api, workspace.as_deref()).await?);
            }
            print_workstation(out, &api.post("/api/workstations", body).await?);
        }
        WorkstationsCommand::Heartbeat { id, every, agents, once } => {
            const STATUSES: [&str; 3] = ["idle", "working", "waiting_review"];
            let mut tick: usize = 0;
            loop {
                // Simulated agents change status every few beats, for demos.
                let list: Vec<Value> = (0..agents as usize)
                    .map(|i| {
                        let status = STATUSES[(tick / 3 + i) % STATUSES.len()];
                        json!({ "id": format!("agent-{}", i + 1), "name": format!("Agent {}", i + 1), "status": status })
                    })
                    .collect();
                let w: Value =
                    api.post(&format!("/api/workstations/{id}/heartbeat"), json!({ "agents": list })).await?;
                print_workstation(out, &w);
                if once {
                    return Ok(());
                }
                tick += 1;
                tokio::time::sleep(Duration::from_secs(every.max(1))).await;
            }
        }
    }
    Ok(())
}
