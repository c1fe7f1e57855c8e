//! Whose data a request is about, and finding it: by caller number (under every pseudonym key
//! the tenant still holds), pseudonym, call, recording, or the whole tenant. Every look-up
//! lists a few prefixes of the subject's own: its cost follows the subject's data, not the
//! store.

use std::collections::BTreeMap;

use callscore_pipeline::layout::{CLASSES, Marker, Place};
use callscore_pipeline::{AudioStore, Pseudonyms, RecordingRecord, is_pseudonym};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::PrivacyError;

/// What a request selects in a tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Selector {
    /// A caller, by phone number: looked up under every key held.
    Caller(String),
    /// A caller, by pseudonym (`ps-KEYID-…`).
    Pseudonym(String),
    /// One call's recordings.
    Call(String),
    /// One recording.
    Recording(String),
    /// Everything of the tenant (the client's request to destroy it all).
    Tenant,
}

impl Selector {
    /// Its kind, as reports and records name it.
    pub fn kind(&self) -> &'static str {
        match self {
            Selector::Caller(_) => "caller",
            Selector::Pseudonym(_) => "pseudonym",
            Selector::Call(_) => "call",
            Selector::Recording(_) => "recording",
            Selector::Tenant => "tenant",
        }
    }
}

/// A request's subject: a tenant and what in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    /// The tenant.
    pub tenant: String,
    /// What in it.
    pub selector: Selector,
}

/// One stored recording of a subject.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    /// Where it is.
    pub place: Place,
    /// Its call.
    pub call_id: String,
    /// Its record, when it could be read.
    pub record: Option<RecordingRecord>,
}

impl Subject {
    /// The pseudonyms a caller selector stands for (under every key held), or the pseudonym
    /// given; empty for other selectors.
    pub fn pseudonyms(&self, pseudonyms: &Pseudonyms) -> Vec<String> {
        match &self.selector {
            Selector::Caller(number) => pseudonyms.look_up(&self.tenant, number),
            Selector::Pseudonym(pseudonym) => vec![pseudonym.clone()],
            _ => Vec::new(),
        }
    }

    /// A stable description for reports and records: never a phone number.
    pub fn describe(&self, pseudonyms: &Pseudonyms) -> String {
        match &self.selector {
            Selector::Caller(_) => format!(
                "caller (by number: {} pseudonyms under the keys held)",
                self.pseudonyms(pseudonyms).len()
            ),
            Selector::Pseudonym(p) => format!("caller {p}"),
            Selector::Call(id) => format!("call {id}"),
            Selector::Recording(id) => format!("recording {id}"),
            Selector::Tenant => format!("tenant {}", self.tenant),
        }
    }

    /// An id for what the request is about, the same every time it is asked: from the
    /// request's own id when it has one, else from the subject (a caller by their pseudonym
    /// under the newest key, never the number itself).
    pub fn id(&self, request_id: Option<&str>, pseudonyms: &Pseudonyms, kind: &str) -> String {
        let token = match (&self.selector, request_id) {
            (_, Some(request)) => format!("request:{request}"),
            (Selector::Caller(number), None) => {
                let newest = pseudonyms
                    .held(&self.tenant)
                    .last()
                    .map(|key| pseudonyms.pseudonymize(key, &self.tenant, number));
                format!("caller:{}", newest.unwrap_or_default())
            }
            (Selector::Pseudonym(p), None) => format!("pseudonym:{p}"),
            (Selector::Call(id), None) => format!("call:{id}"),
            (Selector::Recording(id), None) => format!("recording:{id}"),
            (Selector::Tenant, None) => "tenant".to_string(),
        };
        let mut hash = Sha256::new();
        for part in [kind, self.tenant.as_str(), token.as_str()] {
            hash.update((part.len() as u64).to_be_bytes());
            hash.update(part.as_bytes());
        }
        callscore_pipeline::hex(&hash.finalize())[..32].to_string()
    }

    /// Checks what can be checked without the store.
    pub fn check(&self) -> Result<(), PrivacyError> {
        match &self.selector {
            Selector::Pseudonym(p) if !is_pseudonym(p) => Err(PrivacyError::Refused(
                "a pseudonym has the form ps-KEYID-<64 hex digits>".into(),
            )),
            Selector::Caller(number) if number.chars().filter(char::is_ascii_digit).count() < 6 => {
                Err(PrivacyError::Refused(
                    "a caller's number has at least 6 digits".into(),
                ))
            }
            _ => Ok(()),
        }
    }
}

/// Every stored recording of `subject`, in recording order, under the keys the keyring holds
/// now (it is read again first).
pub async fn resolve(
    store: &impl AudioStore,
    pseudonyms: &Pseudonyms,
    subject: &Subject,
) -> Result<Vec<Found>, PrivacyError> {
    subject.check()?;
    if let Selector::Caller(number) = &subject.selector
        && !pseudonyms.places(&subject.tenant, number)
    {
        return Err(PrivacyError::Refused(
            "the tenant has a numbering plan: give the caller's number with +, the \
             international prefix or the trunk prefix, so that every form it was stored in is \
             found"
                .into(),
        ));
    }
    if let Some(ring) = pseudonyms.keyring() {
        // keys another process created (a rotation by `serve`'s sweeper) since these were
        // loaded: a caller's recordings under them are theirs too
        ring.reload()?;
    }
    let tenant = &subject.tenant;
    let mut places: BTreeMap<Place, Option<String>> = BTreeMap::new();
    match &subject.selector {
        Selector::Caller(_) | Selector::Pseudonym(_) => {
            for pseudonym in subject.pseudonyms(pseudonyms) {
                for prefix in Place::caller_prefixes(tenant, &pseudonym) {
                    for key in store.list(&prefix).await? {
                        if let Some((place, _)) = Place::of_key(&key) {
                            places.entry(place).or_insert(None);
                        }
                    }
                }
            }
        }
        Selector::Call(id) => {
            for key in store.list(&Marker::call(tenant, id)).await? {
                if let Some(marker) = Marker::parse(&key) {
                    places.insert(marker.place, Some(marker.call_id));
                }
            }
        }
        Selector::Recording(id) => {
            for key in store.list(&Marker::recording(tenant, id)).await? {
                if let Some(marker) = Marker::parse(&key) {
                    places.insert(marker.place, Some(marker.call_id));
                }
            }
        }
        Selector::Tenant => {
            for class in CLASSES {
                for key in store.list(&Place::class_prefix(tenant, class)).await? {
                    if let Some((place, _)) = Place::of_key(&key) {
                        places.entry(place).or_insert(None);
                    }
                }
            }
        }
    }
    let mut found = Vec::with_capacity(places.len());
    for (place, call_id) in places {
        let record = crate::hold::find_record(store, &place).await?;
        let call_id = call_id
            .or_else(|| record.as_ref().map(|r| r.call_id.clone()))
            .unwrap_or_default();
        found.push(Found {
            place,
            call_id,
            record,
        });
    }
    found.sort_by(|a, b| a.place.recording_id.cmp(&b.place.recording_id));
    Ok(found)
}
