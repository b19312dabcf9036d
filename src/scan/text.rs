//! The snapshot text a scan parses: borrowed, owned, or a snapshot file mapped into memory.
//!
//! A scan reads the text once (into the Rego values) and drops it. Reading a file copies it
//! into fresh heap pages, which the kernel must first zero: on the benchmark machine that
//! first touch was ~8% of a 100k-user scan's CPU, and a 1M-user snapshot is 2 GB. A mapping
//! uses the page cache's pages as they are: no copy, no zeroing, and nothing to free.
//!
//! The file is opened with the checks of `snapshot::io::read_text` (a regular file within
//! the size limit) and must be UTF-8 with the same error. An empty file, a platform without
//! `mmap`, or a mapping the kernel refuses fall back to `read_text`.
//!
//! A mapping shows the file as it is on disk while the scan parses it: a file truncated by
//! another process during those seconds would end the process (SIGBUS), as with any tool
//! that maps its input (ripgrep, git). m365guard replaces snapshot files by rename
//! (`snapshot::io::write_private`), which leaves an existing mapping intact.

use std::borrow::Cow;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use sha2::{Digest, Sha256};

use crate::snapshot::{io, SnapshotError};

/// Text to scan. Dereferences to `str`.
pub enum SnapshotText<'t> {
    Text(Cow<'t, str>),
    #[cfg(unix)]
    Mapped(Mapping),
}

impl std::ops::Deref for SnapshotText<'_> {
    type Target = str;

    fn deref(&self) -> &str {
        match self {
            SnapshotText::Text(text) => text,
            #[cfg(unix)]
            SnapshotText::Mapped(mapping) => mapping.as_str(),
        }
    }
}

impl SnapshotText<'_> {
    /// Whether `load` can give this text again (a mapped file): the scan then unmaps it
    /// early instead of keeping it for a rare second use.
    pub fn can_reload(&self) -> bool {
        match self {
            SnapshotText::Text(_) => false,
            #[cfg(unix)]
            SnapshotText::Mapped(_) => true,
        }
    }
}

impl SnapshotText<'_> {
    /// Take a mapped file's pages out of this process's resident memory (they stay in the
    /// page cache; the next read maps them again, the same bytes). Called every fraction of
    /// a second while the text is parsed, so the pages already read (2.4 GB for 1M users)
    /// are not resident beside the Rego values being built: each reader then faults in
    /// only what it still has to read. Nothing for text in memory.
    pub fn release_pages(&self) {
        #[cfg(unix)]
        if let SnapshotText::Mapped(mapping) = self {
            mapping.release(mapping.len);
        }
    }

    /// The SHA-256 of the text, in lower-case hex; `None` once `cancelled` is set (checked
    /// between blocks). A mapped file's pages are given back behind the hash as it goes
    /// (see `release_pages`): it may run after the parse, when they had been given back
    /// already, and must not bring 2.4 GB (1M users) back into resident memory.
    pub fn sha256_hex(&self, cancelled: &AtomicBool) -> Option<String> {
        const BLOCK: usize = 8 << 20;
        let mut hasher = Sha256::new();
        for (n, block) in self.as_bytes().chunks(BLOCK).enumerate() {
            if cancelled.load(Ordering::Relaxed) {
                return None;
            }
            hasher.update(block);
            #[cfg(unix)]
            if let SnapshotText::Mapped(mapping) = self {
                mapping.release((n + 1) * BLOCK);
            }
        }
        Some(
            hasher
                .finalize()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect(),
        )
    }
}

impl<'t> From<Cow<'t, str>> for SnapshotText<'t> {
    fn from(text: Cow<'t, str>) -> Self {
        SnapshotText::Text(text)
    }
}

impl<'t> From<&'t str> for SnapshotText<'t> {
    fn from(text: &'t str) -> Self {
        SnapshotText::Text(Cow::Borrowed(text))
    }
}

impl<'t> From<&'t String> for SnapshotText<'t> {
    fn from(text: &'t String) -> Self {
        SnapshotText::Text(Cow::Borrowed(text.as_str()))
    }
}

impl From<String> for SnapshotText<'_> {
    fn from(text: String) -> Self {
        SnapshotText::Text(Cow::Owned(text))
    }
}

/// The text of snapshot file `path`: mapped where possible, else read.
pub fn load(path: &Path) -> Result<SnapshotText<'static>, SnapshotError> {
    #[cfg(unix)]
    {
        let (file, size) = io::open_checked(path)?;
        if let Some(mapping) = Mapping::of(&file, size) {
            check_utf8(mapping.bytes(), UTF8_PARALLEL_FROM).map_err(|e| io::not_utf8(path, e))?;
            return Ok(SnapshotText::Mapped(mapping));
        }
    }
    io::read_text(path).map(SnapshotText::from)
}

/// Files from which `check_utf8` checks two halves side by side.
#[cfg(unix)]
const UTF8_PARALLEL_FROM: usize = 64 << 20;

/// `std::str::from_utf8(bytes)`'s answer, in two halves side by side from `parallel_from`
/// bytes. The check is the first thing a scan does, before any other thread has work:
/// checked whole, with the faults that map the file in, loading took 0.30 s at 1M users
/// (0.20 s in halves) and the parse started 33 ms after the process at 100k (22 ms). The
/// halves meet at the start of a character, where text is UTF-8 exactly when both halves
/// are. An error is that of the whole text (its position counts from the start).
#[cfg(unix)]
fn check_utf8(bytes: &[u8], parallel_from: usize) -> Result<(), std::str::Utf8Error> {
    let whole = || std::str::from_utf8(bytes).map(drop);
    if bytes.len() < parallel_from.max(2) {
        return whole();
    }
    // Back from the middle to a byte that is not a continuation byte (10xxxxxx).
    let mut middle = bytes.len() / 2;
    while middle > 0 && bytes[middle] & 0xC0 == 0x80 {
        middle -= 1;
    }
    let (first, second) = bytes.split_at(middle);
    let both = std::thread::scope(|scope| {
        let second = scope.spawn(|| std::str::from_utf8(second).is_ok());
        std::str::from_utf8(first).is_ok() && second.join().unwrap_or(false)
    });
    if both {
        Ok(())
    } else {
        whole()
    }
}

/// A read-only private mapping of a whole file, unmapped on drop. Holds UTF-8 text once
/// `load` has checked it.
#[cfg(unix)]
pub struct Mapping {
    ptr: std::ptr::NonNull<u8>,
    len: usize,
}

// SAFETY: the mapping is read-only and owned by this value alone; reading it from several
// threads at once (the chunked parse does) is reading immutable memory.
#[cfg(unix)]
unsafe impl Send for Mapping {}
#[cfg(unix)]
unsafe impl Sync for Mapping {}

#[cfg(unix)]
impl Mapping {
    /// Map `size` bytes of `file`; `None` for an empty file or when the kernel refuses.
    fn of(file: &std::fs::File, size: u64) -> Option<Mapping> {
        use std::os::unix::io::AsRawFd;
        let len = usize::try_from(size).ok().filter(|&len| len > 0)?;
        // SAFETY: a fresh read-only private mapping of an open descriptor; the result is
        // checked against MAP_FAILED before use, and the descriptor may close afterwards
        // (the mapping keeps the file referenced).
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_PRIVATE,
                file.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return None;
        }
        // The parse reads the text front to back, several chunks at once: ask the kernel to
        // read ahead. Advice only; a refusal changes nothing.
        // SAFETY: advice on the range just mapped.
        unsafe { libc::madvise(ptr, len, libc::MADV_WILLNEED) };
        Some(Mapping {
            ptr: std::ptr::NonNull::new(ptr.cast::<u8>())?,
            len,
        })
    }

    /// Give back the resident pages of the first `len` bytes (at most the whole mapping).
    fn release(&self, len: usize) {
        // SAFETY: advice on a prefix of the range `Mapping::of` mapped, which is alive. The
        // mapping is private, read-only and never written, so MADV_DONTNEED only drops the
        // page-table entries: the next access reads the file's page again (man
        // madvise(2)), and every `&str` into it keeps reading the same bytes.
        unsafe {
            libc::madvise(
                self.ptr.as_ptr().cast(),
                len.min(self.len),
                libc::MADV_DONTNEED,
            )
        };
    }

    fn bytes(&self) -> &[u8] {
        // SAFETY: `len` bytes mapped readable at `ptr` for the lifetime of `self`.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    fn as_str(&self) -> &str {
        // SAFETY: `load` checked the bytes are UTF-8 before handing the mapping out, and
        // the mapping is read-only.
        unsafe { std::str::from_utf8_unchecked(self.bytes()) }
    }
}

#[cfg(unix)]
impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: unmapping exactly the range `of` mapped, once.
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Checked in halves, text is UTF-8 exactly when it is checked whole, with the same
    /// error: wherever the middle falls in a character, and with a bad byte in either half.
    #[cfg(unix)]
    #[test]
    fn utf8_checked_in_halves_is_utf8_checked_whole() {
        let mut cases: Vec<Vec<u8>> = Vec::new();
        for pad in 0..4 {
            // The middle falls on each byte of a 4-byte character in turn.
            let text = format!("{}😀{}", "a".repeat(20 + pad), "b".repeat(20 - pad));
            cases.push(text.into_bytes());
        }
        let mut bad_first = "é".repeat(30).into_bytes();
        bad_first[5] = 0xFF;
        let mut bad_second = bad_first.clone();
        bad_second[5] = 0xA9;
        // A lead byte replaced: its continuation byte stands alone, past the middle.
        bad_second[50] = b'A';
        // An incomplete character at the middle: the second half starts with it.
        let mut cut = b"x".repeat(20);
        cut.extend_from_slice(&[0xE2, 0x82]);
        cut.extend_from_slice(&b"y".repeat(20));
        cases.extend([bad_first, bad_second, cut, vec![0x80; 40], Vec::new()]);
        for bytes in &cases {
            let halves = check_utf8(bytes, 1);
            assert_eq!(halves, std::str::from_utf8(bytes).map(drop), "{bytes:?}");
            assert_eq!(halves, check_utf8(bytes, usize::MAX));
        }
        assert!(check_utf8(&cases[0], 1).is_ok());
        let error = |bytes: &[u8]| check_utf8(bytes, 1).unwrap_err().valid_up_to();
        assert_eq!(error(&cases[4]), 4);
        assert_eq!(error(&cases[5]), 51);
    }

    /// The digest of a mapped file (over more than one block, its pages given back as it
    /// goes) and of text in memory is the SHA-256 of the bytes; a cancelled one is `None`.
    #[test]
    fn the_digest_is_the_sha256_of_the_text_mapped_or_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.json");
        let text: String = (0..1_200_000).map(|i| format!("{i:07}\n")).collect();
        assert!(text.len() > 8 << 20, "more than one block");
        std::fs::write(&path, &text).unwrap();
        let expected = crate::investigate::manifest::sha256_hex(text.as_bytes());
        let running = AtomicBool::new(false);
        let mapped = load(&path).unwrap();
        assert!(matches!(mapped, SnapshotText::Mapped(_)));
        assert_eq!(
            mapped.sha256_hex(&running).as_deref(),
            Some(expected.as_str())
        );
        // Its pages were given back: the text reads the same afterwards.
        assert_eq!(&*mapped, text.as_str());
        let in_memory = SnapshotText::from(text.as_str());
        assert_eq!(in_memory.sha256_hex(&running), Some(expected));
        assert_eq!(in_memory.sha256_hex(&AtomicBool::new(true)), None);
    }

    /// A mapped file reads as the file's text; what `read_text` refuses, `load` refuses
    /// with the same message.
    #[test]
    fn a_mapped_snapshot_reads_like_a_read_one() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good.json");
        std::fs::write(&good, "{\"schema_version\": 1, \"é\": \"ü\"}\n").unwrap();
        let loaded = load(&good).unwrap();
        assert!(matches!(loaded, SnapshotText::Mapped(_)));
        assert_eq!(&*loaded, io::read_text(&good).unwrap().as_str());

        let empty = dir.path().join("empty.json");
        std::fs::write(&empty, "").unwrap();
        assert_eq!(&*load(&empty).unwrap(), "");

        let binary = dir.path().join("binary.json");
        std::fs::write(&binary, b"{\"a\": \"\xff\"}").unwrap();
        let missing = dir.path().join("missing.json");
        for bad in [&binary, &missing, &dir.path().to_path_buf()] {
            let expected = io::read_text(bad).unwrap_err().to_string();
            let got = match load(bad) {
                Ok(_) => panic!("accepted {}", bad.display()),
                Err(err) => err.to_string(),
            };
            assert_eq!(got, expected);
        }
    }

    /// Pages given back while the text is parsed read again as the same bytes.
    #[test]
    fn released_pages_read_the_same_text() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.json");
        let text: String = (0..200_000).map(|i| format!("{i},")).collect();
        std::fs::write(&path, &text).unwrap();
        let loaded = load(&path).unwrap();
        assert!(matches!(loaded, SnapshotText::Mapped(_)));
        let before = loaded.len();
        loaded.release_pages();
        assert_eq!(before, text.len());
        assert_eq!(&*loaded, text.as_str());
        loaded.release_pages();
        assert_eq!(&loaded[text.len() - 8..], &text[text.len() - 8..]);
        // Text in memory: nothing to give back, and nothing changes.
        let in_memory = SnapshotText::from(text.as_str());
        in_memory.release_pages();
        assert_eq!(&*in_memory, text.as_str());
    }
}
