//! `solo notifications watch|list|read|unread|read-all`.

use serde_json::{json, Value};

use super::NotificationsCommand;
use crate::client::realtime::{Item, Watcher};
use crate::client::Api;
use crate::output::{local_time, Output};

const CATEGORIES: [&str; 4] = ["missions", "workstations", "community", "system"];

fn check_category(category: &Option<String>) -> anyhow::Result<()> {
    if let Some(c) = category {
        if !CATEGORIES.contains(&c.as_str()) {
            anyhow::bail!("unknown category `{c}`: use {}", CATEGORIES.join(", "));
        }
    }
    Ok(())
}

fn human(out: Output, n: &Value) -> String {
    let marker = if n["readAt"].is_null() { out.bold("●") } else { out.dim("○") };
    let severity = match n["severity"].as_str() {
        Some("urgent") => out.paint(" URGENT", "31;1"),
        Some("warning") => out.paint(" warning", "33"),
        _ => String::new(),
    };
    let quiet = if n["quiet"] == true { out.dim(" (quiet)") } else { String::new() };
    let body = n["body"].as_str().map(|b| format!(" — {b}")).unwrap_or_default();
    format!(
        "{marker} {} {:<12}{severity} {}{body}{quiet}  {}",
        out.dim(&local_time(n["createdAt"].as_str().unwrap_or(""))),
        n["category"].as_str().unwrap_or(""),
        out.bold(n["title"].as_str().unwrap_or("")),
        out.dim(n["id"].as_str().unwrap_or("")),
    )
}

pub async fn run(command: NotificationsCommand, out: Output) -> anyhow::Result<()> {
    let api = Api::from_config()?;
    match command {
        NotificationsCommand::Watch { category } => {
            check_category(&category)?;
            let me: Value = api.get("/api/me").await?;
            let user = me["id"].as_str().unwrap_or_default().to_owned();
            let mut watcher = Watcher::new(api, format!("notifications:{user}"), false);
            watcher
                .run(|item| {
                    let Item::Event(event) = item else { return Ok(()) };
                    if event["type"] != "notification.created" {
                        return Ok(());
                    }
                    let n = &event["data"]["notification"];
                    if category.as_deref().is_some_and(|c| n["category"] != c) {
                        return Ok(());
                    }
                    if out.json {
                        out.json(n);
                    } else {
                        out.line(&human(out, n));
                        if n["quiet"] != true {
                            out.bell();
                        }
                    }
                    Ok(())
                })
                .await
        }
        NotificationsCommand::List { unread, category, limit } => {
            check_category(&category)?;
            let mut path = format!("/api/notifications?limit={}", limit.clamp(1, 100));
            if unread {
                path.push_str("&unread=true");
            }
            if let Some(c) = &category {
                path.push_str(&format!("&category={c}"));
            }
            let page: Value = api.get(&path).await?;
            for n in page["items"].as_array().cloned().unwrap_or_default() {
                if out.json {
                    out.json(&n);
                } else {
                    out.line(&human(out, &n));
                }
            }
            if !out.json {
                eprintln!("{} unread", page["unreadCount"]);
            }
            Ok(())
        }
        NotificationsCommand::Read { ids } => mark(&api, out, &ids, "read").await,
        NotificationsCommand::Unread { ids } => mark(&api, out, &ids, "unread").await,
        NotificationsCommand::ReadAll { category } => {
            check_category(&category)?;
            let body = match &category {
                Some(c) => json!({ "category": c }),
                None => json!({}),
            };
            let result: Value = api.post("/api/notifications/read-all", body).await?;
            if out.json {
                out.json(&result);
            } else {
                out.line(&format!("marked {} read; {} unread", result["marked"], result["unread"]["total"]));
            }
            Ok(())
        }
    }
}

async fn mark(api: &Api, out: Output, ids: &[String], state: &str) -> anyhow::Result<()> {
    for id in ids {
        let n: Value = api.post(&format!("/api/notifications/{id}/{state}"), json!({})).await?;
        if out.json {
            out.json(&n);
        } else {
            out.line(&human(out, &n));
        }
    }
    Ok(())
}
