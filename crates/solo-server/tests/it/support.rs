//! The test harness: a server on port 0 with its own database, users with PATs,
//! and a bus that can be made to fail.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use reqwest::StatusCode;
use serde_json::Value;
use solo_server::bus::{Bus, BusError, BusMessage, BusSink, Control, InProcessBus};
use solo_server::routes::tokens::issue_token;
use solo_server::settings::Settings;
use solo_server::state::AppState;
use solo_server::Server;
use solo_store::{NewUser, Role, Store};

/// Defaults for a test server. Tests write in bursts with one token, so the API
/// rate limit is lifted here; `limits.rs` sets it back where limits are tested.
fn test_settings(dir: &tempfile::TempDir) -> Settings {
    Settings { data_dir: dir.path().to_path_buf(), api_requests_per_sec: 1_000_000, ..Settings::default() }
}

pub struct TestServer {
    pub base: String,
    settings: Settings,
    pub state: AppState,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

#[derive(Clone, Debug)]
pub struct TestUser {
    pub id: String,
    pub pat: String,
    pub workspace_id: String,
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(|_| {}, Arc::new(InProcessBus::new())).await
    }

    pub async fn start_with(configure: impl FnOnce(&mut Settings), bus: Arc<dyn Bus>) -> Self {
        Self::start_custom(configure, bus, None).await
    }

    /// A server built from its settings alone, as `solo serve` builds it (the bus
    /// the settings name: Redis for cluster nodes).
    pub async fn start_built(configure: impl FnOnce(&mut Settings)) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut settings = test_settings(&dir);
        configure(&mut settings);
        let server = Server::build(settings.clone()).await.expect("server");
        Self::serve(server, settings, None, dir).await
    }

    /// As `start_with`, with the kernel send buffer of accepted sockets limited
    /// (inherited from the listener), so a client that stops reading backs up fast.
    pub async fn start_custom(
        configure: impl FnOnce(&mut Settings),
        bus: Arc<dyn Bus>,
        send_buffer: Option<u32>,
    ) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut settings = test_settings(&dir);
        configure(&mut settings);
        Self::launch(settings, bus, send_buffer, dir).await
    }

    async fn launch(settings: Settings, bus: Arc<dyn Bus>, send_buffer: Option<u32>, dir: tempfile::TempDir) -> Self {
        let store = solo_server::open_store(&settings).await.expect("store");
        let server = Server::with_parts(settings.clone(), Arc::new(store), bus).await.expect("server");
        Self::serve(server, settings, send_buffer, dir).await
    }

    async fn serve(server: Server, settings: Settings, send_buffer: Option<u32>, dir: tempfile::TempDir) -> Self {
        let state = server.state().clone();
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        if let Some(size) = send_buffer {
            socket.set_send_buffer_size(size).expect("send buffer");
        }
        socket.bind("127.0.0.1:0".parse().expect("addr")).expect("bind");
        let listener = socket.listen(4096).expect("listen");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            server
                .run(listener, async {
                    let _ = stopped.await;
                })
                .await
                .expect("server runs");
        });
        Self { base, settings, state, stop: Some(stop), task: Some(task), _dir: dir }
    }

    pub fn store(&self) -> &dyn Store {
        self.state.store()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// A user in `workspace` (created if missing) with a read/write PAT.
    pub async fn user(&self, name: &str, workspace: &str, role: Role) -> TestUser {
        let ws = self.store().ensure_workspace(workspace, workspace).await.expect("workspace");
        let user = self
            .store()
            .create_user(NewUser { name: name.into(), display_name: name.into(), password_hash: None })
            .await
            .expect("user");
        self.store().set_membership(&ws.id, &user.id, role).await.expect("membership");
        let (pat, _) =
            issue_token(self.store(), &user, "tests", vec!["read".into(), "write".into()], None).await.expect("token");
        TestUser { id: user.id.to_string(), pat, workspace_id: ws.id.to_string() }
    }

    /// Stops the server and starts a new one on the same database (a new port).
    pub async fn restart(mut self) -> Self {
        self.shutdown().await;
        let dir = std::mem::replace(&mut self._dir, tempfile::tempdir().expect("temp dir"));
        Self::launch(self.settings.clone(), Arc::new(InProcessBus::new()), None, dir).await
    }

    /// Stops the server, waits for `meanwhile` (while no server runs), then starts
    /// a new one on the same database.
    pub async fn restart_after(mut self, meanwhile: impl Future<Output = ()>) -> Self {
        self.shutdown().await;
        meanwhile.await;
        let dir = std::mem::replace(&mut self._dir, tempfile::tempdir().expect("temp dir"));
        Self::launch(self.settings.clone(), Arc::new(InProcessBus::new()), None, dir).await
    }

    async fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    pub async fn stop(mut self) {
        self.shutdown().await;
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(20)).build().expect("client")
}

/// `GET` with the user's PAT; returns status and JSON (Null when there is no body).
pub async fn get(server: &TestServer, user: &TestUser, path: &str) -> (StatusCode, Value) {
    let response = client().get(server.url(path)).bearer_auth(&user.pat).send().await.expect("request");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// `POST` JSON with the user's PAT.
pub async fn post(server: &TestServer, user: &TestUser, path: &str, body: Value) -> (StatusCode, Value) {
    let response = client().post(server.url(path)).bearer_auth(&user.pat).json(&body).send().await.expect("request");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

pub async fn create_mission(server: &TestServer, user: &TestUser, title: &str) -> Value {
    let (status, mission) = post(server, user, "/api/missions", serde_json::json!({ "title": title })).await;
    assert_eq!(status, StatusCode::CREATED, "{mission}");
    mission
}

/// Polls `check` until it returns `Some`, failing the test after `timeout`.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A bus that fails while `failing` is set, and records what it delivered.
#[derive(Default)]
pub struct FlakyBus {
    inner: InProcessBus,
    pub failing: AtomicBool,
    pub attempts: AtomicUsize,
    pub delivered: Arc<Recorder>,
}

#[derive(Default)]
pub struct Recorder {
    pub messages: Mutex<Vec<BusMessage>>,
}

impl BusSink for Recorder {
    fn deliver(&self, message: &BusMessage) {
        self.messages.lock().expect("recorder lock").push(message.clone());
    }
}

impl FlakyBus {
    pub fn new() -> Arc<Self> {
        let bus = Arc::new(Self::default());
        bus.inner.subscribe(bus.delivered.clone());
        bus
    }

    pub fn delivered_envelopes(&self) -> Vec<Value> {
        self.delivered
            .messages
            .lock()
            .expect("recorder lock")
            .iter()
            .map(|m| serde_json::from_str(&m.envelope).expect("envelope JSON"))
            .collect()
    }
}

#[async_trait]
impl Bus for FlakyBus {
    async fn publish(&self, messages: &[BusMessage]) -> Result<(), BusError> {
        self.attempts.fetch_add(1, Ordering::SeqCst);
        if self.failing.load(Ordering::SeqCst) {
            return Err(BusError::Unavailable("test bus switched off".into()));
        }
        self.inner.publish(messages).await
    }

    fn subscribe(&self, sink: Arc<dyn BusSink>) {
        self.inner.subscribe(sink);
    }

    async fn ping(&self) -> Result<(), BusError> {
        if self.failing.load(Ordering::SeqCst) {
            Err(BusError::Unavailable("test bus switched off".into()))
        } else {
            Ok(())
        }
    }

    fn kind(&self) -> &'static str {
        "flaky-test"
    }

    async fn control(&self, order: &Control) -> Result<(), BusError> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(BusError::Unavailable("test bus switched off".into()));
        }
        self.inner.control(order).await
    }
}
