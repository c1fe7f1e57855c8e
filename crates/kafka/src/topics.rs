//! How long a topic keeps its messages, read from the broker (DescribeConfigs), so that the
//! service can refuse to run on a topic that keeps callers' data longer than the retention
//! it promises.
//!
//! Kafka deletes a log segment once its newest message is older than `retention.ms`, and a
//! segment stays open (and undeletable) until it is `segment.ms` old: a message may stay for
//! up to `retention.ms + segment.ms`, and for ever on a topic whose `cleanup.policy` does not
//! include `delete`, or whose `retention.ms` is -1.

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, OwnedResourceSpecifier, ResourceSpecifier};
use rdkafka::client::DefaultClientContext;

/// Kafka's own default of `retention.ms` and of `segment.ms`: seven days each.
pub const KAFKA_DEFAULT_MS: u64 = 7 * 24 * 3600 * 1000;

/// What a topic's configuration says about how long it keeps a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keeping {
    /// `retention.ms`; `None` for -1 (kept for ever).
    pub retention_ms: Option<u64>,
    /// `segment.ms`.
    pub segment_ms: u64,
    /// Whether `cleanup.policy` includes `delete`.
    pub deletes: bool,
    /// Whether `cleanup.policy` includes `compact` (a tombstone then removes its key).
    pub compacts: bool,
    /// Settings the broker did not report, taken at Kafka's defaults.
    pub assumed: Vec<&'static str>,
}

impl Keeping {
    /// Reads a topic's configuration entries (name and value).
    pub fn from_entries<'a>(
        entries: impl IntoIterator<Item = (&'a str, Option<&'a str>)>,
    ) -> Keeping {
        let entries: BTreeMap<&str, Option<&str>> = entries.into_iter().collect();
        let mut assumed = Vec::new();
        let mut number = |name: &'static str| match entries.get(name).copied().flatten() {
            Some(value) => value.trim().parse::<i64>().ok(),
            None => {
                assumed.push(name);
                i64::try_from(KAFKA_DEFAULT_MS).ok()
            }
        };
        // an unreadable or negative retention keeps for ever, as -1 does
        let retention_ms = number("retention.ms").and_then(|ms| u64::try_from(ms).ok());
        let segment_ms = number("segment.ms")
            .and_then(|ms| u64::try_from(ms).ok())
            .unwrap_or(KAFKA_DEFAULT_MS);
        let policy = entries.get("cleanup.policy").copied().flatten();
        if policy.is_none() {
            assumed.push("cleanup.policy");
        }
        // Kafka's default policy is delete
        let policies: Vec<&str> = policy
            .unwrap_or("delete")
            .split(',')
            .map(|p| p.trim().trim_matches(['[', ']']).trim())
            .collect();
        let (deletes, compacts) = (policies.contains(&"delete"), policies.contains(&"compact"));
        Keeping {
            retention_ms,
            segment_ms,
            deletes,
            compacts,
            assumed,
        }
    }

    /// The longest a message may stay on the topic; `None` when nothing deletes it.
    pub fn longest(&self) -> Option<Duration> {
        if !self.deletes {
            return None;
        }
        self.retention_ms
            .map(|ms| Duration::from_millis(ms.saturating_add(self.segment_ms)))
    }
}

/// Why a topic's configuration could not be read (the message does not name the topic).
#[derive(Debug, thiserror::Error)]
#[error("cannot read the topic's configuration: {0}")]
pub struct DescribeError(String);

/// Asks the broker how long each of `topics` keeps its messages, with a client made from
/// `properties` (those of the client that reaches them): one result per topic, in the order
/// of `topics`, or one error for all.
pub async fn describe(
    properties: &BTreeMap<String, String>,
    topics: &[&str],
    timeout: Duration,
) -> Result<Vec<Result<Keeping, DescribeError>>, DescribeError> {
    let mut config = ClientConfig::new();
    for (key, value) in properties {
        config.set(key, value);
    }
    let admin: AdminClient<DefaultClientContext> = config
        .create()
        .map_err(|e| DescribeError(crate::ConfigError::of(&e, properties).to_string()))?;
    let specifiers: Vec<ResourceSpecifier<'_>> =
        topics.iter().map(|t| ResourceSpecifier::Topic(t)).collect();
    let options = AdminOptions::new().request_timeout(Some(timeout));
    let results = admin
        .describe_configs(&specifiers, &options)
        .await
        .map_err(|e| DescribeError(e.to_string()))?;
    if results.len() != topics.len() {
        return Err(DescribeError(format!(
            "the broker answered for {} topics of {}",
            results.len(),
            topics.len()
        )));
    }
    // a described topic is placed by its name; a failed one has none, and keeps its place
    let mut answers: Vec<Option<Result<Keeping, DescribeError>>> =
        topics.iter().map(|_| None).collect();
    for (position, result) in results.into_iter().enumerate() {
        let (at, answer) = match result {
            Ok(resource) => {
                let named = match &resource.specifier {
                    OwnedResourceSpecifier::Topic(name) => topics.iter().position(|t| t == name),
                    _ => None,
                };
                let keeping = Keeping::from_entries(
                    resource
                        .entries
                        .iter()
                        .map(|e| (e.name.as_str(), e.value.as_deref())),
                );
                (named.unwrap_or(position), Ok(keeping))
            }
            Err(code) => (position, Err(DescribeError(code.to_string()))),
        };
        if answers[at].is_none() {
            answers[at] = Some(answer);
        }
    }
    Ok(answers
        .into_iter()
        .map(|answer| {
            answer.unwrap_or_else(|| Err(DescribeError("the broker did not answer for it".into())))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_stays_for_the_retention_and_one_segment_unless_nothing_deletes_it() {
        let day = 24 * 3600 * 1000u64;
        type Entries<'a> = &'a [(&'a str, Option<&'a str>)];
        let cases: [(Entries<'_>, Option<u64>, usize); 7] = [
            // (entries, longest stay in ms, settings assumed)
            (
                &[
                    ("retention.ms", Some("604800000")),
                    ("segment.ms", Some("86400000")),
                    ("cleanup.policy", Some("delete")),
                ],
                Some(8 * day),
                0,
            ),
            (&[], Some(14 * day), 3),
            (&[("retention.ms", Some("-1"))], None, 2),
            (
                &[
                    ("retention.ms", Some("86400000")),
                    ("cleanup.policy", Some("compact")),
                ],
                None,
                1,
            ),
            (
                &[
                    ("retention.ms", Some("86400000")),
                    ("segment.ms", Some("3600000")),
                    ("cleanup.policy", Some("[compact, delete]")),
                ],
                Some(day + 3_600_000),
                0,
            ),
            (
                &[("retention.ms", Some("soon")), ("segment.ms", Some("1"))],
                None,
                1,
            ),
            (
                &[("retention.ms", None), ("segment.ms", Some("1"))],
                Some(KAFKA_DEFAULT_MS + 1),
                2,
            ),
        ];
        for (entries, longest, assumed) in cases {
            let keeping = Keeping::from_entries(entries.iter().copied());
            let compacts = entries
                .iter()
                .any(|(_, value)| value.is_some_and(|v| v.contains("compact")));
            assert_eq!(keeping.compacts, compacts, "{entries:?}");
            assert_eq!(
                keeping.longest(),
                longest.map(Duration::from_millis),
                "{entries:?}"
            );
            assert_eq!(keeping.assumed.len(), assumed, "{entries:?}");
        }
    }
}
