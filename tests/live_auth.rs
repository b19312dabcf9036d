//! Sign-in methods end to end: the `m365guard collect` binary against the tenant emulator
//! over real HTTP on 127.0.0.1 — certificate (PS256 assertion, `x5t#S256`), workload
//! identity federation from a token file and from GitHub Actions OIDC (a fake loopback
//! OIDC endpoint), the credential precedence, m365guard.toml `[connection]`, and that no
//! secret, assertion, private key or access token reaches the output or the snapshot.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use m365guard::auth::{
    RawCredentials, RawSettings, Settings, TokenProvider, EXCHANGE_SCOPE, GRAPH_SCOPE,
};
use m365guard::snapshot::model::{Snapshot, SourceId, SourceState};
use m365guard_emulator::crypto::sign_jwt;
use m365guard_emulator::util::now_epoch;
use m365guard_emulator::{spawn, Emulator, EmulatorConfig};
use serde_json::json;

const GITHUB_ISSUER: &str = "https://token.actions.githubusercontent.com";
/// The subject of the contoso scenario's federated credential.
const PROD_SUBJECT: &str = "repo:contoso-sec/m365-guard:environment:prod";
const FEATURE_SUBJECT: &str = "repo:contoso-sec/m365-guard:ref:refs/heads/feature-x";
/// What the fake GitHub endpoint requires as bearer token.
const REQUEST_TOKEN: &str = "ghs_FakeRequestToken0123456789";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn testdata(name: &str) -> String {
    std::fs::read_to_string(root().join("tests/emulator/testdata").join(name)).unwrap()
}

/// The contoso scenario: its app has `test-app.cert.pem` registered and a federated
/// credential for GitHub (`PROD_SUBJECT`) whose tokens are signed by `test-issuer`.
fn start() -> Emulator {
    let cfg =
        EmulatorConfig::from_scenario_file(&root().join("tests/emulator/scenarios/contoso.toml"))
            .unwrap();
    spawn(cfg).unwrap()
}

/// A GitHub-shaped OIDC token for `sub`, signed by the scenario's trusted issuer key.
fn github_token(sub: &str) -> String {
    let now = now_epoch();
    let claims = json!({
        "iss": GITHUB_ISSUER, "sub": sub, "aud": "api://AzureADTokenExchange",
        "jti": format!("{sub}-{now}"), "nbf": now, "iat": now, "exp": now + 600,
        "repository": "contoso-sec/m365-guard",
    });
    sign_jwt(
        &testdata("test-issuer.key.pem"),
        "RS256",
        &json!({"typ": "JWT", "kid": "gh"}),
        &claims,
    )
    .unwrap()
}

/// Lines of a PEM body: none may ever appear in any output.
fn key_lines(pem: &str) -> Vec<String> {
    pem.lines()
        .filter(|l| !l.starts_with("-----") && l.len() > 20)
        .map(str::to_owned)
        .collect()
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
    snapshot_text: Option<String>,
}

impl Run {
    fn snapshot(&self) -> Snapshot {
        let text = self
            .snapshot_text
            .as_deref()
            .unwrap_or_else(|| panic!("no snapshot written; stderr:\n{}", self.stderr));
        m365guard::snapshot::io::parse(Path::new("snapshot.json"), text).unwrap()
    }

    /// Collection worked: only the not-yet-collected sources may be in error (exit 3).
    fn assert_collected(&self, emu: &Emulator) -> Snapshot {
        assert!(
            matches!(self.code, 0 | 3),
            "exit {}; stderr:\n{}",
            self.code,
            self.stderr
        );
        let snap = self.snapshot();
        assert_eq!(snap.tenant.id, emu.tenant_id());
        let users = &snap.sources[&SourceId::Users];
        assert_eq!(users.status, SourceState::Ok, "{:?}", users.reason);
        assert!(users.items > 0);
        let mailboxes = &snap.sources[&SourceId::Mailboxes];
        assert_eq!(mailboxes.status, SourceState::Ok, "{:?}", mailboxes.reason);
        snap
    }

    /// Nothing secret in stdout, stderr or the snapshot. Every JWT (client assertion,
    /// federated token, access token) starts with `eyJ` (base64url of `{"`).
    fn assert_no_secrets(&self, extra: &[&str]) {
        let all = format!(
            "{}\n{}\n{}",
            self.stdout,
            self.stderr,
            self.snapshot_text.as_deref().unwrap_or_default()
        );
        assert!(!all.contains("eyJ"), "a JWT leaked:\n{all}");
        assert!(!all.contains("PRIVATE KEY"), "{all}");
        for pem in ["test-app.key.pem", "test-issuer.key.pem"] {
            for line in key_lines(&testdata(pem)) {
                assert!(!all.contains(&line), "private key material leaked:\n{all}");
            }
        }
        for secret in extra {
            assert!(!all.contains(secret), "{secret:?} leaked:\n{all}");
        }
    }
}

/// `m365guard` pointed at the emulator, in a clean environment (no ambient credential)
/// plus `env`.
fn m365guard(emu: &Emulator, cwd: &Path, env: &[(&str, &str)]) -> std::process::Command {
    let mut cmd = crate::harness::command();
    for var in [
        "AZURE_TENANT_ID",
        "AZURE_CLIENT_ID",
        "AZURE_CLIENT_SECRET",
        "AZURE_CLIENT_CERTIFICATE_PATH",
        "AZURE_FEDERATED_TOKEN_FILE",
        "AZURE_AUTHORITY_HOST",
        "M365GUARD_AUTHORITY_HOST",
        "M365GUARD_GRAPH_URL",
        "M365GUARD_EXCHANGE_URL",
        "ACTIONS_ID_TOKEN_REQUEST_URL",
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
    ] {
        cmd.env_remove(var);
    }
    cmd.current_dir(cwd)
        // Whatever logging a future version adds must not print secrets either.
        .env("RUST_LOG", "trace")
        .env("M365GUARD_AUTHORITY_HOST", &emu.base_url)
        .env("M365GUARD_GRAPH_URL", &emu.base_url)
        .env("M365GUARD_EXCHANGE_URL", &emu.base_url)
        .envs(env.iter().copied());
    cmd
}

/// Run `m365guard collect -o snapshot.json ARGS` in `cwd`.
fn collect(emu: &Emulator, cwd: &Path, env: &[(&str, &str)], args: &[&str]) -> Run {
    let out = cwd.join("snapshot.json");
    let _ = std::fs::remove_file(&out);
    let output = m365guard(emu, cwd, env)
        .arg("collect")
        .arg("-o")
        .arg(&out)
        .args(args)
        .output()
        .unwrap();
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        snapshot_text: std::fs::read_to_string(&out).ok(),
    }
}

fn ids(emu: &Emulator) -> (String, String) {
    (emu.tenant_id(), emu.client_id())
}

fn write_pem(dir: &Path, name: &str, parts: &[&str]) -> PathBuf {
    let path = dir.join(name);
    let text: String = parts.iter().map(|p| testdata(p)).collect();
    std::fs::write(&path, text).unwrap();
    path
}

fn token_requests(emu: &Emulator) -> usize {
    emu.requests()
        .iter()
        .filter(|r| r.path.contains("/oauth2/v2.0/token"))
        .count()
}

#[test]
fn certificate_sign_in_collects_the_same_snapshot_as_the_secret() {
    let emu = start();
    let dir = tempfile::tempdir().unwrap();
    let (tenant, client) = ids(&emu);
    let base = [
        ("AZURE_TENANT_ID", tenant.as_str()),
        ("AZURE_CLIENT_ID", client.as_str()),
    ];
    let secret = emu.client_secret().unwrap();
    let mut with_secret = base.to_vec();
    with_secret.push(("AZURE_CLIENT_SECRET", secret.as_str()));
    let by_secret = collect(&emu, dir.path(), &with_secret, &[]);
    let want = by_secret.assert_collected(&emu);

    // Key before certificate: the order of the blocks does not matter.
    let pem = write_pem(
        dir.path(),
        "app.pem",
        &["test-app.key.pem", "test-app.cert.pem"],
    );
    let before = token_requests(&emu);
    let run = collect(
        &emu,
        dir.path(),
        &base,
        &["--certificate", pem.to_str().unwrap()],
    );
    let mut got = run.assert_collected(&emu);
    // One token per resource: Graph and Exchange, each with its own fresh assertion
    // (the emulator refuses a replayed jti).
    assert_eq!(token_requests(&emu) - before, 2);
    // The only field that differs between two runs.
    got.collection.collected_at = want.collection.collected_at;
    assert_eq!(got, want);
    run.assert_no_secrets(&[]);

    // The same certificate from AZURE_CLIENT_CERTIFICATE_PATH.
    let mut env = base.to_vec();
    env.push(("AZURE_CLIENT_CERTIFICATE_PATH", pem.to_str().unwrap()));
    collect(&emu, dir.path(), &env, &[]).assert_collected(&emu);
}

#[test]
fn an_unregistered_certificate_is_explained() {
    let emu = start();
    let dir = tempfile::tempdir().unwrap();
    let (tenant, client) = ids(&emu);
    // A valid certificate and key, just not the one on the app registration.
    let pem = write_pem(
        dir.path(),
        "other.pem",
        &["test-issuer.cert.pem", "test-issuer.key.pem"],
    );
    let env = [
        ("AZURE_TENANT_ID", tenant.as_str()),
        ("AZURE_CLIENT_ID", client.as_str()),
        ("AZURE_CLIENT_CERTIFICATE_PATH", pem.to_str().unwrap()),
    ];
    let run = collect(&emu, dir.path(), &env, &[]);
    assert_eq!(run.code, 2, "stderr:\n{}", run.stderr);
    assert!(run.snapshot_text.is_none());
    assert!(run.stderr.contains("AADSTS700027"), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("the certificate is not registered on the app registration"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(pem.to_str().unwrap()),
        "names the file: {}",
        run.stderr
    );
    run.assert_no_secrets(&[]);
}

#[test]
fn certificate_file_problems_fail_before_any_request() {
    let emu = start();
    let dir = tempfile::tempdir().unwrap();
    let (tenant, client) = ids(&emu);
    let cert_only = write_pem(dir.path(), "cert-only.pem", &["test-app.cert.pem"]);
    let missing = dir.path().join("missing.pem");
    for (path, want) in [
        (&cert_only, "no private key in the PEM"),
        (&missing, "cannot read the file"),
    ] {
        let env = [
            ("AZURE_TENANT_ID", tenant.as_str()),
            ("AZURE_CLIENT_ID", client.as_str()),
        ];
        let run = collect(
            &emu,
            dir.path(),
            &env,
            &["--certificate", path.to_str().unwrap()],
        );
        assert_eq!(run.code, 2, "stderr:\n{}", run.stderr);
        assert!(run.stderr.contains(want), "{}", run.stderr);
        assert!(
            run.stderr.contains(path.to_str().unwrap()),
            "{}",
            run.stderr
        );
    }
    assert_eq!(emu.request_count(), 0, "nothing was sent");
}

#[test]
fn several_credentials_in_the_environment_are_a_usage_error_and_a_flag_wins() {
    let emu = start();
    let dir = tempfile::tempdir().unwrap();
    let (tenant, client) = ids(&emu);
    let pem = write_pem(
        dir.path(),
        "app.pem",
        &["test-app.cert.pem", "test-app.key.pem"],
    );
    let secret = emu.client_secret().unwrap();
    let env = [
        ("AZURE_TENANT_ID", tenant.as_str()),
        ("AZURE_CLIENT_ID", client.as_str()),
        ("AZURE_CLIENT_SECRET", secret.as_str()),
        ("AZURE_CLIENT_CERTIFICATE_PATH", pem.to_str().unwrap()),
    ];
    let run = collect(&emu, dir.path(), &env, &[]);
    assert_eq!(run.code, 2, "stderr:\n{}", run.stderr);
    assert!(
        run.stderr.contains("several credentials")
            && run.stderr.contains("AZURE_CLIENT_SECRET")
            && run.stderr.contains("AZURE_CLIENT_CERTIFICATE_PATH"),
        "{}",
        run.stderr
    );
    run.assert_no_secrets(&[&secret]);
    assert_eq!(emu.request_count(), 0);

    // An explicit --certificate resolves it (and a wrong secret is then never sent).
    let env = [
        ("AZURE_TENANT_ID", tenant.as_str()),
        ("AZURE_CLIENT_ID", client.as_str()),
        ("AZURE_CLIENT_SECRET", "wrong-secret"),
    ];
    collect(
        &emu,
        dir.path(),
        &env,
        &["--certificate", pem.to_str().unwrap()],
    )
    .assert_collected(&emu);

    // --certificate and --github-oidc together: clap refuses.
    let run = collect(
        &emu,
        dir.path(),
        &env,
        &["--certificate", pem.to_str().unwrap(), "--github-oidc"],
    );
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("cannot be used with"), "{}", run.stderr);
}

#[test]
fn scan_tenant_signs_in_with_a_certificate() {
    let emu = start();
    let dir = tempfile::tempdir().unwrap();
    let pem = write_pem(
        dir.path(),
        "app.pem",
        &["test-app.cert.pem", "test-app.key.pem"],
    );
    let out = dir.path().join("out");
    let (tenant, client) = ids(&emu);
    let output = m365guard(&emu, dir.path(), &[("AZURE_CLIENT_ID", client.as_str())])
        .args(["scan", "--tenant", &tenant, "--certificate"])
        .arg(&pem)
        .arg("--out")
        .arg(&out)
        .args(["--format", "json"])
        .output()
        .unwrap();
    let run = Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        snapshot_text: std::fs::read_to_string(out.join("snapshot.json")).ok(),
    };
    // The contoso tenant is compromised: findings (1), or not-evaluated rules (3) while
    // some sources are not collected yet — never a usage or sign-in error.
    assert!(
        matches!(run.code, 1 | 3),
        "exit {}: {}",
        run.code,
        run.stderr
    );
    assert_eq!(run.snapshot().tenant.id, tenant);
    let report = std::fs::read_to_string(out.join("m365guard.json")).unwrap();
    assert!(report.contains("mailbox_external_forwarding"), "{report}");
    run.assert_no_secrets(&[]);
    assert!(!report.contains("eyJ"), "no JWT in the report");
}

#[test]
fn connection_settings_come_from_the_config_file() {
    let emu = start();
    let dir = tempfile::tempdir().unwrap();
    let conf_dir = dir.path().join("conf");
    std::fs::create_dir(&conf_dir).unwrap();
    write_pem(
        &conf_dir,
        "app.pem",
        &["test-app.cert.pem", "test-app.key.pem"],
    );
    // Everything but the URLs (set in the environment, which overrides the file).
    let config = conf_dir.join("m365guard.toml");
    std::fs::write(
        &config,
        format!(
            "[tenant]\nid = \"{}\"\n\n[connection]\nclient_id = \"{}\"\ncertificate = \"app.pem\"\ngraph_url = \"https://graph.example.invalid\"\n",
            emu.tenant_id(),
            emu.client_id()
        ),
    )
    .unwrap();
    // The certificate path is relative to the config file, not the working directory.
    let run = collect(
        &emu,
        dir.path(),
        &[],
        &["--config", config.to_str().unwrap()],
    );
    run.assert_collected(&emu);
    run.assert_no_secrets(&[]);

    // Discovered as ./m365guard.toml too.
    collect(&emu, &conf_dir, &[], &[]).assert_collected(&emu);

    // A secret in the file is refused, pointing at it.
    std::fs::write(
        &config,
        "[connection]\nclient_secret = \"Fake~Secret.Value\"\n",
    )
    .unwrap();
    let run = collect(
        &emu,
        dir.path(),
        &[],
        &["--config", config.to_str().unwrap()],
    );
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("m365guard.toml:2:1:"), "{}", run.stderr);
    assert!(
        !run.stderr.contains("Fake~Secret"),
        "not echoed: {}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("a client secret must not be stored in m365guard.toml"),
        "{}",
        run.stderr
    );
}

#[test]
fn federated_token_file_signs_in_and_a_subject_mismatch_is_explained() {
    let emu = start();
    let dir = tempfile::tempdir().unwrap();
    let (tenant, client) = ids(&emu);
    let token_file = dir.path().join("azure-identity-token");
    let good = github_token(PROD_SUBJECT);
    std::fs::write(&token_file, format!("{good}\n")).unwrap();
    let env = [
        ("AZURE_TENANT_ID", tenant.as_str()),
        ("AZURE_CLIENT_ID", client.as_str()),
        ("AZURE_FEDERATED_TOKEN_FILE", token_file.to_str().unwrap()),
    ];
    let run = collect(&emu, dir.path(), &env, &[]);
    run.assert_collected(&emu);
    run.assert_no_secrets(&[&good]);

    let bad = github_token(FEATURE_SUBJECT);
    std::fs::write(&token_file, &bad).unwrap();
    let run = collect(&emu, dir.path(), &env, &[]);
    assert_eq!(run.code, 2, "stderr:\n{}", run.stderr);
    assert!(run.stderr.contains("AADSTS700213"), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("no federated identity credential on the app matches"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(&format!("subject '{FEATURE_SUBJECT}'")),
        "the presented subject is named: {}",
        run.stderr
    );
    assert!(
        run.stderr.contains(token_file.to_str().unwrap()),
        "{}",
        run.stderr
    );
    run.assert_no_secrets(&[&bad]);
}

#[test]
fn the_token_file_is_read_again_for_every_token_request() {
    // Kubernetes rotates the projected token: a later token request must see the new file.
    let emu = start();
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, github_token(PROD_SUBJECT)).unwrap();
    let settings = Settings::validate_with(
        RawSettings {
            tenant: Some(emu.tenant_id()),
            client_id: Some(emu.client_id()),
            authority: Some(emu.base_url.clone()),
            graph_url: Some(emu.base_url.clone()),
            exchange_url: Some(emu.base_url.clone()),
            ..RawSettings::default()
        },
        RawCredentials {
            federated_token_file: Some(token_file.clone()),
            ..RawCredentials::default()
        },
    )
    .unwrap();
    let tokens = TokenProvider::new(settings, m365guard::collect::agent());
    let first = tokens.token(GRAPH_SCOPE).unwrap();
    std::fs::write(&token_file, github_token(FEATURE_SUBJECT)).unwrap();
    let err = tokens.token(EXCHANGE_SCOPE).unwrap_err().to_string();
    assert!(err.contains("AADSTS700213"), "{err}");
    std::fs::remove_file(&token_file).unwrap();
    tokens.invalidate(GRAPH_SCOPE, &first);
    let err = tokens.token(GRAPH_SCOPE).unwrap_err().to_string();
    assert!(
        err.contains("cannot read the federated token file")
            && err.contains("AZURE_FEDERATED_TOKEN_FILE"),
        "{err}"
    );
}

/// What the fake GitHub OIDC endpoint saw.
#[derive(Default)]
struct Seen {
    request_targets: Vec<String>,
    authorizations: Vec<String>,
}

/// A loopback stand-in for GitHub's `ACTIONS_ID_TOKEN_REQUEST_URL`: answers a fresh
/// `{"value": <token>}` when the bearer token is right, 401 otherwise.
fn fake_github(subject: &'static str) -> (String, Arc<Mutex<Seen>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://{}/_apis/distributedtask/idtoken?api-version=2.0",
        listener.local_addr().unwrap()
    );
    let seen = Arc::new(Mutex::new(Seen::default()));
    let record = Arc::clone(&seen);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let target = line
                .split_whitespace()
                .nth(1)
                .unwrap_or_default()
                .to_owned();
            let mut auth = String::new();
            loop {
                let mut header = String::new();
                if reader.read_line(&mut header).unwrap() == 0 || header.trim().is_empty() {
                    break;
                }
                if let Some((k, v)) = header.split_once(':') {
                    if k.eq_ignore_ascii_case("authorization") {
                        auth = v.trim().to_owned();
                    }
                }
            }
            let ok = auth.eq_ignore_ascii_case(&format!("bearer {REQUEST_TOKEN}"));
            {
                let mut s = record.lock().unwrap();
                s.request_targets.push(target);
                s.authorizations.push(auth);
            }
            let (status, body) = if ok {
                (
                    "200 OK",
                    json!({ "value": github_token(subject) }).to_string(),
                )
            } else {
                (
                    "401 Unauthorized",
                    r#"{"message":"Bad credentials"}"#.to_owned(),
                )
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (url, seen)
}

#[test]
fn github_oidc_fetches_the_token_with_the_bearer_and_the_entra_audience() {
    let emu = start();
    let dir = tempfile::tempdir().unwrap();
    let (tenant, client) = ids(&emu);
    let (url, seen) = fake_github(PROD_SUBJECT);
    let env = [
        ("AZURE_TENANT_ID", tenant.as_str()),
        ("AZURE_CLIENT_ID", client.as_str()),
        ("ACTIONS_ID_TOKEN_REQUEST_URL", url.as_str()),
        ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", REQUEST_TOKEN),
        // Ambient credentials lose to the explicit flag.
        ("AZURE_CLIENT_SECRET", "wrong-secret"),
    ];
    let run = collect(&emu, dir.path(), &env, &["--github-oidc"]);
    run.assert_collected(&emu);
    run.assert_no_secrets(&[REQUEST_TOKEN, "wrong-secret"]);
    let seen = seen.lock().unwrap();
    // One GitHub token per Entra token request (Graph, Exchange).
    assert_eq!(seen.request_targets.len(), 2, "{:?}", seen.request_targets);
    for target in &seen.request_targets {
        assert_eq!(
            target,
            "/_apis/distributedtask/idtoken?api-version=2.0&audience=api://AzureADTokenExchange"
        );
    }
    for auth in &seen.authorizations {
        assert_eq!(auth, &format!("bearer {REQUEST_TOKEN}"));
    }
}

#[test]
fn github_oidc_errors_are_clear() {
    let emu = start();
    let dir = tempfile::tempdir().unwrap();
    let (tenant, client) = ids(&emu);
    let base = [
        ("AZURE_TENANT_ID", tenant.as_str()),
        ("AZURE_CLIENT_ID", client.as_str()),
    ];

    // Outside a job with `id-token: write` the variables are missing.
    let run = collect(&emu, dir.path(), &base, &["--github-oidc"]);
    assert_eq!(run.code, 2, "stderr:\n{}", run.stderr);
    assert!(
        run.stderr.contains("ACTIONS_ID_TOKEN_REQUEST_URL"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("permissions: id-token: write"),
        "{}",
        run.stderr
    );

    // A remote http:// URL would send the request token in clear text: refused.
    let mut env = base.to_vec();
    env.push((
        "ACTIONS_ID_TOKEN_REQUEST_URL",
        "http://pipelines.actions.example.com/idtoken?api-version=2.0",
    ));
    env.push(("ACTIONS_ID_TOKEN_REQUEST_TOKEN", REQUEST_TOKEN));
    let run = collect(&emu, dir.path(), &env, &["--github-oidc"]);
    assert_eq!(run.code, 2, "stderr:\n{}", run.stderr);
    assert!(
        run.stderr.contains("ACTIONS_ID_TOKEN_REQUEST_URL")
            && run.stderr.contains("uses http:// for a non-loopback host"),
        "{}",
        run.stderr
    );
    run.assert_no_secrets(&[REQUEST_TOKEN]);

    // GitHub refuses the request token.
    let (url, _seen) = fake_github(PROD_SUBJECT);
    let env = [
        ("AZURE_TENANT_ID", tenant.as_str()),
        ("AZURE_CLIENT_ID", client.as_str()),
        ("ACTIONS_ID_TOKEN_REQUEST_URL", url.as_str()),
        ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "stale-request-token"),
    ];
    let run = collect(&emu, dir.path(), &env, &["--github-oidc"]);
    assert_eq!(run.code, 2, "stderr:\n{}", run.stderr);
    assert!(
        run.stderr
            .contains("cannot get the GitHub Actions OIDC token")
            && run.stderr.contains("HTTP 401"),
        "{}",
        run.stderr
    );
    run.assert_no_secrets(&["stale-request-token"]);

    // A job whose subject has no federated credential (a feature branch).
    let (url, _seen) = fake_github(FEATURE_SUBJECT);
    let env = [
        ("AZURE_TENANT_ID", tenant.as_str()),
        ("AZURE_CLIENT_ID", client.as_str()),
        ("ACTIONS_ID_TOKEN_REQUEST_URL", url.as_str()),
        ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", REQUEST_TOKEN),
    ];
    let run = collect(&emu, dir.path(), &env, &["--github-oidc"]);
    assert_eq!(run.code, 2, "stderr:\n{}", run.stderr);
    assert!(run.stderr.contains("AADSTS700213"), "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!("subject '{FEATURE_SUBJECT}'"))
            && run.stderr.contains("--github-oidc"),
        "{}",
        run.stderr
    );
    run.assert_no_secrets(&[REQUEST_TOKEN]);
}
