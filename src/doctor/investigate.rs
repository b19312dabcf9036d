//! What `investigate` (and `respond --user`, which runs it first) will be able to read,
//! judged from the grants alone, per evidence source of `permission::INVESTIGATION`. No
//! probe: a missing licence shows when `investigate` runs (the source is `unavailable`),
//! and a missing grant here never fails doctor — collection does not need it.

use super::{holds, missing, needs_text, role, Check, Report, Status};
use crate::permission::{InvestigationNeed, INVESTIGATION, MANAGE_AS_APP};

/// One check per evidence source, in table order.
pub(super) fn checks(report: &Report) -> Vec<Check> {
    INVESTIGATION.iter().map(|n| check(report, n)).collect()
}

fn check(report: &Report, need: &InvestigationNeed) -> Check {
    let mut lacking = Vec::new();
    let mut notes = Vec::new();
    match &report.graph_permissions {
        Some(granted) => {
            let perms = missing(granted, need.graph);
            if !perms.is_empty() {
                lacking.push(needs_text(&perms));
            }
        }
        None if !need.graph.is_empty() => notes.push(format!(
            "cannot read the granted permissions from the token; needs {}",
            crate::permission::least(need.graph)
        )),
        None => {}
    }
    if let Some(roles) = need.exchange_roles {
        if let Some(granted) = &report.exchange_permissions {
            if !granted.contains(MANAGE_AS_APP) {
                lacking.push(format!(
                    "needs {MANAGE_AS_APP} (Office 365 Exchange Online application permission)"
                ));
            }
        }
        match &report.directory_roles {
            Some(held) if holds(held, roles) => {}
            Some(_) => lacking.push(format!(
                "needs the {} directory role on the app's service principal",
                role::names(roles)
            )),
            None => notes.push(format!(
                "cannot read the service principal's directory roles; needs {}",
                role::names(roles)
            )),
        }
    }
    if let Some(licence) = need.licence {
        notes.push(format!("needs {licence}, else unavailable"));
    }
    let status = if !lacking.is_empty() {
        Status::Missing
    } else if notes.iter().any(|n| n.starts_with("cannot read")) {
        Status::Warn
    } else {
        Status::Ok
    };
    lacking.extend(notes);
    Check {
        name: need.source,
        status,
        detail: lacking.join("; "),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::*;

    fn report(graph: &[&str], roles: &[&str]) -> Report {
        let set = |items: &[&str]| -> BTreeSet<String> {
            items.iter().map(|s| (*s).to_owned()).collect()
        };
        Report {
            tenant: "t".into(),
            client_id: "c".into(),
            credential: "client secret".into(),
            app_name: None,
            principal_id: None,
            graph_permissions: Some(set(graph)),
            exchange_permissions: Some(set(&[MANAGE_AS_APP])),
            directory_roles: Some(set(roles)),
            role_names: BTreeMap::new(),
            sources: Vec::new(),
            actions: Vec::new(),
            investigation: Vec::new(),
        }
    }

    #[test]
    fn each_evidence_source_names_what_is_missing() {
        let r = report(
            &["User.Read.All", "AuditLog.Read.All"],
            &[role::GLOBAL_READER],
        );
        let checks = checks(&r);
        let by = |name: &str| checks.iter().find(|c| c.name == name).unwrap();
        assert_eq!(by("sign_ins").status, Status::Ok);
        assert!(by("sign_ins").detail.contains("Entra ID P1"));
        assert_eq!(by("risk_detections").status, Status::Missing);
        assert!(by("risk_detections")
            .detail
            .contains("IdentityRiskEvent.Read.All"));
        assert!(by("audit_events")
            .detail
            .contains("AuditLogsQuery.Read.All"));
        assert!(by("messages_sent")
            .detail
            .contains("Exchange Administrator"));
        let r = report(
            &[
                "User.Read.All",
                "AuditLog.Read.All",
                "IdentityRiskEvent.Read.All",
                "AuditLogsQuery.Read.All",
            ],
            &[role::EXCHANGE_ADMINISTRATOR],
        );
        assert!(super::checks(&r).iter().all(|c| c.status == Status::Ok));
    }
}
