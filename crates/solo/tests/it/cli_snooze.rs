//! `solo notifications snooze|wake|done|undone` and `list --state` against a
//! real server, and a running watch printing a snooze that comes back.

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;

use crate::cli::{collect, Env};

fn items(out: &str) -> Vec<Value> {
    out.lines().map(|l| serde_json::from_str(l).expect("NDJSON")).collect()
}

fn titles(env: &Env, state: &str) -> Vec<String> {
    let (code, out, err) = env.run(&["notifications", "list", "--state", state]);
    assert_eq!(code, 0, "{err}");
    items(&out).iter().map(|n| n["title"].as_str().unwrap_or("").to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snooze_wake_done_and_undone_from_the_cli() {
    let env = Env::start().await;
    let (code, _, err) = env.run(&["login", "--server", &env.base(), "--token", &env.pat]);
    assert_eq!(code, 0, "{err}");
    for title in ["one", "two", "three"] {
        env.notify(title).await;
    }
    let (_, out, _) = env.run(&["notifications", "list"]);
    let ids: Vec<String> = items(&out).iter().map(|n| n["id"].as_str().expect("id").to_owned()).collect();
    let (three, two, one) = (&ids[0], &ids[1], &ids[2]);

    let (code, out, err) = env.run(&["notifications", "snooze", one, "--for", "2h"]);
    assert_eq!(code, 0, "{err}");
    assert!(items(&out)[0]["snoozedUntil"].is_string());
    let (code, _, err) = env.run(&["notifications", "done", two]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(titles(&env, "inbox"), vec!["three"]);
    assert_eq!(titles(&env, "snoozed"), vec!["one"]);
    assert_eq!(titles(&env, "done"), vec!["two"]);
    assert_eq!(titles(&env, "all"), vec!["three", "two", "one"]);

    let (code, _, _) = env.run(&["notifications", "undone", two]);
    assert_eq!(code, 0);
    let (code, out, _) = env.run(&["notifications", "wake", one]);
    assert_eq!(code, 0);
    assert!(items(&out)[0]["readAt"].is_null(), "woken: unread");
    assert_eq!(titles(&env, "inbox"), vec!["three", "two", "one"]);

    // Usage: say how long, once; the server's check of the time is shown.
    let (code, _, _) = env.run(&["notifications", "snooze", three]);
    assert_eq!(code, 2);
    let (code, _, _) = env.run(&["notifications", "snooze", three, "--for", "1h", "--until", "2030-01-01T00:00:00Z"]);
    assert_eq!(code, 2);
    let (code, _, err) = env.run(&["notifications", "snooze", three, "--until", "2001-01-01T00:00:00Z"]);
    assert_eq!(code, 1);
    assert!(err.contains("in the future") && err.contains("invalid_snooze"), "{err}");
    let (code, _, _) = env.run(&["notifications", "list", "--state", "later"]);
    assert_eq!(code, 2);

    // A running watch prints a snooze that comes back, as a fresh arrival.
    let mut watch = env
        .solo(&["notifications", "watch", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("watch");
    let (lines, _) = collect(&mut watch);
    let channel = format!("notifications:{}", env.user_id);
    env.until("watch to subscribe", || !env.state.hub().presence(&channel).clients.is_empty()).await;
    let soon = solo_domain::time::format_ms(solo_domain::time::now_ms() + 1_500);
    let (code, _, err) = env.run(&["notifications", "snooze", three, "--until", &soon]);
    assert_eq!(code, 0, "{err}");
    env.until("the woken notification", || !lines.lock().expect("lock").is_empty()).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let _ = watch.kill();
    let _ = watch.wait();
    let printed: Vec<Value> =
        lines.lock().expect("lock").iter().map(|l| serde_json::from_str(l).expect("json")).collect();
    assert_eq!(printed.len(), 1, "printed once, when it came back");
    assert_eq!((printed[0]["id"].as_str(), printed[0]["readAt"].is_null()), (Some(three.as_str()), true));
}
