//! The dashboard and the alert rules in `deploy/`, proven against a real Prometheus (Debian's
//! `prometheus`) that scrapes a running `callscore serve` on the real broker and store: every
//! panel query returns data, every metric and label an alert refers to exists, and the store
//! outage alert fires during an outage and resolves after it.
//!
//! The rules are evaluated as written except for their `for:` hold-downs, which this test
//! shortens to a few seconds: the expressions are the thing under test, and a real outage of
//! five minutes would make the test as long.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use callscore_testkit::service::{
    DEAD_LETTERS, SCORES, Services, Setup, answers_of, event_count, expected_answers, recordings,
    root,
};
use callscore_testkit::{Prometheus, wait_for};
use serde_json::Value;

mod common;

use common::start;

const READY: Duration = Duration::from_secs(60);
const DONE: Duration = Duration::from_secs(120);
/// How far back the checks look: the whole test.
const WINDOW: &str = "10m";

#[tokio::test(flavor = "multi_thread")]
async fn every_panel_and_alert_finds_its_series_and_the_store_outage_alert_fires() {
    let mut services = Services::start(2).await;
    let dir = tempfile::tempdir().expect("a directory");
    let (config, port) = services.config_with(
        dir.path(),
        &Setup {
            group: "monitoring",
            extra: "[sweeper]\nenabled = true\ninterval_s = 2\n",
            ..Setup::default()
        },
    );
    // lag statistics every second; an outage must not cost the group membership
    let text = std::fs::read_to_string(&config).expect("the configuration");
    let text = text.replace(
        "\"auto.commit.interval.ms\" = 500",
        "\"auto.commit.interval.ms\" = 500\n\"statistics.interval.ms\" = 1000\n\
         \"max.poll.interval.ms\" = 30000",
    );
    std::fs::write(&config, text).expect("written");
    let service = start(&services, &config, port, &dir.path().join("serve.log"));
    service.wait_ready(READY);
    let rules = shortened_rules(dir.path());
    let prometheus = Prometheus::start(&[format!("127.0.0.1:{port}")], &rules);

    // good calls, one that cannot be decoded (a dead letter) and calls of 2020, expired long
    // ago, which the sweeper deletes
    let good = recordings(1);
    let mut corrupt = good[0].clone();
    corrupt.metadata["recording_id"] = "rec-corrupt".into();
    corrupt.audio = b"RIFF\x10\x00\x00\x00WAVEjunkjunkjunk".to_vec();
    let mut old = recordings(1);
    for (n, r) in old.iter_mut().enumerate() {
        r.metadata["recording_id"] = format!("rec-old-{n}").into();
        r.metadata["call_started_at"] = "2020-01-01T09:00:00Z".into();
        r.metadata["consent"]["legal_hold"] = false.into();
    }
    services.produce(&good).await;
    services.produce(&[corrupt]).await;
    services.produce(&old).await;
    let events = services.read(SCORES, event_count(&good) + event_count(&old), DONE);
    assert_eq!(events.len(), event_count(&good) + event_count(&old));
    assert_eq!(services.read(DEAD_LETTERS, 1, DONE).len(), 1);
    service.wait_metric(
        "callscore_retention_deleted_objects_total",
        &[],
        old.len() as f64,
        DONE,
    );

    // the store goes away with recordings in flight
    services.garage.kill();
    let during = recordings(2).split_off(good.len());
    services.produce(&during).await;
    let fired = wait_for_alert(&prometheus, "CallscoreStoreUnavailable", "firing", DONE);
    assert!(
        fired,
        "the store outage alert fires: {:#?}",
        prometheus.alerts()
    );
    services.garage.resume();
    let all = event_count(&good) + event_count(&old) + event_count(&during);
    let events = services.read(SCORES, all, DONE);
    let recovered: Vec<_> = events
        .iter()
        .filter(|e| {
            let id = e.json()["recording_id"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            during.iter().any(|r| r.recording_id() == id)
        })
        .cloned()
        .collect();
    assert_eq!(
        answers_of(&recovered),
        expected_answers(&during),
        "nothing lost"
    );
    let resolved = wait_for(DONE, || {
        !prometheus
            .alerts()
            .iter()
            .any(|a| a["labels"]["alertname"] == "CallscoreStoreUnavailable")
    });
    assert!(resolved, "the alert resolves once the store is back");
    // a few scrapes after the last change, so every rate has two samples
    std::thread::sleep(Duration::from_secs(5));

    let mut problems = Vec::new();
    for (panel, expr) in dashboard_queries() {
        let expr = expr
            .replace("$__rate_interval", WINDOW)
            .replace("$__interval", "1s")
            .replace("$__range", WINDOW);
        let result = prometheus.query(&expr);
        if result.is_empty() {
            problems.push(format!("panel {panel:?}: {expr} returns no data"));
        }
        problems.extend(missing_labels(
            &prometheus,
            &expr,
            &format!("panel {panel:?}"),
        ));
    }
    for (alert, expr) in alert_expressions() {
        // evaluates, and refers only to series and labels that exist
        prometheus.query(&expr);
        problems.extend(missing_labels(
            &prometheus,
            &expr,
            &format!("alert {alert}"),
        ));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// `deploy/prometheus/alerts.yaml` with every `for:` cut to 3 seconds, written in `dir`.
fn shortened_rules(dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(root().join("deploy/prometheus/alerts.yaml"))
        .expect("deploy/prometheus/alerts.yaml");
    let mut shortened = 0;
    let lines: Vec<String> = text
        .lines()
        .map(|line| match line.trim_start().strip_prefix("for: ") {
            Some(_) => {
                shortened += 1;
                let indent = &line[..line.len() - line.trim_start().len()];
                format!("{indent}for: 3s")
            }
            None => line.to_string(),
        })
        .collect();
    assert!(shortened > 5, "the rules have their hold-downs");
    let path = dir.join("alerts.yaml");
    std::fs::write(&path, lines.join("\n")).expect("writing the rules");
    path
}

/// Every panel's title and query in the dashboard.
fn dashboard_queries() -> Vec<(String, String)> {
    let dashboard: Value = serde_json::from_slice(
        &std::fs::read(root().join("deploy/grafana/callscore.json")).expect("the dashboard"),
    )
    .expect("JSON");
    let mut out = Vec::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().into_iter().flatten() {
            if let Some(expr) = target["expr"].as_str() {
                out.push((
                    panel["title"].as_str().unwrap_or("?").to_string(),
                    expr.into(),
                ));
            }
        }
    }
    assert!(out.len() >= 20, "the dashboard has its panels");
    out
}

/// Every alert's name and expression (the YAML read line by line: names on `- alert:` lines,
/// expressions inline or as `|` blocks).
fn alert_expressions() -> Vec<(String, String)> {
    let text =
        std::fs::read_to_string(root().join("deploy/prometheus/alerts.yaml")).expect("the rules");
    let mut out: Vec<(String, String)> = Vec::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let trimmed = line.trim_start();
        if let Some(name) = trimmed.strip_prefix("- alert: ") {
            out.push((name.trim().to_string(), String::new()));
        } else if let Some(expr) = trimmed.strip_prefix("expr: ") {
            let current = out.last_mut().expect("an expr belongs to an alert");
            if expr.trim() == "|" {
                let indent = line.len() - trimmed.len();
                while let Some(next) = lines.peek() {
                    let next_indent = next.len() - next.trim_start().len();
                    if !next.trim().is_empty() && next_indent <= indent {
                        break;
                    }
                    current.1.push_str(next.trim());
                    current.1.push(' ');
                    lines.next();
                }
            } else {
                current.1 = expr.trim().to_string();
            }
        }
    }
    assert!(
        out.len() >= 10 && out.iter().all(|(_, e)| !e.is_empty()),
        "{out:?}"
    );
    out
}

/// What `expr` refers to that Prometheus has never seen: each metric selector must match a
/// series, and each label it groups by must be on one of them.
fn missing_labels(prometheus: &Prometheus, expr: &str, what: &str) -> Vec<String> {
    let selectors = selectors(expr);
    let mut labels = BTreeSet::new();
    let mut problems = Vec::new();
    for selector in &selectors {
        let series = prometheus.series(selector, 600);
        if series.is_empty() {
            problems.push(format!("{what}: no series matches {selector}"));
        }
        for s in &series {
            labels.extend(s.as_object().into_iter().flatten().map(|(k, _)| k.clone()));
        }
    }
    for label in grouped_by(expr) {
        if !labels.contains(&label) {
            problems.push(format!(
                "{what}: no series of {selectors:?} has the label {label}"
            ));
        }
    }
    problems
}

/// The metric selectors in `expr`: each `callscore_…` or `up` name with its matchers.
fn selectors(expr: &str) -> Vec<String> {
    let bytes = expr.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let starts_name = (i == 0 || !is_name_byte(bytes[i - 1]))
            && (expr[i..].starts_with("callscore_") || expr[i..].starts_with("up{"));
        if !starts_name {
            i += 1;
            continue;
        }
        let mut end = i;
        while end < bytes.len() && is_name_byte(bytes[end]) {
            end += 1;
        }
        if bytes.get(end) == Some(&b'{') {
            end += expr[end..].find('}').expect("matchers close") + 1;
        }
        // a histogram's quantile reads the buckets' series
        out.push(expr[i..end].to_string());
        i = end;
    }
    out
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b':'
}

/// The labels of every `by (…)` in `expr` but `le`, which `histogram_quantile` consumes.
fn grouped_by(expr: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = expr;
    while let Some(at) = rest.find("by (") {
        let after = &rest[at + 4..];
        let close = after.find(')').expect("by (…) closes");
        for label in after[..close].split(',').map(str::trim) {
            if !label.is_empty() && label != "le" {
                out.insert(label.to_string());
            }
        }
        rest = &after[close..];
    }
    out
}

fn wait_for_alert(prometheus: &Prometheus, name: &str, state: &str, timeout: Duration) -> bool {
    wait_for(timeout, || {
        prometheus
            .alerts()
            .iter()
            .any(|a| a["labels"]["alertname"] == name && a["state"] == state)
    })
}
