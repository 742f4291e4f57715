//! `solo workspace config show|set`: the workspace's settings, which its admins change.

use serde_json::{json, Value};
use solo_domain::{QuietHours, WorkspaceConfig};

use super::{resolve_workspace, ConfigKey, WorkspaceCommand, WorkspaceConfigCommand};
use crate::client::Api;
use crate::output::{describe_quiet, Output};

/// The settings in the server's answer (`WorkspaceConfigView`).
fn config_of(view: &Value) -> anyhow::Result<WorkspaceConfig> {
    serde_json::from_value(view["config"].clone())
        .map_err(|e| anyhow::anyhow!("the server sent workspace settings this CLI cannot read: {e}"))
}

/// The default quiet hours in a few words.
pub fn describe_default(quiet: Option<&QuietHours>) -> String {
    match quiet {
        Some(quiet) => describe_quiet(quiet),
        None => "not set (the server's default applies)".to_owned(),
    }
}

fn print(out: Output, view: &Value) -> anyhow::Result<()> {
    if out.json {
        out.json(view);
        return Ok(());
    }
    let config = config_of(view)?;
    out.line(&format!(
        "workspace {} settings, version {}",
        view["workspaceId"].as_str().unwrap_or("?"),
        view["version"].as_i64().unwrap_or(0)
    ));
    out.line(&format!("default quiet hours: {}", describe_default(config.default_quiet_hours.as_ref())));
    Ok(())
}

/// The value of `default-quiet-hours`: a window such as `22:00-07:00` (on),
/// `off` (a default of no quiet hours) or `none` (unset: the server's default).
fn default_quiet_hours(
    value: &str,
    tz: &str,
    allow_urgent: bool,
    current: Option<&QuietHours>,
) -> anyhow::Result<Option<QuietHours>> {
    match value {
        "none" => Ok(None),
        "off" => {
            let mut quiet = current.cloned().unwrap_or_else(QuietHours::off);
            quiet.enabled = false;
            Ok(Some(quiet))
        }
        window => {
            let (start, end) = window.split_once('-').ok_or_else(|| {
                anyhow::anyhow!("expected a window like 22:00-07:00, `off` or `none`, not `{window}`")
            })?;
            Ok(Some(QuietHours {
                enabled: true,
                start: start.to_owned(),
                end: end.to_owned(),
                timezone: tz.to_owned(),
                allow_urgent,
            }))
        }
    }
}

pub async fn run(command: WorkspaceCommand, out: Output) -> anyhow::Result<()> {
    let api = Api::from_config()?;
    match command {
        WorkspaceCommand::Config { command } => match command {
            WorkspaceConfigCommand::Show { workspace } => {
                let id = resolve_workspace(&api, workspace.as_deref()).await?;
                let view: Value = api.get(&format!("/api/workspaces/{id}/config")).await?;
                print(out, &view)
            }
            WorkspaceConfigCommand::Set { key, value, tz, allow_urgent, workspace } => {
                let id = resolve_workspace(&api, workspace.as_deref()).await?;
                let path = format!("/api/workspaces/{id}/config");
                // The document is replaced as a whole: start from what it holds now.
                let mut config = config_of(&api.get::<Value>(&path).await?)?;
                match key {
                    ConfigKey::DefaultQuietHours => {
                        config.default_quiet_hours =
                            default_quiet_hours(&value, &tz, allow_urgent, config.default_quiet_hours.as_ref())?;
                    }
                }
                let view: Value = api.call(reqwest::Method::PUT, &path, Some(json!(config))).await?;
                print(out, &view)
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_quiet_hours_values() {
        let on = default_quiet_hours("22:00-07:00", "Europe/Paris", true, None).expect("window");
        assert_eq!(
            on,
            Some(QuietHours {
                enabled: true,
                start: "22:00".into(),
                end: "07:00".into(),
                timezone: "Europe/Paris".into(),
                allow_urgent: true
            })
        );
        let off = default_quiet_hours("off", "UTC", false, on.as_ref()).expect("off");
        assert_eq!(off.as_ref().map(|q| (q.enabled, q.start.as_str())), Some((false, "22:00")), "keeps the window");
        assert_eq!(default_quiet_hours("none", "UTC", false, on.as_ref()).expect("none"), None);
        assert!(default_quiet_hours("tonight", "UTC", false, None).is_err());
    }
}
