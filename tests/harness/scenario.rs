//! One end-to-end scenario against the emulator: the emulator, a working folder, and the
//! steps the e2e modules repeat — `scan` (JSON report parsed), `fix plan` (plan parsed),
//! `fix apply`, `collect`, `investigate`, the emulator's write log and the audit log — each
//! run of the binary signed in to the emulator and checked for leaked secrets. Modules
//! keep their own assertions; only the setup lives here.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use m365guard_emulator::{spawn, Emulator, EmulatorConfig, Options, WriteOp};
use serde_json::Value;

use super::{assert_no_leaks, m365guard_against, read_json, root, run, start, Out};

pub struct Scenario {
    pub emu: Emulator,
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
}

impl Scenario {
    /// The emulator serving scenario `contoso` (examples/contoso-compromised.json).
    pub fn contoso() -> Scenario {
        Scenario::with(start())
    }

    /// Scenario `contoso` with its configuration changed first (page sizes, grants, …).
    pub fn contoso_edited(edit: impl FnOnce(&mut EmulatorConfig)) -> Scenario {
        let path = root().join("tests/emulator/scenarios/contoso.toml");
        let mut cfg = EmulatorConfig::from_scenario_file(&path).expect("scenario loads");
        edit(&mut cfg);
        Scenario::with(spawn(cfg).expect("emulator starts on 127.0.0.1"))
    }

    pub fn with(emu: Emulator) -> Scenario {
        Scenario {
            emu,
            dir: tempfile::tempdir().expect("temporary folder"),
            env: Vec::new(),
        }
    }

    /// The emulator's options changed (page sizes, write answers, audit query behaviour).
    pub fn options(self, edit: impl FnOnce(&mut Options)) -> Scenario {
        let mut options = self.emu.options();
        edit(&mut options);
        self.emu.set_options(options);
        self
    }

    /// Set `key` for every run of the binary (e.g. `M365GUARD_CONCURRENCY=1`).
    pub fn env(mut self, key: &str, value: &str) -> Scenario {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    /// The working folder every run starts in (plans, reports, audit log, evidence).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir().join(name)
    }

    pub fn tenant(&self) -> String {
        self.emu.tenant_id()
    }

    /// The binary with `args`, signed in to the emulator, in [`Scenario::dir`]; fails the
    /// test if the client secret, a token or a bearer header shows in its output.
    pub fn run(&self, args: &[&str]) -> Out {
        let mut cmd = m365guard_against(&self.emu, self.dir());
        cmd.args(args);
        for (key, value) in &self.env {
            cmd.env(key, value);
        }
        let out = run(&mut cmd);
        let secret = self.emu.client_secret().unwrap_or_default();
        assert_no_leaks([out.stdout.as_str(), out.stderr.as_str()], &[&secret]);
        out
    }

    /// `scan <source…> -f json -q --out <out>` and its JSON report.
    pub fn scan_to(&self, source: &[&str], out: &str) -> Scan {
        let mut args = vec!["scan"];
        args.extend_from_slice(source);
        args.extend_from_slice(&["-f", "json", "-q", "--out", out]);
        let run = self.run(&args);
        let path = self.dir().join(out).join("m365guard.json");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("no report {} ({e}):\n{}", path.display(), run.stderr));
        Scan {
            code: run.code,
            report: serde_json::from_str(&text).expect("the JSON report parses"),
            out: run,
        }
    }

    /// `scan --tenant <id> [extra…]` into `report/`.
    pub fn scan(&self, extra: &[&str]) -> Scan {
        let tenant = self.tenant();
        let mut source = vec!["--tenant", tenant.as_str()];
        source.extend_from_slice(extra);
        self.scan_to(&source, "report")
    }

    /// `scan --tenant <id> --config m365guard.toml` with `toml` written to that file first.
    pub fn scan_with_config(&self, toml: &str) -> Scan {
        let config = self.path("m365guard.toml");
        std::fs::write(&config, toml).expect("the config is written");
        self.scan(&["--config", config.to_str().expect("UTF-8 path")])
    }

    /// `scan --snapshot <file>` into `out`.
    pub fn scan_snapshot(&self, snapshot: &Path, out: &str) -> Scan {
        let path = snapshot.to_str().expect("UTF-8 path");
        self.scan_to(&["--snapshot", path], out)
    }

    /// `fix plan --tenant <id> [extra…] -o <file>`; exit 0 asserted; the plan.
    pub fn plan_to(&self, file: &str, extra: &[&str]) -> Value {
        let tenant = self.tenant();
        let mut args = vec!["fix", "plan", "--tenant", tenant.as_str()];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["-o", file]);
        let out = self.run(&args);
        assert_eq!(out.code, 0, "fix plan: {}\n{}", out.stdout, out.stderr);
        self.read_json(file)
    }

    /// `fix plan --tenant <id> [extra…] -o plan.json`; the plan.
    pub fn plan(&self, extra: &[&str]) -> Value {
        self.plan_to("plan.json", extra)
    }

    /// `fix apply <file> --yes [extra…]` (the exit code is the caller's to check).
    pub fn apply_file(&self, file: &str, extra: &[&str]) -> Out {
        let mut args = vec!["fix", "apply", file, "--yes"];
        args.extend_from_slice(extra);
        self.run(&args)
    }

    /// `fix apply plan.json --yes [extra…]`.
    pub fn apply(&self, extra: &[&str]) -> Out {
        self.apply_file("plan.json", extra)
    }

    /// `collect -o snap.json`: its exit code and the snapshot.
    pub fn collect(&self) -> Collected {
        let out = self.run(&["collect", "-o", "snap.json"]);
        let path = self.path("snap.json");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("no snapshot {} ({e}):\n{}", path.display(), out.stderr));
        Collected {
            code: out.code,
            snapshot: serde_json::from_str(&text).expect("the snapshot parses"),
            out,
        }
    }

    /// `investigate --user <user> --since <since> -o case [extra…]` and its `evidence.json`,
    /// which is checked for leaked secrets too.
    pub fn investigate(&self, user: &str, since: &str, extra: &[&str]) -> (Out, Value) {
        let mut args = vec![
            "investigate",
            "--user",
            user,
            "--since",
            since,
            "-o",
            "case",
        ];
        args.extend_from_slice(extra);
        let out = self.run(&args);
        let text = std::fs::read_to_string(self.path("case/evidence.json"))
            .unwrap_or_else(|e| panic!("no evidence.json ({e}):\n{}\n{}", out.stdout, out.stderr));
        let secret = self.emu.client_secret().unwrap_or_default();
        assert_no_leaks([text.as_str()], &[&secret]);
        (
            out,
            serde_json::from_str(&text).expect("evidence.json parses"),
        )
    }

    /// The lines of `m365guard-audit.jsonl` (none before the first write).
    pub fn audit(&self) -> Vec<Value> {
        std::fs::read_to_string(self.path("m365guard-audit.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("an audit line is JSON"))
            .collect()
    }

    /// What the binary wrote to the tenant so far.
    pub fn writes(&self) -> Vec<WriteOp> {
        self.emu.write_log()
    }

    /// A JSON file of the working folder.
    pub fn read_json(&self, name: &str) -> Value {
        read_json(&self.path(name))
    }
}

/// A `collect` run's exit code, snapshot and output.
#[derive(Debug)]
pub struct Collected {
    pub code: i32,
    pub snapshot: Value,
    pub out: Out,
}

/// A scan's exit code, JSON report and output.
#[derive(Debug)]
pub struct Scan {
    pub code: i32,
    pub report: Value,
    pub out: Out,
}

impl Scan {
    /// The report's outcome of rule `id`.
    pub fn rule(&self, id: &str) -> &Value {
        rule_outcome(&self.report, id)
    }

    /// The resource ids of rule `id`'s findings.
    pub fn finding_ids(&self, id: &str) -> BTreeSet<String> {
        self.rule(id)["findings"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| f["resource"]["id"].as_str().map(str::to_owned))
            .collect()
    }

    /// (resource id, severity) of rule `id`'s findings.
    pub fn findings(&self, id: &str) -> BTreeSet<(String, String)> {
        self.rule(id)["findings"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|f| {
                (
                    f["resource"]["id"].as_str().unwrap_or_default().to_owned(),
                    f["severity"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    }
}

/// Rule `id`'s outcome in a JSON report.
pub fn rule_outcome<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["rules"]
        .as_array()
        .expect("the report lists rules")
        .iter()
        .find(|r| r["id"] == id || r["rule_id"] == id)
        .unwrap_or_else(|| panic!("no outcome for {id}"))
}
