//! `GET /api/missions` a page at a time: newest first, every mission exactly
//! once across pages (also while missions change stage in between), and
//! precise errors for a bad `limit` or `cursor`.

use reqwest::StatusCode;
use serde_json::{json, Value};
use solo_store::Role;

use crate::support::{create_mission, get, post, TestServer};

fn titles(page: &Value) -> Vec<String> {
    page["items"].as_array().expect("items").iter().map(|m| m["title"].as_str().unwrap_or("").to_owned()).collect()
}

#[tokio::test]
async fn missions_page_by_cursor_newest_first() {
    let server = TestServer::start().await;
    let ada = server.user("ada", "acme", Role::Admin).await;
    let mut ids = Vec::new();
    for n in 0..7 {
        ids.push(create_mission(&server, &ada, &format!("m{n}")).await["id"].as_str().expect("id").to_owned());
    }

    let (status, first) = get(&server, &ada, "/api/missions?limit=3").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(titles(&first), vec!["m6", "m5", "m4"]);
    let cursor = first["nextCursor"].as_str().expect("a next page").to_owned();

    // A mission of the next page moves meanwhile: paging is keyed on creation, so it is not skipped.
    let (status, _) = post(&server, &ada, &format!("/api/missions/{}/stage", ids[3]), json!({ "stage": "spec" })).await;
    assert_eq!(status, StatusCode::OK);
    let (_, second) = get(&server, &ada, &format!("/api/missions?limit=3&cursor={cursor}")).await;
    assert_eq!(titles(&second), vec!["m3", "m2", "m1"]);
    assert_eq!(second["items"][0]["stage"], "spec");
    let cursor = second["nextCursor"].as_str().expect("a last page").to_owned();
    let (_, last) = get(&server, &ada, &format!("/api/missions?limit=3&cursor={cursor}")).await;
    assert_eq!(titles(&last), vec!["m0"]);
    assert!(last["nextCursor"].is_null(), "no page after the last");

    // Without a limit: the default page (100) holds all seven; a filter pages too.
    let (_, all) = get(&server, &ada, "/api/missions").await;
    assert_eq!(titles(&all).len(), 7);
    assert!(all["nextCursor"].is_null());
    let (_, spec) = get(&server, &ada, "/api/missions?stage=spec&limit=1").await;
    assert_eq!(titles(&spec), vec!["m3"]);
    assert!(spec["nextCursor"].is_null(), "a full last page has no cursor either");

    for bad in ["limit=0", "limit=501", "limit=-1", "cursor=%%%", "cursor=bm90LWEtY3Vyc29y"] {
        let (status, error) = get(&server, &ada, &format!("/api/missions?{bad}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {error}");
        assert_eq!(error["code"], "bad_request", "{bad}: {error}");
    }
    server.stop().await;
}
