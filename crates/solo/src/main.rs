//! `solo`: the Solo Realtime binary. `solo serve` runs the server; `solo admin`
//! bootstraps users and tokens straight in the database, without a running
//! server; every other subcommand is a client of a running server.
//!
//! Exit codes: 0 ok, 1 error, 2 usage, 4 authentication, 124 a watch's
//! `--timeout` passed before its `--until` condition was met.

mod admin;
mod client;
mod commands;
mod output;
mod serve;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use solo_server::settings::Settings;

#[derive(Parser)]
#[command(name = "solo", version, about = "Solo Realtime: presence, mission events and notifications for Solo")]
struct Cli {
    /// Print NDJSON (one JSON object per line); the default when stdout is not a terminal.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server: HTTP API, realtime endpoint, background workers.
    Serve(serve::ServeArgs),
    /// Administer the database directly (works while the server is stopped).
    Admin {
        #[command(flatten)]
        store: StoreArgs,
        #[command(subcommand)]
        command: admin::AdminCommand,
    },
    /// Sign in to a server with a personal access token (verified, then saved).
    Login {
        /// Server URL, e.g. http://127.0.0.1:7070.
        #[arg(long, default_value = "http://127.0.0.1:7070")]
        server: String,
        /// A personal access token (`solo_pat_…`).
        #[arg(long, env = "SOLO_TOKEN", hide_env_values = true)]
        token: String,
    },
    /// Forget the saved login.
    Logout,
    /// Your notifications: watch live, list, mark read or unread.
    Notifications {
        #[command(subcommand)]
        command: commands::NotificationsCommand,
    },
    /// Workstation and agent health, and who is online.
    Presence {
        #[command(subcommand)]
        command: commands::PresenceCommand,
    },
    /// Your quiet hours (stored on the server; honoured by every surface).
    QuietHours {
        #[command(subcommand)]
        command: commands::QuietHoursCommand,
    },
    /// Your personal access tokens.
    Tokens {
        #[command(subcommand)]
        command: commands::TokensCommand,
    },
    /// Missions on the board.
    Missions {
        #[command(subcommand)]
        command: commands::MissionsCommand,
    },
    /// The community feed: read it, post to it.
    Community {
        #[command(subcommand)]
        command: commands::CommunityCommand,
    },
    /// Your workspace's settings (its admins change them).
    Workspace {
        #[command(subcommand)]
        command: commands::WorkspaceCommand,
    },
    /// Workstations, and a simple simulated workstation agent.
    Workstations {
        #[command(subcommand)]
        command: commands::WorkstationsCommand,
    },
}

/// Where the configuration and the database are.
#[derive(Args, Clone, Default)]
pub struct StoreArgs {
    /// TOML configuration file (env: SOLO_CONFIG).
    #[arg(long, env = "SOLO_CONFIG", global = true)]
    config: Option<PathBuf>,
    /// Database URL, `sqlite://…` or `postgres://…` (env: SOLO_DATABASE_URL).
    #[arg(long, global = true)]
    database_url: Option<String>,
    /// Data directory for the embedded database (env: SOLO_DATA_DIR; default ./.solo).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
}

impl StoreArgs {
    /// Defaults, then the file, then `SOLO_*` variables, then these flags.
    pub fn settings(&self) -> anyhow::Result<Settings> {
        let mut settings = Settings::load(self.config.as_deref())?;
        if let Some(url) = &self.database_url {
            settings.database_url = Some(url.clone());
        }
        if let Some(dir) = &self.data_dir {
            settings.data_dir = dir.clone();
        }
        settings.validate()?;
        Ok(settings)
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: could not start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let out = output::Output::new(cli.json);
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => serve::run(args).await,
            Command::Admin { store, command } => admin::run(&store, command).await,
            Command::Login { server, token } => commands::account::login(&server, &token, out).await,
            Command::Logout => commands::account::logout(out),
            Command::Notifications { command } => commands::notifications::run(command, out).await,
            Command::Presence { command } => commands::presence::run(command, out).await,
            Command::QuietHours { command } => commands::account::quiet_hours(command, out).await,
            Command::Tokens { command } => commands::account::tokens(command, out).await,
            Command::Missions { command } => commands::boards::missions(command, out).await,
            Command::Community { command } => commands::community::run(command, out).await,
            Command::Workspace { command } => commands::workspace::run(command, out).await,
            Command::Workstations { command } => commands::boards::workstations(command, out).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            let auth = e.downcast_ref::<client::NotSignedIn>().is_some()
                || e.downcast_ref::<client::ApiFailure>().is_some_and(client::ApiFailure::is_auth);
            let timed_out = e.downcast_ref::<commands::script::TimedOut>().is_some();
            ExitCode::from(if auth {
                4
            } else if timed_out {
                124
            } else {
                1
            })
        }
    }
}
