//! The guidance's manual steps — what Microsoft's compromised-account guidance asks for
//! that no API does — as a checklist, each step with the evidence the investigation
//! collected for it. It ends `respond`'s review and the HTML timeline.
//!
//! The evidence is read from the typed evidence document (sign-ins, risk detections,
//! directory audits, the unified audit log's `audit_events`, the message trace's
//! `messages_sent`); a source that was not collected, failed or is unavailable says so
//! ("no evidence collected: …"), never an empty list that reads as "nothing to do".

use std::collections::BTreeSet;

use serde::Serialize;

use super::Evidence;

/// One manual step and what supports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    pub step: &'static str,
    /// The collected evidence for it, one line each; never empty.
    pub evidence: Vec<String>,
}

/// At most this many items (recipients, sign-ins) are named per step.
const MAX_ITEMS: usize = 15;

const DEVICES: &str = "Scan the user's devices for malware and install pending updates.";
const ASK_USER: &str = "Ask the user about lost devices, unusual attachments or links they opened, and public Wi-Fi used around the flagged sign-ins.";
const CONTACTS: &str =
    "Tell the contacts who may have received mail from the attacker that it was not the user.";
const RECOVERY: &str = "Check other services that use this mailbox as their recovery address.";
const BLOCK: &str = "Ask receiving organisations to block mail from the account (a transport rule on their side) while it is being cleaned up.";
const VERIFY: &str = "Verify Sent Items, inbox rules, forwarding and the contact details on the account (`m365guard scan`, `m365guard respond`).";

/// The checklist for `evidence`, or, when the investigation could not run, every step with
/// `why` as its only evidence line.
pub fn steps(evidence: Option<&Evidence>, why: &str) -> Vec<Step> {
    let Some(evidence) = evidence else {
        let none = format!("no evidence collected: {why}");
        return [DEVICES, ASK_USER, CONTACTS, RECOVERY, BLOCK, VERIFY]
            .into_iter()
            .map(|step| Step {
                step,
                evidence: vec![none.clone()],
            })
            .collect();
    };
    let sent = &evidence.messages_sent;
    let recipients = recipients(sent);
    // From the per-domain counts, which cover every traced row even when the rows were cut
    // at their limit; `external` is the trace's verdict against the accepted domains.
    let external: BTreeSet<String> = sent
        .by_domain
        .iter()
        .filter(|d| d.external && !d.domain.is_empty())
        .map(|d| d.domain.to_ascii_lowercase())
        .collect();
    let mut contacts = named(
        "recipient(s) of mail the user sent in the window",
        &recipients,
    );
    if sent.rows_truncated && !contacts.is_empty() {
        contacts.push(format!(
            "the trace kept {} of {} row(s): more recipients than listed",
            sent.rows.len(),
            sent.total
        ));
    }
    vec![
        Step {
            step: DEVICES,
            evidence: or_none(
                client_lines(evidence),
                source_gap(evidence, "sign_ins", "sign-ins"),
            ),
        },
        Step {
            step: ASK_USER,
            evidence: or_none(
                flagged_sign_ins(evidence),
                source_gap(evidence, "sign_ins", "no sign-in was flagged"),
            ),
        },
        Step {
            step: CONTACTS,
            evidence: or_none(
                contacts,
                source_gap(evidence, "messages_sent", "no mail sent in the window"),
            ),
        },
        Step {
            step: RECOVERY,
            evidence: vec![format!(
                "no evidence collected: no API lists the services that use {} for account recovery",
                evidence.user.user_principal_name
            )],
        },
        Step {
            step: BLOCK,
            evidence: or_none(
                named(
                    "outside domain(s) the user sent mail to",
                    &external.into_iter().collect::<Vec<_>>(),
                ),
                source_gap(
                    evidence,
                    "messages_sent",
                    "no mail to outside domains in the window",
                ),
            ),
        },
        Step {
            step: VERIFY,
            evidence: or_none(
                mailbox_changes(evidence),
                source_gap(
                    evidence,
                    "audit_events",
                    "no inbox rule, forwarding or permission change in the audit log",
                ),
            ),
        },
    ]
}

fn or_none(lines: Vec<String>, gap: String) -> Vec<String> {
    if lines.is_empty() {
        vec![gap]
    } else {
        lines
    }
}

/// What to say when a step's source gave nothing: why it was not collected, or (collected)
/// `empty`.
fn source_gap(evidence: &Evidence, source: &str, empty: &str) -> String {
    match evidence.sources.get(source) {
        None => format!("no evidence collected: source `{source}` was not collected"),
        Some(s) if s.status != super::SourceState::Ok => format!(
            "no evidence collected: source `{source}` is {}: {}",
            match s.status {
                super::SourceState::Unavailable => "unavailable",
                _ => "in error",
            },
            s.reason.as_deref().unwrap_or("no reason recorded")
        ),
        Some(_) => format!("collected: {empty}"),
    }
}

fn named(what: &str, items: &[String]) -> Vec<String> {
    if items.is_empty() {
        return Vec::new();
    }
    let shown: Vec<&str> = items.iter().take(MAX_ITEMS).map(String::as_str).collect();
    let more = items.len().saturating_sub(MAX_ITEMS);
    vec![format!(
        "{} {what}: {}{}",
        items.len(),
        shown.join(", "),
        if more > 0 {
            format!(" (and {more} more)")
        } else {
            String::new()
        }
    )]
}

/// The recipients of the traced mail, lower-case, sorted, unique.
fn recipients(sent: &super::MessagesSent) -> Vec<String> {
    sent.rows
        .iter()
        .filter(|r| r.recipient.contains('@'))
        .map(|r| r.recipient.to_ascii_lowercase())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// The devices and clients of the successful sign-ins: client app and user agent.
fn client_lines(evidence: &Evidence) -> Vec<String> {
    let clients: BTreeSet<String> = evidence
        .sign_ins
        .iter()
        .filter(|s| s.error_code == Some(0))
        .map(|s| {
            format!(
                "{} ({})",
                s.client_app.as_deref().unwrap_or("unknown client"),
                s.user_agent.as_deref().unwrap_or("no user agent")
            )
        })
        .collect();
    named(
        "client(s) of successful sign-ins",
        &clients.into_iter().collect::<Vec<_>>(),
    )
}

/// The sign-ins a rule flagged or Identity Protection detected, with time and place.
fn flagged_sign_ins(evidence: &Evidence) -> Vec<String> {
    let risky: BTreeSet<&str> = evidence
        .risk_detections
        .iter()
        .filter_map(|d| d.request_id.as_deref())
        .collect();
    let lines: Vec<String> = evidence
        .sign_ins
        .iter()
        .filter(|s| {
            risky.contains(s.id.as_str()) || evidence.findings.iter().any(|f| f.event_id == s.id)
        })
        .map(|s| {
            let place: Vec<&str> = [&s.city, &s.country, &s.ip_address]
                .iter()
                .filter_map(|v| v.as_deref())
                .collect();
            format!(
                "{} from {} via {}",
                s.time,
                place.join(", "),
                s.client_app.as_deref().unwrap_or("unknown client")
            )
        })
        .collect();
    named("flagged sign-in(s)", &lines)
}

/// Mailbox and account changes: directory audits of the user, and `audit_events` whose
/// operation changes rules, forwarding or permissions.
fn mailbox_changes(evidence: &Evidence) -> Vec<String> {
    const OPERATIONS: [&str; 6] = [
        "new-inboxrule",
        "set-inboxrule",
        "updateinboxrules",
        "set-mailbox",
        "add-mailboxpermission",
        "add-recipientpermission",
    ];
    let mut lines: Vec<String> = evidence
        .audit_events
        .iter()
        .filter(|e| OPERATIONS.contains(&e.operation.to_ascii_lowercase().as_str()))
        .map(|e| format!("{} at {}", e.operation, e.time))
        .collect();
    for a in &evidence.directory_audits {
        lines.push(format!("{} at {}", a.activity, a.time));
    }
    named("change(s) to the mailbox or account in the window", &lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(recipient: &str, external: bool) -> super::super::MessageRow {
        super::super::MessageRow {
            id: format!("t1/{recipient}"),
            time: "2025-12-31T02:48:00Z".into(),
            epoch: 0,
            recipient: recipient.into(),
            recipient_domain: recipient.rsplit('@').next().unwrap_or("").into(),
            external,
            status: Some("Delivered".into()),
            subject: None,
            from_ip: None,
        }
    }

    #[test]
    fn recipients_are_the_trace_rows_recipients() {
        let sent = super::super::MessagesSent {
            total: 4,
            rows: vec![
                row("A@fabrikam.example", true),
                row("a@fabrikam.example", true),
                row("b@fabrikam.example", true),
                row("not an address", false),
            ],
            ..Default::default()
        };
        assert_eq!(
            recipients(&sent),
            ["a@fabrikam.example", "b@fabrikam.example"]
        );
        assert!(recipients(&super::super::MessagesSent::default()).is_empty());
    }

    #[test]
    fn without_an_investigation_every_step_says_why() {
        let s = steps(None, "cannot read the user");
        assert_eq!(s.len(), 6);
        for step in &s {
            assert_eq!(
                step.evidence,
                ["no evidence collected: cannot read the user"]
            );
        }
    }

    #[test]
    fn named_lists_are_bounded() {
        let items: Vec<String> = (0..20).map(|i| format!("r{i}@x.example")).collect();
        let line = &named("recipient(s)", &items)[0];
        assert!(line.starts_with("20 recipient(s): r0@x.example"), "{line}");
        assert!(line.ends_with("(and 5 more)"), "{line}");
        assert!(named("x", &[]).is_empty());
    }
}
