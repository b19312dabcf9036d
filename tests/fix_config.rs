//! Issue 10 item 9: the m365guard.toml travels from `scan` to `fix plan` to `fix apply`.
//!
//! Offline (example snapshot): every command m365guard suggests carries `--config` (and
//! `--rule` after a narrowed scan), and the suggested `fix plan`, run as printed, leaves
//! the break-glass account alone and records the break-glass set and the config's SHA-256.
//! Against the emulator: `fix apply` refuses a plan made with another config unless
//! `--force-config-change`, and even then never acts on a break-glass account that only
//! one of the two configs declares.

use std::path::Path;

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::harness::{self, read_json, Out, Scenario};

const BREAK_GLASS: &str = "breakglass01@contoso.onmicrosoft.com";
const BREAK_GLASS_ID: &str = "0a9b8c7d-6e5f-4a3b-9c2d-1e0f9a8b7c6d";
const LENA: &str = "lena.fischer@contoso.com";

fn snapshot() -> String {
    harness::example("contoso-compromised.json")
        .to_str()
        .unwrap()
        .to_owned()
}

fn example_config_text() -> String {
    std::fs::read_to_string(harness::example("m365guard.toml")).unwrap()
}

fn sha256_of(path: &Path) -> String {
    format!("sha256:{:x}", Sha256::digest(std::fs::read(path).unwrap()))
}

/// The binary without a tenant (the example snapshot), checked for leaked tokens.
fn offline(dir: &Path, args: &[&str]) -> Out {
    let out = harness::run(harness::m365guard(dir).args(args));
    harness::assert_no_leaks([out.stdout.as_str(), out.stderr.as_str()], &[]);
    out
}

/// Split a command line as a POSIX shell would, for the quoting `shell_word` produces
/// (plain words and single-quoted words with `'\''`).
fn shell_split(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                for q in chars.by_ref() {
                    if q == '\'' {
                        break;
                    }
                    word.push(q);
                }
            }
            '\\' => {
                in_word = true;
                word.extend(chars.next());
            }
            ' ' => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

/// The `fix plan` command of the table's "have an automatic fix" line, as arguments.
fn suggested_plan_command(stdout: &str) -> Vec<String> {
    let line = stdout
        .lines()
        .find(|l| l.contains("have an automatic fix: "))
        .unwrap_or_else(|| panic!("no fix suggestion in:\n{stdout}"));
    let start = line.find("m365guard fix plan").unwrap();
    let end = line.find(" (then review").unwrap();
    let words = shell_split(&line[start..end]);
    assert_eq!(words[0], "m365guard");
    words[1..].to_vec()
}

fn targets_break_glass(plan: &Value) -> Vec<String> {
    plan["actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| {
            let t = a["target"].to_string().to_lowercase();
            t.contains("breakglass01") || t.contains(BREAK_GLASS_ID)
        })
        .map(|a| a["kind"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn scan_suggests_the_config_and_the_suggested_plan_leaves_break_glass_alone() {
    let dir = tempfile::tempdir().unwrap();
    // A path with a space: the suggestion must quote it so it runs as printed.
    let config = dir.path().join("my config.toml");
    std::fs::write(&config, example_config_text()).unwrap();
    let snapshot = snapshot();
    let out = offline(
        dir.path(),
        &[
            "scan",
            "--snapshot",
            &snapshot,
            "--config",
            "my config.toml",
        ],
    );
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains("`m365guard fix apply plan.json --config 'my config.toml'`"),
        "{}",
        out.stdout
    );
    let args = suggested_plan_command(&out.stdout);
    let pos = args.iter().position(|a| a == "--config").expect("--config");
    assert_eq!(args[pos + 1], "my config.toml", "{args:?}");
    assert!(
        !args.iter().any(|a| a == "--rule"),
        "a full scan plans every rule: {args:?}"
    );

    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let planned = offline(dir.path(), &args);
    assert_eq!(planned.code, 0, "{}\n{}", planned.stdout, planned.stderr);
    assert!(
        planned
            .stdout
            .contains("m365guard fix apply plan.json --config 'my config.toml'"),
        "{}",
        planned.stdout
    );
    let plan = read_json(&dir.path().join("plan.json"));
    assert_eq!(plan["plan_version"], 2);
    assert_eq!(
        targets_break_glass(&plan),
        Vec::<String>::new(),
        "the suggested plan acts on the break-glass account"
    );
    assert_eq!(plan["break_glass"], serde_json::json!([BREAK_GLASS]));
    assert_eq!(plan["config"]["path"], "my config.toml");
    assert_eq!(plan["config"]["digest"], sha256_of(&config).as_str());

    // What the suggestion used to be (no --config): it plans enforce_mfa on the account.
    let bare = offline(
        dir.path(),
        &["fix", "plan", "--snapshot", &snapshot, "-o", "bare.json"],
    );
    assert_eq!(bare.code, 0, "{}", bare.stderr);
    let bare = read_json(&dir.path().join("bare.json"));
    assert!(targets_break_glass(&bare).contains(&"enforce_mfa".to_owned()));
    assert_eq!(bare["config"], Value::Null);
}

#[test]
fn every_report_suggests_the_config_and_shows_exception_keys() {
    let dir = tempfile::tempdir().unwrap();
    let config = harness::example("m365guard.toml");
    let config = config.to_str().unwrap();
    let snapshot = snapshot();
    let mut args = vec!["scan", "--snapshot", &snapshot, "--config", config];
    args.extend([
        "--out", "out", "-f", "markdown", "-f", "html", "-f", "sarif",
    ]);
    args.extend(["-f", "json", "-q"]);
    let out = offline(dir.path(), &args);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let read = |name: &str| std::fs::read_to_string(dir.path().join("out").join(name)).unwrap();
    let with_config = format!("--config {config}");
    for name in ["m365guard.md", "m365guard.html", "m365guard.sarif"] {
        // HTML escapes `/`; the command is the same once unescaped.
        let text = read(name).replace("&#x2f;", "/");
        assert!(text.contains("fix plan --snapshot"), "{name}");
        let plans = text.matches("fix plan --snapshot").count();
        let configs = text.matches(&format!("{with_config} --rule")).count();
        assert_eq!(plans, configs, "{name}: a fix command without --config");
        assert!(
            text.contains(&format!("fix apply plan.json {with_config}")),
            "{name}"
        );
    }

    // Lena's forwarding inbox rule: its exception keys name her mailbox, in every format.
    let json: Value = serde_json::from_str(&read("m365guard.json")).unwrap();
    let rule = json["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "inbox_rule_external_forwarding")
        .unwrap();
    let finding = &rule["findings"][0];
    let keys = &finding["exception_keys"];
    assert_eq!(keys["rule"], "inbox_rule_external_forwarding");
    let resource: Vec<&str> = keys["resource"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
    assert!(resource.contains(&LENA), "{resource:?}");
    assert!(resource.contains(&finding["resource"]["id"].as_str().unwrap()));
    let every_finding_has_keys = json["rules"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["findings"].as_array().unwrap())
        .all(|f| f["exception_keys"]["rule"] == f["rule_id"]);
    assert!(every_finding_has_keys);

    let sarif: Value = serde_json::from_str(&read("m365guard.sarif")).unwrap();
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    let sarif_keys = results
        .iter()
        .find(|r| r["ruleId"] == "inbox_rule_external_forwarding")
        .map(|r| &r["properties"]["exceptionKeys"])
        .unwrap();
    assert_eq!(sarif_keys, keys);
    assert!(results
        .iter()
        .all(|r| r["properties"]["exceptionKeys"]["rule"] == r["ruleId"]));
    assert!(read("m365guard.html").contains(&format!("<code>{LENA}</code>")));
    assert!(read("m365guard.md").contains("lena.fischer@contoso.com"));
}

#[test]
fn a_narrowed_scan_suggests_only_its_rules() {
    let dir = tempfile::tempdir().unwrap();
    let snapshot = snapshot();
    let config = harness::example("m365guard.toml");
    let args = [
        "scan",
        "--snapshot",
        &snapshot,
        "--config",
        config.to_str().unwrap(),
        "--baseline",
        "roadmap-30d",
    ];
    let out = offline(dir.path(), &args);
    let suggested = suggested_plan_command(&out.stdout);
    let rules: Vec<&str> = suggested
        .windows(2)
        .filter(|w| w[0] == "--rule")
        .map(|w| w[1].as_str())
        .collect();
    assert!(!rules.is_empty(), "{suggested:?}");
    assert!(suggested.iter().any(|a| a == "--config"));
    let args: Vec<&str> = suggested.iter().map(String::as_str).collect();
    let planned = offline(dir.path(), &args);
    assert_eq!(planned.code, 0, "{}", planned.stderr);
    let plan = read_json(&dir.path().join("plan.json"));
    for action in plan["actions"].as_array().unwrap() {
        for fixed in action["fixes"].as_array().unwrap() {
            let rule = fixed["rule_id"].as_str().unwrap();
            assert!(rules.contains(&rule), "{rule} is outside {rules:?}");
        }
    }
}

// ---- fix apply against the emulator ------------------------------------------------------

/// `fix plan --tenant … --rule mfa_not_enforced` with `config` (a file in the scenario's
/// folder).
fn plan(env: &Scenario, config: &str) -> Value {
    env.plan(&["--rule", "mfa_not_enforced", "--config", config])
}

/// `fix apply <plan> --yes --no-verify [extra…]`.
fn apply(env: &Scenario, plan: &str, extra: &[&str]) -> Out {
    let mut args = vec!["--no-verify"];
    args.extend_from_slice(extra);
    env.apply_file(plan, &args)
}

fn break_glass_mfa(env: &Scenario) -> String {
    env.emu
        .state()
        .user(BREAK_GLASS)
        .unwrap()
        .per_user_mfa_state
        .clone()
}

/// The example config with its break-glass list replaced by `accounts`.
fn config_with_break_glass(accounts: &[&str]) -> String {
    let list: Vec<String> = accounts.iter().map(|a| format!("{a:?}")).collect();
    example_config_text().replace(
        &format!("accounts = [\"{BREAK_GLASS}\"]"),
        &format!("accounts = [{}]", list.join(", ")),
    )
}

#[test]
fn apply_refuses_a_plan_made_with_another_config_unless_forced() {
    let env = Scenario::contoso();
    std::fs::write(env.path("a.toml"), example_config_text()).unwrap();
    let plan = plan(&env, "a.toml");
    assert_eq!(
        plan["config"]["digest"],
        sha256_of(&env.path("a.toml")).as_str()
    );
    assert!(!plan["actions"].as_array().unwrap().is_empty());
    // The same settings, one comment more: another file, another digest.
    std::fs::write(
        env.path("b.toml"),
        example_config_text() + "\n# reviewed again\n",
    )
    .unwrap();
    let b_digest = sha256_of(&env.path("b.toml"));

    for extra in [&["--config", "b.toml"][..], &[][..]] {
        let out = apply(&env, "plan.json", extra);
        assert_eq!(out.code, 2, "{extra:?}: {}\n{}", out.stdout, out.stderr);
        let err = &out.stderr;
        for needle in [
            "a.toml",
            plan["config"]["digest"].as_str().unwrap(),
            "--force-config-change",
        ] {
            assert!(err.contains(needle), "{extra:?}: no {needle:?} in\n{err}");
        }
        let current = if extra.is_empty() {
            "no config"
        } else {
            &b_digest
        };
        assert!(err.contains(current), "{extra:?}: no {current:?} in\n{err}");
        assert!(env.writes().is_empty(), "{:#?}", env.writes());
        assert!(env.audit().is_empty(), "refused before any action");
    }

    let out = apply(
        &env,
        "plan.json",
        &["--config", "b.toml", "--force-config-change"],
    );
    assert!(
        out.stderr.contains("warning: --force-config-change"),
        "{}",
        out.stderr
    );
    let lines = env.audit();
    assert!(!lines.is_empty(), "{}\n{}", out.stdout, out.stderr);
    assert!(
        lines.iter().any(|l| l["outcome"] == "applied"),
        "{lines:#?}"
    );
    assert!(!env.writes().is_empty());
    assert_eq!(break_glass_mfa(&env), "disabled");

    // The same config as the plan's: no flag needed.
    let again = apply(&env, "plan.json", &["--config", "a.toml"]);
    assert!(
        !again.stderr.contains("--force-config-change"),
        "{}",
        again.stderr
    );
    assert_ne!(again.code, 2, "{}", again.stderr);
}

/// The plan was made with a config that does not declare the break-glass account (so it
/// plans enforce_mfa on it); the apply-time config declares it: never acted on.
#[test]
fn break_glass_only_in_the_current_config_is_never_acted_on() {
    let env = Scenario::contoso();
    std::fs::write(env.path("planned.toml"), config_with_break_glass(&[])).unwrap();
    let plan = plan(&env, "planned.toml");
    assert!(
        targets_break_glass(&plan).contains(&"enforce_mfa".to_owned()),
        "the scenario needs a plan that acts on the break-glass account"
    );
    std::fs::write(env.path("current.toml"), example_config_text()).unwrap();
    let out = apply(
        &env,
        "plan.json",
        &["--config", "current.toml", "--force-config-change"],
    );
    let lines = env.audit();
    let on_break_glass: Vec<&Value> = lines
        .iter()
        .filter(|l| {
            l["target"]
                .to_string()
                .to_lowercase()
                .contains("breakglass01")
        })
        .collect();
    assert_eq!(on_break_glass.len(), 1, "{}\n{lines:#?}", out.text());
    assert_eq!(on_break_glass[0]["outcome"], "refused");
    assert!(on_break_glass[0]["detail"]
        .as_str()
        .unwrap()
        .contains("break-glass"));
    assert!(
        lines.iter().any(|l| l["outcome"] == "applied"),
        "{lines:#?}"
    );
    assert_eq!(break_glass_mfa(&env), "disabled");
}

/// The plan's config declares the break-glass account; the apply-time config does not
/// (another account instead). A hand-edited action on the account is still refused.
#[test]
fn break_glass_only_in_the_plans_config_is_never_acted_on() {
    let env = Scenario::contoso();
    std::fs::write(env.path("planned.toml"), example_config_text()).unwrap();
    let plan = plan(&env, "planned.toml");
    assert_eq!(targets_break_glass(&plan), Vec::<String>::new());
    let mut edited = plan.clone();
    let actions = edited["actions"].as_array_mut().unwrap();
    let mut action = actions
        .iter()
        .find(|a| a["target"]["name"] == LENA)
        .unwrap()
        .clone();
    let target = action["target"].as_object_mut().unwrap();
    target.insert("id".into(), BREAK_GLASS_ID.into());
    target.insert("user_id".into(), BREAK_GLASS_ID.into());
    target.insert("user_principal_name".into(), BREAK_GLASS.into());
    target.insert("name".into(), BREAK_GLASS.into());
    action["depends_on"] = serde_json::json!([]);
    *actions = vec![action];
    std::fs::write(
        env.path("edited.json"),
        serde_json::to_string_pretty(&edited).unwrap(),
    )
    .unwrap();
    std::fs::write(
        env.path("current.toml"),
        config_with_break_glass(&["someone.else@contoso.com"]),
    )
    .unwrap();
    let out = apply(
        &env,
        "edited.json",
        &["--config", "current.toml", "--force-config-change"],
    );
    let lines = env.audit();
    assert_eq!(lines.len(), 1, "{}", out.text());
    assert_eq!(lines[0]["outcome"], "refused", "{}", lines[0]);
    assert!(env.writes().is_empty(), "{:#?}", env.writes());
    assert_eq!(break_glass_mfa(&env), "disabled");
}
