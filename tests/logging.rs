//! `-v`/`-vv` and `--log-format`: the real binary collecting from the tenant emulator.
//! Request lines and source outcomes reach stderr, JSON mode writes one object per line,
//! and neither the client secret nor any access token ever appears.

use std::path::{Path, PathBuf};

use m365guard_emulator::{spawn, Emulator, EmulatorConfig, Faults};
use serde_json::Value;

fn start() -> Emulator {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let cfg =
        EmulatorConfig::from_scenario_file(&root.join("tests/emulator/scenarios/contoso.toml"))
            .unwrap();
    spawn(cfg).unwrap()
}

struct Run {
    code: i32,
    stderr: String,
    snapshot: String,
}

/// Run the binary in `dir` against the emulator, and check what must hold for every run:
/// no secret, token or Authorization header in any output, and no spinner off a terminal.
fn m365guard(emu: &Emulator, dir: &Path, args: &[&str]) -> (i32, String, String) {
    let secret = emu.client_secret().unwrap();
    let output = crate::harness::command()
        .args(args)
        .current_dir(dir)
        .env_remove("AZURE_AUTHORITY_HOST")
        .env_remove("AZURE_CLIENT_CERTIFICATE_PATH")
        .env_remove("AZURE_FEDERATED_TOKEN_FILE")
        .env_remove("M365GUARD_CONCURRENCY")
        .env_remove("CI")
        .env("AZURE_TENANT_ID", emu.tenant_id())
        .env("AZURE_CLIENT_ID", emu.client_id())
        .env("AZURE_CLIENT_SECRET", &secret)
        .env("M365GUARD_AUTHORITY_HOST", &emu.base_url)
        .env("M365GUARD_GRAPH_URL", &emu.base_url)
        .env("M365GUARD_EXCHANGE_URL", &emu.base_url)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    for text in [&stdout, &stderr] {
        assert!(!text.contains(&secret), "the client secret leaked:\n{text}");
        // Every access token the emulator issues is a JWT: base64url of `{"`.
        assert!(!text.contains("eyJ"), "an access token leaked:\n{text}");
        assert!(
            !text.contains("Bearer"),
            "an Authorization header leaked:\n{text}"
        );
    }
    // stderr is not a terminal here: no spinner, no escape codes, no carriage returns.
    assert!(!stderr.contains('\u{1b}'), "{stderr}");
    assert!(!stderr.contains('\r'), "{stderr}");
    (output.status.code().unwrap_or(-1), stdout, stderr)
}

fn collect(emu: &Emulator, flags: &[&str]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let mut args = flags.to_vec();
    args.extend(["collect", "-o", "snapshot.json"]);
    let (code, _, stderr) = m365guard(emu, dir.path(), &args);
    let snapshot = std::fs::read_to_string(dir.path().join("snapshot.json")).unwrap_or_default();
    assert!(!snapshot.contains(&emu.client_secret().unwrap()));
    assert!(!snapshot.contains("eyJ"));
    Run {
        code,
        stderr,
        snapshot,
    }
}

/// The lines `collect` prints itself (its summary), as opposed to log events.
fn is_summary(line: &str) -> bool {
    line.starts_with("collected tenant") || line.starts_with("  ") || line.starts_with("some ")
}

#[test]
fn vv_logs_every_request_and_each_source_as_text() {
    let emu = start();
    let run = collect(&emu, &["-vv"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    // Logging changes nothing about the snapshot itself.
    assert!(
        run.snapshot.contains("\"schema_version\""),
        "{}",
        run.stderr
    );
    let requests: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.contains("DEBUG") && l.contains("HTTP response"))
        .collect();
    assert!(
        requests.iter().any(|l| l.contains(r#"method="GET""#)
            && l.contains(r#"endpoint="/v1.0/users""#)
            && l.contains("status=200")
            && l.contains("attempt=1")
            && l.contains("request_id=")),
        "{}",
        run.stderr
    );
    assert!(
        requests
            .iter()
            .any(|l| l.contains(r#"endpoint="InvokeCommand Get-Mailbox""#)),
        "{}",
        run.stderr
    );
    // The query string (cursors, filters) is left out.
    assert!(requests.iter().all(|l| !l.contains('?')), "{}", run.stderr);
    for source in ["users", "mailboxes", "inbox_rules", "risky_users"] {
        let needle = format!(r#"source collected source="{source}" status=Ok"#);
        assert!(run.stderr.contains(&needle), "{needle}\n{}", run.stderr);
    }
}

#[test]
fn json_logs_are_one_object_per_line_with_the_retry_wait() {
    let emu = start();
    emu.set_faults(Faults {
        burst_503: 1,
        ..Faults::default()
    });
    let run = collect(&emu, &["-vv", "--log-format", "json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let events: Vec<Value> = run
        .stderr
        .lines()
        .filter(|l| !is_summary(l))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(events.iter().all(Value::is_object));
    let messages = |m: &str| {
        events
            .iter()
            .filter(|e| e["fields"]["message"] == m)
            .count()
    };
    assert!(messages("HTTP response") > 10, "{}", run.stderr);
    assert_eq!(
        messages("source collected"),
        m365guard::snapshot::source::SOURCES.len(),
        "{}",
        run.stderr
    );
    // The injected 503 was retried after a back-off, and both attempts were logged.
    let retry = events
        .iter()
        .find(|e| e["fields"]["message"] == "retrying")
        .unwrap_or_else(|| panic!("no retry event:\n{}", run.stderr));
    assert!(retry["fields"]["wait_ms"].as_u64().unwrap() > 0, "{retry}");
    assert_eq!(retry["fields"]["reason"], "HTTP 503");
    assert!(events.iter().any(|e| e["fields"]["status"] == 503));
    assert!(events.iter().any(|e| e["fields"]["attempt"] == 2));
}

#[test]
fn v_shows_sources_but_not_requests_and_no_flag_shows_no_log() {
    let emu = start();
    let run = collect(&emu, &["-v"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("source collected"), "{}", run.stderr);
    assert!(!run.stderr.contains("HTTP response"), "{}", run.stderr);

    let quiet = collect(&emu, &[]);
    assert_eq!(quiet.code, 0, "{}", quiet.stderr);
    assert!(
        quiet.stderr.lines().all(is_summary),
        "only the summary without -v:\n{}",
        quiet.stderr
    );
    assert!(quiet.stderr.contains("collected tenant"));
}

#[test]
fn fix_apply_at_vv_logs_each_write_and_outcome_but_never_the_password() {
    let emu = start();
    let dir = tempfile::tempdir().unwrap();
    let tenant = emu.tenant_id();
    let (code, out, err) = m365guard(
        &emu,
        dir.path(),
        &["fix", "plan", "--tenant", &tenant, "-o", "plan.json"],
    );
    assert_eq!(code, 0, "{out}\n{err}");
    let (code, out, err) = m365guard(
        &emu,
        dir.path(),
        &[
            "-vv",
            "--log-format",
            "json",
            "fix",
            "apply",
            "plan.json",
            "--yes",
        ],
    );
    assert_eq!(code, 0, "{out}\n{err}");
    let passwords: Vec<PathBuf> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("m365guard-passwords-"))
        })
        .collect();
    assert_eq!(passwords.len(), 1, "{passwords:?}");
    let text = std::fs::read_to_string(&passwords[0]).unwrap();
    let (_, password) = text.trim_end().split_once('\t').unwrap();
    assert!(password.len() >= 16);
    assert!(!err.contains(password), "the password is in the log");
    assert!(!out.contains(password), "the password is on stdout");
    // The writes are logged (method and path only) and so is each action's outcome.
    let events: Vec<Value> = err
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert!(
        events
            .iter()
            .any(|e| e["fields"]["message"] == "HTTP response"
                && e["fields"]["method"] == "PATCH"
                && e["fields"]["status"] == 204),
        "{err}"
    );
    let reset = events
        .iter()
        .find(|e| e["fields"]["message"] == "fix action" && e["fields"]["kind"] == "reset_password")
        .unwrap_or_else(|| panic!("no reset_password outcome:\n{err}"));
    assert_eq!(reset["fields"]["outcome"], "applied", "{reset}");
}

#[test]
fn spinners_only_on_a_terminal_outside_ci_and_not_when_quiet() {
    use clap::Parser;
    use m365guard::cli::{Cli, LogFormat};
    let parse = |args: &[&str]| {
        Cli::try_parse_from(std::iter::once("m365guard").chain(args.iter().copied()))
            .unwrap_or_else(|e| panic!("{args:?}: {e}"))
    };
    let collect = parse(&["collect", "-o", "s.json"]);
    assert!(collect.shows_progress(true, false));
    assert!(!collect.shows_progress(false, false), "not a terminal");
    assert!(!collect.shows_progress(true, true), "CI is set");
    // The global flag, before or after the subcommand; scan and policy test keep their own.
    for quiet in [
        &["-q", "collect", "-o", "s.json"][..],
        &["collect", "--quiet", "-o", "s.json"],
        &["doctor", "-q"],
        &["scan", "--snapshot", "s.json", "-q"],
        &["policy", "test", "--quiet"],
    ] {
        assert!(!parse(quiet).shows_progress(true, false), "{quiet:?}");
    }
    let verbose = parse(&["-vv", "--log-format", "json", "doctor"]);
    assert_eq!(verbose.verbose, 2);
    assert_eq!(verbose.log_format, LogFormat::Json);
    assert_eq!(parse(&["doctor", "-v"]).verbose, 1);
    assert!(Cli::try_parse_from(["m365guard", "--log-format", "xml", "doctor"]).is_err());
}
