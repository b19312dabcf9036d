//! Issue 14, onboarding: `m365guard setup` prints the app registration from the one
//! permission table (manifest, az, Graph), and `setup --apply` creates it in the tenant
//! emulator after a device-code sign-in as an administrator — after which the created
//! app signs in with its GitHub federated credential and `doctor` says every source can
//! be collected; `--with-investigation` adds what `investigate` reads.

use std::path::Path;

use m365guard_emulator::device_code::{Answer, DeviceCodeOptions};
use m365guard_emulator::util::{b64url, now_epoch};
use m365guard_emulator::Emulator;
use serde_json::{json, Value};

use crate::harness::{self, assert_no_leaks, run, Out};

const GITHUB: &str = "contoso/guard:main";
const SUBJECT: &str = "repo:contoso/guard:ref:refs/heads/main";

fn setup(dir: &Path, args: &[&str]) -> Out {
    run(harness::m365guard(dir).arg("setup").args(args))
}

#[test]
fn setup_prints_three_forms_from_the_permission_table() {
    let dir = tempfile::tempdir().unwrap();
    let all = setup(dir.path(), &[]);
    assert_eq!(all.code, 0, "{}", all.stderr);
    for heading in [
        "## Entra app manifest",
        "## az CLI",
        "## Microsoft Graph requests",
    ] {
        assert!(all.stdout.contains(heading), "{heading}:\n{}", all.stdout);
    }
    // The manifest form alone is JSON: Graph and Exchange, every permission a Role.
    let manifest = setup(dir.path(), &["--format", "manifest"]);
    assert_eq!(manifest.code, 0, "{}", manifest.stderr);
    let v: Value = serde_json::from_str(&manifest.stdout).unwrap();
    let rra = v["requiredResourceAccess"].as_array().unwrap();
    let apps: Vec<&str> = rra
        .iter()
        .map(|r| r["resourceAppId"].as_str().unwrap())
        .collect();
    assert_eq!(
        apps,
        [
            "00000003-0000-0000-c000-000000000000",
            "00000002-0000-0ff1-ce00-000000000000"
        ]
    );
    assert!(rra
        .iter()
        .flat_map(|r| r["resourceAccess"].as_array().unwrap())
        .all(|a| a["type"] == "Role"));
    // Directory.Read.All (consent grants need it; it covers User.Read.All) and
    // Exchange.ManageAsApp by their app-role ids.
    assert!(manifest
        .stdout
        .contains("7ab1d382-f21e-4acd-a863-ba3e13f7da61"));
    assert!(manifest
        .stdout
        .contains("dc50a0fb-09a3-484d-be87-e023b12c6440"));
    // What a manifest cannot hold is said on stderr.
    assert!(
        manifest.stderr.contains("Global Reader"),
        "{}",
        manifest.stderr
    );

    // Read-only grants no write permission; --with-fix adds them.
    let read = setup(dir.path(), &["--format", "graph"]).stdout;
    let fix = setup(dir.path(), &["--with-fix", "--format", "graph"]).stdout;
    assert!(
        !read.contains("9e3f62cf-ca93-4989-b6ce-bf83c28f9fe8"),
        "RoleManagement.ReadWrite.Directory in read-only"
    );
    assert!(fix.contains("9e3f62cf-ca93-4989-b6ce-bf83c28f9fe8"));
    assert!(fix.contains("User Administrator"), "{fix}");
    assert!(
        fix.matches("/appRoleAssignments").count() > read.matches("/appRoleAssignments").count()
    );
}

#[test]
fn github_adds_the_federated_credential_to_every_form_and_bad_values_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    for format in ["az", "graph"] {
        let out = setup(dir.path(), &["--format", format, "--github", GITHUB]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert!(out.stdout.contains(SUBJECT), "{format}:\n{}", out.stdout);
        assert!(out
            .stdout
            .contains("https://token.actions.githubusercontent.com"));
        assert!(out.stdout.contains("api://AzureADTokenExchange"));
    }
    let manifest = setup(dir.path(), &["--format", "manifest", "--github", GITHUB]);
    assert!(manifest.stderr.contains(SUBJECT), "{}", manifest.stderr);
    let env = setup(
        dir.path(),
        &[
            "--format",
            "az",
            "--github",
            "contoso/guard:environment:prod",
        ],
    );
    assert!(
        env.stdout.contains("repo:contoso/guard:environment:prod"),
        "{}",
        env.stdout
    );

    let bad = setup(dir.path(), &["--github", "not-a-repo"]);
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    assert!(bad.stderr.contains("OWNER/REPO"), "{}", bad.stderr);
    let both = setup(dir.path(), &["--read-only", "--with-fix"]);
    assert_eq!(both.code, 2, "{}", both.stderr);
}

fn start() -> Emulator {
    let emu = harness::start();
    emu.set_device_code(DeviceCodeOptions {
        approve_after_polls: 2,
        interval: 1,
        ..DeviceCodeOptions::default()
    });
    emu
}

fn apply(emu: &Emulator, dir: &Path, extra: &[&str]) -> Out {
    run(harness::m365guard(dir)
        .args([
            "setup",
            "--apply",
            "--github",
            GITHUB,
            "--tenant",
            &emu.tenant_id(),
        ])
        .args(extra)
        .env("M365GUARD_AUTHORITY_HOST", &emu.base_url)
        .env("M365GUARD_GRAPH_URL", &emu.base_url))
}

/// `client id   …` from setup's stdout.
fn client_id(out: &Out) -> String {
    out.stdout
        .lines()
        .find_map(|l| l.strip_prefix("client id"))
        .map(|v| v.trim().to_owned())
        .unwrap_or_else(|| panic!("no client id in:\n{}", out.stdout))
}

/// The token a GitHub Actions job of `contoso/guard` on main presents (the emulator's
/// federated credential created by setup checks issuer, subject and audience).
fn github_token_file(dir: &Path) -> std::path::PathBuf {
    let now = now_epoch();
    let claims = json!({
        "iss": "https://token.actions.githubusercontent.com", "sub": SUBJECT,
        "aud": "api://AzureADTokenExchange", "nbf": now, "iat": now, "exp": now + 600,
        "jti": format!("setup-{now}"),
    });
    let token = format!(
        "{}.{}.{}",
        b64url(br#"{"typ":"JWT","alg":"RS256"}"#),
        b64url(claims.to_string().as_bytes()),
        b64url(b"signature")
    );
    let path = dir.join("github-token");
    std::fs::write(&path, token).unwrap();
    path
}

fn doctor(emu: &Emulator, dir: &Path, client_id: &str) -> Out {
    let token = github_token_file(dir);
    run(harness::m365guard(dir)
        .arg("doctor")
        .env("AZURE_TENANT_ID", emu.tenant_id())
        .env("AZURE_CLIENT_ID", client_id)
        .env("AZURE_FEDERATED_TOKEN_FILE", &token)
        .env("M365GUARD_AUTHORITY_HOST", &emu.base_url)
        .env("M365GUARD_GRAPH_URL", &emu.base_url)
        .env("M365GUARD_EXCHANGE_URL", &emu.base_url))
}

#[test]
fn apply_creates_the_app_and_doctor_then_says_every_source_can_be_collected() {
    let emu = start();
    // The first service principal and first grant meet a replica without the new app.
    emu.set_replication_lag(2);
    let dir = tempfile::tempdir().unwrap();
    let out = apply(&emu, dir.path(), &[]);
    assert_eq!(
        out.code, 0,
        "stdout:\n{}\nstderr:\n{}",
        out.stdout, out.stderr
    );
    assert!(
        out.stderr.contains("microsoft.com/devicelogin"),
        "{}",
        out.stderr
    );
    assert!(
        out.stdout
            .contains(&format!("tenant id   {}", emu.tenant_id())),
        "{}",
        out.stdout
    );
    assert_no_leaks([out.stdout.as_str(), out.stderr.as_str()], &[]);
    assert_eq!(
        out.stderr.matches("waiting for Entra to replicate").count(),
        2,
        "{}",
        out.stderr
    );
    let id = client_id(&out);
    let apps = emu.created_apps();
    assert_eq!(apps.len(), 1);
    assert_eq!(apps[0].app_id, id);
    assert_eq!(apps[0].federated_credentials[0]["subject"], SUBJECT);
    // The grants use the ids the tenant's resource service principals publish.
    assert!(!emu.created_grants().is_empty());
    // Before setup, this app could not sign in; now doctor is green with no secret at all.
    let d = doctor(&emu, dir.path(), &id);
    assert_eq!(d.code, 0, "stdout:\n{}\nstderr:\n{}", d.stdout, d.stderr);
    assert!(
        d.stdout.contains("every source can be collected"),
        "{}",
        d.stdout
    );
    assert!(d.stdout.contains("Global Reader"), "{}", d.stdout);
    assert!(d.stdout.contains("Exchange.ManageAsApp"), "{}", d.stdout);

    // Again: the app is reused and completed, nothing is duplicated.
    let grants = emu.created_grants().len();
    let again = apply(&emu, dir.path(), &[]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(client_id(&again), id);
    assert!(
        again.stderr.contains("reusing application"),
        "{}",
        again.stderr
    );
    assert!(again.stderr.contains("already granted"), "{}", again.stderr);
    assert!(again.stderr.contains("already trusts"), "{}", again.stderr);
    assert_eq!(emu.created_apps().len(), 1);
    assert_eq!(emu.created_grants().len(), grants);
}

#[test]
fn with_fix_completes_an_existing_read_only_app() {
    let emu = start();
    let dir = tempfile::tempdir().unwrap();
    let first = apply(&emu, dir.path(), &[]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let read_only = emu.created_grants().len();
    let fix = apply(&emu, dir.path(), &["--with-fix"]);
    assert_eq!(fix.code, 0, "{}", fix.stderr);
    assert_eq!(client_id(&fix), client_id(&first));
    assert!(emu.created_grants().len() > read_only);
    assert!(
        fix.stderr
            .contains("assigned directory role User Administrator"),
        "{}",
        fix.stderr
    );
    let d = doctor(&emu, dir.path(), &client_id(&fix));
    assert_eq!(d.code, 0, "{}\n{}", d.stdout, d.stderr);
    let fix_actions: Vec<&str> = d
        .stdout
        .lines()
        .skip_while(|l| !l.starts_with("FIX ACTION"))
        .skip(1)
        .take_while(|l| !l.is_empty())
        .collect();
    assert!(!fix_actions.is_empty(), "{}", d.stdout);
    assert!(
        fix_actions.iter().all(|l| !l.contains("MISSING")),
        "{}",
        d.stdout
    );
}

/// The rows of doctor's `INVESTIGATE (evidence source)` section.
fn investigation_rows(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .skip_while(|l| !l.starts_with("INVESTIGATE"))
        .skip(1)
        .take_while(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Issue #13: `setup --with-investigation` also grants what `investigate` reads
/// (IdentityRiskEvent.Read.All, AuditLogsQuery.Read.All, and for the message trace
/// Exchange.ManageAsApp with the role the table names first), through the emulator's
/// setup endpoints, which accept only app-role ids the resource service principal
/// publishes and role definitions the tenant has; before it, doctor names them missing.
#[test]
fn with_investigation_grants_what_investigate_reads() {
    let emu = start();
    let dir = tempfile::tempdir().unwrap();
    let first = apply(&emu, dir.path(), &[]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let before = investigation_rows(&doctor(&emu, dir.path(), &client_id(&first)).stdout);
    for source in ["risk_detections", "audit_events", "messages_sent"] {
        let row = before.iter().find(|l| l.contains(source)).unwrap();
        assert!(row.contains("MISSING"), "{row}");
    }
    let grants = emu.created_grants().len();
    let out = apply(&emu, dir.path(), &["--with-investigation"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(client_id(&out), client_id(&first), "the app is completed");
    assert_eq!(emu.created_grants().len(), grants + 2, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("assigned directory role Compliance Administrator"),
        "{}",
        out.stderr
    );
    let d = doctor(&emu, dir.path(), &client_id(&out));
    assert_eq!(d.code, 0, "{}\n{}", d.stdout, d.stderr);
    let after = investigation_rows(&d.stdout);
    assert_eq!(after.len(), 6, "{}", d.stdout);
    assert!(after.iter().all(|l| !l.contains("MISSING")), "{}", d.stdout);
    // The printed forms say what they were made for and carry the new permissions.
    let printed = setup(dir.path(), &["--with-investigation", "--format", "az"]).stdout;
    assert!(
        printed.contains("setup --read-only --with-investigation"),
        "{printed}"
    );
    let plain = setup(dir.path(), &["--format", "az"]).stdout;
    assert!(!plain.contains("Compliance Administrator"), "{plain}");
    assert!(printed.contains("Compliance Administrator"), "{printed}");
}

#[test]
fn a_declined_sign_in_or_an_admin_without_the_role_changes_nothing() {
    let emu = start();
    let dir = tempfile::tempdir().unwrap();
    emu.set_device_code(DeviceCodeOptions {
        approve_after_polls: 1,
        interval: 1,
        answer: Answer::Decline,
        ..DeviceCodeOptions::default()
    });
    let declined = apply(&emu, dir.path(), &[]);
    assert_ne!(declined.code, 0);
    assert!(declined.stderr.contains("declined"), "{}", declined.stderr);
    assert!(emu.created_apps().is_empty());

    // A user who holds no admin role signs in: Graph refuses, setup names the roles.
    let user = {
        let st = emu.state();
        st.users
            .iter()
            .find(|u| !st.role_assignments.iter().any(|a| a.principal_id == u.id))
            .unwrap()
            .user_principal_name
            .clone()
    };
    emu.set_device_code(DeviceCodeOptions {
        approve_after_polls: 0,
        interval: 1,
        user: Some(user),
        ..DeviceCodeOptions::default()
    });
    let refused = apply(&emu, dir.path(), &[]);
    assert_ne!(refused.code, 0);
    assert!(refused.stderr.contains("403"), "{}", refused.stderr);
    assert!(
        refused.stderr.contains("Privileged Role Administrator"),
        "{}",
        refused.stderr
    );
    assert!(emu.created_apps().is_empty());
    assert_no_leaks([refused.stdout.as_str(), refused.stderr.as_str()], &[]);
}

#[test]
fn polling_faster_than_the_interval_gets_slow_down_and_the_client_backs_off() {
    use m365guard::setup::device_code::{DeviceCodeError, SignIn};
    let emu = harness::start();
    emu.set_device_code(DeviceCodeOptions {
        approve_after_polls: 1,
        interval: 2,
        expires_in: 40,
        ..DeviceCodeOptions::default()
    });
    let agent = m365guard::http::agent();
    let tenant = emu.tenant_id();
    let sign_in = SignIn {
        agent: &agent,
        authority: &emu.base_url,
        tenant: &tenant,
        client_id: m365guard::setup::device_code::GRAPH_COMMAND_LINE_TOOLS,
    };
    // A client that never really waits: after its first poll, every poll is too fast.
    let mut asked = Vec::new();
    let mut shown = String::new();
    let result = sign_in.run(&mut |m| shown = m.to_owned(), &mut |d| {
        asked.push(d.as_secs())
    });
    assert!(shown.contains("enter the code"), "{shown}");
    assert!(
        matches!(result, Err(DeviceCodeError::Expired(40))),
        "{result:?}"
    );
    // The first poll is pending; the second comes too fast: slow_down, and from then on
    // 5 s more each time (RFC 8628 §3.5), until 40 s are spent.
    assert_eq!(asked, vec![2, 2, 7, 12, 17]);

    // An unknown public client cannot start the flow.
    let other = SignIn {
        client_id: "00000000-0000-0000-0000-000000000001",
        ..sign_in
    };
    let err = other.run(&mut |_| {}, &mut |_| {}).unwrap_err().to_string();
    assert!(err.contains("unauthorized_client"), "{err}");
}
