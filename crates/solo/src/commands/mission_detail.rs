//! One mission: `solo missions show|watch|fallback|subscribe|unsubscribe`.

use serde_json::{json, Value};

use crate::client::realtime::{Item, Watcher};
use crate::client::since::Since;
use crate::client::Api;
use crate::commands::script::Script;
use crate::output::{local_time, Output};

/// The mission's events kept in its channel's history, oldest first (at most 1,000).
async fn history(api: &Api, id: &str) -> anyhow::Result<Vec<Value>> {
    let page: Value = api.get(&format!("/api/events?channel=mission:{id}&limit=1000")).await?;
    Ok(page["items"].as_array().cloned().unwrap_or_default().into_iter().map(|i| i["event"].clone()).collect())
}

/// A mission the caller may see, or the server's 404 (so a wrong id fails before anything is followed).
async fn mission(api: &Api, id: &str) -> anyhow::Result<Value> {
    api.get(&format!("/api/missions/{id}")).await
}

/// One event of a mission's channel in a line, for people.
pub fn describe(event: &Value) -> Option<String> {
    let d = &event["data"];
    let text = |key: &str| d[key].as_str().unwrap_or("").to_owned();
    let line = match event["type"].as_str()? {
        "mission.created" => format!("created “{}” in {}", text("title"), text("stage")),
        "mission.stage_changed" => format!("moved from {} to {}", text("from"), text("to")),
        "review.decided" => {
            let comment = d["comment"].as_str().map(|c| format!(" — {c}")).unwrap_or_default();
            format!("review by {}: {}{comment}", text("reviewerId"), text("decision"))
        }
        "fallback.generated" => format!("fallback {}: {} — {}", text("fallbackId"), text("reason"), text("summary")),
        "agent.status_changed" => format!(
            "agent {} on {}: {} → {}",
            text("name"),
            text("workstationId"),
            d["from"].as_str().unwrap_or("new"),
            text("to")
        ),
        other => other.to_owned(),
    };
    Some(line)
}

fn print_event(out: Output, event: &Value) {
    if out.json {
        out.json(event);
    } else if let Some(line) = describe(event) {
        out.line(&format!(
            "{} v{:<3} {line}",
            out.dim(&local_time(event["ts"].as_str().unwrap_or(""))),
            event["version"]
        ));
    }
}

/// `solo missions show ID`: the mission, its watchers, reviews and fallbacks.
pub async fn show(api: &Api, out: Output, id: &str) -> anyhow::Result<()> {
    let mut detail = mission(api, id).await?;
    let fallbacks: Vec<Value> = history(api, id)
        .await?
        .into_iter()
        .filter(|e| e["type"] == "fallback.generated")
        .map(|e| {
            json!({
                "id": e["data"]["fallbackId"], "reason": e["data"]["reason"], "summary": e["data"]["summary"],
                "createdBy": e["actor"]["id"], "createdAt": e["ts"],
            })
        })
        .collect();
    if out.json {
        detail["fallbacks"] = json!(fallbacks);
        out.json(&detail);
        return Ok(());
    }
    out.line(&format!(
        "{}  {}\n  stage {} · version {} · owner {}",
        detail["id"].as_str().unwrap_or(""),
        out.bold(detail["title"].as_str().unwrap_or("")),
        detail["stage"].as_str().unwrap_or(""),
        detail["version"],
        detail["ownerId"].as_str().unwrap_or("")
    ));
    let watchers: Vec<&str> =
        detail["watcherIds"].as_array().map(|w| w.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
    out.line(&format!("  watchers: {}", if watchers.is_empty() { "none".to_owned() } else { watchers.join(", ") }));
    let reviews = detail["reviews"].as_array().cloned().unwrap_or_default();
    out.line(&format!("  reviews: {}", reviews.len()));
    for r in &reviews {
        let comment = r["comment"].as_str().map(|c| format!(" — {c}")).unwrap_or_default();
        out.line(&format!(
            "    {} {} by {}{comment}",
            out.dim(&local_time(r["createdAt"].as_str().unwrap_or(""))),
            r["decision"].as_str().unwrap_or(""),
            r["reviewerId"].as_str().unwrap_or("")
        ));
    }
    out.line(&format!("  fallbacks: {}", fallbacks.len()));
    for f in &fallbacks {
        out.line(&format!(
            "    {} {}: {}",
            out.dim(&local_time(f["createdAt"].as_str().unwrap_or(""))),
            f["reason"].as_str().unwrap_or(""),
            f["summary"].as_str().unwrap_or("")
        ));
    }
    Ok(())
}

/// `solo missions watch ID`: the mission's events as they happen (after what
/// was missed since `since`, if given). With `--until`, a condition the
/// mission already meets (`stage=review` while it is in review) is met at once.
pub async fn watch(api: Api, out: Output, id: &str, since: Option<Since>, script: Script) -> anyhow::Result<()> {
    let detail = mission(&api, id).await?;
    eprintln!(
        "following “{}” ({}, {})",
        detail["title"].as_str().unwrap_or(""),
        detail["stage"].as_str().unwrap_or(""),
        detail["id"].as_str().unwrap_or(id)
    );
    if script.met_already(None, &detail) {
        eprintln!("condition already met");
        return Ok(());
    }
    let mut stage = detail["stage"].clone();
    let mut watcher = Watcher::new(api, format!("mission:{}", detail["id"].as_str().unwrap_or(id)), false);
    let mut handle = |item: Item| {
        let Item::Event(event) = item else { return Ok(()) };
        print_event(out, &event);
        // `stage` in a condition is the mission's stage once the event happened,
        // whatever the event (a stage change names it `to`).
        match event["type"].as_str() {
            Some("mission.stage_changed") => stage = event["data"]["to"].clone(),
            Some("mission.created") => stage = event["data"]["stage"].clone(),
            _ => {}
        }
        let mut fields = event["data"].clone();
        if let Some(data) = fields.as_object_mut() {
            data.entry("stage").or_insert_with(|| stage.clone());
        }
        script.on_event(&event, event["type"].as_str(), &fields)
    };
    script
        .finish(async {
            if let Some(since) = &since {
                watcher.replay(since, &mut handle).await?;
            }
            watcher.run(handle).await
        })
        .await
}

/// `solo missions fallback ID --reason … --summary …`: records a fallback generation.
pub async fn fallback(api: &Api, out: Output, id: &str, reason: &str, summary: &str) -> anyhow::Result<()> {
    let created: Value =
        api.post(&format!("/api/missions/{id}/fallbacks"), json!({ "reason": reason, "summary": summary })).await?;
    if out.json {
        out.json(&created);
    } else {
        out.line(&format!(
            "fallback {} recorded on “{}” (version {})",
            created["fallback"]["id"].as_str().unwrap_or(""),
            created["mission"]["title"].as_str().unwrap_or(""),
            created["mission"]["version"]
        ));
    }
    Ok(())
}

/// `solo missions subscribe|unsubscribe ID`: adds or removes the caller as a watcher.
pub async fn set_watching(api: &Api, out: Output, id: &str, watching: bool) -> anyhow::Result<()> {
    let method = if watching { reqwest::Method::POST } else { reqwest::Method::DELETE };
    api.call::<Value>(method, &format!("/api/missions/{id}/watch"), None).await?;
    if out.json {
        out.json(&json!({ "missionId": id, "watching": watching }));
    } else if watching {
        out.line(&format!("watching {id}: its changes notify you"));
    } else {
        out.line(&format!("no longer watching {id}"));
    }
    Ok(())
}

/// `solo missions mute|unmute ID`: the caller's rule for one mission, kept on the server.
pub async fn set_rule(api: &Api, out: Output, id: &str, rule: Option<&str>) -> anyhow::Result<()> {
    let prefs: Value = api
        .call(reqwest::Method::PUT, &format!("/api/me/preferences/missions/{id}"), Some(json!({ "rule": rule })))
        .await?;
    if out.json {
        out.json(&json!({ "missionId": id, "rule": rule, "missionRules": prefs["missionRules"] }));
    } else {
        out.line(&match rule {
            Some("urgent_only") => format!("{id}: only its urgent notifications reach you"),
            Some(_) => format!("{id}: muted, nothing of it reaches you"),
            None => format!("{id}: its notifications reach you as the rules say"),
        });
    }
    Ok(())
}
