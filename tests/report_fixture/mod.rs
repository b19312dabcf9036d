//! A hand-built `ScanResult` covering every state a reporter must render: a failed
//! critical rule with two findings (one with a snapshot line, one without), a passed rule,
//! a rule passed only because its finding is waived, a not-evaluated and a not-applicable
//! rule, an exempt account and a warning. Versions and times are fixed so report
//! snapshots are stable. Shared by `tests/reports.rs` and `tests/sarif_schema.rs`.
#![allow(dead_code)]

use std::sync::Arc;

use chrono::{NaiveDate, TimeZone, Utc};
use m365guard::findings::{
    BaselineState, ExceptionKeys, Exemption, Finding, ResourceRef, RuleOutcome, RuleStatus,
    ScanInfo, ScanResult, Severity, Waiver,
};
use m365guard::policy::metadata::{Area, FixAction, RoadmapPhase, RuleMeta};
use m365guard::snapshot::SourceId;
use sha2::{Digest, Sha256};

pub const TENANT_ID: &str = "4f1c2a9e-7d3b-4c8e-9a51-0b6d2e8f3a17";

#[allow(clippy::too_many_arguments)]
pub fn rule(
    id: &str,
    title: &str,
    severity: Severity,
    area: Area,
    phase: RoadmapPhase,
    sources: Vec<SourceId>,
    fix_action: Option<FixAction>,
    references: &[&str],
) -> Arc<RuleMeta> {
    Arc::new(RuleMeta {
        id: id.to_string(),
        title: title.to_string(),
        severity,
        area,
        roadmap_phase: phase,
        sources,
        optional_sources: Vec::new(),
        description: format!("Checks that {}.", title.to_lowercase()),
        rationale: format!("Attackers abuse this after a mailbox compromise ({id})."),
        remediation: format!("Correct the setting for every resource listed ({id})."),
        limits: None,
        fix_action,
        references: references.iter().map(|r| r.to_string()).collect(),
        tags: vec!["bec".to_string()],
    })
}

pub fn finding(
    rule: &RuleMeta,
    severity: Severity,
    kind: &str,
    id: &str,
    name: &str,
    message: &str,
    line: Option<usize>,
) -> Finding {
    Finding {
        rule_id: rule.id.clone(),
        severity,
        resource: ResourceRef {
            kind: m365guard::findings::ResourceKind::parse(kind).expect("known kind"),
            id: id.to_string(),
            name: name.to_string(),
        },
        message: message.to_string(),
        details: serde_json::Value::Null,
        // Same inputs as the evaluator's fingerprint; the exact recipe is not under test here.
        fingerprint: format!(
            "{:x}",
            Sha256::digest(format!("{TENANT_ID}\0{}\0{kind}\0{id}", rule.id))
        ),
        line,
        waiver: None,
        baseline_state: None,
        // What `config::annotate` gives a finding without a known owner.
        exception_keys: Some(ExceptionKeys {
            rule: rule.id.clone(),
            resource: if id == name {
                vec![id.to_string()]
            } else {
                vec![id.to_string(), name.to_string()]
            },
        }),
        activity: None,
    }
}

pub fn info() -> ScanInfo {
    ScanInfo {
        tool_version: "0.1.0".to_string(),
        tenant_id: TENANT_ID.to_string(),
        tenant_name: Some("Contoso".to_string()),
        snapshot_path: "examples/contoso-compromised.json".to_string(),
        snapshot_digest: "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
            .to_string(),
        collected_at: Utc.with_ymd_and_hms(2025, 3, 1, 6, 0, 0).unwrap(),
        scanned_at: Utc.with_ymd_and_hms(2025, 3, 1, 6, 5, 30).unwrap(),
        baseline: Some("roadmap-30d".to_string()),
        fail_on: Severity::Medium,
        config_path: Some("m365guard.toml".to_string()),
        rule_selection: true,
    }
}

pub fn scan_result() -> ScanResult {
    let admin_mfa = rule(
        "admin_mfa_registered",
        "Administrators are registered for MFA",
        Severity::High,
        Area::Identity,
        RoadmapPhase::Days30,
        vec![SourceId::Users, SourceId::Roles, SourceId::MfaRegistration],
        Some(FixAction::EnforceMfa),
        &["https://learn.microsoft.com/entra/identity/authentication/howto-mfa-userstates"],
    );
    let inbox_rules = rule(
        "inbox_rule_forwards_external",
        "No inbox rule forwards mail outside the organisation",
        Severity::High,
        Area::Exchange,
        RoadmapPhase::Days30,
        vec![SourceId::InboxRules, SourceId::Organization],
        Some(FixAction::DisableInboxRule),
        &[],
    );
    let forwarding = rule(
        "mailbox_forwarding_external",
        "No mailbox forwards to an external address",
        Severity::Critical,
        Area::Exchange,
        RoadmapPhase::Days30,
        vec![SourceId::Mailboxes, SourceId::Organization],
        Some(FixAction::ClearMailboxForwarding),
        &[
            "https://learn.microsoft.com/defender-office-365/outbound-spam-policies-external-email-forwarding",
            "https://www.cisa.gov/resources-tools/services/secure-cloud-business-applications-scuba-project",
        ],
    );
    let mfa_registration = rule(
        "mfa_registration_all_users",
        "Every enabled member user has registered an MFA method",
        Severity::Medium,
        Area::Identity,
        RoadmapPhase::Days30,
        vec![SourceId::Users, SourceId::MfaRegistration],
        None,
        &[],
    );
    let risky = rule(
        "risky_users_remediated",
        "No user is left at high risk",
        Severity::High,
        Area::Risk,
        RoadmapPhase::Days90,
        vec![SourceId::RiskyUsers],
        Some(FixAction::RevokeSessions),
        &[],
    );

    let mut alice = finding(
        &forwarding,
        Severity::Critical,
        "mailbox",
        "0b8e5c1d-3f2a-4e6b-9c7d-1a2b3c4d5e6f",
        "alice@contoso.com",
        "Mailbox forwards all mail to attacker@evil.example (external domain)",
        Some(42),
    );
    alice.details = serde_json::json!({ "forwarding_smtp_address": "attacker@evil.example" });
    alice.baseline_state = Some(BaselineState::New);
    // No line (found through a lookup the locator could not place); its message carries a
    // pipe and a line break, which table-shaped formats must escape.
    let bob = finding(
        &forwarding,
        Severity::Critical,
        "mailbox",
        "7c6d5e4f-3a2b-4c1d-8e9f-0a1b2c3d4e5f",
        "bob@contoso.com",
        "Mailbox forwards to x|y@evil.example\nand keeps a copy <deliver_and_forward>",
        None,
    );
    let mut waived = finding(
        &inbox_rules,
        Severity::High,
        "inbox_rule",
        "AAMkAGI2-rule-1",
        "finance@contoso.com: Auditor copy",
        "Inbox rule 'Auditor copy' forwards invoices to audit@kpmg.example",
        Some(57),
    );
    waived.waiver = Some(Waiver {
        reason: "External auditor engagement until year end".to_string(),
        expires: NaiveDate::from_ymd_opt(2025, 12, 31).unwrap(),
        ticket: Some("SEC-1042".to_string()),
    });
    waived.baseline_state = Some(BaselineState::Unchanged);

    let mut result = ScanResult {
        info: info(),
        outcomes: vec![
            RuleOutcome {
                rule: admin_mfa,
                status: RuleStatus::Passed,
                findings: vec![],
            },
            RuleOutcome {
                rule: inbox_rules,
                status: RuleStatus::Passed,
                findings: vec![waived],
            },
            RuleOutcome {
                rule: forwarding,
                status: RuleStatus::Failed,
                findings: vec![alice, bob],
            },
            RuleOutcome {
                rule: mfa_registration,
                status: RuleStatus::NotEvaluated {
                    reason: "source mfa_registration failed to collect: Graph returned 403 \
                             Forbidden (Reports.Read.All not granted)"
                        .to_string(),
                },
                findings: vec![],
            },
            RuleOutcome {
                rule: risky,
                status: RuleStatus::NotApplicable {
                    reason: "source risky_users is unavailable: the tenant has no Entra ID P2 \
                             licence"
                        .to_string(),
                },
                findings: vec![],
            },
        ],
        exemptions: vec![Exemption {
            account: "breakglass01@contoso.onmicrosoft.com".to_string(),
            reason: "Break-glass account, monitored by a sign-in alert".to_string(),
        }],
        warnings: vec![
            "exception for rule legacy_auth_blocked (m365guard.toml:14) matched no finding"
                .to_string(),
        ],
        absent: Vec::new(),
        incomplete: Vec::new(),
        controls: Default::default(),
        activity: None,
    };
    // Framework ids as `scan` fills them in from the baselines' [[mapping]] entries.
    let control = |framework: &str, baseline: &str, control: &str, title: &str, coverage| {
        m365guard::baseline::ControlRef {
            framework: framework.to_string(),
            baseline: baseline.to_string(),
            control: control.to_string(),
            title: title.to_string(),
            coverage,
            note: None,
        }
    };
    use m365guard::baseline::Coverage;
    result.controls.insert(
        "mailbox_forwarding_external".to_string(),
        vec![
            control(
                "ScubaGear",
                "scubagear",
                "MS.EXO.1.1v1",
                "Automatic forwarding to external domains SHALL be disabled.",
                Coverage::Partial,
            ),
            control(
                "CIS M365",
                "cis-m365",
                "6.2.1",
                "Ensure all forms of mail forwarding are blocked and/or disabled",
                Coverage::Partial,
            ),
        ],
    );
    result.controls.insert(
        "admin_mfa_registered".to_string(),
        vec![control(
            "ScubaGear",
            "scubagear",
            "MS.AAD.3.6v1",
            "Phishing-resistant MFA SHALL be required for highly privileged roles.",
            Coverage::Full,
        )],
    );
    result
}

/// The same scan with every source collected: the exit status is then decided by findings.
pub fn complete_scan_result() -> ScanResult {
    let mut result = scan_result();
    result
        .outcomes
        .retain(|o| !matches!(o.status, RuleStatus::NotEvaluated { .. }));
    result
}
