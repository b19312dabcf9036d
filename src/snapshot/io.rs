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
    let (file, size) = open_checked(path)?;
    let limit = max_snapshot_bytes();
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    // The file may grow while it is read: never read past the limit.
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|source| read_error(path, source))?;
    if bytes.len() as u64 > limit {
        return Err(too_big(path, bytes.len() as u64, limit));
    }
    String::from_utf8(bytes).map_err(|e| not_utf8(path, e.utf8_error()))
}

/// Open a snapshot file for reading with the checks `read_text` promises (a regular file,
/// opened non-blocking, within the size limit): the file and its size.
pub fn open_checked(path: &Path) -> Result<(std::fs::File, u64), SnapshotError> {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = options
        .open(path)
        .map_err(|source| read_error(path, source))?;
    let meta = file.metadata().map_err(|source| read_error(path, source))?;
    if !meta.is_file() {
        return Err(read_error(
            path,
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "not a regular file (a device, FIFO, socket or directory); give the path of a snapshot file",
            ),
        ));
    }
    let limit = max_snapshot_bytes();
    if meta.len() > limit {
        return Err(too_big(path, meta.len(), limit));
    }
    Ok((file, meta.len()))
}

fn read_error(path: &Path, source: std::io::Error) -> SnapshotError {
    SnapshotError::Read {
        path: path.to_owned(),
        source,
    }
}

fn too_big(path: &Path, size: u64, limit: u64) -> SnapshotError {
    read_error(
        path,
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!(
                "{size} bytes is more than the {limit}-byte snapshot limit (a 1M-user tenant is about 2 GB); set M365GUARD_MAX_SNAPSHOT_BYTES to raise it"
            ),
        ),
    )
}

/// The error for a snapshot file that is not UTF-8 (`read_text` and the mapped reader).
pub fn not_utf8(path: &Path, err: std::str::Utf8Error) -> SnapshotError {
    read_error(
        path,
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("not UTF-8 text: {err}"),
        ),
    )
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

/// Build the typed snapshot from the Rego input `value` parsed from the same text (see
/// `policy::input::parse_parallel`), so the text is parsed once and can be dropped before
/// the typed model exists: deserializing a value is the same serde walk as parsing the text,
/// without the tokenizing. The three large arrays are deserialized in pieces on `threads`
/// threads. `Ok(None)` when the value cannot decide as the text would (`lossy`: a repeated
/// key or a fraction, which the value hides) or does not deserialize: then `parse` the text,
/// whose error names the line and column.
pub fn parse_from_value(
    path: &Path,
    value: &regorus::Value,
    lossy: bool,
    threads: usize,
) -> Result<Option<Snapshot>, SnapshotError> {
    if lossy {
        return Ok(None);
    }
    match from_value::snapshot(value, threads) {
        Some(snapshot) => {
            check_version(path, u64::from(snapshot.schema_version))?;
            validate(path, &snapshot)?;
            Ok(Some(snapshot))
        }
        None => Ok(None),
    }
}

/// `parse_from_value` in two steps, so the typed model's large arrays (users, mailboxes,
/// inbox rules) and the Rego values are never resident whole together (at 1M users the
/// values are ~7 GB and the typed model ~3.4 GB): first everything but the large arrays
/// (enough for evaluation: source statuses, tenant), then `complete_from_value`, which
/// consumes the values and frees each large array's elements as it deserializes them.
/// `None` when the values cannot stand for the text (`lossy`) or do not fit the model: the
/// caller parses the text then, as after `parse_from_value`.
pub fn skeleton_from_value(value: &regorus::Value, lossy: bool) -> Option<from_value::Skeleton> {
    if lossy {
        return None;
    }
    from_value::skeleton(value)
}

/// The second step of `skeleton_from_value`: the large arrays are taken out of `value`
/// (consumed), then the same checks as `parse_from_value` run on the whole snapshot. The
/// result is exactly `parse_from_value`'s for the same value.
pub fn complete_from_value(
    path: &Path,
    skeleton: from_value::Skeleton,
    value: regorus::Value,
    threads: usize,
) -> Result<Option<Snapshot>, SnapshotError> {
    let t = std::time::Instant::now();
    match from_value::complete(skeleton, value, threads) {
        Some(snapshot) => {
            crate::profile::record("typed snapshot: large arrays deserialized", t);
            let t = std::time::Instant::now();
            check_version(path, u64::from(snapshot.schema_version))?;
            validate(path, &snapshot)?;
            crate::profile::record("typed snapshot: ids checked unique", t);
            Ok(Some(snapshot))
        }
        None => Ok(None),
    }
}

/// The second step of `skeleton_from_value` for a scan whose caller only renders reports
/// (`scan::SnapshotDetail::ForReports`): `complete_from_value`, except that of the inbox
/// rules (the largest array: three per user) only those whose id is in `named` (the
/// findings' resources) are kept in the typed model. Every inbox rule is still checked
/// against the model, and their ids for uniqueness, so a snapshot is refused exactly as
/// `complete_from_value` refuses it; the others are not copied into the typed model and
/// their values not freed one by one. The inbox rules come back beside the snapshot
/// (`UnkeptArray`). `None` as for `complete_from_value`: the caller parses the text.
pub fn complete_for_reports(
    path: &Path,
    mut skeleton: from_value::Skeleton,
    mut value: regorus::Value,
    named: &std::collections::HashSet<&str>,
    checked: Option<InboxRulesChecked>,
    threads: usize,
) -> Result<Option<(Snapshot, UnkeptArray)>, SnapshotError> {
    let t = std::time::Instant::now();
    let values = if skeleton.leave_out(INBOX_RULES) {
        let Ok(root) = value.as_object_mut() else {
            return Ok(None);
        };
        root.remove(&regorus::Value::from(INBOX_RULES))
            .unwrap_or_else(|| regorus::Value::from(Vec::<regorus::Value>::new()))
    } else {
        regorus::Value::from(Vec::<regorus::Value>::new())
    };
    let Ok(elements) = values.as_array().map(|a| a.as_slice()) else {
        return Ok(None);
    };
    // The check made beforehand counts only if it was made on these very elements.
    let ids = match checked {
        Some(checked) if checked.is_of(elements) => checked.ids,
        _ => from_value::check_elements::<super::model::InboxRule>(elements, threads),
    };
    let Some(ids) = ids else {
        return Ok(None);
    };
    crate::profile::record("typed snapshot: inbox rules checked", t);
    let Some(mut snapshot) = from_value::complete(skeleton, value, threads) else {
        return Ok(None);
    };
    let Some(kept) = from_value::elements_with_ids(elements, &ids, named) else {
        return Ok(None);
    };
    snapshot.inbox_rules = kept;
    crate::profile::record("typed snapshot: large arrays deserialized", t);
    let unkept = UnkeptArray {
        path: INBOX_RULES,
        values,
        ids,
    };
    check_version(path, u64::from(snapshot.schema_version))?;
    validate_with(path, &snapshot, Some(&unkept))?;
    Ok(Some((snapshot, unkept)))
}

/// The key of the one array `complete_for_reports` holds only in part.
const INBOX_RULES: &str = "inbox_rules";

/// The check of every inbox rule against the model that `complete_for_reports` needs,
/// made beforehand (a scan makes it while a core is idle during the evaluation).
pub struct InboxRulesChecked {
    /// The array checked (a reference to the snapshot value's own).
    array: regorus::Value,
    /// `from_value::check_elements`'s answer.
    ids: Option<Vec<regorus::Rc<str>>>,
}

impl InboxRulesChecked {
    /// The inbox rules of snapshot `value`, to check (`None` if it has no array there:
    /// then `complete_for_reports` has nothing to check either).
    pub fn array_of(value: &regorus::Value) -> Option<regorus::Value> {
        let array = value
            .as_object()
            .ok()?
            .get(&regorus::Value::from(INBOX_RULES))?;
        array.as_array().is_ok().then(|| array.clone())
    }

    /// Check every element of `array` (from `array_of`) on `threads` threads.
    pub fn check(array: regorus::Value, threads: usize) -> InboxRulesChecked {
        let ids = match array.as_array() {
            Ok(elements) => {
                from_value::check_elements::<super::model::InboxRule>(elements.as_slice(), threads)
            }
            Err(_) => None,
        };
        InboxRulesChecked { array, ids }
    }

    /// Whether this check was made on `elements` (the same values, not equal ones).
    fn is_of(&self, elements: &[regorus::Value]) -> bool {
        self.array
            .as_array()
            .is_ok_and(|checked| std::ptr::eq(checked.as_slice(), elements))
    }
}

/// The array a snapshot from `complete_for_reports` holds only in part.
pub struct UnkeptArray {
    /// The array's key in the snapshot (`inbox_rules`).
    pub path: &'static str,
    /// All of its elements, as Rego values (for the caller to free, or not, at exit).
    pub values: regorus::Value,
    /// Their ids, in text order (for the lines of findings and the uniqueness check).
    pub ids: Vec<regorus::Rc<str>>,
}

/// The ids of `array` in text order: the snapshot's, or, for the array `unkept` stands
/// for, all of its elements' (the snapshot holds only some of them).
pub fn ids_in_order<'a>(
    array: &dyn source::ResourceArray,
    snapshot: &'a Snapshot,
    unkept: Option<&'a UnkeptArray>,
) -> Vec<&'a str> {
    match unkept {
        Some(unkept) if unkept.path == array.path() => {
            unkept.ids.iter().map(|id| id.as_ref()).collect()
        }
        _ => array.ids(snapshot),
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
    validate_with(path, snapshot, None)
}

/// `validate`, with the ids of the array `unkept` stands for taken from it (the snapshot
/// holds only some of that array: `complete_for_reports`).
fn validate_with(
    path: &Path,
    snapshot: &Snapshot,
    unkept: Option<&UnkeptArray>,
) -> Result<(), SnapshotError> {
    for array in source::arrays() {
        if let Some(id) = first_repeated(&ids_in_order(array, snapshot, unkept)) {
            return Err(SnapshotError::Invalid {
                path: path.to_owned(),
                message: format!("duplicate id {id:?} in `{}`", array.path()),
            });
        }
    }
    Ok(())
}

/// The first id, in array order, that an earlier element already has.
///
/// Written snapshots are sorted by id (`normalise`): there an id repeats exactly where it
/// equals its predecessor, so one pass of comparisons decides, without a table (at 100k
/// users a hash set over ~500k ids took ~50 ms). An array found out of order (a hand-edited
/// snapshot) is checked with a set, which gives the same answer: up to the first element
/// out of order the prefix was strictly ascending, so no repeat was missed.
fn first_repeated<'a>(ids: &[&'a str]) -> Option<&'a str> {
    for pair in ids.windows(2) {
        if let [before, id] = pair {
            match before.cmp(id) {
                std::cmp::Ordering::Less => {}
                std::cmp::Ordering::Equal => return Some(id),
                std::cmp::Ordering::Greater => {
                    let mut seen = std::collections::HashSet::with_capacity(ids.len());
                    return ids.iter().copied().find(|id| !seen.insert(*id));
                }
            }
        }
    }
    None
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
    w.array(1, "recipients", &snapshot.recipients, false);
    w.array(1, "transport_rules", &snapshot.transport_rules, false);
    w.array(
        1,
        "outbound_connectors",
        &snapshot.outbound_connectors,
        false,
    );
    w.array(1, "inbound_connectors", &snapshot.inbound_connectors, false);
    w.array(1, "mailbox_delegates", &snapshot.mailbox_delegates, false);
    w.array(
        1,
        "mailbox_folder_permissions",
        &snapshot.mailbox_folder_permissions,
        false,
    );
    w.array(
        1,
        "exchange_role_groups",
        &snapshot.exchange_role_groups,
        false,
    );
    w.array(
        1,
        "exchange_role_assignments",
        &snapshot.exchange_role_assignments,
        false,
    );
    w.array(
        1,
        "application_access_policies",
        &snapshot.application_access_policies,
        false,
    );
    w.open(1, "apps", '{');
    w.array(
        2,
        "service_principals",
        &snapshot.apps.service_principals,
        false,
    );
    w.array(2, "credentials", &snapshot.apps.credentials, false);
    w.array(2, "consent_grants", &snapshot.apps.consent_grants, false);
    w.array(
        2,
        "app_role_assignments",
        &snapshot.apps.app_role_assignments,
        false,
    );
    w.array(
        2,
        "consent_policies",
        &snapshot.apps.consent_policies,
        false,
    );
    w.array(
        2,
        "management_policies",
        &snapshot.apps.management_policies,
        true,
    );
    w.close(1, '}', false);
    w.open(1, "mail_protocols", '{');
    w.array(2, "transport", &snapshot.mail_protocols.transport, false);
    w.array(2, "mailboxes", &snapshot.mail_protocols.mailboxes, true);
    w.close(1, '}', false);
    w.open(1, "audit_config", '{');
    w.array(
        2,
        "organization",
        &snapshot.audit_config.organization,
        false,
    );
    w.array(
        2,
        "bypass_associations",
        &snapshot.audit_config.bypass_associations,
        true,
    );
    w.close(1, '}', false);
    w.array(1, "auth_methods", &snapshot.auth_methods, false);
    w.array(1, "domains", &snapshot.domains, true);
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
    // `-o /dev/stdout` or a named pipe: not a file we own, so neither chmod (it would change
    // a terminal's mode) nor fsync (a pipe refuses it) applies.
    let regular = file.metadata()?.is_file();
    // An existing file keeps its old mode on open: tighten it explicitly.
    #[cfg(unix)]
    if regular {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    let mut writer = BufWriter::new(file);
    writer.write_all(bytes)?;
    writer.flush()?;
    if regular {
        writer.get_ref().sync_all()?;
    }
    Ok(())
}

/// A serde `Deserializer` over a regorus `Value`, for `parse_from_value`. It hands serde
/// exactly what serde_json hands it for the same JSON: objects as maps (or as enum variants),
/// arrays as sequences, strings, `u64`/`i64` integers (fractions never get here: the value
/// was flagged lossy), null as unit or `None`.
pub mod from_value {
    use regorus::Value;
    use serde::de::value::{Error, MapDeserializer, SeqDeserializer};
    use serde::de::{self, Deserialize, IntoDeserializer, Visitor};

    use super::super::model::{InboxRule, Mailbox, Snapshot, User};

    /// One unit of work: the snapshot without its large arrays, or one of them. (Whole
    /// arrays, not pieces: joining pieces would copy the largest array once more; the
    /// inbox rules are about as much work as users and mailboxes together.)
    enum Piece<'a> {
        Skeleton(Value),
        Users(&'a [Value]),
        Mailboxes(&'a [Value]),
        InboxRules(&'a [Value]),
    }

    enum Done {
        Skeleton(Box<Snapshot>),
        Users(Vec<User>),
        Mailboxes(Vec<Mailbox>),
        InboxRules(Vec<InboxRule>),
    }

    /// The typed snapshot, or `None` when `value` does not deserialize into one.
    pub fn snapshot(value: &Value, threads: usize) -> Option<Snapshot> {
        let mut skeleton = value.clone();
        let mut pieces = Vec::new();
        if let (Ok(object), Ok(skeleton)) = (value.as_object(), skeleton.as_object_mut()) {
            for key in ["inbox_rules", "users", "mailboxes"] {
                let key_value = Value::from(key);
                if let Some(Value::Array(array)) = object.get(&key_value) {
                    let elements = array.as_slice();
                    pieces.push(match key {
                        "users" => Piece::Users(elements),
                        "mailboxes" => Piece::Mailboxes(elements),
                        _ => Piece::InboxRules(elements),
                    });
                    skeleton.insert(key_value, Value::from(Vec::<Value>::new()));
                }
            }
        }
        pieces.insert(1.min(pieces.len()), Piece::Skeleton(skeleton));
        let done = run(pieces, threads)?;
        let mut snapshot = None;
        let (mut users, mut mailboxes, mut inbox_rules) = (None, None, None);
        for piece in done {
            match piece {
                Done::Skeleton(s) => snapshot = Some(*s),
                Done::Users(v) => users = Some(v),
                Done::Mailboxes(v) => mailboxes = Some(v),
                Done::InboxRules(v) => inbox_rules = Some(v),
            }
        }
        let mut snapshot = snapshot?;
        // The skeleton's arrays are empty exactly where the value had an array.
        if let Some(users) = users {
            snapshot.users = users;
        }
        if let Some(mailboxes) = mailboxes {
            snapshot.mailboxes = mailboxes;
        }
        if let Some(inbox_rules) = inbox_rules {
            snapshot.inbox_rules = inbox_rules;
        }
        Some(snapshot)
    }

    /// The large arrays, in the order of their work (largest first).
    const LARGE: [&str; 3] = ["inbox_rules", "users", "mailboxes"];

    /// The typed snapshot without its large arrays (see `super::skeleton_from_value`), and
    /// which of them the value had as arrays (the skeleton's are empty exactly there).
    pub struct Skeleton {
        pub snapshot: Snapshot,
        large: Vec<&'static str>,
    }

    pub fn skeleton(value: &Value) -> Option<Skeleton> {
        let mut skeleton = value.clone();
        let mut large = Vec::new();
        if let (Ok(object), Ok(skeleton)) = (value.as_object(), skeleton.as_object_mut()) {
            for key in LARGE {
                let key_value = Value::from(key);
                if let Some(Value::Array(_)) = object.get(&key_value) {
                    large.push(key);
                    skeleton.insert(key_value, Value::from(Vec::<Value>::new()));
                }
            }
        }
        let snapshot = Snapshot::deserialize(De(&skeleton)).ok()?;
        Some(Skeleton { snapshot, large })
    }

    /// The skeleton with its large arrays deserialized from `value`, one array per thread;
    /// each element's value is dropped once read (freed unless a rule's index still shares
    /// it), so the values shrink as the typed arrays grow.
    ///
    /// Not cut into chunks shared by both threads (tried twice, issue #9): each thread's
    /// allocator heap reuses only what that thread frees, so a helper reading (or freeing)
    /// values this thread's heap holds moves memory through the OS — at 300k users the step
    /// took 0.4 s more wall and 0.9 s more CPU (page faults, purges, cold values), and
    /// dropping values of one parse chunk on two threads at once bounces the reference
    /// counts of its interned keys between the cores. The inbox rules stay on one thread.
    pub fn complete(skeleton: Skeleton, mut value: Value, threads: usize) -> Option<Snapshot> {
        let Skeleton {
            mut snapshot,
            large,
        } = skeleton;
        let mut arrays = Vec::new();
        {
            let object = value.as_object_mut().ok()?;
            for key in large {
                let Some(Value::Array(array)) = object.remove(&Value::from(key)) else {
                    return None;
                };
                // Shared when the evaluation's engine has not let go of its input yet: its
                // elements are then freed when both references are gone.
                let array = std::sync::Arc::try_unwrap(array).unwrap_or_else(|a| (*a).clone());
                arrays.push(std::sync::Mutex::new(Some((key, array.into_vec()))));
            }
        }
        drop(value);
        let next = std::sync::atomic::AtomicUsize::new(0);
        let work = || -> Result<Vec<Done>, Error> {
            let mut done = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(slot) = arrays.get(i) else {
                    return Ok(done);
                };
                let Some((key, elements)) = slot.lock().ok().and_then(|mut s| s.take()) else {
                    return Err(de::Error::custom("array taken twice"));
                };
                done.push(match key {
                    "users" => Done::Users(consume(elements)?),
                    "mailboxes" => Done::Mailboxes(consume(elements)?),
                    _ => Done::InboxRules(consume(elements)?),
                });
            }
        };
        let results: Vec<Result<Vec<Done>, Error>> =
            std::thread::scope(|scope| {
                let helpers: Vec<_> = (1..threads.clamp(1, arrays.len().max(1)))
                    .map(|_| scope.spawn(work))
                    .collect();
                let mut results = vec![work()];
                for helper in helpers {
                    results.push(helper.join().unwrap_or_else(|_| {
                        Err(de::Error::custom("a deserializing thread panicked"))
                    }));
                }
                results
            });
        for done in results {
            for piece in done.ok()? {
                match piece {
                    Done::Skeleton(_) => return None,
                    Done::Users(v) => snapshot.users = v,
                    Done::Mailboxes(v) => snapshot.mailboxes = v,
                    Done::InboxRules(v) => snapshot.inbox_rules = v,
                }
            }
        }
        Some(snapshot)
    }

    impl Skeleton {
        /// Leave the large array at `key` out of `complete` (the skeleton's stays empty);
        /// whether the value had it.
        pub fn leave_out(&mut self, key: &str) -> bool {
            let had = self.large.contains(&key);
            self.large.retain(|k| *k != key);
            had
        }
    }

    /// Every element's `id`, in array order, if every element deserializes into `T` (none
    /// of which is kept) and has a string `id` (the model's field of that name, which
    /// `Resource::id` reads). The elements are cut into one run per thread: each thread
    /// only reads the values, and frees only the typed elements it made itself. The ids
    /// are taken in the same pass, while each element is in the cache: read afterwards,
    /// one element at a time, they cost a cache miss or three each (~0.1 s at 300k).
    pub fn check_elements<T: serde::de::DeserializeOwned>(
        elements: &[Value],
        threads: usize,
    ) -> Option<Vec<regorus::Rc<str>>> {
        let per_thread = elements.len().div_ceil(threads.max(1)).max(1);
        let key = Value::from("id");
        let check = |run: &[Value]| -> Option<Vec<regorus::Rc<str>>> {
            run.iter()
                .map(|element| {
                    T::deserialize(De(element)).ok()?;
                    match element.as_object().ok()?.get(&key)? {
                        Value::String(id) => Some(id.clone()),
                        _ => None,
                    }
                })
                .collect()
        };
        std::thread::scope(|scope| {
            let mut runs = elements.chunks(per_thread);
            let first = runs.next();
            let helpers: Vec<_> = runs.map(|run| scope.spawn(|| check(run))).collect();
            let mut ids = match first {
                Some(run) => check(run),
                None => Some(Vec::new()),
            };
            for helper in helpers {
                let more = helper.join().ok().flatten();
                ids = ids.zip(more).map(|(mut ids, more)| {
                    ids.extend(more);
                    ids
                });
            }
            ids
        })
    }

    /// The elements whose id (`ids`, one per element as `check_elements` gave them) is in
    /// `wanted`, in array order, typed (`None` if one does not deserialize).
    pub fn elements_with_ids<T: serde::de::DeserializeOwned>(
        elements: &[Value],
        ids: &[regorus::Rc<str>],
        wanted: &std::collections::HashSet<&str>,
    ) -> Option<Vec<T>> {
        elements
            .iter()
            .zip(ids)
            .filter(|(_, id)| wanted.contains(id.as_ref()))
            .map(|(e, _)| T::deserialize(De(e)).ok())
            .collect()
    }

    /// Deserialize each element and drop its value right after.
    fn consume<T: serde::de::DeserializeOwned>(elements: Vec<Value>) -> Result<Vec<T>, Error> {
        let mut out = Vec::with_capacity(elements.len());
        for element in elements {
            out.push(T::deserialize(De(&element))?);
        }
        Ok(out)
    }

    /// Deserialize the pieces on a shared queue; results in piece order, `None` on any error.
    fn run(pieces: Vec<Piece<'_>>, threads: usize) -> Option<Vec<Done>> {
        use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
        use std::sync::Mutex;
        let next = AtomicUsize::new(0);
        let failed = AtomicBool::new(false);
        let slots: Vec<Mutex<Option<Done>>> = pieces.iter().map(|_| Mutex::new(None)).collect();
        let work = || loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(piece) = pieces.get(i) else { return };
            if failed.load(Ordering::Relaxed) {
                return;
            }
            {
                let done = match piece {
                    Piece::Skeleton(v) => {
                        Snapshot::deserialize(De(v)).map(|s| Done::Skeleton(Box::new(s)))
                    }
                    Piece::Users(e) => Vec::deserialize(Seq(e)).map(Done::Users),
                    Piece::Mailboxes(e) => Vec::deserialize(Seq(e)).map(Done::Mailboxes),
                    Piece::InboxRules(e) => Vec::deserialize(Seq(e)).map(Done::InboxRules),
                };
                match done {
                    Ok(done) => {
                        if let Some(Ok(mut slot)) = slots.get(i).map(Mutex::lock) {
                            *slot = Some(done);
                        }
                    }
                    Err(_) => failed.store(true, Ordering::Relaxed),
                }
            }
        };
        std::thread::scope(|scope| {
            for _ in 1..threads.clamp(1, pieces.len().max(1)) {
                scope.spawn(work);
            }
            work();
        });
        if failed.into_inner() {
            return None;
        }
        slots
            .into_iter()
            .map(|slot| slot.into_inner().ok().flatten())
            .collect()
    }

    /// A slice of values as a sequence.
    struct Seq<'a>(&'a [Value]);

    impl<'de> de::Deserializer<'de> for Seq<'de> {
        type Error = Error;

        fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            let mut seq = SeqDeserializer::new(self.0.iter().map(De));
            let value = visitor.visit_seq(&mut seq)?;
            seq.end()?;
            Ok(value)
        }

        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
            bytes byte_buf option unit unit_struct newtype_struct seq tuple
            tuple_struct map struct enum identifier ignored_any
        }
    }

    /// One value.
    #[derive(Clone, Copy)]
    struct De<'a>(&'a Value);

    impl<'de> IntoDeserializer<'de, Error> for De<'de> {
        type Deserializer = Self;

        fn into_deserializer(self) -> Self {
            self
        }
    }

    impl<'de> de::Deserializer<'de> for De<'de> {
        type Error = Error;

        fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            match self.0 {
                Value::Null => visitor.visit_unit(),
                Value::Bool(b) => visitor.visit_bool(*b),
                Value::Number(_) => match (self.0.as_u64(), self.0.as_i64()) {
                    (Ok(n), _) => visitor.visit_u64(n),
                    (_, Ok(n)) => visitor.visit_i64(n),
                    _ => Err(de::Error::custom("number out of range")),
                },
                Value::String(s) => visitor.visit_borrowed_str(s),
                Value::Array(a) => Seq(a.as_slice()).deserialize_any(visitor),
                Value::Object(o) => {
                    let mut map = MapDeserializer::new(o.iter().map(|(k, v)| (De(k), De(v))));
                    let value = visitor.visit_map(&mut map)?;
                    map.end()?;
                    Ok(value)
                }
                Value::Set(_) | Value::Undefined => Err(de::Error::custom("not a JSON value")),
            }
        }

        fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
            match self.0 {
                Value::Null => visitor.visit_none(),
                _ => visitor.visit_some(self),
            }
        }

        fn deserialize_enum<V: Visitor<'de>>(
            self,
            _name: &'static str,
            _variants: &'static [&'static str],
            visitor: V,
        ) -> Result<V::Value, Error> {
            match self.0 {
                // A unit variant, as serde_json reads `"member"`. The snapshot's enums have
                // only unit variants; anything else fails here and the text parse, which
                // then runs, reports it.
                Value::String(s) => visitor.visit_enum(s.as_ref().into_deserializer()),
                _ => Err(de::Error::custom("expected a unit variant")),
            }
        }

        fn deserialize_newtype_struct<V: Visitor<'de>>(
            self,
            _name: &'static str,
            visitor: V,
        ) -> Result<V::Value, Error> {
            visitor.visit_newtype_struct(self)
        }

        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
            bytes byte_buf unit unit_struct seq tuple
            tuple_struct map struct identifier ignored_any
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::input;

    /// A generated tenant in the stable layout: large arrays of hundreds of elements, sorted.
    fn generated_text(users: usize) -> String {
        let mut snapshot = crate::synthetic::generate(&crate::synthetic::SyntheticOptions {
            users,
            ..Default::default()
        });
        normalise(&mut snapshot);
        to_stable_json(&snapshot)
    }

    /// The typed snapshot built from `text`'s values in two steps, as a scan builds it.
    fn from_values(text: &str, threads: usize) -> Result<Option<Snapshot>, SnapshotError> {
        let parsed = input::parse_parallel(text, 2);
        let parsed = parsed.expect("the text parses into values");
        assert!(!parsed.lossy);
        let skeleton = skeleton_from_value(&parsed.value, parsed.lossy).expect("a skeleton");
        complete_from_value(Path::new("t.json"), skeleton, parsed.value, threads)
    }

    /// The large arrays, deserialized on one to three threads, come back element for
    /// element as the serde_json parse of the same text reads them.
    #[test]
    fn large_arrays_from_the_values_equal_the_text_parse() {
        let text = generated_text(400);
        let expected = parse(Path::new("t.json"), &text).unwrap();
        assert!(expected.users.len() > 100 && expected.inbox_rules.len() > 500);
        for threads in [1, 2, 3] {
            let got = from_values(&text, threads)
                .unwrap()
                .expect("the values deserialize");
            assert_eq!(got.users, expected.users, "{threads} threads");
            assert_eq!(got.mailboxes, expected.mailboxes, "{threads} threads");
            assert_eq!(got.inbox_rules, expected.inbox_rules, "{threads} threads");
            assert_eq!(got, expected, "{threads} threads");
        }
    }

    /// A check of the inbox rules made beforehand (`InboxRulesChecked`) gives the snapshot
    /// of a check made in `complete_for_reports`, and counts only for the very array it
    /// checked: a made-up answer for these elements is taken (so the check is not made
    /// twice), one for an equal copy of them is not.
    #[test]
    fn a_check_made_beforehand_counts_only_for_its_own_array() {
        let text = generated_text(400);
        let parsed = input::parse_parallel(&text, 2).expect("the text parses into values");
        let named: std::collections::HashSet<&str> = ["not an id"].into();
        let complete = |value: &regorus::Value, checked: Option<InboxRulesChecked>| {
            let skeleton = skeleton_from_value(value, false).expect("a skeleton");
            complete_for_reports(
                Path::new("t.json"),
                skeleton,
                value.clone(),
                &named,
                checked,
                2,
            )
            .unwrap()
            .map(|(snapshot, unkept)| (snapshot, unkept.ids))
        };
        let expected = complete(&parsed.value, None).expect("the values deserialize");
        assert!(expected.1.len() > 500);
        let array = InboxRulesChecked::array_of(&parsed.value).expect("inbox rules");
        let checked = InboxRulesChecked::check(array.clone(), 2);
        assert_eq!(checked.ids.as_ref(), Some(&expected.1));
        assert_eq!(
            complete(&parsed.value, Some(checked)),
            Some(expected.clone())
        );

        let made_up = || InboxRulesChecked {
            array: array.clone(),
            ids: None,
        };
        assert_eq!(complete(&parsed.value, Some(made_up())), None);
        // The same snapshot parsed again: equal values, other elements.
        let again = input::parse_parallel(&text, 2).unwrap().value;
        assert_eq!(again, parsed.value);
        assert_eq!(complete(&again, Some(made_up())), Some(expected));
    }

    /// The line of the `index`-th element of the array `key` in a stable-layout text.
    fn element_line(text: &str, key: &str, index: usize) -> (usize, String) {
        let lines: Vec<&str> = text.lines().collect();
        let open = lines
            .iter()
            .position(|l| l.trim_start().starts_with(&format!("\"{key}\": [")))
            .expect("the array's line");
        (open + 1 + index, lines[open + 1 + index].to_owned())
    }

    fn replace_line(text: &str, line: usize, with: &str) -> String {
        let mut lines: Vec<&str> = text.lines().collect();
        lines[line] = with;
        let mut out = lines.join("\n");
        out.push('\n');
        out
    }

    /// A repeated id in the last inbox rule is refused with the error of the text parse,
    /// naming the id and the array: next to its twin (sorted, the one-pass check) and far
    /// from it (out of order, the set).
    #[test]
    fn a_repeated_id_in_the_last_element_is_refused_like_the_text_parse() {
        let text = generated_text(400);
        let snapshot = parse(Path::new("t.json"), &text).unwrap();
        let n = snapshot.inbox_rules.len();
        for twin in [n - 2, 0] {
            let id = &snapshot.inbox_rules[twin].id;
            let (line, last) = element_line(&text, "inbox_rules", n - 1);
            let last_id = &snapshot.inbox_rules[n - 1].id;
            let edited = replace_line(
                &text,
                line,
                &last.replace(
                    &format!("\"id\":\"{last_id}\""),
                    &format!("\"id\":\"{id}\""),
                ),
            );
            assert_ne!(edited, text, "the id was replaced");
            let want = format!("t.json: duplicate id {id:?} in `inbox_rules`");
            let from_text = parse(Path::new("t.json"), &edited).unwrap_err();
            assert_eq!(from_text.to_string(), want);
            for threads in [1, 2] {
                let Err(from_values) = from_values(&edited, threads) else {
                    panic!("the repeated id {id} was accepted");
                };
                assert_eq!(from_values.to_string(), want);
            }
        }
    }

    /// An element in the middle of a large array that does not fit the model makes the
    /// whole result `None` (the caller then parses the text, whose error names the line),
    /// whichever thread meets it.
    #[test]
    fn a_bad_element_in_the_middle_of_an_array_gives_none() {
        let text = generated_text(400);
        let snapshot = parse(Path::new("t.json"), &text).unwrap();
        for (key, index) in [
            ("inbox_rules", snapshot.inbox_rules.len() / 2),
            ("users", snapshot.users.len() / 2),
            ("mailboxes", snapshot.mailboxes.len() / 2),
        ] {
            let (line, element) = element_line(&text, key, index);
            // An unknown field: the model refuses it (deny_unknown_fields).
            let bad = element.replacen("{", "{\"not_a_field\":1,", 1);
            let edited = replace_line(&text, line, &bad);
            assert!(parse(Path::new("t.json"), &edited).is_err(), "{key}");
            for threads in [1, 2, 3] {
                assert!(
                    from_values(&edited, threads).unwrap().is_none(),
                    "{key}, {threads} threads"
                );
            }
        }
    }

    /// The one-pass check of sorted ids and the set agree with a plain set on which id
    /// repeats first, in and out of order.
    #[test]
    fn first_repeated_finds_the_first_repeat_in_array_order() {
        let plain = |ids: &[&'static str]| {
            let mut seen = std::collections::HashSet::new();
            ids.iter().copied().find(|id| !seen.insert(*id))
        };
        let cases: [&[&str]; 9] = [
            &[],
            &["a"],
            &["a", "b", "c"],
            &["a", "b", "b", "c", "c"],
            &["a", "b", "c", "c"],
            &["a", "a"],
            &["b", "a", "b"],
            &["a", "c", "b", "c", "a"],
            &["a", "b", "c", "a", "d", "d"],
        ];
        for ids in cases {
            assert_eq!(first_repeated(ids), plain(ids), "{ids:?}");
        }
        assert_eq!(first_repeated(&["a", "c", "b", "c", "a"]), Some("c"));
    }
}
