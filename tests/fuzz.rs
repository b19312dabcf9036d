//! Issue 15, "keep it so": generative tests (proptest). Every input m365guard reads may be
//! hostile, so random and mutated snapshots, configs, plans, audit logs and evidence names,
//! and random answers of a scripted hostile server (tests/emulator/src/hostile.rs,
//! `Mode::Script`: any status, headers, bodies, nextLinks, redirects, truncated, lying and
//! trickled bodies, dropped connections) must give: no panic, no hang (every case runs
//! under a watchdog), no token or client secret sent anywhere but the configured hosts,
//! no secret in an error, and — for the binary — an exit code from the documented set
//! (0, 1, 2, 3).
//!
//! Case counts: `M365GUARD_FUZZ_CASES` (default 1000) cases per parser property, a tenth of
//! that per HTTP property and a hundredth per binary property; the default keeps the whole
//! module under a minute in debug. The long run is in README ("Security").

use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use chrono::Utc;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::Value;

use m365guard::auth::{RawSettings, Secret, Settings, TokenProvider, GRAPH_SCOPE};
use m365guard::exchange::ExchangeClient;
use m365guard::graph::GraphClient;
use m365guard_emulator::hostile::{self, Answer, Body, Hostile, Mode, Wire};

use crate::harness;

const SECRET: &str = "Fuzz~Client.Secret_0123456789";

// ---- case counts and the watchdog ------------------------------------------------------

/// Cases per parser property (`M365GUARD_FUZZ_CASES`, default 1000).
fn parser_cases() -> u32 {
    std::env::var("M365GUARD_FUZZ_CASES")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(1000)
}

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Config {
        cases: cases.max(1),
        // Regressions are kept as named tests below, not in a seed file.
        failure_persistence: None,
        // Shrinking a hang or a slow HTTP case would take minutes; the input is printed.
        max_shrink_iters: 64,
        ..Config::default()
    })
}

/// Run `f` on another thread; a panic or a run longer than `limit` fails the case.
fn bounded<T: Send + 'static>(
    limit: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, TestCaseError> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
        let _ = tx.send(result);
    });
    match rx.recv_timeout(limit) {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(panic)) => {
            let text = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default();
            Err(TestCaseError::fail(format!("panicked: {text}")))
        }
        Err(_) => Err(TestCaseError::fail(format!("did not finish in {limit:?}"))),
    }
}

const PARSE_LIMIT: Duration = Duration::from_secs(10);

// ---- mutations of valid documents --------------------------------------------------------

/// One edit of a document: a node (chosen by index among all nodes) replaced, removed or
/// wrapped; or the text cut, or bytes spliced in.
#[derive(Debug, Clone)]
enum Edit {
    Replace(usize, Value),
    Remove(usize),
    Wrap(usize),
    Cut(usize),
    Splice(usize, String),
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        Just(serde_json::json!(u64::MAX)),
        ".{0,40}".prop_map(Value::from),
        Just(Value::from("2099-12-31T00:00:00Z")),
        Just(Value::from("00000000-0000-4000-8000-000000000001")),
        Just(Value::from("breakglass01@contoso.onmicrosoft.com")),
        Just(Value::from("../../etc/passwd")),
        Just(Value::from("a\nb\tc\u{0}")),
        Just(Value::from("x".repeat(100_000))),
        Just(serde_json::json!([])),
        Just(serde_json::json!({})),
        Just(serde_json::json!({"status": "error", "reason": 1})),
    ]
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        4 => (any::<usize>(), scalar()).prop_map(|(i, v)| Edit::Replace(i, v)),
        2 => any::<usize>().prop_map(Edit::Remove),
        1 => any::<usize>().prop_map(Edit::Wrap),
        1 => any::<usize>().prop_map(Edit::Cut),
        1 => (any::<usize>(), prop_oneof![".{0,8}", Just("\u{feff}".to_owned()), Just("\"".to_owned()), Just("}".to_owned())])
            .prop_map(|(i, s)| Edit::Splice(i, s)),
    ]
}

/// JSON pointers of every node of `v` (the root excluded).
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    let children: Vec<(String, &Value)> = match v {
        Value::Object(map) => map
            .iter()
            .map(|(k, c)| (k.replace('~', "~0").replace('/', "~1"), c))
            .collect(),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, c)| (i.to_string(), c))
            .collect(),
        _ => vec![],
    };
    for (key, child) in children {
        let p = format!("{at}/{key}");
        out.push(p.clone());
        pointers(child, p, out);
    }
}

/// Apply `edits` to the JSON document `base`; the result may not be JSON any more.
fn mutate_json(base: &Value, edits: &[Edit]) -> String {
    let mut doc = base.clone();
    let mut text = None::<String>;
    for e in edits {
        if let Some(t) = text.as_mut() {
            // Once the text is broken, only text edits apply.
            text_edit(t, e);
            continue;
        }
        let mut all = Vec::new();
        pointers(&doc, String::new(), &mut all);
        let pick = |i: usize| all.get(i % all.len().max(1)).cloned();
        match e {
            Edit::Replace(i, v) => {
                if let Some(node) = pick(*i).and_then(|p| doc.pointer_mut(&p)) {
                    *node = v.clone();
                }
            }
            Edit::Wrap(i) => {
                if let Some(node) = pick(*i).and_then(|p| doc.pointer_mut(&p)) {
                    *node = Value::Array(vec![node.take()]);
                }
            }
            Edit::Remove(i) => {
                if let Some(p) = pick(*i) {
                    let (parent, key) = p.rsplit_once('/').unwrap_or(("", ""));
                    match doc.pointer_mut(parent) {
                        Some(Value::Object(map)) => {
                            map.remove(&key.replace("~1", "/").replace("~0", "~"));
                        }
                        Some(Value::Array(items)) => {
                            if let Ok(k) = key.parse::<usize>() {
                                if k < items.len() {
                                    items.remove(k);
                                }
                            }
                        }
                        _ => {}
                    }
                }
            }
            Edit::Cut(_) | Edit::Splice(..) => {
                let mut t = serde_json::to_string_pretty(&doc).unwrap_or_default();
                text_edit(&mut t, e);
                text = Some(t);
            }
        }
    }
    text.unwrap_or_else(|| serde_json::to_string_pretty(&doc).unwrap_or_default())
}

fn text_edit(t: &mut String, e: &Edit) {
    let at = |i: usize, t: &str| {
        let mut i = i % (t.len() + 1);
        while !t.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    match e {
        Edit::Cut(i) => {
            let i = at(*i, t);
            t.truncate(i);
        }
        Edit::Splice(i, s) => {
            let i = at(*i, t);
            t.insert_str(i, s);
        }
        _ => {}
    }
}

fn example_snapshot() -> &'static Value {
    static DOC: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    DOC.get_or_init(|| {
        let text = std::fs::read_to_string(harness::example("contoso-compromised.json")).unwrap();
        serde_json::from_str(&text).unwrap()
    })
}

// ---- parsers -----------------------------------------------------------------------------

/// Mutated snapshots (and arbitrary text) never panic the snapshot parser, and a parse
/// never takes long.
#[test]
fn snapshot_parser_survives_mutated_snapshots() {
    let strategy = prop_oneof![
        9 => prop::collection::vec(edit(), 1..6).prop_map(|e| mutate_json(example_snapshot(), &e)),
        1 => ".{0,200}",
    ];
    runner(parser_cases())
        .run(&strategy, |text| {
            bounded(PARSE_LIMIT, move || {
                let _ = m365guard::snapshot::io::parse(Path::new("fuzz.json"), &text);
            })
        })
        .unwrap();
}

/// Pieces of m365guard.toml, valid and not, with secret-looking keys among them.
fn config_line() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        Just("client_secret"),
        Just("\"client_secret\""),
        Just("'client_secret'"),
        Just("connection.client_secret"),
        Just("secret"),
        Just("clientSecret"),
        Just("client-secret"),
        Just("CLIENT_SECRET"),
        Just("AZURE_CLIENT_SECRET"),
        Just("password"),
        Just("token"),
        Just("id"),
        Just("accounts"),
        Just("reason"),
        Just("rule"),
        Just("resource"),
        Just("expires"),
        Just("allowed_forwarding_domains"),
        Just("unknown_key"),
    ];
    // `{V}` is the secret under a secret-looking key and a harmless word under any other
    // (only the former must never be shown).
    let value = prop_oneof![
        Just("\"{V}\"".to_owned()),
        Just("'{V}'".to_owned()),
        Just("\"\"\"{V}\n".to_owned()),
        Just("'''{V}\n".to_owned()),
        Just("[\"{V}\", ".to_owned()),
        Just("{ value = \"{V}\" ".to_owned()),
        Just("{V}".to_owned()),
        Just("\"breakglass01@contoso.onmicrosoft.com\"".to_owned()),
        Just("[\"a@b.example\"]".to_owned()),
        Just("2027-03-31".to_owned()),
        Just("2027-13-99".to_owned()),
        Just("42".to_owned()),
        "[ -~]{0,20}",
    ];
    prop_oneof![
        6 => (key, value).prop_map(|(k, v)| {
            let last = k.rsplit('.').next().unwrap_or(k);
            let secret = m365guard::diagnostic::is_secret_key(last);
            format!("{k} = {}", v.replace("{V}", if secret { SECRET } else { "harmless" }))
        }),
        2 => prop_oneof![
            Just("[tenant]"),
            Just("[break_glass]"),
            Just("[exchange]"),
            Just("[connection]"),
            Just("[[exception]]"),
            Just("[tenant"),
            Just("[[exception]"),
        ]
        .prop_map(str::to_owned),
        1 => "[ -~]{0,30}",
    ]
}

/// Random configs never panic the parser, and no error ever shows the secret value
/// written under a secret-looking key (issue 15 item 3, generalised).
#[test]
fn config_parser_never_panics_nor_echoes_a_secret() {
    let base = std::fs::read_to_string(harness::example("m365guard.toml")).unwrap();
    let strategy = (
        prop::collection::vec(config_line(), 0..12),
        any::<usize>(),
        any::<bool>(),
    )
        .prop_map(move |(lines, at, into_example)| {
            if !into_example {
                return lines.join("\n");
            }
            let mut all: Vec<String> = base.lines().map(str::to_owned).collect();
            let at = at % (all.len() + 1);
            for (i, l) in lines.into_iter().enumerate() {
                all.insert((at + i).min(all.len()), l);
            }
            all.join("\n")
        });
    runner(parser_cases())
        .run(&strategy, |text| {
            let shown = bounded(PARSE_LIMIT, {
                let text = text.clone();
                move || {
                    m365guard::config::Config::parse(Path::new("m365guard.toml"), &text)
                        .err()
                        .map(|d| format!("{d}\n{d:?}"))
                }
            })?;
            if let Some(shown) = shown {
                prop_assert!(
                    !shown.contains(&SECRET[..12]),
                    "the error shows the secret:\n{shown}\n--- input:\n{text}"
                );
            }
            Ok(())
        })
        .unwrap();
}

/// A valid plan (the compromised example's), made once by the binary.
fn example_plan() -> &'static Value {
    static PLAN: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    PLAN.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let out = harness::run(
            harness::m365guard(dir.path())
                .args(["fix", "plan", "--snapshot"])
                .arg(harness::example("contoso-compromised.json"))
                .arg("--config")
                .arg(harness::example("m365guard.toml"))
                .args(["-o", "plan.json"]),
        );
        assert_eq!(out.code, 0, "{}", out.stderr);
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("plan.json")).unwrap())
            .unwrap()
    })
}

/// Mutated plans never panic the plan parser; a plan it accepts passed its own
/// consistency check (UUID plan id, valid identifiers) and survives a round trip.
#[test]
fn plan_parser_survives_mutated_plans() {
    let plan = example_plan();
    let strategy = prop::collection::vec(edit(), 1..5).prop_map(|e| mutate_json(plan, &e));
    runner(parser_cases())
        .run(&strategy, |text| {
            let failure = bounded(PARSE_LIMIT, move || {
                let now = Utc::now();
                let plan = m365guard::fix::plan::Plan::parse("plan.json", &text, now).ok()?;
                if let Err(e) = plan.check_consistency() {
                    return Some(format!("accepted but inconsistent: {e}"));
                }
                let again = plan.to_json().ok()?;
                match m365guard::fix::plan::Plan::parse("plan.json", &again, now) {
                    Ok(_) => None,
                    Err(e) => Some(format!("accepted plan does not parse again: {e}")),
                }
            })?;
            prop_assert!(failure.is_none(), "{}", failure.unwrap_or_default());
            Ok(())
        })
        .unwrap();
}

/// Arbitrary audit logs (torn lines, other tools' lines, random bytes) never panic the
/// reader of completed actions, and only lines of the asked plan count.
#[test]
fn audit_log_reader_survives_arbitrary_logs() {
    let plan_id = "0f8fad5b-d9cb-469f-a165-70867728950e";
    let line = prop_oneof![
        Just(format!(
            r#"{{"plan_id":"{plan_id}","action_id":"a01","outcome":"applied"}}"#
        )),
        Just(r#"{"plan_id":"other","action_id":"a02","outcome":"applied"}"#.to_owned()),
        Just(format!(
            r#"{{"plan_id":"{plan_id}","action_id":"a03","outcome":"failed"}}"#
        )),
        Just(format!(
            r#"{{"plan_id":"{plan_id}","action_id":7,"outcome":"applied"}}"#
        )),
        Just(format!(r#"{{"plan_id":"{plan_id}","action_id":"a0"#)),
        ".{0,60}",
    ];
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    runner(parser_cases())
        .run(&prop::collection::vec(line, 0..10), |lines| {
            std::fs::write(&path, lines.join("\n")).unwrap();
            let path = path.clone();
            let done = bounded(PARSE_LIMIT, move || {
                m365guard::fix::audit::completed(&path, plan_id)
            })?;
            let done = done.map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert!(!done.contains("a02") && !done.contains("a03"), "{done:?}");
            Ok(())
        })
        .unwrap();
}

/// Evidence file names come from plan data (action ids, target names): whatever the
/// name, the file lands inside the evidence directory, is created 0600 and never
/// replaces an earlier one.
#[test]
fn evidence_names_never_leave_the_directory_nor_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let evidence = m365guard::fix::evidence::Evidence::create(&dir.path().join("ev")).unwrap();
    let name = prop_oneof![
        ".{0,40}",
        Just("../../escape".to_owned()),
        Just("/etc/passwd".to_owned()),
        Just("..".to_owned()),
        Just(String::new()),
        Just("a\u{0}b".to_owned()),
        Just("x".repeat(300)),
    ];
    runner(parser_cases())
        .run(&name, |name| {
            let first = evidence.save("fuzz", &serde_json::json!({ "n": 1 }));
            let a = evidence.save_bytes(&name, "json", b"one");
            let b = evidence.save_bytes(&name, "json", b"two");
            drop(first);
            // A name too long for the file system is an error, never a file elsewhere.
            if let (Ok(a), Ok(b)) = (a, b) {
                prop_assert_ne!(&a, &b);
                for p in [&a, &b] {
                    prop_assert_eq!(p.parent(), Some(evidence.dir()), "{:?}", p);
                    #[cfg(unix)]
                    {
                        use std::os::unix::fs::PermissionsExt;
                        let mode = std::fs::metadata(p).unwrap().permissions().mode();
                        prop_assert_eq!(mode & 0o777, 0o600);
                    }
                }
                prop_assert_eq!(std::fs::read(&a).unwrap(), b"one");
                prop_assert_eq!(std::fs::read(&b).unwrap(), b"two");
            }
            Ok(())
        })
        .unwrap();
    // Nothing was written beside the evidence directory.
    let outside: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(outside, vec![std::ffi::OsString::from("ev")]);
}

// ---- the HTTP client against scripted hostile answers -----------------------------------

/// Links an answer may carry: on the configured server (`{self}`), to the capture server,
/// and look-alikes that must not count as the configured server.
fn link() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (0u32..4).prop_map(|n| format!("{{self}}/v1.0/users?$skiptoken=p{n}")),
        2 => Just("{capture}/v1.0/users?$skiptoken=x".to_owned()),
        1 => Just("{capture}/adminapi/beta/x/InvokeCommand?$skiptoken=x".to_owned()),
        1 => Just("{self}@{capture}/v1.0/users".to_owned()),
        1 => Just("//127.0.0.1:1/v1.0/users".to_owned()),
        1 => Just("/v1.0/users?$skiptoken=rel".to_owned()),
        1 => Just("HTTP://LOCALHOST:1/v1.0/users".to_owned()),
        1 => Just("{capture}\\@{self}/v1.0/users".to_owned()),
        1 => ".{0,20}",
    ]
}

fn raw_body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b"{}".to_vec()),
        Just(br#"{"value":[]}"#.to_vec()),
        Just(br#"{"value":null}"#.to_vec()),
        Just(br#"{"value":{"id":1}}"#.to_vec()),
        Just(br#"{"value":[1,"x",null,[]]}"#.to_vec()),
        Just(br#"{"value":[],"@odata.nextLink":42}"#.to_vec()),
        Just(br#"{"value":[],"@odata.nextLink":"{capture}/v1.0/users"}"#.to_vec()),
        Just(br#"{"error":{"code":"Authorization_RequestDenied","message":"denied"}}"#.to_vec()),
        Just(br#"{"error":"x","error_description":"AADSTS7000215: bad secret","error_codes":[7000215]}"#.to_vec()),
        Just(br#"{"token_type":"Bearer","expires_in":-5,"access_token":""}"#.to_vec()),
        Just(br#"{"token_type":"Bearer","expires_in":1e400,"access_token":"x"}"#.to_vec()),
        Just(br#"{"token_type":"Bearer","access_token":"a.b.c"}"#.to_vec()),
        Just(br#"{"token_type":"Bearer","expires_in":3600,"access_token":"a\r\nX-Evil: 1"}"#.to_vec()),
        Just(br#"{"token_type":"Bearer","expires_in":3600,"access_token":"\u00e9\u0000"}"#.to_vec()),
        Just(br#"{"responses":[{"id":"1","status":200,"body":{"value":[],"@odata.nextLink":"{capture}/v1.0/users"}}]}"#.to_vec()),
        Just(br#"{"responses":[{"id":"0","status":429,"headers":{"Retry-After":"0"},"body":{}},{"id":"1","status":302,"headers":{"Location":"{capture}/x"}}]}"#.to_vec()),
        Just(br#"{"responses":"nope"}"#.to_vec()),
        Just(b"The maximum number of concurrent requests has been reached".to_vec()),
        Just(vec![b'['; 5000]),
        Just(vec![0xff, 0xfe, 0x00, 0x7b]),
        prop::collection::vec(any::<u8>(), 0..64),
        ".{0,64}".prop_map(String::into_bytes),
    ]
}

fn retry_after() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "0", "0.01", "-1", "NaN", "inf", "1e400", "abc", "", "3", "120", "99999",
    ])
}

/// A `$batch` answer for the items `get_each` sends (ids 0, 1, 2), with unknown and
/// missing ids, any status, `Retry-After` inside items and bodies that link elsewhere.
fn batch_body() -> impl Strategy<Value = Vec<u8>> {
    let item = (
        prop::sample::select(vec!["0", "1", "2", "9", "01"]),
        prop::sample::select(vec![200u16, 204, 302, 400, 403, 404, 424, 429, 503, 504]),
        prop::option::of(retry_after()),
        prop::option::of(link()),
    )
        .prop_map(|(id, status, retry, next)| {
            let mut item =
                serde_json::json!({ "id": id, "status": status, "body": { "value": [] } });
            if let Some(r) = retry {
                item["headers"] = serde_json::json!({ "Retry-After": r });
            }
            if let Some(n) = next {
                item["body"]["@odata.nextLink"] = Value::from(n);
            }
            item
        });
    prop::collection::vec(item, 0..5).prop_map(|items| {
        serde_json::json!({ "responses": items })
            .to_string()
            .into_bytes()
    })
}

fn header() -> impl Strategy<Value = (String, String)> {
    let h = |k: &str, v: &str| (k.to_owned(), v.to_owned());
    prop_oneof![
        3 => retry_after().prop_map(|v| ("Retry-After".to_owned(), v.to_owned())),
        2 => link().prop_map(|l| ("Location".to_owned(), l)),
        1 => Just(h("Content-Type", "application/json")),
        1 => Just(h("Content-Type", "text/html; charset=utf-16")),
        1 => Just(h("Content-Length", "abc")),
        1 => Just(h("Content-Encoding", "gzip")),
        1 => Just(h("request-id", "\u{7f}x")),
        1 => Just(h("X-Bad", "a\rb")),
        1 => "[ -~]{0,30}".prop_map(|v| ("X-Junk".to_owned(), v)),
    ]
}

fn status() -> impl Strategy<Value = u16> {
    prop_oneof![
        10 => Just(200u16),
        1 => Just(201u16),
        1 => Just(204u16),
        3 => prop::sample::select(vec![301u16, 302, 303, 307, 308]),
        3 => prop::sample::select(vec![400u16, 401, 403, 404, 409]),
        3 => prop::sample::select(vec![429u16, 500, 503, 504]),
        1 => prop::sample::select(vec![100u16, 101, 102, 103, 199]),
        1 => 0u16..1000,
    ]
}

fn wire() -> impl Strategy<Value = Wire> {
    prop_oneof![
        12 => Just(Wire::Normal),
        1 => Just(Wire::Drop),
        1 => (0usize..64).prop_map(Wire::Truncate),
        1 => prop_oneof![0u64..64, Just(1u64 << 40), Just(u64::MAX)].prop_map(Wire::Length),
        1 => Just(Wire::Unframed),
        1 => (4usize..64, 0u64..5).prop_map(|(chunk, delay_ms)| Wire::Slow { chunk, delay_ms }),
    ]
}

fn answer() -> impl Strategy<Value = Answer> {
    let body = prop_oneof![
        4 => prop::option::of(link()).prop_map(|next| Body::Page { next }),
        1 => Just(Body::Token),
        4 => raw_body().prop_map(Body::Raw),
        2 => batch_body().prop_map(Body::Raw),
    ];
    (
        status(),
        prop::collection::vec(header(), 0..3),
        body,
        wire(),
    )
        .prop_map(|(status, headers, body, wire)| Answer {
            status,
            headers,
            body,
            wire,
        })
}

fn token_answer() -> impl Strategy<Value = Answer> {
    prop_oneof![
        3 => Just(Answer {
            status: 200,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: Body::Token,
            wire: Wire::Normal,
        }),
        1 => answer(),
    ]
}

/// What a scripted case asks the client to do.
#[derive(Debug, Clone, Copy)]
enum Op {
    Token,
    GraphGet,
    GraphGetAll,
    GraphGetEach,
    ExchangeInvoke,
}

#[derive(Debug, Clone)]
struct Script {
    token: Vec<Answer>,
    api: Vec<Answer>,
}

fn script() -> impl Strategy<Value = Script> {
    (
        prop_oneof![
            3 => Just(vec![]),
            1 => prop::collection::vec(token_answer(), 1..3),
        ],
        prop::collection::vec(answer(), 0..6),
    )
        .prop_map(|(token, api)| Script { token, api })
}

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

/// The same small ceilings as tests/hostile.rs sets (the process environment is shared
/// by every test of the binary, so they must agree): 50 pages, 2 s of retry waits.
fn small_ceilings() {
    std::env::set_var("M365GUARD_MAX_PAGES", "50");
    std::env::set_var("M365GUARD_MAX_RETRY_SECONDS", "2");
}

const HTTP_LIMIT: Duration = Duration::from_secs(60);

/// One case: a fresh scripted server, the operation on a fresh client under the watchdog,
/// then the properties.
fn http_case(capture: &Hostile, script: Script, op: Op) -> Result<(), TestCaseError> {
    let server = hostile::spawn(Mode::Script {
        token: script.token,
        api: script.api,
        capture: capture.base_url.clone(),
    })
    .map_err(|e| TestCaseError::fail(e.to_string()))?;
    let base = server.base_url.clone();
    let started = Instant::now();
    let error = bounded(HTTP_LIMIT, move || {
        let agent = m365guard::collect::agent();
        let tokens = TokenProvider::new(settings(&base), agent.clone());
        let graph = || GraphClient::new(&tokens, agent.clone());
        let err = |e: &dyn std::fmt::Display| Some(e.to_string());
        match op {
            Op::Token => tokens.token(GRAPH_SCOPE).err().and_then(|e| err(&e)),
            Op::GraphGet => graph()
                .get("/v1.0/organization")
                .err()
                .and_then(|e| err(&e)),
            Op::GraphGetAll => graph().get_all("/v1.0/users").err().and_then(|e| err(&e)),
            Op::GraphGetEach => {
                let paths: Vec<String> = (0..3).map(|i| format!("/users/u{i}")).collect();
                graph()
                    .get_each("v1.0", &paths)
                    .into_iter()
                    .find_map(|r| r.err())
                    .and_then(|e| err(&e))
            }
            Op::ExchangeInvoke => ExchangeClient::new(&tokens, agent.clone())
                .invoke("Get-Mailbox", serde_json::json!({}))
                .err()
                .and_then(|e| err(&e)),
        }
    })?;
    let seen = capture.requests();
    prop_assert!(
        seen.is_empty(),
        "a request reached a host m365guard was not configured for: {seen:#?}"
    );
    for request in server.requests() {
        let is_token = request.path.ends_with("/oauth2/v2.0/token");
        prop_assert!(
            is_token || !request.body.contains(SECRET),
            "the client secret was sent to {}",
            request.path
        );
        prop_assert!(
            !is_token || request.authorization.is_none(),
            "a bearer token was sent to the token endpoint"
        );
    }
    if let Some(text) = error {
        prop_assert!(!text.contains(SECRET), "the secret in an error: {text}");
        prop_assert!(
            !text.contains("Bearer "),
            "a bearer header in an error: {text}"
        );
        prop_assert!(!text.contains("eyJ"), "a token in an error: {text}");
    }
    prop_assert!(started.elapsed() < HTTP_LIMIT);
    Ok(())
}

fn http_property(ops: &'static [Op]) {
    small_ceilings();
    let capture = hostile::spawn(Mode::Capture).unwrap();
    let strategy = (script(), prop::sample::select(ops));
    runner(parser_cases() / 10)
        .run(&strategy, |(script, op)| http_case(&capture, script, op))
        .unwrap();
}

/// Sign-in against a scripted token endpoint.
#[test]
fn token_requests_survive_hostile_answers() {
    http_property(&[Op::Token]);
}

/// Graph: single requests, paging and `$batch`.
#[test]
fn graph_client_survives_hostile_answers() {
    http_property(&[Op::GraphGet, Op::GraphGetAll, Op::GraphGetEach]);
}

/// Exchange's InvokeCommand paging.
#[test]
fn exchange_client_survives_hostile_answers() {
    http_property(&[Op::ExchangeInvoke]);
}

// ---- the binary: exit codes from the documented set --------------------------------------

const EXIT_CODES: [i32; 4] = [0, 1, 2, 3];
const BINARY_LIMIT: Duration = Duration::from_secs(120);

/// Run the binary under a watchdog; `(code, stdout, stderr)`.
fn run_bounded(mut cmd: std::process::Command) -> Result<(i32, String, String), TestCaseError> {
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd
        .spawn()
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut stdout, &mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut s);
        s
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > BINARY_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            return Err(TestCaseError::fail(format!(
                "m365guard did not finish in {BINARY_LIMIT:?}"
            )));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Ok((
        status.code().unwrap_or(-1),
        out.join().unwrap_or_default(),
        err.join().unwrap_or_default(),
    ))
}

/// `collect` against scripted hostile answers: a documented exit code, no secret or token
/// in its output, nothing sent to the capture server.
#[test]
fn collect_against_hostile_answers_exits_with_a_documented_code() {
    let capture = hostile::spawn(Mode::Capture).unwrap();
    let strategy = prop::collection::vec(answer(), 0..20);
    runner((parser_cases() / 100).max(4))
        .run(&strategy, |api| {
            let server = hostile::spawn(Mode::Script {
                token: vec![],
                api,
                capture: capture.base_url.clone(),
            })
            .unwrap();
            let dir = tempfile::tempdir().unwrap();
            let mut cmd = harness::m365guard(dir.path());
            cmd.args(["collect", "-o", "snapshot.json"])
                .env("AZURE_TENANT_ID", hostile::TENANT)
                .env("AZURE_CLIENT_ID", "11111111-2222-4333-8444-555555555555")
                .env("AZURE_CLIENT_SECRET", SECRET)
                .env("M365GUARD_AUTHORITY_HOST", &server.base_url)
                .env("M365GUARD_GRAPH_URL", &server.base_url)
                .env("M365GUARD_EXCHANGE_URL", &server.base_url)
                .env("M365GUARD_MAX_PAGES", "50")
                .env("M365GUARD_MAX_RETRY_SECONDS", "2");
            let (code, stdout, stderr) = run_bounded(cmd)?;
            prop_assert!(EXIT_CODES.contains(&code), "exit {code}: {stderr}");
            prop_assert!(!stderr.contains("panicked"), "{stderr}");
            for text in [&stdout, &stderr] {
                prop_assert!(!text.contains(SECRET) && !text.contains("eyJ"), "{text}");
            }
            if let Ok(snapshot) = std::fs::read_to_string(dir.path().join("snapshot.json")) {
                prop_assert!(!snapshot.contains(SECRET) && !snapshot.contains("eyJ"));
            }
            prop_assert!(capture.requests().is_empty(), "{:#?}", capture.requests());
            Ok(())
        })
        .unwrap();
}

/// `scan` of a mutated snapshot with a mutated config: a documented exit code, always.
#[test]
fn scan_of_hostile_files_exits_with_a_documented_code() {
    let strategy = (
        prop::collection::vec(edit(), 1..6).prop_map(|e| mutate_json(example_snapshot(), &e)),
        prop::collection::vec(config_line(), 0..4),
    );
    runner((parser_cases() / 100).max(4))
        .run(&strategy, |(snapshot, config)| {
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join("snapshot.json"), &snapshot).unwrap();
            std::fs::write(dir.path().join("m365guard.toml"), config.join("\n")).unwrap();
            let mut cmd = harness::m365guard(dir.path());
            cmd.args([
                "scan",
                "--snapshot",
                "snapshot.json",
                "--format",
                "json",
                "-o",
                "report.json",
            ]);
            let (code, _, stderr) = run_bounded(cmd)?;
            prop_assert!(EXIT_CODES.contains(&code), "exit {code}: {stderr}");
            prop_assert!(!stderr.contains("panicked"), "{stderr}");
            prop_assert!(!stderr.contains(SECRET), "{stderr}");
            Ok(())
        })
        .unwrap();
}

/// `fix apply` of a mutated plan (made against the emulator, so tenant and digest match
/// until an edit changes them) against the emulator: a documented exit code, no panic, no
/// secret, token or generated password on the terminal.
#[test]
fn fix_apply_of_mutated_plans_exits_with_a_documented_code() {
    let emu = harness::start();
    let secret = emu.client_secret().unwrap().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let out = harness::run(harness::m365guard_against(&emu, dir.path()).args([
        "fix",
        "plan",
        "--tenant",
        &emu.tenant_id(),
        "-o",
        "plan.json",
    ]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let plan: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("plan.json")).unwrap())
            .unwrap();
    let strategy = prop::collection::vec(edit(), 0..4).prop_map(move |e| mutate_json(&plan, &e));
    runner((parser_cases() / 100).max(4))
        .run(&strategy, |text| {
            let case = tempfile::tempdir().unwrap();
            std::fs::write(case.path().join("plan.json"), &text).unwrap();
            let mut cmd = harness::m365guard_against(&emu, case.path());
            cmd.args(["fix", "apply", "plan.json", "--yes"])
                .stdin(std::process::Stdio::null());
            let (code, stdout, stderr) = run_bounded(cmd)?;
            prop_assert!(EXIT_CODES.contains(&code), "exit {code}: {stderr}");
            prop_assert!(!stderr.contains("panicked"), "{stderr}");
            harness::assert_no_leaks([stdout.as_str(), stderr.as_str()], &[&secret]);
            Ok(())
        })
        .unwrap();
}

/// The scripted mode has teeth: a client without the origin check (plain ureq following
/// the `@odata.nextLink` it is given) does reach the capture server, so the HTTP
/// properties above would see a leak if m365guard's client had one.
#[test]
fn script_mode_lures_a_naive_client_to_the_capture_server() {
    let capture = hostile::spawn(Mode::Capture).unwrap();
    let server = hostile::spawn(Mode::Script {
        token: vec![],
        api: vec![Answer {
            status: 200,
            headers: vec![],
            body: Body::Page {
                next: Some("{capture}/v1.0/users?$skiptoken=x".into()),
            },
            wire: Wire::Slow {
                chunk: 16,
                delay_ms: 1,
            },
        }],
        capture: capture.base_url.clone(),
    })
    .unwrap();
    let agent: ureq::Agent = ureq::Agent::config_builder().build().into();
    let text = agent
        .get(&format!("{}/v1.0/users", server.base_url))
        .header("Authorization", "Bearer naive")
        .call()
        .unwrap()
        .body_mut()
        .read_to_string()
        .unwrap();
    let page: Value = serde_json::from_str(&text).unwrap();
    let next = page["@odata.nextLink"].as_str().unwrap();
    assert!(next.starts_with(&capture.base_url), "{next}");
    agent
        .get(next)
        .header("Authorization", "Bearer naive")
        .call()
        .unwrap();
    let seen = capture.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].authorization.as_deref(), Some("Bearer naive"));
}

// ---- regressions found by the properties above ------------------------------------------

/// Found by `graph_client_survives_hostile_answers`: `$batch` items answered 429 with
/// `Retry-After: 120` were resent round after round, each round waiting the item's
/// `Retry-After` outside the per-request retry budget (6 rounds, 10 minutes). The waits
/// between rounds now count against `M365GUARD_MAX_RETRY_SECONDS` too.
#[test]
fn batch_items_throttled_for_minutes_stop_at_the_retry_budget() {
    small_ceilings();
    let capture = hostile::spawn(Mode::Capture).unwrap();
    let throttled = serde_json::json!({ "responses": (0..3).map(|i| serde_json::json!({
        "id": i.to_string(), "status": 429, "headers": { "Retry-After": "120" }, "body": {}
    })).collect::<Vec<_>>() });
    let answer = Answer {
        status: 200,
        headers: vec![],
        body: Body::Raw(throttled.to_string().into_bytes()),
        wire: Wire::Normal,
    };
    let script = Script {
        token: vec![],
        api: vec![answer; 8],
    };
    let started = Instant::now();
    http_case(&capture, script.clone(), Op::GraphGetEach).unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "held for {:?}",
        started.elapsed()
    );
    // The error of each item says it was throttled until the budget ran out.
    let server = hostile::spawn(Mode::Script {
        token: vec![],
        api: script.api,
        capture: capture.base_url.clone(),
    })
    .unwrap();
    let agent = m365guard::collect::agent();
    let tokens = TokenProvider::new(settings(&server.base_url), agent.clone());
    let paths: Vec<String> = (0..3).map(|i| format!("/users/u{i}")).collect();
    for result in GraphClient::new(&tokens, agent).get_each("v1.0", &paths) {
        let err = result.unwrap_err().to_string();
        assert!(err.contains("429"), "{err}");
    }
    assert_eq!(server.requests().len(), 2, "token + one batch round");
}
