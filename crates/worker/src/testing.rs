//! Memory adapters with faults on demand, for the tests of the core and of what runs it: a
//! [`MemorySource`] that records acknowledgements and dead letters, and [`Faulty`], which
//! wraps a store or a sink and fails or delays the calls a test scripts.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use callscore_pipeline::{
    AudioReference, AudioStore, DeadLetter, Deleted, EventSink, ObjectKey, ObjectMeta, PutOutcome,
    Receipt, Received, RecordingSource, Rejected, Retry, SinkError, SourceError, StagedAudio,
    StoreError, Stream, Taken,
};
use tokio_util::sync::CancellationToken;

/// A receipt of the [`MemorySource`].
#[derive(Debug, Clone)]
pub struct MemoryReceipt {
    /// The input's position in the source, from 0.
    pub index: usize,
    lane: u64,
    bytes: u64,
    revoked: CancellationToken,
}

impl Receipt for MemoryReceipt {
    fn lane(&self) -> u64 {
        self.lane
    }

    fn bytes(&self) -> u64 {
        self.bytes
    }

    async fn revoked(&self) {
        self.revoked.cancelled().await;
    }
}

/// One input of a [`MemorySource`].
#[derive(Debug, Clone)]
pub struct MemoryInput {
    /// The recording, or its rejection.
    pub item: Result<Received, Rejected>,
    /// Its lane.
    pub lane: u64,
}

#[derive(Debug, Default)]
struct SourceState {
    queue: VecDeque<(usize, MemoryInput)>,
    acknowledged: Vec<usize>,
    dead_letters: Vec<(usize, DeadLetter, Option<String>)>,
    reject_faults: VecDeque<Retry>,
    taken: Vec<usize>,
}

/// A source over inputs held in memory. Every receipt can be revoked with [`Self::revoke`].
#[derive(Debug, Default)]
pub struct MemorySource {
    state: Mutex<SourceState>,
    revocations: Mutex<Vec<(u64, CancellationToken)>>,
}

impl MemorySource {
    /// A source handing out `inputs` in order.
    pub fn new(inputs: Vec<MemoryInput>) -> MemorySource {
        MemorySource {
            state: Mutex::new(SourceState {
                queue: inputs.into_iter().enumerate().collect(),
                ..SourceState::default()
            }),
            revocations: Mutex::new(Vec::new()),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, SourceState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The indices of acknowledged inputs, in acknowledgement order.
    pub fn acknowledged(&self) -> Vec<usize> {
        self.state().acknowledged.clone()
    }

    /// The indices of inputs taken so far, in order.
    pub fn taken(&self) -> Vec<usize> {
        self.state().taken.clone()
    }

    /// Every dead letter stored: the input's index, the letter and the pseudonym given.
    pub fn dead_letters(&self) -> Vec<(usize, DeadLetter, Option<String>)> {
        self.state().dead_letters.clone()
    }

    /// The next `reject` calls fail, one per entry, with these kinds.
    pub fn fail_rejects(&self, faults: impl IntoIterator<Item = Retry>) {
        self.state().reject_faults.extend(faults);
    }

    /// Revokes every input of `lane` taken so far (a partition moving to another consumer).
    pub fn revoke(&self, lane: u64) {
        for (l, token) in self
            .revocations
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            if *l == lane {
                token.cancel();
            }
        }
    }
}

impl RecordingSource for MemorySource {
    type Receipt = MemoryReceipt;

    async fn next(&self) -> Option<Taken<MemoryReceipt>> {
        let (index, input) = {
            let mut state = self.state();
            let next = state.queue.pop_front()?;
            state.taken.push(next.0);
            next
        };
        let bytes = match &input.item {
            Ok(received) => received.payload.len(),
            Err(_) => 0,
        };
        let revoked = CancellationToken::new();
        self.revocations
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((input.lane, revoked.clone()));
        Some(Taken {
            receipt: MemoryReceipt {
                index,
                lane: input.lane,
                bytes,
                revoked,
            },
            item: input.item,
        })
    }

    async fn ack(&self, receipt: MemoryReceipt) -> Result<(), SourceError> {
        self.state().acknowledged.push(receipt.index);
        Ok(())
    }

    async fn reject(
        &self,
        receipt: &MemoryReceipt,
        letter: &DeadLetter,
        caller_pseudonym: Option<&str>,
    ) -> Result<(), SourceError> {
        let mut state = self.state();
        if let Some(retry) = state.reject_faults.pop_front() {
            return Err(SourceError {
                operation: "dead-lettering",
                input: letter.input.clone(),
                retry,
                message: "an injected fault".into(),
            });
        }
        state.dead_letters.push((
            receipt.index,
            letter.clone(),
            caller_pseudonym.map(str::to_string),
        ));
        Ok(())
    }
}

/// What a [`Faulty`] port does on one call.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fault {
    /// Fails the call with this kind.
    Fail(Retry),
    /// Waits this long, then makes the call (no wait, and no timer, for zero: a call that
    /// passes).
    Delay(Duration),
}

/// A port (store, sink, staging) whose calls fail or wait as scripted, then pass through.
#[derive(Debug)]
pub struct Faulty<P> {
    inner: P,
    faults: Mutex<VecDeque<Fault>>,
    /// Faults by recording id, taking precedence over the queue.
    by_recording: Mutex<Vec<(String, VecDeque<Fault>)>>,
    calls: Mutex<usize>,
}

impl<P> Faulty<P> {
    /// `inner`, without faults yet.
    pub fn new(inner: P) -> Faulty<P> {
        Faulty {
            inner,
            faults: Mutex::new(VecDeque::new()),
            by_recording: Mutex::new(Vec::new()),
            calls: Mutex::new(0),
        }
    }

    /// The next calls, one per entry, meet these faults.
    pub fn script(&self, faults: impl IntoIterator<Item = Fault>) {
        self.faults
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(faults);
    }

    /// The next calls about `recording_id`, one per entry, meet these faults.
    pub fn script_for(&self, recording_id: &str, faults: impl IntoIterator<Item = Fault>) {
        self.by_recording
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((recording_id.to_string(), faults.into_iter().collect()));
    }

    /// Calls made so far.
    pub fn calls(&self) -> usize {
        *self.calls.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The wrapped port.
    pub fn inner(&self) -> &P {
        &self.inner
    }

    /// Applies the fault due for a call about `recording` (if any): `Err` for a failure.
    async fn due(&self, recording: Option<&str>) -> Result<(), Retry> {
        *self.calls.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        let fault = {
            let mut by_recording = self.by_recording.lock().unwrap_or_else(|e| e.into_inner());
            let own = recording.and_then(|id| {
                by_recording
                    .iter_mut()
                    .find(|(r, faults)| r == id && !faults.is_empty())
                    .and_then(|(_, faults)| faults.pop_front())
            });
            own.or_else(|| {
                self.faults
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .pop_front()
            })
        };
        match fault {
            None => Ok(()),
            Some(Fault::Fail(retry)) => Err(retry),
            Some(Fault::Delay(wait)) => {
                if !wait.is_zero() {
                    tokio::time::sleep(wait).await;
                }
                Ok(())
            }
        }
    }
}

fn store_fault(operation: &'static str, key: &str, retry: Retry) -> StoreError {
    StoreError {
        operation,
        key: key.to_string(),
        retry,
        message: format!("an injected {retry} fault"),
    }
}

impl<S: AudioStore> AudioStore for Faulty<S> {
    async fn put(
        &self,
        key: &ObjectKey,
        bytes: &[u8],
        meta: &ObjectMeta,
    ) -> Result<PutOutcome, StoreError> {
        self.due(Some(&meta.recording_id))
            .await
            .map_err(|retry| store_fault("put", key.as_str(), retry))?;
        self.inner.put(key, bytes, meta).await
    }

    async fn replace(
        &self,
        key: &ObjectKey,
        bytes: &[u8],
        meta: &ObjectMeta,
    ) -> Result<(), StoreError> {
        // records follow their audio's put: only the put meets the script
        self.inner.replace(key, bytes, meta).await
    }

    async fn get(&self, key: &ObjectKey) -> Result<Option<Vec<u8>>, StoreError> {
        self.due(None)
            .await
            .map_err(|retry| store_fault("get", key.as_str(), retry))?;
        self.inner.get(key).await
    }

    async fn head(&self, key: &ObjectKey) -> Result<Option<ObjectMeta>, StoreError> {
        self.due(None)
            .await
            .map_err(|retry| store_fault("head", key.as_str(), retry))?;
        self.inner.head(key).await
    }

    async fn mark(&self, key: &ObjectKey) -> Result<(), StoreError> {
        // markers precede the put that the script is about
        self.inner.mark(key).await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectKey>, StoreError> {
        self.due(None)
            .await
            .map_err(|retry| store_fault("list", prefix, retry))?;
        self.inner.list(prefix).await
    }

    async fn list_after(
        &self,
        prefix: &str,
        after: Option<&ObjectKey>,
        limit: usize,
    ) -> Result<Vec<ObjectKey>, StoreError> {
        self.due(None)
            .await
            .map_err(|retry| store_fault("list", prefix, retry))?;
        self.inner.list_after(prefix, after, limit).await
    }

    async fn children(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        self.due(None)
            .await
            .map_err(|retry| store_fault("list", prefix, retry))?;
        self.inner.children(prefix).await
    }

    async fn delete(&self, key: &ObjectKey) -> Result<Deleted, StoreError> {
        self.due(None)
            .await
            .map_err(|retry| store_fault("delete", key.as_str(), retry))?;
        self.inner.delete(key).await
    }

    fn uri(&self, key: &ObjectKey) -> String {
        self.inner.uri(key)
    }
}

impl<S: EventSink> EventSink for Faulty<S> {
    async fn publish(&self, events: &[serde_json::Value]) -> Result<(), SinkError> {
        let recording = events
            .first()
            .and_then(|e| e.get("recording_id"))
            .and_then(|r| r.as_str());
        self.due(recording).await.map_err(|retry| SinkError {
            what: "events",
            retry,
            message: format!("an injected {retry} fault"),
        })?;
        self.inner.publish(events).await
    }

    async fn contact(&self, requests: &[serde_json::Value]) -> Result<(), SinkError> {
        self.inner.contact(requests).await
    }

    async fn transcription(&self, requests: &[serde_json::Value]) -> Result<(), SinkError> {
        self.inner.transcription(requests).await
    }

    async fn retract(&self, stream: Stream, keys: &[String]) -> Result<(), SinkError> {
        self.inner.retract(stream, keys).await
    }
}

/// Staged audio held in memory, by URI.
#[derive(Debug, Default)]
pub struct MemoryStaging {
    objects: Mutex<Vec<(String, Arc<[u8]>)>>,
}

impl MemoryStaging {
    /// Holds `bytes` under `uri`.
    pub fn insert(&self, uri: &str, bytes: &[u8]) {
        self.objects
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((uri.to_string(), Arc::from(bytes)));
    }

    fn get(&self, uri: &str) -> Option<Arc<[u8]>> {
        self.objects
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .find(|(u, _)| u == uri)
            .map(|(_, bytes)| Arc::clone(bytes))
    }
}

impl StagedAudio for MemoryStaging {
    async fn size(&self, reference: &AudioReference, _tenant: &str) -> Result<u64, StoreError> {
        self.get(&reference.uri)
            .map(|bytes| bytes.len() as u64)
            .ok_or_else(|| store_fault("fetch", &reference.uri, Retry::Permanent))
    }

    async fn fetch(
        &self,
        reference: &AudioReference,
        _tenant: &str,
        max_bytes: u64,
    ) -> Result<Vec<u8>, StoreError> {
        let bytes = self
            .get(&reference.uri)
            .ok_or_else(|| store_fault("fetch", &reference.uri, Retry::Permanent))?;
        if bytes.len() as u64 > max_bytes {
            return Err(store_fault("fetch", &reference.uri, Retry::Permanent));
        }
        Ok(bytes.to_vec())
    }
}

impl<S: StagedAudio> StagedAudio for Faulty<S> {
    async fn size(&self, reference: &AudioReference, tenant: &str) -> Result<u64, StoreError> {
        self.due(None)
            .await
            .map_err(|retry| store_fault("fetch", &reference.uri, retry))?;
        self.inner.size(reference, tenant).await
    }

    async fn fetch(
        &self,
        reference: &AudioReference,
        tenant: &str,
        max_bytes: u64,
    ) -> Result<Vec<u8>, StoreError> {
        self.due(None)
            .await
            .map_err(|retry| store_fault("fetch", &reference.uri, retry))?;
        self.inner.fetch(reference, tenant, max_bytes).await
    }
}

impl<P: AudioStore> Faulty<P> {
    /// Every key under `prefix` in the wrapped store, without a fault.
    pub async fn keys(&self, prefix: &str) -> Vec<ObjectKey> {
        self.inner.list(prefix).await.unwrap_or_default()
    }
}
