//! No secret leaves through any output (issue 15, "Keep it so"): a full run of the real
//! binary against the tenant emulator — `collect`, `scan --tenant`, `doctor`, `fix plan`,
//! `fix apply`, `respond`, `collect` again and `diff` — at `-vv`, once with text logs and
//! once with JSON logs, then every stream (stdout, stderr) and every file the runs wrote
//! anywhere under the run's directory (snapshots, reports, plan, audit log, evidence, and
//! whatever lands in the `HOME`/`XDG_*`/`TMPDIR` we point there) is searched for the client
//! secret, any JWT (`eyJ`: every token the emulator issues, and every client assertion, is
//! one), `Bearer ` and each generated password. A password may appear only in the password
//! file the run was told to write. The same full run signs in with a certificate (and the
//! private key's PEM body is looked for too) and with a federated token file. A failing run
//! (retries, dropped and truncated answers, missing permissions, a refused secret) is
//! searched the same way: error paths print the most. A temporary `tracing::debug!` of the
//! access token in src/auth/token.rs, and a stray copy of a generated password in the
//! evidence directory, each made these tests fail (naming stream or file) before they were
//! reverted.
//!
//! `investigate` is named in the issue but does not exist yet; add it to [`full_run`] when
//! it does.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use m365guard_emulator::Emulator;

use crate::harness;

const LENA: &str = "lena.fischer@contoso.com";

/// How the binary signs in.
#[derive(Clone, Copy)]
enum Credential {
    /// `AZURE_CLIENT_SECRET` (the harness default).
    Secret,
    /// `--certificate <pem>` (the PEM lives outside the searched directory).
    Certificate,
    /// `AZURE_FEDERATED_TOKEN_FILE`: a GitHub-shaped OIDC token (a JWT, so `eyJ`) signed by
    /// the scenario's trusted issuer, outside the searched directory.
    FederatedTokenFile,
}

/// One searched text: where it came from and what it holds.
struct Text {
    origin: String,
    body: String,
}

/// One full run in its own directory; everything the binary writes lands under `dir`.
struct Run {
    dir: tempfile::TempDir,
    /// Inputs that legitimately hold a secret (certificate PEM, federated token): never
    /// searched.
    inputs: tempfile::TempDir,
    format: &'static str,
    credential: Credential,
    streams: Vec<Text>,
    /// Password files the runs were told to write (relative to `dir`).
    password_files: Vec<PathBuf>,
}

impl Run {
    fn new(format: &'static str, credential: Credential) -> Run {
        let dir = tempfile::tempdir().unwrap();
        for sub in [
            "home",
            "xdg-cache",
            "xdg-config",
            "xdg-state",
            "xdg-data",
            "tmp",
        ] {
            std::fs::create_dir(dir.path().join(sub)).unwrap();
        }
        let inputs = tempfile::tempdir().unwrap();
        let pem: String = ["test-app.cert.pem", "test-app.key.pem"]
            .iter()
            .map(|name| testdata(name))
            .collect();
        std::fs::write(inputs.path().join("app.pem"), pem).unwrap();
        std::fs::write(inputs.path().join("federated-token"), federated_token()).unwrap();
        Run {
            dir,
            inputs,
            format,
            credential,
            streams: Vec::new(),
            password_files: Vec::new(),
        }
    }

    fn pem(&self) -> PathBuf {
        self.inputs.path().join("app.pem")
    }

    /// The binary against `emu` at `-vv` in this run's log format, with every place a
    /// program might write by default (home, caches, temp) inside the searched directory.
    fn command(&self, emu: &Emulator, args: &[&str]) -> Command {
        let d = self.dir.path();
        let mut cmd = harness::m365guard_against(emu, d);
        cmd.args(["-vv", "--log-format", self.format])
            .args(args)
            .env("HOME", d.join("home"))
            .env("XDG_CACHE_HOME", d.join("xdg-cache"))
            .env("XDG_CONFIG_HOME", d.join("xdg-config"))
            .env("XDG_STATE_HOME", d.join("xdg-state"))
            .env("XDG_DATA_HOME", d.join("xdg-data"))
            .env("TMPDIR", d.join("tmp"))
            // Not read by m365guard today; should a dependency's logging ever be wired to
            // it, this run shows everything.
            .env("RUST_LOG", "trace")
            .env_remove("CI")
            .stdin(Stdio::null());
        match self.credential {
            Credential::Secret => {}
            Credential::Certificate => {
                cmd.env_remove("AZURE_CLIENT_SECRET")
                    .arg("--certificate")
                    .arg(self.pem());
            }
            Credential::FederatedTokenFile => {
                cmd.env_remove("AZURE_CLIENT_SECRET").env(
                    "AZURE_FEDERATED_TOKEN_FILE",
                    self.inputs.path().join("federated-token"),
                );
            }
        }
        cmd
    }

    /// Run one command, keep its streams, and check its exit code is one of `ok`.
    fn run(&mut self, emu: Option<&Emulator>, args: &[&str], ok: &[i32]) -> harness::Out {
        let mut cmd = match emu {
            Some(emu) => self.command(emu, args),
            // `diff` and `scan --snapshot` read local files: no sign-in, no credential.
            None => {
                let mut cmd = harness::m365guard(self.dir.path());
                cmd.args(["-vv", "--log-format", self.format]).args(args);
                cmd
            }
        };
        let out = harness::run(&mut cmd);
        let label = format!("`{}` ({} logs)", args.join(" "), self.format);
        assert!(
            ok.contains(&out.code),
            "{label} exited {}\n--- stdout\n{}\n--- stderr\n{}",
            out.code,
            out.stdout,
            out.stderr
        );
        // -vv really logged requests, in the asked format: the streams searched are the
        // verbose ones, not a silent run.
        if emu.is_some() {
            assert!(
                out.stderr.contains("HTTP response"),
                "{label}: no request log at -vv\n{}",
                out.stderr
            );
            if self.format == "json" {
                assert!(
                    out.stderr.lines().any(|l| l.starts_with('{')),
                    "{label}: no JSON log line\n{}",
                    out.stderr
                );
            }
        }
        self.streams.push(Text {
            origin: format!("stdout of {label}"),
            body: out.stdout.clone(),
        });
        self.streams.push(Text {
            origin: format!("stderr of {label}"),
            body: out.stderr.clone(),
        });
        out
    }

    /// Every file under the run's directory.
    fn files(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        walk(self.dir.path(), &mut out);
        out.sort();
        out
    }

    /// The generated passwords, read from the files the runs were told to write.
    fn passwords(&self) -> Vec<String> {
        let mut passwords = Vec::new();
        for file in &self.password_files {
            // A run that failed before any reset writes none (full runs assert it exists).
            let Ok(text) = std::fs::read_to_string(self.dir.path().join(file)) else {
                continue;
            };
            assert!(!text.is_empty(), "{} is empty", file.display());
            // `# …` lines note a reset that was not applied.
            for line in text.lines().filter(|l| !l.starts_with('#')) {
                let (_, password) = line
                    .split_once('\t')
                    .unwrap_or_else(|| panic!("not upn<TAB>password: {line:?}"));
                assert!(password.len() >= 16, "weak password {password:?}");
                passwords.push(password.to_owned());
            }
        }
        passwords
    }

    /// Search every stream and file for every secret; a password is allowed only in the
    /// password file it was written to.
    fn assert_nothing_leaked(&self, secrets: &[&str]) {
        let passwords = self.passwords();
        let key_lines: Vec<String> = testdata("test-app.key.pem")
            .lines()
            .filter(|l| !l.starts_with("-----") && l.len() > 20)
            .map(str::to_owned)
            .collect();
        assert!(!key_lines.is_empty());

        // (where, text, whether it is a password file the run was told to write)
        let mut texts: Vec<(String, String, bool)> = self
            .streams
            .iter()
            .map(|s| (s.origin.clone(), s.body.clone(), false))
            .collect();
        for file in self.files() {
            let relative = file.strip_prefix(self.dir.path()).unwrap().to_path_buf();
            let bytes = std::fs::read(&file).unwrap();
            texts.push((
                format!("file {}", relative.display()),
                String::from_utf8_lossy(&bytes).into_owned(),
                self.password_files.contains(&relative),
            ));
        }

        let mut needles: Vec<(&str, String)> = vec![
            (
                "a JWT (access token, client assertion, federated token)",
                "eyJ".to_owned(),
            ),
            ("an Authorization header", "Bearer ".to_owned()),
            ("the private key marker", "PRIVATE KEY".to_owned()),
        ];
        for secret in secrets.iter().filter(|s| !s.is_empty()) {
            needles.push(("a client secret", (*secret).to_owned()));
        }
        for line in &key_lines {
            needles.push(("a line of the private key", line.clone()));
        }
        let mut leaks = Vec::new();
        for (origin, body, is_password_file) in &texts {
            for (what, needle) in &needles {
                if let Some(at) = body.find(needle.as_str()) {
                    leaks.push(format!("{what} in {origin}: …{}…", around(body, at)));
                }
            }
            for password in &passwords {
                // A password file may hold its own passwords, never another file's.
                if *is_password_file && own_password(body, password) {
                    continue;
                }
                if let Some(at) = body.find(password.as_str()) {
                    leaks.push(format!(
                        "a generated password in {origin}: …{}…",
                        around(body, at)
                    ));
                }
            }
        }
        assert!(
            leaks.is_empty(),
            "{} logs, searched {} texts:\n{}",
            self.format,
            texts.len(),
            leaks.join("\n")
        );
    }
}

/// Whether `password` is one of the `upn<TAB>password` lines of this file's own text.
fn own_password(body: &str, password: &str) -> bool {
    body.lines()
        .any(|l| l.split_once('\t').is_some_and(|(_, p)| p == password))
}

/// A short excerpt around `at` for the failure message (never the whole file).
fn around(body: &str, at: usize) -> String {
    let mut start = at.saturating_sub(60);
    while !body.is_char_boundary(start) {
        start -= 1;
    }
    let mut end = (at + 60).min(body.len());
    while !body.is_char_boundary(end) {
        end += 1;
    }
    body[start..end].replace('\n', "⏎")
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let path = entry.path();
        if entry.file_type().unwrap().is_dir() {
            walk(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// A GitHub Actions OIDC token for the subject of the contoso scenario's federated
/// credential (as tests/live_auth.rs mints them).
fn federated_token() -> String {
    use m365guard_emulator::crypto::sign_jwt;
    let now = m365guard_emulator::util::now_epoch();
    let sub = "repo:contoso-sec/m365-guard:environment:prod";
    let claims = serde_json::json!({
        "iss": "https://token.actions.githubusercontent.com", "sub": sub,
        "aud": "api://AzureADTokenExchange", "jti": format!("leaks-{now}"),
        "nbf": now, "iat": now, "exp": now + 3600,
    });
    let header = serde_json::json!({"typ": "JWT", "kid": "gh"});
    sign_jwt(&testdata("test-issuer.key.pem"), "RS256", &header, &claims).unwrap()
}

fn testdata(name: &str) -> String {
    std::fs::read_to_string(harness::root().join("tests/emulator/testdata").join(name)).unwrap()
}

/// collect, scan --tenant, doctor, fix plan, fix apply, collect again, diff; then respond
/// against a fresh tenant (so it has a compromised account to secure and resets a
/// password of its own). `investigate` does not exist yet.
fn full_run(format: &'static str, credential: Credential) {
    let mut run = Run::new(format, credential);
    let emu = harness::start();
    let tenant = emu.tenant_id();

    run.run(Some(&emu), &["collect", "-o", "before.json"], &[0, 3]);
    run.run(
        Some(&emu),
        &[
            "scan", "--tenant", &tenant, "--out", "reports", "-f", "table", "-f", "json", "-f",
            "sarif", "-f", "junit", "-f", "markdown", "-f", "html",
        ],
        &[0, 1, 3],
    );
    // The table on stdout too (`--tenant` needs `--out`, so from the snapshot).
    run.run(None, &["scan", "--snapshot", "before.json"], &[0, 1, 3]);
    run.run(Some(&emu), &["doctor"], &[0, 1, 3]);
    run.run(
        Some(&emu),
        &["fix", "plan", "--tenant", &tenant, "-o", "plan.json"],
        &[0],
    );
    run.run(
        Some(&emu),
        &[
            "fix",
            "apply",
            "plan.json",
            "--yes",
            "--password-file",
            "fix-passwords.txt",
        ],
        &[0],
    );
    run.password_files.push(PathBuf::from("fix-passwords.txt"));
    run.run(Some(&emu), &["collect", "-o", "after.json"], &[0, 3]);
    run.run(None, &["diff", "before.json", "after.json"], &[0, 1]);
    run.run(
        None,
        &["diff", "before.json", "after.json", "-f", "json"],
        &[0, 1],
    );

    let fresh = harness::start();
    run.run(
        Some(&fresh),
        &[
            "respond",
            "--user",
            LENA,
            "--yes",
            "--password-file",
            "respond-passwords.txt",
            "--evidence",
            "incident",
        ],
        &[0],
    );
    run.password_files
        .push(PathBuf::from("respond-passwords.txt"));

    // What was searched is what a full run writes: without these the search proves little.
    let files = run.files();
    let names: Vec<String> = files
        .iter()
        .map(|f| {
            f.strip_prefix(run.dir.path())
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    for expected in [
        "before.json",
        "after.json",
        "plan.json",
        "m365guard-audit.jsonl",
        "fix-passwords.txt",
        "respond-passwords.txt",
    ] {
        assert!(names.iter().any(|n| n == expected), "{expected}: {names:?}");
    }
    for dir in ["reports/", "m365guard-evidence/", "incident/"] {
        assert!(
            names.iter().any(|n| n.starts_with(dir)),
            "nothing under {dir}: {names:?}"
        );
    }

    // In a certificate run the scenario's client secret must not show up either.
    run.assert_nothing_leaked(&[&emu.client_secret().unwrap()]);
}

#[test]
fn a_full_run_with_text_logs_leaks_no_secret_token_or_password() {
    full_run("text", Credential::Secret);
}

#[test]
fn a_full_run_with_json_logs_leaks_no_secret_token_or_password() {
    full_run("json", Credential::Secret);
}

#[test]
fn a_full_run_signed_in_with_a_certificate_leaks_no_key_token_or_password() {
    full_run("json", Credential::Certificate);
}

#[test]
fn a_full_run_signed_in_with_a_certificate_and_text_logs_leaks_nothing() {
    full_run("text", Credential::Certificate);
}

#[test]
fn a_full_run_signed_in_with_a_federated_token_file_leaks_nothing() {
    full_run("json", Credential::FederatedTokenFile);
    full_run("text", Credential::FederatedTokenFile);
}

#[test]
fn failing_runs_with_text_logs_leak_no_secret_token_or_password() {
    failing_run("text");
}

#[test]
fn failing_runs_with_json_logs_leak_no_secret_token_or_password() {
    failing_run("json");
}

/// The error paths: retries, dropped and truncated answers, missing permissions (fix and
/// respond actions fail after a password was generated), and a refused client secret. Their
/// messages and logs leak nothing either.
fn failing_run(format: &'static str) {
    use m365guard_emulator::Faults;
    let mut run = Run::new(format, Credential::Secret);
    let emu = harness::start();
    let tenant = emu.tenant_id();
    run.run(
        Some(&emu),
        &["fix", "plan", "--tenant", &tenant, "-o", "plan.json"],
        &[0],
    );
    // The reset, the Exchange writes and some reads now fail.
    let mut grants = m365guard_emulator::Grants::full();
    grants
        .graph
        .retain(|g| g != "User-PasswordProfile.ReadWrite.All" && g != "AuditLog.Read.All");
    grants.exchange_manage_as_app = false;
    emu.set_grants(grants);
    emu.set_faults(Faults {
        rate_429: 0.1,
        retry_after: Some("0".into()),
        burst_503: 2,
        drop_next: 1,
        truncate_next: 1,
        ..Faults::default()
    });
    run.run(Some(&emu), &["collect", "-o", "partial.json"], &[0, 3]);
    run.run(Some(&emu), &["doctor"], &[0, 1, 3]);
    run.run(
        Some(&emu),
        &[
            "fix",
            "apply",
            "plan.json",
            "--yes",
            "--password-file",
            "fix-passwords.txt",
        ],
        &[1, 3],
    );
    run.password_files.push(PathBuf::from("fix-passwords.txt"));
    // Exchange back (respond needs the mailbox to plan); the reset still fails.
    let mut grants = m365guard_emulator::Grants::full();
    grants
        .graph
        .retain(|g| g != "User-PasswordProfile.ReadWrite.All");
    emu.set_grants(grants);
    run.run(
        Some(&emu),
        &[
            "respond",
            "--user",
            LENA,
            "--yes",
            "--password-file",
            "respond-passwords.txt",
        ],
        &[1, 3],
    );
    run.password_files
        .push(PathBuf::from("respond-passwords.txt"));

    // A wrong secret: refused by the token endpoint, echoed nowhere.
    let wrong = "Wr0ng~Secret.Value_0123456789abcdefXYZ";
    for args in [&["collect", "-o", "refused.json"][..], &["doctor"]] {
        let mut cmd = run.command(&emu, args);
        cmd.env("AZURE_CLIENT_SECRET", wrong);
        let out = harness::run(&mut cmd);
        assert!(
            matches!(out.code, 1..=3),
            "{args:?} exited {}: {}",
            out.code,
            out.stderr
        );
        // Entra's refusal of a wrong secret (AADSTS7000215) is explained.
        assert!(out.stderr.contains("AADSTS7000215"), "{}", out.stderr);
        run.streams.push(Text {
            origin: format!("stderr of `{}` with a wrong secret", args.join(" ")),
            body: out.stderr,
        });
        run.streams.push(Text {
            origin: format!("stdout of `{}` with a wrong secret", args.join(" ")),
            body: out.stdout,
        });
    }
    // Passwords are handed over before the (refused) reset: they exist to look for.
    assert!(!run.passwords().is_empty(), "no password was generated");
    run.assert_nothing_leaked(&[&emu.client_secret().unwrap(), wrong]);
}
