//! `solo login`, `solo logout`, `solo tokens …`, `solo quiet-hours …`.

use serde_json::{json, Value};
use solo_domain::QuietHours;

use super::{QuietHoursCommand, TokensCommand};
use crate::client::config::{self, CliConfig};
use crate::client::Api;
use crate::output::{describe_quiet, Output};

pub async fn login(server: &str, token: &str, out: Output) -> anyhow::Result<()> {
    let api = Api::new(server, token)?;
    let me: Value = api.get("/api/me").await?;
    let path = config::save(&CliConfig { server: api.base.clone(), token: token.to_owned() })?;
    if out.json {
        out.json(&json!({ "user": me, "config": path }));
    } else {
        out.line(&format!(
            "signed in to {} as {} (saved in {})",
            api.base,
            me["name"].as_str().unwrap_or("?"),
            path.display()
        ));
    }
    Ok(())
}

pub fn logout(out: Output) -> anyhow::Result<()> {
    let removed = config::remove()?;
    if !out.json {
        out.line(if removed { "signed out" } else { "was not signed in" });
    }
    Ok(())
}

pub async fn tokens(command: TokensCommand, out: Output) -> anyhow::Result<()> {
    let api = Api::from_config()?;
    match command {
        TokensCommand::Create { name, scopes, expires_in_days } => {
            let mut body = json!({ "name": name });
            if let Some(scopes) = scopes {
                body["scopes"] = json!(scopes);
            }
            if let Some(days) = expires_in_days {
                body["expiresInDays"] = json!(days);
            }
            let created: Value = api.post("/api/tokens", body).await?;
            if out.json {
                out.json(&created);
            } else {
                eprintln!(
                    "created token {} ({}); it is shown once:",
                    created["id"].as_str().unwrap_or("?"),
                    created["name"].as_str().unwrap_or("")
                );
                out.line(created["token"].as_str().unwrap_or_default());
            }
        }
        TokensCommand::List => {
            let list: Value = api.get("/api/tokens").await?;
            for token in list["items"].as_array().cloned().unwrap_or_default() {
                if out.json {
                    out.json(&token);
                    continue;
                }
                let state = if token["revokedAt"].is_string() { "revoked" } else { "active" };
                out.line(&format!(
                    "{}  {:<20}  {:<8}  {}  last used {}",
                    token["id"].as_str().unwrap_or(""),
                    token["name"].as_str().unwrap_or(""),
                    state,
                    token["scopes"]
                        .as_array()
                        .map(|s| s.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(","))
                        .unwrap_or_default(),
                    token["lastUsedAt"].as_str().unwrap_or("never"),
                ));
            }
        }
        TokensCommand::Revoke { id } => {
            api.call::<Value>(reqwest::Method::DELETE, &format!("/api/tokens/{id}"), None).await?;
            if !out.json {
                out.line(&format!("revoked {id}"));
            }
        }
    }
    Ok(())
}

fn print_quiet(out: Output, prefs: &Value) -> anyhow::Result<()> {
    if out.json {
        out.json(prefs);
        return Ok(());
    }
    let quiet: QuietHours = serde_json::from_value(prefs["quietHours"].clone())
        .map_err(|e| anyhow::anyhow!("the server sent preferences this CLI cannot read: {e}"))?;
    out.line(&format!("quiet hours {}", describe_quiet(&quiet)));
    Ok(())
}

pub async fn quiet_hours(command: QuietHoursCommand, out: Output) -> anyhow::Result<()> {
    let api = Api::from_config()?;
    let prefs: Value = match command {
        QuietHoursCommand::Show => api.get("/api/me/preferences").await?,
        QuietHoursCommand::Set { window, tz, allow_urgent } => {
            let (start, end) =
                window.split_once('-').ok_or_else(|| anyhow::anyhow!("expected a window like 22:00-07:00"))?;
            let body = json!({ "quietHours": { "enabled": true, "start": start, "end": end, "timezone": tz, "allowUrgent": allow_urgent } });
            api.call(reqwest::Method::PUT, "/api/me/preferences", Some(body)).await?
        }
        QuietHoursCommand::Off => {
            let current: Value = api.get("/api/me/preferences").await?;
            let mut quiet = current["quietHours"].clone();
            quiet["enabled"] = json!(false);
            api.call(reqwest::Method::PUT, "/api/me/preferences", Some(json!({ "quietHours": quiet }))).await?
        }
    };
    print_quiet(out, &prefs)
}
