//! Exchange Online of a synthetic tenant: mailboxes (with external and internal
//! forwarding), inbox rules (mostly harmless, a realistic share of hiding and forwarding
//! rules), and senders restricted for spamming.

use super::{Generator, Kind, DOMAIN, EXTERNAL_DOMAINS};
use crate::snapshot::model::*;

impl Generator {
    fn external_address(&mut self) -> String {
        let domain = *self.rng.pick(&EXTERNAL_DOMAINS);
        format!("u{:06x}@{domain}", self.rng.next_u64() & 0xff_ffff)
    }

    pub(super) fn mailbox(&mut self, user: &User, kind: Kind) -> Option<Mailbox> {
        let recipient_type = match kind {
            Kind::Guest => return None,
            Kind::Shared => "SharedMailbox",
            // A few members are unlicensed for Exchange and have no mailbox.
            Kind::Member if self.rng.chance(0.02) => return None,
            Kind::Member | Kind::Departed => "UserMailbox",
        };
        let mut mailbox = Mailbox {
            id: user.id.clone(),
            user_principal_name: user.user_principal_name.clone(),
            primary_smtp_address: Some(user.user_principal_name.clone()),
            recipient_type_details: recipient_type.to_owned(),
            forwarding_smtp_address: None,
            forwarding_address: None,
            forwarding_address_smtp: None,
            deliver_to_mailbox_and_forward: false,
            legacy_exchange_dn: None,
            delegation: Default::default(),
        };
        let r = self.rng.unit();
        if r < 0.01 {
            mailbox.forwarding_smtp_address = Some(self.external_address());
            mailbox.deliver_to_mailbox_and_forward = self.rng.chance(0.7);
        } else if r < 0.03 || kind == Kind::Departed && self.rng.chance(0.3) {
            // Internal forwarding (a manager takes over a leaver's mail, an assistant).
            // Drawn here, made a mailbox by `forward_to_mailboxes` once all exist.
            let target = format!("user{}", 1 + self.rng.below(1000));
            mailbox.forwarding_address_smtp = Some(format!("{target}@{DOMAIN}"));
            mailbox.forwarding_address = Some(target);
            mailbox.deliver_to_mailbox_and_forward = self.rng.chance(0.5);
        }
        Some(mailbox)
    }

    /// Exchange forwards only to a recipient it knows, so an internal forward drawn in
    /// [`Generator::mailbox`] (`user{k}`, k in 1..=1000) whose user has no mailbox (a guest,
    /// an unlicensed member, or no user k in a small tenant) is moved to the next mailbox
    /// after it in user order, wrapping, never the forwarding mailbox itself. Done after
    /// all mailboxes exist and without drawing from the random stream, so the rest of the
    /// tenant (and every forward that already named a mailbox) is as before.
    pub(super) fn forward_to_mailboxes(mailboxes: &mut [Mailbox]) {
        let suffix = format!("@{DOMAIN}");
        // (k, position) of every `user{k}@contoso.com` mailbox, ascending in k.
        let mut numbered: Vec<(usize, usize)> = mailboxes
            .iter()
            .enumerate()
            .filter_map(|(pos, m)| {
                let local = m.user_principal_name.strip_suffix(&suffix)?;
                Some((local.strip_prefix("user")?.parse().ok()?, pos))
            })
            .collect();
        numbered.sort_unstable();
        let targets: Vec<(usize, Option<usize>)> = mailboxes
            .iter()
            .enumerate()
            .filter_map(|(pos, m)| {
                let k: usize = m
                    .forwarding_address
                    .as_deref()?
                    .strip_prefix("user")?
                    .parse()
                    .ok()?;
                let start = numbered.partition_point(|&(n, _)| n < k);
                let target = (0..numbered.len())
                    .map(|step| numbered[(start + step) % numbered.len()].1)
                    .find(|&t| t != pos);
                Some((pos, target))
            })
            .collect();
        for (pos, target) in targets {
            let upn = target.map(|t| mailboxes[t].user_principal_name.clone());
            let m = &mut mailboxes[pos];
            match upn {
                Some(upn) => {
                    m.forwarding_address = upn.strip_suffix(&suffix).map(str::to_owned);
                    m.forwarding_address_smtp = Some(upn);
                }
                // The tenant's only mailbox: nobody to forward to.
                None => {
                    m.forwarding_address = None;
                    m.forwarding_address_smtp = None;
                    m.deliver_to_mailbox_and_forward = false;
                }
            }
        }
    }

    /// Delegations as a tenant has them: each shared mailbox opened (FullAccess) and sent
    /// as (SendAs) by two user mailboxes. Picked by position, not by the random stream, so
    /// adding them changed no other generated object.
    pub(super) fn mailbox_delegates(mailboxes: &[Mailbox]) -> Vec<MailboxDelegate> {
        let users: Vec<&Mailbox> = mailboxes
            .iter()
            .filter(|m| m.recipient_type_details == "UserMailbox")
            .collect();
        let mut out = Vec::new();
        let shared = mailboxes
            .iter()
            .filter(|m| m.recipient_type_details == "SharedMailbox");
        for (i, m) in shared.enumerate() {
            for step in [1, 7] {
                let Some(u) = users.get((i * 13 + step) % users.len().max(1)) else {
                    continue;
                };
                let trustee = u.user_principal_name.to_lowercase();
                for (right, rights) in [
                    (DelegateRight::FullAccess, vec!["FullAccess".to_owned()]),
                    (DelegateRight::SendAs, vec![]),
                ] {
                    out.push(MailboxDelegate {
                        id: format!("{}/{}/{trustee}", m.id, right.as_str()),
                        mailbox_id: m.id.clone(),
                        mailbox_upn: m.user_principal_name.clone(),
                        right,
                        trustee: trustee.clone(),
                        trustee_id: Some(u.id.clone()),
                        trustee_address: Some(trustee.clone()),
                        trustee_type: Some("UserMailbox".to_owned()),
                        access_rights: rights,
                    });
                }
            }
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        out.dedup_by(|a, b| a.id == b.id);
        out
    }

    fn folder(&mut self, alias: &str, name: &str, well_known: Option<&str>) -> FolderRef {
        FolderRef {
            id: format!("{alias}:\\{name}"),
            name: Some(name.to_owned()),
            well_known_name: well_known.map(str::to_owned),
        }
    }

    pub(super) fn inbox_rule(
        &mut self,
        mailbox: &Mailbox,
        rule_identity: u64,
        priority: usize,
        users: usize,
    ) -> InboxRule {
        let alias = mailbox
            .user_principal_name
            .split('@')
            .next()
            .unwrap_or_default()
            .to_owned();
        let rule_id = rule_identity.to_string();
        let mut actions = RuleActions::default();
        let mut conditions = RuleConditions::default();
        let mut hidden = false;
        let r = self.rng.unit();
        let name: String = if r < 0.005 {
            // External forward: half attacker-shaped (hide the copy too), half "to my gmail".
            let target = vec![self.external_address()];
            if self.rng.chance(0.5) {
                conditions.subject_or_body_contains =
                    vec!["invoice".into(), "payment".into(), "wire".into()];
                actions.delete = true;
                actions.mark_as_read = true;
                actions.stop_processing_rules = true;
                hidden = self.rng.chance(0.3);
                match self.rng.below(3) {
                    0 => actions.forward_to = target,
                    1 => actions.redirect_to = target,
                    _ => actions.forward_as_attachment_to = target,
                }
                ".".into()
            } else {
                actions.forward_to = target;
                "Forward to personal".into()
            }
        } else if r < 0.008 {
            // Hide replies about the compromise: keywords (or all mail) into RSS Feeds, read.
            actions.move_to_folder = Some(self.folder(&alias, "RSS Feeds", Some("rssfeeds")));
            if self.rng.chance(0.7) {
                conditions.subject_or_body_contains =
                    vec!["hacked".into(), "phishing".into(), "suspicious".into()];
            }
            actions.mark_as_read =
                self.rng.chance(0.8) || conditions.subject_or_body_contains.is_empty();
            actions.stop_processing_rules = true;
            if self.rng.chance(0.5) {
                "..".into()
            } else {
                "rss".into()
            }
        } else {
            // Weights in percent: mostly sorting, a few forwards, rare deletions.
            match self.rng.below(100) {
                0..=29 => {
                    conditions.sender_contains = vec!["newsletter".into()];
                    actions.move_to_folder = Some(self.folder(&alias, "Newsletters", None));
                    "Newsletters".into()
                }
                30..=44 => {
                    conditions.from_addresses = vec!["jira@contoso.atlassian.net".into()];
                    actions.move_to_folder = Some(self.folder(&alias, "Jira", None));
                    actions.mark_as_read = self.rng.chance(0.5);
                    "Jira notifications".into()
                }
                45..=59 => {
                    conditions.sender_contains = vec!["noreply".into(), "no-reply".into()];
                    actions.move_to_folder = Some(self.folder(&alias, "Automated", None));
                    actions.mark_as_read = true;
                    "Automated mail".into()
                }
                60..=71 => {
                    conditions.subject_contains = vec!["[Teams]".into()];
                    actions.move_to_folder = Some(self.folder(&alias, "Teams", None));
                    "Teams notifications".into()
                }
                72..=77 => {
                    // Internal forward, e.g. to an assistant or team mailbox.
                    let target = 1 + self.rng.below(users.max(1));
                    conditions.subject_contains = vec!["expense".into()];
                    actions.forward_to = vec![format!("user{target}@{DOMAIN}")];
                    "Expenses to assistant".into()
                }
                78..=87 => {
                    conditions.from_addresses =
                        vec![format!("user{}@{DOMAIN}", 1 + self.rng.below(users.max(1)))];
                    actions.copy_to_folder = Some(self.folder(&alias, "Manager", None));
                    actions.stop_processing_rules = true;
                    "From my manager".into()
                }
                // 0.5% of rules delete auto-replies (a real, if sloppy, habit that the
                // hiding-mail rule rightly flags); the rest file them away.
                88..=89 if self.rng.below(4) == 0 => {
                    conditions.subject_contains = vec!["Automatic reply".into()];
                    actions.delete = true;
                    "Delete auto-replies".into()
                }
                88..=89 => {
                    conditions.subject_contains = vec!["Automatic reply".into()];
                    actions.move_to_folder = Some(self.folder(&alias, "Auto-replies", None));
                    "File auto-replies".into()
                }
                _ => {
                    conditions.has_attachments = true;
                    conditions.sender_contains = vec!["scanner".into()];
                    actions.move_to_folder = Some(self.folder(&alias, "Scans", None));
                    "Scanned documents".into()
                }
            }
        };
        InboxRule {
            id: format!("{}/{rule_id}", mailbox.id),
            mailbox_id: mailbox.id.clone(),
            mailbox_upn: mailbox.user_principal_name.clone(),
            exchange_identity: Some(format!("{alias}\\{rule_id}")),
            rule_id,
            source: RuleSource::Exchange,
            name,
            enabled: !self.rng.chance(0.05),
            priority: priority as i64,
            hidden,
            in_error: self.rng.chance(0.002),
            actions,
            conditions,
        }
    }

    pub(super) fn restricted_senders(
        &mut self,
        users: &[User],
        members: &[usize],
    ) -> Vec<RestrictedSender> {
        let count = 2 + members.len() / 40_000;
        self.sample(users, members, count)
            .into_iter()
            .map(|user| {
                let external = 500 + self.rng.below(2000);
                RestrictedSender {
                    id: user.user_principal_name.clone(),
                    user_id: Some(user.id.clone()),
                    reason: Some(format!(
                        "EmailSendingLimitExceeded;InternalRecipientCountToday={};\
                         ExternalRecipientCountToday={external};ExceedingLimitType=External;",
                        self.rng.below(40)
                    )),
                    created: Some(self.days_ago(0, 3)),
                }
            })
            .collect()
    }
}

/// Mail flow of a synthetic tenant: an external-mail disclaimer rule (harmless) and a
/// hybrid-style outbound connector to the tenant's own smart host; no inbound connector.
pub(super) fn mail_flow() -> (Vec<TransportRule>, Vec<OutboundConnector>) {
    let rule = TransportRule {
        id: "0c5a1f00-0000-4000-8000-00000000d15c".into(),
        name: "External disclaimer".into(),
        state: Some("Enabled".into()),
        mode: Some("Enforce".into()),
        priority: Some(0),
        sent_to_scope: Some("NotInOrganization".into()),
        ..TransportRule::default()
    };
    let connector = OutboundConnector {
        id: "0c5a1f00-0000-4000-8000-0000000c0001".into(),
        name: "To on-premises".into(),
        enabled: Some(true),
        connector_type: Some("OnPremises".into()),
        recipient_domains: vec![format!("onprem.{DOMAIN}")],
        smart_hosts: vec![format!("smtp.{DOMAIN}")],
        use_mx_record: Some(false),
        ..OutboundConnector::default()
    };
    (vec![rule], vec![connector])
}

/// Organization Management as Exchange Online sets it up: its only members are the two
/// role groups that stand for the Entra Global and Exchange Administrator roles (their
/// holders are the directory roles' business, not this source's).
pub(super) fn role_group_members() -> Vec<ExchangeRoleGroupMember> {
    ["ExchangeServiceAdmins_-1a2b3c4d", "TenantAdmins_-5e6f7a8b"]
        .into_iter()
        .map(|name| ExchangeRoleGroupMember {
            id: format!("Organization Management/{}", name.to_lowercase()),
            role_group: "Organization Management".into(),
            role_group_id: None,
            member: name.into(),
            member_id: None,
            member_address: None,
            member_type: Some("RoleGroup".into()),
        })
        .collect()
}
