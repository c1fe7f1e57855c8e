//! The bytes of a recording: a file, a buffer or a stream, with the input-size limit enforced
//! as they are read, and the first bytes kept for recognising the format.

use std::io::{self, Read, Seek, SeekFrom};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Bytes read to recognise a format before choosing its reader.
pub(crate) const SNIFF_BYTES: usize = 4096;

/// Something to read a recording from.
pub(crate) trait ReadSeek: Read + Seek + Send + Sync {}
impl<T: Read + Seek + Send + Sync> ReadSeek for T {}

/// A stream that cannot seek, made to look like one that can (and says it cannot).
struct Forward<R>(R);

impl<R: Read> Read for Forward<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl<R> Seek for Forward<R> {
    fn seek(&mut self, _: SeekFrom) -> io::Result<u64> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "the input cannot seek",
        ))
    }
}

/// The input of one recording.
pub(crate) struct Input {
    inner: Box<dyn ReadSeek>,
    seekable: bool,
    len: Option<u64>,
    /// Bytes already read from a stream that cannot seek, served again before the rest.
    replay: Vec<u8>,
    replayed: usize,
    read: u64,
    max_bytes: u64,
    over_limit: Arc<AtomicBool>,
}

impl std::fmt::Debug for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Input")
            .field("seekable", &self.seekable)
            .field("len", &self.len)
            .field("read", &self.read)
            .finish_non_exhaustive()
    }
}

impl Input {
    /// A seekable input of known length.
    pub(crate) fn seekable(inner: Box<dyn ReadSeek>, len: u64, max_bytes: u64) -> Input {
        Input::new(inner, true, Some(len), max_bytes)
    }

    /// A forward-only stream.
    pub(crate) fn stream(inner: impl Read + Send + Sync + 'static, max_bytes: u64) -> Input {
        Input::new(Box::new(Forward(inner)), false, None, max_bytes)
    }

    fn new(inner: Box<dyn ReadSeek>, seekable: bool, len: Option<u64>, max_bytes: u64) -> Input {
        Input {
            inner,
            seekable,
            len,
            replay: Vec::new(),
            replayed: 0,
            read: 0,
            max_bytes,
            over_limit: Arc::new(AtomicBool::new(false)),
        }
    }

    /// The first `len` bytes (fewer if the input is shorter), without consuming them: a
    /// seekable input is rewound, a stream's bytes are kept to be read again. Only before the
    /// first real read.
    pub(crate) fn peek(&mut self, len: usize) -> io::Result<Vec<u8>> {
        if self.seekable {
            self.inner.seek(SeekFrom::Start(0))?;
            let mut head = vec![0; len];
            let filled = read_full(&mut *self.inner, &mut head)?;
            head.truncate(filled);
            self.inner.seek(SeekFrom::Start(0))?;
            return Ok(head);
        }
        if self.replay.len() < len {
            let have = self.replay.len();
            self.replay.resize(len, 0);
            let filled = read_full(&mut *self.inner, &mut self.replay[have..]);
            let filled = match filled {
                Ok(filled) => filled,
                Err(e) => {
                    self.replay.truncate(have);
                    return Err(e);
                }
            };
            self.replay.truncate(have + filled);
            self.read += filled as u64;
            if self.read > self.max_bytes {
                self.over_limit.store(true, Ordering::Relaxed);
                return Err(io::Error::other("the input is over its size limit"));
            }
        }
        Ok(self.replay[..len.min(self.replay.len())].to_vec())
    }

    pub(crate) fn seekable_input(&self) -> bool {
        self.seekable
    }

    pub(crate) fn byte_len(&self) -> Option<u64> {
        self.len
    }

    /// Set once more bytes were offered than the limit allows.
    pub(crate) fn over_limit_flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.over_limit)
    }
}

/// Fills `buf` unless the input ends first; returns the bytes read.
pub(crate) fn read_full(inner: &mut (impl Read + ?Sized), buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match inner.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

impl Read for Input {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.replayed < self.replay.len() {
            let n = buf.len().min(self.replay.len() - self.replayed);
            buf[..n].copy_from_slice(&self.replay[self.replayed..self.replayed + n]);
            self.replayed += n;
            return Ok(n);
        }
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        // a seekable input's length was checked before opening, and seeking makes counts moot
        if !self.seekable && self.read > self.max_bytes {
            self.over_limit.store(true, Ordering::Relaxed);
            return Err(io::Error::other("the input is over its size limit"));
        }
        Ok(n)
    }
}

impl Seek for Input {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        // only seekable inputs get here with effect; the replay buffer is for streams
        self.inner.seek(to)
    }
}
