//! `suspend_mail_access` (respond, Microsoft's compromised-account step 5): while the account
//! is blocked, turn off the ways a mail client keeps reaching the mailbox — Exchange
//! ActiveSync, Outlook on the web for devices, POP, IMAP and SMTP AUTH — with one
//! `Set-CASMailbox` (<https://learn.microsoft.com/powershell/module/exchange/set-casmailbox>;
//! guidance: <https://learn.microsoft.com/defender-office-365/responding-to-a-compromised-email-account>).
//! The state read records all five switches as they were (`null` SMTP AUTH = the
//! organisation's setting), which is what `restore_mail_access` puts back.

use serde_json::{json, Map, Value};

use super::disable_mail_protocols::{identity, ps};
use super::{exchange_write_error, state, ActionKind, Handler, State, WriteReceipt};
use crate::fix::live::{ExoCasMailbox, Live};
use crate::fix::password::PasswordSink;
use crate::fix::plan::Target;
use crate::graph::ApiError;
use crate::snapshot::model::CasMailbox;

pub struct SuspendMailAccess;

/// The switches, as (state key, Set-CASMailbox parameter, value while suspended).
pub const SWITCHES: [(&str, &str, bool); 5] = [
    ("active_sync_enabled", "ActiveSyncEnabled", false),
    ("owa_for_devices_enabled", "OWAforDevicesEnabled", false),
    ("pop_enabled", "PopEnabled", false),
    ("imap_enabled", "ImapEnabled", false),
    (
        "smtp_client_authentication_disabled",
        "SmtpClientAuthenticationDisabled",
        true,
    ),
];

fn opt(v: Option<bool>) -> Value {
    v.map_or(Value::Null, Value::Bool)
}

/// The five switches from the snapshot (respond's collected evidence).
pub fn access_state(m: &CasMailbox) -> State {
    state([
        ("active_sync_enabled", opt(m.active_sync_enabled)),
        ("owa_for_devices_enabled", opt(m.owa_for_devices_enabled)),
        ("pop_enabled", opt(m.pop_enabled)),
        ("imap_enabled", opt(m.imap_enabled)),
        (
            "smtp_client_authentication_disabled",
            opt(m.smtp_client_authentication_disabled),
        ),
    ])
}

/// The same from a live `Get-CASMailbox`.
pub fn read_access(live: &Live<'_>, target: &Target) -> Result<Option<State>, ApiError> {
    Ok(live.cas_mailbox(identity(target))?.map(|m: ExoCasMailbox| {
        state([
            ("active_sync_enabled", opt(m.active_sync_enabled)),
            ("owa_for_devices_enabled", opt(m.owa_for_devices_enabled)),
            ("pop_enabled", opt(m.pop_enabled)),
            ("imap_enabled", opt(m.imap_enabled)),
            (
                "smtp_client_authentication_disabled",
                opt(m.smtp_client_authentication_disabled),
            ),
        ])
    }))
}

/// The state suspension leaves.
pub fn suspended() -> State {
    SWITCHES
        .iter()
        .map(|(key, _, v)| ((*key).to_owned(), Value::Bool(*v)))
        .collect()
}

/// `Set-CASMailbox` parameters that set every switch to `values` (missing = `$null`).
pub fn parameters(target: &Target, values: &Map<String, Value>) -> Value {
    let mut p = Map::new();
    p.insert("Identity".into(), json!(identity(target)));
    for (key, param, _) in SWITCHES {
        p.insert(
            param.into(),
            values.get(key).cloned().unwrap_or(Value::Null),
        );
    }
    Value::Object(p)
}

/// The same as a PowerShell line.
pub fn command(target: &Target, values: &Map<String, Value>) -> String {
    let mut line = format!("Set-CASMailbox -Identity {}", identity(target));
    for (key, param, _) in SWITCHES {
        line.push_str(&format!(" -{param} {}", ps(values.get(key))));
    }
    line
}

impl Handler for SuspendMailAccess {
    fn read(&self, live: &Live<'_>, target: &Target) -> Result<Option<State>, ApiError> {
        read_access(live, target)
    }

    fn is_done(&self, _target: &Target, state: Option<&State>) -> bool {
        state.is_some_and(|s| suspended().iter().all(|(k, v)| s.get(k) == Some(v)))
    }

    fn write(
        &self,
        live: &Live<'_>,
        target: &Target,
        _passwords: &mut PasswordSink,
    ) -> Result<WriteReceipt, ApiError> {
        live.exchange
            .invoke("Set-CASMailbox", parameters(target, &suspended()))
            .map_err(|e| {
                exchange_write_error(e, &ActionKind::SuspendMailAccess.needs().summary())
            })?;
        Ok(WriteReceipt::default())
    }

    fn describe_write(&self, target: &Target) -> String {
        command(target, &suspended())
    }

    fn describe_verify(&self) -> &'static str {
        "Get-CASMailbox: ActiveSync, OWA for devices, POP and IMAP off, SmtpClientAuthenticationDisabled true"
    }

    fn rollback(&self, target: &Target, precondition: &State) -> Option<String> {
        Some(command(target, precondition))
    }
}
