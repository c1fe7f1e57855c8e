//! The start-up check that no topic keeps callers' data longer than the retention callscore
//! promises: the recordings topic (the audio and the caller's number), the dead-letter topic
//! (the audio) and the contact topic (the number); and that the topics an erasure tombstones
//! are compacted, so that a tombstone removes what it names.

use std::time::Duration;

use callscore_kafka::topics::{DescribeError, Keeping};
use callscore_pipeline::fewest_days;
use callscore_telemetry::Telemetry;

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

/// The topics that carry callers' data, each with the most it may keep it.
fn promises(config: &Config) -> Vec<Promise> {
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

/// What to do where a topic keeps callers' data longer than promised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Breach {
    /// Refuse to run (`serve`: it would add to the topics).
    Refuse,
    /// Run, and name the breach as a limitation (`serve-privacy`: refusing would hold up
    /// callers' erasures).
    Report,
}

/// Refuses to run (or reports, as `breach` says) where a topic keeps callers' data longer
/// than promised. Where the broker cannot say (no `DescribeConfigs` permission, say), the
/// service runs and reports the gap as a limitation on `/readyz` and in the log; so it does
/// for a tombstoned topic that is not compacted.
pub(crate) async fn check(
    config: &Config,
    telemetry: &Telemetry,
    breach: Breach,
) -> anyhow::Result<()> {
    let limitation = |what: &str, text: String| {
        tracing::warn!(limitation = %text, "{what}");
        telemetry.health().limitation(text);
    };
    let cannot_tell = |setting: &str, error: &DescribeError| {
        limitation(
            "topic retention unchecked",
            format!(
                "the broker did not say how long {setting} keeps its messages ({error}): grant \
                 DescribeConfigs on it, or check by hand that it keeps them no longer than the \
                 retention promises"
            ),
        );
    };
    // at once: where the broker does not answer, each waits out its timeout
    let ((checked, kept), gaps) = tokio::join!(
        describe_promised(config, cannot_tell),
        tombstone_gaps(config)
    );
    for gap in gaps {
        limitation("topic not compacted", gap);
    }
    let problems = broken(&checked, &kept);
    match breach {
        _ if problems.is_empty() => tracing::info!(
            topics = checked.len(),
            "every topic that carries callers' data keeps it no longer than the retention promises"
        ),
        Breach::Report => {
            for problem in problems {
                limitation("topic keeps callers' data too long", problem);
            }
        }
        Breach::Refuse => anyhow::bail!(
            "a topic keeps callers' data longer than the retention promises: {}",
            problems.join("; ")
        ),
    }
    Ok(())
}

/// The promised topics the broker described, each with what it said; `cannot_tell` hears of
/// the others.
async fn describe_promised(
    config: &Config,
    cannot_tell: impl Fn(&str, &DescribeError),
) -> (Vec<Promise>, Vec<Keeping>) {
    let properties = config.properties();
    let all = promises(config);
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
    for (promises, described) in [consumer, producer] {
        let described = match described {
            Ok(described) => described,
            Err(error) => {
                for promise in &promises {
                    cannot_tell(promise.setting, &error);
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
                Err(error) => cannot_tell(promise.setting, &error),
            }
        }
    }
    (checked, kept)
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
             contact_topic = \"c\"\n[kafka.common]\n\"bootstrap.servers\" = \"127.0.0.1:9092\"\n\
             [kafka.consumer]\n\"group.id\" = \"g\"\n[s3]\nbucket = \"audio\"\n\
             [surveys]\nfiles = [\"nps.toml\"]\n[pseudonym]\nkey_id = \"k\"\n\
             [retention]\ncontact_requests = \"3 weeks\"\n\
             [retention.tenants.globex]\nrespondent = \"6 months\"\n\
             non_respondent = \"14 days\"\nconsented_contact = \"12 months\"\n",
            &[],
        )
        .expect("a valid configuration");
        let found: Vec<_> = promises(&config)
            .into_iter()
            .map(|p| (p.setting, p.days, p.from))
            .collect();
        let shortest = "retention.tenants.globex.non_respondent".to_string();
        assert_eq!(
            found,
            [
                ("kafka.recordings_topic", 14, shortest.clone()),
                ("kafka.dead_letter_topic", 14, shortest),
                (
                    "kafka.contact_topic",
                    21,
                    "retention.contact_requests".into()
                ),
            ]
        );
    }
}
