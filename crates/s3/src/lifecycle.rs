//! Lifecycle rules as a safety net behind callscore's own sweep.
//!
//! The sweep is the guarantee: it deletes each recording on the day after its expiry day,
//! whenever it was uploaded. A store counts a rule's days from the upload, so a rule alone
//! would keep a backfilled recording (uploaded long after its call) past its expiry; behind
//! the sweep, a rule only catches what the sweep missed (it did not run), never earlier than
//! the policy allows. So the rules are per tenant and class, by prefix only
//! (`PREFIX/TENANT/CLASS/`), with as many days as the class's period can last plus one; never
//! a tag filter (a store that drops it, garage, would widen the rule to the whole bucket) and
//! never a rule for held recordings. After writing them, callscore reads the configuration
//! back: if the store kept anything else than what was sent, it puts the previous
//! configuration back and says so.

use aws_sdk_s3::types::{
    AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, ExpirationStatus,
    LifecycleExpiration, LifecycleRule, LifecycleRuleFilter, NoncurrentVersionExpiration,
};
use callscore_pipeline::{RetentionConfig, class_name};
use callscore_survey::RetentionClass;
use jiff::Span;
use serde::Serialize;

use crate::error::Failure;
use crate::store::S3Store;

/// The id prefix of callscore's rules; rules with other ids are kept as they are.
pub const RULE_PREFIX: &str = "callscore-";

/// One rule callscore wants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExpiryRule {
    /// `callscore-TENANT-CLASS`.
    pub id: String,
    /// The key prefix it applies to, the store's prefix included.
    pub prefix: String,
    /// Days after upload.
    pub days: i32,
}

/// What installing the rules did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LifecycleReport {
    /// The rules callscore wants.
    pub rules: Vec<ExpiryRule>,
    /// Rules of others, kept.
    pub kept: Vec<String>,
    /// Whether they were installed (not in a dry run, not refused).
    pub installed: bool,
    /// Whether the store widened or dropped something, so the previous configuration was
    /// put back; in words.
    pub refused: Option<String>,
    /// Whether nothing was changed (a dry run).
    pub dry_run: bool,
}

/// The most days a calendar span can last, from any day: month lengths and leap years
/// repeat every 400 years, and within four years every combination of them occurs, so the
/// longest from any day of 2000-2003 is the longest from any day at all.
pub fn longest_days(span: Span) -> i32 {
    let start = jiff::civil::date(2000, 1, 1);
    (0..1461)
        .filter_map(|offset| start.checked_add(Span::new().days(offset)).ok())
        .filter_map(|day| {
            let end = day.checked_add(span).ok()?;
            Some(day.until(end).ok()?.get_days())
        })
        .max()
        .unwrap_or(i32::MAX)
}

/// The rules for `tenants` under `retention`: one per tenant and class with a period.
pub fn rules(
    store_prefix: &str,
    retention: &RetentionConfig,
    tenants: &[String],
) -> Vec<ExpiryRule> {
    let mut rules = Vec::new();
    for tenant in tenants {
        let policy = retention.policy(tenant);
        for class in [
            RetentionClass::Respondent,
            RetentionClass::NonRespondent,
            RetentionClass::ConsentedContact,
        ] {
            let Some(period) = policy.period(class) else {
                continue;
            };
            let name = class_name(class);
            rules.push(ExpiryRule {
                id: format!("{RULE_PREFIX}{tenant}-{name}"),
                prefix: format!("{store_prefix}{tenant}/{name}/"),
                // the expiry day itself is kept to its end
                days: longest_days(period).saturating_add(1),
            });
        }
    }
    rules
}

impl S3Store {
    /// Installs `rules`, keeping rules of others, and reads the configuration back.
    pub async fn install_lifecycle(
        &self,
        rules: Vec<ExpiryRule>,
        dry_run: bool,
    ) -> Result<LifecycleReport, crate::S3Error> {
        let failed = |f: Failure| crate::S3Error::Probe(format!("lifecycle: {}", f.message));
        let before = self.lifecycle_rules().await.map_err(failed)?;
        let kept: Vec<LifecycleRule> = before
            .iter()
            .filter(|r| !r.id().is_some_and(|id| id.starts_with(RULE_PREFIX)))
            .cloned()
            .collect();
        let mut report = LifecycleReport {
            kept: kept
                .iter()
                .filter_map(|r| r.id().map(str::to_string))
                .collect(),
            rules,
            installed: false,
            refused: None,
            dry_run,
        };
        if dry_run {
            return Ok(report);
        }
        let mut wanted = kept.clone();
        for rule in &report.rules {
            wanted.push(self.lifecycle_rule(rule).map_err(failed)?);
        }
        self.put_lifecycle(wanted).await.map_err(failed)?;
        let after = self.lifecycle_rules().await.map_err(failed)?;
        match self.compare(&report.rules, &after) {
            None => report.installed = true,
            Some(difference) => {
                // never leave a rule the store changed: back to what was there
                self.put_lifecycle(before).await.map_err(failed)?;
                report.refused = Some(difference);
            }
        }
        Ok(report)
    }

    fn lifecycle_rule(&self, rule: &ExpiryRule) -> Result<LifecycleRule, Failure> {
        let build = |e: aws_sdk_s3::error::BuildError| Failure {
            retry: callscore_pipeline::Retry::Permanent,
            status: None,
            code: None,
            message: e.to_string(),
        };
        let mut builder = LifecycleRule::builder()
            .id(&rule.id)
            .status(ExpirationStatus::Enabled)
            .filter(LifecycleRuleFilter::builder().prefix(&rule.prefix).build())
            .expiration(LifecycleExpiration::builder().days(rule.days).build())
            .abort_incomplete_multipart_upload(
                AbortIncompleteMultipartUpload::builder()
                    .days_after_initiation(1)
                    .build(),
            );
        if self.capabilities().versioning {
            builder = builder.noncurrent_version_expiration(
                NoncurrentVersionExpiration::builder()
                    .noncurrent_days(1)
                    .build(),
            );
        }
        builder.build().map_err(build)
    }

    async fn lifecycle_rules(&self) -> Result<Vec<LifecycleRule>, Failure> {
        match self
            .client
            .get_bucket_lifecycle_configuration()
            .bucket(&self.config.bucket)
            .send()
            .await
        {
            Ok(answer) => Ok(answer.rules().to_vec()),
            Err(e) => {
                let failure = Failure::of(&e);
                if failure.status == Some(404) {
                    Ok(Vec::new())
                } else {
                    Err(failure)
                }
            }
        }
    }

    async fn put_lifecycle(&self, rules: Vec<LifecycleRule>) -> Result<(), Failure> {
        if rules.is_empty() {
            return self
                .client
                .delete_bucket_lifecycle()
                .bucket(&self.config.bucket)
                .send()
                .await
                .map(drop)
                .map_err(|e| Failure::of(&e));
        }
        let configuration = BucketLifecycleConfiguration::builder()
            .set_rules(Some(rules))
            .build()
            .map_err(|e| Failure {
                retry: callscore_pipeline::Retry::Permanent,
                status: None,
                code: None,
                message: e.to_string(),
            })?;
        self.client
            .put_bucket_lifecycle_configuration()
            .bucket(&self.config.bucket)
            .lifecycle_configuration(configuration)
            .send()
            .await
            .map(drop)
            .map_err(|e| Failure::of(&e))
    }

    /// What differs between the rules sent and those read back, in words; `None` when every
    /// rule came back as sent, with its prefix filter and its days.
    fn compare(&self, sent: &[ExpiryRule], read: &[LifecycleRule]) -> Option<String> {
        for rule in sent {
            let Some(back) = read.iter().find(|r| r.id() == Some(rule.id.as_str())) else {
                return Some(format!("rule {} did not come back", rule.id));
            };
            let prefix = back.filter().and_then(|f| f.prefix()).or_else(|| {
                #[allow(deprecated)]
                back.prefix()
            });
            if prefix != Some(rule.prefix.as_str()) {
                return Some(format!(
                    "rule {} came back with the prefix {prefix:?} instead of {:?}: the store \
                     would widen it",
                    rule.id, rule.prefix
                ));
            }
            let filter_has_more = back.filter().is_some_and(|f| {
                f.tag().is_some() || f.and().is_some() || f.object_size_greater_than().is_some()
            });
            if filter_has_more {
                return Some(format!("rule {} came back with another filter", rule.id));
            }
            let days = back.expiration().and_then(|e| e.days());
            if days != Some(rule.days) {
                return Some(format!(
                    "rule {} came back with {days:?} days instead of {}",
                    rule.id, rule.days
                ));
            }
            if back.status() != &ExpirationStatus::Enabled {
                return Some(format!("rule {} came back disabled", rule.id));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_outlast_the_longest_a_period_can_be_and_never_cover_holds() {
        let mut retention = RetentionConfig::default();
        retention.validate().expect("valid");
        let rules = rules("callscore/", &retention, &["acme".to_string()]);
        assert_eq!(rules.len(), 3, "no rule for legal holds");
        assert!(rules.iter().all(|r| !r.prefix.contains("legal_hold")));
        let respondent = &rules[0];
        assert_eq!(respondent.prefix, "callscore/acme/respondent/");
        // 12 months last at most 366 days; the expiry day is kept to its end
        assert_eq!(respondent.days, 367);
        assert_eq!(
            rules[1].days, 63,
            "2 months last at most 62 days (July and August)"
        );
        assert_eq!(longest_days(Span::new().days(30)), 30);
    }
}
