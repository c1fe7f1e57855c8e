//! Where everything of a recording lives in a store, and the markers that find it without
//! listing the bucket.
//!
//! ```text
//! TENANT/CLASS/CALLER/RECORDING/audio.EXT          the recording as it came
//! TENANT/CLASS/CALLER/RECORDING/record.json        what callscore made of it (RecordingRecord)
//! TENANT/CLASS/CALLER/RECORDING/comment-QUESTION.EXT   a spoken comment's clip
//! _index/expires/TENANT/DAY/CLASS/CALLER/RECORDING/CALL     found by the retention sweep
//! _index/recordings/TENANT/RECORDING/CLASS/CALLER/CALL      found by recording id
//! _index/calls/TENANT/CALL/RECORDING/CLASS/CALLER           found by call id
//! ```
//!
//! Everything of one caller lies under `TENANT/CLASS/CALLER/` for each of the four classes,
//! so erasing or exporting a caller lists four prefixes per pseudonym key, never the bucket;
//! a store that can only expire by prefix still expires each class on its own schedule. The
//! markers are empty objects whose names say everything: the sweep pages through
//! `_index/expires/TENANT/` in day order and stops at today, so its cost follows the expired
//! recordings, not the bucket; a recording or a call is one short listing away. Markers are
//! written before the recording's objects and deleted after them, so an object never exists
//! without the marker that finds it (a marker without objects is harmless).

use callscore_survey::RetentionClass;
use jiff::civil::Date;

use crate::ports::{ObjectKey, WITHHELD, class_name};

/// The prefix of every marker.
pub const INDEX: &str = "_index/";
/// The file of a recording's audio, before its extension.
pub const AUDIO_FILE: &str = "audio";
/// The file of a comment's clip, before the question id and the extension.
pub const COMMENT_FILE: &str = "comment-";
/// The file of a recording's record.
pub const RECORD_FILE: &str = "record.json";

/// Every retention class, in the order callscore lists them.
pub const CLASSES: [RetentionClass; 4] = [
    RetentionClass::Respondent,
    RetentionClass::NonRespondent,
    RetentionClass::ConsentedContact,
    RetentionClass::LegalHold,
];

/// The class with this name in keys and tags.
pub fn class_of(name: &str) -> Option<RetentionClass> {
    CLASSES.into_iter().find(|class| class_name(*class) == name)
}

/// Where one recording's objects live: `TENANT/CLASS/CALLER/RECORDING/`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Place {
    /// The tenant.
    pub tenant: String,
    /// The retention class.
    pub class: RetentionClass,
    /// The caller's pseudonym, or `withheld`.
    pub caller: String,
    /// The recording's id.
    pub recording_id: String,
}

impl Place {
    /// The place of a recording; ids and pseudonyms are validated, so the parts are safe as a
    /// path.
    pub fn new(
        tenant: &str,
        class: RetentionClass,
        caller: Option<&str>,
        recording_id: &str,
    ) -> Place {
        Place {
            tenant: tenant.to_string(),
            class,
            caller: caller.unwrap_or(WITHHELD).to_string(),
            recording_id: recording_id.to_string(),
        }
    }

    /// The prefix every object of the recording shares.
    pub fn prefix(&self) -> String {
        format!(
            "{}/{}/{}/{}/",
            self.tenant,
            class_name(self.class),
            self.caller,
            self.recording_id
        )
    }

    /// The key of the recording's audio.
    pub fn audio(&self, extension: &str) -> ObjectKey {
        ObjectKey::from_layout(format!("{}{AUDIO_FILE}.{extension}", self.prefix()))
    }

    /// The key of the recording's record.
    pub fn record(&self) -> ObjectKey {
        ObjectKey::from_layout(format!("{}{RECORD_FILE}", self.prefix()))
    }

    /// The key of the clip of comment question `question_id` (a validated id, safe in a key).
    pub fn comment(&self, question_id: &str, extension: &str) -> ObjectKey {
        self.file(&format!("{COMMENT_FILE}{question_id}.{extension}"))
    }

    /// The key of one of the recording's files (`audio.wav`, `record.json`, …).
    pub fn file(&self, name: &str) -> ObjectKey {
        ObjectKey::from_layout(format!("{}{name}", self.prefix()))
    }

    /// The same recording in another class.
    pub fn in_class(&self, class: RetentionClass) -> Place {
        Place {
            class,
            ..self.clone()
        }
    }

    /// The place of an object key laid out by this module, and the object's file name.
    pub fn of_key(key: &ObjectKey) -> Option<(Place, &str)> {
        let mut parts = key.as_str().splitn(5, '/');
        let tenant = parts.next()?;
        let class = class_of(parts.next()?)?;
        let caller = parts.next()?;
        let recording_id = parts.next()?;
        let file = parts.next()?;
        (!file.contains('/')).then(|| (Place::new(tenant, class, Some(caller), recording_id), file))
    }

    /// The prefix of every recording of `class` in `tenant`.
    pub fn class_prefix(tenant: &str, class: RetentionClass) -> String {
        format!("{tenant}/{}/", class_name(class))
    }

    /// The prefixes holding everything of `caller` (a pseudonym) in `tenant`, one per class.
    pub fn caller_prefixes(tenant: &str, caller: &str) -> Vec<String> {
        CLASSES
            .into_iter()
            .map(|class| format!("{tenant}/{}/{caller}/", class_name(class)))
            .collect()
    }
}

/// The kind of a marker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarkerKind {
    /// Found by the retention sweep, on the recording's expiry day.
    Expiry(Date),
    /// Found by recording id.
    Recording,
    /// Found by call id.
    Call,
}

/// An empty object whose name finds a recording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marker {
    /// What finds it.
    pub kind: MarkerKind,
    /// The recording it finds.
    pub place: Place,
    /// The recording's call.
    pub call_id: String,
}

impl Marker {
    /// The markers of a recording: its expiry (unless it has none: a legal hold), its
    /// recording id and its call id.
    pub fn of(place: &Place, call_id: &str, expires_on: Option<Date>) -> Vec<Marker> {
        let mut markers = Vec::with_capacity(3);
        if let Some(day) = expires_on {
            markers.push(Marker {
                kind: MarkerKind::Expiry(day),
                place: place.clone(),
                call_id: call_id.to_string(),
            });
        }
        for kind in [MarkerKind::Recording, MarkerKind::Call] {
            markers.push(Marker {
                kind,
                place: place.clone(),
                call_id: call_id.to_string(),
            });
        }
        markers
    }

    /// The marker's key.
    pub fn key(&self) -> ObjectKey {
        let Place {
            tenant,
            class,
            caller,
            recording_id,
        } = &self.place;
        let class = class_name(*class);
        let call = &self.call_id;
        ObjectKey::from_layout(match self.kind {
            MarkerKind::Expiry(day) => {
                format!("{INDEX}expires/{tenant}/{day}/{class}/{caller}/{recording_id}/{call}")
            }
            MarkerKind::Recording => {
                format!("{INDEX}recordings/{tenant}/{recording_id}/{class}/{caller}/{call}")
            }
            MarkerKind::Call => {
                format!("{INDEX}calls/{tenant}/{call}/{recording_id}/{class}/{caller}")
            }
        })
    }

    /// The marker a key names, when it is one.
    pub fn parse(key: &ObjectKey) -> Option<Marker> {
        let rest = key.as_str().strip_prefix(INDEX)?;
        let parts: Vec<&str> = rest.split('/').collect();
        match parts.as_slice() {
            ["expires", tenant, day, class, caller, recording, call] => Some(Marker {
                kind: MarkerKind::Expiry(day.parse().ok()?),
                place: Place::new(tenant, class_of(class)?, Some(caller), recording),
                call_id: (*call).to_string(),
            }),
            ["recordings", tenant, recording, class, caller, call] => Some(Marker {
                kind: MarkerKind::Recording,
                place: Place::new(tenant, class_of(class)?, Some(caller), recording),
                call_id: (*call).to_string(),
            }),
            ["calls", tenant, call, recording, class, caller] => Some(Marker {
                kind: MarkerKind::Call,
                place: Place::new(tenant, class_of(class)?, Some(caller), recording),
                call_id: (*call).to_string(),
            }),
            _ => None,
        }
    }

    /// The prefix of a tenant's expiry markers, in day order.
    pub fn expiries(tenant: &str) -> String {
        format!("{INDEX}expires/{tenant}/")
    }

    /// The expiry markers' prefix under which tenants are listed.
    pub fn expiry_tenants() -> String {
        format!("{INDEX}expires/")
    }

    /// The recording markers' prefix under which tenants are listed.
    pub fn recording_tenants() -> String {
        format!("{INDEX}recordings/")
    }

    /// The prefix of the markers of one recording id.
    pub fn recording(tenant: &str, recording_id: &str) -> String {
        format!("{INDEX}recordings/{tenant}/{recording_id}/")
    }

    /// The prefix of the markers of one call id.
    pub fn call(tenant: &str, call_id: &str) -> String {
        format!("{INDEX}calls/{tenant}/{call_id}/")
    }

    /// Every marker prefix of a tenant.
    pub fn of_tenant(tenant: &str) -> [String; 3] {
        [
            format!("{INDEX}expires/{tenant}/"),
            format!("{INDEX}recordings/{tenant}/"),
            format!("{INDEX}calls/{tenant}/"),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_markers_read_back_as_what_they_name() {
        let place = Place::new(
            "acme",
            RetentionClass::NonRespondent,
            Some("ps-k1-00ff"),
            "rec-1.a",
        );
        assert_eq!(place.prefix(), "acme/non_respondent/ps-k1-00ff/rec-1.a/");
        let audio = place.audio("wav");
        assert_eq!(Place::of_key(&audio), Some((place.clone(), "audio.wav")));
        assert_eq!(
            Place::of_key(&place.record()).map(|(_, f)| f),
            Some("record.json")
        );
        let day = jiff::civil::date(2027, 1, 30);
        let markers = Marker::of(&place, "call-9", Some(day));
        assert_eq!(markers.len(), 3);
        assert_eq!(
            markers[0].key().as_str(),
            "_index/expires/acme/2027-01-30/non_respondent/ps-k1-00ff/rec-1.a/call-9"
        );
        for marker in &markers {
            assert_eq!(Marker::parse(&marker.key()).as_ref(), Some(marker));
        }
        assert!(
            markers[1]
                .key()
                .as_str()
                .starts_with(&Marker::recording("acme", "rec-1.a"))
        );
        assert!(
            markers[2]
                .key()
                .as_str()
                .starts_with(&Marker::call("acme", "call-9"))
        );
        assert_eq!(
            Marker::of(&place, "c", None).len(),
            2,
            "a hold has no expiry"
        );
        assert_eq!(Marker::parse(&audio), None);
    }

    #[test]
    fn a_recording_id_that_prefixes_another_does_not_share_its_objects() {
        let short = Place::new("t", RetentionClass::Respondent, None, "r1");
        let long = Place::new("t", RetentionClass::Respondent, None, "r1.5");
        assert!(!long.audio("wav").as_str().starts_with(&short.prefix()));
    }
}
