//! Reading and writing snapshot files.
//!
//! The writer is deterministic: arrays sorted by id, one resource object per line, so a
//! snapshot committed to git diffs line by line and a finding can name its resource's line.
//! The reader refuses newer schema versions and reports JSON errors with line and column.

use std::fs::OpenOptions;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::model::{Snapshot, SCHEMA_VERSION};
use super::source;

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("cannot read snapshot {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}:{column}: invalid snapshot: {message}")]
    Parse {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error(
        "{path}: snapshot schema_version {found} is newer than this m365guard understands \
         (max {SCHEMA_VERSION}); upgrade m365guard"
    )]
    NewerVersion { path: PathBuf, found: u64 },
    #[error(
        "{path}: unsupported snapshot schema_version {found} (this build reads {SCHEMA_VERSION})"
    )]
    UnsupportedVersion { path: PathBuf, found: u64 },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("cannot write snapshot {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A snapshot together with the text it was parsed from (for line lookups and digests).
pub struct LoadedSnapshot {
    pub path: PathBuf,
    pub text: String,
    pub snapshot: Snapshot,
}

/// Snapshots larger than this are refused unless `M365GUARD_MAX_SNAPSHOT_BYTES` says
/// otherwise. A generated 1M-user tenant is about 2.0 GB (`m365guard generate`: 10k users
/// 20.3 MB, 100k users 204 MB, linear), so 8 GiB leaves four times that.
pub const MAX_SNAPSHOT_BYTES: u64 = 8 << 30;

/// The size ceiling of this process (`M365GUARD_MAX_SNAPSHOT_BYTES`).
pub fn max_snapshot_bytes() -> u64 {
    std::env::var("M365GUARD_MAX_SNAPSHOT_BYTES")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(MAX_SNAPSHOT_BYTES)
}

/// Read a snapshot file: a regular file (not a device such as /dev/zero, a FIFO or a
/// directory — those would allocate without end or block forever) of at most
/// [`max_snapshot_bytes`]. The file is opened non-blocking (a FIFO swapped in after a check
/// cannot block the open) and checked on the open descriptor.
pub fn read_text(path: &Path) -> Result<String, SnapshotError> {
    use std::io::Read;
    let fail = |source: std::io::Error| SnapshotError::Read {
        path: path.to_owned(),
        source,
    };
    let refuse = |message: String| {
        fail(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            message,
        ))
    };
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = options.open(path).map_err(fail)?;
    let meta = file.metadata().map_err(fail)?;
    if !meta.is_file() {
        return Err(refuse(
            "not a regular file (a device, FIFO, socket or directory); give the path of a snapshot file".into(),
        ));
    }
    let limit = max_snapshot_bytes();
    let too_big = |size: u64| {
        refuse(format!(
            "{size} bytes is more than the {limit}-byte snapshot limit (a 1M-user tenant is about 2 GB); set M365GUARD_MAX_SNAPSHOT_BYTES to raise it"
        ))
    };
    if meta.len() > limit {
        return Err(too_big(meta.len()));
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    // The file may grow while it is read: never read past the limit.
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(fail)?;
    if bytes.len() as u64 > limit {
        return Err(too_big(bytes.len() as u64));
    }
    String::from_utf8(bytes).map_err(|e| {
        fail(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("not UTF-8 text: {e}"),
        ))
    })
}

/// Parse snapshot text. `path` is only used in messages.
pub fn parse(path: &Path, text: &str) -> Result<Snapshot, SnapshotError> {
    match serde_json::from_str::<Snapshot>(text) {
        Ok(snapshot) => {
            check_version(path, u64::from(snapshot.schema_version))?;
            validate(path, &snapshot)?;
            Ok(snapshot)
        }
        Err(err) => {
            // A document from a newer m365guard fails on unknown fields first; say what
            // is really wrong instead of pointing at the first new field.
            if let Some(found) = probe_version(text) {
                check_version(path, found)?;
            }
            Err(SnapshotError::Parse {
                path: path.to_owned(),
                line: err.line(),
                column: err.column(),
                message: err.to_string(),
            })
        }
    }
}

pub fn load(path: &Path) -> Result<LoadedSnapshot, SnapshotError> {
    let text = read_text(path)?;
    let snapshot = parse(path, &text)?;
    Ok(LoadedSnapshot {
        path: path.to_owned(),
        text,
        snapshot,
    })
}

fn check_version(path: &Path, found: u64) -> Result<(), SnapshotError> {
    if found > u64::from(SCHEMA_VERSION) {
        return Err(SnapshotError::NewerVersion {
            path: path.to_owned(),
            found,
        });
    }
    if found != u64::from(SCHEMA_VERSION) {
        return Err(SnapshotError::UnsupportedVersion {
            path: path.to_owned(),
            found,
        });
    }
    Ok(())
}

fn probe_version(text: &str) -> Option<u64> {
    #[derive(serde::Deserialize)]
    struct Probe {
        schema_version: u64,
    }
    serde_json::from_str::<Probe>(text)
        .ok()
        .map(|p| p.schema_version)
}

/// Checks serde cannot express: ids unique within every resource array of the source table.
fn validate(path: &Path, snapshot: &Snapshot) -> Result<(), SnapshotError> {
    for array in source::arrays() {
        let mut seen = std::collections::HashSet::with_capacity(array.len(snapshot));
        for id in array.ids(snapshot) {
            if !seen.insert(id) {
                return Err(SnapshotError::Invalid {
                    path: path.to_owned(),
                    message: format!("duplicate id {id:?} in `{}`", array.path()),
                });
            }
        }
    }
    Ok(())
}

/// Sort every resource array by id (and domain lists alphabetically) so output is stable.
pub fn normalise(snapshot: &mut Snapshot) {
    snapshot.tenant.verified_domains.sort();
    snapshot.tenant.verified_domains.dedup();
    for array in source::arrays() {
        array.sort(snapshot);
    }
}

/// Render the stable layout: small objects on one line, resource arrays one element per line.
pub fn to_stable_json(snapshot: &Snapshot) -> String {
    let mut w = StableWriter { out: String::new() };
    w.out.push_str("{\n");
    w.field(1, "schema_version", &snapshot.schema_version, false);
    w.field(1, "tenant", &snapshot.tenant, false);
    w.field(1, "collection", &snapshot.collection, false);
    w.open(1, "sources", '{');
    let n = snapshot.sources.len();
    for (i, (id, status)) in snapshot.sources.iter().enumerate() {
        w.field(2, id.as_str(), status, i + 1 == n);
    }
    w.close(1, '}', false);
    w.array(1, "users", &snapshot.users, false);
    w.array(1, "mailboxes", &snapshot.mailboxes, false);
    w.array(1, "inbox_rules", &snapshot.inbox_rules, false);
    w.open(1, "roles", '{');
    w.array(2, "definitions", &snapshot.roles.definitions, false);
    w.array(2, "assignments", &snapshot.roles.assignments, false);
    w.array(
        2,
        "eligible_assignments",
        &snapshot.roles.eligible_assignments,
        true,
    );
    w.close(1, '}', false);
    w.open(1, "outbound_spam", '{');
    w.array(2, "policies", &snapshot.outbound_spam.policies, false);
    w.array(
        2,
        "restricted_senders",
        &snapshot.outbound_spam.restricted_senders,
        true,
    );
    w.close(1, '}', false);
    w.open(1, "conditional_access", '{');
    w.array(2, "policies", &snapshot.conditional_access.policies, false);
    w.array(
        2,
        "named_locations",
        &snapshot.conditional_access.named_locations,
        false,
    );
    w.array(2, "groups", &snapshot.conditional_access.groups, true);
    w.close(1, '}', false);
    w.field(1, "security_defaults", &snapshot.security_defaults, false);
    w.array(1, "risky_users", &snapshot.risky_users, false);
    w.array(1, "remote_domains", &snapshot.remote_domains, false);
    w.array(1, "recipients", &snapshot.recipients, true);
    w.out.push_str("}\n");
    w.out
}

struct StableWriter {
    out: String,
}

impl StableWriter {
    fn indent(&mut self, level: usize) {
        for _ in 0..level {
            self.out.push_str("  ");
        }
    }

    fn compact<T: Serialize>(&mut self, value: &T) {
        // Serialising our own plain data types to a String cannot fail (no maps with
        // non-string keys, no custom Serialize impls that error).
        match serde_json::to_string(value) {
            Ok(s) => self.out.push_str(&s),
            Err(err) => self.out.push_str(&format!("null /* {err} */")),
        }
    }

    fn key(&mut self, level: usize, key: &str) {
        self.indent(level);
        self.out.push('"');
        self.out.push_str(key);
        self.out.push_str("\": ");
    }

    fn field<T: Serialize>(&mut self, level: usize, key: &str, value: &T, last: bool) {
        self.key(level, key);
        self.compact(value);
        self.out.push_str(if last { "\n" } else { ",\n" });
    }

    fn open(&mut self, level: usize, key: &str, bracket: char) {
        self.key(level, key);
        self.out.push(bracket);
        self.out.push('\n');
    }

    fn close(&mut self, level: usize, bracket: char, last: bool) {
        self.indent(level);
        self.out.push(bracket);
        self.out.push_str(if last { "\n" } else { ",\n" });
    }

    fn array<T: Serialize>(&mut self, level: usize, key: &str, items: &[T], last: bool) {
        if items.is_empty() {
            self.key(level, key);
            self.out.push_str(if last { "[]\n" } else { "[],\n" });
            return;
        }
        self.open(level, key, '[');
        for (i, item) in items.iter().enumerate() {
            self.indent(level + 1);
            self.compact(item);
            self.out
                .push_str(if i + 1 == items.len() { "\n" } else { ",\n" });
        }
        self.close(level, ']', last);
    }
}

/// Normalise and write a snapshot with mode 0600 (it is personal data).
pub fn write(path: &Path, snapshot: &mut Snapshot) -> Result<(), SnapshotError> {
    normalise(snapshot);
    let text = to_stable_json(snapshot);
    write_private(path, text.as_bytes()).map_err(|source| SnapshotError::Write {
        path: path.to_owned(),
        source,
    })
}

/// Create (or truncate) a file readable only by its owner and write `bytes` to it.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let file = options.open(path)?;
    // An existing file keeps its old mode on open: tighten it explicitly.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    let mut writer = BufWriter::new(file);
    writer.write_all(bytes)?;
    writer.flush()?;
    writer.get_ref().sync_all()
}
