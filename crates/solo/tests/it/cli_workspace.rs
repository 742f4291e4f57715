//! `solo workspace config show|set` against a real server: an admin sets the
//! workspace's default quiet hours, a running `solo notifications watch` of a
//! member with none of their own takes it at once, a member may not set it,
//! and bad values are refused with the server's reason.

use std::process::{Child, Stdio};
use std::time::Duration;

use serde_json::Value;
use solo_store::{NewUser, Role};

use crate::cli::{collect, Env, Lines};

fn one_json(out: &str) -> Value {
    serde_json::from_str(out.trim()).expect("one JSON object")
}

fn stop(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// Waits until the hub has a subscriber on `channel`.
async fn subscribed(env: &Env, channel: &str, err: &Lines) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while env.state.hub().presence(channel).clients.is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "never subscribed to {channel}; stderr: {:?}", err.lock());
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_sets_the_workspace_default_and_a_running_watch_takes_it() {
    let env = Env::start().await;
    let (code, _, err) = env.run(&["login", "--server", &env.base(), "--token", &env.pat]);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = env.run(&["workspace", "config", "show", "--json"]);
    assert_eq!(code, 0, "{err}");
    let shown = one_json(&out);
    assert_eq!((shown["version"].as_i64(), shown["config"]["defaultQuietHours"].is_null()), (Some(0), true));
    let workspace = shown["workspaceId"].as_str().expect("workspace id").to_owned();

    // Ada (an admin) never set quiet hours of her own: the workspace's default is hers.
    let mut watch = env
        .solo(&["notifications", "watch", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("watch");
    let (_, status) = collect(&mut watch);
    subscribed(&env, &format!("notifications:{}", env.user_id), &status).await;
    subscribed(&env, &format!("workspace:{workspace}"), &status).await;
    let said = |line: &str| status.lock().expect("lock").iter().any(|l| l == line);

    let (code, out, err) =
        env.run(&["workspace", "config", "set", "default-quiet-hours", "21:00-06:30", "--tz", "Europe/Paris"]);
    assert_eq!(code, 0, "{err}");
    let set = one_json(&out);
    assert_eq!(set["version"], 1);
    assert_eq!(set["config"]["defaultQuietHours"]["start"], "21:00");
    env.until("the watch takes the default", || said("quiet hours changed: on, 21:00-06:30 Europe/Paris (default)"))
        .await;
    let (code, _, err) = env.run(&["workspace", "config", "set", "default-quiet-hours", "none"]);
    assert_eq!(code, 0, "{err}");
    env.until("the watch drops it", || said("quiet hours changed: off (default)")).await;
    stop(watch);

    // People read it on a terminal-less stdout as NDJSON, and `quiet-hours show` agrees.
    let (code, out, _) = env.run(&["workspace", "config", "set", "default-quiet-hours", "off"]);
    assert_eq!(code, 0);
    assert_eq!(one_json(&out)["version"], 3);
    let (_, out, _) = env.run(&["quiet-hours", "show"]);
    assert_eq!(one_json(&out)["version"], 0, "still none of her own");

    // A bad window is refused by the server, with its reason; nothing changes.
    let (code, _, err) = env.run(&["workspace", "config", "set", "default-quiet-hours", "25:00-07:00"]);
    assert_eq!(code, 1);
    assert!(err.contains("not a time of day"), "{err}");
    let (code, _, err) = env.run(&["workspace", "config", "set", "default-quiet-hours", "tonight"]);
    assert_eq!(code, 1);
    assert!(err.contains("expected a window"), "{err}");
    let (code, _, err) = env.run(&["workspace", "config", "set", "quiet", "22:00-07:00"]);
    assert_eq!(code, 2, "an unknown setting is a usage error: {err}");

    // A member may read the settings but not change them.
    let store = env.state.store();
    let bo = store
        .create_user(NewUser { name: "bo".into(), display_name: "Bo".into(), password_hash: None })
        .await
        .expect("bo");
    let ws = store.ensure_workspace("acme", "Acme").await.expect("acme");
    store.set_membership(&ws.id, &bo.id, Role::Member).await.expect("member");
    let (bo_pat, _) =
        solo_server::routes::tokens::issue_token(store, &bo, "cli", vec!["read".into(), "write".into()], None)
            .await
            .expect("token");
    let as_bo = |args: &[&str]| {
        let output = env.solo(args).env("SOLO_SERVER", env.base()).env("SOLO_TOKEN", &bo_pat).output().expect("run");
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let (code, out, err) = as_bo(&["workspace", "config", "show"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(one_json(&out)["version"], 3);
    let (code, _, err) = as_bo(&["workspace", "config", "set", "default-quiet-hours", "22:00-07:00"]);
    assert_eq!(code, 1);
    assert!(err.contains("only a workspace admin"), "{err}");
    let (_, out, _) = env.run(&["workspace", "config", "show"]);
    assert_eq!(one_json(&out)["config"]["defaultQuietHours"]["enabled"], false, "the member changed nothing");
}
