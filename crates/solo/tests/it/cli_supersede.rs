//! A notification replaced by later events about its mission, from the CLI:
//! `list` shows it once with `updated ×N`, `history` what it showed.

use serde_json::{json, Value};
use solo_store::{NewUser, Role};

use crate::cli::Env;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_shows_a_superseded_notification_once_and_history_what_it_replaced() {
    let env = Env::start().await;
    let (code, _, err) = env.run(&["login", "--server", &env.base(), "--token", &env.pat]);
    assert_eq!(code, 0, "{err}");
    let (_, out, _) = env.run(&["missions", "create", "Atlas"]);
    let mission: Value = serde_json::from_str(out.trim()).expect("mission");
    let id = mission["id"].as_str().expect("id");

    // bo moves ada's mission three times.
    let store = env.state.store();
    let bo = store
        .create_user(NewUser { name: "bo".into(), display_name: "Bo".into(), password_hash: None })
        .await
        .expect("bo");
    let workspace = solo_domain::WorkspaceId::parse(mission["workspaceId"].as_str().expect("ws")).expect("id");
    store.set_membership(&workspace, &bo.id, Role::Member).await.expect("member");
    let (bo_pat, _) =
        solo_server::routes::tokens::issue_token(store, &bo, "cli", vec!["read".into(), "write".into()], None)
            .await
            .expect("token");
    for stage in ["spec", "build", "review"] {
        let response = reqwest::Client::new()
            .post(format!("{}/api/missions/{id}/stage", env.base()))
            .bearer_auth(&bo_pat)
            .json(&json!({ "stage": stage }))
            .send()
            .await
            .expect("stage");
        assert_eq!(response.status(), 200);
    }

    let (_, out, _) = env.run(&["notifications", "list"]);
    let items: Vec<Value> = out.lines().map(|l| serde_json::from_str(l).expect("NDJSON")).collect();
    assert_eq!(items.len(), 1, "{out}");
    assert_eq!((items[0]["title"].as_str(), items[0]["updates"].as_i64()), (Some("“Atlas” moved to review"), Some(2)));
    let (code, out, err) = env.run(&["notifications", "history", items[0]["id"].as_str().expect("id")]);
    assert_eq!(code, 0, "{err}");
    let stages: Vec<String> = out
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("event")["data"]["to"].as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(stages, vec!["spec", "build", "review"]);

    // Why: the owner, pushed with a toast, replaced twice.
    let (code, out, err) = env.run(&["notifications", "explain", items[0]["id"].as_str().expect("id")]);
    assert_eq!(code, 0, "{err}");
    let why: Value = serde_json::from_str(out.trim()).expect("json");
    assert_eq!(
        (why["rule"].as_str(), why["delivery"].as_str(), why["updates"].as_i64()),
        (Some("owner"), Some("toast"), Some(2))
    );
    assert_eq!(why["event"]["type"], "mission.stage_changed");
    // The event side: the latest source event notified ada (the caller); bo did it.
    let event = why["event"]["id"].as_str().expect("event id");
    let (code, out, err) = env.run(&["notifications", "explain", "--event", event]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(serde_json::from_str::<Value>(out.trim()).expect("json")["outcome"], "sent");
    let (code, out, err) = env.run(&["notifications", "explain", "--event", event, "--user", "bo"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(serde_json::from_str::<Value>(out.trim()).expect("json")["outcome"], "own_action");
    let (code, _, _) = env.run(&["notifications", "explain", "--user", "bo"]);
    assert_eq!(code, 2, "--user needs --event");
    let (code, _, err) = env.run(&["notifications", "explain", "n_nope"]);
    assert_eq!(code, 1);
    assert!(err.contains("not found"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missions_mute_and_unmute_from_the_cli() {
    let env = Env::start().await;
    let (code, _, err) = env.run(&["login", "--server", &env.base(), "--token", &env.pat]);
    assert_eq!(code, 0, "{err}");
    let (_, out, _) = env.run(&["missions", "create", "Quiet one"]);
    let id = serde_json::from_str::<Value>(out.trim()).expect("mission")["id"].as_str().expect("id").to_owned();
    let (code, out, err) = env.run(&["missions", "mute", &id, "--urgent-only"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(serde_json::from_str::<Value>(out.trim()).expect("json")["missionRules"][&id], "urgent_only");
    let (code, out, _) = env.run(&["missions", "unmute", &id]);
    assert_eq!(code, 0);
    assert_eq!(serde_json::from_str::<Value>(out.trim()).expect("json")["missionRules"], json!({}));
    let (code, _, err) = env.run(&["missions", "mute", "m_nope"]);
    assert_eq!(code, 1);
    assert!(err.contains("not found"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_watch_stops_printing_a_category_switched_off_for_the_cli() {
    use std::process::Stdio;
    let env = Env::start().await;
    let (code, _, err) = env.run(&["login", "--server", &env.base(), "--token", &env.pat]);
    assert_eq!(code, 0, "{err}");
    let mut watch = env
        .solo(&["notifications", "watch", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("watch");
    let (lines, _) = crate::cli::collect(&mut watch);
    let channel = format!("notifications:{}", env.user_id);
    env.until("watch to subscribe", || !env.state.hub().presence(&channel).clients.is_empty()).await;
    env.notify("shown").await;
    env.until("the first", || lines.lock().expect("lock").len() == 1).await;

    let (code, out, err) = env.run(&["notifications", "surface", "system", "--cli", "off"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(serde_json::from_str::<Value>(out.trim()).expect("json")["system"]["cli"], false);
    // Once the change reached the watch (its event comes before the next one on the channel), system is not printed.
    env.notify("hidden").await;
    let (code, _, _) = env.run(&["notifications", "surface", "system", "--cli", "on"]);
    assert_eq!(code, 0);
    env.notify("shown again").await;
    env.until("the third", || lines.lock().expect("lock").len() == 2).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let _ = watch.kill();
    let _ = watch.wait();
    let titles: Vec<String> = lines
        .lock()
        .expect("lock")
        .iter()
        .map(|l| serde_json::from_str::<Value>(l).expect("json")["title"].as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(titles, vec!["shown", "shown again"]);
    let (code, _, _) = env.run(&["notifications", "surface", "chat", "--cli", "off"]);
    assert_eq!(code, 1, "an unknown category is refused");
}
