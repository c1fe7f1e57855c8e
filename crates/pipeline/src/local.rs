//! The embedded adapters of `callscore process`: a directory as the audio store and an NDJSON
//! file (or standard output) as the event sink.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use jiff::civil::Date;
use sha2::{Digest, Sha256};

use crate::ports::{
    AudioStore, Deleted, EventSink, ObjectKey, ObjectMeta, PutOutcome, Retry, SinkError,
    StoreError, Stream,
};
use crate::pseudonym::hex;

/// Suffix of the file holding an object's metadata next to it.
const META_SUFFIX: &str = ".meta.json";

/// An audio store in a local directory, with the same key layout and retention data as the
/// S3 store (`ROOT/TENANT/CLASS/CALLER/RECORDING/audio.EXT`, `record.json` and the markers of
/// [`crate::layout`]), and beside each object an `OBJECT.meta.json` with its tenant, retention
/// class, expiry day and checksum.
#[derive(Debug)]
pub struct LocalStore {
    root: PathBuf,
}

impl LocalStore {
    /// A store rooted at `root`, created if missing.
    pub fn open(root: &Path) -> io::Result<LocalStore> {
        fs::create_dir_all(root)?;
        Ok(LocalStore {
            root: root.canonicalize()?,
        })
    }

    /// The directory the store lives in.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, key: &ObjectKey) -> PathBuf {
        self.root.join(key.as_str())
    }

    /// The key of an object of this store from its URI (as [`AudioStore::uri`] gives it);
    /// `None` for a URI that names anything else.
    pub fn key_of(&self, uri: &str) -> Option<ObjectKey> {
        let path = Path::new(uri.strip_prefix("file://")?);
        ObjectKey::parse(path.strip_prefix(&self.root).ok()?.to_str()?)
    }

    fn put_now(
        &self,
        key: &ObjectKey,
        bytes: &[u8],
        meta: &ObjectMeta,
    ) -> Result<PutOutcome, StoreError> {
        let path = self.path(key);
        match fs::read(&path) {
            Ok(existing) if hex(&Sha256::digest(&existing)) == meta.sha256 => {
                return Ok(PutOutcome::AlreadyStored);
            }
            Ok(_) => {
                return Err(StoreError::conflict(key));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(failed("put", key.as_str(), e)),
        }
        self.replace_now(key, bytes, meta)?;
        Ok(PutOutcome::Created)
    }

    fn replace_now(
        &self,
        key: &ObjectKey,
        bytes: &[u8],
        meta: &ObjectMeta,
    ) -> Result<(), StoreError> {
        let path = self.path(key);
        let dir = path.parent().expect("object keys have a directory part");
        fs::create_dir_all(dir).map_err(|e| failed("put", key.as_str(), e))?;
        let meta_json = serde_json::to_vec_pretty(meta).expect("object metadata serializes");
        // metadata first, then the object: an object is never visible without its retention
        // data; both by rename, so neither is ever seen half-written
        write_atomically(&meta_path(&path), &meta_json)
            .map_err(|e| failed("put", key.as_str(), e))?;
        write_atomically(&path, bytes).map_err(|e| failed("put", key.as_str(), e))
    }

    fn get_now(&self, key: &ObjectKey) -> Result<Option<Vec<u8>>, StoreError> {
        match fs::read(self.path(key)) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(failed("get", key.as_str(), e)),
        }
    }

    fn head_now(&self, key: &ObjectKey) -> Result<Option<ObjectMeta>, StoreError> {
        let path = self.path(key);
        if !path.exists() {
            return Ok(None);
        }
        let text = fs::read(meta_path(&path)).map_err(|e| failed("head", key.as_str(), e))?;
        let stored: StoredMeta = serde_json::from_slice(&text).map_err(|e| StoreError {
            operation: "head",
            key: key.to_string(),
            retry: Retry::Permanent,
            message: format!("unreadable metadata: {e}"),
        })?;
        Ok(Some(stored.into_meta()))
    }

    fn mark_now(&self, key: &ObjectKey) -> Result<(), StoreError> {
        let path = self.path(key);
        let dir = path.parent().expect("marker keys have a directory part");
        fs::create_dir_all(dir).map_err(|e| failed("mark", key.as_str(), e))?;
        if path.exists() {
            return Ok(());
        }
        write_atomically(&path, b"").map_err(|e| failed("mark", key.as_str(), e))
    }

    fn list_now(&self, prefix: &str) -> Result<Vec<ObjectKey>, StoreError> {
        let mut keys = Vec::new();
        // start from the deepest directory the prefix names, not the root
        let dir_part = prefix.rfind('/').map_or("", |at| &prefix[..at]);
        let start = self.root.join(dir_part);
        if start.is_dir() {
            walk(&self.root, &start, &mut keys).map_err(|e| failed("list", prefix, e))?;
        }
        keys.retain(|k| k.as_str().starts_with(prefix));
        keys.sort();
        Ok(keys)
    }

    fn children_now(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let dir = self.root.join(prefix.trim_end_matches('/'));
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(failed("list", prefix, e)),
        };
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| failed("list", prefix, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            // folders are tenants, callers and recordings, whatever their names
            let file = entry.file_type().is_ok_and(|t| t.is_file());
            if !file || !name.ends_with(META_SUFFIX) && !is_temporary(&name) {
                names.push(name);
            }
        }
        names.sort();
        Ok(names)
    }

    fn delete_now(&self, key: &ObjectKey) -> Result<Deleted, StoreError> {
        let path = self.path(key);
        let mut deleted = Deleted::default();
        for (file, counts) in [(path.clone(), true), (meta_path(&path), false)] {
            match fs::remove_file(&file) {
                Ok(()) if counts => deleted.versions = 1,
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(failed("delete", key.as_str(), e)),
            }
        }
        // empty directories go with their last object, so the store holds no trace of a
        // caller whose data is gone
        let mut dir = path.parent();
        while let Some(d) = dir {
            if d == self.root {
                break;
            }
            remove_leftovers(d);
            if fs::remove_dir(d).is_err() {
                break;
            }
            dir = d.parent();
        }
        Ok(deleted)
    }
}

/// A local file system failure: worth retrying (a full disk, a busy file).
fn failed(operation: &'static str, key: &str, e: io::Error) -> StoreError {
    StoreError {
        operation,
        key: key.to_string(),
        retry: Retry::Transient,
        message: e.to_string(),
    }
}

impl AudioStore for LocalStore {
    async fn put(
        &self,
        key: &ObjectKey,
        bytes: &[u8],
        meta: &ObjectMeta,
    ) -> Result<PutOutcome, StoreError> {
        self.put_now(key, bytes, meta)
    }

    async fn replace(
        &self,
        key: &ObjectKey,
        bytes: &[u8],
        meta: &ObjectMeta,
    ) -> Result<(), StoreError> {
        self.replace_now(key, bytes, meta)
    }

    async fn get(&self, key: &ObjectKey) -> Result<Option<Vec<u8>>, StoreError> {
        self.get_now(key)
    }

    async fn head(&self, key: &ObjectKey) -> Result<Option<ObjectMeta>, StoreError> {
        self.head_now(key)
    }

    async fn mark(&self, key: &ObjectKey) -> Result<(), StoreError> {
        self.mark_now(key)
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectKey>, StoreError> {
        self.list_now(prefix)
    }

    async fn list_after(
        &self,
        prefix: &str,
        after: Option<&ObjectKey>,
        limit: usize,
    ) -> Result<Vec<ObjectKey>, StoreError> {
        let mut keys = self.list_now(prefix)?;
        if let Some(after) = after {
            keys.retain(|k| k > after);
        }
        keys.truncate(limit);
        Ok(keys)
    }

    async fn children(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        self.children_now(prefix)
    }

    async fn delete(&self, key: &ObjectKey) -> Result<Deleted, StoreError> {
        self.delete_now(key)
    }

    fn uri(&self, key: &ObjectKey) -> String {
        format!("file://{}", self.path(key).display())
    }
}

/// The metadata file as written; `retention_class` comes back as a string.
#[derive(Debug, serde::Deserialize)]
struct StoredMeta {
    tenant: String,
    recording_id: String,
    retention_class: String,
    expires_on: Option<jiff::civil::Date>,
    sha256: String,
    content_type: String,
    size: u64,
}

impl StoredMeta {
    fn into_meta(self) -> ObjectMeta {
        // anything unknown is kept: the most careful reading of a damaged record
        let class = crate::layout::class_of(&self.retention_class)
            .unwrap_or(callscore_survey::RetentionClass::LegalHold);
        ObjectMeta {
            tenant: self.tenant,
            recording_id: self.recording_id,
            retention_class: class,
            expires_on: self.expires_on,
            sha256: self.sha256,
            content_type: self.content_type,
            size: self.size,
        }
    }
}

fn meta_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(META_SUFFIX);
    PathBuf::from(name)
}

/// The suffix of a write's temporary file, before the process id and the write's number.
const TEMPORARY: &str = ".tmp-";

/// Whether a file name is that of a write's temporary file (`NAME.tmp-PID-N`): what a write
/// that stopped half-way leaves, never an object. Only the end of the name counts, since
/// tenants, callers and recording ids may hold `.tmp-` too.
fn is_temporary(name: &str) -> bool {
    name.rsplit_once(TEMPORARY)
        .and_then(|(_, suffix)| suffix.split_once('-'))
        .is_some_and(|(pid, n)| {
            [pid, n]
                .iter()
                .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()))
        })
}

/// A path's last component, as text.
fn entry_name(path: &Path) -> String {
    path.file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// In a folder that holds nothing but temporary files (a write killed half-way leaves one),
/// removes them: partial copies of objects that are gone, which no listing shows.
fn remove_leftovers(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let entries: Vec<_> = entries.filter_map(Result::ok).collect();
    let only_leftovers = entries.iter().all(|entry| {
        entry.file_type().is_ok_and(|t| t.is_file())
            && is_temporary(&entry.file_name().to_string_lossy())
    });
    if only_leftovers {
        for entry in entries {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Writes `bytes` to a temporary file beside `path`, syncs it and renames it into place.
fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    // unique per process and per write, so two workers never share a temporary file
    static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(format!("{TEMPORARY}{}-{n}", std::process::id()));
    let temporary = PathBuf::from(temporary);
    let written = File::create(&temporary).and_then(|mut file| {
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&temporary, path)
    });
    if written.is_err() {
        // a partial copy of the object must not outlive the write
        let _ = fs::remove_file(&temporary);
    }
    written
}

fn walk(root: &Path, dir: &Path, keys: &mut Vec<ObjectKey>) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            walk(root, &path, keys)?;
            continue;
        }
        let name = entry_name(&path);
        if name.ends_with(META_SUFFIX) || is_temporary(&name) {
            continue;
        }
        if let Some(key) = path
            .strip_prefix(root)
            .ok()
            .and_then(|p| p.to_str())
            .and_then(ObjectKey::parse)
        {
            keys.push(key);
        }
    }
    Ok(())
}

/// Writes events and contact requests as newline-delimited JSON, one object per line, flushed
/// per recording. Retracting rewrites a file without the retracted lines (when the events go
/// to a file it knows; events written to standard output are out of reach, and say so).
#[derive(Debug)]
pub struct NdjsonSink<E> {
    events: Mutex<E>,
    events_file: Option<PathBuf>,
    contacts: Option<PathBuf>,
    transcriptions: Option<PathBuf>,
    transcripts: Option<PathBuf>,
    lock: Mutex<()>,
}

impl<E: Write + Send> NdjsonSink<E> {
    /// A sink writing events to `events`, without a contacts file.
    pub fn new(events: E) -> NdjsonSink<E> {
        NdjsonSink {
            events: Mutex::new(events),
            events_file: None,
            contacts: None,
            transcriptions: None,
            transcripts: None,
            lock: Mutex::new(()),
        }
    }

    /// Contact requests go to the file `path` (appended).
    pub fn with_contacts(mut self, path: PathBuf) -> NdjsonSink<E> {
        self.contacts = Some(path);
        self
    }

    /// Transcription requests go to the file `requests` (appended); a transcriber writes its
    /// transcripts to `transcripts`. Retractions rewrite both.
    pub fn with_transcriptions(mut self, requests: PathBuf, transcripts: PathBuf) -> NdjsonSink<E> {
        self.transcriptions = Some(requests);
        self.transcripts = Some(transcripts);
        self
    }

    /// The events are in the file `path`, which retractions rewrite; they are appended to it
    /// rather than written to the writer given to [`NdjsonSink::new`].
    pub fn with_events_file(mut self, path: PathBuf) -> NdjsonSink<E> {
        self.events_file = Some(path);
        self
    }

    /// Whether retracted events can be taken out of where they were written.
    pub fn retracts_events(&self) -> bool {
        self.events_file.is_some()
    }
}

impl<E> NdjsonSink<E> {
    fn append(
        &self,
        path: Option<&PathBuf>,
        what: &'static str,
        values: &[serde_json::Value],
    ) -> Result<(), SinkError> {
        let path = path.ok_or_else(|| SinkError {
            what,
            retry: Retry::Blocked,
            message: format!("no file for {what} is configured"),
        })?;
        let text = lines_of(values);
        let _held = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        File::options()
            .create(true)
            .append(true)
            .open(path)
            .and_then(|mut file| file.write_all(&text).and_then(|()| file.sync_data()))
            .map_err(|e| sink_failed(what, &e))
    }
}

fn lines_of(values: &[serde_json::Value]) -> Vec<u8> {
    let mut text = Vec::new();
    for value in values {
        serde_json::to_writer(&mut text, value).expect("JSON values serialize");
        text.push(b'\n');
    }
    text
}

fn sink_failed(what: &'static str, e: &io::Error) -> SinkError {
    SinkError {
        what,
        retry: Retry::Transient,
        message: e.to_string(),
    }
}

/// Rewrites the NDJSON file at `path` without the lines whose `field` is one of `keys`.
fn rewrite_without(path: &Path, field: &str, keys: &[String]) -> io::Result<()> {
    rewrite(path, |line| {
        match serde_json::from_str::<serde_json::Value>(line) {
            Ok(value) => !value
                .get(field)
                .and_then(|k| k.as_str())
                .is_some_and(|key| keys.iter().any(|k| k == key)),
            // a damaged line (a write cut short by a full disk, the next one glued to it) that
            // names a retracted key goes too: nobody can read it, and it may hold a number
            Err(_) => !keys.iter().any(|key| line.contains(&format!("\"{key}\""))),
        }
    })
}

/// Rewrites the NDJSON file at `path` with only the lines `keep` keeps; a missing file is
/// left missing.
fn rewrite(path: &Path, mut keep: impl FnMut(&str) -> bool) -> io::Result<()> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    let mut kept = String::with_capacity(text.len());
    for line in text.lines() {
        if keep(line) {
            kept.push_str(line);
            kept.push('\n');
        }
    }
    write_atomically(path, kept.as_bytes())
}

/// The contact requests [`NdjsonSink::expire_contacts`] took out, per tenant, and the lines it
/// could not read and kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExpiredContacts {
    /// Requests whose expiry day had passed, per tenant.
    pub expired: BTreeMap<String, u64>,
    /// Lines that are not a contact request with a tenant and an expiry day: kept, to be
    /// looked at (they may hold a number).
    pub unreadable: u64,
}

impl<E> NdjsonSink<E> {
    /// Takes the contact requests of `tenants` (every tenant when empty) whose expiry day is
    /// before `today` out of the contacts file: each carries a caller's number, kept for its
    /// consumer only until then. With `dry_run`, only counts them. Without a contacts file,
    /// there is nothing to do.
    pub fn expire_contacts(
        &self,
        tenants: &[String],
        today: Date,
        dry_run: bool,
    ) -> io::Result<ExpiredContacts> {
        #[derive(serde::Deserialize)]
        struct Dated {
            tenant: String,
            expires_on: Date,
        }
        let mut found = ExpiredContacts::default();
        let Some(path) = &self.contacts else {
            return Ok(found);
        };
        let _held = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        let mut judge = |line: &str| match serde_json::from_str::<Dated>(line) {
            Ok(dated)
                if dated.expires_on < today
                    && (tenants.is_empty() || tenants.contains(&dated.tenant)) =>
            {
                *found.expired.entry(dated.tenant).or_default() += 1;
                false
            }
            Ok(_) => true,
            Err(_) => {
                found.unreadable += u64::from(!line.trim().is_empty());
                true
            }
        };
        if dry_run {
            match fs::read_to_string(path) {
                Ok(text) => text.lines().for_each(|line| {
                    judge(line);
                }),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        } else {
            rewrite(path, judge)?;
        }
        Ok(found)
    }
}

impl<E: Write + Send> EventSink for NdjsonSink<E> {
    async fn publish(&self, events: &[serde_json::Value]) -> Result<(), SinkError> {
        if let Some(path) = &self.events_file {
            // a retraction replaces the file: appending through a handle opened before it
            // would write to the replaced one, and the events would be lost
            return self.append(Some(path), "events", events);
        }
        let text = lines_of(events);
        let _held = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = self.events.lock().unwrap_or_else(|e| e.into_inner());
        out.write_all(&text)
            .and_then(|()| out.flush())
            .map_err(|e| sink_failed("events", &e))
    }

    async fn contact(&self, requests: &[serde_json::Value]) -> Result<(), SinkError> {
        self.append(self.contacts.as_ref(), "contact requests", requests)
    }

    async fn transcription(&self, requests: &[serde_json::Value]) -> Result<(), SinkError> {
        self.append(
            self.transcriptions.as_ref(),
            "transcription requests",
            requests,
        )
    }

    async fn retract(&self, stream: Stream, keys: &[String]) -> Result<(), SinkError> {
        let (paths, field) = match stream {
            Stream::Scores => (vec![self.events_file.as_ref()], "event_id"),
            Stream::Contacts => (vec![self.contacts.as_ref()], "request_id"),
            Stream::Transcriptions => (
                vec![self.transcriptions.as_ref(), self.transcripts.as_ref()],
                "request_id",
            ),
        };
        let _held = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        if stream == Stream::Scores {
            // what the writer holds goes first, so the rewrite sees every line
            let mut out = self.events.lock().unwrap_or_else(|e| e.into_inner());
            out.flush().map_err(|e| sink_failed("events", &e))?;
        }
        // a stream written to standard output has no file: nothing here to take them out of
        for path in paths.into_iter().flatten() {
            rewrite_without(path, field, keys).map_err(|e| sink_failed("retraction", &e))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_uri_gives_back_its_key_and_nothing_else_does() {
        let dir = tempfile::tempdir().expect("a directory");
        let store = LocalStore::open(dir.path()).expect("a store");
        let key = ObjectKey::parse("acme/respondent/ps-1/r1/comment-why.opus").expect("a key");
        assert_eq!(store.key_of(&store.uri(&key)), Some(key));
        let outside = format!("file://{}/../other/x.wav", dir.path().display());
        assert_eq!(store.key_of(&outside), None);
        assert_eq!(store.key_of("s3://audio/acme/x.wav"), None);
        assert_eq!(store.key_of("file:///elsewhere/x.wav"), None);
    }

    /// Stores five bytes of audio of acme under `key` (`…/RECORDING/FILE`).
    fn put_audio(store: &LocalStore, key: &ObjectKey) {
        let recording = key.as_str().rsplit('/').nth(1).unwrap_or_default();
        let meta = ObjectMeta {
            tenant: "acme".into(),
            recording_id: recording.into(),
            retention_class: callscore_survey::RetentionClass::Respondent,
            expires_on: None,
            sha256: crate::hex(&Sha256::digest(b"audio")),
            content_type: "audio/wav".into(),
            size: 5,
        };
        pollster::block_on(store.put(key, b"audio", &meta)).expect("stored");
    }

    #[test]
    fn only_the_temporary_files_of_writes_are_left_out_of_listings() {
        // a store and a recording whose names hold `.tmp-` are listed like any other: the
        // sweep and erasure find them only through listings
        let dir = tempfile::tempdir().expect("a directory");
        let root = dir.path().join("data.tmp-1");
        let store = LocalStore::open(&root).expect("a store");
        let audio = ObjectKey::parse("acme/respondent/ps-1/call.tmp-7-2/audio.wav").expect("a key");
        put_audio(&store, &audio);
        // a write that stopped half-way leaves its temporary file behind
        std::fs::write(
            root.join("acme/respondent/ps-1/call.tmp-7-2/record.json.tmp-41-3"),
            "{",
        )
        .expect("written");
        let listed = pollster::block_on(store.list("acme/")).expect("listed");
        assert_eq!(listed, vec![audio]);
        let children = pollster::block_on(store.children("acme/respondent/ps-1/call.tmp-7-2/"))
            .expect("listed");
        assert_eq!(children, vec!["audio.wav".to_string()]);
        let recordings =
            pollster::block_on(store.children("acme/respondent/ps-1/")).expect("listed");
        assert_eq!(recordings, vec!["call.tmp-7-2".to_string()]);
    }

    #[test]
    fn a_write_that_fails_leaves_no_temporary_copy_behind() {
        let dir = tempfile::tempdir().expect("a directory");
        // the rename fails: a non-empty folder is in the way
        let path = dir.path().join("record.json");
        std::fs::create_dir_all(path.join("x")).expect("a folder");
        assert!(write_atomically(&path, b"{\"caller\": \"ps-1\"}").is_err());
        let left: Vec<String> = std::fs::read_dir(dir.path())
            .expect("read")
            .map(|e| entry_name(&e.expect("an entry").path()))
            .collect();
        assert_eq!(left, vec!["record.json".to_string()], "{left:?}");
    }

    #[test]
    fn deleting_a_folders_last_object_takes_what_stopped_writes_left_in_it() {
        let dir = tempfile::tempdir().expect("a directory");
        let store = LocalStore::open(dir.path()).expect("a store");
        let audio = ObjectKey::parse("acme/respondent/ps-1/r1/audio.wav").expect("a key");
        put_audio(&store, &audio);
        // a process killed while writing the record left its temporary file: a partial copy
        // of the record, which no listing shows
        let folder = dir.path().join("acme/respondent/ps-1/r1");
        std::fs::write(folder.join("record.json.tmp-41-3"), "{\"events\"").expect("written");
        pollster::block_on(store.delete(&audio)).expect("deleted");
        assert!(
            !dir.path().join("acme/respondent/ps-1").exists(),
            "no trace of the caller is left"
        );
    }

    #[test]
    fn a_retraction_takes_a_damaged_line_that_names_what_it_retracts() {
        let dir = tempfile::tempdir().expect("a directory");
        let path = dir.path().join("contact-requests.ndjson");
        let lines = [
            r#"{"request_id": "c-1", "caller_number": "+31205550001"}"#,
            // a write cut short, the retry's whole line glued to it
            r#"{"request_id": "c-2", "caller_num{"request_id": "c-2", "caller_number": "+31205550002"}"#,
            r#"{"request_id": "c-3", "caller_number": "+31205550003"}"#,
            r#"{"request_id": "c-4", "caller_num"#,
        ];
        std::fs::write(&path, lines.join("\n") + "\n").expect("written");
        rewrite_without(&path, "request_id", &["c-1".into(), "c-2".into()]).expect("rewritten");
        let left = std::fs::read_to_string(&path).expect("read");
        assert_eq!(left, format!("{}\n{}\n", lines[2], lines[3]));
    }

    #[test]
    fn expired_contact_requests_leave_the_file_and_an_unreadable_line_stays() {
        let dir = tempfile::tempdir().expect("a directory");
        let path = dir.path().join("contact-requests.ndjson");
        let lines = [
            r#"{"request_id": "c-1", "tenant": "acme", "expires_on": "2026-12-01", "caller_number": "+31205550001"}"#,
            r#"{"request_id": "c-2", "tenant": "acme", "expires_on": "2026-12-02", "caller_number": "+31205550002"}"#,
            r#"{"request_id": "c-3", "tenant": "globex", "expires_on": "2026-11-30", "caller_number": "+31205550003"}"#,
            r#"{"request_id": "c-4", "caller_num"#,
        ];
        std::fs::write(&path, lines.join("\n") + "\n").expect("written");
        let sink = NdjsonSink::new(Vec::new()).with_contacts(path.clone());
        let today = jiff::civil::date(2026, 12, 2);
        let expected = ExpiredContacts {
            expired: BTreeMap::from([("acme".to_string(), 1), ("globex".to_string(), 1)]),
            unreadable: 1,
        };
        let only_acme = sink
            .expire_contacts(&["acme".to_string()], today, true)
            .expect("counted");
        assert_eq!(
            only_acme.expired,
            BTreeMap::from([("acme".to_string(), 1)]),
            "only the tenant asked for"
        );
        assert_eq!(
            sink.expire_contacts(&[], today, true).expect("counted"),
            expected
        );
        assert_eq!(
            std::fs::read_to_string(&path).expect("read"),
            lines.join("\n") + "\n",
            "a dry run changes nothing"
        );
        assert_eq!(
            sink.expire_contacts(&[], today, false).expect("expired"),
            expected
        );
        assert_eq!(
            std::fs::read_to_string(&path).expect("read"),
            format!("{}\n{}\n", lines[1], lines[3])
        );
    }
}
