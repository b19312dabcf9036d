//! The neutral differ: which objects were added, removed or changed, field by field, with
//! no opinion on whether that is good or bad (the rule pack decides that, in `findings`).
//!
//! The arrays come from the source table (`snapshot::source`): every array of every source
//! is compared by id through hash maps (linear in the tenant size), so a new source is
//! diffed without touching this file. Data owned by a source that is `error` or
//! `unavailable` in either snapshot is unknown and not compared.

use std::collections::{HashMap, HashSet};

use serde::Serialize;
use serde_json::Value;

use super::{Change, ChangeKind, FieldChange, ResourceChanges, SourceSide, Subject, UnknownSource};
use crate::snapshot::source::{self, ResourceKind, SOURCES};
use crate::snapshot::{Snapshot, SourceId, SourceState};

/// What a source fills outside its own arrays, from its definition: the subjects of its
/// top-level sections, and the fields it adds to another source's objects.
fn owned_outside_arrays(id: SourceId) -> (Vec<Subject>, &'static [(ResourceKind, &'static str)]) {
    let def = source::def(id);
    let subjects = def
        .sections
        .iter()
        .flat_map(|section| section_subjects(section).iter().copied())
        .collect();
    (subjects, def.enriches)
}

/// The change subjects of a top-level section of the snapshot.
fn section_subjects(section: &str) -> &'static [Subject] {
    match section {
        "tenant" => &[
            Subject::Resource(ResourceKind::Tenant),
            Subject::VerifiedDomain,
        ],
        "security_defaults" => &[Subject::SecurityDefaults],
        _ => &[],
    }
}

fn side(snapshot: &Snapshot, id: SourceId) -> SourceSide {
    match snapshot.sources.get(&id) {
        Some(s) => SourceSide {
            status: Some(s.status),
            reason: s.reason.clone(),
        },
        None => SourceSide {
            status: None,
            reason: Some("not in the snapshot".to_owned()),
        },
    }
}

/// The sources not collected completely in `old` or `new`.
fn unknown_sources(old: &Snapshot, new: &Snapshot) -> Vec<UnknownSource> {
    let mut unknown = Vec::new();
    for def in &SOURCES {
        let (o, n) = (side(old, def.id), side(new, def.id));
        if o.status == Some(SourceState::Ok) && n.status == Some(SourceState::Ok) {
            continue;
        }
        let (subjects, fields) = owned_outside_arrays(def.id);
        let not_compared = def
            .resources
            .iter()
            .map(|a| a.kind().as_str().to_owned())
            .chain(subjects.iter().map(|s| s.as_str().to_owned()))
            .chain(fields.iter().map(|(kind, field)| format!("{kind}.{field}")))
            .collect();
        unknown.push(UnknownSource {
            source: def.id,
            old: o,
            new: n,
            not_compared,
        });
    }
    unknown
}

/// Every change between `old` and `new`, arrays in source-table order, except what an
/// unknown source owns.
pub fn resources(old: &Snapshot, new: &Snapshot) -> ResourceChanges {
    let unknown = unknown_sources(old, new);
    let mut skipped: HashSet<Subject> = HashSet::new();
    let mut unknown_fields: Vec<(ResourceKind, &str)> = Vec::new();
    for u in &unknown {
        let (subjects, fields) = owned_outside_arrays(u.source);
        let arrays = source::def(u.source).resources.iter();
        skipped.extend(arrays.map(|a| Subject::Resource(a.kind())));
        skipped.extend(subjects);
        unknown_fields.extend(fields.iter().copied());
    }

    let labels = Labels::new(old, new);
    let mut changes = Vec::new();
    for array in source::arrays() {
        let kind = array.kind();
        if skipped.contains(&Subject::Resource(kind)) {
            continue;
        }
        let hidden: Vec<&str> = unknown_fields
            .iter()
            .filter(|(k, _)| *k == kind)
            .map(|(_, f)| *f)
            .collect();
        compare_objects(
            kind,
            array.objects(old),
            array.objects(new),
            &hidden,
            &labels,
            &mut changes,
        );
    }
    let tenant = Subject::Resource(ResourceKind::Tenant);
    if !skipped.contains(&tenant) {
        tenant_object(old, new, &mut changes);
    }
    if !skipped.contains(&Subject::VerifiedDomain) {
        verified_domains(old, new, &mut changes);
    }
    if !skipped.contains(&Subject::SecurityDefaults)
        && old.security_defaults != new.security_defaults
    {
        changes.push(change(
            Subject::SecurityDefaults,
            ChangeKind::Changed,
            "security_defaults",
            "security defaults".to_owned(),
            field_changes(&old.security_defaults, &new.security_defaults),
        ));
    }
    sources(old, new, &mut changes);
    ResourceChanges { unknown, changes }
}

fn change(
    kind: Subject,
    change: ChangeKind,
    id: &str,
    label: String,
    fields: Vec<FieldChange>,
) -> Change {
    Change {
        kind,
        change,
        id: id.to_owned(),
        label,
        new_findings: Vec::new(),
        fixed_findings: Vec::new(),
        fields,
    }
}

/// Match `old` and `new` objects by id; `hidden` fields (owned by an unknown source) are
/// not compared.
fn compare_objects(
    kind: ResourceKind,
    old: Vec<(String, Value)>,
    new: Vec<(String, Value)>,
    hidden: &[&str],
    labels: &Labels<'_>,
    out: &mut Vec<Change>,
) {
    let subject = Subject::Resource(kind);
    let new_ids: HashSet<&str> = new.iter().map(|(id, _)| id.as_str()).collect();
    let mut old_by_id: HashMap<&str, &Value> = old.iter().map(|(id, v)| (id.as_str(), v)).collect();
    for (id, n) in &new {
        let (change_kind, fields) = match old_by_id.remove(id.as_str()) {
            None => (ChangeKind::Added, Vec::new()),
            Some(o) if o == n => continue,
            Some(o) => {
                let mut fields = Vec::new();
                diff_values(&mut String::new(), o, n, &mut fields);
                fields.retain(|f| !hidden.iter().any(|h| is_under(&f.path, h)));
                if fields.is_empty() {
                    continue;
                }
                (ChangeKind::Changed, fields)
            }
        };
        out.push(change(
            subject,
            change_kind,
            id,
            labels.of(kind, id, n),
            fields,
        ));
    }
    for (id, o) in &old {
        if !new_ids.contains(id.as_str()) {
            out.push(change(
                subject,
                ChangeKind::Removed,
                id,
                labels.of(kind, id, o),
                Vec::new(),
            ));
        }
    }
}

/// `path` is `field` or inside it.
fn is_under(path: &str, field: &str) -> bool {
    path.strip_prefix(field)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
}

/// The tenant object's own fields; verified domains are listed one by one instead.
fn tenant_object(old: &Snapshot, new: &Snapshot, out: &mut Vec<Change>) {
    let mut fields = field_changes(&old.tenant, &new.tenant);
    fields.retain(|f| !is_under(&f.path, "verified_domains"));
    if !fields.is_empty() {
        let label = new
            .tenant
            .display_name
            .clone()
            .unwrap_or_else(|| new.tenant.id.clone());
        out.push(change(
            Subject::Resource(ResourceKind::Tenant),
            ChangeKind::Changed,
            &new.tenant.id,
            label,
            fields,
        ));
    }
}

fn verified_domains(old: &Snapshot, new: &Snapshot, out: &mut Vec<Change>) {
    let set = |s: &Snapshot| -> HashSet<String> {
        s.tenant
            .verified_domains
            .iter()
            .map(|d| d.to_ascii_lowercase())
            .collect()
    };
    let (old_set, new_set) = (set(old), set(new));
    let mut added: Vec<&String> = new_set.difference(&old_set).collect();
    let mut removed: Vec<&String> = old_set.difference(&new_set).collect();
    added.sort();
    removed.sort();
    for (domains, kind) in [(added, ChangeKind::Added), (removed, ChangeKind::Removed)] {
        for domain in domains {
            out.push(change(
                Subject::VerifiedDomain,
                kind,
                domain,
                domain.clone(),
                Vec::new(),
            ));
        }
    }
}

/// Source statuses; item counts alone change on every run and are not reported.
fn sources(old: &Snapshot, new: &Snapshot, out: &mut Vec<Change>) {
    for (source, n) in &new.sources {
        let o = old.sources.get(source);
        let (kind, fields) = match o {
            None => (ChangeKind::Added, Vec::new()),
            Some(o) if o.status == n.status && o.reason == n.reason => continue,
            Some(o) => {
                let mut fields = field_changes(o, n);
                fields.retain(|f| f.path != "items");
                (ChangeKind::Changed, fields)
            }
        };
        out.push(change(
            Subject::Source,
            kind,
            source.as_str(),
            source.as_str().to_owned(),
            fields,
        ));
    }
    for source in old.sources.keys() {
        if !new.sources.contains_key(source) {
            out.push(change(
                Subject::Source,
                ChangeKind::Removed,
                source.as_str(),
                source.as_str().to_owned(),
                Vec::new(),
            ));
        }
    }
}

/// Human names for changed objects, read from their JSON form. Only display: nothing
/// here judges a change.
struct Labels<'a> {
    /// Role definition names by id (new ones win), for assignment labels.
    roles: HashMap<&'a str, &'a str>,
}

impl<'a> Labels<'a> {
    fn new(old: &'a Snapshot, new: &'a Snapshot) -> Self {
        let roles = old
            .roles
            .definitions
            .iter()
            .chain(&new.roles.definitions)
            .map(|d| (d.id.as_str(), d.display_name.as_str()))
            .collect();
        Labels { roles }
    }

    fn of(&self, kind: ResourceKind, id: &str, value: &Value) -> String {
        let field = |name: &str| value.get(name).and_then(Value::as_str);
        match kind {
            ResourceKind::InboxRule => {
                if let (Some(name), Some(mailbox)) = (field("name"), field("mailbox_upn")) {
                    return format!("rule {name:?} on {mailbox}");
                }
            }
            ResourceKind::RoleAssignment | ResourceKind::RoleEligibility => {
                let role = field("role_definition_id").unwrap_or_default();
                let role = self.roles.get(role).copied().unwrap_or(role);
                let principal = field("principal_name")
                    .or(field("principal_id"))
                    .unwrap_or_default();
                let scope = match field("directory_scope_id") {
                    Some("/") | None => String::new(),
                    Some(scope) => format!(" (scope {scope})"),
                };
                return format!("{role} → {principal}{scope}");
            }
            _ => {}
        }
        ["user_principal_name", "display_name", "name"]
            .into_iter()
            .find_map(field)
            .unwrap_or(id)
            .to_owned()
    }
}

/// Field-level differences between two values of one type.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_section_a_source_fills_has_a_change_subject() {
        for def in &SOURCES {
            for section in def.sections {
                assert!(
                    !section_subjects(section).is_empty(),
                    "{}: section `{section}` has no diff subject",
                    def.id
                );
            }
        }
    }
}
