//! Issue 15: m365guard pointed at a hostile or compromised service. Each test starts a
//! hostile server (tests/emulator/src/hostile.rs) on 127.0.0.1 as the configured Graph /
//! Exchange / token endpoint and a *capture* server that the hostile answers point at; the
//! bearer token must never reach the capture server, and the run must fail with an error
//! naming the endpoint instead of silently following.

use std::process::Command;
use std::time::{Duration, Instant};

use m365guard::auth::{RawSettings, Secret, Settings, TokenProvider, GRAPH_SCOPE};
use m365guard::exchange::ExchangeClient;
use m365guard::graph::GraphClient;
use m365guard_emulator::hostile::{self, Hostile, Mode};

const SECRET: &str = "Hostile~Test.Secret_0123";

fn settings(base: &str) -> Settings {
    Settings::validate(RawSettings {
        tenant: Some(hostile::TENANT.into()),
        client_id: Some("11111111-2222-4333-8444-555555555555".into()),
        client_secret: Some(Secret::new(SECRET)),
        authority: Some(base.into()),
        graph_url: Some(base.into()),
        exchange_url: Some(base.into()),
    })
    .unwrap()
}

fn provider(base: &str) -> (TokenProvider, ureq::Agent) {
    let agent = m365guard::collect::agent();
    (TokenProvider::new(settings(base), agent.clone()), agent)
}

fn assert_untouched(capture: &Hostile) {
    let seen = capture.requests();
    assert!(
        seen.is_empty(),
        "a request reached a host m365guard was not configured for: {seen:#?}"
    );
}

/// Links an attacker could use to leave the configured service: another port, another
/// host name for the same machine, another scheme, user info, a backslash authority.
fn foreign_links(capture: &Hostile, hostile: &Hostile) -> Vec<String> {
    let port = hostile.base_url.rsplit(':').next().unwrap().to_owned();
    vec![
        format!("{}/v1.0/users?$skiptoken=x", capture.base_url),
        format!("http://localhost:{port}/v1.0/users?$skiptoken=x"),
        format!("https://127.0.0.1:{port}/v1.0/users?$skiptoken=x"),
        format!(
            "http://127.0.0.1:{port}@{}/v1.0/users",
            capture.base_url.trim_start_matches("http://")
        ),
        format!(
            "http://{}\\@127.0.0.1:{port}/v1.0/users",
            capture.base_url.trim_start_matches("http://")
        ),
        "//127.0.0.1:1/v1.0/users".to_owned(),
    ]
}

#[test]
fn graph_next_link_to_another_host_is_not_followed_with_the_token() {
    let capture = hostile::spawn(Mode::Capture).unwrap();
    let probe = hostile::spawn(Mode::Capture).unwrap();
    for link in foreign_links(&capture, &probe) {
        let server = hostile::spawn(Mode::NextLinkTo(link.clone())).unwrap();
        let (tokens, agent) = provider(&server.base_url);
        let result = GraphClient::new(&tokens, agent).get_all("/v1.0/users");
        assert_untouched(&capture);
        let text = result.expect_err(&link).to_string();
        assert!(text.contains("/v1.0/users"), "names the endpoint: {text}");
        assert!(text.contains("not on the configured service"), "{text}");
        assert_eq!(server.requests().len(), 2, "token + first page only");
    }
    assert_untouched(&capture);
}

#[test]
fn exchange_next_link_to_another_host_is_not_followed_with_the_token() {
    let capture = hostile::spawn(Mode::Capture).unwrap();
    let link = format!(
        "{}/adminapi/beta/{}/InvokeCommand?$skiptoken=x",
        capture.base_url,
        hostile::TENANT
    );
    let server = hostile::spawn(Mode::NextLinkTo(link)).unwrap();
    let (tokens, agent) = provider(&server.base_url);
    let result = ExchangeClient::new(&tokens, agent).invoke("Get-Mailbox", serde_json::json!({}));
    assert_untouched(&capture);
    let err = result.unwrap_err().to_string();
    assert!(err.contains("not on the configured service"), "{err}");
    assert!(err.contains("Get-Mailbox"), "{err}");
}

#[test]
fn endless_next_links_stop_at_the_page_ceiling() {
    // Issue 15 item 11: a nextLink that always names a new page (on the configured host,
    // so the origin check lets it through) was followed 13,600 times without end.
    let server = hostile::spawn(Mode::EndlessPages).unwrap();
    let (tokens, agent) = provider(&server.base_url);
    std::env::set_var("M365GUARD_MAX_PAGES", "50");
    let result = GraphClient::new(&tokens, agent).get_all("/v1.0/users");
    assert!(server.pages_served() <= 50, "{}", server.pages_served());
    let err = result.unwrap_err().to_string();
    assert!(err.contains("more than 50 pages"), "{err}");
}

#[test]
fn redirect_from_graph_or_exchange_is_an_error_and_not_followed() {
    let capture = hostile::spawn(Mode::Capture).unwrap();
    for status in [301, 302, 303, 307, 308] {
        let server = hostile::spawn(Mode::RedirectTo {
            status,
            location: format!("{}/v1.0/users", capture.base_url),
        })
        .unwrap();
        let (tokens, agent) = provider(&server.base_url);
        let started = Instant::now();
        let result = GraphClient::new(&tokens, agent.clone()).get_all("/v1.0/users");
        assert_untouched(&capture);
        let err = result.unwrap_err().to_string();
        assert!(err.contains(&format!("HTTP {status} redirect")), "{err}");
        assert!(err.contains("/v1.0/users"), "{err}");
        // Permanent: not retried with back-off.
        assert!(started.elapsed() < Duration::from_secs(5));
        let result =
            ExchangeClient::new(&tokens, agent).invoke("Get-Mailbox", serde_json::json!({}));
        assert_untouched(&capture);
        let err = result.unwrap_err().to_string();
        assert!(err.contains("redirect"), "{status}: {err}");
        assert!(err.contains("Get-Mailbox"), "{err}");
    }
}

#[test]
fn token_endpoint_redirect_is_not_followed() {
    let capture = hostile::spawn(Mode::Capture).unwrap();
    let foreign_token = format!("{}/{}/oauth2/v2.0/token", capture.base_url, hostile::TENANT);
    let server = hostile::spawn(Mode::TokenRedirectTo(foreign_token)).unwrap();
    let (tokens, _) = provider(&server.base_url);
    let result = tokens.token(GRAPH_SCOPE);
    assert_untouched(&capture);
    let text = result.unwrap_err().to_string();
    assert!(text.contains("redirect"), "{text}");
    assert!(text.contains("/oauth2/v2.0/token"), "{text}");
    assert!(!text.contains(SECRET), "{text}");
    assert_untouched(&capture);
}

/// The whole binary: `collect` against a service whose pages link to another port. Every
/// source that pages fails with an error naming the endpoint, the run exits 3 (incomplete)
/// and the capture server never sees a request.
#[test]
fn collect_against_foreign_next_links_exits_3_and_sends_no_token_away() {
    let capture = hostile::spawn(Mode::Capture).unwrap();
    let server =
        hostile::spawn(Mode::NextLinkTo(format!("{}/v1.0/next", capture.base_url))).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("snapshot.json");
    let output = Command::new(env!("CARGO_BIN_EXE_m365guard"))
        .args(["collect", "-o"])
        .arg(&out)
        .env_remove("AZURE_AUTHORITY_HOST")
        .env_remove("AZURE_CLIENT_CERTIFICATE_PATH")
        .env_remove("AZURE_FEDERATED_TOKEN_FILE")
        .env("AZURE_TENANT_ID", hostile::TENANT)
        .env("AZURE_CLIENT_ID", "11111111-2222-4333-8444-555555555555")
        .env("AZURE_CLIENT_SECRET", SECRET)
        .env("M365GUARD_AUTHORITY_HOST", &server.base_url)
        .env("M365GUARD_GRAPH_URL", &server.base_url)
        .env("M365GUARD_EXCHANGE_URL", &server.base_url)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("not on the configured service"), "{stderr}");
    assert!(!stderr.contains(SECRET), "{stderr}");
    let snapshot: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let users = &snapshot["sources"]["users"];
    assert_eq!(users["status"], "error", "{users}");
    assert!(
        users["reason"].as_str().unwrap().contains("/v1.0/users"),
        "{users}"
    );
    assert_untouched(&capture);
}

// ---- item 13: odd snapshot files -------------------------------------------------------

/// Run `scan --snapshot PATH`, killing it after `limit`; `None` when it had to be killed.
fn scan_snapshot(
    path: &std::path::Path,
    env: &[(&str, &str)],
    limit: Duration,
) -> Option<(i32, String)> {
    scan_with(&["--snapshot".as_ref(), path.as_os_str()], env, limit)
}

/// `m365guard scan ARGS`, killed after `limit` (then `None`).
fn scan_with(
    args: &[&std::ffi::OsStr],
    env: &[(&str, &str)],
    limit: Duration,
) -> Option<(i32, String)> {
    let mut child = crate::harness::command()
        .arg("scan")
        .args(args)
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut stderr = String::new();
            std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
            return Some((status.code().unwrap_or(-1), stderr));
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn snapshot_from_a_device_is_refused_at_once() {
    for device in ["/dev/zero", "/dev/urandom"] {
        let (code, stderr) = scan_snapshot(device.as_ref(), &[], Duration::from_secs(20))
            .unwrap_or_else(|| panic!("scan --snapshot {device} did not finish in 20 s"));
        assert_eq!(code, 2, "{device}: {stderr}");
        assert!(stderr.contains("not a regular file"), "{device}: {stderr}");
    }
}

/// `--since` reads its file with the same checks as `--snapshot` (it once used a plain
/// `read_to_string`, so `--since /dev/zero` allocated until memory ran out).
#[test]
fn since_from_a_device_or_fifo_is_refused_at_once() {
    let example =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/contoso-clean.json");
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("earlier.json");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    for earlier in [std::path::Path::new("/dev/zero"), fifo.as_path()] {
        let args = [
            "--snapshot".as_ref(),
            example.as_os_str(),
            "--since".as_ref(),
            earlier.as_os_str(),
        ];
        let (code, stderr) = scan_with(&args, &[], Duration::from_secs(20))
            .unwrap_or_else(|| panic!("scan --since {} did not finish in 20 s", earlier.display()));
        assert_eq!(code, 2, "{}: {stderr}", earlier.display());
        assert!(stderr.contains("not a regular file"), "{stderr}");
    }
}

#[test]
fn snapshot_from_a_fifo_without_writer_does_not_hang() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("snapshot.json");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let (code, stderr) = scan_snapshot(&fifo, &[], Duration::from_secs(20))
        .expect("scan --snapshot FIFO hung (killed after 20 s)");
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("not a regular file"), "{stderr}");
}

#[test]
fn snapshot_above_the_size_limit_is_refused_before_reading() {
    let example =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/contoso-clean.json");
    let (code, stderr) = scan_snapshot(
        &example,
        &[("M365GUARD_MAX_SNAPSHOT_BYTES", "1000")],
        Duration::from_secs(60),
    )
    .unwrap();
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("M365GUARD_MAX_SNAPSHOT_BYTES"), "{stderr}");
    // Under the default limit the same file scans.
    let (code, stderr) = scan_snapshot(&example, &[], Duration::from_secs(60)).unwrap();
    assert!(code == 0 || code == 1, "{code}: {stderr}");
}

// ---- item 12: malformed answers are permanent ------------------------------------------

#[test]
fn malformed_header_is_a_permanent_error_not_minutes_of_retries() {
    let server = hostile::spawn(Mode::MalformedHeader).unwrap();
    let (tokens, _) = provider(&server.base_url);
    let started = Instant::now();
    let err = tokens.token(GRAPH_SCOPE).unwrap_err().to_string();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}: {err}",
        started.elapsed()
    );
    assert_eq!(server.requests().len(), 1, "retried: {err}");
    assert!(!err.contains(SECRET), "{err}");
}

/// Item 12: the body memory of all answers being received at once is capped (here at
/// 64 KiB, so a 1 MiB page is refused instead of read).
#[test]
fn answers_beyond_the_in_flight_memory_budget_are_refused() {
    let server = hostile::spawn(Mode::BigPage(1 << 20)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("snapshot.json");
    let output = Command::new(env!("CARGO_BIN_EXE_m365guard"))
        .args(["collect", "-o"])
        .arg(&out)
        .env_remove("AZURE_AUTHORITY_HOST")
        .env_remove("AZURE_CLIENT_CERTIFICATE_PATH")
        .env_remove("AZURE_FEDERATED_TOKEN_FILE")
        .env("AZURE_TENANT_ID", hostile::TENANT)
        .env("AZURE_CLIENT_ID", "11111111-2222-4333-8444-555555555555")
        .env("AZURE_CLIENT_SECRET", SECRET)
        .env("M365GUARD_AUTHORITY_HOST", &server.base_url)
        .env("M365GUARD_GRAPH_URL", &server.base_url)
        .env("M365GUARD_EXCHANGE_URL", &server.base_url)
        .env("M365GUARD_MAX_BODY_MEMORY", "65536")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    let snapshot: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let users = &snapshot["sources"]["users"];
    assert_eq!(users["status"], "error", "{users}");
    assert!(
        users["reason"]
            .as_str()
            .unwrap()
            .contains("M365GUARD_MAX_BODY_MEMORY"),
        "{users}"
    );
}

/// Item 12: `Retry-After: 100` on every answer cannot hold a request for minutes: the total
/// wait per request is bounded (here 2 s via M365GUARD_MAX_RETRY_SECONDS).
#[test]
fn retries_of_one_request_are_bounded_in_total_time() {
    std::env::set_var("M365GUARD_MAX_RETRY_SECONDS", "2");
    let server = hostile::spawn(Mode::Throttle(100)).unwrap();
    let (tokens, agent) = provider(&server.base_url);
    let started = Instant::now();
    let result = GraphClient::new(&tokens, agent).get("/v1.0/organization");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "held for {:?}",
        started.elapsed()
    );
    let err = result.unwrap_err().to_string();
    assert!(err.contains("retry budget"), "{err}");
}
