//! Synthetic mailbox folder permissions: what a tenant has without anything wrong — every
//! twentieth user mailbox's calendar delegated (Editor with the Delegate flag) to the
//! next user mailbox, the way an assistant is set up. Picked by position, not by the
//! random stream, so adding them changed no other generated object.

use crate::snapshot::model::{FolderPrincipal, MailFolderKind, Mailbox, MailboxFolderPermission};

pub(super) fn folder_permissions(mailboxes: &[Mailbox]) -> Vec<MailboxFolderPermission> {
    let users: Vec<&Mailbox> = mailboxes
        .iter()
        .filter(|m| m.recipient_type_details == "UserMailbox")
        .collect();
    let mut out: Vec<MailboxFolderPermission> = users
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 20 == 3)
        .filter_map(|(i, m)| {
            let delegate = users.get((i + 1) % users.len())?;
            let name = delegate.user_principal_name.to_lowercase();
            Some(MailboxFolderPermission {
                id: format!("{}/calendar/{name}", m.id),
                mailbox_id: m.id.clone(),
                mailbox_upn: m.user_principal_name.clone(),
                folder: MailFolderKind::Calendar,
                folder_path: "\\Calendar".to_owned(),
                principal: FolderPrincipal::User,
                user: name.clone(),
                trustee_id: Some(delegate.id.clone()),
                trustee_address: Some(name),
                trustee_type: Some("UserMailbox".to_owned()),
                access_rights: vec!["Editor".to_owned()],
                sharing_permission_flags: vec!["Delegate".to_owned()],
            })
        })
        .collect();
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out.dedup_by(|a, b| a.id == b.id);
    out
}
