//! `solo admin`: bootstrap users and tokens in the database, no server needed.

use std::io::BufRead;
use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::Subcommand;
use solo_server::auth::{password, scopes};
use solo_server::routes::tokens::{check_token_request, issue_token};
use solo_store::{backup, AccountStore, NewUser, Role, SqlStore};

use crate::StoreArgs;

#[derive(Subcommand)]
pub enum AdminCommand {
    /// Users and their workspace memberships.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Personal access tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Sign a subscription token: USER may read CHANNEL (of a namespace in
    /// SOLO_INTEGRATION_NAMESPACES) for TTL seconds; prints only the token.
    /// What an integrator's backend signs itself in production.
    SubscriptionToken {
        /// The user (login name) the token is for.
        #[arg(long)]
        user: String,
        /// The integration channel, e.g. `chat:lobby`.
        #[arg(long)]
        channel: String,
        /// Seconds until it expires.
        #[arg(long, default_value_t = 3600)]
        ttl_secs: u32,
    },
    /// Copy the embedded SQLite database to PATH while the server serves (a
    /// consistent snapshot; PATH must not exist). PostgreSQL: use pg_dump.
    Backup {
        /// The new file to write the backup to.
        path: PathBuf,
    },
    /// Replace the embedded SQLite database with the backup at PATH. Refuses
    /// while a server or another command uses the database; the replaced
    /// database is kept beside it as `solo.db.before-restore-<seconds>`.
    Restore {
        /// A file written by `solo admin backup`.
        path: PathBuf,
    },
}

#[derive(Subcommand)]
pub enum UserCommand {
    /// Create a user and add them to a workspace (created if missing).
    Create {
        /// Login name (letters, digits, `-`, `_`, `.`).
        name: String,
        /// Workspace slug.
        #[arg(long)]
        workspace: String,
        /// Make the user an admin of the workspace.
        #[arg(long)]
        admin: bool,
        /// Read a password for web sign-in from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
        /// Name shown to others (default: the login name).
        #[arg(long)]
        display_name: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Create a personal access token; prints only the token on stdout.
    Create {
        /// The user the token acts for.
        #[arg(long)]
        user: String,
        /// A label to recognise the token by.
        #[arg(long)]
        name: String,
        /// Comma-separated scopes (default read,write; also notifications:write).
        #[arg(long, value_delimiter = ',')]
        scopes: Option<Vec<String>>,
        /// Days until the token expires (default: never).
        #[arg(long)]
        expires_in_days: Option<u32>,
    },
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

pub async fn run(store_args: &StoreArgs, command: AdminCommand) -> anyhow::Result<()> {
    let settings = store_args.settings()?;
    match command {
        // Neither opens the store: a backup reads the file as it is, and a
        // restore must run with nothing holding the database (opening it would).
        AdminCommand::Backup { path } => backup(&settings, path).await,
        AdminCommand::Restore { path } => restore(&settings, path).await,
        AdminCommand::User { command } => {
            let store = open(&settings).await?;
            let created = create_user(&store, command).await;
            store.close().await;
            created
        }
        AdminCommand::Token { command } => {
            let store = open(&settings).await?;
            let created = create_token(&store, command).await;
            store.close().await;
            created
        }
        AdminCommand::SubscriptionToken { user, channel, ttl_secs } => {
            let store = open(&settings).await?;
            let signed = subscription_token(&settings, &store, &user, &channel, ttl_secs).await;
            store.close().await;
            signed
        }
    }
}

async fn subscription_token(
    settings: &solo_server::settings::Settings,
    store: &SqlStore,
    user: &str,
    channel: &str,
    ttl_secs: u32,
) -> anyhow::Result<()> {
    let parsed = solo_domain::Channel::integration(channel).map_err(anyhow::Error::msg)?;
    let namespace = channel.split_once(':').map_or("", |(namespace, _)| namespace);
    if !settings.integration_namespace_list().iter().any(|configured| configured == namespace) {
        bail!("`{namespace}` is not in SOLO_INTEGRATION_NAMESPACES: a server would not serve {parsed}");
    }
    let Some(user) = store.user_by_name(user).await? else {
        bail!("no user named `{user}`");
    };
    let secret = solo_server::token_secret(settings, store).await?;
    let tokens = solo_server::token::ConnectionTokens::new(secret.as_bytes(), settings.connection_token_ttl_secs);
    let expires = solo_domain::time::now_ms() / 1000 + i64::from(ttl_secs);
    let token = tokens.issue_subscription(user.id.as_str(), channel, expires).map_err(anyhow::Error::msg)?;
    eprintln!("signed a subscription token for {} on {channel}, valid {ttl_secs} s", user.name);
    println!("{token}");
    Ok(())
}

async fn open(settings: &solo_server::settings::Settings) -> anyhow::Result<SqlStore> {
    solo_server::open_store(settings).await.context("cannot open the database")
}

async fn create_user(store: &SqlStore, command: UserCommand) -> anyhow::Result<()> {
    let UserCommand::Create { name, workspace, admin, password_stdin, display_name } = command;
    if !valid_name(&name) {
        bail!("user name must be 1 to 64 letters, digits, `-`, `_` or `.`");
    }
    if !valid_name(&workspace) {
        bail!("workspace slug must be 1 to 64 letters, digits, `-`, `_` or `.`");
    }
    let password_hash = if password_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).context("cannot read the password from stdin")?;
        let password = line.trim_end_matches(['\n', '\r']).to_owned();
        if password.chars().count() < password::MIN_LENGTH {
            bail!("the password must be at least {} characters", password::MIN_LENGTH);
        }
        Some(tokio::task::spawn_blocking(move || password::hash(&password)).await??)
    } else {
        None
    };
    let ws = store.ensure_workspace(&workspace, &workspace).await?;
    let user = store
        .create_user(NewUser { display_name: display_name.unwrap_or_else(|| name.clone()), name, password_hash })
        .await?;
    store.set_membership(&ws.id, &user.id, if admin { Role::Admin } else { Role::Member }).await?;
    eprintln!(
        "created user {} ({}) in workspace {}{}",
        user.name,
        user.id,
        ws.slug,
        if admin { " as admin" } else { "" }
    );
    println!("{}", user.id);
    Ok(())
}

async fn create_token(store: &SqlStore, command: TokenCommand) -> anyhow::Result<()> {
    let TokenCommand::Create { user, name, scopes: requested, expires_in_days } = command;
    let Some(user) = store.user_by_name(&user).await? else {
        bail!("no user named `{user}`");
    };
    let requested = requested.unwrap_or_else(|| scopes::DEFAULT.iter().map(|s| s.to_string()).collect());
    check_token_request(&name, &requested, expires_in_days).map_err(anyhow::Error::msg)?;
    let (secret, token) = issue_token(store, &user, &name, requested, expires_in_days).await?;
    eprintln!("created token {} for {}; it is shown once, store it now", token.id, user.name);
    println!("{secret}");
    Ok(())
}

/// The embedded database's file, or why there is none to back up or restore.
fn database_file(settings: &solo_server::settings::Settings) -> anyhow::Result<PathBuf> {
    Ok(backup::sqlite_file(&settings.effective_database_url())?)
}

async fn backup(settings: &solo_server::settings::Settings, path: PathBuf) -> anyhow::Result<()> {
    let db = database_file(settings)?;
    let copy = path.clone();
    let summary = tokio::task::spawn_blocking(move || backup::backup(&db, &copy)).await??;
    eprintln!(
        "backed up to {}: {} bytes, schema {}, {} events, {} notifications",
        path.display(),
        summary.bytes,
        summary.schema_version,
        summary.events,
        summary.notifications
    );
    println!("{}", path.display());
    Ok(())
}

async fn restore(settings: &solo_server::settings::Settings, path: PathBuf) -> anyhow::Result<()> {
    let db = database_file(settings)?;
    let target = db.clone();
    let (summary, kept) = tokio::task::spawn_blocking(move || backup::restore(&path, &target)).await??;
    eprintln!(
        "restored {}: schema {}, {} events, {} notifications{}",
        db.display(),
        summary.schema_version,
        summary.events,
        summary.notifications,
        kept.map(|k| format!("; the database it replaced is kept as {}", k.display())).unwrap_or_default()
    );
    Ok(())
}
