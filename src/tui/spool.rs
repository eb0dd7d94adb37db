//! Spooling standard input to a bounded temporary file, so that a capture
//! piped into `rtmpscope tui -r -` can be read again like a file (hex view,
//! decoded detail of evicted messages, NDJSON/pcap/media exports).
//!
//! Contract: a [`SpoolReader`] wraps the input reader and copies every byte
//! it reads, before handing it on, to the spool file, until
//! [`MAX_SPOOL_BYTES`] (or the cap given to [`SpoolReader::create`]) are
//! written; after that the spool stops growing (the file holds a prefix of
//! the input, said by [`SpoolState::note`]) and reading goes on unchanged.
//! A write error stops the spool the same way (the error is kept). Bytes a
//! packet parser has consumed are always in the file before it sees them,
//! so any packet the first pass handled can be read again from the file
//! (unless the cap or an error cut the spool before it). The file is
//! created new (mode 0600) in the temporary directory and removed when the
//! [`Spool`] handle is dropped.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Bytes of standard input spooled at most (1 GiB).
pub const MAX_SPOOL_BYTES: u64 = 1 << 30;

/// What the spool holds (shared between the reader and the UI).
#[derive(Debug)]
pub struct SpoolState {
    /// The spool file.
    pub path: PathBuf,
    /// Cap of the spool in bytes.
    pub cap: u64,
    written: AtomicU64,
    full: AtomicBool,
    error: Mutex<Option<String>>,
}

impl SpoolState {
    /// Bytes written to the spool so far.
    pub fn written(&self) -> u64 {
        self.written.load(Ordering::Acquire)
    }

    /// Whether the spool stopped before the end of the input (cap reached
    /// or a write failed): later packets cannot be read again.
    pub fn stopped(&self) -> bool {
        self.full.load(Ordering::Acquire) || self.error().is_some()
    }

    /// The write error that stopped the spool, if any.
    pub fn error(&self) -> Option<String> {
        self.error.lock().ok().and_then(|e| e.clone())
    }

    /// One line for the status bar.
    pub fn note(&self) -> String {
        let cap = size(self.cap);
        if let Some(e) = self.error() {
            format!(
                "stdin spool stopped at {} ({e}): later messages cannot be read again",
                size(self.written())
            )
        } else if self.full.load(Ordering::Acquire) {
            format!("stdin spool full ({cap}): later messages cannot be read again")
        } else {
            format!(
                "stdin spooled to {} ({} of max {cap})",
                self.path.display(),
                size(self.written())
            )
        }
    }

    /// Why a message could not be read again from the spool: `Some` when
    /// the spool stopped (cap or error) before the end of the input.
    pub fn why_missing(&self) -> Option<String> {
        if let Some(e) = self.error() {
            Some(format!("the stdin spool stopped: {e}"))
        } else if self.full.load(Ordering::Acquire) {
            Some(format!("stdin was spooled only up to {}", size(self.cap)))
        } else {
            None
        }
    }
}

/// A size for the status bar (caps in whole GiB read as such).
fn size(n: u64) -> String {
    if n >= 1 << 30 && n.is_multiple_of(1 << 30) {
        format!("{} GiB", n >> 30)
    } else {
        super::summary::human_bytes(n)
    }
}

/// Owner of the spool file: removes it when dropped.
#[derive(Debug)]
pub struct Spool {
    pub state: Arc<SpoolState>,
}

impl Drop for Spool {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.state.path);
    }
}

/// A reader that copies what it reads into the spool file.
pub struct SpoolReader<R> {
    inner: R,
    file: Option<File>,
    state: Arc<SpoolState>,
}

impl<R: Read> SpoolReader<R> {
    /// Creates a new spool file in `dir` (named after the process and the
    /// time) for `inner`, capped at `cap` bytes.
    pub fn create(inner: R, dir: &Path, cap: u64) -> io::Result<(Spool, SpoolReader<R>)> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let path = dir.join(format!(
            "rtmpscope-stdin-{}-{nanos}.pcap",
            std::process::id()
        ));
        let mut o = std::fs::OpenOptions::new();
        o.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            o.mode(0o600);
        }
        let file = o.open(&path)?;
        let state = Arc::new(SpoolState {
            path,
            cap,
            written: AtomicU64::new(0),
            full: AtomicBool::new(false),
            error: Mutex::new(None),
        });
        Ok((
            Spool {
                state: state.clone(),
            },
            SpoolReader {
                inner,
                file: Some(file),
                state,
            },
        ))
    }
}

impl<R: Read> Read for SpoolReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(f) = self.file.as_mut() {
            let written = self.state.written();
            let room = self.state.cap.saturating_sub(written);
            let take = (n as u64).min(room) as usize;
            // Unbuffered: what the parser gets next is in the file already.
            match f.write_all(&buf[..take]) {
                Ok(()) => {
                    self.state
                        .written
                        .store(written + take as u64, Ordering::Release);
                    if take < n {
                        self.state.full.store(true, Ordering::Release);
                        self.file = None;
                    }
                }
                Err(e) => {
                    if let Ok(mut s) = self.state.error.lock() {
                        *s = Some(e.to_string());
                    }
                    self.file = None;
                }
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spool_copies_up_to_the_cap_and_is_removed() {
        let data: Vec<u8> = (0..10_000u32).map(|i| i as u8).collect();
        let dir = std::env::temp_dir();
        let (spool, mut r) = SpoolReader::create(&data[..], &dir, 4_000).unwrap();
        let path = spool.state.path.clone();
        let mut got = Vec::new();
        let mut buf = [0u8; 1500];
        loop {
            let n = r.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        // Reading is unchanged; the file holds the first 4000 bytes.
        assert_eq!(got, data);
        assert_eq!(std::fs::read(&path).unwrap(), &data[..4000]);
        assert_eq!(spool.state.written(), 4000);
        assert!(spool.state.stopped());
        assert!(
            spool.state.note().contains("full"),
            "{}",
            spool.state.note()
        );
        assert!(spool.state.why_missing().is_some());
        drop(spool);
        assert!(!path.exists());
    }

    #[test]
    fn spool_below_the_cap_is_complete() {
        let data = vec![7u8; 3000];
        let (spool, mut r) = SpoolReader::create(&data[..], &std::env::temp_dir(), 4_000).unwrap();
        let mut got = Vec::new();
        r.read_to_end(&mut got).unwrap();
        assert_eq!(std::fs::read(&spool.state.path).unwrap(), data);
        assert!(!spool.state.stopped());
        assert!(spool.state.why_missing().is_none());
        assert!(spool.state.note().starts_with("stdin spooled to "));
    }
}
