//! The Microsoft Purview audit search API in Graph (the unified audit log), and the
//! contoso story it tells for `m365guard investigate`.
//!
//! What the docs say, and what the emulator therefore does:
//! - Create auditLogQuery, `POST /security/auditLog/queries`
//!   (<https://learn.microsoft.com/graph/api/security-auditcoreroot-post-auditlogqueries>):
//!   v1.0 and beta; answers 201 with the query, `status` `notStarted`. Body properties of
//!   <https://learn.microsoft.com/graph/api/resources/security-auditlogquery>:
//!   `displayName`, `filterStartDateTime`, `filterEndDateTime`, `recordTypeFilters`,
//!   `keywordFilter`, `serviceFilters`, `operationFilters`, `userPrincipalNameFilters`,
//!   `ipAddressFilters`, `objectIdFilters`, `administrativeUnitIdFilters`; anything else
//!   is a 400.
//! - Get auditLogQuery, `GET /security/auditLog/queries/{id}`: the query runs on the
//!   service's side; here it moves `notStarted` → `running` → `succeeded` over successive
//!   GETs (`Options::audit_query_polls_to_succeed`), or ends `failed`
//!   (`Options::audit_query_fails`).
//! - List records, `GET /security/auditLog/queries/{id}/records`
//!   (<https://learn.microsoft.com/graph/api/security-auditlogquery-list-records>):
//!   auditLogRecord objects
//!   (<https://learn.microsoft.com/graph/api/resources/security-auditlogrecord>) paged by
//!   `@odata.nextLink`; 400 before the query succeeded (UNVERIFIED: the service's answer to
//!   an early read is not documented).
//! - Permissions: AuditLogsQuery.Read.All, or the per-workload AuditLogsQuery-Exchange /
//!   -SharePoint / -OneDrive / -Entra .Read.All (a caller with only some of them sees only
//!   those workloads' records); none of them → 403.
//! - Throttling: `Options::audit_query_throttled_polls` answers that many status GETs 429
//!   with `Retry-After: 1`.
//! - A tenant without audit (`Options::audit_log_licensed = false`) answers the POST 400
//!   "not licensed" (UNVERIFIED: the exact code and text).

use serde_json::{json, Map, Value};

use crate::graph::GraphReq;
use crate::http::Response;
use crate::odata::{page, PageSpec, Query};
use crate::respond::{bad_request, forbidden, graph_error, graph_json, too_many_requests, Ctx};
use crate::server::{lock, Caller, Shared};
use crate::state::User;
use crate::util::stable_guid;

type R = Result<Response, Response>;

/// Any of these reads some audit records.
const QUERY_READ: &[&str] = &[
    "AuditLogsQuery.Read.All",
    "AuditLogsQuery-Exchange.Read.All",
    "AuditLogsQuery-SharePoint.Read.All",
    "AuditLogsQuery-OneDrive.Read.All",
    "AuditLogsQuery-Entra.Read.All",
];

/// The documented body properties of an auditLogQuery.
const PROPERTIES: [&str; 12] = [
    "@odata.type",
    "displayName",
    "filterStartDateTime",
    "filterEndDateTime",
    "recordTypeFilters",
    "keywordFilter",
    "serviceFilters",
    "operationFilters",
    "userPrincipalNameFilters",
    "ipAddressFilters",
    "objectIdFilters",
    "administrativeUnitIdFilters",
];

/// One query the tenant holds: what was asked, and how often its status was read.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditQuery {
    pub id: String,
    pub body: Map<String, Value>,
    pub status_reads: u32,
    pub status_throttled: u32,
}

const LENA: &str = "1d2e3f4a-5b6c-4d7e-8f9a-0b1c2d3e4f5a";
const BERLIN: &str = "91.64.10.20";
const MUNICH: &str = "91.64.200.7";

/// Lena's unified audit log: ordinary events (an inbox rule she made from Berlin, mail
/// read, a file downloaded in Munich, an app she consented to from Berlin) and the
/// attacker's (an inbox rule hiding replies from 185.220.101.47 2½ minutes after the
/// Amsterdam sign-in, mail read and sent from there).
pub fn story(users: &[User]) -> Vec<Value> {
    let Some(lena) = users.iter().find(|u| u.id == LENA) else {
        return Vec::new();
    };
    let upn = lena.user_principal_name.to_lowercase();
    let attacker = crate::audit_logs::ATTACKER_IP;
    let rows: [(&str, &str, &str, &str, &str, String, Value); 8] = [
        (
            "2025-12-03T09:14:00Z",
            "New-InboxRule",
            "Exchange",
            "exchangeAdmin",
            BERLIN,
            "Newsletters".into(),
            json!([{"Name": "Name", "Value": "Newsletters"}, {"Name": "From", "Value": "news@fabrikam.example"}, {"Name": "MoveToFolder", "Value": "Newsletters"}]),
        ),
        (
            "2025-12-08T08:20:00Z",
            "MailItemsAccessed",
            "Exchange",
            "exchangeItemAggregated",
            BERLIN,
            upn.clone(),
            json!([]),
        ),
        (
            "2025-12-10T11:02:00Z",
            "Consent to application.",
            "AzureActiveDirectory",
            "azureActiveDirectory",
            BERLIN,
            "Contoso Expenses".into(),
            json!([]),
        ),
        (
            "2025-12-15T13:35:00Z",
            "FileDownloaded",
            "SharePoint",
            "sharePointFileOperation",
            MUNICH,
            "https://contoso.sharepoint.com/sites/finance/Shared Documents/Q4.xlsx".into(),
            json!([]),
        ),
        (
            "2025-12-31T02:16:45Z",
            "New-InboxRule",
            "Exchange",
            "exchangeAdmin",
            attacker,
            ".".into(),
            json!([{"Name": "Name", "Value": "."}, {"Name": "SubjectOrBodyContainsWords", "Value": "invoice;payment;wire"}, {"Name": "MoveToFolder", "Value": "RSS Feeds"}, {"Name": "MarkAsRead", "Value": "True"}, {"Name": "StopProcessingRules", "Value": "True"}]),
        ),
        (
            "2025-12-31T02:20:12Z",
            "MailItemsAccessed",
            "Exchange",
            "exchangeItemAggregated",
            attacker,
            upn.clone(),
            json!([]),
        ),
        (
            "2025-12-31T02:44:30Z",
            "Send",
            "Exchange",
            "exchangeItem",
            attacker,
            upn.clone(),
            json!([]),
        ),
        (
            "2025-12-31T02:47:00Z",
            "Send",
            "Exchange",
            "exchangeItem",
            attacker,
            upn.clone(),
            json!([]),
        ),
    ];
    rows.iter()
        .enumerate()
        .map(
            |(n, (time, operation, service, record_type, ip, object, parameters))| {
                // The UAL keeps the client's port on Exchange records (`a.b.c.d:port`).
                let client_ip = if *service == "Exchange" {
                    format!("{ip}:{}", 50000 + n)
                } else {
                    (*ip).to_owned()
                };
                default_record(&Record {
                    id: &stable_guid(&format!("ual/{}/{n}", lena.id)),
                    time,
                    record_type,
                    service,
                    operation,
                    object,
                    upn: &upn,
                    client_ip: &client_ip,
                    result_status: "Succeeded",
                    parameters: parameters.clone(),
                })
            },
        )
        .collect()
}

/// The attacker's Exchange changes, tenant-wide (`scan --with-activity`): FullAccess to
/// Dana Whitfield's mailbox and forwarding of Lena's mail, both from 185.220.101.47; then
/// (`activity_story_roles`) the ApplicationImpersonation assignment, Lena added to
/// Organization Management, and the "Sync" forwarding rule changed through Outlook.
/// Records as the admin audit log keeps cmdlets (`Parameters` name the objects, e.g.
/// <https://learn.microsoft.com/purview/audit-log-activities#exchange-admin-activities>).
/// Kept apart from `story` (whose exact records the investigate tests count); a test adds
/// them with `TenantState::add_activity_story`.
pub fn activity_story(users: &[User]) -> Vec<Value> {
    let Some(lena) = users.iter().find(|u| u.id == LENA) else {
        return Vec::new();
    };
    let upn = lena.user_principal_name.to_lowercase();
    let ip = crate::audit_logs::ATTACKER_IP;
    let rows = [
        (
            "2025-12-31T02:33:00Z",
            "Add-MailboxPermission",
            "dana.whitfield@contoso.com",
            json!([{"Name": "Identity", "Value": "dana.whitfield@contoso.com"}, {"Name": "User", "Value": upn}, {"Name": "AccessRights", "Value": "FullAccess"}, {"Name": "InheritanceType", "Value": "All"}]),
        ),
        (
            "2025-12-31T02:35:20Z",
            "Set-Mailbox",
            upn.as_str(),
            json!([{"Name": "Identity", "Value": upn}, {"Name": "ForwardingSmtpAddress", "Value": "smtp:lena.backup@gmail.com"}, {"Name": "DeliverToMailboxAndForward", "Value": "True"}]),
        ),
    ];
    let mut out: Vec<Value> = rows
        .iter()
        .enumerate()
        .map(|(n, (time, operation, object, parameters))| {
            let client_ip = format!("{ip}:{}", 51000 + n);
            exchange_admin_record(
                &stable_guid(&format!("ual/activity/{}/{n}", lena.id)),
                time,
                operation,
                object,
                &upn,
                &client_ip,
                parameters.clone(),
            )
        })
        .collect();
    out.extend(activity_story_roles(lena, &upn));
    out
}

/// One unified-audit-log record of an Exchange admin cmdlet run by `upn` (the admin audit
/// log states success as `True`).
fn exchange_admin_record(
    id: &str,
    time: &str,
    operation: &str,
    object: &str,
    upn: &str,
    client_ip: &str,
    parameters: Value,
) -> Value {
    default_record(&Record {
        id,
        time,
        record_type: "exchangeAdmin",
        service: "Exchange",
        operation,
        object,
        upn,
        client_ip,
        result_status: "True",
        parameters,
    })
}

/// What varies between the story's records of the default audit-data shape.
struct Record<'a> {
    id: &'a str,
    time: &'a str,
    record_type: &'a str,
    service: &'a str,
    operation: &'a str,
    object: &'a str,
    upn: &'a str,
    client_ip: &'a str,
    result_status: &'a str,
    parameters: Value,
}

/// A unified-audit-log record whose `auditData` is `defaultAuditData`.
fn default_record(r: &Record<'_>) -> Value {
    json!({
        "id": r.id,
        "createdDateTime": r.time,
        "auditLogRecordType": r.record_type,
        "operation": r.operation,
        "organizationId": "",
        "userType": "regular",
        "userId": r.upn,
        "service": r.service,
        "objectId": r.object,
        "userPrincipalName": r.upn,
        "clientIp": r.client_ip,
        "administrativeUnits": [],
        "auditData": {
            "@odata.type": "#microsoft.graph.security.defaultAuditData",
            "CreationTime": r.time.trim_end_matches('Z'),
            "Operation": r.operation,
            "Workload": r.service,
            "ClientIP": r.client_ip,
            "ObjectId": r.object,
            "UserId": r.upn,
            "ResultStatus": r.result_status,
            "Parameters": r.parameters,
        },
    })
}

/// The story's Exchange role changes and Outlook rule change (all from the attacker's
/// address):
/// - `New-ManagementRoleAssignment -Name … -Role ApplicationImpersonation -User …` at the
///   assignment's `WhenCreated` (<https://learn.microsoft.com/powershell/module/exchange/new-managementroleassignment>);
/// - `Add-RoleGroupMember -Identity "Organization Management" -Member …`
///   (<https://learn.microsoft.com/powershell/module/exchange/add-rolegroupmember>);
/// - `UpdateInboxRules` from Outlook on the "Sync" rule: a mailbox audit record
///   (`exchangeItem`), the rule in `OperationProperties` (`RuleOperation`, `RuleId`,
///   `RuleName`) and the mailbox in `MailboxOwnerUPN`, no `Parameters` (UNVERIFIED: field
///   names as exported records show them; the change is audited per
///   <https://learn.microsoft.com/purview/audit-mailboxes>).
fn activity_story_roles(lena: &User, upn: &str) -> Vec<Value> {
    let ip = crate::audit_logs::ATTACKER_IP;
    let admin = |n: usize, time: &str, operation: &str, object: &str, parameters: Value| {
        let client_ip = format!("{ip}:{}", 52000 + n);
        exchange_admin_record(
            &stable_guid(&format!("ual/activity-roles/{}/{n}", lena.id)),
            time,
            operation,
            object,
            upn,
            &client_ip,
            parameters,
        )
    };
    let assignment = "ApplicationImpersonation-Lena Fischer";
    let rule_time = "2025-12-31T02:38:10Z";
    let rule_ip = format!("{ip}:52002");
    vec![
        admin(
            0,
            "2025-12-31T02:29:14Z",
            "New-ManagementRoleAssignment",
            assignment,
            json!([{"Name": "Name", "Value": assignment}, {"Name": "Role", "Value": "ApplicationImpersonation"}, {"Name": "User", "Value": upn}]),
        ),
        admin(
            1,
            "2025-12-31T02:30:05Z",
            "Add-RoleGroupMember",
            "Organization Management",
            json!([{"Name": "Identity", "Value": "Organization Management"}, {"Name": "Member", "Value": upn}]),
        ),
        json!({
            "id": stable_guid(&format!("ual/activity-roles/{}/2", lena.id)),
            "createdDateTime": rule_time,
            "auditLogRecordType": "exchangeItem",
            "operation": "UpdateInboxRules",
            "organizationId": "",
            "userType": "regular",
            "userId": upn,
            "service": "Exchange",
            "objectId": format!("{upn}\\Inbox"),
            "userPrincipalName": upn,
            "clientIp": rule_ip,
            "administrativeUnits": [],
            "auditData": {
                "@odata.type": "#microsoft.graph.security.exchangeMailboxAuditRecord",
                "CreationTime": rule_time.trim_end_matches('Z'),
                "Operation": "UpdateInboxRules",
                "Workload": "Exchange",
                "ClientIP": rule_ip,
                "UserId": upn,
                "MailboxOwnerUPN": upn,
                "ClientInfoString": "Client=MSExchangeRPC",
                "ResultStatus": "Succeeded",
                "OperationProperties": [
                    {"Name": "RuleOperation", "Value": "ModifyMapiRule"},
                    {"Name": "RuleId", "Value": "4727603405627269190"},
                    {"Name": "RuleName", "Value": "Sync"},
                    {"Name": "RuleActions", "Value": "[{\"ActionType\":\"Forward\"}]"},
                ],
            },
        }),
    ]
}

/// The workload a per-workload permission reads.
fn workload_allowed(caller: &Caller, service: &str) -> bool {
    if caller.has_any(&["AuditLogsQuery.Read.All"]) {
        return true;
    }
    let needed = match service {
        "Exchange" => "AuditLogsQuery-Exchange.Read.All",
        "SharePoint" => "AuditLogsQuery-SharePoint.Read.All",
        "OneDrive" => "AuditLogsQuery-OneDrive.Read.All",
        "AzureActiveDirectory" => "AuditLogsQuery-Entra.Read.All",
        _ => return false,
    };
    caller.has_any(&[needed])
}

fn render(q: &AuditQuery, status: &str) -> Value {
    let mut v = Value::Object(q.body.clone());
    if let Some(o) = v.as_object_mut() {
        o.insert(
            "@odata.type".into(),
            json!("#microsoft.graph.security.auditLogQuery"),
        );
        o.insert("id".into(), json!(q.id));
        o.insert("status".into(), json!(status));
    }
    v
}

fn status_of(shared: &Shared, q: &AuditQuery) -> &'static str {
    let options = shared.settings().options;
    if q.status_reads == 0 {
        "notStarted"
    } else if q.status_reads < options.audit_query_polls_to_succeed {
        "running"
    } else if options.audit_query_fails {
        "failed"
    } else {
        "succeeded"
    }
}

/// `/security/auditLog/queries[/{id}[/records]]`.
pub fn route(shared: &Shared, caller: &Caller, req: &GraphReq<'_>, segs: &[&str], ctx: &Ctx) -> R {
    if !caller.has_any(QUERY_READ) {
        return Err(forbidden(ctx));
    }
    let q = Query::parse(req.query);
    match (req.method, segs) {
        ("POST", []) => create(shared, req, ctx),
        ("GET", [id]) => get(shared, id, ctx),
        ("GET", [id, records]) if records.eq_ignore_ascii_case("records") => {
            records_of(shared, caller, req, id, &q, ctx)
        }
        _ => Err(bad_request(
            "BadRequest",
            "Unsupported audit log query request.",
            ctx,
        )),
    }
}

fn create(shared: &Shared, req: &GraphReq<'_>, ctx: &Ctx) -> R {
    if !shared.settings().options.audit_log_licensed {
        return Err(graph_error(
            400,
            "BadRequest",
            "The tenant is not licensed for audit log search.",
            ctx,
        ));
    }
    let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(req.body) else {
        return Err(bad_request(
            "BadRequest",
            "Unable to read JSON request payload.",
            ctx,
        ));
    };
    if let Some(k) = body.keys().find(|k| !PROPERTIES.contains(&k.as_str())) {
        return Err(bad_request(
            "BadRequest",
            &format!("The property '{k}' does not exist on type 'microsoft.graph.security.auditLogQuery'."),
            ctx,
        ));
    }
    for k in ["filterStartDateTime", "filterEndDateTime"] {
        let ok = body.get(k).and_then(Value::as_str).is_some_and(chrono_like);
        if !ok {
            return Err(bad_request(
                "BadRequest",
                &format!("{k} is required and must be a DateTimeOffset."),
                ctx,
            ));
        }
    }
    let mut st = lock(&shared.state);
    let id = stable_guid(&format!("auditquery/{}", st.audit_queries.len()));
    let query = AuditQuery {
        id,
        body,
        status_reads: 0,
        status_throttled: 0,
    };
    let v = render(&query, "notStarted");
    st.audit_queries.push(query);
    Ok(graph_json(201, &v, ctx))
}

/// `2025-12-01T00:00:00Z` (seconds, optional fraction, `Z`).
fn chrono_like(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 20 && s.ends_with('Z') && b[4] == b'-' && b[10] == b'T' && b[13] == b':'
}

fn get(shared: &Shared, id: &str, ctx: &Ctx) -> R {
    let throttled_polls = shared.settings().options.audit_query_throttled_polls;
    let mut st = lock(&shared.state);
    let Some(q) = st.audit_queries.iter_mut().find(|q| q.id == id) else {
        return Err(graph_error(
            404,
            "NotFound",
            "The audit log query was not found.",
            ctx,
        ));
    };
    if q.status_throttled < throttled_polls {
        q.status_throttled += 1;
        return Err(too_many_requests(Some("1"), ctx));
    }
    q.status_reads += 1;
    let q = q.clone();
    drop(st);
    let status = status_of(shared, &q);
    Ok(graph_json(200, &render(&q, status), ctx))
}

fn strings(body: &Map<String, Value>, key: &str) -> Vec<String> {
    body.get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_lowercase)
                .collect()
        })
        .unwrap_or_default()
}

fn records_of(
    shared: &Shared,
    caller: &Caller,
    req: &GraphReq<'_>,
    id: &str,
    q: &Query,
    ctx: &Ctx,
) -> R {
    let (query, log) = {
        let st = lock(&shared.state);
        let Some(query) = st.audit_queries.iter().find(|x| x.id == id).cloned() else {
            return Err(graph_error(
                404,
                "NotFound",
                "The audit log query was not found.",
                ctx,
            ));
        };
        (query, st.unified_audit_log.clone())
    };
    if status_of(shared, &query) != "succeeded" {
        return Err(bad_request(
            "BadRequest",
            "The audit log query has not completed.",
            ctx,
        ));
    }
    let b = &query.body;
    let (users, ops, types, services) = (
        strings(b, "userPrincipalNameFilters"),
        strings(b, "operationFilters"),
        strings(b, "recordTypeFilters"),
        strings(b, "serviceFilters"),
    );
    let since = b
        .get("filterStartDateTime")
        .and_then(Value::as_str)
        .unwrap_or("");
    let until = b
        .get("filterEndDateTime")
        .and_then(Value::as_str)
        .unwrap_or("");
    let field = |v: &Value, k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_lowercase()
    };
    let items: Vec<Value> = log
        .into_iter()
        .filter(|r| {
            let time = r
                .get("createdDateTime")
                .and_then(Value::as_str)
                .unwrap_or("");
            let in_window = time.get(..19) >= since.get(..19) && time.get(..19) <= until.get(..19);
            in_window
                && (users.is_empty() || users.contains(&field(r, "userPrincipalName")))
                && (ops.is_empty() || ops.contains(&field(r, "operation")))
                && (types.is_empty() || types.contains(&field(r, "auditLogRecordType")))
                && (services.is_empty() || services.contains(&field(r, "service")))
                && workload_allowed(
                    caller,
                    r.get("service").and_then(Value::as_str).unwrap_or(""),
                )
        })
        .collect();
    let path = format!("/security/auditLog/queries/{id}/records");
    let spec = PageSpec {
        version: req.version,
        path: &path,
        context: format!("security/auditLog/queries('{id}')/records"),
        default_top: shared.settings().options.graph_page_size.min(1000),
        max_top: 1000,
        cap: Some(shared.settings().options.graph_page_size),
    };
    Ok(graph_json(200, &page(items, q, &spec, ctx)?, ctx))
}
