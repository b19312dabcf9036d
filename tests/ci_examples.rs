//! CI examples that run: every `m365guard …` command line of `examples/ci/*.yml`,
//! `action.yml` and README's shell code blocks is extracted (line continuations joined,
//! YAML block scalars read as shell), its CI variables (`${{ … }}`, `$VAR`, `${VAR}`,
//! Azure's `$(Var.Name)`) replaced by emulator or test values, and run — against the
//! tenant emulator when it signs in, on the offline example snapshot otherwise.
//!
//! A command fails the build when it does not parse (an unknown flag is exit 2) and when
//! the script around it assumes the wrong exit code: under `set -e` a bare command must
//! exit 0; `|| [ $? -eq N ]` accepts 0 and N only; `set +e … code=$?` followed by a `case`
//! (or `if [ "$code" -eq N ]; then exit`) accepts exactly the codes the script carries on
//! with. The CI files get no ambient credential: their own flags (`--tenant`,
//! `--client-id`, `--federated-token-file`) must sign in, with a federated token the
//! emulator trusts written where the script points.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use m365guard_emulator::crypto::sign_jwt;
use m365guard_emulator::util::now_epoch;
use m365guard_emulator::Emulator;
use serde_json::json;

use crate::harness::{self, assert_no_leaks, example, root};

/// The subject of the contoso scenario's federated credential (tests/emulator/scenarios).
const PROD_SUBJECT: &str = "repo:contoso-sec/m365-guard:environment:prod";
const CODES: [i32; 4] = [0, 1, 2, 3];

/// Which exit codes the script around a command carries on with.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Accepted {
    /// These codes, and no other.
    Codes(Vec<i32>),
    /// README: an illustration, not a script — any verdict (0, 1, 3), never a usage error.
    Verdict,
    /// README `# asks`: without a terminal and without --yes the command must refuse.
    RefusesWithoutYes,
    /// README `# interactive` (a device-code sign-in, a person at the keyboard): only
    /// parsed — run with `--help` appended, which clap answers after checking every
    /// earlier flag.
    ParsesOnly,
}

#[derive(Debug, Clone)]
struct Invocation {
    /// `file:line` of the command's first line.
    origin: String,
    /// The logical command line after substitution (for messages).
    text: String,
    /// Arguments after `m365guard`.
    args: Vec<String>,
    accepted: Accepted,
}

// --- extraction --------------------------------------------------------------------------

/// A logical line: continuation lines (`\` at the end) joined, with the first line's
/// number and indentation.
#[derive(Debug)]
struct Logical {
    line: usize,
    indent: usize,
    text: String,
}

fn logical_lines(text: &str) -> Vec<Logical> {
    let mut out = Vec::new();
    let mut pending: Option<Logical> = None;
    for (i, raw) in text.lines().enumerate() {
        let trimmed_end = raw.trim_end();
        let (body, continues) = match trimmed_end.strip_suffix('\\') {
            Some(body) => (body, true),
            None => (trimmed_end, false),
        };
        match pending.as_mut() {
            Some(p) => {
                p.text.push(' ');
                p.text.push_str(body.trim());
            }
            None => {
                pending = Some(Logical {
                    line: i + 1,
                    indent: raw.len() - raw.trim_start().len(),
                    text: body.trim().to_owned(),
                })
            }
        }
        if !continues {
            out.extend(pending.take());
        }
    }
    out.extend(pending);
    out
}

/// The shell text of a YAML line: without a list marker (`- `) and without a `run:` /
/// `script:` / `inlineScript:` key that holds a one-line command.
fn shell_of_yaml(text: &str) -> &str {
    let mut t = text.trim();
    if let Some(rest) = t.strip_prefix("- ") {
        t = rest.trim_start();
    }
    for key in ["run:", "script:", "inlineScript:", "command:"] {
        if let Some(rest) = t.strip_prefix(key) {
            t = rest.trim_start();
        }
    }
    t
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Op(&'static str),
}

/// A small POSIX-shell tokenizer: quotes, backslashes, comments, and the operators that
/// start a new command (`&&`, `||`, `;`, `|`, `(`, `)`, `$(`). Variables are already
/// substituted; `$?` stays a word.
fn tokenize(text: &str) -> Vec<Tok> {
    let mut toks = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    let flush = |word: &mut String, in_word: &mut bool, toks: &mut Vec<Tok>| {
        if *in_word {
            toks.push(Tok::Word(std::mem::take(word)));
            *in_word = false;
        }
    };
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        match c {
            ' ' | '\t' => flush(&mut word, &mut in_word, &mut toks),
            '#' if !in_word => break,
            '\'' => {
                in_word = true;
                i += 1;
                while i < chars.len() && chars[i] != '\'' {
                    word.push(chars[i]);
                    i += 1;
                }
            }
            '"' => {
                in_word = true;
                i += 1;
                while i < chars.len() && chars[i] != '"' {
                    if chars[i] == '\\' && i + 1 < chars.len() {
                        i += 1;
                    }
                    word.push(chars[i]);
                    i += 1;
                }
            }
            '\\' if next.is_some() => {
                in_word = true;
                word.push(chars[i + 1]);
                i += 1;
            }
            '$' if next == Some('(') => {
                flush(&mut word, &mut in_word, &mut toks);
                toks.push(Tok::Op("$("));
                i += 1;
            }
            '&' if next == Some('&') => {
                flush(&mut word, &mut in_word, &mut toks);
                toks.push(Tok::Op("&&"));
                i += 1;
            }
            '|' if next == Some('|') => {
                flush(&mut word, &mut in_word, &mut toks);
                toks.push(Tok::Op("||"));
                i += 1;
            }
            '|' | ';' | '(' | ')' | '>' | '<' => {
                flush(&mut word, &mut in_word, &mut toks);
                toks.push(Tok::Op(match c {
                    '|' => "|",
                    ';' => ";",
                    '(' => "(",
                    ')' => ")",
                    '>' => ">",
                    _ => "<",
                }));
            }
            _ => {
                in_word = true;
                word.push(c);
            }
        }
        i += 1;
    }
    flush(&mut word, &mut in_word, &mut toks);
    toks
}

fn is_m365guard(word: &str) -> bool {
    word == "m365guard" || word.ends_with("/m365guard")
}

/// The `m365guard` commands of one logical line: (arguments, the tokens after them).
fn commands_in(toks: &[Tok]) -> Vec<(Vec<String>, Vec<Tok>)> {
    let mut out = Vec::new();
    let mut at_start = true;
    let mut i = 0;
    while i < toks.len() {
        match &toks[i] {
            Tok::Op(op) => at_start = !matches!(*op, ">" | "<"),
            Tok::Word(w) if at_start && w.contains('=') && !w.starts_with('-') => {}
            Tok::Word(w) if at_start && matches!(w.as_str(), "then" | "do" | "!" | "else") => {}
            Tok::Word(w) if at_start && is_m365guard(w) => {
                let mut args = Vec::new();
                let mut j = i + 1;
                while let Some(Tok::Word(a)) = toks.get(j) {
                    args.push(a.clone());
                    j += 1;
                }
                out.push((args, toks[j..].to_vec()));
                i = j;
                at_start = false;
                continue;
            }
            Tok::Word(_) => at_start = false,
        }
        i += 1;
    }
    out
}

/// Replace CI variables by their test values; an unknown one is an error, so a new
/// variable in an example cannot silently run as an empty string.
fn substitute(text: &str, vars: &BTreeMap<String, String>) -> Result<String, String> {
    let lookup = |name: &str| -> Result<String, String> {
        let name = name.trim();
        vars.get(name)
            .or_else(|| vars.get(name.rsplit('.').next().unwrap_or(name)))
            .cloned()
            .ok_or_else(|| format!("unknown CI variable {name:?}: add a test value for it"))
    };
    // A quoted array expansion `"${since[@]}"` gives one word per element, as bash does:
    // unquote it so the value's words split.
    let unquoted = unquote_arrays(text);
    let mut out = String::new();
    let mut rest = unquoted.as_str();
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let tail = &rest[pos..];
        if let Some(expr) = tail.strip_prefix("${{") {
            let end = expr.find("}}").ok_or("unclosed ${{")?;
            out.push_str(&lookup(&expr[..end])?);
            rest = &expr[end + 2..];
        } else if let Some(inner) = tail.strip_prefix("${") {
            let end = inner.find('}').ok_or("unclosed ${")?;
            let name = inner[..end].trim_end_matches("[@]");
            let name = name.strip_prefix(':').unwrap_or(name);
            // `${VAR:-default}`: the variable's value.
            let name = name.split(":-").next().unwrap_or(name);
            out.push_str(&lookup(name)?);
            rest = &inner[end + 1..];
        } else if let Some(inner) = tail.strip_prefix("$(") {
            // Azure Pipelines macro `$(Agent.TempDirectory)`; anything with a space is a
            // command substitution, left to the tokenizer.
            match inner.find(')') {
                Some(end)
                    if inner[..end]
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_') =>
                {
                    out.push_str(&lookup(&inner[..end])?);
                    rest = &inner[end + 1..];
                }
                _ => {
                    out.push('$');
                    rest = &tail[1..];
                }
            }
        } else {
            let name: String = tail[1..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if name.is_empty() {
                out.push('$');
                rest = &tail[1..];
            } else {
                out.push_str(&lookup(&name)?);
                rest = &tail[1 + name.len()..];
            }
        }
    }
    out.push_str(rest);
    Ok(out)
}

fn unquote_arrays(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("\"${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 3..];
        let name_len = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(after.len());
        if name_len > 0 && after[name_len..].starts_with("[@]}\"") {
            out.push_str(&rest[start + 1..start + 3 + name_len + 4]);
            rest = &after[name_len + 5..];
        } else {
            out.push('"');
            rest = &rest[start + 1..];
        }
    }
    out.push_str(rest);
    out
}

/// Codes accepted by `|| …` right after the command, if any.
fn accepted_by_or(after: &[Tok]) -> Option<Accepted> {
    if after.first() != Some(&Tok::Op("||")) {
        return None;
    }
    let words: Vec<&str> = after[1..]
        .iter()
        .take_while(|t| !matches!(t, Tok::Op(_)))
        .map(|t| match t {
            Tok::Word(w) => w.as_str(),
            Tok::Op(op) => op,
        })
        .collect();
    match words.as_slice() {
        ["true"] | [":"] => Some(Accepted::Codes(CODES.to_vec())),
        ["[", "$?", op, n, "]"] | ["test", "$?", op, n] => {
            let n: i32 = n.parse().ok()?;
            let ok = |c: i32| match *op {
                "-eq" => c == n,
                "-ne" => c != n,
                "-le" => c <= n,
                "-lt" => c < n,
                _ => false,
            };
            Some(Accepted::Codes(
                CODES.iter().copied().filter(|&c| c == 0 || ok(c)).collect(),
            ))
        }
        _ => Some(Accepted::Codes(vec![0])),
    }
}

/// The codes a `set +e … code=$?` script carries on with, read from the lines after the
/// command (same block: indentation at least the command's): the arms of `case "$code"`
/// that do not `exit` non-zero, minus `if [ "$code" -eq N ]; then exit` codes.
fn accepted_by_script(after: &[&Logical]) -> Accepted {
    let mut accepted: Vec<i32> = CODES.to_vec();
    let mut lines = after.iter().map(|l| shell_of_yaml(&l.text)).peekable();
    let exits = |body: &str| {
        body.split([';', '\n'])
            .any(|s| s.trim().starts_with("exit") && s.trim() != "exit 0")
    };
    while let Some(line) = lines.next() {
        if line.starts_with("case ") && line.contains("code") {
            let mut listed: Vec<i32> = Vec::new();
            let mut rejected: Vec<i32> = Vec::new();
            let mut arm: Option<(Vec<i32>, bool, String)> = None;
            for l in lines.by_ref() {
                if l.starts_with("esac") {
                    break;
                }
                let (pattern, body) = match l.split_once(')') {
                    Some((p, b))
                        if arm.is_none()
                            && p.trim()
                                .split('|')
                                .all(|x| x.trim() == "*" || x.trim().parse::<i32>().is_ok()) =>
                    {
                        (Some(p.trim().to_owned()), b.to_owned())
                    }
                    _ => (None, l.to_owned()),
                };
                if let Some(p) = pattern {
                    let star = p == "*";
                    let codes: Vec<i32> = if star {
                        CODES
                            .iter()
                            .copied()
                            .filter(|c| !listed.contains(c))
                            .collect()
                    } else {
                        p.split('|').filter_map(|x| x.trim().parse().ok()).collect()
                    };
                    listed.extend(&codes);
                    arm = Some((codes, false, String::new()));
                }
                if let Some((codes, _, text)) = arm.as_mut() {
                    text.push_str(&body);
                    text.push('\n');
                    if body.contains(";;") {
                        if exits(text) {
                            rejected.extend(codes.iter());
                        }
                        arm = None;
                    }
                }
            }
            if let Some((codes, _, text)) = arm {
                if exits(&text) {
                    rejected.extend(codes);
                }
            }
            accepted.retain(|c| !rejected.contains(c));
        } else if line.starts_with("if [") && line.contains("code") && line.contains("exit") {
            let toks: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
            if let Some(pos) = toks.iter().position(|t| t == "-eq") {
                if let Some(n) = toks
                    .get(pos + 1)
                    .and_then(|n| n.trim_end_matches([']', ';']).parse::<i32>().ok())
                {
                    accepted.retain(|&c| c != n);
                }
            }
        }
    }
    Accepted::Codes(accepted)
}

/// Every `m365guard` command of a CI file (YAML: examples, action.yml).
fn extract_ci(path: &Path, vars: &BTreeMap<String, String>) -> Vec<Invocation> {
    let text = std::fs::read_to_string(path).unwrap();
    let name = path
        .strip_prefix(root())
        .unwrap_or(path)
        .display()
        .to_string();
    let lines = logical_lines(&text);
    let mut out = Vec::new();
    for (idx, l) in lines.iter().enumerate() {
        let shell = shell_of_yaml(&l.text);
        // Substitute only lines that run m365guard: other lines may use variables the
        // test has no value for (a download URL, a push token).
        if shell.starts_with('#') || commands_in(&tokenize(shell)).is_empty() {
            continue;
        }
        let origin = format!("{name}:{}", l.line);
        let substituted =
            substitute(shell, vars).unwrap_or_else(|e| panic!("{origin}: {e}\n  {shell}"));
        for (args, after) in commands_in(&tokenize(&substituted)) {
            // The block: following lines indented at least as deep as this one.
            let block_after: Vec<&Logical> = lines[idx + 1..]
                .iter()
                .take_while(|n| n.text.is_empty() || n.indent >= l.indent)
                .collect();
            let block_before = lines[..idx]
                .iter()
                .rev()
                .take_while(|n| n.text.is_empty() || n.indent >= l.indent);
            let mut set_plus_e = false;
            for n in block_before {
                let t = shell_of_yaml(&n.text);
                if t == "set +e" {
                    set_plus_e = true;
                    break;
                }
                if t.starts_with("set -e") {
                    break;
                }
            }
            let captures_code = block_after.first().is_some_and(|n| n.text.contains("=$?"));
            let accepted = match accepted_by_or(&after) {
                Some(a) => a,
                None if set_plus_e && captures_code => accepted_by_script(&block_after),
                None => Accepted::Codes(vec![0]),
            };
            out.push(Invocation {
                origin: origin.clone(),
                text: substituted.clone(),
                args,
                accepted,
            });
        }
    }
    out
}

/// Every `m365guard` command of README's sh/bash/shell code blocks, with `[OPTIONAL]`
/// placeholders dropped.
fn extract_readme(text: &str) -> Vec<Invocation> {
    let mut out = Vec::new();
    let mut in_shell: Option<bool> = None;
    let mut block = String::new();
    let mut block_start = 0;
    for (i, line) in text.lines().enumerate() {
        if let Some(lang) = line.trim_start().strip_prefix("```") {
            match in_shell {
                None => {
                    in_shell = Some(matches!(lang.trim(), "sh" | "bash" | "shell" | "console"));
                    block.clear();
                    block_start = i + 2;
                }
                Some(shell) => {
                    if shell {
                        for l in logical_lines(&block) {
                            let text = l.text.trim_start_matches("$ ");
                            if !text.contains("m365guard") {
                                continue;
                            }
                            let comment = text.split_once(" # ").map(|(_, c)| c).unwrap_or("");
                            let asks = comment.contains("asks");
                            let interactive = comment.contains("interactive");
                            let toks = tokenize(text);
                            for (args, _) in commands_in(&toks) {
                                let args: Vec<String> = args
                                    .into_iter()
                                    .filter(|a| !(a.starts_with('[') && a.ends_with(']')))
                                    .collect();
                                out.push(Invocation {
                                    origin: format!("README.md:{}", block_start + l.line - 1),
                                    text: text.to_owned(),
                                    args,
                                    accepted: if interactive {
                                        Accepted::ParsesOnly
                                    } else if asks {
                                        Accepted::RefusesWithoutYes
                                    } else {
                                        Accepted::Verdict
                                    },
                                });
                            }
                        }
                    }
                    in_shell = None;
                }
            }
        } else if in_shell.is_some() {
            block.push_str(line);
            block.push('\n');
        }
    }
    out
}

// --- running -----------------------------------------------------------------------------

/// A GitHub-shaped OIDC token for the scenario's federated credential, signed by the
/// issuer key the emulator trusts.
fn federated_token() -> String {
    let now = now_epoch();
    let key = std::fs::read_to_string(root().join("tests/emulator/testdata/test-issuer.key.pem"))
        .unwrap();
    sign_jwt(
        &key,
        "RS256",
        &json!({"typ": "JWT", "kid": "gh"}),
        &json!({
            "iss": "https://token.actions.githubusercontent.com", "sub": PROD_SUBJECT,
            "aud": "api://AzureADTokenExchange", "jti": format!("ci-{now}"),
            "nbf": now, "iat": now, "exp": now + 600,
        }),
    )
    .unwrap()
}

/// Test values of the CI variables the examples use, for a run in `dir`.
fn ci_vars(emu: &Emulator, dir: &Path) -> BTreeMap<String, String> {
    let d = dir.display().to_string();
    let tenant = emu.tenant_id();
    let client = emu.client_id();
    let token = format!("{d}/ci-federated-token");
    let mut v = BTreeMap::new();
    let mut set = |names: &[&str], value: &str| {
        for n in names {
            v.insert((*n).to_owned(), value.to_owned());
        }
    };
    // Tenant and app ids (GitHub vars/inputs, Azure Pipelines' AzureCLI@2, GitLab).
    set(
        &[
            "TENANT",
            "TENANT_ID",
            "tenantId",
            "M365GUARD_TENANT_ID",
            "tenant-id",
        ],
        &tenant,
    );
    set(
        &[
            "CLIENT",
            "CLIENT_ID",
            "servicePrincipalId",
            "M365GUARD_CLIENT_ID",
            "client-id",
        ],
        &client,
    );
    // Where the scripts keep temporary files and the federated token.
    set(
        &[
            "RUNNER_TEMP",
            "Agent.TempDirectory",
            "CI_BUILDS_DIR",
            "CI_PROJECT_DIR",
            "GITHUB_WORKSPACE",
            "System.DefaultWorkingDirectory",
            "Build.ArtifactStagingDirectory",
            "dir",
        ],
        &d,
    );
    set(&["token_file", "TOKEN_FILE"], &token);
    // Optional arguments kept in arrays or strings: the test runs them set.
    set(&["since"], "--since snapshots/latest.json");
    set(&["SINCE"], "snapshots/latest.json");
    set(&["baseline"], "--baseline roadmap-30d");
    set(&["BASELINE"], "roadmap-30d");
    set(&["config"], "--config m365guard.toml");
    set(&["CONFIG"], "m365guard.toml");
    set(&["FAIL_ON", "fail-on"], "high");
    set(&["OUT", "OUT_DIR"], "out");
    v
}

/// A working directory like a CI checkout: a previous snapshot, a config file.
fn ci_workdir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("snapshots")).unwrap();
    std::fs::copy(
        example("contoso-compromised.json"),
        dir.path().join("snapshots/latest.json"),
    )
    .unwrap();
    std::fs::copy(example("m365guard.toml"), dir.path().join("m365guard.toml")).unwrap();
    std::fs::copy(
        example("contoso-compromised.json"),
        dir.path().join("snapshot.json"),
    )
    .unwrap();
    dir
}

/// Why an invocation's outcome breaks its script, or `None`.
fn verdict(inv: &Invocation, code: i32, stderr: &str) -> Option<String> {
    let usage = stderr.contains("unexpected argument")
        || stderr.contains("unrecognized subcommand")
        || stderr.contains("invalid value");
    match &inv.accepted {
        _ if usage => Some(format!("not a valid command line (exit {code})")),
        Accepted::Codes(codes) if !codes.contains(&code) => Some(format!(
            "exit {code}, but the script around it carries on only with {codes:?}"
        )),
        Accepted::Verdict if !matches!(code, 0 | 1 | 3) => {
            Some(format!("exit {code}: not a scan verdict"))
        }
        Accepted::RefusesWithoutYes if !(code == 2 && stderr.contains("without --yes")) => {
            Some(format!("exit {code}: should refuse without a terminal"))
        }
        Accepted::ParsesOnly if code != 0 => {
            Some(format!("exit {code} with --help: flags do not parse"))
        }
        _ => None,
    }
}

/// Run `invs` in order in `dir`; returns every broken one.
fn run_all(emu: &Emulator, dir: &Path, invs: &[Invocation], ambient: bool) -> Vec<String> {
    let mut broken = Vec::new();
    for inv in invs {
        if let Some(pos) = inv.args.iter().position(|a| a == "--federated-token-file") {
            let path = PathBuf::from(&inv.args[pos + 1]);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, federated_token()).unwrap();
        }
        let mut cmd = harness::m365guard_against(emu, dir);
        if !ambient {
            // A CI file signs in with its own flags only.
            cmd.env_remove("AZURE_TENANT_ID")
                .env_remove("AZURE_CLIENT_ID")
                .env_remove("AZURE_CLIENT_SECRET");
        }
        cmd.env("CI", "true").args(&inv.args);
        if inv.accepted == Accepted::ParsesOnly {
            cmd.arg("--help");
        }
        let out = run_bounded(&mut cmd, &inv.origin);
        assert_no_leaks(
            [out.stdout.as_str(), out.stderr.as_str()],
            &[emu.client_secret().unwrap_or_default().as_str()],
        );
        if let Some(why) = verdict(inv, out.code, &out.stderr) {
            broken.push(format!(
                "{}: {why}\n  m365guard {}\n  (from: {})\n  stderr: {}",
                inv.origin,
                inv.args.join(" "),
                inv.text,
                out.stderr
                    .lines()
                    .take(6)
                    .collect::<Vec<_>>()
                    .join("\n          ")
            ));
        }
    }
    broken
}

/// Runs `cmd` with no stdin, killed after two minutes: an example that waits for input
/// (a prompt, a device-code sign-in) must fail the test, not hang CI.
fn run_bounded(cmd: &mut std::process::Command, origin: &str) -> harness::Out {
    use std::io::Read;
    use std::process::Stdio;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("m365guard runs");
    // Drain both pipes on threads so a chatty child cannot block on a full pipe.
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out_thread = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err_thread = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{origin}: still running after 120 s (waiting for input?)");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    harness::Out {
        code: status.code().unwrap_or(-1),
        stdout: out_thread.join().unwrap(),
        stderr: err_thread.join().unwrap(),
    }
}

fn ci_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("examples/ci"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml" || e == "yaml"))
        .collect();
    files.sort();
    files.push(root().join("action.yml"));
    files
}

#[test]
fn every_ci_example_and_the_action_run_against_the_emulator() {
    let emu = harness::start();
    let mut broken = Vec::new();
    let mut ran = BTreeMap::new();
    for file in ci_files() {
        assert!(file.is_file(), "missing {}", file.display());
        let dir = ci_workdir();
        let invs = extract_ci(&file, &ci_vars(&emu, dir.path()));
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        // Each file scans a tenant, itself or through the action (tested as action.yml):
        // an extraction that finds nothing proves nothing.
        let text = std::fs::read_to_string(&file).unwrap();
        let uses_action = !action_uses(&text).is_empty();
        assert!(
            uses_action
                || invs
                    .iter()
                    .any(|i| i.args.first().map(String::as_str) == Some("scan")
                        && i.args.iter().any(|a| a == "--tenant")),
            "{name}: no `m365guard scan --tenant` command and no use of the action"
        );
        broken.extend(run_all(&emu, dir.path(), &invs, false));
        ran.insert(name, invs.len());
    }
    assert!(
        broken.is_empty(),
        "broken CI commands:\n{}",
        broken.join("\n")
    );
    eprintln!("ran CI commands per file: {ran:?}");
}

/// The `with:` keys of every step that uses the m365guard action (`uses: ./` or
/// `uses: m365guard/m365guard@…`), with their line numbers.
fn action_uses(yaml: &str) -> Vec<(usize, String)> {
    let lines: Vec<&str> = yaml.lines().collect();
    let mut keys = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let t = line.trim_start().trim_start_matches("- ");
        let Some(target) = t.strip_prefix("uses:") else {
            continue;
        };
        let target = target.split('#').next().unwrap_or_default().trim();
        if !(target == "./" || target.starts_with("m365guard/m365guard@")) {
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        let step: Vec<&str> = lines[i + 1..]
            .iter()
            .take_while(|l| l.trim().is_empty() || l.len() - l.trim_start().len() > indent)
            .copied()
            .collect();
        if let Some(w) = step.iter().position(|l| l.trim() == "with:") {
            let with_indent = step[w].len() - step[w].trim_start().len();
            for (j, l) in step[w + 1..].iter().enumerate() {
                let ind = l.len() - l.trim_start().len();
                if l.trim().is_empty() || l.trim_start().starts_with('#') {
                    continue;
                }
                if ind <= with_indent {
                    break;
                }
                if let Some((key, _)) = l.trim().split_once(':') {
                    keys.push((i + w + j + 3, key.to_owned()));
                }
            }
        }
        keys.push((i + 1, String::new()));
    }
    keys
}

/// The inputs and outputs action.yml declares (keys two spaces deep under `inputs:` /
/// `outputs:`).
fn action_declared(section: &str) -> Vec<String> {
    let text = std::fs::read_to_string(root().join("action.yml")).unwrap();
    let mut out = Vec::new();
    let mut inside = false;
    for line in text.lines() {
        if !line.starts_with(' ') && !line.trim().is_empty() {
            inside = line.trim_end() == format!("{section}:");
            continue;
        }
        if inside && line.starts_with("  ") && !line.starts_with("   ") {
            if let Some((key, _)) = line.trim().split_once(':') {
                out.push(key.to_owned());
            }
        }
    }
    out
}

#[test]
fn the_examples_use_only_inputs_and_outputs_the_action_declares() {
    let inputs = action_declared("inputs");
    for required in [
        "tenant-id",
        "client-id",
        "baseline",
        "fail-on",
        "config",
        "since",
        "upload-sarif",
        "version",
    ] {
        assert!(
            inputs.iter().any(|i| i == required),
            "action.yml lacks input {required}: {inputs:?}"
        );
    }
    let outputs = action_declared("outputs");
    assert_eq!(outputs, ["exit-code", "sarif-file", "snapshot-file"]);
    let mut used = 0;
    for file in ci_files() {
        let text = std::fs::read_to_string(&file).unwrap();
        for (line, key) in action_uses(&text) {
            used += 1;
            assert!(
                key.is_empty() || inputs.contains(&key),
                "{}:{line}: input {key:?} is not declared in action.yml ({inputs:?})",
                file.display()
            );
        }
        // `steps.<id>.outputs.<name>` of the action's step must be a declared output.
        for (n, l) in text.lines().enumerate() {
            for part in l.split("steps.m365guard.outputs.").skip(1) {
                let name: String = part
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                    .collect();
                assert!(
                    outputs.contains(&name),
                    "{}:{}: output {name:?} is not declared in action.yml",
                    file.display(),
                    n + 1
                );
            }
        }
    }
    assert!(used > 0, "no example uses the action");
}

#[test]
fn every_readme_command_runs() {
    let emu = harness::start();
    let dir = ci_workdir();
    // `--policies my-rules/`: a custom pack with one rule (a built-in one, renamed).
    let from = root().join("policies/exchange/mailbox_external_forwarding");
    let to = dir.path().join("my-rules/my_forwarding");
    std::fs::create_dir_all(&to).unwrap();
    for entry in std::fs::read_dir(&from).unwrap() {
        let entry = entry.unwrap();
        let text = std::fs::read_to_string(entry.path()).unwrap();
        let renamed = text.replace("mailbox_external_forwarding", "my_forwarding");
        std::fs::write(to.join(entry.file_name()), renamed).unwrap();
    }
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let invs = extract_readme(&readme);
    assert!(
        invs.len() >= 8,
        "README: only {} m365guard commands found",
        invs.len()
    );
    let broken = run_all(&emu, dir.path(), &invs, true);
    assert!(
        broken.is_empty(),
        "broken README commands:\n{}",
        broken.join("\n")
    );
}

// --- the extractor itself ----------------------------------------------------------------

#[test]
fn continuations_block_scalars_and_variables_are_read_as_the_shell_would() {
    let yaml = r#"
      - name: Scan
        run: |
          set +e
          m365guard scan --tenant "${{ vars.M365GUARD_TENANT_ID }}" \
            --client-id "$CLIENT" "${since[@]}" \
            --out "$(Agent.TempDirectory)/out"   # comment
          code=$?
          case "$code" in
            0|1) ;;
            *) echo "failed"
               exit "$code" ;;
          esac
      - script: m365guard rules list || [ $? -eq 1 ]
      - run: cargo install --locked m365guard && command -v m365guard
"#;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("x.yml");
    std::fs::write(&file, yaml).unwrap();
    let mut vars = BTreeMap::new();
    for (k, v) in [
        ("M365GUARD_TENANT_ID", "T"),
        ("CLIENT", "C"),
        ("since", "--since s.json"),
        ("Agent.TempDirectory", "/tmp/a"),
    ] {
        vars.insert(k.to_owned(), v.to_owned());
    }
    let invs = extract_ci(&file, &vars);
    assert_eq!(invs.len(), 2, "{invs:#?}");
    assert_eq!(
        invs[0].args,
        [
            "scan",
            "--tenant",
            "T",
            "--client-id",
            "C",
            "--since",
            "s.json",
            "--out",
            "/tmp/a/out"
        ]
    );
    assert_eq!(invs[0].accepted, Accepted::Codes(vec![0, 1]));
    assert_eq!(invs[1].args, ["rules", "list"]);
    assert_eq!(invs[1].accepted, Accepted::Codes(vec![0, 1]));

    let unknown = substitute("m365guard scan --tenant $NOPE", &vars).unwrap_err();
    assert!(unknown.contains("NOPE"), "{unknown}");
}

#[test]
fn a_wrong_exit_code_assumption_or_an_unknown_flag_is_caught() {
    let inv = |accepted| Invocation {
        origin: "x".into(),
        text: String::new(),
        args: vec![],
        accepted,
    };
    // `m365guard scan … || [ $? -eq 1 ]` when the scan exits 3 (incomplete data).
    assert!(verdict(&inv(Accepted::Codes(vec![0, 1])), 3, "").is_some());
    assert!(verdict(&inv(Accepted::Codes(vec![0, 1])), 1, "").is_none());
    // A bare command under `set -e` that finds something.
    assert!(verdict(&inv(Accepted::Codes(vec![0])), 1, "").is_some());
    // An unknown flag, even where the script would tolerate the code.
    let clap = "error: unexpected argument '--federated-token-file' found";
    assert!(verdict(&inv(Accepted::Codes(CODES.to_vec())), 2, clap).is_some());
    assert!(verdict(&inv(Accepted::Verdict), 2, "").is_some());
    assert!(verdict(&inv(Accepted::ParsesOnly), 2, clap).is_some());
    assert!(verdict(&inv(Accepted::ParsesOnly), 0, "").is_none());
    // `if [ "$code" -eq 2 ]; then exit 2; fi` accepts all but 2.
    let lines = logical_lines("if [ \"$code\" -eq 2 ]; then exit 2; fi\n");
    let refs: Vec<&Logical> = lines.iter().collect();
    assert_eq!(accepted_by_script(&refs), Accepted::Codes(vec![0, 1, 3]));
}

// --- workflow hygiene --------------------------------------------------------------------

/// The steps of a CI file: each `- ` item at the shallowest list indentation under a
/// `steps:` (GitHub, Azure Pipelines) or, for GitLab, each job's whole text.
fn steps_of(yaml: &str) -> Vec<(usize, String)> {
    let lines: Vec<&str> = yaml.lines().collect();
    let mut steps = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if line.trim_end().ends_with("steps:") || line.trim_end().ends_with("script:") {
            let base = line.len() - line.trim_start().len();
            let mut j = i + 1;
            let mut item_indent = None;
            let mut current: Option<(usize, String)> = None;
            while j < lines.len() {
                let l = lines[j];
                let ind = l.len() - l.trim_start().len();
                if !l.trim().is_empty() && ind <= base && !l.trim_start().starts_with('-') {
                    break;
                }
                if l.trim_start().starts_with("- ") && item_indent.is_none_or(|x| x == ind) {
                    item_indent = Some(ind);
                    steps.extend(current.take());
                    current = Some((j + 1, String::new()));
                }
                if let Some((_, text)) = current.as_mut() {
                    text.push_str(l);
                    text.push('\n');
                }
                j += 1;
            }
            steps.extend(current);
            i = j;
        } else {
            i += 1;
        }
    }
    steps
}

#[test]
fn publishing_steps_always_run_and_only_a_complete_snapshot_is_committed() {
    const PUBLISHERS: [&str; 7] = [
        "upload-sarif",
        "upload-artifact",
        "action-junit-report",
        "GITHUB_STEP_SUMMARY",
        "PublishTestResults",
        "PublishBuildArtifacts",
        "task.uploadsummary",
    ];
    let mut publishers = 0;
    let mut commits = 0;
    for file in ci_files() {
        let text = std::fs::read_to_string(&file).unwrap();
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        for (line, step) in steps_of(&text) {
            let condition: String = step
                .lines()
                .filter(|l| {
                    let t = l.trim_start().trim_start_matches("- ");
                    t.starts_with("if:") || t.starts_with("condition:")
                })
                .collect();
            // Publishing: an action or task that publishes, or a script writing the summary
            // (not a mere input named `upload-sarif`).
            let publishes = step.lines().any(|l| {
                let t = l.trim_start().trim_start_matches("- ");
                let target = t.starts_with("uses:") || t.starts_with("task:");
                PUBLISHERS.iter().any(|p| {
                    l.contains(p) && (target || p.contains("SUMMARY") || p.contains("summary"))
                })
            });
            if publishes {
                publishers += 1;
                assert!(
                    condition.contains("always()"),
                    "{name}:{line}: a publishing step must run `always()`, so one failed upload or a failing scan does not skip it:\n{step}"
                );
            }
            if step.contains("git commit") {
                commits += 1;
                // In the step's condition, or in the script's own `if` around the commit.
                let guard = format!(
                    "{condition}{}",
                    step.lines()
                        .filter(|l| l.contains("if ") && l.contains("code"))
                        .collect::<String>()
                );
                let zero_and_one = (guard.contains("'0'") && guard.contains("'1'"))
                    || (guard.contains("-eq 0") && guard.contains("-eq 1"));
                assert!(
                    zero_and_one && !guard.contains("'3'") && !guard.contains("-eq 3"),
                    "{name}:{line}: the snapshot must be committed only when the collection was complete (exit 0 or 1), got guard {guard:?}"
                );
            }
        }
    }
    assert!(publishers >= 7, "only {publishers} publishing steps found");
    assert!(commits >= 3, "only {commits} snapshot commits found");
}

// --- action.yml's install step -----------------------------------------------------------

/// The `run: |` script of the action step named `name`, dedented.
fn action_step_script(name: &str) -> String {
    let text = std::fs::read_to_string(root().join("action.yml")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.trim() == format!("- name: {name}"))
        .unwrap_or_else(|| panic!("action.yml has no step {name:?}"));
    let run = (start..lines.len())
        .find(|&i| lines[i].trim() == "run: |")
        .unwrap();
    let indent = lines[run].len() - lines[run].trim_start().len();
    let body: Vec<&str> = lines[run + 1..]
        .iter()
        .take_while(|l| l.trim().is_empty() || l.len() - l.trim_start().len() > indent)
        .copied()
        .collect();
    let strip = body
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    body.iter()
        .map(|l| l.get(strip..).unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Runs the action's install script with `curl` replaced by a copy from `release` (a
/// directory standing for the GitHub release) that logs every URL.
fn run_install(release: &Path, env: &[(&str, &str)]) -> (i32, String, String, String) {
    let work = tempfile::tempdir().unwrap();
    let bin = work.path().join("stub-bin");
    std::fs::create_dir_all(&bin).unwrap();
    let log = work.path().join("urls.log");
    let curl = bin.join("curl");
    std::fs::write(
        &curl,
        format!(
            "#!/bin/bash\n# curl stand-in: -o FILE URL, served from the fake release\nout=\"\"; url=\"\"\nwhile [ $# -gt 0 ]; do case \"$1\" in -o) out=$2; shift 2 ;; -*) shift ;; *) url=$1; shift ;; esac; done\necho \"$url\" >> '{}'\nsrc='{}'/\"${{url##*/}}\"\n[ -f \"$src\" ] || exit 22\ncp \"$src\" \"$out\"\n",
            log.display(),
            release.display()
        ),
    )
    .unwrap();
    std::process::Command::new("chmod")
        .arg("+x")
        .arg(&curl)
        .status()
        .unwrap();
    let output_file = work.path().join("github-output");
    std::fs::write(&output_file, "").unwrap();
    let temp = work.path().join("runner-temp");
    std::fs::create_dir_all(&temp).unwrap();
    let mut cmd = std::process::Command::new("bash");
    cmd.arg("-c")
        .arg(action_step_script("Install m365guard"))
        .env(
            "PATH",
            format!("{}:{}", bin.display(), std::env::var("PATH").unwrap()),
        )
        .env("RUNNER_TEMP", &temp)
        .env("GITHUB_OUTPUT", &output_file)
        .env("RUNNER_OS_NAME", "Linux")
        .env("RUNNER_ARCH_NAME", "X64")
        .env("REQUESTED_VERSION", "")
        .env("ACTION_REF", "")
        .env("ACTION_REPO", "");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
        std::fs::read_to_string(&log).unwrap_or_default(),
        std::fs::read_to_string(&output_file).unwrap(),
    )
}

#[test]
fn the_action_downloads_the_release_for_the_runner_and_verifies_its_checksum() {
    const ASSET: &str = "m365guard-x86_64-unknown-linux-musl.tar.gz";
    let release = tempfile::tempdir().unwrap();
    let stage = tempfile::tempdir().unwrap();
    // A stand-in binary (the real one is hundreds of MB in a debug build): what matters
    // here is download, checksum and unpacking, not the binary.
    let fake = stage.path().join("m365guard");
    std::fs::write(&fake, "#!/bin/sh\necho \"m365guard 0.1.0-fake\"\n").unwrap();
    std::process::Command::new("chmod")
        .arg("+x")
        .arg(&fake)
        .status()
        .unwrap();
    let tar = std::process::Command::new("tar")
        .arg("-czf")
        .arg(release.path().join(ASSET))
        .arg("-C")
        .arg(stage.path())
        .arg("m365guard")
        .status()
        .unwrap();
    assert!(tar.success());
    let sums = |digest: &str| {
        std::fs::write(
            release.path().join("SHA256SUMS"),
            format!(
                "{digest}  {ASSET}\n{}  m365guard-aarch64-apple-darwin.tar.gz\n",
                "0".repeat(64)
            ),
        )
        .unwrap();
    };
    let real = std::process::Command::new("sha256sum")
        .arg(release.path().join(ASSET))
        .output()
        .unwrap();
    let real = String::from_utf8_lossy(&real.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();

    // The right checksum: installed, its directory in the step's outputs.
    sums(&real);
    let (code, out, urls, outputs) = run_install(release.path(), &[("REQUESTED_VERSION", "0.1.0")]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("m365guard 0.1.0-fake"), "{out}");
    assert!(outputs.starts_with("dir="), "{outputs}");
    assert!(
        urls.contains(&format!(
            "https://github.com/m365guard/m365guard/releases/download/v0.1.0/{ASSET}"
        )),
        "{urls}"
    );
    // No version: the action's own tag, else the latest release.
    let (code, out, urls, _) = run_install(
        release.path(),
        &[("ACTION_REF", "v0.1.0"), ("ACTION_REPO", "acme/m365guard")],
    );
    assert_eq!(code, 0, "{out}");
    assert!(
        urls.contains("https://github.com/acme/m365guard/releases/download/v0.1.0/"),
        "{urls}"
    );
    let (code, out, urls, _) = run_install(release.path(), &[("ACTION_REF", "main")]);
    assert_eq!(code, 0, "{out}");
    assert!(urls.contains("/releases/latest/download/"), "{urls}");

    // A tampered download (or a wrong sum) fails before anything is unpacked.
    sums(&"f".repeat(64));
    let (code, out, _, outputs) = run_install(release.path(), &[]);
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("FAILED"), "{out}");
    assert!(!outputs.contains("dir="), "{outputs}");
    // An asset missing from SHA256SUMS is a failure, not a skipped check.
    std::fs::write(release.path().join("SHA256SUMS"), "").unwrap();
    let (code, out, _, _) = run_install(release.path(), &[]);
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("is not in SHA256SUMS"), "{out}");
    // A runner without a release binary.
    let (code, out, _, _) = run_install(
        release.path(),
        &[("RUNNER_ARCH_NAME", "ARM"), ("RUNNER_OS_NAME", "Windows")],
    );
    assert_ne!(code, 0, "{out}");
    assert!(
        out.contains("no m365guard release binary for Windows/ARM"),
        "{out}"
    );
}

// --- action.yml's sign-in and scan steps, run as GitHub runs them -------------------------

/// Runs the action step `name`'s script with bash (as `shell: bash`), `env` set, `PATH`
/// prefixed with `path_dir`; returns (code, output, $GITHUB_OUTPUT).
fn run_action_step(
    name: &str,
    dir: &Path,
    path_dir: &Path,
    env: &[(&str, String)],
) -> (i32, String, String) {
    let output_file = dir.join("github-output");
    std::fs::write(&output_file, "").unwrap();
    // The developer's AZURE_*/M365GUARD_*/ACTIONS_ID_TOKEN_* variables never reach it.
    let mut cmd = std::process::Command::new("bash");
    for (key, _) in std::env::vars_os() {
        if harness::is_ambient(&key) {
            cmd.env_remove(key);
        }
    }
    cmd.current_dir(dir)
        .arg("-e")
        .arg("-c")
        .arg(action_step_script(name))
        .env(
            "PATH",
            format!("{}:{}", path_dir.display(), std::env::var("PATH").unwrap()),
        )
        .env("RUNNER_TEMP", dir)
        .env("GITHUB_OUTPUT", &output_file);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
        std::fs::read_to_string(&output_file).unwrap(),
    )
}

fn output<'a>(outputs: &'a str, key: &str) -> Option<&'a str> {
    outputs
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
}

#[test]
fn the_action_gets_the_oidc_token_for_entra_and_scans_with_it() {
    let emu = harness::start();
    let dir = ci_workdir();
    let stub = dir.path().join("stub-bin");
    std::fs::create_dir_all(&stub).unwrap();
    // curl stand-in for GitHub's token endpoint: logs its arguments, answers the token
    // JSON only for the right bearer.
    let token = federated_token();
    std::fs::write(
        dir.path().join("idtoken.json"),
        json!({"value": token}).to_string(),
    )
    .unwrap();
    let curl = stub.join("curl");
    std::fs::write(
        &curl,
        format!(
            "#!/bin/bash\nprintf '%s\\n' \"$@\" >> '{d}/curl.log'\nfor a in \"$@\"; do [ \"$a\" = 'Authorization: bearer request-token' ] && exec cat '{d}/idtoken.json'; done\nexit 22\n",
            d = dir.path().display()
        ),
    )
    .unwrap();
    std::process::Command::new("chmod")
        .arg("+x")
        .arg(&curl)
        .status()
        .unwrap();

    // Without `id-token: write` there are no request variables: a clear error.
    let (code, out, _) = run_action_step(
        "Get the GitHub OIDC token for Entra",
        dir.path(),
        &stub,
        &[],
    );
    assert_ne!(code, 0);
    assert!(out.contains("id-token: write"), "{out}");

    let request = [
        (
            "ACTIONS_ID_TOKEN_REQUEST_URL",
            "https://pipelines.actions.example/idtoken?api-version=2.0".to_owned(),
        ),
        ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "request-token".to_owned()),
    ];
    let (code, out, outputs) = run_action_step(
        "Get the GitHub OIDC token for Entra",
        dir.path(),
        &stub,
        &request,
    );
    assert_eq!(code, 0, "{out}");
    let log = std::fs::read_to_string(dir.path().join("curl.log")).unwrap();
    assert!(
        log.contains("https://pipelines.actions.example/idtoken?api-version=2.0&audience=api://AzureADTokenExchange"),
        "{log}"
    );
    let token_file = output(&outputs, "token-file")
        .expect("token-file output")
        .to_owned();
    assert_eq!(std::fs::read_to_string(&token_file).unwrap().trim(), token);
    assert!(!out.contains("eyJ"), "the token is never printed: {out}");

    // The scan step with that file, the real binary and the emulator.
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_m365guard"), bin.join("m365guard")).unwrap();
    let env = [
        ("TENANT_ID", emu.tenant_id()),
        ("CLIENT_ID", emu.client_id()),
        ("TOKEN_FILE", token_file.clone()),
        ("BASELINE", "roadmap-30d".to_owned()),
        ("FAIL_ON", "high".to_owned()),
        ("CONFIG", "m365guard.toml".to_owned()),
        ("SINCE", "snapshots/latest.json".to_owned()),
        ("OUT_DIR", "m365guard".to_owned()),
        ("BIN_DIR", bin.display().to_string()),
        ("M365GUARD_AUTHORITY_HOST", emu.base_url.clone()),
        ("M365GUARD_GRAPH_URL", emu.base_url.clone()),
        ("M365GUARD_EXCHANGE_URL", emu.base_url.clone()),
    ];
    let (code, out, outputs) = run_action_step("Scan the tenant", dir.path(), &stub, &env);
    assert_eq!(code, 0, "findings are published, not a failed step: {out}");
    let exit = output(&outputs, "exit-code").expect("exit-code output");
    assert!(matches!(exit, "0" | "1" | "3"), "exit-code={exit}: {out}");
    for key in ["sarif-file", "snapshot-file"] {
        let path = output(&outputs, key).unwrap_or_else(|| panic!("no {key}: {outputs}"));
        assert!(
            dir.path().join(path).is_file(),
            "{key}={path} missing: {out}"
        );
    }
    assert!(dir.path().join("m365guard/m365guard.md").is_file());
    // The SARIF points at the snapshot where the action leaves (and may commit) it.
    let sarif = std::fs::read_to_string(dir.path().join("m365guard/m365guard.sarif")).unwrap();
    let sarif_json: serde_json::Value = serde_json::from_str(&sarif).unwrap();
    let results = sarif_json["runs"][0]["results"].as_array().unwrap();
    assert!(!results.is_empty() || exit == "0");
    for r in results {
        assert_eq!(
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            "m365guard/snapshot.json",
            "{r}"
        );
    }
    assert_no_leaks([out.as_str(), sarif.as_str()], &[]);

    // A usage error (here: an unknown baseline) fails the step itself.
    let mut bad = env.to_vec();
    bad[3] = ("BASELINE", "no-such-baseline".to_owned());
    let (code, out, outputs) = run_action_step("Scan the tenant", dir.path(), &stub, &bad);
    assert_eq!(code, 2, "{out}");
    assert_eq!(output(&outputs, "exit-code"), Some("2"));
}

#[test]
fn readme_blocks_are_read_with_their_markers() {
    let md = "text m365guard scan --nope\n\n```sh\nm365guard policy test [DIR]   # run the tests\nm365guard fix apply plan.json \\\n    --config m365guard.toml   # asks\nm365guard setup --apply   # interactive\ncargo install m365guard\n```\n\n```text\nm365guard scan of Contoso\n```\n";
    let invs = extract_readme(md);
    let got: Vec<(String, Vec<String>, Accepted)> = invs
        .into_iter()
        .map(|i| (i.origin, i.args, i.accepted))
        .collect();
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert_eq!(
        got,
        [
            (
                "README.md:4".to_owned(),
                s(&["policy", "test"]),
                Accepted::Verdict
            ),
            (
                "README.md:5".to_owned(),
                s(&["fix", "apply", "plan.json", "--config", "m365guard.toml"]),
                Accepted::RefusesWithoutYes
            ),
            (
                "README.md:7".to_owned(),
                s(&["setup", "--apply"]),
                Accepted::ParsesOnly
            ),
        ]
    );
}
