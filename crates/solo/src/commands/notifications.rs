//! `solo notifications watch|list|read|unread|read-all`.

use std::cell::RefCell;

use serde_json::{json, Value};
use solo_domain::{QuietHours, Severity};

use super::script::Timeout;
use super::{NotificationsCommand, Switch};
use crate::client::realtime::{Item, Watcher};
use crate::client::Api;
use crate::output::{describe_quiet, local_time, Output};

const CATEGORIES: [&str; 4] = ["missions", "workstations", "community", "system"];

fn check_category(category: &Option<String>) -> anyhow::Result<()> {
    if let Some(c) = category {
        if !CATEGORIES.contains(&c.as_str()) {
            anyhow::bail!("unknown category `{c}`: use {}", CATEGORIES.join(", "));
        }
    }
    Ok(())
}

/// The caller's quiet hours as a running watch knows them: read at start, then
/// replaced by every newer `preferences.updated` event, so a change made in the
/// web UI or another terminal applies at once, without a restart; while the
/// caller has none of their own (version 0), read again whenever their
/// workspace's settings change (`config.updated`).
struct LiveQuietHours {
    quiet: QuietHours,
    version: i64,
    /// Whether they are the caller's own (else a default applies, and may change).
    own: bool,
    /// Where each category's notifications show (`surfaces` of the preferences).
    surfaces: Value,
}

impl LiveQuietHours {
    async fn load(api: &Api) -> anyhow::Result<Self> {
        let prefs: Value = api.get("/api/me/preferences").await?;
        let quiet = serde_json::from_value(prefs["quietHours"].clone())
            .map_err(|e| anyhow::anyhow!("the server sent preferences this CLI cannot read: {e}"))?;
        let version = prefs["version"].as_i64().unwrap_or(0);
        let own = prefs["quietHoursSet"].as_bool().unwrap_or(version > 0);
        Ok(Self { quiet, version, own, surfaces: prefs["surfaces"].clone() })
    }

    /// Takes the quiet hours of a `preferences.updated` event newer than those held;
    /// returns them when they changed (a change of mission rules leaves them as they were).
    fn apply(&mut self, event: &Value) -> Option<&QuietHours> {
        let version = event["version"].as_i64()?;
        if version <= self.version {
            return None;
        }
        let quiet: QuietHours = serde_json::from_value(event["data"]["quietHours"].clone()).ok()?;
        self.version = version;
        self.own = event["data"]["quietHoursSet"].as_bool().unwrap_or(true);
        self.surfaces = event["data"]["surfaces"].clone();
        if quiet == self.quiet {
            return None;
        }
        self.quiet = quiet;
        Some(&self.quiet)
    }

    /// Whether the caller lets a notification's category show in a CLI watch.
    fn shows(&self, n: &Value) -> bool {
        let category = n["category"].as_str().unwrap_or("");
        self.surfaces[category]["cli"].as_bool().unwrap_or(true)
    }

    /// Whether a notification shown now falls in the quiet hours in force now.
    fn is_quiet_now(&self, n: &Value) -> bool {
        let severity = n["severity"].as_str().and_then(Severity::parse).unwrap_or(Severity::Info);
        self.quiet.is_quiet(chrono::Utc::now().timestamp_millis(), severity)
    }
}

fn human(out: Output, n: &Value) -> String {
    let marker = if n["readAt"].is_null() { out.bold("●") } else { out.dim("○") };
    let severity = match n["severity"].as_str() {
        Some("urgent") => out.paint(" URGENT", "31;1"),
        Some("warning") => out.paint(" warning", "33"),
        _ => String::new(),
    };
    let mut quiet = if n["quiet"] == true { out.dim(" (quiet)") } else { String::new() };
    if let Some(updates) = n["updates"].as_i64().filter(|u| *u > 0) {
        quiet.push_str(&out.dim(&format!(" (updated ×{updates})")));
    }
    if n["doneAt"].is_string() {
        quiet.push_str(&out.dim(" (done)"));
    } else if let Some(until) = n["snoozedUntil"].as_str() {
        quiet.push_str(&out.dim(&format!(" (snoozed until {})", local_time(until))));
    }
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
        NotificationsCommand::Watch { category, since, script } => {
            check_category(&category)?;
            let script = script.script();
            let me: Value = api.get("/api/me").await?;
            let user = me["id"].as_str().unwrap_or_default().to_owned();
            let quiet = RefCell::new(LiveQuietHours::load(&api).await?);
            // Someone who never set quiet hours has their workspace's default:
            // follow the workspaces' `config.updated` too, and read the quiet
            // hours in force again when one arrives.
            let mut workspaces: Vec<Watcher> = if !quiet.borrow().own {
                me["workspaces"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|w| w["id"].as_str())
                    .map(|id| Watcher::new(api.clone(), format!("workspace:{id}"), false))
                    .collect()
            } else {
                Vec::new()
            };
            let (stale, mut refresh) = tokio::sync::mpsc::unbounded_channel::<()>();
            let mut watcher = Watcher::new(api.clone(), format!("notifications:{user}"), false);
            let mut handle = |item: Item| {
                let Item::Event(event) = item else { return Ok(()) };
                if event["type"] == "preferences.updated" {
                    if let Some(now) = quiet.borrow_mut().apply(&event) {
                        eprintln!("quiet hours changed: {}", describe_quiet(now));
                    }
                    return Ok(());
                }
                // A woken snooze comes back as a fresh arrival, bell included; so does
                // a notification a later event about the same subject replaced.
                let arrival = ["notification.created", "notification.woke", "notification.updated"];
                if !arrival.iter().any(|t| event["type"] == *t) {
                    return Ok(());
                }
                let n = &event["data"]["notification"];
                if category.as_deref().is_some_and(|c| n["category"] != c) {
                    return Ok(());
                }
                if !quiet.borrow().shows(n) {
                    // The caller switched this category off for the CLI: not printed, no bell.
                } else if out.json {
                    out.json(n);
                } else {
                    // Quiet as the server marked it, or by the quiet hours in force now
                    // (a replayed or late notification follows today's settings).
                    let silent = n["quiet"] == true || quiet.borrow().is_quiet_now(n);
                    let mut shown = n.clone();
                    shown["quiet"] = json!(silent);
                    out.line(&human(out, &shown));
                    if !silent {
                        out.bell();
                    }
                }
                // For `--until`, a notification's `type` is the event that caused it.
                script.on_event(n, n["type"].as_str(), n)
            };
            let follow_workspaces = async {
                if workspaces.is_empty() {
                    return std::future::pending::<anyhow::Result<()>>().await;
                }
                let runs = workspaces.iter_mut().map(|w| {
                    let stale = stale.clone();
                    let quiet = &quiet;
                    Box::pin(w.run(move |item| {
                        if let Item::Event(event) = item {
                            if event["type"] == "config.updated" && !quiet.borrow().own {
                                let _ = stale.send(());
                            }
                        }
                        Ok(())
                    }))
                });
                futures::future::select_all(runs).await.0
            };
            let refresher = async {
                while refresh.recv().await.is_some() {
                    let fresh = match LiveQuietHours::load(&api).await {
                        Ok(fresh) => fresh,
                        Err(e) => {
                            eprintln!("could not read the quiet hours in force: {e:#}");
                            continue;
                        }
                    };
                    let mut held = quiet.borrow_mut();
                    // A change of their own since then wins over any workspace default.
                    if !held.own && !fresh.own && fresh.quiet != held.quiet {
                        held.quiet = fresh.quiet;
                        eprintln!("quiet hours changed: {} (default)", describe_quiet(&held.quiet));
                    }
                }
                Ok::<(), anyhow::Error>(())
            };
            let watch = async {
                if let Some(since) = &since {
                    watcher.replay(since, &mut handle).await?;
                }
                tokio::select! {
                    done = watcher.run(handle) => done,
                    done = follow_workspaces => done,
                    done = refresher => done,
                }
            };
            script.finish(watch).await
        }
        NotificationsCommand::List { unread, category, limit, state } => {
            check_category(&category)?;
            let mut path = format!("/api/notifications?limit={}&state={}", limit.clamp(1, 100), state.as_str());
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
        NotificationsCommand::Surface { category, toast, inbox, cli } => {
            check_category(&Some(category.clone()))?;
            let prefs: Value = api.get("/api/me/preferences").await?;
            let mut surfaces = prefs["surfaces"].clone();
            for (name, value) in [("toast", toast), ("inbox", inbox), ("cli", cli)] {
                if let Some(on) = value {
                    surfaces[&category][name] = json!(on == Switch::On);
                }
            }
            let saved: Value = api.call(reqwest::Method::PUT, "/api/me/preferences/surfaces", Some(surfaces)).await?;
            if out.json {
                out.json(&saved["surfaces"]);
            } else {
                let of = &saved["surfaces"][&category];
                let word = |name: &str| if of[name] == true { "on" } else { "off" };
                out.line(&format!("{category}: toast {}, inbox {}, cli {}", word("toast"), word("inbox"), word("cli")));
            }
            Ok(())
        }
        NotificationsCommand::Explain { id, event, user } => {
            let path = match (id, event) {
                (Some(id), _) => format!("/api/notifications/{id}/explain"),
                (None, Some(event)) => match user {
                    Some(user) => format!("/api/events/{event}/explain?user={}", urlencoding(&user)),
                    None => format!("/api/events/{event}/explain"),
                },
                (None, None) => anyhow::bail!("say what to explain: a notification id, or --event EVENT_ID"),
            };
            let explanation: Value = api.get(&path).await?;
            if out.json {
                out.json(&explanation);
            } else {
                for sentence in explanation["summary"].as_array().into_iter().flatten().filter_map(Value::as_str) {
                    out.line(sentence);
                }
            }
            Ok(())
        }
        NotificationsCommand::History { id } => {
            let history: Value = api.get(&format!("/api/notifications/{id}/history")).await?;
            for event in history["items"].as_array().into_iter().flatten() {
                if out.json {
                    out.json(event);
                } else {
                    let line = match event["type"].as_str() {
                        Some("workstation.status_changed") => format!(
                            "{} → {}",
                            event["data"]["from"].as_str().unwrap_or(""),
                            event["data"]["to"].as_str().unwrap_or("")
                        ),
                        _ => super::mission_detail::describe(event).unwrap_or_default(),
                    };
                    out.line(&format!("{} {line}", out.dim(&local_time(event["ts"].as_str().unwrap_or("")))));
                }
            }
            Ok(())
        }
        NotificationsCommand::Read { ids } => mark(&api, out, &ids, "read").await,
        NotificationsCommand::Unread { ids } => mark(&api, out, &ids, "unread").await,
        NotificationsCommand::Wake { ids } => mark(&api, out, &ids, "wake").await,
        NotificationsCommand::Done { ids } => mark(&api, out, &ids, "done").await,
        NotificationsCommand::Undone { ids } => mark(&api, out, &ids, "undone").await,
        NotificationsCommand::Snooze { ids, duration, until } => {
            let until = match (duration, until) {
                (Some(Timeout(d)), _) => {
                    let ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
                    solo_domain::time::format_ms(chrono::Utc::now().timestamp_millis().saturating_add(ms))
                }
                (None, Some(until)) => until,
                (None, None) => anyhow::bail!("say how long: --for DURATION or --until TIME"),
            };
            for id in &ids {
                let n: Value = api.post(&format!("/api/notifications/{id}/snooze"), json!({ "until": until })).await?;
                if out.json {
                    out.json(&n);
                } else {
                    let back = local_time(n["snoozedUntil"].as_str().unwrap_or(""));
                    out.line(&format!("snoozed until {back}: {}", human(out, &n)));
                }
            }
            Ok(())
        }
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

/// A user name as a query parameter value (names are letters, digits and a few marks; anything else is escaped).
fn urlencoding(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn event(version: i64, enabled: bool) -> Value {
        json!({
            "type": "preferences.updated",
            "version": version,
            "data": { "userId": "u_1", "quietHours": {
                "enabled": enabled, "start": "00:00", "end": "23:59", "timezone": "UTC", "allowUrgent": true
            } }
        })
    }

    #[test]
    fn a_newer_preferences_event_changes_what_is_quiet_and_an_older_one_does_not() {
        let mut live = LiveQuietHours { quiet: QuietHours::off(), version: 2, own: true, surfaces: Value::Null };
        let info = json!({ "severity": "info" });
        let urgent = json!({ "severity": "urgent" });
        assert!(!live.is_quiet_now(&info));
        assert!(live.apply(&event(2, true)).is_none(), "not newer than what is held");
        assert!(!live.is_quiet_now(&info));
        assert!(live.apply(&event(3, true)).is_some());
        // 00:00–23:59 UTC: quiet but for the last minute of the day.
        let last_minute = chrono::Utc::now().format("%H:%M").to_string() == "23:59";
        assert_eq!(live.is_quiet_now(&info), !last_minute);
        assert!(!live.is_quiet_now(&urgent), "urgent passes when allowed");
        assert!(live.apply(&event(4, false)).is_some());
        assert!(!live.is_quiet_now(&info));
    }
}
