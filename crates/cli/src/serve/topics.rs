//! The start-up check that no topic keeps callers' data longer than the retention callscore
//! promises: the recordings topic (the audio and the caller's number), the dead-letter topic
//! (the audio), the contact topic (the number) and, for `serve-privacy`, the privacy requests
//! topic (requests by number); and that the topics an erasure tombstones are compacted, so
//! that a tombstone removes what it names.

use std::time::Duration;

use callscore_kafka::topics::{DescribeError, Keeping};
use callscore_pipeline::fewest_days;
use callscore_telemetry::Telemetry;
use callscore_worker::CancellationToken;

use super::config::Config;

/// How long the broker may take to describe the topics.
const DESCRIBE_TIMEOUT: Duration = Duration::from_secs(10);

/// What one topic may keep, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Promise {
    /// The setting that names the topic (its name, a configuration value, is not quoted).
    setting: &'static str,
    /// The client that reaches the topic: `consumer` or `producer`.
    client: &'static str,
    topic: String,
    /// The most days a message may stay.
    days: i64,
    /// The setting the bound comes from.
    from: String,
    /// What the topic's messages carry.
    carries: &'static str,
}

/// The topics that carry callers' data that `checker` uses, each with the most it may keep it.
fn promises(config: &Config, checker: Checker) -> Vec<Promise> {
    let (days, from) = config.retention.shortest();
    let kafka = &config.kafka;
    let mut promises = vec![
        Promise {
            setting: "kafka.recordings_topic",
            client: "consumer",
            topic: kafka.recordings_topic.clone(),
            days,
            from: from.clone(),
            carries: "recordings with the caller's number",
        },
        Promise {
            setting: "kafka.dead_letter_topic",
            client: "producer",
            topic: kafka.dead_letter_topic.clone(),
            days,
            from,
            carries: "recordings",
        },
    ];
    if let Some(topic) = &kafka.contact_topic {
        promises.push(Promise {
            setting: "kafka.contact_topic",
            client: "producer",
            topic: topic.clone(),
            days: fewest_days(config.retention.contact_requests),
            from: "retention.contact_requests".into(),
            carries: "callers' numbers",
        });
    }
    if checker == Checker::ServePrivacy
        && let Some(topic) = &kafka.privacy_requests_topic
    {
        promises.push(Promise {
            setting: "kafka.privacy_requests_topic",
            client: "consumer",
            topic: topic.clone(),
            days: fewest_days(config.retention.privacy_requests),
            from: "retention.privacy_requests".into(),
            carries: "privacy requests, those by number with the caller's number",
        });
    }
    promises
}

/// What is wrong with each topic that keeps its messages longer than its promise.
fn broken(promises: &[Promise], found: &[Keeping]) -> Vec<String> {
    let mut problems = Vec::new();
    for (promise, keeping) in promises.iter().zip(found) {
        let (setting, carries, days, from) = (
            promise.setting,
            promise.carries,
            promise.days,
            &promise.from,
        );
        // a period past the end of the calendar has no bound a topic could exceed
        let bound = Duration::from_secs(u64::try_from(days).unwrap_or(0).saturating_mul(86_400));
        let assumed = if keeping.assumed.is_empty() {
            String::new()
        } else {
            format!(
                " ({} not reported by the broker, taken at Kafka's default)",
                keeping.assumed.join(", ")
            )
        };
        match keeping.longest() {
            None => problems.push(format!(
                "{setting} never deletes its messages (its cleanup.policy lacks delete, or its \
                 retention.ms is -1){assumed}, but they carry {carries}, which {from} keeps {days} \
                 days at the least: give the topic a retention.ms and a segment.ms whose sum is \
                 at most that"
            )),
            Some(longest) if longest > bound => problems.push(format!(
                "{setting} keeps a message up to {:.1} days (retention.ms plus segment.ms){assumed}, \
                 but its messages carry {carries}, which {from} keeps {days} days at the least: \
                 lower the topic's retention.ms or segment.ms so that their sum is at most that",
                longest.as_secs_f64() / 86_400.0
            )),
            Some(_) => {}
        }
    }
    problems
}

/// The topics an erasure retracts facts from by tombstones, which only a compacted topic
/// turns into the facts' removal.
fn tombstoned(config: &Config) -> Vec<(&'static str, String)> {
    let kafka = &config.kafka;
    [
        ("kafka.scores_topic", Some(&kafka.scores_topic)),
        ("kafka.contact_topic", kafka.contact_topic.as_ref()),
        (
            "kafka.transcription_topic",
            kafka.transcription_topic.as_ref(),
        ),
        ("kafka.transcripts_topic", kafka.transcripts_topic.as_ref()),
    ]
    .into_iter()
    .filter_map(|(setting, topic)| Some((setting, topic?.clone())))
    .collect()
}

/// What an erasure cannot remove, for each tombstoned topic that is not compacted.
fn not_compacted(settings: &[&'static str], found: &[Keeping]) -> Vec<String> {
    settings
        .iter()
        .zip(found)
        .filter(|(_, keeping)| !keeping.compacts)
        .map(|(setting, _)| {
            format!(
                "{setting} is not compacted (cleanup.policy lacks compact): an erasure's \
                 tombstones do not remove callers' facts from it, which stay until its \
                 retention deletes them"
            )
        })
        .collect()
}

/// The service that checks: which topics it holds, and what it does where one keeps callers'
/// data longer than promised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Checker {
    /// `serve` holds the recordings, dead-letter and contact topics and refuses to run on a
    /// breach: it would add to them.
    Serve,
    /// `serve-privacy` also holds its requests topic, and names each breach as a limitation:
    /// refusing would hold up callers' erasures.
    ServePrivacy,
}

/// What one look at the topics found, each problem in the words `/readyz` lists.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Findings {
    /// How many topics that carry callers' data the broker described.
    checked: usize,
    /// Topics that keep callers' data longer than promised.
    too_long: Vec<String>,
    /// Topics the broker would not describe.
    unchecked: Vec<String>,
    /// Tombstoned topics that are not compacted.
    not_compacted: Vec<String>,
}

impl Findings {
    /// Every problem with its kind: the log line's message and the metric's label.
    fn problems(&self) -> impl Iterator<Item = (&'static str, &'static str, &String)> {
        let kinds = [
            (
                "keeps_too_long",
                "topic keeps callers' data too long",
                &self.too_long,
            ),
            ("unchecked", "topic retention unchecked", &self.unchecked),
            ("not_compacted", "topic not compacted", &self.not_compacted),
        ];
        kinds
            .into_iter()
            .flat_map(|(kind, what, texts)| texts.iter().map(move |text| (kind, what, text)))
    }
}

/// Asks the broker how the topics `checker` holds keep their messages.
async fn look(config: &Config, checker: Checker) -> Findings {
    // at once: where the broker does not answer, each waits out its timeout
    let ((checked, kept, unchecked), not_compacted) =
        tokio::join!(describe_promised(config, checker), tombstone_gaps(config));
    Findings {
        checked: checked.len(),
        too_long: broken(&checked, &kept),
        unchecked,
        not_compacted,
    }
}

/// Shows `found` on `/readyz` (in place of the last look's), in `callscore_topic_problems` and
/// in the log: each problem `before` did not have, and a breach that has ended.
fn report(telemetry: &Telemetry, found: &Findings, before: Option<&Findings>) {
    let old = before.map(|b| b.problems().map(|(_, _, text)| text).collect::<Vec<_>>());
    let mut counts = [
        ("keeps_too_long", 0i64),
        ("unchecked", 0),
        ("not_compacted", 0),
    ];
    for (kind, what, text) in found.problems() {
        if let Some((_, count)) = counts.iter_mut().find(|(k, _)| *k == kind) {
            *count += 1;
        }
        if old.as_ref().is_none_or(|old| !old.contains(&text)) {
            tracing::warn!(limitation = %text, "{what}");
        }
    }
    let metrics = telemetry.metrics();
    for (kind, count) in counts {
        metrics.topic_problems.with_label_values(&[kind]).set(count);
    }
    telemetry.health().limitations_from(
        "topics",
        found.problems().map(|(_, _, text)| text.clone()).collect(),
    );
    let was_breached = before.is_none_or(|b| !b.too_long.is_empty());
    if found.too_long.is_empty() && found.checked > 0 && was_breached {
        tracing::info!(
            topics = found.checked,
            "every topic that carries callers' data keeps it no longer than the retention promises"
        );
    }
}

/// Refuses to run (or reports, as `checker` does) where a topic keeps callers' data longer
/// than promised, then keeps looking (see [`watch`]) until `stop`. Where the broker cannot say
/// (no `DescribeConfigs` permission, say), the service runs and reports the gap as a
/// limitation on `/readyz` and in the log; so it does for a tombstoned topic that is not
/// compacted.
pub(crate) async fn hold(
    config: &Config,
    telemetry: &Telemetry,
    checker: Checker,
    stop: &CancellationToken,
) -> anyhow::Result<()> {
    let found = look(config, checker).await;
    if checker == Checker::Serve && !found.too_long.is_empty() {
        anyhow::bail!(
            "a topic keeps callers' data longer than the retention promises: {}",
            found.too_long.join("; ")
        );
    }
    report(telemetry, &found, None);
    tokio::spawn(watch(
        config.clone(),
        telemetry.clone(),
        checker,
        found,
        stop.clone(),
    ));
    Ok(())
}

/// Looks at the topics again every `service.topic_check_interval_s` until `stop`: a topic
/// altered after start-up, or one the broker could not describe then, is found. A breach
/// found now is reported, not refused, by `serve` too: the service is running, and the alert
/// on `callscore_topic_problems` calls an operator (a restart would refuse).
async fn watch(
    config: Config,
    telemetry: Telemetry,
    checker: Checker,
    first: Findings,
    stop: CancellationToken,
) {
    let every = Duration::from_secs(config.service.topic_check_interval_s);
    let mut last = first;
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
        let found = look(&config, checker).await;
        report(&telemetry, &found, Some(&last));
        last = found;
    }
}

/// The promised topics the broker described, each with what it said, and what keeps the
/// others unchecked.
async fn describe_promised(
    config: &Config,
    checker: Checker,
) -> (Vec<Promise>, Vec<Keeping>, Vec<String>) {
    let cannot_tell = |setting: &str, error: &DescribeError| {
        format!(
            "the broker did not say how long {setting} keeps its messages ({error}): grant \
             DescribeConfigs on it, or check by hand that it keeps them no longer than the \
             retention promises"
        )
    };
    let properties = config.properties();
    let all = promises(config, checker);
    let describe = |client: &'static str| {
        let promises: Vec<Promise> = all.iter().filter(|p| p.client == client).cloned().collect();
        let properties = &properties[client];
        async move {
            let topics: Vec<&str> = promises.iter().map(|p| p.topic.as_str()).collect();
            let described =
                callscore_kafka::topics::describe(properties, &topics, DESCRIBE_TIMEOUT).await;
            (promises, described)
        }
    };
    let (consumer, producer) = tokio::join!(describe("consumer"), describe("producer"));
    let mut checked = Vec::new();
    let mut kept = Vec::new();
    let mut unchecked = Vec::new();
    for (promises, described) in [consumer, producer] {
        let described = match described {
            Ok(described) => described,
            Err(error) => {
                for promise in &promises {
                    unchecked.push(cannot_tell(promise.setting, &error));
                }
                continue;
            }
        };
        for (promise, result) in promises.into_iter().zip(described) {
            match result {
                Ok(keeping) => {
                    checked.push(promise);
                    kept.push(keeping);
                }
                Err(error) => unchecked.push(cannot_tell(promise.setting, &error)),
            }
        }
    }
    (checked, kept, unchecked)
}

/// What an erasure cannot remove from the tombstoned topics the broker describes.
async fn tombstone_gaps(config: &Config) -> Vec<String> {
    let topics = tombstoned(config);
    let names: Vec<&str> = topics.iter().map(|(_, topic)| topic.as_str()).collect();
    let properties = config.properties();
    match callscore_kafka::topics::describe(&properties["producer"], &names, DESCRIBE_TIMEOUT).await
    {
        Ok(described) => {
            let (settings, found): (Vec<_>, Vec<_>) = topics
                .iter()
                .zip(described)
                .filter_map(|((setting, _), result)| Some((*setting, result.ok()?)))
                .unzip();
            not_compacted(&settings, &found)
        }
        Err(error) => {
            tracing::warn!(%error, "cannot tell whether the tombstoned topics are compacted");
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keeping(retention_ms: Option<u64>, segment_ms: u64, deletes: bool) -> Keeping {
        Keeping {
            retention_ms,
            segment_ms,
            deletes,
            compacts: false,
            assumed: Vec::new(),
        }
    }

    fn promise(days: i64) -> Promise {
        Promise {
            setting: "kafka.recordings_topic",
            client: "consumer",
            topic: "secret-topic-name".into(),
            days,
            from: "retention.tenants.globex.non_respondent".into(),
            carries: "recordings with the caller's number",
        }
    }

    #[test]
    fn a_topic_may_keep_a_message_no_longer_than_the_shortest_promise() {
        let day = 24 * 3600 * 1000;
        // exactly the promise: kept
        assert!(broken(&[promise(14)], &[keeping(Some(13 * day), day, true)]).is_empty());
        // one segment too long: refused, naming the setting and the bound, not the topic
        let problems = broken(&[promise(14)], &[keeping(Some(7 * day), 7 * day + 1, true)]);
        assert_eq!(problems.len(), 1);
        assert!(problems[0].starts_with("kafka.recordings_topic keeps a message up to 14.0 days"));
        assert!(problems[0].contains("retention.tenants.globex.non_respondent keeps 14 days"));
        assert!(!problems[0].contains("secret-topic-name"));
        // a period past the end of the calendar: no overflow, nothing refused
        assert!(broken(&[promise(i64::MAX)], &[keeping(Some(day), day, true)]).is_empty());
        // never deleted: refused
        for never in [keeping(None, day, true), keeping(Some(day), day, false)] {
            let problems = broken(&[promise(30)], &[never]);
            assert_eq!(problems.len(), 1);
            assert!(problems[0].contains("never deletes"), "{problems:?}");
        }
    }

    #[test]
    fn each_look_replaces_the_last_ones_limitations_and_counts() {
        let metrics = std::sync::Arc::new(callscore_telemetry::Metrics::new("test"));
        let health = std::sync::Arc::new(callscore_telemetry::Health::new());
        let telemetry = Telemetry::new(
            std::sync::Arc::clone(&metrics),
            std::sync::Arc::clone(&health),
        );
        health.limitation("the store cannot tag");
        let count = |problem: &str| metrics.topic_problems.with_label_values(&[problem]).get();
        let first = Findings {
            checked: 3,
            too_long: vec!["kafka.dead_letter_topic never deletes its messages".into()],
            unchecked: vec!["kafka.contact_topic: no answer".into()],
            not_compacted: Vec::new(),
        };
        report(&telemetry, &first, None);
        assert_eq!(health.readiness().limitations.len(), 3);
        assert_eq!((count("keeps_too_long"), count("unchecked")), (1, 1));
        let second = Findings {
            checked: 4,
            ..Findings::default()
        };
        report(&telemetry, &second, Some(&first));
        assert_eq!(
            health.readiness().limitations,
            ["the store cannot tag"],
            "the topics' limitations go, the others stay"
        );
        assert_eq!((count("keeps_too_long"), count("unchecked")), (0, 0));
    }

    #[test]
    fn a_tombstoned_topic_that_is_not_compacted_is_a_limitation() {
        let found = [
            Keeping::from_entries([("cleanup.policy", Some("compact"))]),
            Keeping::from_entries([("cleanup.policy", Some("delete"))]),
            Keeping::from_entries([("cleanup.policy", Some("compact,delete"))]),
            Keeping::from_entries([]),
        ];
        let gaps = not_compacted(
            &[
                "kafka.scores_topic",
                "kafka.contact_topic",
                "kafka.transcription_topic",
                "kafka.transcripts_topic",
            ],
            &found,
        );
        assert_eq!(gaps.len(), 2, "{gaps:?}");
        assert!(gaps[0].starts_with("kafka.contact_topic is not compacted"));
        assert!(gaps[1].starts_with("kafka.transcripts_topic is not compacted"));
    }

    #[test]
    fn the_recordings_and_dead_letters_are_held_to_the_shortest_class_and_contacts_to_their_own() {
        let config = Config::parse(
            "[kafka]\nrecordings_topic = \"r\"\nscores_topic = \"s\"\ndead_letter_topic = \"d\"\n\
             contact_topic = \"c\"\nprivacy_requests_topic = \"p\"\n[kafka.common]\n\"bootstrap.servers\" = \"127.0.0.1:9092\"\n\
             [kafka.consumer]\n\"group.id\" = \"g\"\n[s3]\nbucket = \"audio\"\n\
             [surveys]\nfiles = [\"nps.toml\"]\n[pseudonym]\nkey_id = \"k\"\n\
             [retention]\ncontact_requests = \"3 weeks\"\nprivacy_requests = \"2 weeks\"\n\
             [retention.tenants.globex]\nrespondent = \"6 months\"\n\
             non_respondent = \"14 days\"\nconsented_contact = \"12 months\"\n",
            &[],
        )
        .expect("a valid configuration");
        let found = |checker| -> Vec<_> {
            promises(&config, checker)
                .into_iter()
                .map(|p| (p.setting, p.days, p.from))
                .collect()
        };
        let shortest = "retention.tenants.globex.non_respondent".to_string();
        let serve = [
            ("kafka.recordings_topic", 14, shortest.clone()),
            ("kafka.dead_letter_topic", 14, shortest),
            (
                "kafka.contact_topic",
                21,
                "retention.contact_requests".into(),
            ),
        ];
        assert_eq!(found(Checker::Serve), serve);
        // the privacy service also holds the topic its requests (some by number) arrive on
        let mut privacy = serve.to_vec();
        privacy.push((
            "kafka.privacy_requests_topic",
            14,
            "retention.privacy_requests".into(),
        ));
        assert_eq!(found(Checker::ServePrivacy), privacy);
    }
}
