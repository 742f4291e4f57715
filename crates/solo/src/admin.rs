//! `solo admin`: bootstrap users and tokens in the database, no server needed.

use std::io::BufRead;

use anyhow::{bail, Context};
use clap::Subcommand;
use solo_server::auth::{password, scopes};
use solo_server::routes::tokens::{check_token_request, issue_token};
use solo_store::{AccountStore, NewUser, Role};

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
    let store = solo_server::open_store(&settings).await.context("cannot open the database")?;
    match command {
        AdminCommand::User {
            command: UserCommand::Create { name, workspace, admin, password_stdin, display_name },
        } => {
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
                .create_user(NewUser {
                    display_name: display_name.unwrap_or_else(|| name.clone()),
                    name,
                    password_hash,
                })
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
        }
        AdminCommand::Token { command: TokenCommand::Create { user, name, scopes: requested, expires_in_days } } => {
            let Some(user) = store.user_by_name(&user).await? else {
                bail!("no user named `{user}`");
            };
            let requested = requested.unwrap_or_else(|| scopes::DEFAULT.iter().map(|s| s.to_string()).collect());
            check_token_request(&name, &requested, expires_in_days).map_err(anyhow::Error::msg)?;
            let (secret, token) = issue_token(&store, &user, &name, requested, expires_in_days).await?;
            eprintln!("created token {} for {}; it is shown once, store it now", token.id, user.name);
            println!("{secret}");
        }
    }
    store.close().await;
    Ok(())
}
