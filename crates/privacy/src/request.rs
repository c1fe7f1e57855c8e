//! Requests as messages: erasure, export and consent withdrawal arriving on the
//! privacy-requests topic (from a client's CRM or request tool), and their results.
//! `callscore serve-privacy` executes them exactly as the commands would.

use jiff::Timestamp;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::subject::{Selector, Subject};

/// The request schema version this build reads.
pub const REQUEST_VERSION: u32 = 1;
/// File name of the request schema under `schemas/`.
pub const REQUEST_SCHEMA_FILE: &str = "privacy-request.v1.schema.json";
/// File name of the result schema under `schemas/`.
pub const RESULT_SCHEMA_FILE: &str = "privacy-result.v1.schema.json";

/// What is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Erase the subject's data.
    Erase,
    /// Export the subject's data.
    Export,
    /// Withdraw the subject's consent to be contacted.
    WithdrawConsent,
}

/// Whose data: exactly one of the fields.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SelectorFields {
    /// A caller, by number.
    #[serde(default)]
    pub caller_number: Option<String>,
    /// A caller, by pseudonym.
    #[serde(default)]
    pub pseudonym: Option<String>,
    /// A call.
    #[serde(default)]
    pub call_id: Option<String>,
    /// A recording.
    #[serde(default)]
    pub recording_id: Option<String>,
    /// Everything of the tenant (erasure only).
    #[serde(default)]
    pub whole_tenant: bool,
}

/// A privacy request, one message on the privacy-requests topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "callscore privacy request, schema version 1")]
pub struct PrivacyRequest {
    /// Always 1 in this schema.
    pub schema_version: u32,
    /// The requester's id for it: results carry it, and it makes the erasure's id.
    pub request_id: String,
    /// What is asked.
    pub action: Action,
    /// The tenant.
    pub tenant: String,
    /// Whose data.
    pub subject: SelectorFields,
    /// Only report what would be done.
    #[serde(default)]
    pub dry_run: bool,
}

impl PrivacyRequest {
    /// Reads and checks a request; `Err` says what is wrong with it, never quoting a value.
    pub fn parse(bytes: &[u8]) -> Result<PrivacyRequest, String> {
        let request: PrivacyRequest = serde_json::from_slice(bytes)
            .map_err(|e| callscore_pipeline::redact::without_values(&e.to_string()))?;
        if request.schema_version != REQUEST_VERSION {
            return Err(format!(
                "schema_version {} (this build reads {REQUEST_VERSION})",
                request.schema_version
            ));
        }
        // both name folders in the store: `.` and `..` would not be a folder of their own
        let valid_id = |id: &str| {
            id.len() <= 128
                && id.chars().any(|c| c.is_ascii_alphanumeric())
                && id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        };
        if !valid_id(&request.request_id) || !valid_id(&request.tenant) {
            return Err(
                "request_id and tenant must be 1 to 128 letters, digits, '.', '_' or '-', \
                 with a letter or digit among them"
                    .into(),
            );
        }
        request.subject()?;
        Ok(request)
    }

    /// The request's subject.
    pub fn subject(&self) -> Result<Subject, String> {
        let s = &self.subject;
        let mut selectors = Vec::new();
        if let Some(n) = &s.caller_number {
            selectors.push(Selector::Caller(n.clone()));
        }
        if let Some(p) = &s.pseudonym {
            selectors.push(Selector::Pseudonym(p.clone()));
        }
        if let Some(c) = &s.call_id {
            selectors.push(Selector::Call(c.clone()));
        }
        if let Some(r) = &s.recording_id {
            selectors.push(Selector::Recording(r.clone()));
        }
        if s.whole_tenant {
            selectors.push(Selector::Tenant);
        }
        if selectors.len() != 1 {
            return Err(
                "subject: give exactly one of caller_number, pseudonym, call_id, \
                        recording_id, whole_tenant"
                    .into(),
            );
        }
        let selector = selectors.remove(0);
        if selector == Selector::Tenant && self.action != Action::Erase {
            return Err("subject.whole_tenant: only for erasure".into());
        }
        let subject = Subject {
            tenant: self.tenant.clone(),
            selector,
        };
        subject.check().map_err(|e| e.to_string())?;
        Ok(subject)
    }
}

/// How a request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ResultStatus {
    /// Done. A subject of whom nothing is stored is done too, with nothing counted.
    Done,
    /// Done, except what a legal hold or an Object Lock keeps (an erasure): the message and
    /// the report say what; the requester is told why it is kept.
    Partial,
    /// Refused before anything was touched (a wrong selector).
    Refused,
    /// Failed: damaged data (an unreadable record or journal) or a refusal of the store or a
    /// topic that will not change. An operator has to look; sending the request again
    /// carries on where it stopped.
    Failed,
}

/// The result of a request, on the privacy-results topic, keyed by `request_id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(title = "callscore privacy result, schema version 1")]
pub struct PrivacyResult {
    /// Always 1 in this schema.
    pub schema_version: u32,
    /// The request's id.
    pub request_id: String,
    /// What was asked.
    pub action: Action,
    /// The tenant.
    pub tenant: String,
    /// How it ended.
    pub status: ResultStatus,
    /// In words; never a phone number.
    pub message: String,
    /// The command's report (`--json`): counts, ids, where an export is.
    pub report: serde_json::Value,
    /// When it finished.
    pub finished_at: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(request_id: &str, tenant: &str) -> Vec<u8> {
        serde_json::json!({"schema_version": 1, "request_id": request_id, "action": "export",
            "tenant": tenant, "subject": {"call_id": "call-1"}})
        .to_string()
        .into_bytes()
    }

    #[test]
    fn ids_that_would_not_be_a_folder_of_their_own_are_refused() {
        for (request_id, tenant) in [
            ("..", "acme"),
            (".", "acme"),
            ("r-1", ".."),
            ("", "acme"),
            ("r/1", "acme"),
        ] {
            let parsed = PrivacyRequest::parse(&request(request_id, tenant));
            assert!(parsed.is_err(), "{request_id:?} of {tenant:?}: {parsed:?}");
        }
        for (request_id, tenant) in [("r-1", "acme"), ("crm.4711", "a_b"), ("..r", "x")] {
            let parsed = PrivacyRequest::parse(&request(request_id, tenant));
            assert!(parsed.is_ok(), "{request_id:?} of {tenant:?}: {parsed:?}");
        }
    }
}
