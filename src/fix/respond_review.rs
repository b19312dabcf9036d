//! `respond`'s review list: what Microsoft's compromised-account guidance asks a responder
//! to look at, and that respond shows but does not change — delegations granted to the
//! user and on the user's mailbox (the `mailbox_delegates` source's data), the OAuth
//! consent grants the user gave (`respond_consents`; those of the compromise window are
//! also in the plan), and the
//! transport rules and connectors changed since `--since` (by `WhenChanged`, the only
//! change time those cmdlets give) — plus the checklist of what respond cannot do at all:
//! Purview (Security & Compliance) role groups are not reachable through the Exchange
//! admin endpoint m365guard uses.
//! <https://learn.microsoft.com/defender-office-365/responding-to-a-compromised-email-account>

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::live::Live;
use super::respond_consents::{UserConsent, UserConsents};
use crate::auth::Settings;
use crate::collect::{self, Ctx};
use crate::snapshot::model::{MailboxDelegate, SourceId, SourceState};

/// The default look-back when `--since` is not given.
pub const DEFAULT_WINDOW_DAYS: i64 = 30;

/// What respond lists for a human to review (saved as `respond-review.json` evidence).
#[derive(Debug, Clone, Serialize)]
pub struct Review {
    pub user: String,
    /// Changes at or after this instant are listed.
    pub since: DateTime<Utc>,
    /// Delegations the user holds on other mailboxes.
    pub delegations_to_user: Vec<MailboxDelegate>,
    /// Delegations others hold on the user's mailbox.
    pub delegations_on_mailbox: Vec<MailboxDelegate>,
    pub transport_rules_changed: Vec<Changed>,
    pub connectors_changed: Vec<Changed>,
    /// The OAuth consent grants the user gave (`respond_consents`): respond revokes those
    /// given in the compromise window; the others are for the responder to judge.
    pub consent_grants: Vec<UserConsent>,
    /// Sources that could not be read: their part of the list is missing, not empty.
    pub not_read: Vec<String>,
    /// What respond does not do; each to be checked by hand.
    pub checklist: Vec<String>,
    /// The guidance's manual steps with the evidence the investigation collected for each
    /// (`investigate::checklist`); filled by `respond` after its investigation.
    pub guidance: Vec<crate::investigate::checklist::Step>,
}

/// A mail flow object changed in the window.
#[derive(Debug, Clone, Serialize)]
pub struct Changed {
    pub kind: &'static str,
    pub id: String,
    pub name: String,
    pub when_changed: DateTime<Utc>,
}

/// The manual steps respond leaves to the responder.
pub const CHECKLIST: [&str; 2] = [
    "Purview (Security & Compliance) role groups: not reachable through the Exchange admin API m365guard uses; remove the user from them in the Microsoft Purview portal (Roles and scopes > Role groups) or with Remove-RoleGroupMember in Security & Compliance PowerShell",
    "Review the delegations, transport rules and connectors listed above: respond lists them, it does not change them (m365guard fix plan --rule … plans their fixes)",
];

/// Read what the review lists (whole-tenant reads: every mailbox's permissions, every
/// transport rule and connector). A source that fails is named in `not_read`.
pub fn collect(
    live: &Live<'_>,
    settings: &Settings,
    user_id: &str,
    upn: &str,
    since: DateTime<Utc>,
) -> Review {
    let mut ctx = Ctx {
        graph: live.graph.clone(),
        exchange: live.exchange.clone(),
        snapshot: collect::empty_snapshot(settings),
        deep: false,
    };
    collect::mailboxes::collect(&mut ctx);
    collect::mailbox_delegates::collect(&mut ctx);
    collect::transport_rules::collect(&mut ctx);
    collect::connectors::collect_outbound(&mut ctx);
    collect::connectors::collect_inbound(&mut ctx);
    let s = &ctx.snapshot;
    let not_read = [
        SourceId::MailboxDelegates,
        SourceId::TransportRules,
        SourceId::OutboundConnectors,
        SourceId::InboundConnectors,
    ]
    .into_iter()
    .filter_map(|id| {
        let st = s.sources.get(&id)?;
        (st.status != SourceState::Ok)
            .then(|| format!("{}: {}", id.as_str(), st.reason.clone().unwrap_or_default()))
    })
    .collect();
    let is_user = |d: &MailboxDelegate| {
        d.trustee_id.as_deref() == Some(user_id)
            || d.trustee_address
                .as_deref()
                .is_some_and(|a| a.eq_ignore_ascii_case(upn))
            || d.trustee.eq_ignore_ascii_case(upn)
    };
    let changed = |kind: &'static str, id: &str, name: &str, when: Option<DateTime<Utc>>| {
        when.filter(|w| *w >= since).map(|when_changed| Changed {
            kind,
            id: id.to_owned(),
            name: name.to_owned(),
            when_changed,
        })
    };
    let mut connectors: Vec<Changed> = s
        .outbound_connectors
        .iter()
        .filter_map(|c| changed("outbound connector", &c.id, &c.name, c.when_changed))
        .chain(
            s.inbound_connectors
                .iter()
                .filter_map(|c| changed("inbound connector", &c.id, &c.name, c.when_changed)),
        )
        .collect();
    connectors.sort_by_key(|c| std::cmp::Reverse(c.when_changed));
    let mut rules: Vec<Changed> = s
        .transport_rules
        .iter()
        .filter_map(|r| changed("transport rule", &r.id, &r.name, r.when_changed))
        .collect();
    rules.sort_by_key(|r| std::cmp::Reverse(r.when_changed));
    Review {
        user: upn.to_owned(),
        since,
        delegations_to_user: s
            .mailbox_delegates
            .iter()
            .filter(|d| is_user(d) && d.mailbox_id != user_id)
            .cloned()
            .collect(),
        delegations_on_mailbox: s
            .mailbox_delegates
            .iter()
            .filter(|d| d.mailbox_id == user_id || d.mailbox_upn.eq_ignore_ascii_case(upn))
            .filter(|d| !is_user(d))
            .cloned()
            .collect(),
        transport_rules_changed: rules,
        connectors_changed: connectors,
        consent_grants: Vec::new(),
        not_read,
        checklist: CHECKLIST.iter().map(|c| (*c).to_owned()).collect(),
        guidance: Vec::new(),
    }
}

impl Review {
    /// Add the user's consent grants (read by `respond::collect_user`) to the list.
    pub fn add_consents(&mut self, consents: &UserConsents) {
        self.consent_grants = consents.grants.clone();
        self.not_read.extend(
            consents
                .not_read
                .iter()
                .map(|(what, e)| format!("consent grants ({what}): {e}")),
        );
    }

    /// The list as printed after the plan.
    pub fn render(&self) -> String {
        let mut out = format!(
            "Review (listed, not changed) for {} since {}:\n",
            self.user,
            self.since.format("%Y-%m-%d %H:%M UTC")
        );
        let delegate = |d: &MailboxDelegate| {
            format!(
                "{} holds {} on {}",
                d.trustee_address.as_deref().unwrap_or(&d.trustee),
                d.right.as_str(),
                d.mailbox_upn
            )
        };
        let mut section = |title: &str, lines: Vec<String>| {
            out.push_str(&format!("  {title}: {}\n", lines.len()));
            for l in lines {
                out.push_str(&format!("    - {l}\n"));
            }
        };
        section(
            "delegations granted to the user",
            self.delegations_to_user.iter().map(delegate).collect(),
        );
        section(
            "delegations on the user's mailbox",
            self.delegations_on_mailbox.iter().map(delegate).collect(),
        );
        let changed = |c: &Changed| {
            format!(
                "{} \"{}\" changed {}",
                c.kind,
                c.name,
                c.when_changed.format("%Y-%m-%d %H:%M UTC")
            )
        };
        section(
            "transport rules changed in the window",
            self.transport_rules_changed.iter().map(changed).collect(),
        );
        section(
            "connectors changed in the window",
            self.connectors_changed.iter().map(changed).collect(),
        );
        let consent = |c: &UserConsent| {
            format!(
                "{} ({}) holds {} on {}, {}",
                c.client_name.as_deref().unwrap_or(&c.client_id),
                c.consent_type,
                c.scopes.join(" "),
                c.resource_name.as_deref().unwrap_or(&c.resource_id),
                c.consented_at.map_or_else(
                    || "no consent event in the window's audit log".to_owned(),
                    |t| format!("consented {}", t.format("%Y-%m-%d %H:%M UTC"))
                )
            )
        };
        section(
            "app consents the user gave",
            self.consent_grants.iter().map(consent).collect(),
        );
        if !self.not_read.is_empty() {
            section(
                "NOT READ (this part of the list is missing)",
                self.not_read.clone(),
            );
        }
        out.push_str("Checklist (respond does not do these):\n");
        for c in &self.checklist {
            out.push_str(&format!("  [ ] {c}\n"));
        }
        if !self.guidance.is_empty() {
            out.push_str("The guidance's manual steps (no API does these), with the evidence:\n");
            for g in &self.guidance {
                out.push_str(&format!("  [ ] {}\n", g.step));
                for e in &g.evidence {
                    out.push_str(&format!("        {e}\n"));
                }
            }
        }
        out
    }
}
