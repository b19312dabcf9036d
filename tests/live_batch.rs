//! `GraphClient::batch` and `get_each` against the tenant emulator over real HTTP
//! (CONTRACT §9): answers matched by id whatever their order, per-item errors typed,
//! 424 for a failed dependency, per-item 429s resent alone after their `Retry-After`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use m365guard::auth::{RawSettings, Secret, Settings, TokenProvider};
use m365guard::graph::batch::BatchRequest;
use m365guard::graph::limits::Limits;
use m365guard::graph::{ApiError, GraphClient};
use m365guard_emulator::{spawn, Emulator, EmulatorConfig, Faults, Grants};

const LENA: &str = "1d2e3f4a-5b6c-4d7e-8f9a-0b1c2d3e4f5a";
const NOBODY: &str = "00000000-dead-4bad-8bad-000000000000";

fn start() -> Emulator {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/emulator/scenarios/contoso.toml");
    spawn(EmulatorConfig::from_scenario_file(&path).unwrap()).unwrap()
}

fn tokens(emu: &Emulator) -> TokenProvider {
    let settings = Settings::validate(RawSettings {
        tenant: Some(emu.tenant_id()),
        client_id: Some(emu.client_id()),
        client_secret: Some(Secret::new(emu.client_secret().unwrap())),
        authority: Some(emu.base_url.clone()),
        graph_url: Some(emu.base_url.clone()),
        exchange_url: Some(emu.base_url.clone()),
    })
    .unwrap();
    TokenProvider::new(settings, m365guard::collect::agent())
}

fn user_ids(emu: &Emulator) -> Vec<String> {
    emu.state().users.iter().map(|u| u.id.clone()).collect()
}

fn batch_posts(emu: &Emulator, version: &str) -> usize {
    let path = format!("/{version}/$batch");
    emu.requests().iter().filter(|r| r.path == path).count()
}

#[test]
fn answers_are_matched_by_id_and_errors_stay_typed() {
    let emu = start();
    let tokens = tokens(&emu);
    let graph = GraphClient::new(&tokens, m365guard::collect::agent());
    let mut requests: Vec<BatchRequest> = user_ids(&emu)
        .iter()
        .take(17)
        .enumerate()
        .map(|(i, id)| BatchRequest::get(format!("u{i}"), format!("/users/{id}?$select=id")))
        .collect();
    requests.push(BatchRequest::get(
        "missing",
        format!("/users/{NOBODY}?$select=id"),
    ));
    let mut dependant = BatchRequest::get("dependant", format!("/users/{LENA}?$select=id"));
    dependant.depends_on = vec!["MISSING".into()];
    requests.push(dependant);
    let results = graph.batch("v1.0", &requests).unwrap();
    assert_eq!(results.len(), 19);
    // The emulator shuffles answers; each result is still the one for its request.
    for (req, result) in requests.iter().zip(&results).take(17) {
        let body = result.as_ref().unwrap();
        let id = body["id"].as_str().unwrap();
        assert!(req.url.contains(id), "{} got {id}", req.url);
    }
    match &results[17] {
        Err(ApiError::Status {
            endpoint,
            status: 404,
            code,
            request_id,
            ..
        }) => {
            assert_eq!(endpoint, &format!("GET /v1.0/users/{NOBODY}?$select=id"));
            assert_eq!(code, "Request_ResourceNotFound");
            assert!(!request_id.is_empty());
        }
        other => panic!("{other:?}"),
    }
    match &results[18] {
        Err(ApiError::Status {
            status: 424,
            code,
            message,
            ..
        }) => {
            assert_eq!(code, "FailedDependency");
            assert!(message.to_lowercase().contains("missing"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(batch_posts(&emu, "v1.0"), 1);
}

#[test]
fn a_forbidden_item_names_its_endpoint_and_permission() {
    let emu = start();
    let mut grants = Grants::full();
    grants.graph.retain(|g| !g.starts_with("Policy."));
    emu.set_grants(grants);
    let tokens = tokens(&emu);
    let graph = GraphClient::new(&tokens, m365guard::collect::agent());
    let req = BatchRequest::get("1", format!("/users/{LENA}/authentication/requirements"));
    let results = graph.batch("beta", &[req]).unwrap();
    let err = results.into_iter().next().unwrap().unwrap_err();
    match &err {
        ApiError::Forbidden {
            endpoint,
            permission,
            code,
            ..
        } => {
            assert_eq!(
                endpoint,
                &format!("GET /beta/users/{LENA}/authentication/requirements")
            );
            assert_eq!(permission, "Policy.Read.All");
            assert_eq!(code, "Authorization_RequestDenied");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn throttled_items_are_resent_alone_after_their_retry_after() {
    let emu = start();
    emu.set_faults(Faults {
        batch_item_429_rate: 0.3,
        // Fractional, as Outlook sends it.
        retry_after: Some("0.25".into()),
        ..Faults::default()
    });
    let tokens = tokens(&emu);
    let graph = GraphClient::new(&tokens, m365guard::collect::agent());
    let ids: Vec<String> = user_ids(&emu).into_iter().take(20).collect();
    let requests: Vec<BatchRequest> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            BatchRequest::get(
                i.to_string(),
                format!("/users/{id}/authentication/requirements"),
            )
        })
        .collect();
    let started = Instant::now();
    let results = graph.batch("beta", &requests).unwrap();
    let rounds = batch_posts(&emu, "beta");
    assert!(rounds >= 2, "no item was throttled ({rounds} round)");
    // Every resend waited for the items' Retry-After.
    assert!(started.elapsed() >= Duration::from_millis(250) * (rounds as u32 - 1));
    for (id, result) in ids.iter().zip(&results) {
        let body = result.as_ref().unwrap_or_else(|e| panic!("{e}"));
        assert!(body["@odata.context"]
            .as_str()
            .unwrap()
            .contains(id.as_str()));
        assert!(body["perUserMfaState"].is_string());
    }
}

#[test]
fn throttled_items_without_retry_after_back_off_and_recover() {
    let emu = start();
    emu.set_faults(Faults {
        batch_item_429_rate: 0.15,
        retry_after: None,
        ..Faults::default()
    });
    let tokens = tokens(&emu);
    let graph = GraphClient::new(&tokens, m365guard::collect::agent());
    let ids = user_ids(&emu);
    let paths: Vec<String> = ids
        .iter()
        .map(|id| format!("/users/{id}/authentication/requirements"))
        .collect();
    let results = graph.get_each("beta", &paths);
    assert_eq!(results.len(), ids.len());
    for (id, r) in ids.iter().zip(&results) {
        let body = r.as_ref().unwrap_or_else(|e| panic!("{e}"));
        assert!(body["@odata.context"]
            .as_str()
            .unwrap()
            .contains(id.as_str()));
    }
    // 29 users: two batches, plus resends of the throttled items.
    assert!(batch_posts(&emu, "beta") > 2);
}

#[test]
fn more_than_twenty_items_are_refused_before_sending() {
    let emu = start();
    let tokens = tokens(&emu);
    let graph = GraphClient::new(&tokens, m365guard::collect::agent())
        .with_limits(Arc::new(Limits::new(4)));
    let requests: Vec<BatchRequest> = (0..21)
        .map(|i| BatchRequest::get(i.to_string(), format!("/users/{LENA}?$select=id")))
        .collect();
    let err = graph.batch("v1.0", &requests).unwrap_err();
    assert!(err.to_string().contains("at most 20"), "{err}");
    assert_eq!(batch_posts(&emu, "v1.0"), 0);
    // get_each splits the same work into batches of at most 20.
    let paths: Vec<String> = (0..45)
        .map(|_| format!("/users/{LENA}?$select=id"))
        .collect();
    let results = graph.get_each("v1.0", &paths);
    assert!(results.iter().all(Result::is_ok));
    assert_eq!(batch_posts(&emu, "v1.0"), 3);
}
