//! Graph and Exchange read shapes, paging, $batch.
mod common;

use std::collections::HashSet;

use common::*;
use serde_json::{json, Value};

#[test]
fn users_paging_follows_nextlink_to_the_end_without_duplicates() {
    let emu = start();
    let t = token(&emu, GRAPH_SCOPE);
    let sel = "$select=id,userPrincipalName,displayName,accountEnabled,userType,signInActivity,assignedLicenses";
    let first = get(&emu, &t, &format!("/v1.0/users?{sel}&$top=2"));
    assert_eq!(first.status, 200);
    assert!(first
        .header("Content-Type")
        .unwrap()
        .starts_with("application/json;odata.metadata=minimal"));
    assert!(first.header("request-id").is_some());
    let v = first.json();
    assert_eq!(v["@odata.context"], format!("{}/v1.0/$metadata#users(id,userPrincipalName,displayName,accountEnabled,userType,signInActivity,assignedLicenses)", emu.base_url));
    let next = v["@odata.nextLink"].as_str().unwrap();
    assert!(
        next.starts_with(&emu.base_url) && next.contains("$skiptoken=") && next.contains("$top=2"),
        "{next}"
    );

    let (items, pages) = collect_all(&emu, &t, &format!("/v1.0/users?{sel}&$top=2"));
    let ids: HashSet<&str> = items.iter().map(|u| u["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), items.len(), "no duplicates");
    assert_eq!(items.len(), emu.state().users.len());
    assert_eq!(pages, items.len().div_ceil(2));
    // Shapes: Member/Guest capitalised, signInActivity omitted (not null) when never signed in.
    let fixture_user = &fixture("users.page1.json")["value"][0];
    let dana = items.iter().find(|u| u["id"] == DANA).unwrap();
    assert_eq!(keys(dana), keys(fixture_user));
    assert_eq!(
        keys(&dana["signInActivity"]),
        keys(&fixture_user["signInActivity"])
    );
    assert!(items.iter().any(|u| u["userType"] == "Guest"));
    let svc = items
        .iter()
        .find(|u| u["userPrincipalName"] == "svc-scanner@contoso.onmicrosoft.com")
        .unwrap();
    assert!(svc.get("signInActivity").is_none());

    // Default page size of the scenario (3), default property set without $select.
    let v = get(&emu, &t, "/v1.0/users").json();
    assert_eq!(v["value"].as_array().unwrap().len(), 3);
    assert!(
        v["value"][0].get("accountEnabled").is_none(),
        "non-default props only with $select"
    );
    assert!(v["value"][0].get("businessPhones").is_some());

    let r = get(&emu, &t, "/v1.0/users?$top=1000");
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["error"]["message"],
        fixture("error.400.invalid_page_size.json")["error"]["message"]
    );
    assert_eq!(get(&emu, &t, "/v1.0/users?$skiptoken=bogus").status, 400);
    // $count needs ConsistencyLevel.
    assert_eq!(get(&emu, &t, "/v1.0/users/$count").status, 400);
    let auth = format!("Bearer {t}");
    let r = request(
        &format!("{}/v1.0/users/$count", emu.base_url),
        "GET",
        &[("Authorization", &auth), ("ConsistencyLevel", "eventual")],
        b"",
    )
    .unwrap();
    assert_eq!(r.text(), emu.state().users.len().to_string());
    assert!(r.header("Content-Type").unwrap().starts_with("text/plain"));
    // Bad and unknown ids.
    assert_eq!(
        get(&emu, &t, "/v1.0/users/not-a-guid").json()["error"]["code"],
        "Request_BadRequest"
    );
    assert_eq!(
        get(&emu, &t, "/v1.0/users/00000000-dead-4bad-8bad-000000000000").status,
        404
    );
}

#[test]
fn registration_details_and_per_user_mfa() {
    let emu = start();
    let t = token(&emu, GRAPH_SCOPE);
    let (items, _) = collect_all(
        &emu,
        &t,
        "/v1.0/reports/authenticationMethods/userRegistrationDetails",
    );
    let fx = &fixture("userRegistrationDetails.page1.json")["value"][0];
    assert_eq!(keys(&items[0]), keys(fx));
    assert!(items
        .iter()
        .all(|u| u["userType"] == "member" || u["userType"] == "guest"));
    assert!(
        !items
            .iter()
            .any(|u| u["userPrincipalName"] == "former.employee@contoso.com"),
        "disabled users excluded"
    );
    let raj = items.iter().find(|u| u["id"] == RAJ).unwrap();
    assert_eq!(
        raj["isAdmin"], true,
        "member of a role-assignable group holding GA"
    );
    let r = get(&emu, &t, "/v1.0/reports/authenticationMethods/userRegistrationDetails?$filter=isMfaRegistered eq false");
    assert!(r.json()["value"]
        .as_array()
        .unwrap()
        .iter()
        .all(|u| u["isMfaRegistered"] == false));

    let v = get(
        &emu,
        &t,
        &format!("/beta/users/{LENA}/authentication/requirements"),
    )
    .json();
    assert_eq!(
        keys(&v),
        keys(&fixture("authentication.requirements.get.json"))
    );
    assert_eq!(v["perUserMfaState"], "enabled");
    assert_eq!(
        get(
            &emu,
            &t,
            &format!("/v1.0/users/{LENA}/authentication/requirements")
        )
        .status,
        400,
        "beta only"
    );
}

#[test]
fn policies_roles_risk_and_domains() {
    let emu = start();
    let t = token(&emu, GRAPH_SCOPE);
    let sd = get(
        &emu,
        &t,
        "/v1.0/policies/identitySecurityDefaultsEnforcementPolicy",
    )
    .json();
    assert_eq!(keys(&sd), keys(&fixture("securityDefaults.get.json")));
    let (ca, _) = collect_all(&emu, &t, "/v1.0/identity/conditionalAccess/policies");
    let fx = &fixture("conditionalAccess.policies.list.json")["value"][0];
    assert_eq!(keys(&ca[0]), keys(fx));
    assert_eq!(keys(&ca[0]["conditions"]), keys(&fx["conditions"]));
    assert_eq!(keys(&ca[0]["grantControls"]), keys(&fx["grantControls"]));

    let r = get(&emu, &t, "/v1.0/roleManagement/directory/roleAssignments?$filter=roleDefinitionId eq '62e90394-69f5-4237-9190-012177145e10'&$expand=principal");
    let v = r.json();
    assert!(v["@odata.context"]
        .as_str()
        .unwrap()
        .ends_with("roleAssignments(principal())"));
    let all = collect_all(&emu, &t, "/v1.0/roleManagement/directory/roleAssignments?$filter=roleDefinitionId%20eq%20'62e90394-69f5-4237-9190-012177145e10'&$expand=principal").0;
    assert_eq!(all.len(), 3);
    let types: HashSet<&str> = all
        .iter()
        .map(|a| a["principal"]["@odata.type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        HashSet::from([
            "#microsoft.graph.user",
            "#microsoft.graph.servicePrincipal",
            "#microsoft.graph.group"
        ])
    );
    let fx = &fixture("roleAssignments.expand-principal.json")["value"];
    let user_a = all.iter().find(|a| a["principalId"] == DANA).unwrap();
    assert_eq!(keys(user_a), keys(&fx[0]));
    assert_eq!(keys(&user_a["principal"]), keys(&fx[0]["principal"]));
    let group = all
        .iter()
        .find(|a| a["principal"]["@odata.type"] == "#microsoft.graph.group")
        .unwrap();
    let members = get(
        &emu,
        &t,
        &format!(
            "/v1.0/groups/{}/members",
            group["principalId"].as_str().unwrap()
        ),
    )
    .json();
    assert_eq!(members["value"][0]["id"], RAJ);
    let defs = collect_all(&emu, &t, "/v1.0/roleManagement/directory/roleDefinitions").0;
    assert_eq!(
        keys(&defs[0]),
        keys(&fixture("roleDefinitions.json")["value"][0])
    );
    let elig = collect_all(
        &emu,
        &t,
        "/v1.0/roleManagement/directory/roleEligibilityScheduleInstances",
    )
    .0;
    assert_eq!(
        keys(&elig[0]),
        keys(&fixture("roleEligibilityScheduleInstances.json")["value"][0])
    );

    let risky = collect_all(
        &emu,
        &t,
        "/v1.0/identityProtection/riskyUsers?$filter=riskState eq 'atRisk'",
    )
    .0;
    assert_eq!(risky.len(), 1);
    assert_eq!(
        keys(&risky[0]),
        keys(&fixture("riskyUsers.json")["value"][0])
    );
    assert_eq!(
        get(&emu, &t, "/v1.0/identityProtection/riskyUsers?$top=501").status,
        400
    );

    let org = get(
        &emu,
        &t,
        "/v1.0/organization?$select=id,displayName,verifiedDomains",
    )
    .json();
    assert_eq!(org["value"][0]["id"], TENANT);
    assert_eq!(
        keys(&org["value"][0]["verifiedDomains"][0]),
        keys(&fixture("organization.json")["value"][0]["verifiedDomains"][0])
    );
    let domains = get(&emu, &t, "/v1.0/domains").json();
    let d = domains["value"].as_array().unwrap();
    assert!(d
        .iter()
        .any(|x| x["id"] == "pending.contoso.org" && x["isVerified"] == false));
    assert_eq!(keys(&d[0]), keys(&fixture("domains.json")["value"][0]));
    let signins = get(
        &emu,
        &t,
        &format!("/v1.0/auditLogs/signIns?$filter=userId eq '{LENA}'&$top=1"),
    )
    .json();
    assert_eq!(
        keys(&signins["value"][0]),
        keys(&fixture("signIns.json")["value"][0])
    );
}

#[test]
fn inbox_rules_graph_hides_hidden_rules_exchange_shows_them() {
    let emu = start();
    let t = token(&emu, GRAPH_SCOPE);
    let v = get(
        &emu,
        &t,
        &format!("/v1.0/users/{LENA}/mailFolders/inbox/messageRules"),
    )
    .json();
    let rules = v["value"].as_array().unwrap();
    let names: Vec<&str> = rules
        .iter()
        .map(|r| r["displayName"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["Remove newsletters", ".", "Copy to partner"]);
    let fx = fixture("messageRules.list.json");
    for (got, want) in rules.iter().zip(fx["value"].as_array().unwrap()) {
        assert_eq!(
            got["conditions"]
                .as_object()
                .unwrap()
                .keys()
                .collect::<Vec<_>>(),
            want["conditions"]
                .as_object()
                .unwrap()
                .keys()
                .collect::<Vec<_>>()
        );
        assert_eq!(
            keys(&got["actions"]),
            keys(&want["actions"]),
            "only set actions serialised"
        );
    }
    assert_eq!(rules[1]["actions"], fx["value"][1]["actions"]);
    // moveToFolder is a folder id that resolves to RSS Feeds.
    let folder_id = rules[0]["actions"]["moveToFolder"].as_str().unwrap();
    let f = get(
        &emu,
        &t,
        &format!("/v1.0/users/{LENA}/mailFolders/{folder_id}"),
    )
    .json();
    assert_eq!(f["displayName"], "RSS Feeds");
    assert_eq!(keys(&f), keys(&fixture("mailFolder.get.json")));
    assert_eq!(
        get(
            &emu,
            &t,
            &format!("/v1.0/users/{LENA}/mailFolders/rssfeeds")
        )
        .json()["id"],
        folder_id
    );
    let visible = get(&emu, &t, &format!("/v1.0/users/{LENA}/mailFolders?$top=50")).json()["value"]
        .as_array()
        .unwrap()
        .len();
    let all = get(
        &emu,
        &t,
        &format!("/v1.0/users/{LENA}/mailFolders?includeHiddenFolders=true&$top=50"),
    )
    .json()["value"]
        .as_array()
        .unwrap()
        .len();
    assert!(all > visible);
    // A user without an Exchange Online mailbox.
    let r = get(
        &emu,
        &t,
        "/v1.0/users/svc-scanner@contoso.onmicrosoft.com/mailFolders/inbox/messageRules",
    );
    assert_eq!(r.status, 404);
    assert_eq!(
        r.json(),
        fixture("error.404.MailboxNotEnabledForRESTAPI.json")
    );

    let x = token(&emu, EXO_SCOPE);
    let r = exo(
        &emu,
        &x,
        "Get-InboxRule",
        json!({"Mailbox": "lena.fischer@contoso.com", "IncludeHidden": true}),
    );
    assert_eq!(r.status, 200);
    let v = r.json();
    let names: Vec<&str> = v["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["Name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"..") && names.contains(&"Junk E-Mail Rule"),
        "{names:?}"
    );
    let evil = v["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["Name"] == ".")
        .unwrap();
    let fx = &fixture("exo.get-inboxrule.json")["value"][0];
    for k in keys(fx) {
        assert!(evil.get(&k).is_some(), "missing {k}");
    }
    assert_eq!(
        evil["ForwardTo"],
        json!(["\"mallory@evil-mail.example\" [SMTP:mallory@evil-mail.example]"])
    );
    assert!(evil["RuleIdentity"].is_u64());
    assert_eq!(
        evil["Identity"],
        format!("lena.fischer\\{}", evil["RuleIdentity"])
    );
    let hidden = v["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["Name"] == "..")
        .unwrap();
    assert_eq!(
        hidden["MoveToFolder"],
        "lena.fischer:\\Conversation History"
    );
    // Without -IncludeHidden the hidden ones disappear.
    let v = exo(
        &emu,
        &x,
        "Get-InboxRule",
        json!({"Mailbox": "lena.fischer@contoso.com"}),
    )
    .json();
    assert_eq!(v["value"].as_array().unwrap().len(), 3);
}

#[test]
fn get_mailbox_shape_paging_and_select() {
    let emu = start();
    let x = token(&emu, EXO_SCOPE);
    let r = exo(&emu, &x, "Get-Mailbox", json!({"ResultSize": "Unlimited"}));
    assert_eq!(r.status, 200);
    let text = r.text();
    // Microsoft's member order: context, warnings type, warnings, value; sidecars before values.
    let pos = |s: &str| text.find(s).unwrap_or_else(|| panic!("{s} missing"));
    assert!(pos("@odata.context") < pos("adminapi.warnings@odata.type"));
    assert!(pos("\"@adminapi.warnings\"") < pos("\"value\""));
    assert!(pos("\"EmailAddresses@odata.type\"") < pos("\"EmailAddresses\":"));
    assert!(pos("\"Guid@data.type\"") < pos("\"Guid\":"));
    let v = r.json();
    assert_eq!(v["@adminapi.warnings"], json!([]));
    let mbx = v["value"].as_array().unwrap();
    let lena = mbx
        .iter()
        .find(|m| m["UserPrincipalName"] == "lena.fischer@contoso.com")
        .unwrap();
    assert_eq!(
        lena["ForwardingSmtpAddress"],
        "smtp:lena.backup@freemail.example"
    );
    assert_eq!(lena["DeliverToMailboxAndForward"], true);
    assert_eq!(lena["ExternalDirectoryObjectId"], LENA);
    assert_eq!(
        keys(lena),
        keys(&fixture("exo.get-mailbox.page1.json")["value"][1])
    );
    let raj = mbx
        .iter()
        .find(|m| m["ExternalDirectoryObjectId"] == RAJ)
        .unwrap();
    assert_eq!(raj["ForwardingAddress"], "dana.whitfield");
    assert!(mbx
        .iter()
        .any(|m| m["RecipientTypeDetails"] == "DiscoveryMailbox"
            && m["ExternalDirectoryObjectId"] == ""));

    // Paging with Prefer: odata.maxpagesize, following the nextLink with the same body.
    let body = json!({"ResultSize": "Unlimited"});
    let mut url = emu.invoke_command_url();
    let mut seen = Vec::new();
    loop {
        let r = exo_at(
            &url,
            &x,
            "Get-Mailbox",
            body.clone(),
            &[("Prefer", "odata.maxpagesize=2")],
        )
        .unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
        let v = r.json();
        assert_eq!(v["@adminapi.warnings"], json!([]), "paged, not truncated");
        seen.extend(
            v["value"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["Guid"].as_str().unwrap().to_owned()),
        );
        match v["@odata.nextLink"].as_str() {
            Some(n) => url = n.to_owned(),
            None => break,
        }
    }
    assert_eq!(seen.len(), mbx.len());
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), seen.len());

    // ResultSize smaller than the result set → truncated: nextLink + a warning.
    let v = exo(&emu, &x, "Get-Mailbox", json!({"ResultSize": 2})).json();
    assert_eq!(v["value"].as_array().unwrap().len(), 2);
    assert!(v["@odata.nextLink"].is_string());
    assert_eq!(
        v["@adminapi.warnings"],
        fixture("exo.get-mailbox.truncated.json")["@adminapi.warnings"]
    );

    // $select limits properties (sidecars follow their property).
    let r = exo_at(
        &format!(
            "{}?$select=UserPrincipalName,Guid",
            emu.invoke_command_url()
        ),
        &x,
        "Get-Mailbox",
        json!({}),
        &[],
    )
    .unwrap();
    assert_eq!(
        keys(&r.json()["value"][0]),
        vec![
            "Guid",
            "Guid@data.type",
            "Guid@odata.type",
            "UserPrincipalName"
        ]
    );

    // Identity, RecipientTypeDetails filter, errors.
    let v = exo(
        &emu,
        &x,
        "Get-Mailbox",
        json!({"Identity": "lena.fischer@contoso.com"}),
    )
    .json();
    assert_eq!(v["value"].as_array().unwrap().len(), 1);
    let v = exo(
        &emu,
        &x,
        "Get-Mailbox",
        json!({"RecipientTypeDetails": ["SharedMailbox"]}),
    )
    .json();
    assert_eq!(v["value"][0]["UserPrincipalName"], "finance@contoso.com");
    let r = exo(
        &emu,
        &x,
        "Get-Mailbox",
        json!({"Identity": "nobody@contoso.com"}),
    );
    assert_eq!(r.status, 404);
    let v = r.json();
    assert_eq!(
        keys(&v["error"]),
        keys(&fixture("exo.error.notfound.json")["error"])
    );
    assert!(v["error"]["details"][0]["message"]
        .as_str()
        .unwrap()
        .starts_with(
            "Ex6F9304|Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException|"
        ));
    let r = exo(&emu, &x, "Get-Mailbox", json!({"NoSuchParameter": 1}));
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["error"]["innererror"]["internalexception"]["message"],
        fixture("exo.error.400.unknown-parameter.json")["error"]["innererror"]["internalexception"]
            ["message"]
    );

    let v = exo(&emu, &x, "Get-HostedOutboundSpamFilterPolicy", json!({})).json();
    assert_eq!(
        keys(&v["value"][0]),
        keys(&fixture("exo.get-hostedoutboundspamfilterpolicy.json")["value"][0])
    );
    let v = exo(&emu, &x, "Get-BlockedSenderAddress", json!({})).json();
    assert_eq!(
        keys(&v["value"][0]),
        keys(&fixture("exo.get-blockedsenderaddress.json")["value"][0])
    );
    assert_eq!(
        exo(&emu, &x, "Get-RemoteDomain", json!({"Identity": "Default"})).json()["value"][0]
            ["AutoForwardEnabled"],
        true
    );
}

#[test]
fn batch_shuffles_limits_and_fails_dependencies() {
    let emu = start();
    let t = token(&emu, GRAPH_SCOPE);
    let reqs: Vec<Value> = (0..8).map(|i| json!({"id": format!("{i}"), "method": "GET", "url": format!("/users/{DANA}?$select=id")})).collect();
    let v = graph(
        &emu,
        &t,
        "POST",
        "/v1.0/$batch",
        Some(&json!({"requests": reqs})),
    )
    .json();
    let ids: Vec<&str> = v["responses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 8);
    assert_ne!(
        ids,
        (0..8)
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        "responses are shuffled"
    );
    assert!(v["responses"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["status"] == 200));

    let too_many: Vec<Value> = (0..21)
        .map(|i| json!({"id": format!("{i}"), "method": "GET", "url": "/users"}))
        .collect();
    let r = graph(
        &emu,
        &t,
        "POST",
        "/v1.0/$batch",
        Some(&json!({"requests": too_many})),
    );
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["error"]["message"],
        fixture("error.400.batch_too_many_requests.json")["error"]["message"]
    );

    let no_ct = json!({"requests": [{"id": "1", "method": "PATCH", "url": format!("/users/{LENA}"), "body": {"accountEnabled": false}}]});
    assert_eq!(
        graph(&emu, &t, "POST", "/v1.0/$batch", Some(&no_ct)).status,
        400
    );

    // Fixture request: dependency fails (no permission to disable) → 424.
    let mut g = m365guard_emulator::Grants::read_only();
    g.graph.push("User.RevokeSessions.All".into());
    emu.set_grants(g);
    let weak = token(&emu, GRAPH_SCOPE);
    let v = graph(
        &emu,
        &weak,
        "POST",
        "/v1.0/$batch",
        Some(&fixture("batch.request.json")),
    )
    .json();
    let by_id = |id: &str| {
        v["responses"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(by_id("3")["status"], 403);
    assert_eq!(by_id("4")["status"], 424);
    assert_eq!(
        by_id("4")["body"]["error"]["code"],
        fixture("batch.response.failed-dependency.json")["responses"][1]["body"]["error"]["code"]
    );
    assert_eq!(by_id("5")["status"], 404);
    assert_eq!(by_id("1")["status"], 200);
    assert!(by_id("1")["body"]["value"].is_array());
}

/// A tenant written by m365guard's synthetic generator (an excerpt, see testdata/README.md)
/// is served whole: users, guests, shared and forwarding mailboxes, every rule — including
/// two rules of one mailbox with the same name, and a hidden one — group and PIM roles,
/// restricted senders and risky users. This is how benchmarks get their large tenants.
#[test]
fn synthetic_snapshot_is_served_whole() {
    let snap: Value = serde_json::from_str(&testdata("synthetic-excerpt.json")).unwrap();
    let count = |path: &[&str]| {
        path.iter()
            .fold(&snap, |v, k| &v[*k])
            .as_array()
            .unwrap()
            .len()
    };
    let cfg = m365guard_emulator::EmulatorConfig::from_snapshot_value(&snap).unwrap();
    {
        let st = &cfg.tenant;
        assert_eq!(st.users.len(), count(&["users"]));
        assert!(st.users.iter().any(|u| u.user_type == "Guest"));
        // Plus the organisation's discovery mailbox.
        assert_eq!(st.mailboxes.len(), count(&["mailboxes"]) + 1);
        let user_mailboxes = st
            .mailboxes
            .iter()
            .filter(|m| m.recipient_type_details == "UserMailbox")
            .count();
        let rules: usize = st.mailboxes.iter().map(|m| m.rules.len()).sum();
        // Plus the built-in junk rule of every user mailbox.
        assert_eq!(rules, count(&["inbox_rules"]) + user_mailboxes);
        assert!(st
            .mailboxes
            .iter()
            .any(|m| m.recipient_type_details == "SharedMailbox"));
        assert!(st
            .mailboxes
            .iter()
            .any(|m| m.forwarding_smtp_address.as_deref() == Some("u1f00d5@gmail.com")));
        assert_eq!(st.role_assignments.len(), count(&["roles", "assignments"]));
        assert_eq!(
            st.role_eligibilities.len(),
            count(&["roles", "eligible_assignments"])
        );
        assert!(st.principals.iter().any(|p| !p.member_ids.is_empty()));
        assert_eq!(
            st.blocked_senders.len(),
            count(&["outbound_spam", "restricted_senders"])
        );
        assert_eq!(st.risky_users.len(), count(&["risky_users"]));
        assert!(st.risky_users.iter().any(|r| r.risk_level == "high"));
    }
    let emu = m365guard_emulator::spawn(cfg).unwrap();
    let x = token(&emu, EXO_SCOPE);
    let rules = |mailbox: &str, hidden: bool| -> Vec<Value> {
        let v = exo(
            &emu,
            &x,
            "Get-InboxRule",
            json!({"Mailbox": mailbox, "IncludeHidden": hidden}),
        )
        .json();
        v["value"].as_array().unwrap().clone()
    };
    // user72 has two "Newsletters" and two "Teams notifications" rules: four rules, not two.
    let named = |rs: &[Value], name: &str| rs.iter().filter(|r| r["Name"] == name).count();
    let user72 = rules("user72@contoso.com", false);
    assert_eq!(named(&user72, "Newsletters"), 2);
    assert_eq!(named(&user72, "Teams notifications"), 2);
    assert!(user72
        .iter()
        .any(|r| r["ForwardTo"] == json!(["\"u6a95a1@mail-archive-service.example\" [SMTP:u6a95a1@mail-archive-service.example]"])));
    // user98's "." rule (redirect to proton.me, delete) is hidden: only -IncludeHidden shows it.
    assert_eq!(named(&rules("user98@contoso.com", false), "."), 0);
    let all = rules("user98@contoso.com", true);
    let evil = all.iter().find(|r| r["Name"] == ".").unwrap();
    assert_eq!(
        evil["RedirectTo"],
        json!(["\"u547995@proton.me\" [SMTP:u547995@proton.me]"])
    );
    // The hiding rule's RSS Feeds target is the mailbox's well-known folder.
    let user13 = rules("user13@contoso.com", true);
    let hiding = user13.iter().find(|r| r["Name"] == "..").unwrap();
    assert_eq!(hiding["MoveToFolder"], "user13:\\RSS Feeds");
}
