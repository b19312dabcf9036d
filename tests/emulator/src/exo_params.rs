//! Exchange write-path rules beyond "is this parameter known": the inbox-rule cmdlets'
//! parameter combinations, `-Force` and routing anchor, the answer form of writes with no
//! output, the paging mode's page size, and Remove-BlockedSenderAddress's `-Reason` and
//! unblock limit. `exchange.rs` calls these; each cites the page it follows.

use serde_json::{Map, Value};

use crate::config::{ExoPaging, ExoWriteAnswer, Options};
use crate::http::Response;
use crate::respond::{exo_error, exo_json, Ctx};
use crate::server::{lock, Shared};

fn param<'a>(params: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    params
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

fn param_str(params: &Map<String, Value>, name: &str) -> Option<String> {
    match param(params, name)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn bad_request(exception_type: &str, message: &str, ctx: &Ctx) -> Response {
    exo_error(
        400,
        "BadRequest",
        "Invalid Operation",
        exception_type,
        message,
        None,
        true,
        ctx,
    )
}

/// Disable-InboxRule / Enable-InboxRule / Remove-InboxRule
/// (<https://learn.microsoft.com/powershell/module/exchange/disable-inboxrule>, …/enable-inboxrule,
/// …/remove-inboxrule). One parameter set: `-Identity` (mandatory: Name, RuleIdentity or
/// `MailboxAlias\RuleIdentity`) and `-Mailbox` for the mailbox when Identity does not name
/// it. Refused here:
/// - no Identity (PowerShell's missing-mandatory-parameter error);
/// - a mailbox-qualified Identity together with `-Mailbox` (the mailbox named twice, the
///   combination the docs never show);
/// - a bare Identity without `-Mailbox`: the cmdlet then looks in the caller's own mailbox,
///   and an app has none (the rule is not found);
/// - no `-Force`: the cmdlets prompt for confirmation when they remove Outlook's client-side
///   rules, and `-Force` is documented as the switch "to run tasks programmatically where
///   prompting for administrative input is inappropriate"; a REST session cannot answer a
///   prompt (PowerShell's HostException);
/// - an `X-AnchorMailbox` that names another mailbox: mailbox cmdlets are anchored on
///   `UPN:<user>` (CONTRACT §6.2; CIPP's Set-CIPPMailboxRule anchors on the user). The
///   service's answer to a misrouted call is not captured; the emulator refuses it so a
///   client that anchors on the system mailbox is caught. A missing header is accepted.
pub fn check_inbox_rule_write(
    shared: &Shared,
    cmdlet: &str,
    params: &Map<String, Value>,
    anchor: Option<&str>,
    ctx: &Ctx,
) -> Option<Response> {
    if !matches!(
        cmdlet,
        "Disable-InboxRule" | "Enable-InboxRule" | "Remove-InboxRule"
    ) {
        return None;
    }
    let Some(identity) = param_str(params, "Identity").filter(|s| !s.trim().is_empty()) else {
        return Some(bad_request(
            "System.Management.Automation.ParameterBindingException",
            "Cannot process command because of one or more missing mandatory parameters: Identity.",
            ctx,
        ));
    };
    let mailbox = param_str(params, "Mailbox");
    let qualified = identity.split_once('\\');
    let owner = match (qualified, &mailbox) {
        (Some(_), Some(m)) => {
            return Some(bad_request(
                "System.Management.Automation.ParameterBindingException",
                &format!("The Identity '{identity}' already names the mailbox, and -Mailbox '{m}' names it again. Use either -Identity 'MailboxAlias\\RuleIdentity' alone or -Mailbox with the rule's Name or RuleIdentity."),
                ctx,
            ));
        }
        (Some((m, _)), None) => m.to_owned(),
        (None, Some(m)) => m.clone(),
        (None, None) => {
            let status = shared.settings().options.exo_not_found_status;
            return Some(exo_error(
                status,
                "NotFound",
                "Error executing cmdlet",
                "Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException",
                &format!("The operation couldn't be performed because object '{identity}' couldn't be found: without -Mailbox the rule is looked up in the caller's own mailbox, and an application has none."),
                Some("Ex6F9304"),
                false,
                ctx,
            ));
        }
    };
    if !matches!(param(params, "Force"), Some(Value::Bool(true))) {
        return Some(bad_request(
            "System.Management.Automation.Host.HostException",
            &format!("A command that prompts the user failed because the host program or the command type does not support user interaction. The host was attempting to request confirmation with the following message: {cmdlet} removes the client-side rules created by Outlook in this mailbox. Use -Force to run it without prompting."),
            ctx,
        ));
    }
    let anchor = anchor?;
    let anchored = anchor
        .split_once(':')
        .map(|(_, v)| v)
        .unwrap_or(anchor)
        .trim();
    let st = lock(&shared.state);
    let same = match (st.find_mailbox(anchored), st.find_mailbox(&owner)) {
        (Some(a), Some(b)) => a.guid == b.guid,
        // The owner is unknown: the cmdlet's own not-found answer says so.
        (_, None) => true,
        (None, Some(_)) => false,
    };
    (!same).then(|| {
        bad_request(
            "Microsoft.Exchange.Data.Storage.WrongServerException",
            &format!("The request was anchored on '{anchor}', which is not mailbox '{owner}'. Mailbox cmdlets must be sent with X-AnchorMailbox: UPN:<mailbox owner>."),
            ctx,
        )
    })
}

/// The page size of an InvokeCommand answer: the client's `Prefer: odata.maxpagesize`
/// capped at `exo_page_size`; without one, `exo_page_size`, except that in
/// [`ExoPaging::Restart`] an unpaged request is answered whole (graph2otel found the service
/// returns everything when no page size is asked for and `ResultSize` allows it).
pub fn page_size(prefer: Option<usize>, options: &Options) -> usize {
    let cap = options.exo_page_size.max(1);
    match (prefer, options.exo_paging) {
        (Some(n), _) => n.clamp(1, 1000).min(cap),
        (None, ExoPaging::Restart) => usize::MAX / 2,
        (None, ExoPaging::NextLink) => cap,
    }
}

/// Following a nextLink fails in [`ExoPaging::Restart`].
pub fn next_link_expired(options: &Options) -> bool {
    options.exo_paging == ExoPaging::Restart
}

/// The answer to a successful write cmdlet, unless it is the usual `"value": []` envelope
/// (`None`: the caller renders that).
pub fn write_answer(shared: &Shared, ctx: &Ctx) -> Option<Response> {
    let status = match shared.settings().options.exo_write_answer {
        ExoWriteAnswer::Value => return None,
        ExoWriteAnswer::EmptyBody => 200,
        ExoWriteAnswer::NoContent => 204,
    };
    let mut r = exo_json(&Value::Null, ctx);
    r.status = status;
    r.body.clear();
    if status == 204 {
        r.headers
            .retain(|(k, _)| !k.eq_ignore_ascii_case("Content-Type"));
    }
    Some(r)
}

/// Remove-BlockedSenderAddress
/// (<https://learn.microsoft.com/powershell/module/exchange/remove-blockedsenderaddress>):
/// - `-Reason` "specifies the reason the user was blocked (the Reason property value)": a
///   value that is not the entry's Reason selects nothing, so the entry is not found;
/// - "There's a limit to the number of times you can unblock a Microsoft 365 account. If
///   you exceed the unblock limit for a user, you get an error, and you need to contact
///   Microsoft Support": neither the size nor the text is documented, so
///   `Options::exo_unblock_limit` counts the tenant's successful unblocks (the emulator's
///   lifetime is its day) and the message below is the emulator's own.
pub fn check_unblock(shared: &Shared, params: &Map<String, Value>, ctx: &Ctx) -> Option<Response> {
    let addr = param_str(params, "SenderAddress").unwrap_or_default();
    if let Some(limit) = shared.settings().options.exo_unblock_limit {
        let done = lock(&shared.write_log)
            .iter()
            .filter(|w| w.operation == "Remove-BlockedSenderAddress" && w.status < 300)
            .count();
        if done >= limit as usize {
            return Some(bad_request(
                "Microsoft.Exchange.Management.Tasks.UnblockLimitExceededException",
                &format!("The unblock limit has been exceeded: this organization can unblock {limit} senders per day. '{addr}' was not unblocked; contact Microsoft Support to unblock the user."),
                ctx,
            ));
        }
    }
    let reason = param_str(params, "Reason")?;
    let st = lock(&shared.state);
    let entry = st
        .blocked_senders
        .iter()
        .find(|b| b.sender_address.eq_ignore_ascii_case(&addr))?;
    (!entry.reason.eq_ignore_ascii_case(reason.trim())).then(|| {
        let status = shared.settings().options.exo_not_found_status;
        exo_error(
            status,
            "NotFound",
            "Error executing cmdlet",
            "Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException",
            &format!("The operation couldn't be performed because object '{addr}' with Reason '{reason}' couldn't be found (it is blocked for '{}').", entry.reason),
            Some("Ex6F9304"),
            false,
            ctx,
        )
    })
}
