//! Exchange Online admin API, `POST /adminapi/beta/{tenant}/InvokeCommand` (CONTRACT §6):
//! the `CmdletInput` envelope, PascalCase objects with `@odata.type`/`@data.type` sidecars
//! written in Microsoft's key order, `@adminapi.warnings`, paging by POSTing the same body to
//! `@odata.nextLink` (with truncation and expiry switches), the grant matrix (no
//! Exchange.ManageAsApp → 401, no directory role → 403 with a NUL-byte body), and the read
//! and write cmdlets m365guard uses.

use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};

use crate::http::{Request, Response};
use crate::respond::{exo_error, exo_json, Ctx};
use crate::server::{lock, Caller, ExoCursor, Service, Shared, WriteOp};
use crate::state::{
    dotnet_date, role_ids, InboxRule, MailRecipient, Mailbox, Recipient, TenantState,
};

#[path = "exo_mailflow.rs"]
mod exo_mailflow;
#[path = "exo_rolegroups.rs"]
mod exo_rolegroups;
pub use exo_rolegroups::from_snapshot as role_groups_from_snapshot;
#[path = "exo_rbac.rs"]
mod exo_rbac;
pub use exo_rbac::{from_snapshot as rbac_from_snapshot, ExoRbac};

/// An object whose keys keep insertion order (serde_json's Map sorts them).
#[derive(Debug, Clone, Default)]
pub struct Obj(pub Vec<(String, Value)>);

impl Obj {
    fn put(&mut self, k: &str, v: Value) {
        self.0.push((k.to_owned(), v));
    }

    fn strs(&mut self, k: &str, v: Option<Vec<String>>) {
        self.put(&format!("{k}@odata.type"), json!("#Collection(String)"));
        self.put(k, v.map(|x| json!(x)).unwrap_or(Value::Null));
    }

    fn guid(&mut self, k: &str, v: &str) {
        self.put(&format!("{k}@data.type"), json!("System.Guid"));
        self.put(&format!("{k}@odata.type"), json!("#Guid"));
        self.put(k, json!(v));
    }

    fn date(&mut self, k: &str, v: &str) {
        self.put(&format!("{k}@data.type"), json!("System.DateTime"));
        self.put(k, json!(v));
    }

    /// Keeps selected properties and their sidecars (`X@…`).
    fn select(self, select: &[String]) -> Obj {
        if select.is_empty() {
            return self;
        }
        Obj(self
            .0
            .into_iter()
            .filter(|(k, _)| {
                let base = k.split('@').next().unwrap_or(k);
                select.iter().any(|s| s.eq_ignore_ascii_case(base))
            })
            .collect())
    }

    fn write(&self, out: &mut String) {
        out.push('{');
        for (i, (k, v)) in self.0.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&Value::String(k.clone()).to_string());
            out.push(':');
            out.push_str(&v.to_string());
        }
        out.push('}');
    }
}

fn envelope(
    ctx: &Ctx,
    tenant: &str,
    warnings: &[String],
    next: Option<String>,
    items: &[Obj],
) -> Response {
    let mut head = Obj::default();
    head.put(
        "@odata.context",
        json!(format!(
            "{}/adminapi/beta/{tenant}/$metadata#Collection(Exchange.GenericHashTable)",
            ctx.base_url
        )),
    );
    head.put("adminapi.warnings@odata.type", json!("#Collection(String)"));
    head.put("@adminapi.warnings", json!(warnings));
    if let Some(n) = next {
        head.put("@odata.nextLink", json!(n));
    }
    let mut s = String::new();
    head.write(&mut s);
    s.pop();
    s.push_str(",\"value\":[");
    for (i, o) in items.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        o.write(&mut s);
    }
    s.push_str("]}");
    let mut r = exo_json(&Value::Null, ctx);
    r.body = s.into_bytes();
    r
}

const EXO_ROLES: [&str; 8] = [
    role_ids::GLOBAL_ADMINISTRATOR,
    role_ids::EXCHANGE_ADMINISTRATOR,
    role_ids::EXCHANGE_RECIPIENT_ADMINISTRATOR,
    role_ids::COMPLIANCE_ADMINISTRATOR,
    role_ids::SECURITY_ADMINISTRATOR,
    role_ids::SECURITY_READER,
    role_ids::GLOBAL_READER,
    role_ids::HELPDESK_ADMINISTRATOR,
];

/// Cmdlet → its parameters (case-insensitive). Anything else → 400 unknown parameter.
fn parameters_of(cmdlet: &str) -> Option<&'static [&'static str]> {
    if let Some(p) = crate::exo_protocols::parameters_of(cmdlet) {
        return Some(p);
    }
    if cmdlet == crate::exo_message_trace::CMDLET {
        return Some(crate::exo_message_trace::PARAMETERS);
    }
    if let Some(p) = crate::exo_folders::parameters_of(cmdlet) {
        return Some(p);
    }
    Some(match cmdlet {
        "Get-Mailbox" => &[
            "Identity",
            "ResultSize",
            "RecipientTypeDetails",
            "PropertySets",
            "Properties",
            "Filter",
        ],
        "Get-InboxRule" => &[
            "Mailbox",
            "IncludeHidden",
            "ResultSize",
            "Identity",
            "BypassScopeCheck",
        ],
        "Disable-InboxRule" | "Enable-InboxRule" | "Remove-InboxRule" => &[
            "Identity",
            "Mailbox",
            "Confirm",
            "AlwaysDeleteOutlookRulesBlob",
            "Force",
        ],
        "Set-Mailbox" => &[
            "Identity",
            "ForwardingSmtpAddress",
            "ForwardingAddress",
            "DeliverToMailboxAndForward",
            "Confirm",
            "Force",
            "GrantSendOnBehalfTo",
        ],
        "Get-HostedOutboundSpamFilterPolicy" => &["Identity"],
        "Set-HostedOutboundSpamFilterPolicy" => &[
            "Identity",
            "AutoForwardingMode",
            "ActionWhenThresholdReached",
            "RecipientLimitExternalPerHour",
            "RecipientLimitInternalPerHour",
            "RecipientLimitPerDay",
            "NotifyOutboundSpam",
            "Confirm",
        ],
        "Get-BlockedSenderAddress" => &["SenderAddress"],
        "Remove-BlockedSenderAddress" => &["SenderAddress", "Reason", "Confirm"],
        // Both cmdlets document -Identity and -ResultSize (plus on-premises-only
        // -DomainController): learn.microsoft.com/powershell/module/exchange/get-remotedomain,
        // …/get-accepteddomain. The lists are short; ResultSize never truncates them here.
        "Get-RemoteDomain" | "Get-AcceptedDomain" => &["Identity", "ResultSize"],
        // The parameters the emulator implements of Get-Recipient's two parameter sets
        // (Identity, AnrSet); the rest are refused rather than ignored.
        "Get-Recipient" => &[
            "Identity",
            "Anr",
            "Filter",
            "RecipientTypeDetails",
            "ResultSize",
        ],
        "Get-TransportConfig" | "Get-OrganizationConfig" => &[],
        "Get-TransportRule"
        | "Disable-TransportRule"
        | "Enable-TransportRule"
        | "Get-OutboundConnector"
        | "Set-OutboundConnector"
        | "Get-InboundConnector"
        | "Set-InboundConnector" => return exo_mailflow::parameters_of(cmdlet),
        "Get-RoleGroup"
        | "Get-RoleGroupMember"
        | "Remove-RoleGroupMember"
        | "Add-RoleGroupMember" => return exo_rolegroups::parameters_of(cmdlet),
        c if exo_rbac::CMDLETS.contains(&c) => return exo_rbac::parameters_of(c),
        // Parameter sets of these: crate::exo_delegation.
        "Get-MailboxPermission" => &[
            "Identity",
            "User",
            "Owner",
            "ResultSize",
            "GroupMailbox",
            "IncludeUnresolvedPermissions",
            "IncludeSoftDeletedUserPermissions",
            "ReadFromDomainController",
            "SoftDeletedMailbox",
        ],
        "Get-RecipientPermission" => &[
            "Identity",
            "AccessRights",
            "ReadFromDomainController",
            "ResultSize",
            "Trustee",
        ],
        "Remove-MailboxPermission" => &[
            "Identity",
            "User",
            "AccessRights",
            "InheritanceType",
            "Deny",
            "BypassMasterAccountSid",
            "Confirm",
            "GroupMailbox",
            "IgnoreDefaultScope",
            "SoftDeletedMailbox",
        ],
        "Remove-RecipientPermission" => &[
            "Identity",
            "AccessRights",
            "Trustee",
            "Confirm",
            "Deny",
            "SkipDomainValidationForMailContact",
            "SkipDomainValidationForMailUser",
            "SkipDomainValidationForSharedMailbox",
        ],
        _ => return None,
    })
}

fn canonical_cmdlet(name: &str) -> Option<&'static str> {
    [
        "Get-Mailbox",
        "Get-InboxRule",
        "Disable-InboxRule",
        "Enable-InboxRule",
        "Remove-InboxRule",
        "Set-Mailbox",
        "Get-HostedOutboundSpamFilterPolicy",
        "Set-HostedOutboundSpamFilterPolicy",
        "Get-BlockedSenderAddress",
        "Remove-BlockedSenderAddress",
        "Get-RemoteDomain",
        "Get-Recipient",
        "Get-AcceptedDomain",
        "Get-TransportConfig",
        "Get-OrganizationConfig",
        "Get-TransportRule",
        "Disable-TransportRule",
        "Enable-TransportRule",
        "Get-OutboundConnector",
        "Set-OutboundConnector",
        "Get-InboundConnector",
        "Set-InboundConnector",
        "Get-MailboxPermission",
        "Get-RecipientPermission",
        "Remove-MailboxPermission",
        "Remove-RecipientPermission",
        "Get-RoleGroup",
        "Get-RoleGroupMember",
        "Remove-RoleGroupMember",
        "Add-RoleGroupMember",
    ]
    .into_iter()
    .find(|c| c.eq_ignore_ascii_case(name))
    .or_else(|| crate::exo_protocols::canonical(name))
    .or_else(|| {
        crate::exo_message_trace::CMDLET
            .eq_ignore_ascii_case(name)
            .then_some(crate::exo_message_trace::CMDLET)
    })
    .or_else(|| crate::exo_folders::canonical(name))
    .or_else(|| {
        exo_rbac::CMDLETS
            .into_iter()
            .find(|c| c.eq_ignore_ascii_case(name))
    })
}

/// `Get-InboxRule` under Global Reader alone, when the scenario says the tenant refuses it
/// (`Options::global_reader_reads_inbox_rules`): the error the report quotes. Exchange
/// Recipient Administrator, Exchange Administrator and Global Administrator read it.
fn inbox_rule_read_scope(
    shared: &Shared,
    caller: &Caller,
    cmdlet: &str,
    params: &Map<String, Value>,
    ctx: &Ctx,
) -> Option<Response> {
    if cmdlet != "Get-InboxRule" || shared.settings().options.global_reader_reads_inbox_rules {
        return None;
    }
    let mailbox_role = caller.has_directory_role(&[
        role_ids::GLOBAL_ADMINISTRATOR,
        role_ids::EXCHANGE_ADMINISTRATOR,
        role_ids::EXCHANGE_RECIPIENT_ADMINISTRATOR,
    ]);
    if mailbox_role {
        return None;
    }
    let mailbox = params
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("Mailbox") || k.eq_ignore_ascii_case("Identity"))
        .and_then(|(_, v)| v.as_str())
        .unwrap_or("")
        .to_owned();
    // UNVERIFIED: the exception type and HTTP status of this refusal over the REST endpoint.
    Some(exo_error(
        400,
        "BadRequest",
        "Error executing cmdlet",
        "Microsoft.Exchange.Data.Directory.ADScopeException",
        &format!("The operation on mailbox \"{mailbox}\" failed because it's out of the current user's read scope. You may need elevated permissions. '{mailbox}' isn't within your current write scopes. Can't perform save operation."),
        None,
        false,
        ctx,
    ))
}

/// May this directory-role set run the cmdlet? (`None` = 403 NUL body, `Some(false)` = the
/// cmdlet is not in the role's scope → CommandNotFound.)
fn role_allows(caller: &Caller, cmdlet: &str) -> Option<bool> {
    if !caller.has_directory_role(&EXO_ROLES) {
        return None;
    }
    let is_read = cmdlet.starts_with("Get-");
    let full = caller.has_directory_role(&[
        role_ids::GLOBAL_ADMINISTRATOR,
        role_ids::EXCHANGE_ADMINISTRATOR,
    ]);
    if full {
        return Some(true);
    }
    let mailbox_data = matches!(
        cmdlet,
        "Get-Mailbox"
            | "Get-InboxRule"
            | "Get-MailboxPermission"
            | "Get-RecipientPermission"
            | "Get-MailboxFolderStatistics"
            | "Get-MailboxFolderPermission"
    );
    // Microsoft's message trace page names, of the Entra roles, only Global Administrator
    // and Compliance Administrator (and the Exchange role groups Organization Management,
    // Compliance Management, Help Desk), not Global Reader or Security Reader:
    // <https://learn.microsoft.com/defender-office-365/message-trace-defender-portal>.
    // Unnamed roles are refused, so the emulator is at least as strict as the page.
    if cmdlet == crate::exo_message_trace::CMDLET {
        return Some(caller.has_directory_role(&[role_ids::COMPLIANCE_ADMINISTRATOR]));
    }
    if is_read {
        // graph2otel: Get-Mailbox failed 403 with Security Reader, worked with Global Reader.
        let only_security_reader = caller.has_directory_role(&[role_ids::SECURITY_READER])
            && !caller.has_directory_role(&[
                role_ids::GLOBAL_READER,
                role_ids::EXCHANGE_RECIPIENT_ADMINISTRATOR,
                role_ids::COMPLIANCE_ADMINISTRATOR,
                role_ids::SECURITY_ADMINISTRATOR,
                role_ids::HELPDESK_ADMINISTRATOR,
            ]);
        return if only_security_reader && mailbox_data {
            None
        } else {
            Some(true)
        };
    }
    // Set-/Add-/Remove-MailboxFolderPermission (`crate::exo_folders`) are not listed here:
    // their pages name no role, so only `full` (Exchange/Global Administrator) runs them,
    // as the fix's permission table (`role::EXCHANGE_WRITE`) asks.
    let recipient = caller.has_directory_role(&[role_ids::EXCHANGE_RECIPIENT_ADMINISTRATOR])
        && matches!(
            cmdlet,
            "Set-Mailbox"
                | "Disable-InboxRule"
                | "Enable-InboxRule"
                | "Remove-InboxRule"
                | "Remove-MailboxPermission"
                | "Remove-RecipientPermission"
                | "Set-CASMailbox"
        );
    // Add-/Remove-RoleGroupMember need Role Management, which only Organization Management
    // (Exchange/Global Administrator, `full` above) holds: no other role runs them.
    let security = caller.has_directory_role(&[role_ids::SECURITY_ADMINISTRATOR])
        && matches!(
            cmdlet,
            "Set-HostedOutboundSpamFilterPolicy" | "Remove-BlockedSenderAddress"
        );
    Some(recipient || security)
}

struct Call<'a> {
    shared: &'a Shared,
    ctx: &'a Ctx,
    tenant: String,
    cmdlet: &'static str,
    params: Map<String, Value>,
}

impl Call<'_> {
    fn param(&self, name: &str) -> Option<&Value> {
        self.params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    fn param_str(&self, name: &str) -> Option<String> {
        match self.param(name)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }

    fn switch(&self, name: &str) -> bool {
        matches!(self.param(name), Some(Value::Bool(true)))
    }

    fn not_found(&self, identity: &str) -> Response {
        let status = self.shared.settings().options.exo_not_found_status;
        exo_error(
            status,
            "NotFound",
            "Error executing cmdlet",
            "Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException",
            &format!("The operation couldn't be performed because object '{identity}' couldn't be found on 'EURPR00A001DC001.EURPR00A001.PROD.OUTLOOK.COM'."),
            Some("Ex6F9304"),
            false,
            self.ctx,
        )
    }

    fn invalid_enum(&self, param: &str, value: &str, type_name: &str, valid: &[&str]) -> Response {
        exo_error(
            400,
            "BadRequest",
            "Invalid Operation",
            "Microsoft.Exchange.AdminApi.CommandInvocation.ParameterTransformationException",
            &format!("Cannot process argument transformation on parameter '{param}'. Cannot convert value \"{value}\" to type \"{type_name}\". Error: \"Unable to match the identifier name {value} to a valid enumerator name. Specify one of the following enumerator names and try again: {}\"", valid.join(", ")),
            None,
            true,
            self.ctx,
        )
    }

    /// Enum values are prefix-matched, case-insensitively (PowerShell semantics).
    fn enum_value(
        &self,
        param: &str,
        type_name: &str,
        valid: &[&'static str],
    ) -> Result<Option<&'static str>, Response> {
        let Some(v) = self.param_str(param) else {
            return Ok(None);
        };
        let lower = v.to_ascii_lowercase();
        let exact = valid.iter().find(|x| x.eq_ignore_ascii_case(&v));
        let prefixed: Vec<&&str> = valid
            .iter()
            .filter(|x| !lower.is_empty() && x.to_ascii_lowercase().starts_with(&lower))
            .collect();
        match (exact, prefixed.as_slice()) {
            (Some(x), _) => Ok(Some(*x)),
            (None, [one]) => Ok(Some(**one)),
            _ => Err(self.invalid_enum(param, &v, type_name, valid)),
        }
    }
}

fn bad_body(ctx: &Ctx, message: &str) -> Response {
    exo_error(
        400,
        "BadRequest",
        "Invalid Operation",
        "Microsoft.Exchange.Admin.OData.Core.ODataServiceException",
        message,
        None,
        false,
        ctx,
    )
}

pub fn invoke_command(
    shared: &Shared,
    caller: &Caller,
    tenant_segment: &str,
    req: &Request,
    ctx: &Ctx,
) -> Response {
    if !caller.has_any(&["Exchange.ManageAsApp"]) {
        return Response::new(401).header("request-id", &ctx.request_id);
    }
    if req.method != "POST" {
        return Response::new(405).header("Allow", "POST");
    }
    let (tenant_id, ok_tenant) = {
        let st = lock(&shared.state);
        let ok = st.tenant_id.eq_ignore_ascii_case(tenant_segment)
            || st
                .domains
                .iter()
                .any(|d| d.is_verified && d.name.eq_ignore_ascii_case(tenant_segment));
        (st.tenant_id.clone(), ok)
    };
    if !ok_tenant {
        return Response::new(401).header("request-id", &ctx.request_id);
    }
    let body: Value = match serde_json::from_slice(&req.body) {
        Ok(v) => v,
        Err(_) => return bad_body(ctx, "The request body is not valid JSON."),
    };
    let input = body.get("CmdletInput");
    let name = input
        .and_then(|i| i.get("CmdletName"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let params = match input.and_then(|i| i.get("Parameters")) {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(_) => return bad_body(ctx, "Parameters must be an object."),
    };
    let Some(cmdlet) = canonical_cmdlet(name) else {
        return exo_error(400, "BadRequest", "Invalid Operation", "System.Management.Automation.CommandNotFoundException", &format!("The term '{name}' is not recognized as a name of a cmdlet, function, script file, or executable program."), None, true, ctx);
    };
    match role_allows(caller, cmdlet) {
        None => {
            let mut r = Response::new(403).header("request-id", &ctx.request_id);
            r.body = vec![0u8; 16];
            return r;
        }
        Some(false) => {
            return exo_error(400, "BadRequest", "Invalid Operation", "System.Management.Automation.CommandNotFoundException", &format!("The term '{cmdlet}' is not recognized as a name of a cmdlet, function, script file, or executable program."), None, true, ctx);
        }
        Some(true) => {}
    }
    if let Some(refused) = inbox_rule_read_scope(shared, caller, cmdlet, &params, ctx) {
        return refused;
    }
    let allowed = parameters_of(cmdlet).unwrap_or(&[]);
    let unknown: Vec<&String> = params
        .keys()
        .filter(|k| !allowed.iter().any(|a| a.eq_ignore_ascii_case(k)))
        .collect();
    if !unknown.is_empty() {
        let names = unknown
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        return exo_error(400, "BadRequest", "Invalid Operation", "Microsoft.Exchange.AdminApi.CommandInvocation.AmbiguousParameterSetException", &format!("Parameter set cannot be resolved using the specified named parameters. Invalid cmdlet parameters specified. {names}"), Some(""), false, ctx);
    }
    let call = Call {
        shared,
        ctx,
        tenant: tenant_id,
        cmdlet,
        params,
    };
    if let Some(r) = failing_mailbox(&call) {
        return r;
    }
    if let Some(r) = crate::exo_params::check_inbox_rule_write(
        shared,
        cmdlet,
        &call.params,
        req.header("x-anchormailbox"),
        ctx,
    ) {
        return r;
    }
    if let Some(r) = crate::exo_delegation::fault(&delegation_req(&call)) {
        return r;
    }
    if let Some(r) = crate::exo_folders::fault(shared, ctx, cmdlet, &call.params) {
        return r;
    }
    if let Some(r) = crate::exo_batch::cmdlet_throttle(shared, ctx, cmdlet) {
        return r;
    }
    let skiptoken = crate::odata::Query::parse(&req.query)
        .get("$skiptoken")
        .map(str::to_owned);
    let select: Vec<String> = crate::odata::Query::parse(&req.query).select();
    let prefer = req
        .header("prefer")
        .and_then(|p| {
            p.split(',')
                .find_map(|x| x.trim().strip_prefix("odata.maxpagesize="))
        })
        .and_then(|n| n.trim().parse::<usize>().ok());
    let page_size = crate::exo_params::page_size(prefer, &shared.settings().options);

    let result_size = match result_size(&call) {
        Ok(n) => n,
        Err(r) => return r,
    };
    let result = match cmdlet {
        "Get-Mailbox" => get_mailbox(&call),
        "Get-InboxRule" => get_inbox_rule(&call),
        "Get-HostedOutboundSpamFilterPolicy" => get_spam_policies(&call),
        "Get-BlockedSenderAddress" => get_blocked(&call),
        "Get-RemoteDomain" => remote_domains(&call),
        "Get-Recipient" => get_recipient(&call),
        "Get-AcceptedDomain" => Ok(accepted_domains(&call)),
        "Get-TransportConfig" => Ok(vec![crate::exo_protocols::transport_config(shared)]),
        c if crate::exo_protocols::is_read(c) => {
            crate::exo_protocols::read(shared, ctx, c, &call.params)
        }
        c if crate::exo_folders::is_read(c) => {
            crate::exo_folders::read(shared, ctx, c, &call.params)
        }
        "Get-OrganizationConfig" => Ok(vec![organization_config(&call)]),
        "Get-TransportRule" => exo_mailflow::get_transport_rules(&call),
        "Get-OutboundConnector" => exo_mailflow::get_outbound_connectors(&call),
        "Get-InboundConnector" => exo_mailflow::get_inbound_connectors(&call),
        "Get-RoleGroup" => exo_rolegroups::get_role_groups(&call),
        "Get-RoleGroupMember" => exo_rolegroups::get_role_group_members(&call),
        crate::exo_message_trace::CMDLET => {
            crate::exo_message_trace::read(shared, ctx, &call.params)
        }
        "Get-ManagementRoleAssignment" => exo_rbac::get_role_assignments(&call),
        "Get-ApplicationAccessPolicy" => exo_rbac::get_access_policies(&call),
        "Get-MailboxPermission" | "Get-RecipientPermission" => {
            crate::exo_delegation::read(&delegation_req(&call))
        }
        _ => {
            let r = write_cmdlet(&call);
            let target = ["Identity", "Mailbox", "SenderAddress"]
                .iter()
                .find_map(|p| call.param_str(p))
                .unwrap_or_default();
            let status = match &r {
                Ok(_) => 200,
                Err(e) => e.status,
            };
            shared.record_write(WriteOp {
                service: Service::Exchange,
                operation: cmdlet.to_owned(),
                target,
                body: Value::Object(call.params.clone()),
                status,
            });
            r.map(|_| vec![])
        }
    };
    let items = match result {
        Ok(items) => items,
        Err(r) => return r,
    };
    if !cmdlet.starts_with("Get-") {
        if let Some(r) = crate::exo_params::write_answer(shared, ctx) {
            return r;
        }
    }
    let items: Vec<Obj> = items.into_iter().map(|o| o.select(&select)).collect();
    paged(&call, items, result_size, page_size, skiptoken, &body)
}

/// `Faults::fail_mailbox`: a `*-InboxRule` call for that mailbox answers 500 every time
/// (a mailbox whose store cannot be opened), in Exchange's error envelope.
fn failing_mailbox(call: &Call<'_>) -> Option<Response> {
    let fail = call.shared.settings().faults.fail_mailbox?;
    if !call.cmdlet.ends_with("-InboxRule") {
        return None;
    }
    let asked = call.param_str("Mailbox")?;
    let same = {
        let st = lock(&call.shared.state);
        match (st.find_mailbox(&fail), st.find_mailbox(&asked)) {
            (Some(a), Some(b)) => a.guid == b.guid,
            _ => fail.trim().eq_ignore_ascii_case(asked.trim()),
        }
    };
    same.then(|| {
        exo_error(
            500,
            "InternalServerError",
            "Error executing cmdlet",
            "Microsoft.Exchange.Data.Storage.MailboxUnavailableException",
            &format!(
                "Cannot open mailbox '{asked}'. The mailbox database is temporarily unavailable."
            ),
            Some("Ex4D2A91"),
            true,
            call.ctx,
        )
    })
}

fn result_size(call: &Call<'_>) -> Result<usize, Response> {
    let default = if matches!(call.cmdlet, "Get-Mailbox" | "Get-InboxRule")
        || crate::exo_protocols::limits_result_size(call.cmdlet)
    {
        1000
    } else {
        usize::MAX
    };
    match call.param("ResultSize") {
        None => Ok(default),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("unlimited") => Ok(usize::MAX),
        Some(v) => v
            .as_u64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            .filter(|n| *n > 0)
            .map(|n| n as usize)
            .ok_or_else(|| exo_error(400, "BadRequest", "Invalid Operation", "Microsoft.Exchange.AdminApi.CommandInvocation.ParameterTransformationException", &format!("Cannot process argument transformation on parameter 'ResultSize'. Cannot convert value \"{v}\" to type \"Microsoft.Exchange.Data.Unlimited`1[System.UInt32]\"."), None, true, call.ctx)),
    }
}

const TRUNCATION_WARNING: &str = "There are more results available than are currently displayed. To view them, increase the value for the ResultSize parameter.";

fn pagination_expired(ctx: &Ctx) -> Response {
    exo_error(
        400,
        "BadRequest",
        "Invalid Operation",
        "System.InvalidOperationException",
        "Expired or Invalid pagination request. Default Expiry time is 00:30:00",
        None,
        false,
        ctx,
    )
}

fn paged(
    call: &Call<'_>,
    items: Vec<Obj>,
    result_size: usize,
    page_size: usize,
    skiptoken: Option<String>,
    body: &Value,
) -> Response {
    let shared = call.shared;
    let faults = shared.settings().faults;
    let (offset, limit) = match skiptoken {
        Some(tok) => {
            if faults.exo_pagination_expired
                || crate::exo_params::next_link_expired(&shared.settings().options)
            {
                return pagination_expired(call.ctx);
            }
            let cur = lock(&shared.exo_cursors).remove(&tok);
            match cur {
                Some(c)
                    if c.cmdlet == call.cmdlet
                        && c.parameters == body["CmdletInput"]["Parameters"]
                        && c.created.elapsed() < Duration::from_secs(30 * 60) =>
                {
                    (c.offset, c.limit)
                }
                _ => return pagination_expired(call.ctx),
            }
        }
        None => {
            let mut limit = result_size.min(items.len());
            if faults.exo_force_truncation {
                limit = limit.min(page_size);
            }
            (0, limit)
        }
    };
    let end = (offset + page_size).min(limit);
    let truncated = end == limit && limit < items.len();
    let next = if end < limit || truncated {
        let token = crate::util::b64url(
            format!("exo:{}:{}", call.cmdlet, shared.random_hex(12)).as_bytes(),
        );
        lock(&shared.exo_cursors).insert(
            token.clone(),
            ExoCursor {
                cmdlet: call.cmdlet.to_owned(),
                parameters: body["CmdletInput"]["Parameters"].clone(),
                offset: end,
                limit: if truncated { items.len() } else { limit },
                created: Instant::now(),
            },
        );
        Some(format!(
            "{}/adminapi/beta/{}/InvokeCommand?$skiptoken={token}",
            call.ctx.base_url, call.tenant
        ))
    } else {
        None
    };
    // In the Restart mode a page cut by the client's page size carries the warning too
    // (graph2otel, live 2026-07), so the warning alone cannot tell ResultSize truncation.
    let restart_page =
        next.is_some() && crate::exo_params::next_link_expired(&shared.settings().options);
    let warnings = if truncated || restart_page {
        vec![TRUNCATION_WARNING.to_owned()]
    } else {
        vec![]
    };
    envelope(
        call.ctx,
        &call.tenant,
        &warnings,
        next,
        &items[offset.min(end)..end],
    )
}

// ---- reads ------------------------------------------------------------------------------

/// `ForwardingAddress` as Exchange shows it: the target recipient's Name (a mailbox's or a
/// mail contact's), never an SMTP address. A value naming nothing is shown as stored.
fn render_mailbox(st: &TenantState, m: &Mailbox) -> Obj {
    let mut o = Obj::default();
    o.put(
        "ExternalDirectoryObjectId",
        json!(m.external_directory_object_id),
    );
    o.put("UserPrincipalName", json!(m.user_principal_name));
    o.put("PrimarySmtpAddress", json!(m.primary_smtp_address));
    o.put("WindowsEmailAddress", json!(m.primary_smtp_address));
    o.put("DisplayName", json!(m.display_name));
    o.put("Alias", json!(m.alias));
    o.put("RecipientType", json!("UserMailbox"));
    o.put("RecipientTypeDetails", json!(m.recipient_type_details));
    o.put(
        "ForwardingAddress",
        json!(m
            .forwarding_address
            .as_ref()
            .map(|f| st.recipient_name(f).unwrap_or_else(|| f.clone()))),
    );
    // No LegacyExchangeDN: the contract fixture's Get-Mailbox shape has none, so the
    // collector must be able to resolve mailbox `EX:` references without it
    // (Get-Recipient -Filter "LegacyExchangeDN -eq '…'").
    o.put(
        "ForwardingSmtpAddress",
        json!(m
            .forwarding_smtp_address
            .as_ref()
            .map(|a| format!("smtp:{a}"))),
    );
    o.put(
        "DeliverToMailboxAndForward",
        json!(m.deliver_to_mailbox_and_forward),
    );
    // Exchange always lists it (empty when nobody); shown here only when set, so the
    // contract fixture's key set (a trimmed capture without it) stays the shape.
    if let Some(names) = crate::exo_delegation::send_on_behalf_of(st, m) {
        o.strs("GrantSendOnBehalfTo", Some(names));
    }
    o.put("AccountDisabled", json!(m.account_disabled));
    o.put("IsMailboxEnabled", json!(true));
    o.put(
        "HiddenFromAddressListsEnabled",
        json!(m.recipient_type_details == "DiscoveryMailbox"),
    );
    o.put("AuditEnabled", json!(true));
    o.put("LitigationHoldEnabled", json!(false));
    o.put("ProhibitSendQuota", json!("99 GB (106,300,440,576 bytes)"));
    o.put("RetainDeletedItemsFor", json!("14.00:00:00"));
    let domain = m.primary_smtp_address.split('@').nth(1).unwrap_or("");
    let local = m.primary_smtp_address.split('@').next().unwrap_or("");
    let initial = if domain.ends_with(".onmicrosoft.com") {
        domain.to_owned()
    } else {
        format!(
            "{}.onmicrosoft.com",
            domain.split('.').next().unwrap_or("contoso")
        )
    };
    o.strs(
        "EmailAddresses",
        Some(vec![
            format!("SMTP:{}", m.primary_smtp_address),
            format!("smtp:{local}@{initial}"),
            format!("SIP:{}", m.primary_smtp_address),
        ]),
    );
    o.date("WhenMailboxCreated", "2024-02-11T09:15:42.0000000+00:00");
    o.date("WhenChangedUTC", "2025-12-30T18:02:11.0000000Z");
    o.put("Identity", json!(m.alias));
    o.put("Id", json!(m.alias));
    o.put("Name", json!(m.alias));
    o.put("IsValid", json!(true));
    o.guid("ExchangeObjectId", &m.exchange_object_id);
    o.guid("Guid", &m.guid);
    o
}

const RECIPIENT_TYPES: [&str; 9] = [
    "UserMailbox",
    "SharedMailbox",
    "RoomMailbox",
    "EquipmentMailbox",
    "DiscoveryMailbox",
    "SchedulingMailbox",
    "LinkedMailbox",
    "TeamMailbox",
    "GroupMailbox",
];

fn get_mailbox(call: &Call<'_>) -> Result<Vec<Obj>, Response> {
    let st = lock(&call.shared.state);
    if let Some(id) = call.param_str("Identity") {
        return match st.find_mailbox(&id) {
            Some(m) => Ok(vec![render_mailbox(&st, m)]),
            None => Err(call.not_found(&id)),
        };
    }
    let wanted: Option<Vec<String>> = match call.param("RecipientTypeDetails") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.split(',').map(|x| x.trim().to_owned()).collect()),
        Some(Value::Array(a)) => Some(
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
        ),
        Some(_) => None,
    };
    let mut types = Vec::new();
    if let Some(w) = &wanted {
        for t in w {
            match RECIPIENT_TYPES.iter().find(|r| r.eq_ignore_ascii_case(t)) {
                Some(r) => types.push(*r),
                None => {
                    return Err(call.invalid_enum(
                        "RecipientTypeDetails",
                        t,
                        "Microsoft.Exchange.Data.Directory.Recipient.RecipientTypeDetails[]",
                        &RECIPIENT_TYPES,
                    ))
                }
            }
        }
    }
    Ok(st
        .mailboxes
        .iter()
        .filter(|m| wanted.is_none() || types.contains(&m.recipient_type_details.as_str()))
        .map(|m| render_mailbox(&st, m))
        .collect())
}

fn display_recipient(r: &Recipient) -> String {
    format!("\"{}\" [SMTP:{}]", r.name, r.address)
}

fn folder_path(m: &Mailbox, id: &str, format: crate::config::FolderFormat) -> String {
    let mut names = Vec::new();
    let mut cur = m.folders.iter().find(|f| f.id == id);
    while let Some(f) = cur {
        if f.well_known_name.as_deref() == Some("msgfolderroot") {
            break;
        }
        names.push(f.display_name.clone());
        cur = m.folders.iter().find(|p| p.id == f.parent_folder_id);
    }
    names.reverse();
    match format {
        crate::config::FolderFormat::Path => format!("{}:\\{}", m.alias, names.join("\\")),
        crate::config::FolderFormat::Name => names.last().cloned().unwrap_or_default(),
    }
}

fn describe(r: &InboxRule, folder: Option<&str>) -> String {
    if r.hidden
        && r.forward_to.is_empty()
        && r.redirect_to.is_empty()
        && r.forward_as_attachment_to.is_empty()
    {
        return String::new();
    }
    let quote = |v: &[String]| {
        v.iter()
            .map(|w| format!("'{w}'"))
            .collect::<Vec<_>>()
            .join(" or ")
    };
    let mut conds = Vec::new();
    if !r.subject_or_body_contains.is_empty() {
        conds.push(format!(
            "includes {} in the subject or body",
            quote(&r.subject_or_body_contains)
        ));
    }
    if !r.subject_contains.is_empty() {
        conds.push(format!(
            "includes {} in the subject",
            quote(&r.subject_contains)
        ));
    }
    if !r.body_contains.is_empty() {
        conds.push(format!("includes {} in the body", quote(&r.body_contains)));
    }
    if !r.from_addresses.is_empty() {
        conds.push(format!(
            "is received from '{}'",
            r.from_addresses
                .iter()
                .map(display_recipient)
                .collect::<Vec<_>>()
                .join("' or '")
        ));
    }
    let mut acts = Vec::new();
    if let Some(f) = folder {
        acts.push(format!("move the message to folder '{f}'"));
    }
    if r.delete {
        acts.push("delete the message".into());
    }
    if r.permanent_delete {
        acts.push("delete the message permanently".into());
    }
    if r.mark_as_read {
        acts.push("mark the message as read".into());
    }
    for (verb, list) in [
        ("forward the message to", &r.forward_to),
        ("redirect the message to", &r.redirect_to),
        (
            "forward the message as an attachment to",
            &r.forward_as_attachment_to,
        ),
    ] {
        if !list.is_empty() {
            acts.push(format!(
                "{verb} '{}'",
                list.iter()
                    .map(display_recipient)
                    .collect::<Vec<_>>()
                    .join("' and '")
            ));
        }
    }
    if r.stop_processing_rules {
        acts.push("stop processing more rules on this message".into());
    }
    let mut s = String::from("If the message:\r\n");
    for (i, c) in conds.iter().enumerate() {
        s.push_str(&format!("\t{}{c}\r\n", if i > 0 { "and " } else { "" }));
    }
    s.push_str("Take the following actions:\r\n");
    for (i, a) in acts.iter().enumerate() {
        s.push_str(&format!("\t{}{a}\r\n", if i > 0 { "and " } else { "" }));
    }
    s
}

/// A forward/redirect recipient as Get-InboxRule shows it: a directory object (a mailbox,
/// or a mail contact / mail user delivering to that address) by its legacy DN,
/// `"Name" [EX:/o=…]`; any other address as `"Name" [SMTP:addr]`.
fn action_recipient(st: &TenantState, r: &Recipient) -> String {
    let a = r.address.as_str();
    if let Some(m) = st
        .mailboxes
        .iter()
        .find(|m| m.primary_smtp_address.eq_ignore_ascii_case(a))
    {
        return format!("\"{}\" [EX:{}]", m.display_name, m.legacy_exchange_dn());
    }
    if let Some(c) = st
        .recipients
        .iter()
        .find(|c| c.delivers_to().eq_ignore_ascii_case(a))
    {
        return format!("\"{}\" [EX:{}]", c.display_name, c.legacy_exchange_dn);
    }
    display_recipient(r)
}

fn render_rule(
    st: &TenantState,
    m: &Mailbox,
    r: &InboxRule,
    format: crate::config::FolderFormat,
) -> Obj {
    let folder = r
        .move_to_folder
        .as_deref()
        .map(|f| folder_path(m, f, format));
    let strs = |v: &[Recipient]| {
        (!v.is_empty()).then(|| v.iter().map(display_recipient).collect::<Vec<_>>())
    };
    let targets = |v: &[Recipient]| {
        (!v.is_empty()).then(|| {
            v.iter()
                .map(|r| action_recipient(st, r))
                .collect::<Vec<_>>()
        })
    };
    let words = |v: &[String]| (!v.is_empty()).then(|| v.to_vec());
    let mut o = Obj::default();
    o.put("Name", json!(r.name));
    o.put("Enabled", json!(r.enabled));
    o.put("Priority", json!(r.priority));
    o.put("RuleIdentity", json!(r.rule_identity));
    o.put("Description", json!(describe(r, folder.as_deref())));
    o.strs("ForwardTo", targets(&r.forward_to));
    o.strs(
        "ForwardAsAttachmentTo",
        targets(&r.forward_as_attachment_to),
    );
    o.strs("RedirectTo", targets(&r.redirect_to));
    o.put("DeleteMessage", json!(r.delete));
    o.put("SoftDeleteMessage", json!(r.permanent_delete));
    o.put("MoveToFolder", json!(folder));
    o.put(
        "CopyToFolder",
        json!(r
            .copy_to_folder
            .as_deref()
            .map(|f| folder_path(m, f, format))),
    );
    o.put("MarkAsRead", json!(r.mark_as_read));
    o.put("StopProcessingRules", json!(r.stop_processing_rules));
    o.strs("SubjectContainsWords", words(&r.subject_contains));
    o.strs("BodyContainsWords", words(&r.body_contains));
    o.strs(
        "SubjectOrBodyContainsWords",
        words(&r.subject_or_body_contains),
    );
    o.strs("From", strs(&r.from_addresses));
    o.strs("FromAddressContainsWords", words(&r.sender_contains));
    o.strs("HeaderContainsWords", words(&r.header_contains));
    o.strs(
        "RecipientAddressContainsWords",
        words(&r.recipient_contains),
    );
    o.put("HasAttachment", json!(r.has_attachments));
    o.put("InError", json!(r.in_error));
    o.put("MailboxOwnerId", json!(m.alias));
    o.put(
        "Identity",
        json!(format!("{}\\{}", m.alias, r.rule_identity)),
    );
    o.put("IsValid", json!(true));
    o
}

fn get_inbox_rule(call: &Call<'_>) -> Result<Vec<Obj>, Response> {
    let Some(mbx_id) = call.param_str("Mailbox") else {
        return Err(exo_error(
            400,
            "BadRequest",
            "Invalid Operation",
            "System.Management.Automation.ParameterBindingException",
            "The Mailbox parameter is required when the cmdlet runs app-only.",
            None,
            true,
            call.ctx,
        ));
    };
    let format = call.shared.settings().options.exo_move_to_folder_format;
    let include_hidden = call.switch("IncludeHidden");
    let st = lock(&call.shared.state);
    let m = st
        .find_mailbox(&mbx_id)
        .ok_or_else(|| call.not_found(&mbx_id))?;
    let only = call.param_str("Identity");
    let mut out = Vec::new();
    for r in &m.rules {
        if r.hidden && !include_hidden {
            continue;
        }
        if let Some(id) = &only {
            let rid = id.rsplit('\\').next().unwrap_or(id);
            if rid != r.rule_identity.to_string() && !rid.eq_ignore_ascii_case(&r.name) {
                continue;
            }
        }
        out.push(render_rule(&st, m, r, format));
    }
    if only.is_some() && out.is_empty() {
        return Err(call.not_found(&only.unwrap_or_default()));
    }
    Ok(out)
}

fn render_policy(p: &crate::state::OutboundSpamPolicy, initial: &str) -> Obj {
    let mut o = Obj::default();
    o.put("AdminDisplayName", json!(""));
    o.put("IsDefault", json!(p.is_default));
    o.put("ConfigurationType", json!("HostedOutboundSpamFilterPolicy"));
    o.put("Enabled", json!(p.enabled));
    o.put(
        "RecipientLimitExternalPerHour",
        json!(p.recipient_limit_external_per_hour),
    );
    o.put(
        "RecipientLimitInternalPerHour",
        json!(p.recipient_limit_internal_per_hour),
    );
    o.put("RecipientLimitPerDay", json!(p.recipient_limit_per_day));
    o.put(
        "ActionWhenThresholdReached",
        json!(p.action_when_threshold_reached),
    );
    o.strs(
        "NotifyOutboundSpamRecipients",
        Some(p.notify_outbound_spam_recipients.clone()),
    );
    o.strs("BccSuspiciousOutboundAdditionalRecipients", Some(vec![]));
    o.put("BccSuspiciousOutboundMail", json!(false));
    o.put(
        "NotifyOutboundSpam",
        json!(!p.notify_outbound_spam_recipients.is_empty()),
    );
    o.put("RecommendedPolicyType", json!("Custom"));
    o.put("AutoForwardingMode", json!(p.auto_forwarding_mode));
    o.put("Name", json!(p.name));
    o.put("DistinguishedName", json!(format!("CN={},CN=Outbound Spam Filter,CN=Transport Settings,CN=Configuration,CN={initial},CN=ConfigurationUnits,DC=EURPR00A001,DC=PROD,DC=OUTLOOK,DC=COM", p.name)));
    o.put("Identity", json!(p.name));
    o.date("WhenChangedUTC", &p.when_changed);
    o.guid("ExchangeObjectId", &p.guid);
    o.put("OrganizationId", json!(format!("EURPR00A001.PROD.OUTLOOK.COM/Microsoft Exchange Hosted Organizations/{initial} - EURPR00A001.PROD.OUTLOOK.COM/ConfigurationUnits/{initial}/Configuration")));
    o.put("Id", json!(p.name));
    o.guid("Guid", &p.guid);
    o.put("IsValid", json!(true));
    o
}

fn get_spam_policies(call: &Call<'_>) -> Result<Vec<Obj>, Response> {
    let st = lock(&call.shared.state);
    let initial = st.initial_domain();
    let only = call.param_str("Identity");
    let out: Vec<Obj> = st
        .outbound_spam_policies
        .iter()
        .filter(|p| only.as_ref().is_none_or(|i| p.name.eq_ignore_ascii_case(i)))
        .map(|p| render_policy(p, &initial))
        .collect();
    if let (Some(i), true) = (&only, out.is_empty()) {
        return Err(call.not_found(i));
    }
    Ok(out)
}

fn get_blocked(call: &Call<'_>) -> Result<Vec<Obj>, Response> {
    let st = lock(&call.shared.state);
    let only = call.param_str("SenderAddress");
    Ok(st
        .blocked_senders
        .iter()
        .filter(|b| {
            only.as_ref()
                .is_none_or(|a| b.sender_address.eq_ignore_ascii_case(a))
        })
        .map(|b| {
            let mut o = Obj::default();
            o.put("SenderAddress", json!(b.sender_address));
            o.put("Reason", json!(b.reason));
            o.date("CreatedDatetime", &dotnet_date(&b.created));
            o.date("ChangedDatetime", &dotnet_date(&b.created));
            o.put("TemporaryBlock", json!(false));
            o
        })
        .collect())
}

/// `Get-RemoteDomain [-Identity <name|domain>]`
/// (<https://learn.microsoft.com/powershell/module/exchange/get-remotedomain>): every entry,
/// or the one named (by Name or DomainName); an unknown identity is NotFound.
fn remote_domains(call: &Call<'_>) -> Result<Vec<Obj>, Response> {
    let st = lock(&call.shared.state);
    let only = call.param_str("Identity");
    let out: Vec<Obj> = st
        .remote_domains
        .iter()
        .filter(|d| {
            only.as_deref().is_none_or(|id| {
                d.name.eq_ignore_ascii_case(id) || d.domain_name.eq_ignore_ascii_case(id)
            })
        })
        .map(|d| {
            let mut o = Obj::default();
            o.put("DomainName", json!(d.domain_name));
            o.put("AutoForwardEnabled", json!(d.auto_forward_enabled));
            o.put("AutoReplyEnabled", json!(d.auto_reply_enabled));
            o.put("IsInternal", json!(d.is_internal));
            o.put("DeliveryReportEnabled", json!(true));
            o.put("Name", json!(d.name));
            o.put("Identity", json!(d.name));
            o.date("WhenChangedUTC", &d.when_changed);
            o.put("IsValid", json!(true));
            o
        })
        .collect();
    if let Some(id) = only.filter(|_| out.is_empty()) {
        return Err(call.not_found(&id));
    }
    Ok(out)
}

/// Every RecipientTypeDetails value the emulator knows (mailboxes and the rest).
const ALL_RECIPIENT_TYPES: [&str; 17] = [
    "UserMailbox",
    "SharedMailbox",
    "RoomMailbox",
    "EquipmentMailbox",
    "DiscoveryMailbox",
    "SchedulingMailbox",
    "LinkedMailbox",
    "TeamMailbox",
    "GroupMailbox",
    "MailContact",
    "MailUser",
    "GuestMailUser",
    "MailUniversalDistributionGroup",
    "MailUniversalSecurityGroup",
    "MailNonUniversalGroup",
    "DynamicDistributionGroup",
    "RoomList",
];

fn render_recipient_of_mailbox(m: &Mailbox) -> Obj {
    let mut o = Obj::default();
    o.put("Name", json!(m.alias));
    o.put("Identity", json!(m.alias));
    o.put("Alias", json!(m.alias));
    o.put("DisplayName", json!(m.display_name));
    o.put("RecipientType", json!("UserMailbox"));
    o.put("RecipientTypeDetails", json!(m.recipient_type_details));
    o.put("PrimarySmtpAddress", json!(m.primary_smtp_address));
    o.put("ExternalEmailAddress", Value::Null);
    o.put("LegacyExchangeDN", json!(m.legacy_exchange_dn()));
    o.put(
        "ExternalDirectoryObjectId",
        json!(m.external_directory_object_id),
    );
    o.guid("Guid", &m.guid);
    o.put("IsValid", json!(true));
    o
}

fn render_recipient(r: &MailRecipient) -> Obj {
    let recipient_type = match r.recipient_type_details.as_str() {
        "GuestMailUser" => "MailUser",
        "MailUniversalDistributionGroup" | "RoomList" => "MailUniversalDistributionGroup",
        other => other,
    };
    let mut o = Obj::default();
    o.put("Name", json!(r.name));
    o.put("Identity", json!(r.name));
    o.put("Alias", json!(r.alias));
    o.put("DisplayName", json!(r.display_name));
    o.put("RecipientType", json!(recipient_type));
    o.put("RecipientTypeDetails", json!(r.recipient_type_details));
    o.put("PrimarySmtpAddress", json!(r.primary_smtp_address));
    o.put(
        "ExternalEmailAddress",
        json!(r
            .external_email_address
            .as_ref()
            .map(|a| format!("SMTP:{a}"))),
    );
    o.put("LegacyExchangeDN", json!(r.legacy_exchange_dn));
    o.put("ExternalDirectoryObjectId", json!(r.id));
    o.guid("Guid", &r.guid);
    o.put("IsValid", json!(true));
    o
}

/// `Get-Recipient` (<https://learn.microsoft.com/powershell/module/exchange/get-recipient>):
/// every mail-enabled object; Microsoft 365 Groups only when `-RecipientTypeDetails`
/// names `GroupMailbox`. `-Identity` (any unique identity: name, alias, address, GUID,
/// legacy DN) is NotFound when nothing matches and an error when several do; `-Identity`
/// and `-Anr` are in different parameter sets. `-Filter` supports `<Property> -eq '<value>'`
/// for LegacyExchangeDN, PrimarySmtpAddress, ExternalEmailAddress and Name
/// (<https://learn.microsoft.com/powershell/exchange/filter-properties>); any other filter
/// is refused, never ignored.
fn get_recipient(call: &Call<'_>) -> Result<Vec<Obj>, Response> {
    let identity = call.param_str("Identity");
    let anr = call.param_str("Anr");
    if identity.is_some() && anr.is_some() {
        return Err(exo_error(
            400,
            "BadRequest",
            "Invalid Operation",
            "Microsoft.Exchange.AdminApi.CommandInvocation.AmbiguousParameterSetException",
            "Parameter set cannot be resolved using the specified named parameters. Identity, Anr",
            Some(""),
            false,
            call.ctx,
        ));
    }
    let wanted: Option<Vec<String>> = match call.param("RecipientTypeDetails") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.split(',').map(|x| x.trim().to_owned()).collect()),
        Some(Value::Array(a)) => Some(
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
        ),
        Some(_) => None,
    };
    let mut types: Vec<&str> = Vec::new();
    for t in wanted.iter().flatten() {
        match ALL_RECIPIENT_TYPES
            .iter()
            .find(|r| r.eq_ignore_ascii_case(t))
        {
            Some(r) => types.push(r),
            None => {
                return Err(call.invalid_enum(
                    "RecipientTypeDetails",
                    t,
                    "Microsoft.Exchange.Data.Directory.Recipient.RecipientTypeDetails[]",
                    &ALL_RECIPIENT_TYPES,
                ))
            }
        }
    }
    let filter = match call.param_str("Filter") {
        None => None,
        Some(f) => Some(parse_eq_filter(&f).ok_or_else(|| {
            exo_error(400, "BadRequest", "Invalid Operation", "Microsoft.Exchange.Management.Tasks.InvalidFilterException", &format!("Cannot bind parameter 'Filter' to the target. The emulator supports only \"<LegacyExchangeDN|PrimarySmtpAddress|ExternalEmailAddress|Name> -eq '<value>'\": {f}"), None, true, call.ctx)
        })?),
    };
    let st = lock(&call.shared.state);
    let type_ok = |t: &str| {
        if types.is_empty() {
            t != "GroupMailbox"
        } else {
            types.contains(&t)
        }
    };
    let filter_ok = |props: [(&str, &str); 4]| match &filter {
        None => true,
        Some((prop, value)) => props
            .iter()
            .any(|(p, v)| p.eq_ignore_ascii_case(prop) && v.eq_ignore_ascii_case(value)),
    };
    let anr_ok = |names: [&str; 3]| match &anr {
        None => true,
        Some(a) => names
            .iter()
            .any(|n| n.to_ascii_lowercase().starts_with(&a.to_ascii_lowercase())),
    };
    let mut out = Vec::new();
    for m in &st.mailboxes {
        let dn = m.legacy_exchange_dn();
        if type_ok(&m.recipient_type_details)
            && identity
                .as_deref()
                .is_none_or(|i| m.matches_identity(i) || dn.eq_ignore_ascii_case(i))
            && filter_ok([
                ("LegacyExchangeDN", &dn),
                ("PrimarySmtpAddress", &m.primary_smtp_address),
                ("ExternalEmailAddress", ""),
                ("Name", &m.alias),
            ])
            && anr_ok([&m.alias, &m.display_name, &m.primary_smtp_address])
        {
            out.push(render_recipient_of_mailbox(m));
        }
    }
    for r in &st.recipients {
        if type_ok(&r.recipient_type_details)
            && identity.as_deref().is_none_or(|i| r.matches_identity(i))
            && filter_ok([
                ("LegacyExchangeDN", &r.legacy_exchange_dn),
                ("PrimarySmtpAddress", &r.primary_smtp_address),
                (
                    "ExternalEmailAddress",
                    r.external_email_address.as_deref().unwrap_or(""),
                ),
                ("Name", &r.name),
            ])
            && anr_ok([&r.name, &r.display_name, &r.alias])
        {
            out.push(render_recipient(r));
        }
    }
    if let Some(id) = identity {
        match out.len() {
            0 => return Err(call.not_found(&id)),
            1 => {}
            _ => {
                return Err(exo_error(
                    400,
                    "BadRequest",
                    "Invalid Operation",
                    "Microsoft.Exchange.Configuration.Tasks.ManagementObjectAmbiguousException",
                    &format!(
                    "The operation couldn't be performed because '{id}' matches multiple entries."
                ),
                    None,
                    false,
                    call.ctx,
                ))
            }
        }
    }
    Ok(out)
}

/// `Prop -eq 'value'` (value quoted with ', a doubled '' inside) → (Prop, value).
fn parse_eq_filter(f: &str) -> Option<(String, String)> {
    let f = f
        .trim()
        .trim_start_matches('{')
        .trim_end_matches('}')
        .trim();
    let (prop, rest) = f.split_once(char::is_whitespace)?;
    let rest = rest.trim_start();
    let value = rest
        .get(..3)
        .filter(|op| op.eq_ignore_ascii_case("-eq"))
        .map(|_| rest[3..].trim())?;
    let inner = value.strip_prefix('\'')?.strip_suffix('\'')?;
    if inner.replace("''", "").contains('\'') {
        return None;
    }
    let known = [
        "LegacyExchangeDN",
        "PrimarySmtpAddress",
        "ExternalEmailAddress",
        "Name",
    ];
    let prop = known.iter().find(|k| k.eq_ignore_ascii_case(prop))?;
    Some(((*prop).to_owned(), inner.replace("''", "'")))
}

fn accepted_domains(call: &Call<'_>) -> Vec<Obj> {
    let st = lock(&call.shared.state);
    st.domains
        .iter()
        .filter(|d| d.is_verified)
        .map(|d| {
            let mut o = Obj::default();
            o.put("DomainName", json!(d.name));
            o.put("DomainType", json!("Authoritative"));
            o.put("Default", json!(d.is_default));
            o.put("InitialDomain", json!(d.is_initial));
            o.put("Name", json!(d.name));
            o.put("Identity", json!(d.name));
            o
        })
        .collect()
}

fn organization_config(call: &Call<'_>) -> Obj {
    let st = lock(&call.shared.state);
    let mut o = Obj::default();
    o.put("DisplayName", json!(st.display_name));
    o.put("Name", json!(st.initial_domain()));
    o.put("AuditDisabled", json!(st.protocols.audit_disabled));
    o.put("Identity", json!(st.initial_domain()));
    o
}

// ---- writes -----------------------------------------------------------------------------

fn delegation_req<'a>(call: &'a Call<'_>) -> crate::exo_delegation::Req<'a> {
    crate::exo_delegation::Req {
        shared: call.shared,
        ctx: call.ctx,
        cmdlet: call.cmdlet,
        params: &call.params,
    }
}

fn write_cmdlet(call: &Call<'_>) -> Result<(), Response> {
    match call.cmdlet {
        "Set-Mailbox" => {
            crate::exo_delegation::set_send_on_behalf(&delegation_req(call))?;
            set_mailbox(call)
        }
        "Remove-MailboxPermission" | "Remove-RecipientPermission" => {
            crate::exo_delegation::write(&delegation_req(call))
        }
        "Disable-InboxRule" | "Enable-InboxRule" | "Remove-InboxRule" => change_rule(call),
        "Set-HostedOutboundSpamFilterPolicy" => set_spam_policy(call),
        "Remove-BlockedSenderAddress" => remove_blocked(call),
        c if crate::exo_protocols::is_write(c) => {
            crate::exo_protocols::write(call.shared, call.ctx, c, &call.params)
        }
        c if crate::exo_folders::is_write(c) => {
            crate::exo_folders::write(call.shared, call.ctx, c, &call.params)
        }
        "Disable-TransportRule" | "Enable-TransportRule" => {
            exo_mailflow::change_transport_rule(call)
        }
        "Set-OutboundConnector" | "Set-InboundConnector" => exo_mailflow::set_connector(call),
        "Remove-RoleGroupMember" | "Add-RoleGroupMember" => exo_rolegroups::change_member(call),
        "Remove-ManagementRoleAssignment" => exo_rbac::remove_role_assignment(call),
        _ => Ok(()),
    }
}

fn set_mailbox(call: &Call<'_>) -> Result<(), Response> {
    let id = call.param_str("Identity").unwrap_or_default();
    let mut st = lock(&call.shared.state);
    let fwd_address = match call.param("ForwardingAddress") {
        // Any internal recipient: a mailbox, mail user, mail contact or group
        // (<https://learn.microsoft.com/powershell/module/exchange/set-mailbox>).
        Some(Value::String(target)) => Some(Some(
            st.recipient_name(target)
                .ok_or_else(|| call.not_found(target))?,
        )),
        Some(Value::Null) => Some(None),
        _ => None,
    };
    let m = st
        .find_mailbox_mut(&id)
        .ok_or_else(|| call.not_found(&id))?;
    match call.param("ForwardingSmtpAddress") {
        Some(Value::String(a)) => {
            let a = a
                .strip_prefix("smtp:")
                .or_else(|| a.strip_prefix("SMTP:"))
                .unwrap_or(a);
            if !a.contains('@') {
                return Err(exo_error(400, "BadRequest", "Invalid Operation", "Microsoft.Exchange.AdminApi.CommandInvocation.ParameterTransformationException", &format!("Cannot process argument transformation on parameter 'ForwardingSmtpAddress'. Cannot convert value \"{a}\" to type \"Microsoft.Exchange.Data.ProxyAddress\"."), None, true, call.ctx));
            }
            m.forwarding_smtp_address = Some(a.to_owned());
        }
        Some(Value::Null) => m.forwarding_smtp_address = None,
        _ => {}
    }
    if let Some(f) = fwd_address {
        m.forwarding_address = f;
    }
    if let Some(Value::Bool(b)) = call.param("DeliverToMailboxAndForward") {
        m.deliver_to_mailbox_and_forward = *b;
    }
    Ok(())
}

fn change_rule(call: &Call<'_>) -> Result<(), Response> {
    let identity = call.param_str("Identity").unwrap_or_default();
    let (mbx_part, rule_part) = match identity.split_once('\\') {
        Some((m, r)) => (m.to_owned(), r.to_owned()),
        None => (
            call.param_str("Mailbox").unwrap_or_default(),
            identity.clone(),
        ),
    };
    let mut st = lock(&call.shared.state);
    let m = st
        .find_mailbox_mut(&mbx_part)
        .ok_or_else(|| call.not_found(&identity))?;
    let idx = m
        .rules
        .iter()
        .position(|r| {
            r.rule_identity.to_string() == rule_part || r.name.eq_ignore_ascii_case(&rule_part)
        })
        .ok_or_else(|| call.not_found(&identity))?;
    match call.cmdlet {
        "Disable-InboxRule" => m.rules[idx].enabled = false,
        "Enable-InboxRule" => m.rules[idx].enabled = true,
        _ => {
            m.rules.remove(idx);
        }
    }
    Ok(())
}

fn set_spam_policy(call: &Call<'_>) -> Result<(), Response> {
    let id = call.param_str("Identity").unwrap_or_default();
    let mode = call.enum_value(
        "AutoForwardingMode",
        "Microsoft.Exchange.Management.Tasks.AutoForwardingMode",
        &["Automatic", "Off", "On"],
    )?;
    let action = call.enum_value(
        "ActionWhenThresholdReached",
        "Microsoft.Exchange.Management.Tasks.OutboundRecipientLimitsExceededAction",
        &["Alert", "BlockUserForToday", "BlockUser"],
    )?;
    let mut limits = Vec::new();
    for p in [
        "RecipientLimitExternalPerHour",
        "RecipientLimitInternalPerHour",
        "RecipientLimitPerDay",
    ] {
        if let Some(v) = call.param(p) {
            match v.as_u64().or_else(|| v.as_str().and_then(|s| s.parse().ok())) {
                Some(n) if n <= 10_000 => limits.push((p, n as u32)),
                _ => return Err(exo_error(400, "BadRequest", "Invalid Operation", "Microsoft.Exchange.AdminApi.CommandInvocation.ParameterBindingException", &format!("Cannot validate argument on parameter '{p}'. The {v} argument is greater than the maximum allowed range of 10000."), None, true, call.ctx)),
            }
        }
    }
    let mut st = lock(&call.shared.state);
    let p = st
        .outbound_spam_policies
        .iter_mut()
        .find(|p| p.name.eq_ignore_ascii_case(&id))
        .ok_or_else(|| call.not_found(&id))?;
    if let Some(m) = mode {
        p.auto_forwarding_mode = m.to_owned();
    }
    if let Some(a) = action {
        p.action_when_threshold_reached = a.to_owned();
    }
    for (k, n) in limits {
        match k {
            "RecipientLimitExternalPerHour" => p.recipient_limit_external_per_hour = n,
            "RecipientLimitInternalPerHour" => p.recipient_limit_internal_per_hour = n,
            _ => p.recipient_limit_per_day = n,
        }
    }
    p.when_changed = crate::util::dotnet_utc(crate::util::now_epoch());
    Ok(())
}

fn remove_blocked(call: &Call<'_>) -> Result<(), Response> {
    if let Some(r) = crate::exo_params::check_unblock(call.shared, &call.params, call.ctx) {
        return Err(r);
    }
    let addr = call.param_str("SenderAddress").unwrap_or_default();
    let mut st = lock(&call.shared.state);
    let before = st.blocked_senders.len();
    st.blocked_senders
        .retain(|b| !b.sender_address.eq_ignore_ascii_case(&addr));
    if st.blocked_senders.len() == before {
        return Err(call.not_found(&addr));
    }
    Ok(())
}
