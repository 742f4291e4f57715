//! The JSON Schema (draft 2020-12) of the event envelope and of every event
//! type, for clients in any language: `packages/domain-schema/events.schema.json`.
//!
//! It is cut from the OpenAPI document (OpenAPI 3.1 schemas are JSON Schema),
//! which is generated from the same Rust types as the events themselves, so it
//! cannot say something else than what the server sends. The test in
//! `typescript.rs` fails when the committed file is stale.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Map, Value};
use utoipa::OpenApi;

use crate::routes::ApiDoc;

const COMPONENTS: &str = "#/components/schemas/";
const DEFS: &str = "#/$defs/";

/// Every `$ref` target named in `value`.
fn refs_in(value: &Value, into: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                match (key.as_str(), inner) {
                    ("$ref", Value::String(target)) => {
                        if let Some(name) = target.strip_prefix(COMPONENTS) {
                            into.push(name.to_owned());
                        }
                    }
                    _ => refs_in(inner, into),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| refs_in(item, into)),
        _ => {}
    }
}

/// `value` with its `#/components/schemas/X` references pointing at `#/$defs/X`.
fn to_defs(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(key, inner)| match (key.as_str(), inner) {
                    ("$ref", Value::String(target)) => {
                        let target = match target.strip_prefix(COMPONENTS) {
                            Some(name) => format!("{DEFS}{name}"),
                            None => target,
                        };
                        (key, Value::String(target))
                    }
                    (_, inner) => (key, to_defs(inner)),
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(to_defs).collect()),
        other => other,
    }
}

/// The event types, in the order the schema lists them.
fn event_types(payload: &Value) -> Vec<String> {
    payload["oneOf"]
        .as_array()
        .map(|variants| {
            variants.iter().filter_map(|v| v["properties"]["type"]["enum"][0].as_str().map(str::to_owned)).collect()
        })
        .unwrap_or_default()
}

/// The schema document: `EventEnvelope` at the top, what it refers to in
/// `$defs`, and one definition per event type (`$defs["mission.created"]`, …)
/// for a client that validates one type.
pub fn document() -> Value {
    let openapi = serde_json::to_value(ApiDoc::openapi()).unwrap_or(Value::Null);
    let schemas = openapi["components"]["schemas"].as_object().cloned().unwrap_or_default();
    // The envelope and everything it refers to, transitively.
    let mut wanted: BTreeSet<String> = BTreeSet::new();
    let mut todo = vec!["EventEnvelope".to_owned()];
    while let Some(name) = todo.pop() {
        if !wanted.insert(name.clone()) {
            continue;
        }
        if let Some(schema) = schemas.get(&name) {
            refs_in(schema, &mut todo);
        }
    }
    let mut defs: BTreeMap<String, Value> =
        wanted.iter().filter_map(|name| schemas.get(name).map(|s| (name.clone(), to_defs(s.clone())))).collect();
    let types = event_types(defs.get("EventPayload").unwrap_or(&Value::Null));
    for name in &types {
        defs.insert(
            name.clone(),
            json!({
                "description": format!("An event envelope of type `{name}`."),
                "allOf": [
                    { "$ref": format!("{DEFS}EventEnvelope") },
                    { "type": "object", "properties": { "type": { "const": name } }, "required": ["type"] }
                ]
            }),
        );
    }
    let mut document = Map::new();
    document.insert("$schema".into(), json!("https://json-schema.org/draft/2020-12/schema"));
    document.insert("title".into(), json!("Solo Realtime event envelope"));
    document.insert(
        "description".into(),
        json!(
            "Every publication of Solo's realtime channels and every item of GET /api/events is one \
             envelope. `version` grows by one per change of `subject`; apply an event only when it is \
             newer than what you hold, and drop an `id` already applied. Generated from the server's \
             Rust types; `$defs` has one definition per event type."
        ),
    );
    document.insert("$ref".into(), json!(format!("{DEFS}EventEnvelope")));
    document.insert("$defs".into(), Value::Object(defs.into_iter().collect()));
    Value::Object(document)
}

/// The document as committed: pretty-printed, with a final newline.
pub fn document_text() -> String {
    let mut text = serde_json::to_string_pretty(&document()).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_type_has_a_definition_and_every_reference_resolves() {
        let doc = document();
        let defs = doc["$defs"].as_object().expect("$defs");
        let types = event_types(&defs["EventPayload"]);
        for expected in ["mission.stage_changed", "notification.created", "preferences.updated", "config.updated"] {
            assert!(types.iter().any(|t| t == expected), "{expected} in {types:?}");
            assert!(defs.contains_key(expected), "a definition of {expected}");
        }
        let text = doc.to_string();
        assert!(!text.contains(COMPONENTS), "no reference left to the OpenAPI document");
        for target in text.split("\"#/$defs/").skip(1).filter_map(|rest| rest.split('"').next()) {
            assert!(defs.contains_key(target), "{target} is defined");
        }
    }
}
