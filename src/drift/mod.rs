//! Drift: what changed between two snapshots of one tenant, and what it means for security.
//!
//! "Bad" has one definition — the rule pack. `compare` scans both snapshots with the same
//! rules and settings as `scan` and classifies the findings by fingerprint, exactly as
//! `scan --since` does: new, fixed, updated (same finding, new message) and unchanged.
//! Beside that, `diff` (the neutral differ in [`diff`]) lists every added, removed or changed
//! resource with its field-level differences; each change carries the rules that newly find
//! (or no longer find) that resource, and changes are ranked by them. A source that is in
//! `error` or `unavailable` in either snapshot is *unknown*: its arrays are not compared
//! and the result says which sources and why. `render` turns a [`Drift`] into a table,
//! JSON or Markdown.

pub mod diff;
mod findings;
pub mod render;

use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::config::Config;
use crate::findings::Severity;
use crate::policy::pack::Pack;
use crate::scan::{self, Input, ScanError};
use crate::snapshot::io;
use crate::snapshot::source::ResourceKind;
use crate::snapshot::{SourceId, SourceState};

pub use diff::resources;
pub use findings::{FindingChanges, NotCompared, Side};

/// What a change is about: a resource of one of the snapshot's arrays, or a tenant-level
/// setting that lives outside the arrays. Declaration order is the order of the summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Subject {
    /// An object of a resource array; [`ResourceKind::Tenant`] is the tenant object
    /// (name, default domain).
    Resource(ResourceKind),
    /// One verified domain (added or removed).
    VerifiedDomain,
    /// The security defaults policy.
    SecurityDefaults,
    /// A source's collection status.
    Source,
}

impl Subject {
    pub fn as_str(self) -> &'static str {
        match self {
            Subject::Resource(kind) => kind.as_str(),
            Subject::VerifiedDomain => "verified_domain",
            Subject::SecurityDefaults => "security_defaults",
            Subject::Source => "source",
        }
    }
}

impl std::fmt::Display for Subject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Subject {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    Added,
    Removed,
    Changed,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Added => "added",
            ChangeKind::Removed => "removed",
            ChangeKind::Changed => "changed",
        }
    }
}

/// One field that differs; absent fields compare as `null`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldChange {
    /// Dotted path inside the resource's JSON form (`actions.forward_to`, `mfa.methods`).
    pub path: String,
    pub old: Value,
    pub new: Value,
}

/// A rule that finds (or no longer finds) the changed resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleHit {
    pub rule_id: String,
    pub severity: Severity,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    pub kind: Subject,
    pub change: ChangeKind,
    /// The resource id within its kind (as in the snapshot).
    pub id: String,
    /// A human name: the name a rule gave the resource, else its UPN or display name.
    pub label: String,
    /// Rules with a new finding on this resource (see `Drift::findings.new`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub new_findings: Vec<RuleHit>,
    /// Rules whose finding on this resource is gone (see `Drift::findings.fixed`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fixed_findings: Vec<RuleHit>,
    /// Field-level differences (only for `changed`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldChange>,
}

impl Change {
    /// The highest severity of the new findings on this resource: what ranks the change.
    pub fn severity(&self) -> Option<Severity> {
        self.new_findings.iter().map(|h| h.severity).max()
    }

    /// A change the rule pack has an opinion on (a finding appeared or went away).
    pub fn is_security_relevant(&self) -> bool {
        !self.new_findings.is_empty() || !self.fixed_findings.is_empty()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct KindSummary {
    pub kind: Subject,
    pub added: usize,
    pub removed: usize,
    pub changed: usize,
}

/// A source's state in one snapshot (`None` status: the snapshot has no entry for it).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourceSide {
    pub status: Option<SourceState>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A source not collected completely in at least one snapshot: what it owns is not
/// compared, so nothing in it is reported as added or removed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnknownSource {
    pub source: SourceId,
    pub old: SourceSide,
    pub new: SourceSide,
    /// What was therefore not compared: subjects (`mailbox`, `security_defaults`) and
    /// fields the source adds to other objects (`user.mfa`).
    pub not_compared: Vec<String>,
}

/// The neutral part of a drift: every change, ranked only by snapshot order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResourceChanges {
    pub unknown: Vec<UnknownSource>,
    pub changes: Vec<Change>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SnapshotInfo {
    pub path: String,
    pub tenant_id: String,
    pub collected_at: DateTime<Utc>,
    pub tool_version: String,
}

/// The result of `diff`.
#[derive(Debug, Clone, Serialize)]
pub struct Drift {
    pub old: SnapshotInfo,
    pub new: SnapshotInfo,
    /// Sources whose data is unknown in either snapshot, with the reason.
    pub unknown: Vec<UnknownSource>,
    /// The rule pack's judgement of both snapshots, by fingerprint.
    pub findings: FindingChanges,
    /// Subjects with at least one change, in `Subject` order.
    pub summary: Vec<KindSummary>,
    /// Changes with new findings first (highest severity first), then those with fixed
    /// findings, then the rest; snapshot order within each.
    pub changes: Vec<Change>,
}

impl Drift {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty() && self.findings.new.is_empty() && self.findings.fixed.is_empty()
    }

    /// Changes the rule pack has an opinion on.
    pub fn security_relevant(&self) -> impl Iterator<Item = &Change> {
        self.changes.iter().filter(|c| c.is_security_relevant())
    }

    /// The ordinary changes.
    pub fn other(&self) -> impl Iterator<Item = &Change> {
        self.changes.iter().filter(|c| !c.is_security_relevant())
    }
}

/// How both snapshots are evaluated: what `scan` would use.
#[derive(Debug, Clone)]
pub struct Settings<'a> {
    pub pack: &'a Pack,
    /// m365guard.toml: allowed forwarding domains reach the rules, break-glass accounts
    /// and waivers the results, for both scans.
    pub config: Option<&'a Config>,
    /// Evaluation threads.
    pub threads: usize,
    /// Decides waiver expiry.
    pub today: NaiveDate,
}

impl<'a> Settings<'a> {
    /// Defaults: the machine's cores, today.
    pub fn new(pack: &'a Pack, config: Option<&'a Config>) -> Settings<'a> {
        Settings {
            pack,
            config,
            threads: scan::ScanSettings::default().threads,
            today: Utc::now().date_naive(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DriftError {
    #[error(transparent)]
    Scan(#[from] ScanError),
    #[error(
        "{old} is tenant {old_tenant} but {new} is tenant {new_tenant}; diff compares one \
         tenant over time"
    )]
    OtherTenant {
        old: PathBuf,
        old_tenant: String,
        new: PathBuf,
        new_tenant: String,
    },
}

/// Scan one snapshot exactly as `scan` does (the shared pipeline). The one place `diff`
/// runs the rule pack.
fn evaluate(input: Input, settings: &Settings<'_>) -> Result<scan::Outcome, ScanError> {
    let mut scan = scan::Settings::new(input, settings.pack, settings.config);
    scan.threads = settings.threads;
    scan.today = settings.today;
    scan::run(&scan)
}

/// The name a snapshot is reported under.
fn name(input: &Input) -> PathBuf {
    match input {
        Input::File(path) => path.clone(),
        Input::Text { name, .. } => name.clone(),
        Input::Live { .. } => PathBuf::from("the live collection"),
    }
}

/// Compare two snapshot files.
pub fn compare_files(old: &Path, new: &Path, settings: &Settings<'_>) -> Result<Drift, DriftError> {
    compare(
        Input::File(old.to_owned()),
        Input::File(new.to_owned()),
        settings,
    )
}

/// Scan both snapshots and diff them. Comparing two tenants is an error.
pub fn compare(old: Input, new: Input, settings: &Settings<'_>) -> Result<Drift, DriftError> {
    let (old_name, new_name) = (name(&old), name(&new));
    let old_scan = evaluate(old, settings)?;
    let new_scan = evaluate(new, settings)?;
    let (old_tenant, new_tenant) = (&old_scan.snapshot.tenant.id, &new_scan.snapshot.tenant.id);
    if !old_tenant.eq_ignore_ascii_case(new_tenant) {
        return Err(DriftError::OtherTenant {
            old: old_name,
            old_tenant: old_tenant.clone(),
            new: new_name,
            new_tenant: new_tenant.clone(),
        });
    }

    let resource_changes = diff::resources(&old_scan.snapshot, &new_scan.snapshot);
    let findings = findings::classify(&old_scan.result, &new_scan.result);
    let mut changes = resource_changes.changes;
    findings::attach(&mut changes, &findings);
    // Stable: within one rank, snapshot order is kept.
    changes.sort_by_key(|c| {
        (
            std::cmp::Reverse(c.severity()),
            c.fixed_findings.is_empty(),
            c.kind,
        )
    });

    Ok(Drift {
        old: info(&old_name, &old_scan),
        new: info(&new_name, &new_scan),
        unknown: resource_changes.unknown,
        summary: summary(&changes),
        findings,
        changes,
    })
}

/// Compare two snapshots held in memory (tests, tools): each is written in the stable
/// layout and scanned like a file.
pub fn compare_snapshots(
    old: &crate::snapshot::Snapshot,
    new: &crate::snapshot::Snapshot,
    settings: &Settings<'_>,
) -> Result<Drift, DriftError> {
    compare(
        Input::Text {
            name: PathBuf::from("old.json"),
            text: io::to_stable_json(old),
        },
        Input::Text {
            name: PathBuf::from("new.json"),
            text: io::to_stable_json(new),
        },
        settings,
    )
}

fn info(path: &Path, scan: &scan::Outcome) -> SnapshotInfo {
    SnapshotInfo {
        path: path.display().to_string(),
        tenant_id: scan.snapshot.tenant.id.clone(),
        collected_at: scan.snapshot.collection.collected_at,
        tool_version: scan.snapshot.collection.tool_version.clone(),
    }
}

/// Per-subject counts, in `Subject` order.
pub fn summary(changes: &[Change]) -> Vec<KindSummary> {
    let mut counts: std::collections::BTreeMap<Subject, KindSummary> = Default::default();
    for c in changes {
        let s = counts.entry(c.kind).or_insert(KindSummary {
            kind: c.kind,
            added: 0,
            removed: 0,
            changed: 0,
        });
        match c.change {
            ChangeKind::Added => s.added += 1,
            ChangeKind::Removed => s.removed += 1,
            ChangeKind::Changed => s.changed += 1,
        }
    }
    counts.into_values().collect()
}
