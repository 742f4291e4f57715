//! Scriptable watches against a real server: `--until` ends a watch with 0 when
//! an event meets the condition, `--timeout` with 124, and `--exec` runs a
//! command per event with the event on its stdin.

use std::process::{Child, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::cli::{collect, Env, Lines};

async fn login(env: &Env) {
    let (code, _, err) = env.run(&["login", "--server", &env.base(), "--token", &env.pat]);
    assert_eq!(code, 0, "{err}");
}

fn json_lines(lines: &Lines) -> Vec<Value> {
    lines.lock().expect("lock").iter().map(|l| serde_json::from_str(l).expect("NDJSON")).collect()
}

/// Starts a watch and waits until it follows `channel`.
async fn start_watch(env: &Env, args: &[&str], channel: &str) -> (Child, Lines, Lines) {
    let mut child = env.solo(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("watch");
    let (out, err) = collect(&mut child);
    let subscribed = || !env.state.hub().presence(channel).clients.is_empty();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !subscribed() {
        assert!(tokio::time::Instant::now() < deadline, "never subscribed; stderr: {:?}", err.lock().expect("lock"));
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    (child, out, err)
}

/// Waits for a child to exit by itself and returns its exit code.
async fn exit_code(child: &mut Child) -> i32 {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status.code().unwrap_or(-1);
        }
        assert!(tokio::time::Instant::now() < deadline, "the watch never exited");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

fn stage(env: &Env, id: &str, to: &str) {
    let (code, _, err) = env.run(&["missions", "stage", id, to]);
    assert_eq!(code, 0, "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mission_watch_ends_when_the_mission_reaches_review() {
    let env = Env::start().await;
    login(&env).await;
    let (_, out, _) = env.run(&["missions", "create", "Scripted"]);
    let id = serde_json::from_str::<Value>(out.trim()).expect("mission")["id"].as_str().expect("id").to_owned();
    let dir = tempfile::tempdir().expect("dir");
    let seen = dir.path().join("seen.ndjson");
    let exec = format!("cat >> '{}'", seen.display());
    let args = ["missions", "watch", &id, "--until", "stage=review", "--timeout", "60s", "--exec", &exec, "--json"];
    let (mut watch, lines, _) = start_watch(&env, &args, &format!("mission:{id}")).await;

    stage(&env, &id, "spec");
    stage(&env, &id, "build");
    stage(&env, &id, "review");
    assert_eq!(exit_code(&mut watch).await, 0, "met: exit 0");
    let printed: Vec<String> =
        json_lines(&lines).iter().map(|e| e["data"]["to"].as_str().unwrap_or("").to_owned()).collect();
    assert_eq!(printed, vec!["spec", "build", "review"], "it stops at the event that met the condition");
    // The command ran once per event, in order, each with the event on its stdin.
    let ran: Vec<Value> = std::fs::read_to_string(&seen)
        .expect("the command wrote")
        .lines()
        .map(|l| serde_json::from_str(l).expect("one event per line"))
        .collect();
    assert_eq!(ran, json_lines(&lines));

    // A condition the mission already meets is met at once.
    let (code, out, err) = env.run(&["missions", "watch", &id, "--until", "stage=review", "--timeout", "60s"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.is_empty() && err.contains("condition already met"), "{err}");

    // Not met before the timeout: 124, as timeout(1) says.
    let (code, _, err) = env.run(&["missions", "watch", &id, "--until", "type=review.decided", "--timeout", "1s"]);
    assert_eq!(code, 124, "{err}");
    assert!(err.contains("timed out after 1s"), "{err}");

    // Conditions on the event's type and several fields, all of which must hold.
    let args = ["missions", "watch", &id, "--until", "type=review.decided,decision=approved", "--json"];
    let (mut watch, lines, _) = start_watch(&env, &args, &format!("mission:{id}")).await;
    let (code, _, _) = env.run(&["missions", "review", &id, "changes_requested"]);
    assert_eq!(code, 0);
    let (code, _, _) = env.run(&["missions", "review", &id, "approved"]);
    assert_eq!(code, 0);
    assert_eq!(exit_code(&mut watch).await, 0);
    let decisions: Vec<Value> = json_lines(&lines).iter().map(|e| e["data"]["decision"].clone()).collect();
    assert_eq!(decisions, vec!["changes_requested", "approved"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notification_watch_ends_on_a_matching_notification_and_refuses_bad_conditions() {
    let env = Env::start().await;
    let (code, _, _) = env.run(&["notifications", "watch", "--until", "category=system", "--timeout", "5s"]);
    assert_eq!(code, 4, "not signed in stays an authentication failure");
    login(&env).await;
    for bad in [&["--until", "category"][..], &["--until", "=x"], &["--timeout", "soon"], &["--timeout", "0s"]] {
        let mut args = vec!["notifications", "watch"];
        args.extend_from_slice(bad);
        let (code, _, err) = env.run(&args);
        assert_eq!(code, 2, "{bad:?} is a usage error: {err}");
    }

    let channel = format!("notifications:{}", env.user_id);
    let args = ["notifications", "watch", "--json", "--until", "category=system,title=go", "--timeout", "60s"];
    let (mut watch, lines, _) = start_watch(&env, &args, &channel).await;
    env.notify("wait").await;
    env.notify("go").await;
    assert_eq!(exit_code(&mut watch).await, 0);
    let titles: Vec<Value> = json_lines(&lines).iter().map(|n| n["title"].clone()).collect();
    assert_eq!(titles, vec!["wait", "go"]);

    // The notification's `type` is what caused it: `direct` for one created through the API.
    let args = ["notifications", "watch", "--json", "--until", "type=direct", "--timeout", "60s"];
    let (mut watch, _, _) = start_watch(&env, &args, &channel).await;
    env.notify("direct").await;
    assert_eq!(exit_code(&mut watch).await, 0);
}
