//! Groups and named locations as Microsoft documents them: `/members` lists direct members,
//! `/transitiveMembers` the flat nested list, an OData cast keeps one type, `$select` of an
//! unknown property and an unsupported cast are 400, an unknown group 404.
mod common;

use common::*;
use m365guard_emulator::{spawn, EmulatorConfig};
use serde_json::Value;

fn contoso() -> m365guard_emulator::Emulator {
    let cfg =
        EmulatorConfig::from_scenario_file(&manifest_dir().join("scenarios/contoso.toml")).unwrap();
    spawn(cfg).unwrap()
}

const EXEMPT: &str = "e1f2a3b4-c5d6-4e7f-8a9b-0c1d2e3f4a5b";
const SCANNERS: &str = "f2a3b4c5-d6e7-4f8a-9b0c-1d2e3f4a5b6c";
const LENA: &str = "1d2e3f4a-5b6c-4d7e-8f9a-0b1c2d3e4f5a";

fn ids(items: &[Value]) -> Vec<String> {
    let mut ids: Vec<String> = items
        .iter()
        .filter_map(|i| i["id"].as_str().map(str::to_owned))
        .collect();
    ids.sort();
    ids
}

#[test]
fn members_are_direct_and_transitive_members_are_flat() {
    let emu = contoso();
    let t = token(&emu, GRAPH_SCOPE);
    let (direct, _) = collect_all(&emu, &t, &format!("/v1.0/groups/{EXEMPT}/members"));
    assert_eq!(
        ids(&direct),
        [SCANNERS],
        "only the nested group is a direct member"
    );
    let (users, _) = collect_all(
        &emu,
        &t,
        &format!("/v1.0/groups/{EXEMPT}/transitiveMembers/microsoft.graph.user?$select=id&$top=1"),
    );
    assert!(ids(&users).contains(&LENA.to_owned()), "{users:?}");
    assert!(users
        .iter()
        .all(|u| u["@odata.type"] == "#microsoft.graph.user"));
    let (groups, _) = collect_all(
        &emu,
        &t,
        &format!(
            "/v1.0/groups/{EXEMPT}/transitiveMembers/microsoft.graph.group?$select=id,displayName"
        ),
    );
    assert_eq!(ids(&groups), [SCANNERS]);
    let (all, _) = collect_all(
        &emu,
        &t,
        &format!("/v1.0/groups/{EXEMPT}/transitiveMembers"),
    );
    assert_eq!(all.len(), users.len() + groups.len());
}

#[test]
fn refusals_match_the_service() {
    let emu = contoso();
    let t = token(&emu, GRAPH_SCOPE);
    let cast = get(
        &emu,
        &t,
        &format!("/v1.0/groups/{EXEMPT}/transitiveMembers/microsoft.graph.device"),
    );
    assert_eq!(cast.status, 400, "{}", cast.text());
    assert_eq!(cast.json()["error"]["code"], "Request_UnsupportedQuery");
    let select = get(
        &emu,
        &t,
        &format!("/v1.0/groups/{EXEMPT}/transitiveMembers/microsoft.graph.user?$select=id,signInActivity"),
    );
    assert_eq!(select.status, 400, "{}", select.text());
    let unknown = get(
        &emu,
        &t,
        "/v1.0/groups/0f0e0d0c-0b0a-4909-8807-060504030201/transitiveMembers/microsoft.graph.user",
    );
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.json()["error"]["code"], "Request_ResourceNotFound");
    let group = get(
        &emu,
        &t,
        &format!("/v1.0/groups/{EXEMPT}?$select=id,displayName"),
    )
    .json();
    assert_eq!(group["displayName"], "SG-MFA-Exempt");
}

#[test]
fn named_locations_are_served_and_need_policy_read_all() {
    let emu = contoso();
    let t = token(&emu, GRAPH_SCOPE);
    let (locations, _) = collect_all(
        &emu,
        &t,
        "/v1.0/identity/conditionalAccess/namedLocations?$top=1",
    );
    let hq = locations
        .iter()
        .find(|l| l["displayName"] == "Office-HQ")
        .unwrap();
    assert_eq!(hq["@odata.type"], "#microsoft.graph.ipNamedLocation");
    assert_eq!(hq["isTrusted"], true);
    assert!(locations
        .iter()
        .any(|l| l["@odata.type"] == "#microsoft.graph.countryNamedLocation"));

    let mut grants = m365guard_emulator::Grants::full();
    grants.graph.retain(|g| g != "Policy.Read.All");
    emu.set_grants(grants);
    let t = token(&emu, GRAPH_SCOPE);
    let r = get(&emu, &t, "/v1.0/identity/conditionalAccess/namedLocations");
    assert_eq!(r.status, 403, "{}", r.text());
}
