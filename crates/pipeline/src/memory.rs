//! In-memory adapters: for unit tests and the contract suite, never as the proof of a real
//! adapter.

use std::collections::BTreeMap;
use std::sync::Mutex;

use sha2::{Digest, Sha256};

use crate::ports::{
    AudioStore, EventSink, ObjectKey, ObjectMeta, PutOutcome, SinkError, StoreError,
};
use crate::pseudonym::hex;

/// An audio store in a map.
#[derive(Debug, Default)]
pub struct MemoryStore {
    objects: Mutex<BTreeMap<ObjectKey, (Vec<u8>, ObjectMeta)>>,
}

impl AudioStore for MemoryStore {
    async fn put(
        &self,
        key: &ObjectKey,
        bytes: &[u8],
        meta: &ObjectMeta,
    ) -> Result<PutOutcome, StoreError> {
        let mut objects = self.objects.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((existing, _)) = objects.get(key) {
            if hex(&Sha256::digest(existing)) == meta.sha256 {
                return Ok(PutOutcome::AlreadyStored);
            }
            return Err(StoreError::conflict(key));
        }
        objects.insert(key.clone(), (bytes.to_vec(), meta.clone()));
        Ok(PutOutcome::Created)
    }

    async fn head(&self, key: &ObjectKey) -> Result<Option<ObjectMeta>, StoreError> {
        let objects = self.objects.lock().unwrap_or_else(|e| e.into_inner());
        Ok(objects.get(key).map(|(_, meta)| meta.clone()))
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectKey>, StoreError> {
        let objects = self.objects.lock().unwrap_or_else(|e| e.into_inner());
        Ok(objects
            .keys()
            .filter(|k| k.as_str().starts_with(prefix))
            .cloned()
            .collect())
    }

    async fn delete(&self, key: &ObjectKey) -> Result<(), StoreError> {
        let mut objects = self.objects.lock().unwrap_or_else(|e| e.into_inner());
        objects.remove(key);
        Ok(())
    }

    fn uri(&self, key: &ObjectKey) -> String {
        format!("memory:///{key}")
    }
}

/// An event sink that keeps what it is given, with the key each event was published under.
#[derive(Debug, Default)]
pub struct MemorySink {
    events: Mutex<Vec<(String, serde_json::Value)>>,
}

impl MemorySink {
    /// Every event published, with its key, in order.
    pub fn events(&self) -> Vec<(String, serde_json::Value)> {
        self.events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl EventSink for MemorySink {
    async fn publish(&self, events: &[serde_json::Value]) -> Result<(), SinkError> {
        let mut stored = self.events.lock().unwrap_or_else(|e| e.into_inner());
        for event in events {
            let key = event
                .get("event_id")
                .and_then(|id| id.as_str())
                .unwrap_or_default()
                .to_string();
            stored.push((key, event.clone()));
        }
        Ok(())
    }
}
