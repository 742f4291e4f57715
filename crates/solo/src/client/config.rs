//! Where the CLI keeps its server URL and token: `$XDG_CONFIG_HOME/solo/cli.json`
//! (or `~/.config/solo/cli.json`), readable by the user only. `SOLO_SERVER` and
//! `SOLO_TOKEN` override the file, for scripts and services.

use std::path::PathBuf;

use anyhow::Context;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct CliConfig {
    pub server: String,
    pub token: String,
}

pub fn path() -> anyhow::Result<PathBuf> {
    let base = match std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => {
            PathBuf::from(std::env::var_os("HOME").context("neither XDG_CONFIG_HOME nor HOME is set")?).join(".config")
        }
    };
    Ok(base.join("solo").join("cli.json"))
}

/// The configuration in force: the environment over the file. `None` when neither has a token.
pub fn load() -> anyhow::Result<Option<CliConfig>> {
    let mut config = match std::fs::read(path()?) {
        Ok(bytes) => serde_json::from_slice::<CliConfig>(&bytes)
            .context("the CLI config file is not valid; run `solo login` again")?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => CliConfig::default(),
        Err(e) => return Err(e).context("cannot read the CLI config file"),
    };
    if let Ok(server) = std::env::var("SOLO_SERVER") {
        config.server = server;
    }
    if let Ok(token) = std::env::var("SOLO_TOKEN") {
        config.token = token;
    }
    if config.token.is_empty() {
        return Ok(None);
    }
    if config.server.is_empty() {
        config.server = "http://127.0.0.1:7070".to_owned();
    }
    Ok(Some(config))
}

pub fn save(config: &CliConfig) -> anyhow::Result<PathBuf> {
    let path = path()?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let bytes = serde_json::to_vec_pretty(config)?;
    write_private(&path, &bytes).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

pub fn remove() -> anyhow::Result<bool> {
    match std::fs::remove_file(path()?) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e).context("cannot remove the CLI config file"),
    }
}

#[cfg(unix)]
fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mut file = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)?;
    // The mode only applies on creation: tighten an existing file too.
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    file.write_all(bytes)
}

#[cfg(not(unix))]
fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}
