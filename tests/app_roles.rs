//! Issue 10 item 6: the directory roles the service really requires besides the Graph
//! permission. An app-only password reset needs at least User Administrator (and
//! Privileged Authentication Administrator for an admin target); the emulator answers 403
//! `Authorization_RequestDenied` without them and doctor names the missing role. A tenant
//! that refuses `Get-InboxRule` to Global Reader is reported with the roles that read it.

use m365guard::auth::{RawSettings, Secret, Settings, TokenProvider};
use m365guard::graph::{ApiError, GraphClient};
use m365guard_emulator::state::role_ids;
use m365guard_emulator::{spawn, Emulator, EmulatorConfig, Grants};
use serde_json::json;

use crate::harness;

const LENA_ID: &str = "1d2e3f4a-5b6c-4d7e-8f9a-0b1c2d3e4f5a";

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

/// Full fix grants, but only these directory roles.
fn with_roles(roles: &[&str]) -> Grants {
    Grants {
        directory_roles: roles.iter().map(|r| (*r).to_owned()).collect(),
        ..Grants::full()
    }
}

/// A user who holds no privileged role (not Lena, who is a Global Administrator).
fn non_admin(emu: &Emulator) -> String {
    let st = emu.state();
    st.users
        .iter()
        .find(|u| !st.user_holds_privileged_role(&u.id) && !u.on_premises_sync_enabled)
        .unwrap()
        .id
        .clone()
}

fn reset(emu: &Emulator, user_id: &str) -> Result<u16, String> {
    let tokens = tokens(emu);
    let graph = GraphClient::new(&tokens, m365guard::collect::agent());
    let body = json!({"passwordProfile": {"forceChangePasswordNextSignIn": true, "password": "Xy7!long-enough-Passw0rd"}});
    match graph.write("PATCH", &format!("/v1.0/users/{user_id}"), Some(&body), "p") {
        Ok(reply) => Ok(reply.status),
        Err(ApiError::Forbidden { code, .. }) => Err(format!("403 {code}")),
        Err(other) => Err(other.to_string()),
    }
}

fn doctor(emu: &Emulator) -> String {
    let dir = tempfile::tempdir().unwrap();
    let out = harness::run(harness::m365guard_against(emu, dir.path()).arg("doctor"));
    format!("{}\n{}", out.stdout, out.stderr)
}

fn row<'a>(text: &'a str, name: &str) -> &'a str {
    text.lines()
        .find(|l| l.split_whitespace().next() == Some(name))
        .unwrap_or_else(|| panic!("no row {name} in\n{text}"))
}

#[test]
fn password_reset_needs_a_directory_role_and_doctor_names_it() {
    let emu = harness::start();
    let user = non_admin(&emu);
    // The permission alone: refused as the service refuses it.
    emu.set_grants(with_roles(&[role_ids::GLOBAL_READER]));
    assert_eq!(
        reset(&emu, &user),
        Err("403 Authorization_RequestDenied".into())
    );
    let text = doctor(&emu);
    let line = row(&text, "reset_password");
    assert!(line.contains("MISSING"), "{line}");
    assert!(line.contains("User Administrator"), "{line}");

    // User Administrator: a non-admin's password can be reset, an admin's cannot.
    emu.set_grants(with_roles(&[
        role_ids::GLOBAL_READER,
        role_ids::USER_ADMINISTRATOR,
    ]));
    assert_eq!(reset(&emu, &user), Ok(204));
    assert_eq!(
        reset(&emu, LENA_ID),
        Err("403 Authorization_RequestDenied".into())
    );
    let text = doctor(&emu);
    let line = row(&text, "reset_password");
    assert!(line.contains("WARN"), "{line}");
    assert!(
        line.contains("Privileged Authentication Administrator"),
        "{line}"
    );

    // Privileged Authentication Administrator covers both.
    emu.set_grants(with_roles(&[
        role_ids::GLOBAL_READER,
        role_ids::PRIVILEGED_AUTHENTICATION_ADMINISTRATOR,
    ]));
    assert_eq!(reset(&emu, LENA_ID), Ok(204));
    assert!(row(&doctor(&emu), "reset_password").contains("OK"));
}

fn start_refusing_global_reader() -> Emulator {
    let path = harness::root().join("tests/emulator/scenarios/contoso.toml");
    let mut cfg = EmulatorConfig::from_scenario_file(&path).unwrap();
    cfg.options.global_reader_reads_inbox_rules = false;
    cfg.grants = Grants::read_only();
    spawn(cfg).unwrap()
}

#[test]
fn a_tenant_refusing_get_inbox_rule_to_global_reader_is_named_by_doctor() {
    // Default: Global Reader reads inbox rules.
    let emu = harness::start();
    emu.set_grants(Grants::read_only());
    assert!(row(&doctor(&emu), "inbox_rules").contains("OK"));

    // The tenant refuses it: doctor says which role reads inbox rules.
    let emu = start_refusing_global_reader();
    let text = doctor(&emu);
    let line = row(&text, "inbox_rules");
    assert!(line.contains("MISSING"), "{line}");
    assert!(line.contains("Exchange Recipient Administrator"), "{line}");
    assert!(line.contains("read scope"), "{line}");
    // Mailboxes themselves are still readable.
    assert!(row(&text, "mailboxes").contains("OK"), "{text}");

    // With Exchange Recipient Administrator the same tenant answers.
    let mut grants = Grants::read_only();
    grants
        .directory_roles
        .push(role_ids::EXCHANGE_RECIPIENT_ADMINISTRATOR.into());
    emu.set_grants(grants);
    assert!(row(&doctor(&emu), "inbox_rules").contains("OK"));
}
