//! Applying `m365guard.toml` to a scan result: break-glass exemptions and exceptions.
//!
//! Runs after evaluation, so rules stay pure functions of the snapshot and every exemption
//! and waiver is visible in the result (reports list them with their reasons). Order:
//! break-glass findings are removed first, then exceptions waive what is left, then rules
//! left with only waived findings pass. Rules that were not evaluated keep that status:
//! a waiver can never turn "unknown" into "passed".

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;

use super::{Config, Exception};
use crate::findings::{ExceptionKeys, Exemption, Finding, ResourceKind, RuleStatus, ScanResult};
use crate::snapshot::{PrincipalType, RoleAssignment, Snapshot, SourceId, SourceState};

/// Apply break-glass exemptions and exceptions to `result`; `today` decides expiry.
pub fn apply(config: &Config, result: &mut ScanResult, snapshot: &Snapshot, today: NaiveDate) {
    let owners = OwnerIndex::new(snapshot, result);
    apply_break_glass(config, result, snapshot, &owners);
    annotate_with(result, &owners);
    apply_exceptions(config, result, today);
    for outcome in &mut result.outcomes {
        if outcome.status == RuleStatus::Failed && outcome.findings.iter().all(Finding::is_waived) {
            outcome.status = RuleStatus::Passed;
        }
    }
}

/// Fill every finding's `exception_keys` (what an `[[exception]]` may name to waive it),
/// for scans without a config; `apply` does the same and matches exceptions on them.
pub fn annotate(result: &mut ScanResult, snapshot: &Snapshot) {
    let owners = OwnerIndex::new(snapshot, result);
    annotate_with(result, &owners);
}

fn annotate_with(result: &mut ScanResult, owners: &OwnerIndex<'_>) {
    for outcome in &mut result.outcomes {
        for finding in &mut outcome.findings {
            finding.exception_keys = Some(owners.exception_keys(finding));
        }
    }
}

/// Who owns a finding's resource: role assignments by id (their principal), inbox rules
/// and mailboxes (their mailbox owner), restricted senders (their user).
struct OwnerIndex<'a> {
    by_id: HashMap<&'a str, &'a RoleAssignment>,
    upn_by_user_id: HashMap<&'a str, &'a str>,
    rule_owner: HashMap<&'a str, (&'a str, &'a str)>,
    mailbox: HashMap<&'a str, (&'a str, Option<&'a str>)>,
    sender_user: HashMap<&'a str, &'a str>,
}

impl<'a> OwnerIndex<'a> {
    /// The owners of `result`'s findings' resources. Every look-up starts from a finding's
    /// resource id, so only the objects those ids reach are indexed (a large tenant's
    /// findings name a few percent of its inbox rules, mailboxes and users; indexing them
    /// all cost ~0.08 s at 100k users).
    fn new(snapshot: &'a Snapshot, result: &ScanResult) -> OwnerIndex<'a> {
        let ids: HashSet<&str> = result
            .outcomes
            .iter()
            .flat_map(|o| &o.findings)
            .map(|f| f.resource.id.as_str())
            .collect();
        let roles = &snapshot.roles;
        let by_id: HashMap<&'a str, &'a RoleAssignment> = roles
            .assignments
            .iter()
            .chain(&roles.eligible_assignments)
            .filter(|a| ids.contains(a.id.as_str()))
            .map(|a| (a.id.as_str(), a))
            .collect();
        let rule_owner: HashMap<&'a str, (&'a str, &'a str)> = snapshot
            .inbox_rules
            .iter()
            .filter(|r| ids.contains(r.id.as_str()))
            .map(|r| {
                (
                    r.id.as_str(),
                    (r.mailbox_id.as_str(), r.mailbox_upn.as_str()),
                )
            })
            .collect();
        let mailbox_ids: HashSet<&str> = rule_owner.values().map(|(mailbox, _)| *mailbox).collect();
        let mailbox = snapshot
            .mailboxes
            .iter()
            .filter(|m| ids.contains(m.id.as_str()) || mailbox_ids.contains(m.id.as_str()))
            .map(|m| {
                (
                    m.id.as_str(),
                    (
                        m.user_principal_name.as_str(),
                        m.primary_smtp_address.as_deref(),
                    ),
                )
            })
            .collect();
        let sender_user: HashMap<&'a str, &'a str> = snapshot
            .outbound_spam
            .restricted_senders
            .iter()
            .filter(|s| ids.contains(s.id.as_str()))
            .filter_map(|s| Some((s.id.as_str(), s.user_id.as_deref()?)))
            .collect();
        let user_ids: HashSet<&str> = by_id
            .values()
            .map(|a| a.principal_id.as_str())
            .chain(sender_user.values().copied())
            .collect();
        let upn_by_user_id = snapshot
            .users
            .iter()
            .filter(|u| user_ids.contains(u.id.as_str()))
            .map(|u| (u.id.as_str(), u.user_principal_name.as_str()))
            .collect();
        OwnerIndex {
            by_id,
            upn_by_user_id,
            rule_owner,
            mailbox,
            sender_user,
        }
    }

    /// Every identifier an `[[exception]]` `resource` may name to match `finding`: the
    /// resource's id and name, and the id, UPN and address of the person it belongs to (the
    /// mailbox of an inbox rule, the holder of a role, the user of a restricted sender).
    /// The one source of these keys: matching reads them, and reports show them.
    fn exception_keys(&self, finding: &Finding) -> ExceptionKeys {
        let mut resource: Vec<String> = Vec::new();
        let resource_keys = [finding.resource.id.as_str(), finding.resource.name.as_str()];
        for key in resource_keys.into_iter().chain(self.owner_keys(finding)) {
            // Matching is case-insensitive: one spelling of each key is enough.
            if !key.is_empty() && !resource.iter().any(|k| k.eq_ignore_ascii_case(key)) {
                resource.push(key.to_owned());
            }
        }
        ExceptionKeys {
            rule: finding.rule_id.clone(),
            resource,
        }
    }

    /// The id, UPN and address of the person `finding`'s resource belongs to, where known.
    fn owner_keys(&self, finding: &Finding) -> Vec<&'a str> {
        let mut keys = Vec::new();
        let id = finding.resource.id.as_str();
        match finding.resource.kind {
            ResourceKind::RoleAssignment | ResourceKind::RoleEligibility => {
                if let Some((principal, upn)) = self.principal(finding) {
                    keys.push(principal);
                    keys.extend(upn);
                }
            }
            ResourceKind::InboxRule => {
                if let Some((mailbox_id, upn)) = self.rule_owner.get(id) {
                    keys.push(*mailbox_id);
                    keys.push(*upn);
                    if let Some((_, Some(smtp))) = self.mailbox.get(mailbox_id) {
                        keys.push(*smtp);
                    }
                }
            }
            ResourceKind::Mailbox => {
                if let Some((upn, smtp)) = self.mailbox.get(id) {
                    keys.push(*upn);
                    keys.extend(*smtp);
                }
            }
            ResourceKind::RestrictedSender => {
                if let Some(user) = self.sender_user.get(id) {
                    keys.push(*user);
                    keys.extend(self.upn_by_user_id.get(user).copied());
                }
            }
            _ => {}
        }
        keys
    }

    /// The user a finding on a role assignment is about (group/app principals: none).
    fn principal(&self, finding: &Finding) -> Option<(&'a str, Option<&'a str>)> {
        if !matches!(
            finding.resource.kind,
            ResourceKind::RoleAssignment | ResourceKind::RoleEligibility
        ) {
            return None;
        }
        let assignment = self.by_id.get(finding.resource.id.as_str())?;
        if assignment.principal_type != PrincipalType::User {
            return None;
        }
        let upn = self
            .upn_by_user_id
            .get(assignment.principal_id.as_str())
            .copied()
            .or(assignment.principal_name.as_deref());
        Some((assignment.principal_id.as_str(), upn))
    }
}

/// One configured break-glass account and what it resolved to.
struct Account {
    /// The UPN when the account was found, else the value as configured.
    display: String,
    /// Lower-cased id and UPN (or the configured value when not found).
    keys: Vec<String>,
    found: bool,
    exempted_something: bool,
}

fn apply_break_glass(
    config: &Config,
    result: &mut ScanResult,
    snapshot: &Snapshot,
    owners: &OwnerIndex<'_>,
) {
    if config.break_glass.accounts.is_empty() {
        return;
    }
    let mut accounts: Vec<Account> = Vec::new();
    for configured in &config.break_glass.accounts {
        let key = configured.to_lowercase();
        let user = snapshot
            .users
            .iter()
            .find(|u| u.id.to_lowercase() == key || u.user_principal_name.to_lowercase() == key);
        let account = match user {
            Some(user) => Account {
                display: user.user_principal_name.clone(),
                keys: vec![
                    user.id.to_lowercase(),
                    user.user_principal_name.to_lowercase(),
                ],
                found: true,
                exempted_something: false,
            },
            None => Account {
                display: configured.clone(),
                keys: vec![key],
                found: false,
                exempted_something: false,
            },
        };
        // Listing an account by both UPN and id must not exempt it twice.
        if !accounts.iter().any(|a| a.keys == account.keys) {
            accounts.push(account);
        }
    }
    let owner: HashMap<&str, usize> = accounts
        .iter()
        .enumerate()
        .flat_map(|(i, a)| a.keys.iter().map(move |k| (k.as_str(), i)))
        .collect();

    let mut hits: HashSet<usize> = HashSet::new();
    for outcome in &mut result.outcomes {
        outcome
            .findings
            .retain(|finding| match break_glass_owner(finding, &owner, owners) {
                Some(index) => {
                    hits.insert(index);
                    false
                }
                None => true,
            });
    }
    for index in hits {
        accounts[index].exempted_something = true;
    }

    let users_collected = snapshot
        .sources
        .get(&SourceId::Users)
        .is_some_and(|s| s.status == SourceState::Ok);
    for account in &accounts {
        if account.found || account.exempted_something {
            let exemption = Exemption {
                account: account.display.clone(),
                reason: config.break_glass.reason.clone(),
            };
            if !result.exemptions.contains(&exemption) {
                result.exemptions.push(exemption);
            }
        }
        if !account.found {
            result.warnings.push(if users_collected {
                format!(
                    "break-glass account {} is not a user in this tenant; check its UPN or object id in m365guard.toml",
                    account.display
                )
            } else {
                format!(
                    "break-glass account {} could not be looked up: the users source was not collected",
                    account.display
                )
            });
        }
    }
}

/// Index of the break-glass account a finding is about, if any.
fn break_glass_owner(
    finding: &Finding,
    owner: &HashMap<&str, usize>,
    owners: &OwnerIndex<'_>,
) -> Option<usize> {
    let lookup = |value: &str| owner.get(value.to_lowercase().as_str()).copied();
    match finding.resource.kind {
        ResourceKind::User | ResourceKind::RiskyUser | ResourceKind::Mailbox => {
            lookup(&finding.resource.id).or_else(|| lookup(&finding.resource.name))
        }
        _ => {
            let (principal_id, upn) = owners.principal(finding)?;
            lookup(principal_id).or_else(|| upn.and_then(lookup))
        }
    }
}

/// Waive the findings an exception names; a finding's candidates are its
/// `exception_keys` (filled by `annotate_with` just before).
fn apply_exceptions(config: &Config, result: &mut ScanResult, today: NaiveDate) {
    let mut unmatched: Vec<&Exception> = Vec::new();
    for exception in &config.exceptions {
        if exception.is_expired(today) {
            result.warnings.push(format!(
                "exception for {}/{} expired on {} (reason: {}{}); its findings are reported again",
                exception.rule,
                exception.resource,
                exception.expires,
                exception.reason,
                exception
                    .ticket
                    .as_deref()
                    .map(|t| format!("; ticket {t}"))
                    .unwrap_or_default(),
            ));
            continue;
        }
        let Some(outcome) = result
            .outcomes
            .iter_mut()
            .find(|o| o.rule.id == exception.rule)
        else {
            // The rule was not part of this scan (baseline or --rule selection).
            continue;
        };
        let mut matched = false;
        for finding in &mut outcome.findings {
            let candidates = finding
                .exception_keys
                .iter()
                .flat_map(|keys| keys.resource.iter().map(String::as_str));
            if exception.matches_resource(candidates) {
                matched = true;
                // The first matching exception in the file wins.
                if finding.waiver.is_none() {
                    finding.waiver = Some(exception.waiver());
                }
            }
        }
        // Without an evaluation there is nothing to match; that says nothing about the
        // exception.
        let evaluated = matches!(outcome.status, RuleStatus::Passed | RuleStatus::Failed);
        if !matched && evaluated {
            unmatched.push(exception);
        }
    }
    for exception in unmatched {
        result.warnings.push(format!(
            "exception for {}/{} matched no finding (reason: {}); remove it from m365guard.toml if the issue is fixed",
            exception.rule, exception.resource, exception.reason
        ));
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Arc;

    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::findings::{ResourceRef, RuleOutcome, ScanInfo, Severity, Waiver};
    use crate::policy::metadata::{Area, RoadmapPhase, RuleMeta};

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn config(text: &str) -> Config {
        Config::parse(Path::new("m365guard.toml"), text).unwrap()
    }

    fn snapshot() -> Snapshot {
        serde_json::from_value(serde_json::json!({
            "schema_version": 1,
            "tenant": {"id": "t-1", "verified_domains": ["contoso.com"]},
            "collection": {"collected_at": "2026-01-10T08:00:00Z", "tool_version": "test"},
            "sources": {"users": {"status": "ok", "items": 3}},
            "users": [
                {"id": "u-bg", "user_principal_name": "BreakGlass01@contoso.onmicrosoft.com",
                 "account_enabled": true, "user_type": "member"},
                {"id": "u-alice", "user_principal_name": "alice@contoso.com",
                 "account_enabled": true, "user_type": "member"},
                {"id": "u-svc", "user_principal_name": "svc-backup@contoso.com",
                 "account_enabled": true, "user_type": "member"}
            ],
            "mailboxes": [
                {"id": "u-tom", "user_principal_name": "tom.becker@contoso.com",
                 "primary_smtp_address": "tom@contoso.com", "recipient_type_details": "UserMailbox"}
            ],
            "inbox_rules": [
                {"id": "u-tom/r1", "mailbox_id": "u-tom", "mailbox_upn": "tom.becker@contoso.com",
                 "rule_id": "r1", "source": "exchange", "name": "Partner invoices", "enabled": true,
                 "actions": {"forward_to": ["ap@partner.example"]}}
            ],
            "roles": {
                "definitions": [{"id": "r-ga", "display_name": "Global Administrator", "is_privileged": true}],
                "assignments": [
                    {"id": "ra-bg", "role_definition_id": "r-ga", "principal_id": "u-bg", "principal_type": "user"},
                    {"id": "ra-alice", "role_definition_id": "r-ga", "principal_id": "u-alice", "principal_type": "user"}
                ]
            },
            "outbound_spam": {"policies": [], "restricted_senders": []},
            "conditional_access": {"policies": []},
            "security_defaults": {"is_enabled": null}
        }))
        .unwrap()
    }

    fn finding(rule: &str, kind: &str, id: &str, name: &str) -> Finding {
        Finding {
            rule_id: rule.to_owned(),
            severity: Severity::High,
            resource: ResourceRef {
                kind: ResourceKind::parse(kind).unwrap(),
                id: id.to_owned(),
                name: name.to_owned(),
            },
            message: format!("{name} is not compliant"),
            details: serde_json::Value::Null,
            fingerprint: format!("fp-{rule}-{id}"),
            line: None,
            waiver: None,
            baseline_state: None,
            exception_keys: None,
            activity: None,
        }
    }

    fn outcome(rule: &str, status: RuleStatus, findings: Vec<Finding>) -> RuleOutcome {
        RuleOutcome {
            rule: Arc::new(RuleMeta {
                id: rule.to_owned(),
                title: rule.to_owned(),
                severity: Severity::High,
                area: Area::Identity,
                roadmap_phase: RoadmapPhase::Days30,
                sources: vec![SourceId::Users],
                optional_sources: Vec::new(),
                description: "d".into(),
                rationale: "r".into(),
                remediation: "m".into(),
                limits: None,
                fix_action: None,
                references: vec![],
                tags: vec![],
            }),
            status,
            findings,
        }
    }

    fn result(outcomes: Vec<RuleOutcome>) -> ScanResult {
        let at = Utc.with_ymd_and_hms(2026, 1, 10, 8, 0, 0).unwrap();
        ScanResult {
            info: ScanInfo {
                tool_version: "test".into(),
                tenant_id: "t-1".into(),
                tenant_name: None,
                snapshot_path: "snapshot.json".into(),
                snapshot_digest: "sha256:0".into(),
                collected_at: at,
                scanned_at: at,
                baseline: None,
                fail_on: Severity::High,
                config_path: None,
                rule_selection: false,
            },
            outcomes,
            exemptions: vec![],
            warnings: vec![],
            absent: Vec::new(),
            incomplete: Vec::new(),
            controls: Default::default(),
            activity: None,
        }
    }

    const TODAY: (i32, u32, u32) = (2026, 1, 10);

    fn run(config_text: &str, outcomes: Vec<RuleOutcome>) -> ScanResult {
        let mut r = result(outcomes);
        apply(
            &config(config_text),
            &mut r,
            &snapshot(),
            day(TODAY.0, TODAY.1, TODAY.2),
        );
        r
    }

    #[test]
    fn break_glass_user_findings_are_removed_and_the_rule_passes() {
        let r = run(
            "[break_glass]\naccounts = [\"breakglass01@contoso.onmicrosoft.com\"]\n",
            vec![outcome(
                "user_without_mfa",
                RuleStatus::Failed,
                vec![finding(
                    "user_without_mfa",
                    "user",
                    "u-bg",
                    "BreakGlass01@contoso.onmicrosoft.com",
                )],
            )],
        );
        assert!(r.outcomes[0].findings.is_empty());
        assert_eq!(r.outcomes[0].status, RuleStatus::Passed);
        assert_eq!(
            r.exemptions,
            vec![Exemption {
                account: "BreakGlass01@contoso.onmicrosoft.com".into(),
                reason: crate::config::DEFAULT_BREAK_GLASS_REASON.into(),
            }]
        );
        assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    }

    #[test]
    fn break_glass_by_object_id_covers_role_assignments_and_mailboxes_once() {
        let r = run(
            "[break_glass]\naccounts = [\"u-bg\", \"BREAKGLASS01@contoso.onmicrosoft.com\"]\nreason = \"Emergency access\"\n",
            vec![
                outcome(
                    "privileged_role_permanent",
                    RuleStatus::Failed,
                    vec![
                        finding("privileged_role_permanent", "role_assignment", "ra-bg", "Global Administrator"),
                        finding("privileged_role_permanent", "role_assignment", "ra-alice", "Global Administrator"),
                    ],
                ),
                outcome(
                    "mailbox_external_forwarding",
                    RuleStatus::Failed,
                    vec![finding("mailbox_external_forwarding", "mailbox", "u-bg", "breakglass01@contoso.onmicrosoft.com")],
                ),
            ],
        );
        let remaining: Vec<&str> = r.outcomes[0]
            .findings
            .iter()
            .map(|f| f.resource.id.as_str())
            .collect();
        assert_eq!(remaining, ["ra-alice"]);
        assert_eq!(r.outcomes[0].status, RuleStatus::Failed);
        assert_eq!(r.outcomes[1].status, RuleStatus::Passed);
        assert_eq!(r.exemptions.len(), 1);
        assert_eq!(r.exemptions[0].reason, "Emergency access");
    }

    #[test]
    fn break_glass_does_not_touch_inbox_rules_of_the_account() {
        // A forwarding rule in an emergency account's mailbox is a compromise sign, not noise.
        let r = run(
            "[break_glass]\naccounts = [\"u-bg\"]\n",
            vec![outcome(
                "inbox_rule_external_forwarding",
                RuleStatus::Failed,
                vec![finding(
                    "inbox_rule_external_forwarding",
                    "inbox_rule",
                    "u-bg/r1",
                    "fwd",
                )],
            )],
        );
        assert_eq!(r.outcomes[0].findings.len(), 1);
        assert_eq!(r.outcomes[0].status, RuleStatus::Failed);
    }

    #[test]
    fn unknown_break_glass_account_is_a_warning() {
        let r = run(
            "[break_glass]\naccounts = [\"nobody@contoso.com\"]\n",
            vec![],
        );
        assert!(r.exemptions.is_empty());
        assert_eq!(r.warnings.len(), 1);
        assert!(
            r.warnings[0].contains("nobody@contoso.com is not a user"),
            "{:?}",
            r.warnings
        );
    }

    const SVC_EXCEPTION: &str = r#"[[exception]]
rule = "user_without_mfa"
resource = "svc-*@CONTOSO.com"
reason = "Service account, MFA via workload identity"
expires = 2026-01-10
ticket = "SEC-1234"
"#;

    #[test]
    fn glob_exception_waives_matching_findings_only() {
        let r = run(
            SVC_EXCEPTION,
            vec![outcome(
                "user_without_mfa",
                RuleStatus::Failed,
                vec![
                    finding(
                        "user_without_mfa",
                        "user",
                        "u-svc",
                        "svc-backup@contoso.com",
                    ),
                    finding("user_without_mfa", "user", "u-alice", "alice@contoso.com"),
                ],
            )],
        );
        let findings = &r.outcomes[0].findings;
        assert_eq!(
            findings[0].waiver,
            Some(Waiver {
                reason: "Service account, MFA via workload identity".into(),
                expires: day(2026, 1, 10),
                ticket: Some("SEC-1234".into()),
            })
        );
        assert_eq!(findings[1].waiver, None);
        assert_eq!(r.outcomes[0].status, RuleStatus::Failed);
        assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    }

    #[test]
    fn rule_with_every_finding_waived_passes() {
        let r = run(
            SVC_EXCEPTION,
            vec![outcome(
                "user_without_mfa",
                RuleStatus::Failed,
                vec![finding(
                    "user_without_mfa",
                    "user",
                    "u-svc",
                    "svc-backup@contoso.com",
                )],
            )],
        );
        assert_eq!(r.outcomes[0].status, RuleStatus::Passed);
        assert!(r.outcomes[0].findings[0].is_waived());
    }

    #[test]
    fn expired_exception_does_not_apply_and_warns() {
        let text = SVC_EXCEPTION.replace("2026-01-10", "2026-01-09");
        let r = run(
            &text,
            vec![outcome(
                "user_without_mfa",
                RuleStatus::Failed,
                vec![finding(
                    "user_without_mfa",
                    "user",
                    "u-svc",
                    "svc-backup@contoso.com",
                )],
            )],
        );
        assert!(!r.outcomes[0].findings[0].is_waived());
        assert_eq!(r.outcomes[0].status, RuleStatus::Failed);
        assert_eq!(
            r.warnings,
            ["exception for user_without_mfa/svc-*@CONTOSO.com expired on 2026-01-09 (reason: Service account, MFA via workload identity; ticket SEC-1234); its findings are reported again"]
        );
    }

    #[test]
    fn exception_matching_nothing_warns_but_not_for_unevaluated_or_unselected_rules() {
        let text = format!(
            "{SVC_EXCEPTION}\n[[exception]]\nrule = \"risky_user_high\"\nresource = \"alice@contoso.com\"\nreason = \"Investigated\"\nexpires = 2027-01-01\n\n[[exception]]\nrule = \"restricted_sender\"\nresource = \"x\"\nreason = \"r\"\nexpires = 2027-01-01\n"
        );
        let r = run(
            &text,
            vec![
                outcome("user_without_mfa", RuleStatus::Passed, vec![]),
                outcome(
                    "risky_user_high",
                    RuleStatus::NotEvaluated {
                        reason: "risky_users: error".into(),
                    },
                    vec![],
                ),
            ],
        );
        assert_eq!(r.warnings.len(), 1, "{:?}", r.warnings);
        assert!(r.warnings[0]
            .starts_with("exception for user_without_mfa/svc-*@CONTOSO.com matched no finding"));
    }

    #[test]
    fn not_evaluated_rule_stays_not_evaluated_even_when_waived() {
        let r = run(
            SVC_EXCEPTION,
            vec![outcome(
                "user_without_mfa",
                RuleStatus::NotEvaluated {
                    reason: "mfa_registration: error".into(),
                },
                vec![finding(
                    "user_without_mfa",
                    "user",
                    "u-svc",
                    "svc-backup@contoso.com",
                )],
            )],
        );
        assert!(matches!(
            r.outcomes[0].status,
            RuleStatus::NotEvaluated { .. }
        ));
    }

    #[test]
    fn exception_on_a_role_assignment_matches_the_principal_upn() {
        let text = "[[exception]]\nrule = \"privileged_role_permanent\"\nresource = \"alice@contoso.com\"\nreason = \"PIM rollout in Q2\"\nexpires = 2026-06-30\n";
        let r = run(
            text,
            vec![outcome(
                "privileged_role_permanent",
                RuleStatus::Failed,
                vec![finding(
                    "privileged_role_permanent",
                    "role_assignment",
                    "ra-alice",
                    "Global Administrator",
                )],
            )],
        );
        assert!(r.outcomes[0].findings[0].is_waived());
        assert_eq!(r.outcomes[0].status, RuleStatus::Passed);
    }

    /// Issue 10 item 11: an exception naming the person matches the findings on their
    /// inbox rules and mailbox, whose resource is the rule or mailbox, not the person.
    #[test]
    fn exception_naming_a_person_matches_their_inbox_rule_and_mailbox() {
        for resource in [
            "tom.becker@contoso.com",
            "tom@contoso.com",
            "u-tom",
            "tom.*@contoso.com",
        ] {
            let text = format!("[[exception]]\nrule = \"inbox_rule_external_forwarding\"\nresource = \"{resource}\"\nreason = \"approved partner flow\"\nexpires = 2026-06-30\n\n[[exception]]\nrule = \"mailbox_external_forwarding\"\nresource = \"{resource}\"\nreason = \"approved\"\nexpires = 2026-06-30\n");
            let r = run(
                &text,
                vec![
                    outcome(
                        "inbox_rule_external_forwarding",
                        RuleStatus::Failed,
                        vec![finding(
                            "inbox_rule_external_forwarding",
                            "inbox_rule",
                            "u-tom/r1",
                            "Partner invoices",
                        )],
                    ),
                    outcome(
                        "mailbox_external_forwarding",
                        RuleStatus::Failed,
                        vec![finding(
                            "mailbox_external_forwarding",
                            "mailbox",
                            "u-tom",
                            "tom.becker@contoso.com",
                        )],
                    ),
                ],
            );
            assert!(r.outcomes[0].findings[0].is_waived(), "{resource}");
            assert!(r.outcomes[1].findings[0].is_waived(), "{resource}");
            assert!(
                !r.warnings.iter().any(|w| w.contains("matched no finding")),
                "{resource}: {:?}",
                r.warnings
            );
        }
        // Someone else's name still matches nothing.
        let text = "[[exception]]\nrule = \"inbox_rule_external_forwarding\"\nresource = \"alice@contoso.com\"\nreason = \"x\"\nexpires = 2026-06-30\n";
        let r = run(
            text,
            vec![outcome(
                "inbox_rule_external_forwarding",
                RuleStatus::Failed,
                vec![finding(
                    "inbox_rule_external_forwarding",
                    "inbox_rule",
                    "u-tom/r1",
                    "Partner invoices",
                )],
            )],
        );
        assert!(!r.outcomes[0].findings[0].is_waived());
    }

    /// The keys reports show are the keys matching uses: an exception naming any one of a
    /// finding's shown keys (with its shown rule) waives that finding.
    #[test]
    fn every_shown_exception_key_waives_its_finding() {
        let findings = || {
            vec![
                outcome(
                    "inbox_rule_external_forwarding",
                    RuleStatus::Failed,
                    vec![finding(
                        "inbox_rule_external_forwarding",
                        "inbox_rule",
                        "u-tom/r1",
                        "Partner invoices",
                    )],
                ),
                outcome(
                    "mailbox_external_forwarding",
                    RuleStatus::Failed,
                    vec![finding(
                        "mailbox_external_forwarding",
                        "mailbox",
                        "u-tom",
                        "tom.becker@contoso.com",
                    )],
                ),
                outcome(
                    "privileged_role_permanent",
                    RuleStatus::Failed,
                    vec![finding(
                        "privileged_role_permanent",
                        "role_assignment",
                        "ra-alice",
                        "Global Administrator",
                    )],
                ),
                outcome(
                    "user_without_mfa",
                    RuleStatus::Failed,
                    vec![finding(
                        "user_without_mfa",
                        "user",
                        "u-alice",
                        "alice@contoso.com",
                    )],
                ),
            ]
        };
        let mut shown = result(findings());
        annotate(&mut shown, &snapshot());
        let mut tried = 0;
        for (index, outcome) in shown.outcomes.iter().enumerate() {
            let keys = outcome.findings[0].exception_keys.clone().unwrap();
            assert_eq!(keys.rule, outcome.rule.id);
            assert!(keys.resource.len() >= 2, "{keys:?}");
            for key in &keys.resource {
                let text = format!("[[exception]]\nrule = \"{}\"\nresource = \"{key}\"\nreason = \"r\"\nexpires = 2026-06-30\n", keys.rule);
                let r = run(&text, findings());
                assert!(r.outcomes[index].findings[0].is_waived(), "{key}");
                assert_eq!(
                    r.outcomes[index].findings[0].exception_keys.as_ref(),
                    Some(&keys)
                );
                tried += 1;
            }
        }
        // Owners are known: inbox rule and mailbox name tom, the role assignment alice.
        assert!(tried >= 10, "{tried}");
        let role = shown.outcomes[2].findings[0]
            .exception_keys
            .as_ref()
            .unwrap();
        assert!(
            role.resource.contains(&"alice@contoso.com".to_owned()),
            "{role:?}"
        );
    }

    #[test]
    fn first_matching_exception_wins() {
        let text = "[[exception]]\nrule = \"user_without_mfa\"\nresource = \"u-alice\"\nreason = \"first\"\nexpires = 2026-02-01\n\n[[exception]]\nrule = \"user_without_mfa\"\nresource = \"alice@*\"\nreason = \"second\"\nexpires = 2026-03-01\n";
        let r = run(
            text,
            vec![outcome(
                "user_without_mfa",
                RuleStatus::Failed,
                vec![finding(
                    "user_without_mfa",
                    "user",
                    "u-alice",
                    "alice@contoso.com",
                )],
            )],
        );
        assert_eq!(
            r.outcomes[0].findings[0].waiver.as_ref().unwrap().reason,
            "first"
        );
        // The second one matched too (it was just not needed): no "matched nothing" warning.
        assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    }
}
