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
