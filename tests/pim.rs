//! Issue 10 item 5: removing a PIM-managed role. `DELETE roleAssignments/{id}` left the
//! user's eligible assignment in place (they could re-activate the role) and is not how PIM
//! removes an assignment it manages. These tests run the real binary against the contoso
//! emulator, where Lena Fischer (the compromised account) holds Global Administrator
//! actively and Privileged Role Administrator as an attacker-added eligible assignment.

use m365guard::graph::{ApiError, GraphClient};
use m365guard_emulator::{Emulator, Grants, Licences, WriteOp};
use serde_json::json;

use crate::harness::{self, Scenario};

const LENA: &str = "lena.fischer@contoso.com";
const LENA_ID: &str = "1d2e3f4a-5b6c-4d7e-8f9a-0b1c2d3e4f5a";
const GLOBAL_ADMIN: &str = "62e90394-69f5-4237-9190-012177145e10";
const PRIVILEGED_ROLE_ADMIN: &str = "e8611ab8-c189-46e8-94e1-60213ab1f814";
const ASSIGNMENT_REQUESTS: &str = "/v1.0/roleManagement/directory/roleAssignmentScheduleRequests";
const ELIGIBILITY_REQUESTS: &str = "/v1.0/roleManagement/directory/roleEligibilityScheduleRequests";

fn lena_eligible(emu: &Emulator) -> Vec<String> {
    emu.state()
        .role_eligibilities
        .iter()
        .filter(|a| a.principal_id == LENA_ID)
        .map(|a| a.role_definition_id.clone())
        .collect()
}

fn lena_active(emu: &Emulator) -> Vec<String> {
    emu.state()
        .role_assignments
        .iter()
        .filter(|a| a.principal_id == LENA_ID)
        .map(|a| a.role_definition_id.clone())
        .collect()
}

fn posts_to<'a>(log: &'a [WriteOp], path: &str) -> Vec<&'a WriteOp> {
    log.iter()
        .filter(|w| w.operation == "POST" && w.target == path)
        .collect()
}

/// The must-flag case: before the change, respond removed the active Global Administrator
/// assignment with DELETE, reported success, and left Lena eligible for Privileged Role
/// Administrator.
#[test]
fn respond_remove_admin_roles_removes_the_eligible_role_too() {
    let s = Scenario::contoso();
    let emu = &s.emu;
    assert_eq!(lena_eligible(emu), [PRIVILEGED_ROLE_ADMIN], "scenario");
    assert!(
        lena_active(emu).iter().any(|r| r == GLOBAL_ADMIN),
        "scenario"
    );

    let out = s.run(&["respond", "--user", LENA, "--remove-admin-roles", "--yes"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(lena_eligible(emu).is_empty(), "eligibility left behind");
    assert!(
        !lena_active(emu).iter().any(|r| r == GLOBAL_ADMIN),
        "active role left behind"
    );

    let log = s.writes();
    let eligibility = posts_to(&log, ELIGIBILITY_REQUESTS);
    assert_eq!(eligibility.len(), 1, "{log:#?}");
    let body = &eligibility[0].body;
    assert_eq!(body["action"], "adminRemove");
    assert_eq!(body["principalId"], LENA_ID);
    assert_eq!(body["roleDefinitionId"], PRIVILEGED_ROLE_ADMIN);
    assert_eq!(body["directoryScopeId"], "/");
    assert_eq!(eligibility[0].status, 201);
    // The tenant has PIM: the active assignment is removed the way PIM removes it.
    let active = posts_to(&log, ASSIGNMENT_REQUESTS);
    assert_eq!(active.len(), 1, "{log:#?}");
    assert_eq!(active[0].body["action"], "adminRemove");
    assert_eq!(active[0].body["roleDefinitionId"], GLOBAL_ADMIN);
    // No DELETE of a role assignment (respond's other DELETE is the attacker's method).
    assert!(
        !log.iter()
            .any(|w| w.operation == "DELETE" && w.target.contains("/roleAssignments/")),
        "{log:#?}"
    );

    // The audit log names the new action and its verified outcome.
    let line = s
        .audit()
        .into_iter()
        .find(|l| l["action"] == "remove_role_eligibility")
        .expect("remove_role_eligibility audited");
    assert_eq!(line["outcome"], "applied", "{line}");
}

/// Without Entra ID P2 there is no PIM: no eligibility to remove, and the active
/// assignment goes with DELETE (the schedule read answers AadPremiumLicenseRequired).
#[test]
fn without_pim_the_active_role_is_removed_with_delete() {
    let s = Scenario::contoso();
    s.emu.set_licences(Licences {
        p1: true,
        p2: false,
    });
    let out = s.run(&["respond", "--user", LENA, "--remove-admin-roles", "--yes"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let log = s.writes();
    assert!(
        log.iter().any(|w| w.operation == "DELETE"
            && w.target
                .starts_with("/v1.0/roleManagement/directory/roleAssignments/")),
        "{log:#?}"
    );
    assert!(posts_to(&log, ASSIGNMENT_REQUESTS).is_empty(), "{log:#?}");
    assert!(posts_to(&log, ELIGIBILITY_REQUESTS).is_empty(), "{log:#?}");
    assert!(!lena_active(&s.emu).iter().any(|r| r == GLOBAL_ADMIN));
}

/// The emulator holds the schedule-request endpoints to the documented rules: what
/// m365guard sends is accepted, a removal of something not held is
/// `400 RoleAssignmentDoesNotExist`, a body without the required properties is refused, a
/// token without a RoleManagement/RoleEligibilitySchedule write permission gets 403, and a
/// plain DELETE of the active assignment leaves the eligibility in place.
#[test]
fn schedule_requests_are_held_to_the_documented_rules() {
    let emu = harness::start();
    let (tokens, agent) = harness::emulator_tokens(&emu);
    let graph = GraphClient::new(&tokens, agent);
    let remove = |principal: &str, role: &str| {
        json!({"action": "adminRemove", "principalId": principal, "roleDefinitionId": role,
               "directoryScopeId": "/", "justification": "test"})
    };
    let code = |r: Result<_, ApiError>| match r {
        Err(ApiError::Status { status, code, .. }) => format!("{status} {code}"),
        Err(ApiError::Forbidden { code, .. }) => format!("403 {code}"),
        Err(other) => format!("{other}"),
        Ok(_) => "ok".to_owned(),
    };
    // Not eligible for Global Administrator: nothing to remove.
    assert_eq!(
        code(graph.write(
            "POST",
            ELIGIBILITY_REQUESTS,
            Some(&remove(LENA_ID, GLOBAL_ADMIN)),
            "p"
        )),
        "400 RoleAssignmentDoesNotExist"
    );
    // Required properties.
    let no_principal =
        json!({"action": "adminRemove", "roleDefinitionId": GLOBAL_ADMIN, "directoryScopeId": "/"});
    assert_eq!(
        code(graph.write("POST", ASSIGNMENT_REQUESTS, Some(&no_principal), "p")),
        "400 BadRequest"
    );
    let no_scope =
        json!({"action": "adminRemove", "principalId": LENA_ID, "roleDefinitionId": GLOBAL_ADMIN});
    assert_eq!(
        code(graph.write("POST", ASSIGNMENT_REQUESTS, Some(&no_scope), "p")),
        "400 BadRequest"
    );
    let bad_action = json!({"action": "remove", "principalId": LENA_ID, "roleDefinitionId": GLOBAL_ADMIN, "directoryScopeId": "/"});
    assert_eq!(
        code(graph.write("POST", ASSIGNMENT_REQUESTS, Some(&bad_action), "p")),
        "400 BadRequest"
    );
    // A plain DELETE of the active Global Administrator assignment leaves Lena eligible
    // for Privileged Role Administrator: the back door this issue is about.
    let id = emu
        .state()
        .role_assignments
        .iter()
        .find(|a| a.principal_id == LENA_ID && a.role_definition_id == GLOBAL_ADMIN)
        .unwrap()
        .id
        .clone();
    let path = format!("/v1.0/roleManagement/directory/roleAssignments/{id}");
    assert_eq!(code(graph.write("DELETE", &path, None, "p")), "ok");
    assert_eq!(lena_eligible(&emu), [PRIVILEGED_ROLE_ADMIN]);
    // What m365guard sends removes it (201, status Revoked).
    let reply = graph
        .write(
            "POST",
            ELIGIBILITY_REQUESTS,
            Some(&remove(LENA_ID, PRIVILEGED_ROLE_ADMIN)),
            "p",
        )
        .unwrap();
    assert_eq!(reply.status, 201);
    assert!(lena_eligible(&emu).is_empty());
    // Read permission only: 403.
    let mut grants = Grants::read_only();
    grants.directory_roles.push(PRIVILEGED_ROLE_ADMIN.into());
    emu.set_grants(grants);
    let (tokens, agent) = harness::emulator_tokens(&emu);
    let graph = GraphClient::new(&tokens, agent);
    assert_eq!(
        code(graph.write(
            "POST",
            ELIGIBILITY_REQUESTS,
            Some(&remove(LENA_ID, PRIVILEGED_ROLE_ADMIN)),
            "p"
        )),
        "403 Authorization_RequestDenied"
    );
}

/// A finding about an eligible assignment (`guest_in_privileged_role`, `resource_type`
/// `role_eligibility`) is planned as `remove_role_eligibility` (it used to be refused with
/// "eligible PIM assignments are removed in PIM, not here"), and applying it removes the
/// eligibility through PIM.
#[test]
fn a_guest_eligibility_finding_is_fixed_by_removing_the_eligibility() {
    const GUEST: &str = "a1b2c3d4-e5f6-4789-8abc-def012345601";
    let s = Scenario::contoso();
    {
        let mut st = s.emu.state();
        let mut eligible = st.role_eligibilities[0].clone();
        eligible.id = "guest-pra-eligible-1-e".into();
        eligible.principal_id = GUEST.into();
        eligible.role_definition_id = PRIVILEGED_ROLE_ADMIN.into();
        st.role_eligibilities.push(eligible);
    }
    let plan = s.plan(&["--rule", "guest_in_privileged_role"]);
    let action = plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["target"]["id"] == "guest-pra-eligible-1-e")
        .unwrap_or_else(|| panic!("not planned: {plan:#}"));
    assert_eq!(action["kind"], "remove_role_eligibility", "{action}");
    assert_eq!(action["target"]["kind"], "role_eligibility", "{action}");

    let out = s.apply(&[]);
    assert!(
        !s.emu
            .state()
            .role_eligibilities
            .iter()
            .any(|a| a.principal_id == GUEST),
        "{}\n{}",
        out.stdout,
        out.stderr
    );
    let log = s.writes();
    let sent = posts_to(&log, ELIGIBILITY_REQUESTS);
    assert!(
        sent.iter()
            .any(|w| w.body["principalId"] == GUEST && w.status == 201),
        "{log:#?}"
    );
}
