//! JSON Schemas generated from the Rust types, and the rule that keeps a schema version
//! backward compatible.
//!
//! The committed copies under `schemas/` are what consumers read; a test fails when they and
//! the code differ, and another compares them with frozen baselines using
//! [`incompatibilities`].

use std::collections::BTreeSet;

use schemars::JsonSchema;
use schemars::generate::SchemaSettings;
use serde_json::Value;

use crate::{ResponseEvent, ScoreEvent};

/// Where the schemas are published; the `$id` of each is this plus its file name.
const ID_BASE: &str = "https://callscore.invalid/schemas/";

/// File name of the score event schema under `schemas/`.
pub const SCORE_EVENT_FILE: &str = "score-event.v1.schema.json";
/// File name of the response event schema under `schemas/`.
pub const RESPONSE_EVENT_FILE: &str = "response-event.v1.schema.json";
/// File name of the survey definition schema under `schemas/`.
pub const SURVEY_FILE: &str = "survey.v1.schema.json";

/// The JSON Schema (draft 2020-12) of [`ScoreEvent`].
pub fn score_event() -> Value {
    generate::<ScoreEvent>(SCORE_EVENT_FILE)
}

/// The JSON Schema (draft 2020-12) of [`ResponseEvent`].
pub fn response_event() -> Value {
    generate::<ResponseEvent>(RESPONSE_EVENT_FILE)
}

/// The JSON Schema (draft 2020-12) of a survey definition file, for editors that check TOML
/// against a schema.
pub fn survey_definition() -> Value {
    generate::<crate::file::SurveyFile>(SURVEY_FILE)
}

/// Every schema with its file name under `schemas/`.
pub fn all() -> [(&'static str, Value); 3] {
    [
        (SCORE_EVENT_FILE, score_event()),
        (RESPONSE_EVENT_FILE, response_event()),
        (SURVEY_FILE, survey_definition()),
    ]
}

/// Compares generated schemas with the files committed under `dir`, as JSON values (so only
/// a change of meaning counts, not formatting); with `CALLSCORE_BLESS=1` in the environment it
/// rewrites the files instead. Returns the stale files, for the caller's test to report with
/// the command that blesses them.
pub fn check_committed<'a>(
    dir: &std::path::Path,
    schemas: impl IntoIterator<Item = (&'a str, Value)>,
) -> Vec<String> {
    let bless = std::env::var("CALLSCORE_BLESS").is_ok_and(|v| v == "1");
    let mut stale = Vec::new();
    for (file, generated) in schemas {
        let path = dir.join(file);
        if bless {
            if let Err(error) = std::fs::write(&path, to_file_text(&generated)) {
                stale.push(format!("schemas/{file} (cannot write: {error})"));
            }
            continue;
        }
        let committed: Option<Value> = std::fs::read_to_string(&path)
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok());
        if committed.as_ref() != Some(&generated) {
            stale.push(format!("schemas/{file}"));
        }
    }
    stale
}

/// A schema as committed: pretty JSON with keys sorted and a final newline. Sorting here
/// keeps the text the same whether or not some other crate in the build turns on
/// serde_json's `preserve_order`.
pub fn to_file_text(schema: &Value) -> String {
    let mut text = serde_json::to_string_pretty(&sorted(schema))
        .expect("a serde_json::Value always serialises");
    text.push('\n');
    text
}

fn sorted(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            Value::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k.clone(), sorted(v)))
                    .collect(),
            )
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// The schema of what the type accepts when read (the deserialising view): a field that may
/// be missing is not required. That is the view backward compatibility is about: an event
/// written before a field existed must still be valid.
/// The JSON Schema (draft 2020-12) of any type, with its `$id` under callscore's schema base:
/// the generator every committed schema comes from, so all of them read alike.
pub fn generate<T: JsonSchema>(file: &str) -> Value {
    let schema = SchemaSettings::draft2020_12()
        .into_generator()
        .into_root_schema_for::<T>();
    let mut value = schema.to_value();
    if let Some(object) = value.as_object_mut() {
        object.insert("$id".into(), Value::String(format!("{ID_BASE}{file}")));
    }
    value
}

/// Ways in which `current` would reject a document that `baseline` accepts, as
/// `JSON pointer: problem` lines; empty when `current` is a backward-compatible successor.
///
/// Checked, at the root, in every `$defs` entry and recursively through properties, items and
/// alternatives (`anyOf`/`oneOf`): every baseline property and definition still exists; types
/// and enumerations only widen; `$ref`s point at the same definition; no property is newly
/// required; no pattern or format is added or changed; bounds only widen. Adding optional
/// properties, enum values, alternatives or `null` is compatible.
pub fn incompatibilities(baseline: &Value, current: &Value) -> Vec<String> {
    let mut out = Vec::new();
    compare(baseline, current, "#", &mut out);
    let defs = |v: &Value| v.get("$defs").and_then(Value::as_object).cloned();
    let current_defs = defs(current).unwrap_or_default();
    for (name, base) in defs(baseline).unwrap_or_default() {
        let path = format!("#/$defs/{name}");
        match current_defs.get(&name) {
            Some(cur) => compare(&base, cur, &path, &mut out),
            None => out.push(format!("{path}: definition removed")),
        }
    }
    out
}

fn accepts_all_of(base: &Value, cur: &Value) -> bool {
    let mut out = Vec::new();
    compare(base, cur, "", &mut out);
    out.is_empty()
}

fn compare(base: &Value, cur: &Value, path: &str, out: &mut Vec<String>) {
    let alternatives = |v: &Value| {
        v.get("anyOf")
            .or_else(|| v.get("oneOf"))
            .and_then(Value::as_array)
            .cloned()
    };
    match (alternatives(base), alternatives(cur)) {
        (Some(base_alts), cur_alts) => {
            let cur_alts = cur_alts.unwrap_or_else(|| vec![cur.clone()]);
            for (i, alt) in base_alts.iter().enumerate() {
                if !cur_alts.iter().any(|c| accepts_all_of(alt, c)) {
                    out.push(format!("{path}/anyOf/{i}: no longer accepted"));
                }
            }
            return;
        }
        (None, Some(cur_alts)) => {
            if !cur_alts.iter().any(|c| accepts_all_of(base, c)) {
                out.push(format!("{path}: no longer accepted by any alternative"));
            }
            return;
        }
        (None, None) => {}
    }

    match (base.get("$ref"), cur.get("$ref")) {
        (Some(b), Some(c)) if b != c => out.push(format!("{path}: refers to {c} instead of {b}")),
        (Some(b), None) => out.push(format!("{path}: no longer refers to {b}")),
        (None, Some(c)) => out.push(format!("{path}: now refers to {c}")),
        _ => {}
    }

    if let Some(cur_types) = types(cur) {
        match types(base) {
            Some(base_types) => {
                for t in base_types {
                    let widened = t == "integer" && cur_types.contains("number");
                    if !cur_types.contains(&t) && !widened {
                        out.push(format!("{path}: type {t} no longer allowed"));
                    }
                }
            }
            None => out.push(format!("{path}: now restricted to type {cur_types:?}")),
        }
    }

    if let Some(cur_values) = values(cur) {
        match values(base) {
            Some(base_values) => {
                for v in base_values.iter().filter(|v| !cur_values.contains(v)) {
                    out.push(format!("{path}: value {v} no longer allowed"));
                }
            }
            None => out.push(format!(
                "{path}: now restricted to the values {cur_values:?}"
            )),
        }
    }

    for keyword in ["pattern", "format"] {
        if let Some(c) = cur.get(keyword)
            && base.get(keyword) != Some(c)
        {
            out.push(format!("{path}: {keyword} is now {c}"));
        }
    }
    let bound = |v: &Value, k: &str| v.get(k).and_then(Value::as_f64);
    if let Some(c) = bound(cur, "minimum")
        && bound(base, "minimum").is_none_or(|b| b < c)
    {
        out.push(format!("{path}: minimum raised to {c}"));
    }
    if let Some(c) = bound(cur, "maximum")
        && bound(base, "maximum").is_none_or(|b| b > c)
    {
        out.push(format!("{path}: maximum lowered to {c}"));
    }

    let properties = |v: &Value| v.get("properties").and_then(Value::as_object).cloned();
    let cur_props = properties(cur).unwrap_or_default();
    for (name, b) in properties(base).unwrap_or_default() {
        let at = format!("{path}/properties/{name}");
        match cur_props.get(&name) {
            Some(c) => compare(&b, c, &at, out),
            None => out.push(format!("{at}: property removed")),
        }
    }
    let base_required = required(base);
    for name in required(cur).difference(&base_required) {
        out.push(format!("{path}: property {name} is newly required"));
    }
    if cur.get("additionalProperties") == Some(&Value::Bool(false))
        && base.get("additionalProperties") != Some(&Value::Bool(false))
    {
        out.push(format!("{path}: additional properties no longer allowed"));
    }

    if let (Some(b), Some(c)) = (base.get("items"), cur.get("items")) {
        compare(b, c, &format!("{path}/items"), out);
    }
}

fn types(v: &Value) -> Option<BTreeSet<String>> {
    match v.get("type")? {
        Value::String(t) => Some(BTreeSet::from([t.clone()])),
        Value::Array(ts) => Some(
            ts.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
        ),
        _ => None,
    }
}

fn values(v: &Value) -> Option<Vec<Value>> {
    if let Some(c) = v.get("const") {
        return Some(vec![c.clone()]);
    }
    v.get("enum").and_then(Value::as_array).cloned()
}

fn required(v: &Value) -> BTreeSet<String> {
    v.get("required")
        .and_then(Value::as_array)
        .map(|r| {
            r.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn baseline() -> Value {
        json!({
            "type": "object",
            "properties": {
                "id": { "type": "string" },
                "value": { "type": ["integer", "null"] },
                "status": { "$ref": "#/$defs/Status" },
                "keys": { "type": "array", "items": { "type": "string", "pattern": "^[0-9]$" } },
                "audio": { "anyOf": [{ "$ref": "#/$defs/Audio" }, { "type": "null" }] }
            },
            "required": ["id", "status", "keys"],
            "$defs": {
                "Status": { "type": "string", "enum": ["answered", "no_input"] },
                "Audio": { "type": "object", "properties": { "uri": { "type": "string" } }, "required": ["uri"] }
            }
        })
    }

    /// Applies `change` to a copy of the baseline and returns the problems found.
    fn after(change: impl FnOnce(&mut Value)) -> Vec<String> {
        let mut current = baseline();
        change(&mut current);
        incompatibilities(&baseline(), &current)
    }

    #[test]
    fn identical_and_widened_schemas_are_compatible() {
        assert_eq!(after(|_| {}), Vec::<String>::new());
        let widened = after(|s| {
            s["properties"]["note"] = json!({ "type": ["string", "null"] });
            s["properties"]["value"]["type"] = json!(["number", "null"]);
            s["$defs"]["Status"]["enum"] = json!(["answered", "no_input", "partial"]);
            s["required"] = json!(["id", "keys"]);
        });
        assert_eq!(widened, Vec::<String>::new());
    }

    #[test]
    fn a_dropped_field_is_incompatible() {
        let problems = after(|s| {
            s["properties"]
                .as_object_mut()
                .expect("object")
                .remove("value");
        });
        assert_eq!(problems, ["#/properties/value: property removed"]);
    }

    #[test]
    fn a_new_required_field_is_incompatible() {
        let problems = after(|s| {
            s["properties"]["tenant"] = json!({ "type": "string" });
            s["required"] = json!(["id", "status", "keys", "tenant"]);
        });
        assert_eq!(problems, ["#: property tenant is newly required"]);
        // Making an existing optional field required is just as breaking.
        let problems = after(|s| s["required"] = json!(["id", "status", "keys", "value"]));
        assert_eq!(problems, ["#: property value is newly required"]);
    }

    #[test]
    fn narrowed_types_values_and_formats_are_incompatible() {
        type Change = Box<dyn FnOnce(&mut Value)>;
        let cases: Vec<(Change, &str)> = vec![
            (
                Box::new(|s| s["properties"]["value"]["type"] = json!("integer")),
                "#/properties/value: type null no longer allowed",
            ),
            (
                Box::new(|s| s["properties"]["id"]["type"] = json!("integer")),
                "#/properties/id: type string no longer allowed",
            ),
            (
                Box::new(|s| s["$defs"]["Status"]["enum"] = json!(["answered"])),
                "#/$defs/Status: value \"no_input\" no longer allowed",
            ),
            (
                Box::new(|s| s["properties"]["keys"]["items"]["pattern"] = json!("^[0-5]$")),
                "#/properties/keys/items: pattern is now \"^[0-5]$\"",
            ),
            (
                Box::new(|s| s["properties"]["id"]["format"] = json!("uuid")),
                "#/properties/id: format is now \"uuid\"",
            ),
            (
                Box::new(|s| s["properties"]["status"]["$ref"] = json!("#/$defs/Audio")),
                "#/properties/status: refers to \"#/$defs/Audio\" instead of \"#/$defs/Status\"",
            ),
            (
                Box::new(|s| s["properties"]["audio"] = json!({ "$ref": "#/$defs/Audio" })),
                "#/properties/audio/anyOf/1: no longer accepted",
            ),
            (
                Box::new(|s| {
                    s["$defs"].as_object_mut().expect("object").remove("Audio");
                }),
                "#/$defs/Audio: definition removed",
            ),
            (
                Box::new(|s| s["$defs"]["Audio"]["required"] = json!(["uri", "sha256"])),
                "#/$defs/Audio: property sha256 is newly required",
            ),
            (
                Box::new(|s| s["properties"]["value"]["minimum"] = json!(0)),
                "#/properties/value: minimum raised to 0",
            ),
        ];
        for (change, expected) in cases {
            let problems = after(change);
            assert_eq!(problems, [expected]);
        }
    }

    #[test]
    fn generated_schemas_have_ids_and_name_every_event_field() {
        let score = score_event();
        assert_eq!(
            score["$id"],
            "https://callscore.invalid/schemas/score-event.v1.schema.json"
        );
        let properties = score["properties"].as_object().expect("properties");
        for field in [
            "event_id",
            "status",
            "value",
            "raw_keys",
            "caller_pseudonym",
            "retention",
        ] {
            assert!(properties.contains_key(field), "{field}");
        }
        let required = required(&score);
        assert!(required.contains("event_id") && !required.contains("value"));
    }
}
