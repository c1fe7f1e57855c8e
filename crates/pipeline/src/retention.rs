//! How long stored audio is kept: a per-tenant policy maps each retention class to a period,
//! and the class follows from the answers and the caller's consent.

use callscore_survey::{Answers, RetentionClass};
use jiff::civil::Date;
use jiff::{Span, Timestamp, tz::TimeZone};
use serde::Deserialize;

use crate::metadata::Consent;

/// The longest any recording is kept by default, whatever its class: 3 years.
pub fn default_max() -> Span {
    Span::new().years(3)
}

/// A tenant's retention periods, per class. Periods are calendar spans (`"12 months"`,
/// `"60 days"`, ISO 8601 `"P2M"`), counted from the day the call started (UTC), and capped by
/// the configuration's maximum.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionPolicy {
    /// Recordings with at least one valid answer.
    #[serde(with = "span")]
    pub respondent: Span,
    /// Recordings with no valid answer: kept the shortest.
    #[serde(with = "span")]
    pub non_respondent: Span,
    /// Respondents who agreed to be contacted about their answers.
    #[serde(with = "span")]
    pub consented_contact: Span,
    /// The cap every period is held to: the configuration's `max`.
    #[serde(skip, default = "default_max")]
    pub max: Span,
}

impl Default for RetentionPolicy {
    /// Twelve months for respondents, two for non-respondents, 24 for consented contacts,
    /// at most three years.
    fn default() -> RetentionPolicy {
        RetentionPolicy {
            respondent: Span::new().months(12),
            non_respondent: Span::new().months(2),
            consented_contact: Span::new().months(24),
            max: default_max(),
        }
    }
}

/// The retention section of a configuration: a cap, a default policy and per-tenant ones.
///
/// ```toml
/// max = "3 years"             # no class of any tenant is kept longer (the default)
///
/// [default]
/// respondent = "12 months"
/// non_respondent = "2 months"
/// consented_contact = "24 months"
///
/// [tenants.acme]
/// respondent = "6 months"
/// non_respondent = "30 days"
/// consented_contact = "12 months"
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionConfig {
    /// The longest any recording is kept, whatever its class (3 years by default).
    #[serde(default = "default_max", with = "span")]
    pub max: Span,
    /// How long a contact request (which carries the number) may be kept from the call's
    /// day (30 days by default); its consumers delete it then.
    #[serde(default = "default_contact_requests", with = "span")]
    pub contact_requests: Span,
    /// How long a privacy request sent as a message (which may carry the caller's number) may
    /// stay on the privacy requests topic (30 days by default: a month to answer it).
    #[serde(default = "default_privacy_requests", with = "span")]
    pub privacy_requests: Span,
    /// The policy of tenants without their own.
    #[serde(default)]
    pub default: RetentionPolicy,
    /// Tenants' own policies.
    #[serde(default)]
    pub tenants: std::collections::HashMap<String, RetentionPolicy>,
}

/// How long a contact request is kept by default: 30 days.
pub fn default_contact_requests() -> Span {
    Span::new().days(30)
}

/// How long a privacy request may stay on its topic by default: 30 days.
fn default_privacy_requests() -> Span {
    Span::new().days(30)
}

impl Default for RetentionConfig {
    fn default() -> RetentionConfig {
        RetentionConfig {
            max: default_max(),
            contact_requests: default_contact_requests(),
            privacy_requests: default_privacy_requests(),
            default: RetentionPolicy::default(),
            tenants: std::collections::HashMap::new(),
        }
    }
}

impl RetentionConfig {
    /// Checks every policy against the cap, naming the one at fault, and gives each the cap.
    pub fn validate(&mut self) -> Result<(), String> {
        let max = self.max;
        check_period("max", max)?;
        check_period("contact_requests", self.contact_requests)?;
        check_period("privacy_requests", self.privacy_requests)?;
        self.default.max = max;
        self.default
            .validate()
            .map_err(|e| format!("default: {e}"))?;
        for (tenant, policy) in &mut self.tenants {
            policy.max = max;
            policy
                .validate()
                .map_err(|e| format!("tenants.{tenant}: {e}"))?;
        }
        Ok(())
    }

    /// The policy of `tenant`.
    pub fn policy(&self, tenant: &str) -> &RetentionPolicy {
        self.tenants.get(tenant).unwrap_or(&self.default)
    }

    /// The fewest days a recording of any class of any tenant is kept (legal holds aside),
    /// and the setting that says so (`retention.tenants.acme.non_respondent`): the most a
    /// copy of every recording as it arrives, before its class is known, may be kept.
    pub fn shortest(&self) -> (i64, String) {
        let mut tenants: Vec<_> = self.tenants.iter().collect();
        tenants.sort_by_key(|(tenant, _)| tenant.as_str());
        let policies = std::iter::once(("retention.default".to_string(), &self.default)).chain(
            tenants
                .into_iter()
                .map(|(tenant, policy)| (format!("retention.tenants.{tenant}"), policy)),
        );
        // tenants mostly share their periods: each distinct one is worked out once
        let mut known: Vec<(jiff::SpanFieldwise, i64)> = Vec::new();
        let mut fewest = |span: Span| {
            if let Some((_, days)) = known.iter().find(|(s, _)| *s == span.fieldwise()) {
                return *days;
            }
            let days = fewest_days(span);
            known.push((span.fieldwise(), days));
            days
        };
        let mut shortest: Option<(i64, String)> = None;
        for (name, policy) in policies {
            for (class, span) in [
                ("non_respondent", policy.non_respondent),
                ("respondent", policy.respondent),
                ("consented_contact", policy.consented_contact),
            ] {
                let days = fewest(span).min(fewest(policy.max));
                if shortest.as_ref().is_none_or(|(d, _)| days < *d) {
                    shortest = Some((days, format!("{name}.{class}")));
                }
            }
        }
        shortest.expect("the default policy has three classes")
    }
}

/// The fewest whole days `span` can last, whatever day it starts on (a month is 28 days
/// from late January, a year 365 days outside a leap year); `i64::MAX` for a span that runs
/// past the end of the calendar from every day.
pub fn fewest_days(span: Span) -> i64 {
    // every starting day of a four-year cycle meets every month length and leap year
    let first = jiff::civil::date(2001, 1, 1);
    (0..4 * 365 + 1)
        .filter_map(|offset| {
            let start = first.checked_add(Span::new().days(offset)).ok()?;
            let end = start.checked_add(span).ok()?;
            start.until(end).ok().map(|days| i64::from(days.get_days()))
        })
        .min()
        .unwrap_or(i64::MAX)
}

/// Whether `a` is longer than `b`, measured from a fixed day.
fn longer(a: Span, b: Span) -> bool {
    a.compare((b, jiff::civil::date(2000, 1, 1))).ok() == Some(std::cmp::Ordering::Greater)
}

/// A period must be positive and calendar-only (no hours: expiry is a day).
fn check_period(name: &str, span: Span) -> Result<(), String> {
    let has_time = span.get_hours() != 0
        || span.get_minutes() != 0
        || span.get_seconds() != 0
        || span.get_milliseconds() != 0;
    if span.is_negative() || span.is_zero() || has_time {
        return Err(format!(
            "retention.{name}: {span} must be a positive number of days, weeks, months or years"
        ));
    }
    Ok(())
}

/// A class and the day its audio expires (`None` under a legal hold: kept until lifted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionDecision {
    /// The class.
    pub class: RetentionClass,
    /// The last day the audio may be kept.
    pub expires_on: Option<Date>,
    /// Under a legal hold: the class and expiry once the hold is released.
    pub after_hold: Option<(RetentionClass, Date)>,
}

impl RetentionPolicy {
    /// The class of a recording and its expiry day.
    pub fn decide(
        &self,
        answers: &Answers,
        consent: Consent,
        call_started_at: Timestamp,
    ) -> RetentionDecision {
        let class = if consent.contact && answers.is_respondent() {
            RetentionClass::ConsentedContact
        } else {
            RetentionClass::for_answers(answers)
        };
        let expires_on = self.expiry(class, call_started_at);
        if consent.legal_hold {
            return RetentionDecision {
                class: RetentionClass::LegalHold,
                expires_on: None,
                after_hold: Some((class, expires_on)),
            };
        }
        RetentionDecision {
            class,
            expires_on: Some(expires_on),
            after_hold: None,
        }
    }

    /// The last day a recording of `class` (not a legal hold) whose call started at
    /// `call_started_at` may be kept: its class's period, at most the cap, counted from the
    /// call's day (UTC).
    pub fn expiry(&self, class: RetentionClass, call_started_at: Timestamp) -> Date {
        let span = self.period(class).unwrap_or(self.max);
        let span = if longer(span, self.max) {
            self.max
        } else {
            span
        };
        let day = call_started_at.to_zoned(TimeZone::UTC).date();
        // a span past the end of the calendar keeps the audio until the calendar's end
        day.checked_add(span).unwrap_or(Date::MAX)
    }

    /// The period of a class; `None` for a legal hold, which has none.
    pub fn period(&self, class: RetentionClass) -> Option<Span> {
        match class {
            RetentionClass::Respondent => Some(self.respondent),
            RetentionClass::NonRespondent => Some(self.non_respondent),
            RetentionClass::ConsentedContact => Some(self.consented_contact),
            RetentionClass::LegalHold => None,
        }
    }

    /// The longest period of any class, capped: how long anything written today may be kept.
    pub fn longest(&self) -> Span {
        let mut longest = self.respondent;
        for span in [self.non_respondent, self.consented_contact] {
            if longer(span, longest) {
                longest = span;
            }
        }
        if longer(longest, self.max) {
            self.max
        } else {
            longest
        }
    }

    /// Checks that every period is positive, calendar-only (no hours: expiry is a day) and
    /// no longer than the cap.
    pub fn validate(&self) -> Result<(), String> {
        for (name, span) in [
            ("respondent", self.respondent),
            ("non_respondent", self.non_respondent),
            ("consented_contact", self.consented_contact),
        ] {
            check_period(name, span)?;
            if longer(span, self.max) {
                return Err(format!(
                    "retention.{name}: {span} is longer than the maximum of {} (retention.max)",
                    self.max
                ));
            }
        }
        if longer(self.non_respondent, self.respondent) {
            return Err("retention.non_respondent must not be longer than respondent".into());
        }
        Ok(())
    }
}

/// Spans in configuration: `"12 months"`, `"P1Y"`.
mod span {
    use jiff::Span;
    use serde::{Deserialize, Deserializer};

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Span, D::Error> {
        let text = String::deserialize(d)?;
        text.parse::<Span>()
            .map_err(|e| serde::de::Error::custom(format!("{text:?} is not a period: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use callscore_survey::{Key, KeyInput, KeyPress, Survey, extract};
    use std::time::Duration;

    #[test]
    fn privacy_requests_are_kept_30_days_by_default_and_their_period_is_checked() {
        let mut config: RetentionConfig = toml::from_str("").expect("a retention section");
        config.validate().expect("valid");
        assert_eq!(fewest_days(config.privacy_requests), 30);
        let mut config: RetentionConfig =
            toml::from_str("privacy_requests = \"2 weeks\"").expect("a retention section");
        config.validate().expect("valid");
        assert_eq!(fewest_days(config.privacy_requests), 14);
        let mut config: RetentionConfig =
            toml::from_str("privacy_requests = \"PT12H\"").expect("a retention section");
        let error = config.validate().expect_err("hours refused");
        assert!(error.starts_with("retention.privacy_requests:"), "{error}");
    }

    #[test]
    fn the_shortest_retention_is_the_fewest_days_any_class_of_any_tenant_is_kept() {
        for (span, days) in [
            ("30 days", 30),
            ("2 weeks", 14),
            ("1 month", 28),
            ("2 months", 59),
            ("12 months", 365),
            ("1 year", 365),
            ("3 years", 1095),
        ] {
            let parsed: Span = span.parse().expect("a span");
            assert_eq!(fewest_days(parsed), days, "{span}");
        }
        let mut config: RetentionConfig = toml::from_str(
            "[default]\nrespondent = \"12 months\"\nnon_respondent = \"2 months\"\n\
             consented_contact = \"24 months\"\n\
             [tenants.globex]\nrespondent = \"6 months\"\nnon_respondent = \"6 months\"\n\
             consented_contact = \"40 days\"\n",
        )
        .expect("a retention section");
        config.validate().expect("valid");
        assert_eq!(
            config.shortest(),
            (40, "retention.tenants.globex.consented_contact".to_string())
        );
        // a period past the end of the calendar is as long as can be
        assert_eq!(fewest_days(Span::new().years(9000)), i64::MAX);
        // the cap shortens every class
        config.max = Span::new().days(20);
        config.default.max = config.max;
        assert_eq!(
            config.shortest(),
            (20, "retention.default.non_respondent".to_string())
        );
    }

    fn answers(keys: &[Key]) -> Answers {
        let survey = Survey::from_toml(
            "id = \"s\"\nversion = 1\n[[questions]]\nid = \"q\"\nkind = \"csat\"\n",
        )
        .expect("survey");
        let presses = keys
            .iter()
            .enumerate()
            .map(|(i, &k)| {
                let at = Duration::from_millis(1000 + 300 * i as u64);
                KeyPress::new(k, at, at + Duration::from_millis(90))
            })
            .collect();
        let input = KeyInput {
            duration: Duration::from_secs(10),
            out_of_band: Some(presses),
            ..KeyInput::default()
        };
        extract(&survey, &input).expect("answers")
    }

    #[test]
    fn the_class_follows_answers_and_consent_and_sets_the_expiry_day() {
        let policy = RetentionPolicy::default();
        let call = "2026-11-30T23:30:00Z".parse::<Timestamp>().expect("time");
        let none = Consent::default();
        let contact = Consent {
            contact: true,
            legal_hold: false,
        };
        let hold = Consent {
            contact: true,
            legal_hold: true,
        };
        let answered = answers(&[Key::D4]);
        let silent = answers(&[]);
        let decide = |a: &Answers, c| policy.decide(a, c, call);
        assert_eq!(decide(&answered, none).class, RetentionClass::Respondent);
        assert_eq!(
            decide(&answered, none).expires_on,
            Some(jiff::civil::date(2027, 11, 30))
        );
        // two months from the last day of November ends on the last day of January
        assert_eq!(decide(&silent, none).class, RetentionClass::NonRespondent);
        assert_eq!(
            decide(&silent, none).expires_on,
            Some(jiff::civil::date(2027, 1, 30))
        );
        assert_eq!(
            decide(&answered, contact).class,
            RetentionClass::ConsentedContact
        );
        // consent to be contacted about answers that do not exist changes nothing
        assert_eq!(
            decide(&silent, contact).class,
            RetentionClass::NonRespondent
        );
        assert_eq!(decide(&silent, hold).class, RetentionClass::LegalHold);
        assert_eq!(decide(&silent, hold).expires_on, None);
        assert_eq!(
            decide(&answered, hold).after_hold,
            Some((
                RetentionClass::ConsentedContact,
                jiff::civil::date(2028, 11, 30)
            )),
            "once released, the class and expiry it would have had"
        );
    }

    #[test]
    fn no_class_outlives_the_cap() {
        let mut config: RetentionConfig = toml::from_str(
            "max = \"18 months\"\n[default]\nrespondent = \"12 months\"\n\
             non_respondent = \"2 months\"\nconsented_contact = \"2 years\"\n",
        )
        .expect("parses");
        let error = config.validate().expect_err("2 years is over the cap");
        assert!(
            error.contains("consented_contact") && error.contains("maximum"),
            "{error}"
        );
        let mut config = RetentionConfig::default();
        config.validate().expect("the defaults are within 3 years");
        assert_eq!(config.default.longest().get_months(), 24);
        let mut policy = config.default.clone();
        policy.max = Span::new().months(6);
        let call = "2026-01-15T10:00:00Z".parse::<Timestamp>().expect("time");
        assert_eq!(
            policy.expiry(RetentionClass::ConsentedContact, call),
            jiff::civil::date(2026, 7, 15),
            "capped even if validation was skipped"
        );
    }

    #[test]
    fn policies_are_validated_with_the_offending_entry_named() {
        let parse = |text: &str| toml::from_str::<RetentionConfig>(text);
        let mut good = parse(
            "[default]\nrespondent = \"12 months\"\nnon_respondent = \"P2M\"\n\
             consented_contact = \"2 years\"\n[tenants.acme]\nrespondent = \"6 months\"\n\
             non_respondent = \"30 days\"\nconsented_contact = \"1 year\"\n",
        )
        .expect("parses");
        assert!(good.validate().is_ok());
        assert_eq!(good.tenants["acme"].non_respondent.get_days(), 30);
        let mut hours = parse(
            "[tenants.acme]\nrespondent = \"12 hours\"\nnon_respondent = \"1 day\"\n\
             consented_contact = \"1 year\"\n",
        )
        .expect("parses");
        let error = hours.validate().expect_err("hours are refused");
        assert!(
            error.contains("tenants.acme") && error.contains("respondent"),
            "{error}"
        );
        let mut longer = parse(
            "[default]\nrespondent = \"1 month\"\nnon_respondent = \"2 months\"\n\
             consented_contact = \"1 year\"\n",
        )
        .expect("parses");
        assert!(longer.validate().is_err());
        assert!(parse("[default]\nrespondent = \"soon\"\n").is_err());
        assert!(parse("[defaults]\n").is_err(), "unknown keys are refused");
    }
}
