//! Loading rule packs: the built-in pack embedded in the binary and any `--policies DIR`.
//!
//! A rule is a folder holding `rule.rego`, `rule.toml` and (optionally) `rule_test.rego`;
//! any other `.rego` file is a shared library (indexes, helpers, test fixtures). Loading
//! checks what regorus cannot: folder name = `rule.toml` id = Rego package leaf, ids unique
//! across packs. Rego syntax is checked when the files are added to an engine.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use include_dir::{include_dir, Dir};

use super::metadata::{self, RuleMeta};
use super::PolicyError;
use crate::diagnostic::Diagnostic;

static BUILTIN: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/policies");

/// Display prefix of built-in files in messages (they have no path on disk).
pub const BUILTIN_PREFIX: &str = "<builtin>/policies";

#[derive(Debug, Clone)]
pub struct PolicyFile {
    /// Shown in messages: a real path, or `<builtin>/policies/...`.
    pub path: PathBuf,
    pub text: String,
}

#[derive(Debug, Clone)]
pub struct Rule {
    pub meta: Arc<RuleMeta>,
    /// The folder holding the rule (for messages).
    pub dir: PathBuf,
    pub rego: PolicyFile,
    pub test: Option<PolicyFile>,
}

impl Rule {
    /// The Rego path of the rule's deny set.
    pub fn deny_path(&self) -> String {
        format!("data.m365guard.rules.{}.deny", self.meta.id)
    }
}

/// All rules and libraries to evaluate, sorted by rule id.
#[derive(Debug, Clone, Default)]
pub struct Pack {
    pub rules: Vec<Rule>,
    /// Shared `.rego` files (helpers, indexes, test fixtures) that are not rule folders.
    pub libraries: Vec<PolicyFile>,
}

impl Pack {
    pub fn rule(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.meta.id == id)
    }

    pub fn rule_ids(&self) -> Vec<&str> {
        self.rules.iter().map(|r| r.meta.id.as_str()).collect()
    }
}

/// The files of one pack before validation: rule folders and free-standing Rego files.
#[derive(Default)]
struct RawPack {
    /// folder → file name → file
    folders: BTreeMap<PathBuf, BTreeMap<String, PolicyFile>>,
}

impl RawPack {
    fn add(&mut self, path: PathBuf, text: String) {
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        self.folders
            .entry(dir)
            .or_default()
            .insert(name, PolicyFile { path, text });
    }
}

/// How much of the embedded pack to load alongside `--policies` directories.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Builtin {
    /// Built-in rules and libraries (scanning).
    All,
    /// Only `policies/lib` (testing a custom pack that uses the shared helpers).
    LibrariesOnly,
    None,
}

/// Load the built-in pack plus the given directories. Ids must be unique across all.
pub fn load(extra_dirs: &[PathBuf], builtin: Builtin) -> Result<Pack, PolicyError> {
    let mut pack = Pack::default();
    if builtin != Builtin::None {
        let mut raw = RawPack::default();
        collect_embedded(&BUILTIN, &mut raw);
        let mut embedded = build(raw)?;
        if builtin == Builtin::LibrariesOnly {
            embedded.rules.clear();
        }
        merge(&mut pack, embedded)?;
    }
    for dir in extra_dirs {
        let mut raw = RawPack::default();
        collect_dir(dir, &mut raw)?;
        if raw.folders.is_empty() {
            return Err(PolicyError::Diagnostic(Diagnostic::whole_file(
                dir,
                "no .rego or rule.toml files found in this policy directory",
            )));
        }
        merge(&mut pack, build(raw)?)?;
    }
    pack.rules.sort_by(|a, b| a.meta.id.cmp(&b.meta.id));
    Ok(pack)
}

fn merge(into: &mut Pack, from: Pack) -> Result<(), PolicyError> {
    for rule in from.rules {
        if let Some(existing) = into.rule(&rule.meta.id) {
            return Err(PolicyError::Diagnostic(Diagnostic::whole_file(
                &rule.dir.join("rule.toml"),
                format!(
                    "duplicate rule id `{}`: already defined in {}",
                    rule.meta.id,
                    existing.dir.display()
                ),
            )));
        }
        into.rules.push(rule);
    }
    into.libraries.extend(from.libraries);
    Ok(())
}

fn collect_embedded(dir: &Dir<'static>, raw: &mut RawPack) {
    for file in dir.files() {
        let is_policy_file = matches!(
            file.path().extension().and_then(|e| e.to_str()),
            Some("rego") | Some("toml")
        );
        if let (true, Some(text)) = (is_policy_file, file.contents_utf8()) {
            raw.add(Path::new(BUILTIN_PREFIX).join(file.path()), text.to_owned());
        }
    }
    for sub in dir.dirs() {
        // `policies/investigation` is a pack of its own (`investigate::rules`): its rules
        // judge an evidence document, not a snapshot.
        if sub.path() == Path::new("investigation") {
            continue;
        }
        collect_embedded(sub, raw);
    }
}

fn collect_dir(dir: &Path, raw: &mut RawPack) -> Result<(), PolicyError> {
    let entries = std::fs::read_dir(dir).map_err(|source| PolicyError::Io {
        path: dir.to_owned(),
        source,
    })?;
    let mut paths = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| PolicyError::Io {
            path: dir.to_owned(),
            source,
        })?;
        paths.push(entry.path());
    }
    paths.sort();
    for path in paths {
        if path.is_dir() {
            collect_dir(&path, raw)?;
            continue;
        }
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.ends_with(".rego") || name == "rule.toml" {
            let text = std::fs::read_to_string(&path).map_err(|source| PolicyError::Io {
                path: path.clone(),
                source,
            })?;
            raw.add(path, text);
        }
    }
    Ok(())
}

/// Turn collected files into rules and libraries, validating each rule folder.
fn build(raw: RawPack) -> Result<Pack, PolicyError> {
    let mut pack = Pack::default();
    for (dir, mut files) in raw.folders {
        let Some(toml_file) = files.remove("rule.toml") else {
            pack.libraries.extend(files.into_values());
            continue;
        };
        let meta = metadata::parse(&toml_file.path, &toml_file.text)?;
        let folder = dir.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if folder != meta.id {
            return Err(id_mismatch(
                &toml_file,
                format!(
                    "rule id `{}` does not match its folder name `{folder}`",
                    meta.id
                ),
            ));
        }
        let rego = files.remove("rule.rego").ok_or_else(|| {
            PolicyError::Diagnostic(Diagnostic::whole_file(
                &dir,
                format!("rule `{}` has rule.toml but no rule.rego", meta.id),
            ))
        })?;
        check_package(&rego, &format!("m365guard.rules.{}", meta.id))?;
        let test = files.remove("rule_test.rego");
        if let Some(test) = &test {
            check_package(test, &format!("m365guard.rules.{}", meta.id))?;
        }
        if let Some((name, _)) = files.iter().next() {
            return Err(PolicyError::Diagnostic(Diagnostic::whole_file(
                &dir.join(name),
                "unexpected file in a rule folder (expected rule.rego, rule_test.rego, rule.toml)",
            )));
        }
        pack.rules.push(Rule {
            meta: Arc::new(meta),
            dir,
            rego,
            test,
        });
    }
    Ok(pack)
}

fn id_mismatch(toml_file: &PolicyFile, message: String) -> PolicyError {
    let line = toml_file
        .text
        .lines()
        .position(|l| {
            let l = l.trim_start();
            l.starts_with("id ") || l.starts_with("id=")
        })
        .map_or(1, |i| i + 1);
    PolicyError::Diagnostic(Diagnostic::at(
        &toml_file.path,
        &toml_file.text,
        line,
        1,
        message,
    ))
}

/// The `package` line of a Rego file, with its 1-based line number.
pub fn package_of(text: &str) -> Option<(usize, &str)> {
    text.lines().enumerate().find_map(|(i, line)| {
        let rest = line.trim_start().strip_prefix("package ")?;
        Some((i + 1, rest.trim()))
    })
}

fn check_package(file: &PolicyFile, expected: &str) -> Result<(), PolicyError> {
    match package_of(&file.text) {
        Some((_, found)) if found == expected => Ok(()),
        Some((line, found)) => Err(PolicyError::Diagnostic(Diagnostic::at(
            &file.path,
            &file.text,
            line,
            9,
            format!("package `{found}` does not match the rule folder: expected `{expected}`"),
        ))),
        None => Err(PolicyError::Diagnostic(Diagnostic::whole_file(
            &file.path,
            format!("missing `package {expected}`"),
        ))),
    }
}
