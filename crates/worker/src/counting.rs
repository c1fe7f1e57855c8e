//! [`Counted`]: a store (or staging port) that reports every request and its result to an
//! observer, as a wrapper, so the adapters stay free of telemetry.

use callscore_pipeline::{
    AudioReference, AudioStore, Deleted, ObjectKey, ObjectMeta, PutOutcome, Retry, StagedAudio,
    StoreError,
};

use crate::observer::{Observer, StoreOperation, StoreResult};

/// `inner`, with every request reported to `observer`.
#[derive(Debug, Clone)]
pub struct Counted<S, O> {
    inner: S,
    observer: O,
}

impl<S, O: Observer> Counted<S, O> {
    /// Wraps `inner`.
    pub fn new(inner: S, observer: O) -> Counted<S, O> {
        Counted { inner, observer }
    }

    /// The wrapped store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    fn count<T>(&self, operation: StoreOperation, result: &Result<T, StoreError>, already: bool) {
        let counted = match result {
            Ok(_) if already => StoreResult::AlreadyStored,
            Ok(_) => StoreResult::Ok,
            Err(e) => match e.retry {
                Retry::Transient => StoreResult::TransientError,
                Retry::Blocked => StoreResult::BlockedError,
                Retry::Permanent | Retry::Fatal => StoreResult::PermanentError,
            },
        };
        self.observer.store_request(operation, counted);
    }
}

impl<S: AudioStore, O: Observer> AudioStore for Counted<S, O> {
    async fn put(
        &self,
        key: &ObjectKey,
        bytes: &[u8],
        meta: &ObjectMeta,
    ) -> Result<PutOutcome, StoreError> {
        let result = self.inner.put(key, bytes, meta).await;
        let already = matches!(result, Ok(PutOutcome::AlreadyStored));
        self.count(StoreOperation::Put, &result, already);
        result
    }

    async fn replace(
        &self,
        key: &ObjectKey,
        bytes: &[u8],
        meta: &ObjectMeta,
    ) -> Result<(), StoreError> {
        let result = self.inner.replace(key, bytes, meta).await;
        self.count(StoreOperation::Put, &result, false);
        result
    }

    async fn get(&self, key: &ObjectKey) -> Result<Option<Vec<u8>>, StoreError> {
        let result = self.inner.get(key).await;
        self.count(StoreOperation::Get, &result, false);
        result
    }

    async fn head(&self, key: &ObjectKey) -> Result<Option<ObjectMeta>, StoreError> {
        let result = self.inner.head(key).await;
        self.count(StoreOperation::Head, &result, false);
        result
    }

    async fn mark(&self, key: &ObjectKey) -> Result<(), StoreError> {
        let result = self.inner.mark(key).await;
        self.count(StoreOperation::Mark, &result, false);
        result
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectKey>, StoreError> {
        let result = self.inner.list(prefix).await;
        self.count(StoreOperation::List, &result, false);
        result
    }

    async fn list_after(
        &self,
        prefix: &str,
        after: Option<&ObjectKey>,
        limit: usize,
    ) -> Result<Vec<ObjectKey>, StoreError> {
        let result = self.inner.list_after(prefix, after, limit).await;
        self.count(StoreOperation::List, &result, false);
        result
    }

    async fn children(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let result = self.inner.children(prefix).await;
        self.count(StoreOperation::List, &result, false);
        result
    }

    async fn delete(&self, key: &ObjectKey) -> Result<Deleted, StoreError> {
        let result = self.inner.delete(key).await;
        self.count(StoreOperation::Delete, &result, false);
        result
    }

    fn uri(&self, key: &ObjectKey) -> String {
        self.inner.uri(key)
    }
}

impl<S: StagedAudio, O: Observer> StagedAudio for Counted<S, O> {
    async fn size(&self, reference: &AudioReference, tenant: &str) -> Result<u64, StoreError> {
        let result = self.inner.size(reference, tenant).await;
        self.count(StoreOperation::Head, &result, false);
        result
    }

    async fn fetch(
        &self,
        reference: &AudioReference,
        tenant: &str,
        max_bytes: u64,
    ) -> Result<Vec<u8>, StoreError> {
        let result = self.inner.fetch(reference, tenant, max_bytes).await;
        self.count(StoreOperation::Fetch, &result, false);
        result
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use callscore_pipeline::MemoryStore;

    use super::*;

    #[derive(Default)]
    struct Requests(Mutex<Vec<(StoreOperation, StoreResult)>>);

    impl Observer for Requests {
        fn store_request(&self, operation: StoreOperation, result: StoreResult) {
            self.0
                .lock()
                .expect("not poisoned")
                .push((operation, result));
        }
    }

    #[test]
    fn every_request_is_counted_with_its_result() {
        let requests = std::sync::Arc::new(Requests::default());
        let store = Counted::new(MemoryStore::default(), std::sync::Arc::clone(&requests));
        let key = ObjectKey::parse("t/respondent/withheld/r1/audio.wav").expect("a key");
        let meta = ObjectMeta {
            tenant: "t".into(),
            recording_id: "r1".into(),
            retention_class: callscore_survey::RetentionClass::Respondent,
            expires_on: None,
            sha256: callscore_pipeline::hex(&<sha2::Sha256 as sha2::Digest>::digest(b"a")),
            content_type: "audio/wav".into(),
            size: 1,
        };
        tokio_test_block_on(async {
            store.put(&key, b"a", &meta).await.expect("put");
            store.put(&key, b"a", &meta).await.expect("put again");
            let other = ObjectMeta {
                sha256: "0".repeat(64),
                ..meta.clone()
            };
            store.put(&key, b"b", &other).await.expect_err("conflict");
            store.head(&key).await.expect("head");
            store.list("t/").await.expect("list");
            store.delete(&key).await.expect("delete");
        });
        assert_eq!(
            *requests.0.lock().expect("not poisoned"),
            vec![
                (StoreOperation::Put, StoreResult::Ok),
                (StoreOperation::Put, StoreResult::AlreadyStored),
                (StoreOperation::Put, StoreResult::PermanentError),
                (StoreOperation::Head, StoreResult::Ok),
                (StoreOperation::List, StoreResult::Ok),
                (StoreOperation::Delete, StoreResult::Ok),
            ]
        );
    }

    fn tokio_test_block_on<F: std::future::Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime")
            .block_on(future)
    }
}
