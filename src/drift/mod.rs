//! Drift: what changed between two snapshots of one tenant, ranked by security relevance.
//!
//! Every resource kind is matched by id through hash maps (linear in the tenant size, so a
//! 100k-user diff stays fast): a resource is added, removed, or changed, and a change lists
//! its fields by path (`actions.forward_to`) with old and new JSON values. Each change is then
//! assessed: the back doors an attacker leaves after a mailbox compromise (external
//! forwarding, hiding inbox rules, new privileged assignments, senders blocked for spam) rank
//! first, weakened controls (MFA removed, CA policy disabled, auto-forwarding allowed) next,
//! ordinary churn last. `render` turns the result into a table, JSON or Markdown.

pub mod render;

use std::cmp::Reverse;
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use crate::snapshot::model::*;

/// What kind of resource changed. Declaration order is the order of the summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ResourceKind {
    User,
    Mailbox,
    InboxRule,
    RoleAssignment,
    EligibleRoleAssignment,
    RoleDefinition,
    OutboundSpamPolicy,
    RestrictedSender,
    CaPolicy,
    RiskyUser,
    SecurityDefaults,
    VerifiedDomain,
    Source,
}

impl ResourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceKind::User => "user",
            ResourceKind::Mailbox => "mailbox",
            ResourceKind::InboxRule => "inbox_rule",
            ResourceKind::RoleAssignment => "role_assignment",
            ResourceKind::EligibleRoleAssignment => "eligible_role_assignment",
            ResourceKind::RoleDefinition => "role_definition",
            ResourceKind::OutboundSpamPolicy => "outbound_spam_policy",
            ResourceKind::RestrictedSender => "restricted_sender",
            ResourceKind::CaPolicy => "ca_policy",
            ResourceKind::RiskyUser => "risky_user",
            ResourceKind::SecurityDefaults => "security_defaults",
            ResourceKind::VerifiedDomain => "verified_domain",
            ResourceKind::Source => "source",
        }
    }
}

impl std::fmt::Display for ResourceKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
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

/// How much a change matters for security. `Info` is ordinary churn (no "why" text).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Relevance {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Relevance {
    pub fn as_str(self) -> &'static str {
        match self {
            Relevance::Info => "info",
            Relevance::Low => "low",
            Relevance::Medium => "medium",
            Relevance::High => "high",
            Relevance::Critical => "critical",
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

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    pub relevance: Relevance,
    pub kind: ResourceKind,
    pub change: ChangeKind,
    /// The resource id within its kind (as in the snapshot).
    pub id: String,
    /// A human name: UPN, rule name and mailbox, role and principal, policy name.
    pub label: String,
    /// Why it matters, for anything above `info`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
    /// Field-level differences (only for `changed`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldChange>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct KindSummary {
    pub kind: ResourceKind,
    pub added: usize,
    pub removed: usize,
    pub changed: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SnapshotInfo {
    pub tenant_id: String,
    pub collected_at: DateTime<Utc>,
    pub tool_version: String,
}

impl SnapshotInfo {
    fn of(snapshot: &Snapshot) -> Self {
        SnapshotInfo {
            tenant_id: snapshot.tenant.id.clone(),
            collected_at: snapshot.collection.collected_at,
            tool_version: snapshot.collection.tool_version.clone(),
        }
    }
}

/// The result of `diff`: changes ranked most relevant first, plus per-kind counts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Changes {
    pub old: SnapshotInfo,
    pub new: SnapshotInfo,
    /// Kinds with at least one change, in `ResourceKind` order.
    pub summary: Vec<KindSummary>,
    pub changes: Vec<Change>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// Changes above `info`, i.e. those with a "why it matters".
    pub fn security_relevant(&self) -> impl Iterator<Item = &Change> {
        self.changes
            .iter()
            .filter(|c| c.relevance > Relevance::Info)
    }

    /// The ordinary changes (`info`).
    pub fn other(&self) -> impl Iterator<Item = &Change> {
        self.changes
            .iter()
            .filter(|c| c.relevance == Relevance::Info)
    }
}

/// Compare two snapshots. The caller decides whether comparing different tenants is an
/// error (`SnapshotInfo::tenant_id` of both sides is kept).
pub fn diff(old: &Snapshot, new: &Snapshot) -> Changes {
    let ctx = Context::new(old, new);
    let mut d = Differ {
        ctx: &ctx,
        changes: Vec::new(),
    };

    d.compare(
        ResourceKind::User,
        &old.users,
        &new.users,
        |u| &u.id,
        |u| u.user_principal_name.clone(),
        Context::assess_user,
    );
    d.compare(
        ResourceKind::Mailbox,
        &old.mailboxes,
        &new.mailboxes,
        |m| &m.id,
        |m| m.user_principal_name.clone(),
        Context::assess_mailbox,
    );
    d.compare(
        ResourceKind::InboxRule,
        &old.inbox_rules,
        &new.inbox_rules,
        |r| &r.id,
        |r| format!("rule {:?} on {}", r.name, r.mailbox_upn),
        Context::assess_inbox_rule,
    );
    d.compare(
        ResourceKind::RoleAssignment,
        &old.roles.assignments,
        &new.roles.assignments,
        |a| &a.id,
        |a| ctx.assignment_label(a),
        |c, o, n| c.assess_assignment(o, n, false),
    );
    d.compare(
        ResourceKind::EligibleRoleAssignment,
        &old.roles.eligible_assignments,
        &new.roles.eligible_assignments,
        |a| &a.id,
        |a| ctx.assignment_label(a),
        |c, o, n| c.assess_assignment(o, n, true),
    );
    d.compare(
        ResourceKind::RoleDefinition,
        &old.roles.definitions,
        &new.roles.definitions,
        |r| &r.id,
        |r| r.display_name.clone(),
        |_, _, _| Assessment::default(),
    );
    d.compare(
        ResourceKind::OutboundSpamPolicy,
        &old.outbound_spam.policies,
        &new.outbound_spam.policies,
        |p| &p.id,
        |p| p.id.clone(),
        Context::assess_outbound_policy,
    );
    d.compare(
        ResourceKind::RestrictedSender,
        &old.outbound_spam.restricted_senders,
        &new.outbound_spam.restricted_senders,
        |s| &s.id,
        |s| s.id.clone(),
        Context::assess_restricted_sender,
    );
    d.compare(
        ResourceKind::CaPolicy,
        &old.conditional_access.policies,
        &new.conditional_access.policies,
        |p| &p.id,
        |p| p.display_name.clone(),
        Context::assess_ca_policy,
    );
    d.compare(
        ResourceKind::RiskyUser,
        &old.risky_users,
        &new.risky_users,
        |r| &r.id,
        |r| r.user_principal_name.clone(),
        Context::assess_risky_user,
    );
    d.security_defaults(&old.security_defaults, &new.security_defaults);
    d.verified_domains(&old.tenant.verified_domains, &new.tenant.verified_domains);
    d.sources(old, new);

    let mut changes = d.changes;
    // Stable: within one relevance and kind, snapshot (id) order is kept.
    changes.sort_by_key(|c| (Reverse(c.relevance), c.kind));

    let mut counts: HashMap<ResourceKind, KindSummary> = HashMap::new();
    for c in &changes {
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
    let mut summary: Vec<KindSummary> = counts.into_values().collect();
    summary.sort_by_key(|s| s.kind);

    Changes {
        old: SnapshotInfo::of(old),
        new: SnapshotInfo::of(new),
        summary,
        changes,
    }
}

/// Reasons collected while assessing one change; the highest relevance wins.
#[derive(Debug, Default)]
struct Assessment {
    reasons: Vec<(Relevance, String)>,
}

impl Assessment {
    fn add(&mut self, relevance: Relevance, why: String) {
        self.reasons.push((relevance, why));
    }

    fn relevance(&self) -> Relevance {
        self.reasons
            .iter()
            .map(|(r, _)| *r)
            .max()
            .unwrap_or(Relevance::Info)
    }

    /// Lower every reason to at most `cap` (e.g. a rule that is disabled).
    fn cap(&mut self, cap: Relevance) {
        for (r, _) in &mut self.reasons {
            *r = (*r).min(cap);
        }
    }

    fn why(mut self) -> Option<String> {
        if self.reasons.is_empty() {
            return None;
        }
        self.reasons.sort_by_key(|(r, _)| Reverse(*r));
        let texts: Vec<String> = self.reasons.into_iter().map(|(_, w)| w).collect();
        Some(texts.join(" "))
    }
}

/// What the assessments need from both snapshots.
struct Context<'a> {
    /// Verified domains of the new snapshot, lower-case: everything else is external.
    domains: Vec<String>,
    /// Role definitions by id, new ones winning over old.
    roles: HashMap<&'a str, &'a RoleDefinition>,
}

struct Differ<'c, 'a> {
    ctx: &'c Context<'a>,
    changes: Vec<Change>,
}

impl<'c, 'a> Differ<'c, 'a> {
    /// Match `old` and `new` by id and record every added, removed or changed resource.
    fn compare<T: Serialize + PartialEq>(
        &mut self,
        kind: ResourceKind,
        old: &[T],
        new: &[T],
        id: impl Fn(&T) -> &String,
        label: impl Fn(&T) -> String,
        assess: impl Fn(&Context<'a>, Option<&T>, Option<&T>) -> Assessment,
    ) {
        let old_by_id: HashMap<&str, &T> = old.iter().map(|x| (id(x).as_str(), x)).collect();
        let new_ids: HashSet<&str> = new.iter().map(|x| id(x).as_str()).collect();
        for n in new {
            let (change, fields, o) = match old_by_id.get(id(n).as_str()) {
                None => (ChangeKind::Added, Vec::new(), None),
                // Typed equality first: JSON conversion only for the few that differ.
                Some(o) if *o == n => continue,
                Some(o) => (ChangeKind::Changed, field_changes(*o, n), Some(*o)),
            };
            let assessment = assess(self.ctx, o, Some(n));
            self.push(kind, change, id(n), label(n), assessment, fields);
        }
        for o in old {
            if !new_ids.contains(id(o).as_str()) {
                let assessment = assess(self.ctx, Some(o), None);
                self.push(
                    kind,
                    ChangeKind::Removed,
                    id(o),
                    label(o),
                    assessment,
                    Vec::new(),
                );
            }
        }
    }

    fn push(
        &mut self,
        kind: ResourceKind,
        change: ChangeKind,
        id: &str,
        label: String,
        assessment: Assessment,
        fields: Vec<FieldChange>,
    ) {
        self.changes.push(Change {
            relevance: assessment.relevance(),
            kind,
            change,
            id: id.to_owned(),
            label,
            why: assessment.why(),
            fields,
        });
    }

    fn security_defaults(&mut self, old: &SecurityDefaults, new: &SecurityDefaults) {
        if old == new {
            return;
        }
        let mut a = Assessment::default();
        if old.is_enabled == Some(true) && new.is_enabled == Some(false) {
            a.add(
                Relevance::High,
                "Security defaults were turned off: unless conditional access policies \
                 replace them, MFA and the legacy-authentication block no longer apply."
                    .to_owned(),
            );
        }
        let fields = field_changes(old, new);
        self.push(
            ResourceKind::SecurityDefaults,
            ChangeKind::Changed,
            "security_defaults",
            "security defaults".to_owned(),
            a,
            fields,
        );
    }

    fn verified_domains(&mut self, old: &[String], new: &[String]) {
        let old_set: HashSet<String> = old.iter().map(|d| d.to_ascii_lowercase()).collect();
        let new_set: HashSet<String> = new.iter().map(|d| d.to_ascii_lowercase()).collect();
        let mut added: Vec<&String> = new_set.difference(&old_set).collect();
        let mut removed: Vec<&String> = old_set.difference(&new_set).collect();
        added.sort();
        removed.sort();
        for domain in added {
            let mut a = Assessment::default();
            a.add(
                Relevance::Medium,
                format!(
                    "New verified domain {domain}: its addresses now count as internal, so \
                     forwarding to them is no longer reported as external."
                ),
            );
            self.push(
                ResourceKind::VerifiedDomain,
                ChangeKind::Added,
                domain,
                domain.clone(),
                a,
                Vec::new(),
            );
        }
        for domain in removed {
            let mut a = Assessment::default();
            a.add(
                Relevance::Low,
                format!(
                    "Domain {domain} is no longer verified: its addresses now count as external."
                ),
            );
            self.push(
                ResourceKind::VerifiedDomain,
                ChangeKind::Removed,
                domain,
                domain.clone(),
                a,
                Vec::new(),
            );
        }
    }

    /// Source statuses; item counts alone change on every run and are not reported.
    fn sources(&mut self, old: &Snapshot, new: &Snapshot) {
        for (source, n) in &new.sources {
            let o = old.sources.get(source);
            let change = match o {
                None => ChangeKind::Added,
                Some(o) if o.status == n.status && o.reason == n.reason => continue,
                Some(_) => ChangeKind::Changed,
            };
            let mut a = Assessment::default();
            let was_ok = o.is_none_or(|o| o.status == SourceState::Ok);
            let reason = n
                .reason
                .as_deref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default();
            match n.status {
                SourceState::Error if was_ok => a.add(
                    Relevance::Medium,
                    format!(
                        "Collecting {source} failed{reason}: rules that read it are not evaluated."
                    ),
                ),
                SourceState::Unavailable if was_ok => a.add(
                    Relevance::Medium,
                    format!(
                        "{source} became unavailable{reason}: rules that read it no longer apply."
                    ),
                ),
                _ => {}
            }
            let fields = match o {
                Some(o) => field_changes(o, n)
                    .into_iter()
                    .filter(|f| f.path != "items")
                    .collect(),
                None => Vec::new(),
            };
            self.push(
                ResourceKind::Source,
                change,
                source.as_str(),
                source.as_str().to_owned(),
                a,
                fields,
            );
        }
        for source in old.sources.keys() {
            if !new.sources.contains_key(source) {
                self.push(
                    ResourceKind::Source,
                    ChangeKind::Removed,
                    source.as_str(),
                    source.as_str().to_owned(),
                    Assessment::default(),
                    Vec::new(),
                );
            }
        }
    }
}

/// Well-known folders where moved mail goes unseen, by well-known name and display names.
const HIDING_FOLDERS: [(&str, &[&str]); 6] = [
    ("rssfeeds", &["rss feeds", "rss subscriptions"]),
    ("junkemail", &["junk email", "junk e-mail"]),
    ("archive", &["archive"]),
    ("notes", &["notes"]),
    ("conversationhistory", &["conversation history"]),
    ("deleteditems", &["deleted items"]),
];

fn hiding_folder(folder: &FolderRef) -> Option<String> {
    let well_known = folder
        .well_known_name
        .as_deref()
        .map(str::to_ascii_lowercase);
    let name = folder.name.as_deref().map(str::to_lowercase);
    let path_leaf = folder.id.rsplit(['\\', '/']).next().map(str::to_lowercase);
    HIDING_FOLDERS
        .iter()
        .find(|(wk, names)| {
            well_known.as_deref() == Some(*wk)
                || name.as_deref().is_some_and(|n| names.contains(&n))
                || path_leaf.as_deref().is_some_and(|n| names.contains(&n))
        })
        .map(|_| {
            folder
                .name
                .clone()
                .or_else(|| folder.well_known_name.clone())
                .unwrap_or_else(|| folder.id.clone())
        })
}

/// How a rule keeps mail from its owner, if it does.
fn hides(rule: &InboxRule) -> Option<String> {
    if let Some(folder) = rule.actions.move_to_folder.as_ref().and_then(hiding_folder) {
        return Some(format!("moves mail to {folder}"));
    }
    if rule.actions.permanent_delete {
        return Some("permanently deletes mail".to_owned());
    }
    if rule.actions.delete {
        return Some("deletes mail".to_owned());
    }
    None
}

fn forward_targets(rule: &InboxRule) -> impl Iterator<Item = String> + '_ {
    let a = &rule.actions;
    a.forward_to
        .iter()
        .chain(&a.redirect_to)
        .chain(&a.forward_as_attachment_to)
        .map(|t| t.trim().to_ascii_lowercase())
}

fn mailbox_targets(m: &Mailbox) -> Vec<String> {
    m.forwarding_smtp_address
        .iter()
        .chain(&m.forwarding_address_smtp)
        .map(|t| t.trim().to_ascii_lowercase())
        .collect()
}

fn list(items: &[String]) -> String {
    const SHOWN: usize = 3;
    let mut s = items
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > SHOWN {
        let _ = write!(s, " and {} more", items.len() - SHOWN);
    }
    s
}

/// "a", "a and b", "a, b and c".
fn join_and(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// A rule the owner would not recognise: keyword triggers, marking read, stopping other
/// rules, hidden, or a throw-away name ("." or "..") — the attacker's shape.
fn looks_malicious(rule: &InboxRule) -> bool {
    let c = &rule.conditions;
    let keywords = !c.subject_contains.is_empty()
        || !c.body_contains.is_empty()
        || !c.subject_or_body_contains.is_empty();
    let throwaway_name = rule.name.trim().chars().all(|ch| !ch.is_alphanumeric());
    keywords
        || rule.actions.mark_as_read
        || rule.actions.stop_processing_rules
        || rule.hidden
        || throwaway_name
}

impl<'a> Context<'a> {
    fn new(old: &'a Snapshot, new: &'a Snapshot) -> Self {
        let mut roles = HashMap::new();
        for def in old.roles.definitions.iter().chain(&new.roles.definitions) {
            roles.insert(def.id.as_str(), def);
        }
        Context {
            domains: new
                .tenant
                .verified_domains
                .iter()
                .map(|d| d.trim().to_ascii_lowercase())
                .collect(),
            roles,
        }
    }

    fn is_external(&self, address: &str) -> bool {
        let domain = address.rsplit_once('@').map_or(address, |(_, d)| d);
        let domain = domain.trim().trim_end_matches('.').to_ascii_lowercase();
        !self.domains.iter().any(|d| {
            domain == *d
                || domain
                    .strip_suffix(d.as_str())
                    .is_some_and(|rest| rest.ends_with('.'))
        })
    }

    fn role_name(&self, id: &str) -> String {
        self.roles
            .get(id)
            .map_or_else(|| id.to_owned(), |d| d.display_name.clone())
    }

    fn is_privileged(&self, id: &str) -> bool {
        self.roles.get(id).is_some_and(|d| d.is_privileged)
    }

    fn assignment_label(&self, a: &RoleAssignment) -> String {
        let principal = a.principal_name.as_deref().unwrap_or(&a.principal_id);
        let scope = if a.directory_scope_id == "/" {
            String::new()
        } else {
            format!(" (scope {})", a.directory_scope_id)
        };
        format!(
            "{} → {principal}{scope}",
            self.role_name(&a.role_definition_id)
        )
    }

    fn assess_user(&self, old: Option<&User>, new: Option<&User>) -> Assessment {
        let mut a = Assessment::default();
        let Some(new) = new else { return a };
        let Some(old) = old else {
            if new.user_type == UserType::Guest {
                a.add(
                    Relevance::Low,
                    "New guest account: an outside identity can now sign in to the tenant."
                        .to_owned(),
                );
            }
            return a;
        };
        if let (Some(om), Some(nm)) = (&old.mfa, &new.mfa) {
            if om.is_mfa_registered && !nm.is_mfa_registered {
                a.add(
                    Relevance::High,
                    "The user no longer has MFA registered: a stolen password alone now signs in."
                        .to_owned(),
                );
            }
            let removed: Vec<String> = om
                .methods
                .iter()
                .filter(|m| !nm.methods.contains(m))
                .cloned()
                .collect();
            if !removed.is_empty() {
                a.add(
                    Relevance::High,
                    format!(
                        "MFA method removed ({}): attackers remove the owner's methods and \
                         register their own.",
                        list(&removed)
                    ),
                );
            }
            let added: Vec<String> = nm
                .methods
                .iter()
                .filter(|m| !om.methods.contains(m))
                .cloned()
                .collect();
            if !added.is_empty() {
                a.add(
                    Relevance::Medium,
                    format!(
                        "New MFA method registered ({}): someone holding the password can \
                         register a method to keep access; confirm it with the user.",
                        list(&added)
                    ),
                );
            }
        }
        if matches!(
            old.per_user_mfa_state,
            Some(PerUserMfaState::Enabled | PerUserMfaState::Enforced)
        ) && new.per_user_mfa_state == Some(PerUserMfaState::Disabled)
        {
            a.add(
                Relevance::High,
                "Per-user MFA was turned off: unless conditional access requires MFA, the \
                 password alone signs in."
                    .to_owned(),
            );
        }
        if !old.account_enabled && new.account_enabled {
            a.add(
                Relevance::Medium,
                "A disabled account was re-enabled: dormant accounts are a favourite foothold."
                    .to_owned(),
            );
        }
        if old.user_type != new.user_type {
            let now = match new.user_type {
                UserType::Guest => "guest",
                UserType::Member => "member",
            };
            a.add(Relevance::Low, format!("The user is now a {now}."));
        }
        a
    }

    fn assess_mailbox(&self, old: Option<&Mailbox>, new: Option<&Mailbox>) -> Assessment {
        let mut a = Assessment::default();
        let Some(new) = new else { return a };
        let before: Vec<String> = old.map(mailbox_targets).unwrap_or_default();
        let after = mailbox_targets(new);
        let (external, internal): (Vec<String>, Vec<String>) = after
            .iter()
            .filter(|t| !before.contains(t))
            .cloned()
            .partition(|t| self.is_external(t));
        let copy = if new.deliver_to_mailbox_and_forward {
            ""
        } else {
            " without keeping a copy"
        };
        if !external.is_empty() {
            a.add(
                Relevance::Critical,
                format!(
                    "The mailbox now forwards all mail to {} outside the organisation{copy}: \
                     attackers set this to keep reading mail after a password reset.",
                    list(&external)
                ),
            );
        }
        if !internal.is_empty() {
            a.add(
                Relevance::Medium,
                format!(
                    "The mailbox now forwards all mail to {}{copy}.",
                    list(&internal)
                ),
            );
        }
        let unresolved_before = old.and_then(|o| o.forwarding_address.as_deref());
        if new.forwarding_address_smtp.is_none()
            && new.forwarding_address.is_some()
            && new.forwarding_address.as_deref() != unresolved_before
        {
            a.add(
                Relevance::Medium,
                format!(
                    "The mailbox now forwards all mail to recipient {:?}, whose address was \
                     not resolved (a mail contact can point outside the organisation).",
                    new.forwarding_address.as_deref().unwrap_or_default()
                ),
            );
        }
        if let Some(old) = old {
            if external.is_empty()
                && old.deliver_to_mailbox_and_forward
                && !new.deliver_to_mailbox_and_forward
                && after.iter().any(|t| self.is_external(t))
            {
                a.add(
                    Relevance::High,
                    "Externally forwarded mail is no longer kept in the mailbox: the owner \
                     stops seeing it."
                        .to_owned(),
                );
            }
        }
        a
    }

    fn assess_inbox_rule(&self, old: Option<&InboxRule>, new: Option<&InboxRule>) -> Assessment {
        const PERSISTENCE: &str = "a classic persistence step after a mailbox compromise.";
        const HIDING: &str = "attackers hide replies and security alerts from the owner this way.";
        let mut a = Assessment::default();
        let Some(new) = new else { return a };
        // (relevance, what the rule does, why that matters), merged into one sentence.
        let mut facts: Vec<(Relevance, String, &str)> = Vec::new();
        let before: Vec<String> = old
            .map(|o| forward_targets(o).collect())
            .unwrap_or_default();
        let (external, internal): (Vec<String>, Vec<String>) = forward_targets(new)
            .filter(|t| !before.contains(t))
            .partition(|t| self.is_external(t));
        if !external.is_empty() {
            facts.push((
                Relevance::Critical,
                format!(
                    "forwards mail to {} outside the organisation",
                    list(&external)
                ),
                PERSISTENCE,
            ));
        }
        let hiding = hides(new);
        if let Some(how) = hiding
            .as_ref()
            .filter(|h| old.and_then(hides).as_ref() != Some(*h))
        {
            let relevance = if looks_malicious(new) {
                Relevance::Critical
            } else {
                Relevance::High
            };
            facts.push((relevance, how.clone(), HIDING));
        }
        if !internal.is_empty() {
            facts.push((
                Relevance::High,
                format!("forwards mail to {}", list(&internal)),
                "check it is expected: a compromised account can relay mail to another.",
            ));
        }
        let forwards_or_hides = forward_targets(new).next().is_some() || hiding.is_some();
        if old.is_some_and(|o| !o.enabled) && new.enabled && forwards_or_hides {
            facts.push((
                Relevance::High,
                "runs again after being disabled".to_owned(),
                "it forwards or hides mail.",
            ));
        }
        if new.hidden && old.is_none_or(|o| !o.hidden) {
            facts.push((
                Relevance::High,
                "hides itself from Outlook and Graph".to_owned(),
                "only Exchange admin tools show it, so the owner cannot see or delete it.",
            ));
        }
        if facts.is_empty() {
            return a;
        }
        facts.sort_by_key(|f| Reverse(f.0));
        let what = if old.is_some() {
            "The inbox rule now"
        } else {
            "A new inbox rule"
        };
        let does: Vec<String> = facts.iter().map(|f| f.1.clone()).collect();
        a.add(
            facts[0].0,
            format!("{what} {}: {}", join_and(&does), facts[0].2),
        );
        if !new.enabled {
            // Inactive today, but one click from active.
            a.cap(Relevance::High);
            a.add(
                Relevance::Info,
                "(The rule is disabled for now.)".to_owned(),
            );
        }
        a
    }

    fn assess_assignment(
        &self,
        old: Option<&RoleAssignment>,
        new: Option<&RoleAssignment>,
        eligible: bool,
    ) -> Assessment {
        let mut a = Assessment::default();
        let Some(new) = new else { return a };
        let role = self.role_name(&new.role_definition_id);
        let privileged = self.is_privileged(&new.role_definition_id);
        let (relevance, kind) = if eligible {
            (Relevance::High, "eligible")
        } else {
            (Relevance::Critical, "active")
        };
        let principal = new.principal_name.as_deref().unwrap_or(&new.principal_id);
        let is_new_holder = old.is_none_or(|o| {
            o.principal_id != new.principal_id || o.role_definition_id != new.role_definition_id
        });
        if is_new_holder {
            if privileged {
                let members = if new.group_member_ids.is_empty() {
                    String::new()
                } else {
                    format!(" ({} members)", new.group_member_ids.len())
                };
                a.add(
                    relevance,
                    format!(
                        "New {kind} assignment of the privileged role {role} to \
                         {principal}{members}: attackers grant themselves admin rights that \
                         survive a password reset."
                    ),
                );
            } else {
                a.add(
                    Relevance::Low,
                    format!("New {kind} assignment of the role {role} to {principal}."),
                );
            }
            return a;
        }
        let Some(old) = old else { return a };
        let joined: Vec<String> = new
            .group_member_ids
            .iter()
            .filter(|m| !old.group_member_ids.contains(m))
            .cloned()
            .collect();
        if privileged && !joined.is_empty() {
            a.add(
                relevance,
                format!(
                    "{} new member(s) of group {principal} now hold the privileged role \
                     {role} ({kind}): {}.",
                    joined.len(),
                    list(&joined)
                ),
            );
        }
        if privileged && old.directory_scope_id != "/" && new.directory_scope_id == "/" {
            a.add(
                Relevance::High,
                format!("The {role} assignment was widened to the whole tenant."),
            );
        }
        if privileged && old.end_date_time.is_some() && new.end_date_time.is_none() {
            a.add(
                Relevance::Medium,
                format!("The {role} assignment no longer expires."),
            );
        }
        a
    }

    fn assess_outbound_policy(
        &self,
        old: Option<&OutboundSpamPolicy>,
        new: Option<&OutboundSpamPolicy>,
    ) -> Assessment {
        let mut a = Assessment::default();
        let Some(new) = new else { return a };
        let on = |p: &OutboundSpamPolicy| p.auto_forwarding_mode.eq_ignore_ascii_case("on");
        if on(new) && old.is_none_or(|o| !on(o)) {
            a.add(
                Relevance::High,
                "Automatic forwarding to external addresses is now allowed (mode On): \
                 forwarding set by an attacker is no longer blocked."
                    .to_owned(),
            );
        }
        a
    }

    fn assess_restricted_sender(
        &self,
        old: Option<&RestrictedSender>,
        new: Option<&RestrictedSender>,
    ) -> Assessment {
        let mut a = Assessment::default();
        match (old, new) {
            (None, Some(_)) => a.add(
                Relevance::Critical,
                "Exchange blocked this sender for exceeding outbound limits: the account is \
                 very likely compromised and sending spam or phishing."
                    .to_owned(),
            ),
            (Some(_), None) => a.add(
                Relevance::Low,
                "The sender was unblocked: make sure the account was secured first.".to_owned(),
            ),
            _ => {}
        }
        a
    }

    fn assess_ca_policy(&self, old: Option<&CaPolicy>, new: Option<&CaPolicy>) -> Assessment {
        let mut a = Assessment::default();
        let enforced = |p: &CaPolicy| p.state == "enabled";
        match (old, new) {
            (Some(old), None) => {
                if enforced(old) {
                    a.add(
                        Relevance::High,
                        "An enforced conditional access policy was deleted.".to_owned(),
                    );
                } else {
                    a.add(
                        Relevance::Low,
                        "A conditional access policy (not enforced) was deleted.".to_owned(),
                    );
                }
            }
            (Some(old), Some(new)) => {
                if enforced(old) && !enforced(new) {
                    a.add(
                        Relevance::High,
                        format!(
                            "The conditional access policy is no longer enforced (state {}).",
                            new.state
                        ),
                    );
                }
                let has_mfa = |p: &CaPolicy| {
                    p.built_in_controls.iter().any(|c| c == "mfa")
                        || p.authentication_strength.is_some()
                };
                if enforced(new) && has_mfa(old) && !has_mfa(new) {
                    a.add(
                        Relevance::High,
                        "The policy no longer requires MFA.".to_owned(),
                    );
                }
                let widened = |o: &[String], n: &[String]| n.iter().any(|x| !o.contains(x));
                if new.state != "disabled"
                    && (widened(&old.exclude_users, &new.exclude_users)
                        || widened(&old.exclude_groups, &new.exclude_groups)
                        || widened(&old.exclude_roles, &new.exclude_roles)
                        || widened(&old.exclude_applications, &new.exclude_applications))
                {
                    a.add(
                        Relevance::Medium,
                        "New exclusions: more users or apps escape the policy.".to_owned(),
                    );
                }
            }
            _ => {}
        }
        a
    }

    fn assess_risky_user(&self, old: Option<&RiskyUser>, new: Option<&RiskyUser>) -> Assessment {
        let mut a = Assessment::default();
        let Some(new) = new else { return a };
        if new.risk_state == "confirmedCompromised"
            && old.is_none_or(|o| o.risk_state != "confirmedCompromised")
        {
            a.add(
                Relevance::Critical,
                "The user was confirmed compromised: run the compromised-account response."
                    .to_owned(),
            );
        } else if new.risk_level == "high" && old.is_none_or(|o| o.risk_level != "high") {
            a.add(
                Relevance::High,
                format!(
                    "Identity Protection now rates the user at high risk ({}): check sign-ins, \
                     forwarding and inbox rules.",
                    new.risk_state
                ),
            );
        }
        a
    }
}

/// Field-level differences between two values of one resource type.
fn field_changes<T: Serialize>(old: &T, new: &T) -> Vec<FieldChange> {
    let old = serde_json::to_value(old).unwrap_or_default();
    let new = serde_json::to_value(new).unwrap_or_default();
    let mut out = Vec::new();
    diff_values(&mut String::new(), &old, &new, &mut out);
    out
}

/// Recurse into objects present on both sides; anything else (arrays, scalars, an object
/// against null) is one change at its path.
fn diff_values(path: &mut String, old: &Value, new: &Value, out: &mut Vec<FieldChange>) {
    if old == new {
        return;
    }
    match (old, new) {
        (Value::Object(o), Value::Object(n)) => {
            let keys = o.keys().chain(n.keys().filter(|k| !o.contains_key(*k)));
            for key in keys {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(key);
                diff_values(
                    path,
                    o.get(key).unwrap_or(&Value::Null),
                    n.get(key).unwrap_or(&Value::Null),
                    out,
                );
                path.truncate(len);
            }
        }
        _ => out.push(FieldChange {
            path: path.clone(),
            old: old.clone(),
            new: new.clone(),
        }),
    }
}
