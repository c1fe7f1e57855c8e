//! How long stored audio is kept: a per-tenant policy maps each retention class to a period,
//! and the class follows from the answers and the caller's consent.

use callscore_survey::{Answers, RetentionClass};
use jiff::civil::Date;
use jiff::{Span, Timestamp, tz::TimeZone};
use serde::Deserialize;

use crate::metadata::Consent;

/// A tenant's retention periods, per class. Periods are calendar spans (`"12 months"`,
/// `"60 days"`, ISO 8601 `"P2M"`), counted from the day the call started (UTC).
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
}

impl Default for RetentionPolicy {
    /// Twelve months for respondents, two for non-respondents, 24 for consented contacts.
    fn default() -> RetentionPolicy {
        RetentionPolicy {
            respondent: Span::new().months(12),
            non_respondent: Span::new().months(2),
            consented_contact: Span::new().months(24),
        }
    }
}

/// The retention section of a configuration: a default policy and per-tenant ones.
///
/// ```toml
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
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionConfig {
    /// The policy of tenants without their own.
    #[serde(default)]
    pub default: RetentionPolicy,
    /// Tenants' own policies.
    #[serde(default)]
    pub tenants: std::collections::HashMap<String, RetentionPolicy>,
}

impl RetentionConfig {
    /// Checks every policy, naming the one at fault.
    pub fn validate(&self) -> Result<(), String> {
        self.default
            .validate()
            .map_err(|e| format!("default: {e}"))?;
        for (tenant, policy) in &self.tenants {
            policy
                .validate()
                .map_err(|e| format!("tenants.{tenant}: {e}"))?;
        }
        Ok(())
    }
}

/// A class and the day its audio expires (`None` under a legal hold: kept until lifted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionDecision {
    /// The class.
    pub class: RetentionClass,
    /// The last day the audio may be kept.
    pub expires_on: Option<Date>,
}

impl RetentionPolicy {
    /// The class of a recording and its expiry day.
    pub fn decide(
        &self,
        answers: &Answers,
        consent: Consent,
        call_started_at: Timestamp,
    ) -> RetentionDecision {
        let class = if consent.legal_hold {
            RetentionClass::LegalHold
        } else if consent.contact && answers.is_respondent() {
            RetentionClass::ConsentedContact
        } else {
            RetentionClass::for_answers(answers)
        };
        let span = match class {
            RetentionClass::LegalHold => {
                return RetentionDecision {
                    class,
                    expires_on: None,
                };
            }
            RetentionClass::ConsentedContact => self.consented_contact,
            RetentionClass::Respondent => self.respondent,
            RetentionClass::NonRespondent => self.non_respondent,
        };
        let day = call_started_at.to_zoned(TimeZone::UTC).date();
        // a span past the end of the calendar keeps the audio until the calendar's end
        let expires_on = day.checked_add(span).unwrap_or(Date::MAX);
        RetentionDecision {
            class,
            expires_on: Some(expires_on),
        }
    }

    /// Checks that every period is positive and calendar-only (no hours: expiry is a day).
    pub fn validate(&self) -> Result<(), String> {
        for (name, span) in [
            ("respondent", self.respondent),
            ("non_respondent", self.non_respondent),
            ("consented_contact", self.consented_contact),
        ] {
            let has_time = span.get_hours() != 0
                || span.get_minutes() != 0
                || span.get_seconds() != 0
                || span.get_milliseconds() != 0;
            if span.is_negative() || span.is_zero() || has_time {
                return Err(format!(
                    "retention.{name}: {span} must be a positive number of days, weeks, months \
                     or years"
                ));
            }
        }
        if self
            .non_respondent
            .compare((self.respondent, jiff::civil::date(2000, 1, 1)))
            .ok()
            == Some(std::cmp::Ordering::Greater)
        {
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
    }

    #[test]
    fn policies_are_validated_with_the_offending_entry_named() {
        let parse = |text: &str| toml::from_str::<RetentionConfig>(text);
        let good = parse(
            "[default]\nrespondent = \"12 months\"\nnon_respondent = \"P2M\"\n\
             consented_contact = \"2 years\"\n[tenants.acme]\nrespondent = \"6 months\"\n\
             non_respondent = \"30 days\"\nconsented_contact = \"1 year\"\n",
        )
        .expect("parses");
        assert!(good.validate().is_ok());
        assert_eq!(good.tenants["acme"].non_respondent.get_days(), 30);
        let hours = parse(
            "[tenants.acme]\nrespondent = \"12 hours\"\nnon_respondent = \"1 day\"\n\
             consented_contact = \"1 year\"\n",
        )
        .expect("parses");
        let error = hours.validate().expect_err("hours are refused");
        assert!(
            error.contains("tenants.acme") && error.contains("respondent"),
            "{error}"
        );
        let longer = parse(
            "[default]\nrespondent = \"1 month\"\nnon_respondent = \"2 months\"\n\
             consented_contact = \"1 year\"\n",
        )
        .expect("parses");
        assert!(longer.validate().is_err());
        assert!(parse("[default]\nrespondent = \"soon\"\n").is_err());
        assert!(parse("[defaults]\n").is_err(), "unknown keys are refused");
    }
}
