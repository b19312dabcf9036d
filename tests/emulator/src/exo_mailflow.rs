//! Exchange mail flow cmdlets: transport rules and connectors (a child module of
//! `exchange`, which dispatches to it). State lives in `TenantState::transport_rules`,
//! `outbound_connectors` and `inbound_connectors`, filled from the snapshot.
//!
//! Parameters and parameter sets as Microsoft documents them (the on-premises-only
//! `-DomainController` is refused, as Exchange Online does; `-Filter` is not implemented
//! and refused rather than ignored):
//! - `Get-TransportRule [[-Identity]] [-State] [-DlpPolicy] [-ExcludeConditionActionDetails] [-ResultSize]`
//!   <https://learn.microsoft.com/powershell/module/exchange/get-transportrule>
//! - `Disable-TransportRule [-Identity] [-Confirm]`, `Enable-TransportRule [-Identity] [-Mode] [-Confirm]`
//!   <https://learn.microsoft.com/powershell/module/exchange/disable-transportrule>,
//!   <https://learn.microsoft.com/powershell/module/exchange/enable-transportrule>
//! - `Get-OutboundConnector [[-Identity]] [-IncludeTestModeConnectors] [-IsTransportRuleScoped] [-ResultSize]`
//!   <https://learn.microsoft.com/powershell/module/exchange/get-outboundconnector>
//! - `Get-InboundConnector [[-Identity]]`
//!   <https://learn.microsoft.com/powershell/module/exchange/get-inboundconnector>
//! - `Set-OutboundConnector` / `Set-InboundConnector [-Identity] [-Enabled] [-Comment] [-Confirm]`
//!   (the subset implemented of <https://learn.microsoft.com/powershell/module/exchange/set-outboundconnector>
//!   and <https://learn.microsoft.com/powershell/module/exchange/set-inboundconnector>).
//!
//! `-Identity` is mandatory for the write cmdlets (a missing one is Exchange's
//! ParameterBindingException) and matches the GUID or the name; an unknown one is NotFound.

use serde_json::{json, Value};

use super::{lock, Call, Obj};
use crate::http::Response;
use crate::respond::exo_error;
use crate::state::MailFlowObject;

/// The parameters each mail-flow cmdlet accepts (case-insensitive).
pub(super) fn parameters_of(cmdlet: &str) -> Option<&'static [&'static str]> {
    Some(match cmdlet {
        "Get-TransportRule" => &[
            "Identity",
            "State",
            "DlpPolicy",
            "ExcludeConditionActionDetails",
            "ResultSize",
        ],
        "Disable-TransportRule" => &["Identity", "Confirm"],
        "Enable-TransportRule" => &["Identity", "Mode", "Confirm"],
        "Get-OutboundConnector" => &[
            "Identity",
            "IncludeTestModeConnectors",
            "IsTransportRuleScoped",
            "ResultSize",
        ],
        "Get-InboundConnector" => &["Identity"],
        "Set-OutboundConnector" | "Set-InboundConnector" => {
            &["Identity", "Enabled", "Comment", "Confirm"]
        }
        _ => return None,
    })
}

/// Snapshot field → the property `Get-TransportRule` shows, conditions then actions.
const RULE_LISTS: [(&str, &str); 10] = [
    ("from", "From"),
    ("sender_domain_is", "SenderDomainIs"),
    ("sender_ip_ranges", "SenderIpRanges"),
    ("subject_contains_words", "SubjectContainsWords"),
    (
        "subject_or_body_contains_words",
        "SubjectOrBodyContainsWords",
    ),
    ("blind_copy_to", "BlindCopyTo"),
    ("redirect_message_to", "RedirectMessageTo"),
    ("add_to_recipients", "AddToRecipients"),
    ("copy_to", "CopyTo"),
    ("exempt_from", "ExceptIfFrom"),
];

fn list(o: &Value, key: &str) -> Option<Vec<String>> {
    let v: Vec<String> = o
        .get(key)
        .and_then(Value::as_array)?
        .iter()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect();
    (!v.is_empty()).then_some(v)
}

fn text(o: &Value, key: &str) -> Value {
    o.get(key).cloned().unwrap_or(Value::Null)
}

fn find(objects: &[MailFlowObject], identity: &str) -> Option<usize> {
    let id = identity.trim();
    objects
        .iter()
        .position(|o| o.guid.eq_ignore_ascii_case(id) || o.name.eq_ignore_ascii_case(id))
}

/// Exchange's plain-language `Description` of a rule (the parts the emulator models).
fn describe(f: &Value) -> String {
    let mut out = String::from("If the message:\r\n");
    for (key, what) in [
        (
            "subject_contains_words",
            "Includes these words in the message subject",
        ),
        ("sender_domain_is", "Is sent from a sender whose domain is"),
    ] {
        if let Some(words) = list(f, key) {
            let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
            out.push_str(&format!("\t{what}: {}\r\n", quoted.join(" or ")));
        }
    }
    out.push_str("Take the following actions:\r\n");
    if let Some(to) = list(f, "blind_copy_to") {
        out.push_str(&format!(
            "\tBlind carbon copy (Bcc) the message to '{}'\r\n",
            to.join("' and '")
        ));
    }
    if f.get("set_scl").and_then(Value::as_i64) == Some(-1) {
        out.push_str("\tSet the spam confidence level (SCL) to '-1'\r\n");
    }
    if f.get("delete_message").and_then(Value::as_bool) == Some(true) {
        out.push_str("\tDelete the message without notifying anyone\r\n");
    }
    out
}

fn render_rule(r: &MailFlowObject, details: bool) -> Obj {
    let f = &r.fields;
    let mut o = Obj::default();
    o.put("Priority", f.get("priority").cloned().unwrap_or(json!(0)));
    o.put("DlpPolicy", Value::Null);
    o.put("Comments", Value::Null);
    o.put("ManuallyModified", json!(false));
    if details {
        o.put("Description", json!(describe(f)));
        o.put("FromScope", text(f, "from_scope"));
        o.put("SentToScope", text(f, "sent_to_scope"));
        for (key, prop) in RULE_LISTS {
            o.strs(prop, list(f, key));
        }
        // A string, as Exchange serialises the SclValue type.
        o.put(
            "SetSCL",
            f.get("set_scl")
                .and_then(Value::as_i64)
                .map(|n| json!(n.to_string()))
                .unwrap_or(Value::Null),
        );
        o.put(
            "DeleteMessage",
            json!(f
                .get("delete_message")
                .and_then(Value::as_bool)
                .unwrap_or(false)),
        );
        o.put(
            "Quarantine",
            json!(f
                .get("quarantine")
                .and_then(Value::as_bool)
                .unwrap_or(false)),
        );
        o.put("RejectMessageReasonText", Value::Null);
    }
    o.put(
        "State",
        json!(if r.enabled { "Enabled" } else { "Disabled" }),
    );
    o.put("Mode", f.get("mode").cloned().unwrap_or(json!("Enforce")));
    o.put("RuleVersion", json!("15.0.5.0"));
    o.date("WhenChangedUTC", &r.when_changed);
    o.guid("Guid", &r.guid);
    o.put("Identity", json!(r.name));
    o.put("Name", json!(r.name));
    o.put("IsValid", json!(true));
    o
}

fn render_outbound(c: &MailFlowObject) -> Obj {
    let f = &c.fields;
    let mut o = Obj::default();
    o.put("Enabled", json!(c.enabled));
    o.put(
        "UseMXRecord",
        f.get("use_mx_record")
            .cloned()
            .unwrap_or(json!(list(f, "smart_hosts").is_none())),
    );
    o.put("Comment", text(f, "comment"));
    o.put(
        "ConnectorType",
        f.get("connector_type").cloned().unwrap_or(json!("Partner")),
    );
    o.put("ConnectorSource", json!("Default"));
    o.strs("RecipientDomains", list(f, "recipient_domains"));
    o.strs("SmartHosts", list(f, "smart_hosts"));
    o.put("TlsDomain", Value::Null);
    o.put("TlsSettings", text(f, "tls_settings"));
    o.put(
        "IsTransportRuleScoped",
        json!(f
            .get("is_transport_rule_scoped")
            .and_then(Value::as_bool)
            .unwrap_or(false)),
    );
    o.put("RouteAllMessagesViaOnPremises", json!(false));
    o.put("CloudServicesMailEnabled", json!(false));
    o.put("AllAcceptedDomains", json!(false));
    o.put("SenderRewritingEnabled", json!(false));
    o.put("TestMode", json!(false));
    o.date("WhenChangedUTC", &c.when_changed);
    o.guid("Guid", &c.guid);
    o.put("Identity", json!(c.name));
    o.put("Name", json!(c.name));
    o.put("IsValid", json!(true));
    o
}

fn render_inbound(c: &MailFlowObject) -> Obj {
    let f = &c.fields;
    let mut o = Obj::default();
    o.put("Enabled", json!(c.enabled));
    o.put(
        "ConnectorType",
        f.get("connector_type").cloned().unwrap_or(json!("Partner")),
    );
    o.put("ConnectorSource", json!("Default"));
    o.put("Comment", text(f, "comment"));
    o.strs("SenderIPAddresses", list(f, "sender_ip_addresses"));
    // Address spaces as Exchange shows them: `smtp:<domain>;<cost>`.
    o.strs(
        "SenderDomains",
        list(f, "sender_domains").map(|d| d.iter().map(|x| format!("smtp:{x};1")).collect()),
    );
    o.strs("AssociatedAcceptedDomains", None);
    o.put(
        "RequireTls",
        json!(f
            .get("require_tls")
            .and_then(Value::as_bool)
            .unwrap_or(false)),
    );
    o.put(
        "RestrictDomainsToIPAddresses",
        json!(f
            .get("restrict_domains_to_ip_addresses")
            .and_then(Value::as_bool)
            .unwrap_or(false)),
    );
    o.put(
        "RestrictDomainsToCertificate",
        json!(f
            .get("restrict_domains_to_certificate")
            .and_then(Value::as_bool)
            .unwrap_or(false)),
    );
    o.put("CloudServicesMailEnabled", json!(false));
    o.put("TreatMessagesAsInternal", json!(false));
    o.put(
        "TlsSenderCertificateName",
        text(f, "tls_sender_certificate_name"),
    );
    o.date("WhenChangedUTC", &c.when_changed);
    o.guid("Guid", &c.guid);
    o.put("Identity", json!(c.name));
    o.put("Name", json!(c.name));
    o.put("IsValid", json!(true));
    o
}

/// `-Identity` narrows to one object (NotFound when it names none).
fn select<'a>(
    call: &Call<'_>,
    objects: &'a [MailFlowObject],
) -> Result<Vec<&'a MailFlowObject>, Response> {
    match call.param_str("Identity") {
        None => Ok(objects.iter().collect()),
        Some(id) => find(objects, &id)
            .map(|i| vec![&objects[i]])
            .ok_or_else(|| call.not_found(&id)),
    }
}

fn bool_param(call: &Call<'_>, name: &str) -> Result<Option<bool>, Response> {
    match call.param(name) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(v) => Err(exo_error(400, "BadRequest", "Invalid Operation", "Microsoft.Exchange.AdminApi.CommandInvocation.ParameterBindingException", &format!("Cannot process argument transformation on parameter '{name}'. Cannot convert value \"{v}\" to type \"System.Boolean\"."), None, true, call.ctx)),
    }
}

pub(super) fn get_transport_rules(call: &Call<'_>) -> Result<Vec<Obj>, Response> {
    let state = call.enum_value(
        "State",
        "Microsoft.Exchange.MessagingPolicies.Rules.RuleState",
        &["Enabled", "Disabled"],
    )?;
    let details = bool_param(call, "ExcludeConditionActionDetails")? != Some(true);
    let st = lock(&call.shared.state);
    // No rule of the emulated tenant enforces a DLP policy.
    if call.param("DlpPolicy").is_some() {
        return Ok(vec![]);
    }
    Ok(select(call, &st.transport_rules)?
        .into_iter()
        .filter(|r| state.is_none_or(|s| (s == "Enabled") == r.enabled))
        .map(|r| render_rule(r, details))
        .collect())
}

pub(super) fn get_outbound_connectors(call: &Call<'_>) -> Result<Vec<Obj>, Response> {
    let scoped = bool_param(call, "IsTransportRuleScoped")?;
    bool_param(call, "IncludeTestModeConnectors")?;
    let st = lock(&call.shared.state);
    Ok(select(call, &st.outbound_connectors)?
        .into_iter()
        .filter(|c| {
            scoped.is_none_or(|want| {
                c.fields
                    .get("is_transport_rule_scoped")
                    .and_then(Value::as_bool)
                    .unwrap_or(false)
                    == want
            })
        })
        .map(render_outbound)
        .collect())
}

pub(super) fn get_inbound_connectors(call: &Call<'_>) -> Result<Vec<Obj>, Response> {
    let st = lock(&call.shared.state);
    Ok(select(call, &st.inbound_connectors)?
        .into_iter()
        .map(render_inbound)
        .collect())
}

fn required_identity(call: &Call<'_>) -> Result<String, Response> {
    call.param_str("Identity").filter(|i| !i.trim().is_empty()).ok_or_else(|| {
        exo_error(400, "BadRequest", "Invalid Operation", "Microsoft.Exchange.AdminApi.CommandInvocation.ParameterBindingException", "Cannot process command because of one or more missing mandatory parameters: Identity.", None, true, call.ctx)
    })
}

/// `Disable-TransportRule` / `Enable-TransportRule [-Mode]`.
pub(super) fn change_transport_rule(call: &Call<'_>) -> Result<(), Response> {
    let id = required_identity(call)?;
    let mode = call.enum_value(
        "Mode",
        "Microsoft.Exchange.MessagingPolicies.Rules.RuleMode",
        &["Audit", "AuditAndNotify", "Enforce"],
    )?;
    let mut st = lock(&call.shared.state);
    let i = find(&st.transport_rules, &id).ok_or_else(|| call.not_found(&id))?;
    let rule = &mut st.transport_rules[i];
    rule.enabled = call.cmdlet == "Enable-TransportRule";
    if let (Some(m), Value::Object(f)) = (mode, &mut rule.fields) {
        f.insert("mode".into(), json!(m));
    }
    rule.when_changed = crate::util::dotnet_utc(crate::util::now_epoch());
    Ok(())
}

/// `Set-OutboundConnector` / `Set-InboundConnector [-Enabled] [-Comment]`.
pub(super) fn set_connector(call: &Call<'_>) -> Result<(), Response> {
    let id = required_identity(call)?;
    let enabled = bool_param(call, "Enabled")?;
    let comment = call.param_str("Comment");
    let mut st = lock(&call.shared.state);
    let list = if call.cmdlet == "Set-InboundConnector" {
        &mut st.inbound_connectors
    } else {
        &mut st.outbound_connectors
    };
    let i = find(list, &id).ok_or_else(|| call.not_found(&id))?;
    let c = &mut list[i];
    if let Some(e) = enabled {
        c.enabled = e;
    }
    if let (Some(text), Value::Object(f)) = (comment, &mut c.fields) {
        f.insert("comment".into(), json!(text));
    }
    c.when_changed = crate::util::dotnet_utc(crate::util::now_epoch());
    Ok(())
}
