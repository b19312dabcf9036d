//! The join of change events onto findings, by stable ids only.
//!
//! Each event is reduced to [`Event::keys`]: namespaced, lower-cased identifiers of what
//! it changed (`inbox_rule:<mailbox>:<rule>`, `delegate:<mailbox>:<right>:<trustee>`,
//! `consent:<client sp id>:<principal id>`, `sp:<object id>`, `role_group:<group>:<member>`,
//! `role:<principal>:<role template id | definition id | name>` (`role:<principal>` when
//! the audit names no role),
//! `exo_role_assignment:<name>`, …). Each finding's resource
//! gets the same kind of keys from the snapshot ([`index`]); a finding carries an event
//! when they share a key. Mailboxes and trustees are named by object id, UPN or SMTP
//! address (the audit log records either), never by display name; an inbox rule by its
//! mailbox plus its name or rule id (the only identity `New-InboxRule` records; an Outlook
//! client's `UpdateInboxRules` keeps both outside `Parameters`); an Exchange role group
//! member by group and member, a management role assignment by its name; an auth
//! method — which the directory audit does not name — by its user plus a creation time
//! within [`METHOD_TOLERANCE_SECS`] of the registration.

use std::collections::{BTreeMap, HashMap};

use super::{Activity, ActivitySource, SignInContext};
use crate::findings::ScanResult;
use crate::investigate::{AuditEvent, DirectoryAudit, SignIn};
use crate::snapshot::model::Snapshot;

/// An auth method matches a registration event this close to its `createdDateTime`.
pub const METHOD_TOLERANCE_SECS: i64 = 600;

/// A sign-in older than this before an event is not its context.
pub const SIGN_IN_LOOKBACK_SECS: i64 = 24 * 3600;

/// One change event, normalised from either log.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub time: String,
    pub epoch: i64,
    pub operation: String,
    pub actor_upn: Option<String>,
    pub actor_id: Option<String>,
    pub ip: Option<String>,
    pub source: ActivitySource,
    pub keys: Vec<String>,
}

fn low(s: &str) -> String {
    s.trim().to_lowercase()
}

/// The directory audit activities that change what findings point at
/// (<https://learn.microsoft.com/entra/identity/monitoring-health/reference-audit-activities>).
fn audit_keys(a: &DirectoryAudit) -> Vec<String> {
    let activity = low(&a.activity);
    let actor = a.initiated_by.user_id.as_deref().map(low);
    let target_ids = |kind: &str| -> Vec<String> {
        a.targets
            .iter()
            .filter(|t| {
                t.kind
                    .as_deref()
                    .is_some_and(|k| k.eq_ignore_ascii_case(kind))
            })
            .filter_map(|t| t.id.as_deref().map(low))
            .collect()
    };
    let mut keys = Vec::new();
    if activity.starts_with("consent to application") {
        for sp in target_ids("ServicePrincipal") {
            if let Some(actor) = &actor {
                keys.push(format!("consent:{sp}:{actor}"));
            }
            keys.push(format!("consent:{sp}:*"));
        }
    } else if activity.contains("registered security info")
        || activity.contains("changed default security info")
    {
        // The audit does not name the method, only its kind in `resultReason` ("User
        // registered Mobile Phone SMS"): the kind narrows the match when it is known.
        let kind = method_kind(a.result_reason.as_deref().unwrap_or(""));
        for user in target_ids("User") {
            keys.push(format!("registered:{user}:{kind}"));
        }
    } else if activity.contains("member to role") {
        // `Add member to role`, `Add eligible member to role`, … name the role on the
        // principal target's `modifiedProperties` (`Role.TemplateId`, `Role.DisplayName`,
        // `Role.ObjectID`) and/or as a `Role` target; either form is taken. An audit that
        // names no role keeps the principal-only key: it may be any of their roles.
        let roles = audit_roles(a);
        for user in target_ids("User")
            .into_iter()
            .chain(target_ids("ServicePrincipal"))
            .chain(target_ids("Group"))
        {
            if roles.is_empty() {
                keys.push(format!("role:{user}"));
            }
            for role in &roles {
                keys.push(format!("role:{user}:{role}"));
            }
        }
    } else if activity.contains("service principal")
        || activity.contains("app role assignment")
        || activity.contains("delegated permission grant")
        || activity.contains("certificates and secrets")
    {
        for sp in target_ids("ServicePrincipal")
            .into_iter()
            .chain(target_ids("Application"))
        {
            keys.push(format!("sp:{sp}"));
        }
    } else if activity == "update user"
        || activity.contains("password")
        || activity == "add user"
        || activity.contains("authentication method")
    {
        for user in target_ids("User") {
            keys.push(format!("user:{user}"));
        }
    }
    keys
}

/// The role a role-membership audit names, lower-cased: every `Role.TemplateId`,
/// `Role.DisplayName` and `Role.ObjectID` new value on its targets
/// (<https://learn.microsoft.com/graph/api/resources/targetresource>,
/// <https://learn.microsoft.com/graph/api/resources/modifiedproperty>; the service writes
/// the values as JSON text, `"\"Exchange Administrator\""`, so one layer of quotes is
/// taken off) and the id and name of a `Role` target. Which of these the service fills
/// for which activity is not documented (UNVERIFIED): any one is enough.
fn audit_roles(a: &DirectoryAudit) -> Vec<String> {
    const NAMES: [&str; 3] = ["role.templateid", "role.displayname", "role.objectid"];
    let mut out: Vec<String> = Vec::new();
    let mut add = |v: &str| {
        let v = low(v.trim().trim_matches('"'));
        if !v.is_empty() && !out.contains(&v) {
            out.push(v);
        }
    };
    for t in &a.targets {
        for p in &t.modified_properties {
            if NAMES.contains(&low(&p.name).as_str()) {
                if let Some(v) = &p.new_value {
                    add(v);
                }
            }
        }
        if t.kind
            .as_deref()
            .is_some_and(|k| k.eq_ignore_ascii_case("Role"))
        {
            for v in [&t.id, &t.display_name].into_iter().flatten() {
                add(v);
            }
        }
    }
    out
}

/// The snapshot's `method_type` a registration's `resultReason` names; `*` when unknown.
fn method_kind(reason: &str) -> &'static str {
    let r = reason.to_lowercase();
    if r.contains("authenticator") {
        "microsoft_authenticator"
    } else if r.contains("phone") || r.contains("sms") || r.contains("voice") {
        "phone"
    } else if r.contains("fido") || r.contains("passkey") || r.contains("security key") {
        "fido2"
    } else if r.contains("email") {
        "email"
    } else if r.contains("hello") {
        "windows_hello_for_business"
    } else if r.contains("oath") || r.contains("software") {
        "software_oath"
    } else {
        "*"
    }
}

pub fn from_audits(audits: &[DirectoryAudit]) -> Vec<Event> {
    audits
        .iter()
        .map(|a| Event {
            time: a.time.clone(),
            epoch: a.epoch,
            operation: a.activity.clone(),
            actor_upn: a
                .initiated_by
                .user_principal_name
                .clone()
                .or_else(|| a.initiated_by.app_display_name.clone()),
            actor_id: a.initiated_by.user_id.clone(),
            ip: a.initiated_by.ip_address.clone(),
            source: ActivitySource::DirectoryAudit,
            keys: audit_keys(a),
        })
        .filter(|e| !e.keys.is_empty())
        .collect()
}

/// A cmdlet parameter, case-insensitively.
fn param<'a>(r: &'a AuditEvent, name: &str) -> Option<&'a str> {
    r.parameters
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.trim().is_empty())
}

/// The keys of an Exchange cmdlet record
/// (<https://learn.microsoft.com/purview/audit-log-activities#exchange-admin-activities>):
/// the `Parameters` the admin audit log keeps name the object (`Identity`, `Mailbox`,
/// `User`, `Trustee`, `Name`).
fn record_keys(r: &AuditEvent) -> Vec<String> {
    let op = low(&r.operation);
    let actor = r.user_principal_name.as_deref().map(low);
    let identity = param(r, "Identity").map(low);
    let mut keys = Vec::new();
    match op.as_str() {
        "new-inboxrule" | "set-inboxrule" => {
            // `Identity` of Set-InboxRule is `mailbox\rule`; New-InboxRule names the
            // mailbox in `Mailbox` (or acts on the caller's own).
            let (mailbox, rule) = match identity.as_deref().and_then(|i| i.split_once('\\')) {
                Some((m, r)) => (Some(m.to_owned()), Some(r.to_owned())),
                None => (param(r, "Mailbox").map(low).or(actor), identity.clone()),
            };
            let name = param(r, "Name").map(low);
            if let Some(mailbox) = mailbox {
                for rule in [rule, name].into_iter().flatten() {
                    keys.push(format!("inbox_rule:{mailbox}:{rule}"));
                }
            }
        }
        "set-mailbox" => {
            let forwards = ["ForwardingSmtpAddress", "ForwardingAddress"]
                .iter()
                .any(|p| r.parameters.keys().any(|k| k.eq_ignore_ascii_case(p)));
            if let (true, Some(id)) = (forwards, &identity) {
                keys.push(format!("mailbox:{id}"));
            }
            if let (Some(id), Some(_)) = (&identity, param(r, "GrantSendOnBehalfTo")) {
                keys.push(format!("delegate:{id}:send_on_behalf:*"));
            }
        }
        "add-mailboxpermission" => {
            if let (Some(id), Some(user)) = (&identity, param(r, "User")) {
                keys.push(format!("delegate:{id}:full_access:{}", low(user)));
            }
        }
        "add-recipientpermission" => {
            if let (Some(id), Some(user)) = (&identity, param(r, "Trustee")) {
                keys.push(format!("delegate:{id}:send_as:{}", low(user)));
            }
        }
        "add-mailboxfolderpermission" | "set-mailboxfolderpermission" => {
            if let (Some(id), Some(user)) = (&identity, param(r, "User")) {
                if let Some((mailbox, folder)) = id.split_once(':') {
                    let folder = folder.trim_start_matches('\\');
                    keys.push(format!("folder:{mailbox}:{folder}:{}", low(user)));
                }
            }
        }
        "new-transportrule" | "set-transportrule" => {
            for v in [identity.clone(), param(r, "Name").map(low)]
                .into_iter()
                .flatten()
            {
                keys.push(format!("transport_rule:{v}"));
            }
        }
        "new-outboundconnector" | "set-outboundconnector" => {
            for v in [identity.clone(), param(r, "Name").map(low)]
                .into_iter()
                .flatten()
            {
                keys.push(format!("outbound_connector:{v}"));
            }
        }
        "updateinboxrules" => {
            // An Outlook client's rule change: the mailbox audit keeps the rule in
            // `OperationProperties` (`RuleId`, `RuleName`; merged into `parameters` by
            // `investigate::audit_query`), the mailbox as its owner (`MailboxOwnerUPN`) or
            // else the signed-in user. The rule id is the store's PR_RULE_ID
            // (<https://learn.microsoft.com/office/client-developer/outlook/mapi/pidtagruleid-canonical-property>),
            // the number `Get-InboxRule` shows as `RuleIdentity`.
            let mailbox = param(r, "MailboxOwnerUPN").map(low).or(actor);
            if let Some(mailbox) = mailbox {
                for rule in [param(r, "RuleId"), param(r, "RuleName")]
                    .into_iter()
                    .flatten()
                {
                    keys.push(format!("inbox_rule:{mailbox}:{}", low(rule)));
                }
            }
        }
        "add-rolegroupmember" => {
            // <https://learn.microsoft.com/powershell/module/exchange/add-rolegroupmember>:
            // `Identity` is the role group (name, distinguished name or GUID), `Member`
            // the mailbox, mail user or group added (name, alias, address, GUID, …).
            if let (Some(group), Some(member)) = (&identity, param(r, "Member")) {
                keys.push(format!("role_group:{group}:{}", low(member)));
            }
        }
        "new-managementroleassignment" => {
            // <https://learn.microsoft.com/powershell/module/exchange/new-managementroleassignment>:
            // `Name` is the assignment's identity; without it Exchange names it
            // `<role>-<assignee>`, so the role and the assignee (`User`, `SecurityGroup`,
            // `App`, `Policy`) as given identify it then.
            if let Some(name) = param(r, "Name") {
                keys.push(format!("exo_role_assignment:{}", low(name)));
            } else if let Some(role) = param(r, "Role") {
                for who in ["User", "SecurityGroup", "App", "Policy"] {
                    if let Some(who) = param(r, who) {
                        keys.push(format!("exo_role_assignment:{}-{}", low(role), low(who)));
                    }
                }
            }
        }
        "new-remotedomain" | "set-remotedomain" => {
            for v in [
                identity.clone(),
                param(r, "Name").map(low),
                param(r, "DomainName").map(low),
            ]
            .into_iter()
            .flatten()
            {
                keys.push(format!("remote_domain:{v}"));
            }
        }
        _ => {}
    }
    keys
}

pub fn from_records(records: &[AuditEvent]) -> Vec<Event> {
    records
        .iter()
        .map(|r| Event {
            time: r.time.clone(),
            epoch: r.epoch,
            operation: r.operation.clone(),
            actor_upn: r.user_principal_name.clone(),
            actor_id: None,
            ip: r.client_ip.clone(),
            source: ActivitySource::UnifiedAuditLog,
            keys: record_keys(r),
        })
        .filter(|e| !e.keys.is_empty())
        .collect()
}

/// The keys of one snapshot resource, and (auth methods) its creation time.
#[derive(Debug, Default, Clone)]
struct ResourceKeys {
    keys: Vec<String>,
    created: Option<i64>,
}

/// Every resource a finding may point at, by (kind, id).
fn index(snapshot: &Snapshot) -> HashMap<(&'static str, String), ResourceKeys> {
    let mut out: HashMap<(&'static str, String), ResourceKeys> = HashMap::new();
    let mut put = |kind: &'static str, id: &str, keys: Vec<String>, created: Option<i64>| {
        out.insert((kind, id.to_owned()), ResourceKeys { keys, created });
    };
    for u in &snapshot.users {
        put("user", &u.id, vec![format!("user:{}", low(&u.id))], None);
    }
    for m in &snapshot.mailboxes {
        let names = [
            Some(&m.id),
            Some(&m.user_principal_name),
            m.primary_smtp_address.as_ref(),
        ];
        let keys = names
            .into_iter()
            .flatten()
            .map(|n| format!("mailbox:{}", low(n)))
            .collect();
        put("mailbox", &m.id, keys, None);
    }
    for r in &snapshot.inbox_rules {
        let mut keys = Vec::new();
        for m in [&r.mailbox_id, &r.mailbox_upn] {
            for n in [&r.name, &r.rule_id] {
                keys.push(format!("inbox_rule:{}:{}", low(m), low(n)));
            }
        }
        put("inbox_rule", &r.id, keys, None);
    }
    for d in &snapshot.mailbox_delegates {
        let right = serde_json::to_value(d.right)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let trustees = [
            Some(&d.trustee),
            d.trustee_id.as_ref(),
            d.trustee_address.as_ref(),
        ];
        let mut keys = Vec::new();
        for m in [&d.mailbox_id, &d.mailbox_upn] {
            if right == "send_on_behalf" {
                keys.push(format!("delegate:{}:send_on_behalf:*", low(m)));
            }
            for t in trustees.iter().flatten() {
                keys.push(format!("delegate:{}:{right}:{}", low(m), low(t)));
            }
        }
        put("mailbox_delegate", &d.id, keys, None);
    }
    for p in &snapshot.mailbox_folder_permissions {
        let folder = low(p.folder_path.trim_start_matches(['\\', '/']));
        let users = [
            Some(&p.user),
            p.trustee_id.as_ref(),
            p.trustee_address.as_ref(),
        ];
        let mut keys = Vec::new();
        for m in [&p.mailbox_id, &p.mailbox_upn] {
            for u in users.iter().flatten() {
                keys.push(format!("folder:{}:{folder}:{}", low(m), low(u)));
            }
        }
        put("mailbox_folder_permission", &p.id, keys, None);
    }
    for t in &snapshot.transport_rules {
        let keys = vec![
            format!("transport_rule:{}", low(&t.id)),
            format!("transport_rule:{}", low(&t.name)),
        ];
        put("transport_rule", &t.id, keys, None);
    }
    for c in &snapshot.outbound_connectors {
        let keys = vec![
            format!("outbound_connector:{}", low(&c.id)),
            format!("outbound_connector:{}", low(&c.name)),
        ];
        put("outbound_connector", &c.id, keys, None);
    }
    for d in &snapshot.remote_domains {
        let keys = vec![
            format!("remote_domain:{}", low(&d.id)),
            format!("remote_domain:{}", low(&d.domain_name)),
        ];
        put("remote_domain", &d.id, keys, None);
    }
    for m in &snapshot.exchange_role_groups {
        let groups = [Some(&m.role_group), m.role_group_id.as_ref()];
        let members = [
            Some(&m.member),
            m.member_id.as_ref(),
            m.member_address.as_ref(),
        ];
        let mut keys = Vec::new();
        for g in groups.iter().flatten() {
            for who in members.iter().flatten() {
                keys.push(format!("role_group:{}:{}", low(g), low(who)));
            }
        }
        put("exchange_role_group_member", &m.id, keys, None);
    }
    for a in &snapshot.exchange_role_assignments {
        let names = [
            Some(a.id.clone()),
            a.guid.clone(),
            Some(format!("{}-{}", a.role, a.assignee)),
        ];
        let keys = names
            .into_iter()
            .flatten()
            .map(|n| format!("exo_role_assignment:{}", low(&n)))
            .collect();
        put("exchange_role_assignment", &a.id, keys, None);
    }
    let apps = &snapshot.apps;
    for sp in &apps.service_principals {
        let keys = vec![
            format!("sp:{}", low(&sp.id)),
            format!("sp:{}", low(&sp.app_id)),
        ];
        put("service_principal", &sp.id, keys, None);
    }
    for c in &apps.credentials {
        let keys = vec![
            format!("sp:{}", low(&c.owner_id)),
            format!("sp:{}", low(&c.app_id)),
        ];
        put("app_credential", &c.id, keys, None);
    }
    for g in &apps.consent_grants {
        let principal = g.principal_id.as_deref().map(low).unwrap_or("*".into());
        let keys = vec![format!("consent:{}:{principal}", low(&g.client_id))];
        put("consent_grant", &g.id, keys, None);
    }
    for m in &snapshot.auth_methods {
        // Phone methods have no `createdDateTime` in Graph: they match a registration of
        // their kind only; dated methods also one of unknown kind, near their creation.
        let user = low(&m.user_id);
        let mut keys = vec![format!("registered:{user}:{}", low(&m.method_type))];
        if m.created_date_time.is_some() {
            keys.push(format!("registered:{user}:*"));
        }
        put(
            "auth_method",
            &m.id,
            keys,
            m.created_date_time.map(|t| t.timestamp()),
        );
    }
    // A role assignment answers to its principal alone (audits that name no role) and to
    // its principal with its role's definition id, template id or display name.
    let definitions: HashMap<&str, &crate::snapshot::model::RoleDefinition> = snapshot
        .roles
        .definitions
        .iter()
        .map(|d| (d.id.as_str(), d))
        .collect();
    for r in snapshot
        .roles
        .assignments
        .iter()
        .chain(&snapshot.roles.eligible_assignments)
    {
        let principal = low(&r.principal_id);
        let mut keys = vec![
            format!("role:{principal}"),
            format!("role:{principal}:{}", low(&r.role_definition_id)),
        ];
        if let Some(d) = definitions.get(r.role_definition_id.as_str()) {
            for v in [d.template_id.as_ref(), Some(&d.display_name)]
                .into_iter()
                .flatten()
            {
                keys.push(format!("role:{principal}:{}", low(v)));
            }
        }
        put("role_assignment", &r.id, keys, None);
    }
    out
}

/// Whether `event` changed the resource with these keys.
fn touches(event: &Event, resource: &ResourceKeys) -> bool {
    event.keys.iter().any(|k| {
        resource.keys.contains(k)
            && (!k.starts_with("registered:")
                || resource
                    .created
                    .is_none_or(|c| (c - event.epoch).abs() <= METHOD_TOLERANCE_SECS))
    })
}

/// Which events touched which finding: (outcome index, finding index, event indexes).
pub type Matches = Vec<(usize, usize, Vec<usize>)>;

pub fn matches(result: &ScanResult, snapshot: &Snapshot, events: &[Event]) -> Matches {
    let index = index(snapshot);
    let mut out = Vec::new();
    for (o, outcome) in result.outcomes.iter().enumerate() {
        for (f, finding) in outcome.findings.iter().enumerate() {
            let Some(resource) =
                index.get(&(finding.resource.kind.as_str(), finding.resource.id.clone()))
            else {
                continue;
            };
            let hits: Vec<usize> = events
                .iter()
                .enumerate()
                .filter(|(_, e)| touches(e, resource))
                .map(|(i, _)| i)
                .collect();
            if !hits.is_empty() {
                out.push((o, f, hits));
            }
        }
    }
    out
}

/// The actor's object id: the event's own, else the snapshot user with that UPN.
pub fn actor_id(event: &Event, users_by_upn: &HashMap<String, String>) -> Option<String> {
    event.actor_id.clone().or_else(|| {
        event
            .actor_upn
            .as_deref()
            .and_then(|u| users_by_upn.get(&low(u)).cloned())
    })
}

pub fn users_by_upn(snapshot: &Snapshot) -> HashMap<String, String> {
    snapshot
        .users
        .iter()
        .map(|u| (low(&u.user_principal_name), u.id.clone()))
        .collect()
}

/// When each auth method was registered: its `createdDateTime`, else (phones, which Graph
/// does not date) the latest registration event of its kind for its user. By method id.
pub fn registrations(
    methods: &[crate::snapshot::model::AuthMethod],
    events: &[Event],
) -> BTreeMap<String, (String, i64)> {
    let mut out = BTreeMap::new();
    for m in methods {
        if let Some(t) = m.created_date_time {
            let time = t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            out.insert(m.id.clone(), (time, t.timestamp()));
            continue;
        }
        let key = format!("registered:{}:{}", low(&m.user_id), low(&m.method_type));
        if let Some(e) = events
            .iter()
            .filter(|e| e.keys.contains(&key))
            .max_by_key(|e| e.epoch)
        {
            out.insert(m.id.clone(), (e.time.clone(), e.epoch));
        }
    }
    out
}

/// A sign-in Identity Protection rated medium or high, or with risk events.
pub fn is_suspicious(s: &SignIn) -> bool {
    suspicious(s)
}

fn suspicious(s: &SignIn) -> bool {
    matches!(s.risk_level.as_deref(), Some("medium" | "high")) || !s.risk_event_types.is_empty()
}

/// The sign-in context of an event from the actor's sign-ins.
fn sign_in_context(event: &Event, sign_ins: &[SignIn]) -> (Option<String>, Option<SignInContext>) {
    let country = event.ip.as_ref().and_then(|ip| {
        sign_ins
            .iter()
            .find(|s| s.ip_address.as_ref() == Some(ip))
            .and_then(|s| s.country.clone())
    });
    let before = |same: bool| {
        sign_ins
            .iter()
            .filter(|s| s.error_code.unwrap_or(0) == 0)
            .filter(|s| s.epoch <= event.epoch && event.epoch - s.epoch <= SIGN_IN_LOOKBACK_SECS)
            .filter(|s| !same || (event.ip.is_some() && s.ip_address == event.ip))
            .max_by_key(|s| s.epoch)
    };
    let context = before(true)
        .or_else(|| before(false))
        .map(|s| SignInContext {
            time: s.time.clone(),
            ip: s.ip_address.clone(),
            country: s.country.clone(),
            suspicious: suspicious(s),
            same_ip: event.ip.is_some() && s.ip_address == event.ip,
            minutes_before: (event.epoch - s.epoch) / 60,
        });
    (country, context)
}

/// Put the matched events on the findings, oldest first; returns how many findings got
/// activity. `sign_ins` are by actor object id (lower-case).
pub fn apply(
    result: &mut ScanResult,
    matches: &Matches,
    events: &[Event],
    sign_ins: &BTreeMap<String, Vec<SignIn>>,
    users_by_upn: &HashMap<String, String>,
) -> usize {
    for (o, f, hits) in matches {
        let Some(finding) = result
            .outcomes
            .get_mut(*o)
            .and_then(|x| x.findings.get_mut(*f))
        else {
            continue;
        };
        let mut list: Vec<(i64, Activity)> = hits
            .iter()
            .filter_map(|i| events.get(*i))
            .map(|e| {
                let theirs = actor_id(e, users_by_upn)
                    .and_then(|id| sign_ins.get(&low(&id)))
                    .map(Vec::as_slice)
                    .unwrap_or(&[]);
                let (country, signin) = sign_in_context(e, theirs);
                (
                    e.epoch,
                    Activity {
                        time: e.time.clone(),
                        operation: e.operation.clone(),
                        actor: e.actor_upn.clone(),
                        ip: e.ip.clone(),
                        country,
                        source: e.source,
                        signin,
                    },
                )
            })
            .collect();
        list.sort_by(|a, b| (a.0, &a.1.time).cmp(&(b.0, &b.1.time)));
        finding.activity = Some(list.into_iter().map(|(_, a)| a).collect());
    }
    matches.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::investigate::{AuditTarget, Initiator};

    fn record(op: &str, upn: &str, params: &[(&str, &str)]) -> AuditEvent {
        AuditEvent {
            id: "1".into(),
            time: "2025-12-31T02:16:45Z".into(),
            epoch: 1_767_147_405,
            operation: op.into(),
            workload: Some("Exchange".into()),
            record_type: None,
            user_principal_name: Some(upn.into()),
            client_ip: Some("185.220.101.47".into()),
            object_id: None,
            result: None,
            parameters: params
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    fn audit(activity: &str, actor: &str, targets: &[(&str, &str)]) -> DirectoryAudit {
        DirectoryAudit {
            id: "a".into(),
            time: "2025-12-31T02:24:31Z".into(),
            epoch: 1_767_147_871,
            activity: activity.into(),
            category: None,
            result: None,
            result_reason: None,
            logged_by_service: None,
            initiated_by: Initiator {
                user_id: Some(actor.into()),
                ..Default::default()
            },
            targets: targets
                .iter()
                .map(|(kind, id)| AuditTarget {
                    id: Some(id.to_string()),
                    display_name: Some("Shown Name".into()),
                    kind: Some(kind.to_string()),
                    user_principal_name: None,
                    modified_properties: vec![],
                })
                .collect(),
        }
    }

    #[test]
    fn an_inbox_rule_is_keyed_by_its_mailbox_and_name_or_id() {
        let r = record(
            "New-InboxRule",
            "Lena@Contoso.com",
            &[("Name", "."), ("MarkAsRead", "True")],
        );
        assert_eq!(record_keys(&r), vec!["inbox_rule:lena@contoso.com:."]);
        let r = record(
            "Set-InboxRule",
            "admin@contoso.com",
            &[("Identity", "dana@contoso.com\\4727")],
        );
        assert_eq!(record_keys(&r), vec!["inbox_rule:dana@contoso.com:4727"]);
        // Another cmdlet with a `Name` changes no inbox rule.
        assert!(record_keys(&record("Send", "lena@contoso.com", &[("Name", ".")])).is_empty());
    }

    #[test]
    fn an_outlook_rule_change_is_keyed_by_its_mailbox_and_rule_id_or_name() {
        // UpdateInboxRules keeps the rule outside `Parameters` (OperationProperties, merged
        // into `parameters` when read): the owner's mailbox plus RuleId and RuleName.
        let r = record(
            "UpdateInboxRules",
            "Lena.Fischer@contoso.com",
            &[
                ("RuleOperation", "AddMapiRule"),
                ("RuleId", "4727603405627269190"),
                ("RuleName", "Sync"),
            ],
        );
        assert_eq!(
            record_keys(&r),
            vec![
                "inbox_rule:lena.fischer@contoso.com:4727603405627269190",
                "inbox_rule:lena.fischer@contoso.com:sync"
            ]
        );
        // A delegate changing another mailbox's rules: the owner's mailbox, not the actor's.
        let r = record(
            "UpdateInboxRules",
            "admin@contoso.com",
            &[("MailboxOwnerUPN", "dana@contoso.com"), ("RuleName", "x")],
        );
        assert_eq!(record_keys(&r), vec!["inbox_rule:dana@contoso.com:x"]);
        // Without a rule id or name nothing says which rule changed.
        assert!(record_keys(&record(
            "UpdateInboxRules",
            "lena@contoso.com",
            &[("RuleOperation", "RemoveMapiRule")]
        ))
        .is_empty());
    }

    #[test]
    fn exchange_role_changes_need_the_group_and_member_or_the_assignment() {
        let r = record(
            "Add-RoleGroupMember",
            "lena@contoso.com",
            &[
                ("Identity", "Organization Management"),
                ("Member", "Lena.Fischer@contoso.com"),
            ],
        );
        assert_eq!(
            record_keys(&r),
            vec!["role_group:organization management:lena.fischer@contoso.com"]
        );
        // A member without its group names no membership.
        assert!(record_keys(&record(
            "Add-RoleGroupMember",
            "x@c.com",
            &[("Member", "lena@c.com")]
        ))
        .is_empty());
        let named = record(
            "New-ManagementRoleAssignment",
            "lena@contoso.com",
            &[
                ("Name", "ApplicationImpersonation-Lena Fischer"),
                ("Role", "ApplicationImpersonation"),
                ("User", "lena.fischer@contoso.com"),
            ],
        );
        assert_eq!(
            record_keys(&named),
            vec!["exo_role_assignment:applicationimpersonation-lena fischer"]
        );
        // Unnamed: Exchange names it `<role>-<assignee>`.
        let unnamed = record(
            "New-ManagementRoleAssignment",
            "x@c.com",
            &[("Role", "Mailbox Search"), ("SecurityGroup", "SG-Legal")],
        );
        assert_eq!(
            record_keys(&unnamed),
            vec!["exo_role_assignment:mailbox search-sg-legal"]
        );
    }

    #[test]
    fn exchange_role_findings_match_only_their_own_group_member_or_assignment() {
        use crate::snapshot::model::{ExchangeRoleAssignment, ExchangeRoleGroupMember};
        let mut snap = Snapshot::default();
        let member = |group: &str, name: &str, address: &str| ExchangeRoleGroupMember {
            id: format!("{group}/{}", name.to_lowercase()),
            role_group: group.into(),
            role_group_id: Some(format!("{group}-guid")),
            member: name.into(),
            member_id: None,
            member_address: Some(address.into()),
            member_type: Some("UserMailbox".into()),
        };
        snap.exchange_role_groups = vec![
            member("Organization Management", "Lena Fischer", "lena@c.com"),
            member("Discovery Management", "Lena Fischer", "lena@c.com"),
            member("Organization Management", "Tom Becker", "tom@c.com"),
        ];
        let assignment = |id: &str, role: &str, who: &str| ExchangeRoleAssignment {
            id: id.into(),
            role: role.into(),
            assignee: who.into(),
            assignee_type: "User".into(),
            guid: None,
            enabled: true,
            recipient_write_scope: None,
            custom_recipient_write_scope: None,
            custom_resource_scope: None,
            recipient_organizational_unit_scope: None,
            recipient_administrative_unit_scope: None,
            when_created: None,
            when_changed: None,
        };
        snap.exchange_role_assignments = vec![
            assignment(
                "ApplicationImpersonation-Lena Fischer",
                "ApplicationImpersonation",
                "Lena Fischer",
            ),
            assignment("Custom name", "Mailbox Search", "Lena Fischer"),
        ];
        let index = index(&snap);
        let hits = |e: &Event, kind: &'static str| -> Vec<String> {
            let mut ids: Vec<String> = index
                .iter()
                .filter(|((k, _), r)| *k == kind && touches(e, r))
                .map(|((_, id), _)| id.clone())
                .collect();
            ids.sort();
            ids
        };
        let added = &from_records(&[record(
            "Add-RoleGroupMember",
            "x@c.com",
            &[
                ("Identity", "Organization Management"),
                ("Member", "LENA@c.com"),
            ],
        )])[0];
        // The same member in another group, and another member of the group: not this change.
        assert_eq!(
            hits(added, "exchange_role_group_member"),
            vec!["Organization Management/lena fischer"]
        );
        let by_guid = &from_records(&[record(
            "Add-RoleGroupMember",
            "x@c.com",
            &[
                ("Identity", "Discovery Management-guid"),
                ("Member", "Lena Fischer"),
            ],
        )])[0];
        assert_eq!(
            hits(by_guid, "exchange_role_group_member"),
            vec!["Discovery Management/lena fischer"]
        );
        let unnamed = &from_records(&[record(
            "New-ManagementRoleAssignment",
            "x@c.com",
            &[
                ("Role", "ApplicationImpersonation"),
                ("User", "Lena Fischer"),
            ],
        )])[0];
        // The role alone is not enough: Lena's other assignment is not this one.
        assert_eq!(
            hits(unnamed, "exchange_role_assignment"),
            vec!["ApplicationImpersonation-Lena Fischer"]
        );
        let named = &from_records(&[record(
            "New-ManagementRoleAssignment",
            "x@c.com",
            &[("Name", "custom name"), ("Role", "Mailbox Search")],
        )])[0];
        assert_eq!(hits(named, "exchange_role_assignment"), vec!["Custom name"]);
    }

    /// Lena holds Exchange Administrator (active) and Helpdesk Administrator (eligible).
    fn role_snapshot() -> Snapshot {
        use crate::snapshot::model::{PrincipalType, RoleAssignment, RoleDefinition};
        let mut snap = Snapshot::default();
        let def = |id: &str, name: &str| RoleDefinition {
            id: id.into(),
            display_name: name.into(),
            template_id: Some(id.into()),
            is_built_in: true,
            is_privileged: true,
        };
        snap.roles.definitions = vec![
            def(
                "29232cdf-9323-42fd-ade2-1d097af3e4de",
                "Exchange Administrator",
            ),
            def(
                "729827e3-9c14-49f7-bb1b-9608f156bbb8",
                "Helpdesk Administrator",
            ),
        ];
        let assignment = |id: &str, role: &str| RoleAssignment {
            id: id.into(),
            role_definition_id: role.into(),
            principal_id: "LENA".into(),
            principal_type: PrincipalType::User,
            principal_name: None,
            directory_scope_id: "/".into(),
            group_member_ids: vec![],
            end_date_time: None,
        };
        snap.roles.assignments = vec![assignment(
            "exchange",
            "29232cdf-9323-42fd-ade2-1d097af3e4de",
        )];
        snap.roles.eligible_assignments = vec![assignment(
            "helpdesk",
            "729827e3-9c14-49f7-bb1b-9608f156bbb8",
        )];
        snap
    }

    fn role_hits(snap: &Snapshot, a: DirectoryAudit) -> Vec<String> {
        let index = index(snap);
        let events = from_audits(&[a]);
        let mut ids: Vec<String> = index
            .iter()
            .filter(|((k, _), r)| *k == "role_assignment" && events.iter().any(|e| touches(e, r)))
            .map(|((_, id), _)| id.clone())
            .collect();
        ids.sort();
        ids
    }

    fn with_property(mut a: DirectoryAudit, name: &str, value: &str) -> DirectoryAudit {
        if let Some(t) = a.targets.first_mut() {
            t.modified_properties
                .push(crate::investigate::ModifiedProperty {
                    name: name.into(),
                    old_value: None,
                    new_value: Some(value.into()),
                });
        }
        a
    }

    #[test]
    fn a_role_change_matches_the_principal_and_the_role_it_names() {
        let snap = role_snapshot();
        let added = || audit("Add member to role", "admin", &[("User", "lena")]);
        // The template id, as the service writes it (JSON text with its quotes).
        let by_template = with_property(
            added(),
            "Role.TemplateId",
            "\"729827E3-9C14-49F7-BB1B-9608F156BBB8\"",
        );
        assert_eq!(role_hits(&snap, by_template), vec!["helpdesk"]);
        // The display name alone, unquoted, is enough too.
        let by_name = with_property(added(), "Role.DisplayName", "Exchange Administrator");
        assert_eq!(role_hits(&snap, by_name), vec!["exchange"]);
        // An eligible assignment, the role given as a `Role` target (its definition id).
        let mut eligible = audit(
            "Add eligible member to role in PIM completed (permanent)",
            "admin",
            &[("User", "lena")],
        );
        eligible.targets.push(AuditTarget {
            id: Some("729827e3-9c14-49f7-bb1b-9608f156bbb8".into()),
            display_name: None,
            kind: Some("Role".into()),
            user_principal_name: None,
            modified_properties: vec![],
        });
        assert_eq!(role_hits(&snap, eligible), vec!["helpdesk"]);
        // A role Lena does not hold matches none of hers, though she is the principal.
        let other = with_property(added(), "Role.DisplayName", "\"Global Administrator\"");
        assert!(role_hits(&snap, other).is_empty());
        // Another principal with Lena's role: not hers either.
        let tom = with_property(
            audit("Add member to role", "admin", &[("User", "tom")]),
            "Role.DisplayName",
            "\"Exchange Administrator\"",
        );
        assert!(role_hits(&snap, tom).is_empty());
    }

    #[test]
    fn the_role_is_read_from_the_services_modified_properties() {
        // The shape `GET /auditLogs/directoryAudits` answers
        // (<https://learn.microsoft.com/graph/api/resources/targetresource>).
        let item = serde_json::json!({
            "id": "Directory_1", "activityDateTime": "2025-12-31T02:30:00Z",
            "activityDisplayName": "Add member to role",
            "initiatedBy": {"user": {"id": "admin"}, "app": null},
            "targetResources": [{"id": "LENA", "type": "User", "displayName": null,
                "modifiedProperties": [
                    {"displayName": "Role.TemplateId", "oldValue": null,
                     "newValue": "\"729827e3-9c14-49f7-bb1b-9608f156bbb8\""},
                    {"displayName": "Role.DisplayName", "oldValue": null,
                     "newValue": "\"Helpdesk Administrator\""},
                    {"displayName": "ClientSecret", "oldValue": null, "newValue": "s3cr3t"}]}]
        });
        let serde_json::Value::Object(m) = item else {
            panic!("an object")
        };
        let audits = crate::investigate::collect::to_audits("/x", vec![m]).unwrap();
        let props = &audits[0].targets[0].modified_properties;
        assert_eq!(props.len(), 3);
        // A secret-looking property never reaches the evidence.
        assert_eq!(props[2].new_value.as_deref(), Some("<redacted>"));
        assert_eq!(
            role_hits(&role_snapshot(), audits[0].clone()),
            vec!["helpdesk"]
        );
    }

    #[test]
    fn a_role_change_naming_no_role_still_matches_by_principal() {
        let snap = role_snapshot();
        // No role property at all (and an unrelated one): any of her roles may be it.
        let bare = with_property(
            audit("Add member to role", "admin", &[("User", "LENA")]),
            "Role.WellKnownObjectName",
            "\"ExchangeServiceAdmin\"",
        );
        assert_eq!(audit_keys(&bare), vec!["role:lena"]);
        assert_eq!(role_hits(&snap, bare), vec!["exchange", "helpdesk"]);
        let named = with_property(
            audit("Add member to role", "admin", &[("User", "LENA")]),
            "Role.TemplateId",
            "\"29232cdf-9323-42fd-ade2-1d097af3e4de\"",
        );
        assert_eq!(
            audit_keys(&named),
            vec!["role:lena:29232cdf-9323-42fd-ade2-1d097af3e4de"]
        );
    }

    #[test]
    fn delegations_need_mailbox_right_and_trustee() {
        let r = record(
            "Add-MailboxPermission",
            "lena@contoso.com",
            &[
                ("Identity", "Dana@contoso.com"),
                ("User", "lena@contoso.com"),
                ("AccessRights", "FullAccess"),
            ],
        );
        assert_eq!(
            record_keys(&r),
            vec!["delegate:dana@contoso.com:full_access:lena@contoso.com"]
        );
        let r = record(
            "Add-RecipientPermission",
            "x@contoso.com",
            &[("Identity", "e4ad2d28"), ("Trustee", "311b45d6")],
        );
        assert_eq!(record_keys(&r), vec!["delegate:e4ad2d28:send_as:311b45d6"]);
        // Without a trustee nothing is said about which delegation it was.
        assert!(record_keys(&record(
            "Add-MailboxPermission",
            "x@c.com",
            &[("Identity", "d@c.com")]
        ))
        .is_empty());
        // Set-Mailbox without a forwarding parameter is not a forwarding change.
        assert!(record_keys(&record(
            "Set-Mailbox",
            "x@c.com",
            &[("Identity", "d@c.com"), ("Language", "de")]
        ))
        .is_empty());
        assert_eq!(
            record_keys(&record(
                "Set-Mailbox",
                "x@c.com",
                &[
                    ("Identity", "D@c.com"),
                    ("ForwardingSmtpAddress", "smtp:a@b.example")
                ]
            )),
            vec!["mailbox:d@c.com"]
        );
    }

    #[test]
    fn directory_audits_use_target_ids_not_display_names() {
        let a = audit(
            "Consent to application",
            "u1",
            &[("ServicePrincipal", "SP1")],
        );
        assert_eq!(audit_keys(&a), vec!["consent:sp1:u1", "consent:sp1:*"]);
        let a = audit("User registered security info", "u1", &[("User", "U1")]);
        assert_eq!(audit_keys(&a), vec!["registered:u1:*"]);
        let a = audit(
            "Add service principal credentials",
            "u1",
            &[("ServicePrincipal", "sp2")],
        );
        assert_eq!(audit_keys(&a), vec!["sp:sp2"]);
        // An activity that changes nothing a finding points at yields no keys.
        assert!(audit_keys(&audit("Add group", "u1", &[("Group", "g")])).is_empty());
        assert!(audit_keys(&audit("Update user", "u1", &[])).is_empty());
    }

    #[test]
    fn an_auth_method_matches_a_registration_only_near_its_creation() {
        let e = from_audits(&[audit(
            "User registered security info",
            "u1",
            &[("User", "u1")],
        )]);
        let near = ResourceKeys {
            keys: vec!["registered:u1:fido2".into(), "registered:u1:*".into()],
            created: Some(e[0].epoch + 30),
        };
        let far = ResourceKeys {
            created: Some(e[0].epoch - 86_400),
            ..near.clone()
        };
        let other_user = ResourceKeys {
            keys: vec!["registered:u2:*".into()],
            ..near.clone()
        };
        assert!(touches(&e[0], &near));
        assert!(!touches(&e[0], &far));
        assert!(!touches(&e[0], &other_user));
        // A phone (no created time) matches only a registration that names its kind.
        let phone = ResourceKeys {
            keys: vec!["registered:u1:phone".into()],
            created: None,
        };
        assert!(!touches(&e[0], &phone));
        let mut sms = audit("User registered security info", "u1", &[("User", "u1")]);
        sms.result_reason = Some("User registered Mobile Phone SMS".into());
        let sms = &from_audits(&[sms])[0];
        assert!(touches(sms, &phone));
        // ... and a dated authenticator near it is not taken for the phone.
        let app = ResourceKeys {
            keys: vec![
                "registered:u1:microsoft_authenticator".into(),
                "registered:u1:*".into(),
            ],
            created: Some(sms.epoch - 60),
        };
        assert!(!touches(sms, &app));
    }

    fn sign_in(time: &str, epoch: i64, ip: &str, risk: &str, code: i64) -> SignIn {
        SignIn {
            id: time.into(),
            time: time.into(),
            epoch,
            ip_address: Some(ip.into()),
            city: None,
            country: Some(if ip.starts_with("185.") { "NL" } else { "DE" }.into()),
            latitude: None,
            longitude: None,
            client_app: None,
            user_agent: None,
            app: None,
            error_code: Some(code),
            failure_reason: None,
            authentication_requirement: None,
            authentication_methods: vec![],
            conditional_access_status: None,
            is_interactive: Some(true),
            risk_level: Some(risk.into()),
            risk_event_types: vec![],
        }
    }

    #[test]
    fn the_sign_in_from_the_same_ip_before_the_event_is_its_context() {
        let e = &from_records(&[record(
            "New-InboxRule",
            "lena@contoso.com",
            &[("Name", ".")],
        )])[0];
        let ins = vec![
            sign_in("a", e.epoch - 1_500, "91.64.10.20", "none", 0),
            sign_in("b", e.epoch - 156, "185.220.101.47", "high", 0),
            // After the event, and a failed one closer in time: neither is the context.
            sign_in("c", e.epoch + 60, "185.220.101.47", "none", 0),
            sign_in("d", e.epoch - 10, "91.64.10.20", "none", 50126),
        ];
        let (country, ctx) = sign_in_context(e, &ins);
        let ctx = ctx.unwrap();
        assert_eq!(country.as_deref(), Some("NL"));
        assert_eq!(ctx.time, "b");
        assert!(ctx.same_ip && ctx.suspicious);
        assert_eq!(ctx.minutes_before, 2);
        // No sign-in from that IP: the latest one before is given, not marked same-IP.
        let (_, ctx) = sign_in_context(e, &ins[..1]);
        assert!(!ctx.unwrap().same_ip);
        // Nothing within a day before: no context.
        let (_, ctx) = sign_in_context(
            e,
            &[sign_in("z", e.epoch - 2 * 86_400, "1.1.1.1", "none", 0)],
        );
        assert!(ctx.is_none());
    }
}
