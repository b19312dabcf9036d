//! `disable_mail_protocols`: POP, IMAP and SMTP AUTH off for a mailbox
//! (`Set-CASMailbox -PopEnabled $false -ImapEnabled $false -SmtpClientAuthenticationDisabled $true`,
//! <https://learn.microsoft.com/powershell/module/exchange/set-casmailbox>), or SMTP AUTH off
//! for the organisation (`Set-TransportConfig -SmtpClientAuthenticationDisabled $true`,
//! <https://learn.microsoft.com/powershell/module/exchange/set-transportconfig>).
//!
//! The state read keeps a mailbox's `null` ("use the organisation's setting") apart from
//! `false`, so the evidence records exactly what was there and the rollback puts `$null`
//! back rather than a guess.

use serde_json::{json, Value};

use super::{exchange_write_error, state, ActionKind, Handler, State, WriteReceipt};
use crate::fix::live::{ExoCasMailbox, ExoOrgSwitches, Live};
use crate::fix::password::PasswordSink;
use crate::fix::plan::Target;
use crate::graph::ApiError;
use crate::snapshot::model::CasMailbox;
use crate::snapshot::source::ResourceKind;

pub struct DisableMailProtocols;

fn opt(v: Option<bool>) -> Value {
    v.map_or(Value::Null, Value::Bool)
}

/// A mailbox's precondition vocabulary, from the snapshot.
pub fn mailbox_state(m: &CasMailbox) -> State {
    state([
        ("pop_enabled", opt(m.pop_enabled)),
        ("imap_enabled", opt(m.imap_enabled)),
        (
            "smtp_client_authentication_disabled",
            opt(m.smtp_client_authentication_disabled),
        ),
    ])
}

/// The same vocabulary from a live `Get-CASMailbox`.
fn live_state(m: &ExoCasMailbox) -> State {
    state([
        ("pop_enabled", opt(m.pop_enabled)),
        ("imap_enabled", opt(m.imap_enabled)),
        (
            "smtp_client_authentication_disabled",
            opt(m.smtp_client_authentication_disabled),
        ),
    ])
}

/// The identity `Set-CASMailbox` is given: the primary SMTP address the plan recorded.
pub fn identity(target: &Target) -> &str {
    target
        .exchange_identity
        .as_deref()
        .or(target.user_principal_name.as_deref())
        .unwrap_or(&target.id)
}

/// `$true`, `$false` or `$null`, as PowerShell reads them.
pub fn ps(v: Option<&Value>) -> &'static str {
    match v {
        Some(Value::Bool(true)) => "$true",
        Some(Value::Bool(false)) => "$false",
        _ => "$null",
    }
}

fn is_org(target: &Target) -> bool {
    target.kind == ResourceKind::TransportSettings
}

impl Handler for DisableMailProtocols {
    fn read(&self, live: &Live<'_>, target: &Target) -> Result<Option<State>, ApiError> {
        if is_org(target) {
            let org: Option<ExoOrgSwitches> = live.exo_one("Get-TransportConfig", json!({}))?;
            return Ok(org.map(|o| {
                state([(
                    "smtp_client_authentication_disabled",
                    opt(o.smtp_client_authentication_disabled),
                )])
            }));
        }
        Ok(live.cas_mailbox(identity(target))?.as_ref().map(live_state))
    }

    fn is_done(&self, target: &Target, state: Option<&State>) -> bool {
        state.is_some_and(|s| {
            let is = |key: &str, v: bool| s.get(key) == Some(&Value::Bool(v));
            is("smtp_client_authentication_disabled", true)
                && (is_org(target) || (is("pop_enabled", false) && is("imap_enabled", false)))
        })
    }

    fn write(
        &self,
        live: &Live<'_>,
        target: &Target,
        _passwords: &mut PasswordSink,
    ) -> Result<WriteReceipt, ApiError> {
        let (cmdlet, parameters) = if is_org(target) {
            (
                "Set-TransportConfig",
                json!({"SmtpClientAuthenticationDisabled": true}),
            )
        } else {
            (
                "Set-CASMailbox",
                json!({
                    "Identity": identity(target),
                    "PopEnabled": false,
                    "ImapEnabled": false,
                    "SmtpClientAuthenticationDisabled": true,
                }),
            )
        };
        live.exchange.invoke(cmdlet, parameters).map_err(|e| {
            exchange_write_error(e, &ActionKind::DisableMailProtocols.needs().summary())
        })?;
        Ok(WriteReceipt::default())
    }

    fn describe_write(&self, target: &Target) -> String {
        if is_org(target) {
            return "Set-TransportConfig -SmtpClientAuthenticationDisabled $true".to_owned();
        }
        format!(
            "Set-CASMailbox -Identity {} -PopEnabled $false -ImapEnabled $false -SmtpClientAuthenticationDisabled $true",
            identity(target)
        )
    }

    fn describe_verify(&self) -> &'static str {
        "Get-CASMailbox: PopEnabled and ImapEnabled false, SmtpClientAuthenticationDisabled true (Get-TransportConfig for the organisation)"
    }

    fn rollback(&self, target: &Target, precondition: &State) -> Option<String> {
        let smtp = ps(precondition.get("smtp_client_authentication_disabled"));
        if is_org(target) {
            return Some(format!(
                "Set-TransportConfig -SmtpClientAuthenticationDisabled {smtp}"
            ));
        }
        Some(format!(
            "Set-CASMailbox -Identity {} -PopEnabled {} -ImapEnabled {} -SmtpClientAuthenticationDisabled {smtp}",
            identity(target),
            ps(precondition.get("pop_enabled")),
            ps(precondition.get("imap_enabled")),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mailbox() -> Target {
        Target {
            exchange_identity: Some("lena.fischer@contoso.com".into()),
            ..Target::new(ResourceKind::CasMailbox, "u1", "lena.fischer@contoso.com")
        }
    }

    #[test]
    fn rollback_puts_null_back_as_null() {
        let pre = state([
            ("pop_enabled", json!(false)),
            ("imap_enabled", json!(true)),
            ("smtp_client_authentication_disabled", Value::Null),
        ]);
        assert_eq!(
            DisableMailProtocols.rollback(&mailbox(), &pre).unwrap(),
            "Set-CASMailbox -Identity lena.fischer@contoso.com -PopEnabled $false -ImapEnabled $true -SmtpClientAuthenticationDisabled $null"
        );
    }

    #[test]
    fn done_needs_every_protocol_off_and_null_smtp_is_not_off() {
        let off = state([
            ("pop_enabled", json!(false)),
            ("imap_enabled", json!(false)),
            ("smtp_client_authentication_disabled", json!(true)),
        ]);
        assert!(DisableMailProtocols.is_done(&mailbox(), Some(&off)));
        let mut inherits = off.clone();
        inherits.insert("smtp_client_authentication_disabled".into(), Value::Null);
        assert!(!DisableMailProtocols.is_done(&mailbox(), Some(&inherits)));
        assert!(!DisableMailProtocols.is_done(&mailbox(), None));
        let org = Target::new(ResourceKind::TransportSettings, "Transport Settings", "org");
        let smtp_off = state([("smtp_client_authentication_disabled", json!(true))]);
        assert!(DisableMailProtocols.is_done(&org, Some(&smtp_off)));
    }
}
