//! The `solo` CLI end to end against a real server (in this process), reached
//! through a proxy that can drop WebSocket traffic to simulate a realtime outage.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use solo_server::bus::InProcessBus;
use solo_server::settings::Settings;
use solo_server::Server;
use solo_store::{NewUser, Role};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const SOLO: &str = env!("CARGO_BIN_EXE_solo");

/// A TCP proxy that forwards everything, except that while `blocked` it refuses
/// WebSocket upgrades and cuts the WebSocket connections it carries.
struct Proxy {
    addr: String,
    blocked: Arc<AtomicBool>,
    sockets: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Proxy {
    async fn start(upstream: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("addr").to_string();
        let blocked = Arc::new(AtomicBool::new(false));
        let sockets: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>> = Arc::default();
        let (b, s) = (blocked.clone(), sockets.clone());
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let (upstream, blocked, sockets) = (upstream.clone(), b.clone(), s.clone());
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buf = [0u8; 4096];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match client.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    let websocket = String::from_utf8_lossy(&head).to_ascii_lowercase().contains("upgrade: websocket");
                    if websocket && blocked.load(Ordering::SeqCst) {
                        return;
                    }
                    let Ok(mut server) = TcpStream::connect(&upstream).await else { return };
                    if server.write_all(&head).await.is_err() {
                        return;
                    }
                    let pipe = tokio::spawn(async move {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    });
                    if websocket {
                        if let Ok(mut list) = sockets.lock() {
                            list.push(pipe);
                        }
                    }
                });
            }
        });
        Proxy { addr, blocked, sockets }
    }

    fn block(&self) {
        self.blocked.store(true, Ordering::SeqCst);
        if let Ok(mut list) = self.sockets.lock() {
            for pipe in list.drain(..) {
                pipe.abort();
            }
        }
    }

    fn unblock(&self) {
        self.blocked.store(false, Ordering::SeqCst);
    }
}

pub struct Env {
    pub state: solo_server::state::AppState,
    proxy: Proxy,
    config_home: tempfile::TempDir,
    _data: tempfile::TempDir,
    pub pat: String,
    pub user_id: String,
}

impl Env {
    pub async fn start() -> Env {
        let data = tempfile::tempdir().expect("data dir");
        // The API rate limit is tested elsewhere; here it would only make bursts flaky.
        let settings = Settings {
            data_dir: data.path().to_path_buf(),
            poll_interval_secs: 1,
            api_requests_per_sec: 1_000_000,
            ..Settings::default()
        };
        let store = solo_server::open_store(&settings).await.expect("store");
        let server =
            Server::with_parts(settings, Arc::new(store), Arc::new(InProcessBus::new())).await.expect("server");
        let state = server.state().clone();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let upstream = listener.local_addr().expect("addr").to_string();
        tokio::spawn(async move {
            let _ = server.run(listener, std::future::pending()).await;
        });
        let ws = state.store().ensure_workspace("acme", "Acme").await.expect("ws");
        let user = state
            .store()
            .create_user(NewUser { name: "ada".into(), display_name: "Ada".into(), password_hash: None })
            .await
            .expect("user");
        state.store().set_membership(&ws.id, &user.id, Role::Admin).await.expect("member");
        let (pat, _) = solo_server::routes::tokens::issue_token(
            state.store(),
            &user,
            "cli",
            vec!["read".into(), "write".into()],
            None,
        )
        .await
        .expect("token");
        let proxy = Proxy::start(upstream).await;
        Env {
            state,
            proxy,
            config_home: tempfile::tempdir().expect("config"),
            _data: data,
            pat,
            user_id: user.id.to_string(),
        }
    }

    pub fn base(&self) -> String {
        format!("http://{}", self.proxy.addr)
    }

    pub fn solo(&self, args: &[&str]) -> Command {
        let mut command = Command::new(SOLO);
        command
            .args(args)
            .env("XDG_CONFIG_HOME", self.config_home.path())
            .env_remove("SOLO_SERVER")
            .env_remove("SOLO_TOKEN")
            .env("NO_COLOR", "1");
        command
    }

    pub fn run(&self, args: &[&str]) -> (i32, String, String) {
        let output = self.solo(args).output().expect("run solo");
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }

    pub async fn notify(&self, title: &str) {
        let response = reqwest::Client::new()
            .post(format!("{}/api/notifications", self.base()))
            .bearer_auth(&self.pat)
            .json(&json!({ "userId": self.user_id, "category": "system", "title": title }))
            .send()
            .await
            .expect("notify");
        assert_eq!(response.status(), 201);
    }

    async fn until_ok(&self, _what: &str, check: impl Fn() -> bool) -> bool {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while !check() {
            if tokio::time::Instant::now() > deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        true
    }

    pub async fn until(&self, what: &str, check: impl Fn() -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while !check() {
            assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

/// Lines a child printed so far, filled by a reader thread.
pub type Lines = Arc<Mutex<Vec<String>>>;

/// Collects a child's stdout and stderr lines as they come.
pub fn collect(child: &mut Child) -> (Lines, Lines) {
    let out: Lines = Arc::default();
    let err: Lines = Arc::default();
    let stdout = child.stdout.take().expect("stdout");
    let stderr = child.stderr.take().expect("stderr");
    let o = out.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            o.lock().expect("lock").push(line);
        }
    });
    let e = err.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            e.lock().expect("lock").push(line);
        }
    });
    (out, err)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_prints_live_falls_back_to_polling_and_never_repeats() {
    let env = Env::start().await;
    let (code, _, err) = env.run(&["login", "--server", &env.base(), "--token", &env.pat]);
    assert_eq!(code, 0, "{err}");
    let config = env.config_home.path().join("solo/cli.json");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&config).expect("config").permissions().mode() & 0o777, 0o600);
    }

    let mut watch = env
        .solo(&["notifications", "watch", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("watch");
    let (lines, status) = collect(&mut watch);
    let channel = format!("notifications:{}", env.user_id);
    env.until("watch to subscribe", || !env.state.hub().presence(&channel).clients.is_empty()).await;

    env.notify("one (live)").await;
    let titles = || -> Vec<String> {
        lines
            .lock()
            .expect("lock")
            .iter()
            .map(|l| serde_json::from_str::<Value>(l).expect("NDJSON")["title"].as_str().unwrap_or("").to_owned())
            .collect()
    };
    env.until("live notification", || titles().len() == 1).await;

    env.proxy.block();
    let offline = env
        .until_ok("offline notice", || {
            status.lock().expect("lock").iter().any(|l| l.starts_with("offline: polling every 1s"))
        })
        .await;
    assert!(offline, "stderr: {:?}", status.lock().expect("lock"));
    env.notify("two (polled)").await;
    env.notify("three (polled)").await;
    env.until("polled notifications", || titles().len() == 3).await;

    env.proxy.unblock();
    env.until("back online", || status.lock().expect("lock").iter().any(|l| l.starts_with("online:"))).await;
    env.until("resubscribed", || !env.state.hub().presence(&channel).clients.is_empty()).await;
    env.notify("four (live again)").await;
    env.until("live again", || titles().len() >= 4).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let _ = watch.kill();
    let _ = watch.wait();
    assert_eq!(
        titles(),
        vec!["one (live)", "two (polled)", "three (polled)", "four (live again)"],
        "each exactly once, in order"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbox_and_board_commands_with_exit_codes() {
    let env = Env::start().await;
    let (code, _, err) = env.run(&["notifications", "list"]);
    assert_eq!(code, 4, "not signed in: {err}");
    let (code, _, _) =
        env.run(&["login", "--server", &env.base(), "--token", "solo_pat_wrongwrongwrongwrongwrongwrongwrongwrongwro"]);
    assert_eq!(code, 4, "a bad token is an authentication failure");
    let (code, _, _) = env.run(&["notifications", "frobnicate"]);
    assert_eq!(code, 2, "usage errors exit 2");
    let (code, _, err) = env.run(&["login", "--server", &env.base(), "--token", &env.pat]);
    assert_eq!(code, 0, "{err}");

    let (code, out, err) = env.run(&["missions", "create", "CLI mission"]);
    assert_eq!(code, 0, "{err}");
    let mission: Value = serde_json::from_str(out.trim()).expect("NDJSON when piped");
    let id = mission["id"].as_str().expect("id");
    let (code, out, _) = env.run(&["missions", "stage", id, "spec"]);
    assert_eq!(code, 0);
    assert_eq!(serde_json::from_str::<Value>(out.trim()).expect("json")["version"], 2);
    let (code, _, err) = env.run(&["missions", "stage", id, "done"]);
    assert_eq!(code, 1);
    assert!(err.contains("cannot move from `spec` to `done`"), "the server's message is shown: {err}");

    env.notify("first").await;
    env.notify("second").await;
    let (_, out, _) = env.run(&["notifications", "list", "--unread"]);
    let items: Vec<Value> = out.lines().map(|l| serde_json::from_str(l).expect("NDJSON")).collect();
    assert_eq!(items.iter().map(|n| n["title"].as_str().unwrap_or("")).collect::<Vec<_>>(), vec!["second", "first"]);
    let first_id = items[1]["id"].as_str().expect("id");
    let (code, _, _) = env.run(&["notifications", "read", first_id]);
    assert_eq!(code, 0);
    let (_, out, _) = env.run(&["notifications", "list", "--unread"]);
    assert_eq!(out.lines().count(), 1);
    let (_, out, _) = env.run(&["notifications", "read-all"]);
    assert_eq!(serde_json::from_str::<Value>(out.trim()).expect("json")["unread"]["total"], 0);

    let (code, out, _) = env.run(&["quiet-hours", "set", "22:00-07:00", "--tz", "Europe/Paris", "--allow-urgent"]);
    assert_eq!(code, 0);
    assert_eq!(serde_json::from_str::<Value>(out.trim()).expect("json")["quietHours"]["timezone"], "Europe/Paris");
    let (code, _, err) = env.run(&["quiet-hours", "set", "22:00-07:00", "--tz", "Nowhere/Town"]);
    assert_eq!(code, 1);
    assert!(err.contains("IANA"), "{err}");
    let (_, out, _) = env.run(&["quiet-hours", "off"]);
    assert_eq!(serde_json::from_str::<Value>(out.trim()).expect("json")["quietHours"]["enabled"], false);

    let (code, out, _) = env.run(&["workstations", "create", "rig"]);
    assert_eq!(code, 0);
    let station: Value = serde_json::from_str(out.trim()).expect("json");
    let (code, out, _) =
        env.run(&["workstations", "heartbeat", station["id"].as_str().expect("id"), "--once", "--agents", "2"]);
    assert_eq!(code, 0);
    let beat: Value = serde_json::from_str(out.trim()).expect("json");
    assert_eq!((beat["status"].as_str(), beat["agents"].as_array().map(Vec::len)), (Some("online"), Some(2)));

    let (code, out, _) = env.run(&["tokens", "create", "ci-bot", "--scopes", "read"]);
    assert_eq!(code, 0);
    let token: Value = serde_json::from_str(out.trim()).expect("json");
    assert!(token["token"].as_str().is_some_and(|t| t.starts_with("solo_pat_")));
    let (code, _, _) = env.run(&["tokens", "revoke", token["id"].as_str().expect("id")]);
    assert_eq!(code, 0);
    let (code, _, _) = env.run(&["logout"]);
    assert_eq!(code, 0);
    let (code, _, _) = env.run(&["missions", "list"]);
    assert_eq!(code, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_watch_follows_workstations_and_people() {
    let env = Env::start().await;
    let (code, _, err) = env.run(&["login", "--server", &env.base(), "--token", &env.pat]);
    assert_eq!(code, 0, "{err}");
    let mut watch = env
        .solo(&["presence", "watch", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("watch");
    let (lines, _) = collect(&mut watch);
    let parsed = || -> Vec<Value> {
        lines.lock().expect("lock").iter().map(|l| serde_json::from_str(l).expect("NDJSON")).collect()
    };
    env.until("summary", || parsed().first().is_some_and(|l| l["kind"] == "summary")).await;
    let workspace = parsed()[0]["summary"]["workspaceId"].as_str().expect("workspace").to_owned();
    let channel = format!("workspace:{workspace}");
    env.until("watch to subscribe", || !env.state.hub().presence(&channel).clients.is_empty()).await;

    let (code, out, _) = env.run(&["workstations", "create", "rig"]);
    assert_eq!(code, 0);
    let station: Value = serde_json::from_str(out.trim()).expect("json");
    let (code, _, _) =
        env.run(&["workstations", "heartbeat", station["id"].as_str().expect("id"), "--once", "--agents", "1"]);
    assert_eq!(code, 0);
    env.until("status and agent events", || {
        let types: Vec<String> =
            parsed().iter().filter_map(|l| l["data"]["type"].as_str().map(str::to_owned)).collect();
        types.contains(&"workstation.status_changed".to_owned()) && types.contains(&"agent.status_changed".to_owned())
    })
    .await;
    let change = parsed().into_iter().find(|l| l["data"]["type"] == "workstation.status_changed").expect("change");
    assert_eq!(
        (change["data"]["data"]["from"].as_str(), change["data"]["data"]["to"].as_str()),
        (Some("offline"), Some("online"))
    );

    // Someone else comes online.
    let mut second =
        env.solo(&["presence", "watch", "--json"]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("second");
    env.until("join", || parsed().iter().any(|l| l["kind"] == "join" && l["data"]["conn_info"]["name"] == "ada")).await;
    let _ = second.kill();
    let _ = second.wait();
    env.until("leave", || parsed().iter().any(|l| l["kind"] == "leave")).await;
    let _ = watch.kill();
    let _ = watch.wait();
}
