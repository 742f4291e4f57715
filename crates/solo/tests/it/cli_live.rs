//! The CLI's newer commands against a real server: the community feed, one
//! mission (show, watch, fallback, subscribe), `--since` replay across a
//! restart of the watch, and quiet hours changed while a watch runs.

use std::process::{Child, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::cli::{collect, Env, Lines};

fn json_lines(lines: &Lines) -> Vec<Value> {
    lines.lock().expect("lock").iter().map(|l| serde_json::from_str(l).expect("NDJSON")).collect()
}

fn one_json(out: &str) -> Value {
    serde_json::from_str(out.trim()).expect("one JSON object")
}

fn stop(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

async fn login(env: &Env) {
    let (code, _, err) = env.run(&["login", "--server", &env.base(), "--token", &env.pat]);
    assert_eq!(code, 0, "{err}");
}

/// Starts a watch and waits until it is subscribed to `channel`.
async fn start_watch(env: &Env, args: &[&str], channel: &str) -> (Child, Lines, Lines) {
    let mut child = env.solo(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("watch");
    let (out, err) = collect(&mut child);
    let subscribed = || !env.state.hub().presence(channel).clients.is_empty();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !subscribed() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "watch never subscribed; stderr: {:?}",
            err.lock().expect("lock")
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    (child, out, err)
}

fn titles(lines: &Lines) -> Vec<String> {
    json_lines(lines).iter().map(|n| n["title"].as_str().unwrap_or("").to_owned()).collect()
}

fn types(lines: &Lines) -> Vec<String> {
    json_lines(lines).iter().map(|e| e["type"].as_str().unwrap_or("").to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn community_and_mission_commands() {
    let env = Env::start().await;
    login(&env).await;

    let (code, out, err) = env.run(&["community", "post", "Release notes are up, @ada"]);
    assert_eq!(code, 0, "{err}");
    let post = one_json(&out);
    assert_eq!(post["body"], "Release notes are up, @ada");
    assert_eq!(post["mentions"][0].as_str(), Some(env.user_id.as_str()));
    let (code, out, _) = env.run(&["community", "list", "--limit", "5"]);
    assert_eq!(code, 0);
    assert_eq!(one_json(&out)["id"], post["id"], "the one post, listed");
    let (code, _, err) = env.run(&["community", "post", "   "]);
    assert_eq!(code, 1, "a blank post is refused by the server");
    assert!(err.contains("body"), "{err}");

    let (_, out, _) = env.run(&["missions", "create", "Live mission"]);
    let id = one_json(&out)["id"].as_str().expect("id").to_owned();
    let (watch, lines, _) = start_watch(&env, &["missions", "watch", &id, "--json"], &format!("mission:{id}")).await;

    let (code, _, err) = env.run(&["missions", "review", &id, "approved", "--comment", "ship it"]);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) =
        env.run(&["missions", "fallback", &id, "--reason", "agent crashed", "--summary", "rerun on rig 2"]);
    assert_eq!(code, 0, "{err}");
    let fallback = one_json(&out);
    assert_eq!(fallback["fallback"]["reason"], "agent crashed");
    env.until("both events printed", || json_lines(&lines).len() >= 2).await;

    // Subscribing is the API's watch: the owner watches from the start.
    let watchers = |detail: &Value| -> Vec<String> {
        detail["watcherIds"]
            .as_array()
            .expect("watchers")
            .iter()
            .filter_map(|w| w.as_str().map(str::to_owned))
            .collect()
    };
    let (code, out, _) = env.run(&["missions", "unsubscribe", &id]);
    assert_eq!((code, one_json(&out)["watching"].as_bool()), (0, Some(false)));
    let (_, out, _) = env.run(&["missions", "show", &id]);
    assert!(!watchers(&one_json(&out)).contains(&env.user_id));
    let (code, out, _) = env.run(&["missions", "subscribe", &id]);
    assert_eq!((code, one_json(&out)["watching"].as_bool()), (0, Some(true)));
    let (code, out, _) = env.run(&["missions", "show", &id]);
    assert_eq!(code, 0);
    let detail = one_json(&out);
    assert_eq!(watchers(&detail), vec![env.user_id.clone()]);
    assert_eq!(detail["reviews"][0]["comment"], "ship it");
    assert_eq!(detail["fallbacks"][0]["id"], fallback["fallback"]["id"]);
    assert_eq!(detail["fallbacks"][0]["summary"], "rerun on rig 2");

    let (code, _, err) = env.run(&["missions", "show", &format!("m_{}", "0".repeat(32))]);
    assert_eq!(code, 1);
    assert!(err.contains("not found"), "{err}");
    let (code, _, _) = env.run(&["missions", "watch", &id, "--since", "soon"]);
    assert_eq!(code, 2, "a bad --since is a usage error");

    tokio::time::sleep(Duration::from_millis(300)).await;
    stop(watch);
    let events = json_lines(&lines);
    assert_eq!(types(&lines), vec!["review.decided", "fallback.generated"], "each once, in order");
    assert_eq!(events[0]["data"]["comment"], "ship it");
    assert_eq!(events[1]["version"].as_i64(), events[0]["version"].as_i64().map(|v| v + 1));

    // Restarted from the review's id: the fallback it missed, then live.
    let review_id = events[0]["id"].as_str().expect("event id").to_owned();
    let (watch, lines, _) =
        start_watch(&env, &["missions", "watch", &id, "--json", "--since", &review_id], &format!("mission:{id}")).await;
    let (code, _, _) = env.run(&["missions", "stage", &id, "spec"]);
    assert_eq!(code, 0);
    env.until("the live stage change", || json_lines(&lines).len() >= 2).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop(watch);
    assert_eq!(types(&lines), vec!["fallback.generated", "mission.stage_changed"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_since_replays_what_was_missed_then_follows_live() {
    let env = Env::start().await;
    login(&env).await;
    let channel = format!("notifications:{}", env.user_id);
    env.notify("one").await;
    env.notify("two").await;

    let (watch, lines, _) = start_watch(&env, &["notifications", "watch", "--json"], &channel).await;
    env.notify("three").await;
    env.until("three", || titles(&lines).len() == 1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop(watch);
    assert_eq!(titles(&lines), vec!["three"], "without --since, only what comes");
    let three = json_lines(&lines)[0]["id"].as_str().expect("id").to_owned();

    // Missed while stopped.
    env.notify("four").await;
    env.notify("five").await;

    // From the last notification printed: exactly what was missed, then live.
    let (watch, lines, _) = start_watch(&env, &["notifications", "watch", "--json", "--since", &three], &channel).await;
    env.notify("six").await;
    env.until("four, five and six", || titles(&lines).len() >= 3).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop(watch);
    assert_eq!(titles(&lines), vec!["four", "five", "six"]);

    // From an offset: after the second publication of the stream.
    let (watch, lines, _) = start_watch(&env, &["notifications", "watch", "--json", "--since", "2"], &channel).await;
    env.notify("seven").await;
    env.until("three to seven", || titles(&lines).len() >= 5).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop(watch);
    assert_eq!(titles(&lines), vec!["three", "four", "five", "six", "seven"]);

    // From a duration: everything of the last hour, once.
    let (watch, lines, _) = start_watch(&env, &["notifications", "watch", "--json", "--since", "1h"], &channel).await;
    env.until("all seven", || titles(&lines).len() >= 7).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop(watch);
    assert_eq!(titles(&lines), vec!["one", "two", "three", "four", "five", "six", "seven"]);

    // A point the stream does not have is an error, not a silent start from now.
    let (code, _, err) = env.run(&["notifications", "watch", "--since", &format!("n_{}", "ab".repeat(16))]);
    assert_eq!(code, 1);
    assert!(err.contains("not in the kept history"), "{err}");
    let (code, _, err) = env.run(&["notifications", "watch", "--since", "99"]);
    assert_eq!(code, 1);
    assert!(err.contains("past the latest offset"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_watch_takes_quiet_hours_changes_at_once() {
    let env = Env::start().await;
    login(&env).await;
    let channel = format!("notifications:{}", env.user_id);
    let (watch, _, status) = start_watch(&env, &["notifications", "watch", "--json"], &channel).await;
    let said = |line: &str| status.lock().expect("lock").iter().any(|l| l == line);

    let (code, _, err) = env.run(&["quiet-hours", "set", "21:00-06:30", "--tz", "Europe/Paris"]);
    assert_eq!(code, 0, "{err}");
    env.until("the change reported", || said("quiet hours changed: on, 21:00-06:30 Europe/Paris")).await;
    let (code, _, _) = env.run(&["quiet-hours", "off"]);
    assert_eq!(code, 0);
    env.until("off reported", || said("quiet hours changed: off")).await;
    stop(watch);

    // Both changes are events of the user's stream, versioned 1 and 2.
    let page: Value = reqwest::Client::new()
        .get(format!("{}/api/events?channel={channel}", env.base()))
        .bearer_auth(&env.pat)
        .send()
        .await
        .expect("history")
        .json()
        .await
        .expect("json");
    let changes: Vec<(i64, bool)> = page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| &i["event"])
        .filter(|e| e["type"] == "preferences.updated")
        .map(|e| (e["version"].as_i64().unwrap_or(0), e["data"]["quietHours"]["enabled"] == true))
        .collect();
    assert_eq!(changes, vec![(1, true), (2, false)]);
    let (_, out, _) = env.run(&["quiet-hours", "show"]);
    assert_eq!(one_json(&out)["version"], 2);
}
