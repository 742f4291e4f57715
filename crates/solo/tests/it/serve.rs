use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::{serve, solo};

#[tokio::test]
async fn admin_bootstrap_prints_a_pat_that_the_server_accepts() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut create = solo(dir.path())
        .args(["admin", "user", "create", "ada", "--workspace", "acme", "--admin", "--password-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("admin user create");
    create.stdin.take().expect("stdin").write_all(b"correct horse battery\n").expect("password");
    let created = create.wait_with_output().expect("exit");
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));

    let token = solo(dir.path())
        .args(["admin", "token", "create", "--user", "ada", "--name", "cli"])
        .output()
        .expect("token create");
    assert!(token.status.success(), "{}", String::from_utf8_lossy(&token.stderr));
    let pat = String::from_utf8(token.stdout).expect("utf8");
    let pat = pat.trim();
    assert!(pat.starts_with("solo_pat_") && !pat.contains('\n'), "stdout is the PAT alone: {pat:?}");

    let unknown =
        solo(dir.path()).args(["admin", "token", "create", "--user", "zed", "--name", "x"]).output().expect("run");
    assert_eq!(unknown.status.code(), Some(1));
    let usage = solo(dir.path()).args(["admin", "token", "create"]).output().expect("run");
    assert_eq!(usage.status.code(), Some(2), "usage errors exit 2");

    let (mut child, addr) = serve(dir.path());
    assert!(dir.path().join(".solo/solo.db").exists(), "the data directory is created under ./.solo");
    let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().expect("client");
    let health: serde_json::Value =
        http.get(format!("http://{addr}/healthz")).send().await.expect("healthz").json().await.expect("json");
    assert_eq!(health["status"], "ok");
    let me: serde_json::Value = http
        .get(format!("http://{addr}/api/me"))
        .bearer_auth(pat)
        .send()
        .await
        .expect("me")
        .json()
        .await
        .expect("json");
    assert_eq!(me["name"], "ada");
    assert_eq!(me["workspaces"][0]["slug"], "acme");
    assert_eq!(me["workspaces"][0]["role"], "admin");
    let login = http
        .post(format!("http://{addr}/api/auth/login"))
        .json(&serde_json::json!({"username": "ada", "password": "correct horse battery"}))
        .send()
        .await
        .expect("login");
    assert_eq!(login.status(), 200, "the password given on stdin signs in");

    // SIGTERM stops the server cleanly.
    let killed = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill");
    assert!(killed.success());
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        assert!(std::time::Instant::now() < deadline, "server did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "clean exit: {status}");
}

#[tokio::test]
async fn demo_mode_seeds_a_live_workspace_and_prints_logins() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut child = solo(dir.path())
        .args(["serve", "--demo", "--addr", "127.0.0.1:0"])
        .env("SOLO_HEARTBEAT_INTERVAL_SECS", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("solo serve --demo");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let banner = lines.next().expect("banner").expect("line");
    let addr =
        banner.split("http://").nth(1).and_then(|r| r.split_whitespace().next()).expect("address in banner").to_owned();
    let login_line = lines.next().expect("login").expect("line");
    let mut parts = login_line.split(" / ");
    let (user, password) =
        (parts.next().expect("user").trim().to_owned(), parts.next().expect("password").trim().to_owned());
    assert_eq!(user, "ada");

    let http = reqwest::Client::builder().cookie_store(true).timeout(Duration::from_secs(10)).build().expect("client");
    let login = http
        .post(format!("http://{addr}/api/auth/login"))
        .json(&serde_json::json!({ "username": user, "password": password }))
        .send()
        .await
        .expect("login");
    assert_eq!(login.status(), 200, "the printed password signs in");
    let missions: serde_json::Value =
        http.get(format!("http://{addr}/api/missions")).send().await.expect("missions").json().await.expect("json");
    let stages: std::collections::HashSet<String> = missions["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|m| m["stage"].as_str().expect("stage").to_owned())
        .collect();
    assert_eq!(stages.len(), 5, "missions in every stage: {stages:?}");
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let stations: serde_json::Value = http
            .get(format!("http://{addr}/api/workstations"))
            .send()
            .await
            .expect("workstations")
            .json()
            .await
            .expect("json");
        let online = stations["items"].as_array().expect("items").iter().filter(|w| w["status"] == "online").count();
        if online == 3 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the simulated workstations come online: {stations}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let _ = child.wait();
}

/// Credentials of every kind pass through a server logging at debug level, and
/// none of them (nor the passwords tried) shows up in its log.
#[tokio::test]
async fn secrets_never_reach_the_log() {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;

    let dir = tempfile::tempdir().expect("temp dir");
    let password = "correct horse battery staple";
    let mut create = solo(dir.path())
        .args(["admin", "user", "create", "ada", "--workspace", "acme", "--password-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("admin user create");
    create.stdin.take().expect("stdin").write_all(format!("{password}\n").as_bytes()).expect("password");
    assert!(create.wait().expect("exit").success());
    let pat =
        solo(dir.path()).args(["admin", "token", "create", "--user", "ada", "--name", "cli"]).output().expect("pat");
    let pat = String::from_utf8(pat.stdout).expect("utf8").trim().to_owned();

    let (mut child, addr, log) = crate::support::serve_with(dir.path(), &[("SOLO_LOG", "debug")]);
    let base = format!("http://{addr}");
    let http = reqwest::Client::builder().cookie_store(true).build().expect("client");
    let me = http.get(format!("{base}/api/me")).bearer_auth(&pat).send().await.expect("me");
    assert_eq!(me.status(), 200);
    let issued: serde_json::Value = http
        .post(format!("{base}/api/tokens"))
        .bearer_auth(&pat)
        .json(&serde_json::json!({ "name": "second" }))
        .send()
        .await
        .expect("create token")
        .json()
        .await
        .expect("json");
    let second_pat = issued["token"].as_str().expect("new PAT").to_owned();
    let connection: serde_json::Value = http
        .post(format!("{base}/api/realtime/token"))
        .bearer_auth(&second_pat)
        .send()
        .await
        .expect("connection token")
        .json()
        .await
        .expect("json");
    let jwt = connection["token"].as_str().expect("jwt").to_owned();
    let (mut ws, _) =
        tokio_tungstenite::connect_async(format!("ws://{addr}/connection/websocket")).await.expect("websocket");
    let connect = serde_json::json!({ "id": 1, "connect": { "token": jwt } }).to_string();
    ws.send(Message::Text(connect.into())).await.expect("send");
    let reply = ws.next().await.expect("reply").expect("frame");
    assert!(reply.to_text().expect("text").contains("\"connect\""), "{reply:?}");

    let wrong = "Tr0ub4dor&3-not-it";
    let refused = http
        .post(format!("{base}/api/auth/login"))
        .json(&serde_json::json!({ "username": "ada", "password": wrong }))
        .send()
        .await
        .expect("login");
    assert_eq!(refused.status(), 401);
    let signed_in = http
        .post(format!("{base}/api/auth/login"))
        .json(&serde_json::json!({ "username": "ada", "password": password }))
        .send()
        .await
        .expect("login");
    assert_eq!(signed_in.status(), 200);
    let session = signed_in
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|c| c.to_str().ok())
        .find_map(|c| c.strip_prefix("solo_session="))
        .and_then(|c| c.split(';').next())
        .expect("session cookie")
        .to_owned();
    let csrf: serde_json::Value = signed_in.json().await.expect("json");
    let csrf = csrf["csrfToken"].as_str().expect("csrf token").to_owned();
    let bad_bearer = http.get(format!("{base}/api/me")).bearer_auth("solo_pat_guessing123").send().await.expect("me");
    assert_eq!(bad_bearer.status(), 401);
    drop(ws);

    let _ = child.kill();
    let _ = child.wait();
    std::thread::sleep(Duration::from_millis(200));
    let log = log.lock().expect("log").clone();
    assert!(log.lines().count() > 10, "the server logged at debug level");
    let secret_part = |token: &str| token.rsplit('_').next().unwrap_or(token).to_owned();
    for (what, secret) in [
        ("the admin PAT", secret_part(&pat)),
        ("a PAT issued by the API", secret_part(&second_pat)),
        ("the connection token", jwt.clone()),
        ("the connection token's signature", jwt.rsplit('.').next().unwrap_or_default().to_owned()),
        ("the password", password.to_owned()),
        ("a wrong password", wrong.to_owned()),
        ("the session cookie", session.clone()),
        ("the CSRF token", csrf.clone()),
        ("a guessed token", "guessing123".to_owned()),
    ] {
        assert!(secret.len() >= 8, "{what} is a real secret");
        assert!(!log.contains(&secret), "{what} appears in the log");
    }
}
