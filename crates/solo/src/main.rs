//! `solo`: the Solo Realtime binary. `solo serve` runs the server; `solo admin`
//! bootstraps users and tokens straight in the database, without a running server.

mod admin;
mod serve;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use solo_server::settings::Settings;

#[derive(Parser)]
#[command(name = "solo", version, about = "Solo Realtime: presence, mission events and notifications for Solo")]
struct Cli {
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
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => serve::run(args).await,
            Command::Admin { store, command } => admin::run(&store, command).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}
