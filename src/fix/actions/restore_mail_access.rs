//! `restore_mail_access` (respond `--restore-access`): put the mailbox's client access
//! switches back to exactly what `respond` recorded before suspending them (the values
//! travel in the plan's `target.restore`, taken from the collected evidence snapshot),
//! `$null` SMTP AUTH included. Its precondition is the suspended state, so a change made
//! by someone else in between is reported instead of overwritten.

use serde_json::{Map, Value};

use super::suspend_mail_access::{command, parameters, read_access, suspended};
use super::{exchange_write_error, ActionKind, Handler, State, WriteReceipt};
use crate::fix::live::Live;
use crate::fix::password::PasswordSink;
use crate::fix::plan::Target;
use crate::graph::ApiError;

pub struct RestoreMailAccess;

fn values(target: &Target) -> Map<String, Value> {
    target.restore.clone().unwrap_or_default()
}

impl Handler for RestoreMailAccess {
    fn read(&self, live: &Live<'_>, target: &Target) -> Result<Option<State>, ApiError> {
        read_access(live, target)
    }

    fn is_done(&self, target: &Target, state: Option<&State>) -> bool {
        let want = values(target);
        state.is_some_and(|s| {
            !want.is_empty()
                && want
                    .iter()
                    .all(|(k, v)| s.get(k).unwrap_or(&Value::Null) == v)
        })
    }

    fn write(
        &self,
        live: &Live<'_>,
        target: &Target,
        _passwords: &mut PasswordSink,
    ) -> Result<WriteReceipt, ApiError> {
        live.exchange
            .invoke("Set-CASMailbox", parameters(target, &values(target)))
            .map_err(|e| {
                exchange_write_error(e, &ActionKind::RestoreMailAccess.needs().summary())
            })?;
        Ok(WriteReceipt::default())
    }

    fn describe_write(&self, target: &Target) -> String {
        command(target, &values(target))
    }

    fn describe_verify(&self) -> &'static str {
        "Get-CASMailbox: every switch as recorded before the response"
    }

    fn rollback(&self, target: &Target, _precondition: &State) -> Option<String> {
        Some(command(target, &suspended()))
    }
}
