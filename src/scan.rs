//! Scanning: `pipeline::run` is the whole scan every command uses (snapshot → evaluate →
//! waivers → `--since` → exit status); this file holds its evaluation step: parse a
//! snapshot, evaluate the selected rules, produce a raw `ScanResult` with lines located.
//! `scan_text`/`scan_file` alone apply no m365guard.toml and decide no exit status: use
//! `run` for a scan.
//!
//! The snapshot text is parsed once, in chunks on every thread, into regorus' value type
//! (the Rego input), the line of every resource taken in the same pass; its digest is taken
//! while a core is idle (`idle`), as is the check of the inbox rules described below. The
//! text is then dropped (a 1M-user tenant is 2 GB; a mapped file stays mapped until its
//! digest is taken) and the typed model (validation, source statuses, waivers, fix
//! planning) is deserialized from the values, in pieces on every thread; a caller that only
//! renders reports (`SnapshotDetail::ForReports`) gets the inbox rules typed only where
//! findings name them, all of them checked. Only when the values cannot stand for the text
//! (a repeated key, a fraction: see `input::Parsed::lossy`) or do not fit the model is the
//! text parsed into the typed model too, so its errors and its verdicts stay those of a
//! text parse.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use chrono::Utc;

use crate::findings::{ScanInfo, ScanResult, Severity};
use crate::policy::evaluate::{self, RegoConfig};
use crate::policy::input;
use crate::policy::pack::Pack;
use crate::policy::PolicyError;
use crate::snapshot::io::InboxRulesChecked;
use crate::snapshot::{self, locate, Snapshot, SnapshotError};

mod idle;
mod pipeline;
mod text;

pub use pipeline::{run, Input, Outcome, Settings};
pub use text::SnapshotText;

#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// m365guard.toml names a rule the pack does not have.
    #[error(transparent)]
    Config(#[from] crate::diagnostic::Diagnostic),
    #[error(transparent)]
    Since(#[from] crate::since::SinceError),
    #[error("cannot sign in to tenant {tenant}")]
    SignIn {
        tenant: String,
        #[source]
        source: Box<crate::auth::AuthError>,
    },
}

#[derive(Debug, Clone)]
pub struct ScanSettings {
    /// Only these rule ids (a baseline's selection); `None` = every rule in the pack.
    pub only_rules: Option<Vec<String>>,
    pub baseline: Option<String>,
    pub fail_on: Severity,
    pub rego_config: RegoConfig,
    /// Evaluation threads (the machine's cores by default).
    pub threads: usize,
    /// `scan --with-activity`: the optional `input.activity` section of the Rego input
    /// (`activity::read::rego_section`, documented in policies/README.md); `None` leaves
    /// the input exactly the snapshot.
    pub activity_input: Option<serde_json::Value>,
    /// How much of the typed snapshot the caller needs besides the result.
    pub snapshot_detail: SnapshotDetail,
}

/// How much of the typed snapshot a scan hands back (`ScanOutput::snapshot`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SnapshotDetail {
    /// All of it: fix planning, `respond`, the verification after `fix apply`, a live
    /// collection's summary.
    #[default]
    Whole,
    /// What the result's waivers and reports read: every array, except that the inbox
    /// rules are only those a finding names. All inbox rules are still checked against
    /// the model (a snapshot is refused exactly as with `Whole`), but at 100k users
    /// keeping 300k typed copies beside their Rego values was ~0.4 s of a ~2.5 s scan
    /// (issue #9). For `scan` and `baselines show`, whose snapshot only goes to the waivers
    /// and reports.
    ForReports,
}

impl Default for ScanSettings {
    fn default() -> Self {
        ScanSettings {
            only_rules: None,
            baseline: None,
            fail_on: Severity::High,
            rego_config: RegoConfig::default(),
            threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
            activity_input: None,
            snapshot_detail: SnapshotDetail::Whole,
        }
    }
}

/// What the evaluation step produced, with the parsed snapshot (for waivers, fix planning).
pub struct ScanOutput {
    pub result: ScanResult,
    /// As much of it as `ScanSettings::snapshot_detail` asked for.
    pub snapshot: Snapshot,
    /// `SnapshotDetail::ForReports`: the Rego values of the inbox rules the typed snapshot
    /// does not hold, handed over so that a caller about to exit need not free them.
    pub unkept_values: Option<regorus::Value>,
}

/// Indexes of the rules to evaluate, in pack order.
fn select_rules(pack: &Pack, only: Option<&[String]>) -> Result<Vec<usize>, PolicyError> {
    match only {
        None => Ok((0..pack.rules.len()).collect()),
        Some(ids) => {
            let mut indexes = Vec::new();
            for id in ids {
                let index = pack
                    .rules
                    .iter()
                    .position(|r| &r.meta.id == id)
                    .ok_or_else(|| PolicyError::UnknownRule(id.clone()))?;
                indexes.push(index);
            }
            indexes.sort_unstable();
            indexes.dedup();
            Ok(indexes)
        }
    }
}

pub fn scan_file(
    path: &Path,
    pack: &Pack,
    settings: &ScanSettings,
) -> Result<ScanOutput, ScanError> {
    let text = text::load(path)?;
    scan_text(path, text, pack, settings)
}

/// Scan snapshot `text` read from `path` (the path is reported in SARIF and messages).
/// Given owned (or mapped) text, the scan drops it as soon as it is parsed.
pub fn scan_text<'t>(
    path: &Path,
    text: impl Into<SnapshotText<'t>>,
    pack: &Pack,
    settings: &ScanSettings,
) -> Result<ScanOutput, ScanError> {
    let text = Arc::new(text.into());
    let selected = select_rules(pack, settings.only_rules.as_deref())?;
    let started = std::time::Instant::now();
    // The process CPU before the parse: the phase's CPU on all threads is the difference.
    crate::profile::record("parse: start", started);
    // The digest is only needed for the result, at the end: it is taken while a core is
    // idle (see `idle`), with its own reference to the text (a mapped file stays mapped
    // until it is done). A scan that fails stops it.
    let stop_digest = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let digest = idle::spawn(scope, {
            let (text, stop_digest) = (Arc::clone(&text), &stop_digest);
            move || {
                let t = std::time::Instant::now();
                let digest = text.sha256_hex(stop_digest);
                crate::profile::record("digest (while idle)", t);
                digest
            }
        });
        let scanned = scan_parsed(path, text, pack, settings, &selected, started, scope);
        if scanned.is_err() {
            stop_digest.store(true, Ordering::Relaxed);
        }
        let mut output = scanned?;
        let Some(digest) = digest.join() else {
            unreachable!("the digest is stopped only when the scan failed, which returned above")
        };
        output.result.info.snapshot_digest = format!("sha256:{digest}");
        Ok(output)
    })
}

/// `scan_text` once its digest is under way: parse, evaluate and locate, with `scope` for
/// the work done while a core is idle. The result's `snapshot_digest` is left empty.
fn scan_parsed<'t, 'scope>(
    path: &Path,
    text: Arc<SnapshotText<'t>>,
    pack: &Pack,
    settings: &ScanSettings,
    selected: &[usize],
    started: std::time::Instant,
    scope: &'scope std::thread::Scope<'scope, '_>,
) -> Result<ScanOutput, ScanError> {
    let input = std::thread::scope(|scope| {
        // A mapped file's pages already read are given back while the parse runs (see
        // `SnapshotText::release_pages`): 2.4 GB of the peak at 1M users otherwise.
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        if text.can_reload() {
            let text = &text;
            scope.spawn(move || {
                while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                    stopped.recv_timeout(std::time::Duration::from_millis(250))
                {
                    text.release_pages();
                }
            });
        }
        let parsed = input::parse_parallel(&text, settings.threads);
        drop(stop);
        parsed
    });
    crate::profile::record("parse: Rego input", started);
    let mut input = match input {
        Ok(input) => input,
        // The typed parse names the line and column of what is wrong.
        Err(err) => {
            snapshot::io::parse(path, &text)?;
            return Err(SnapshotError::Invalid {
                path: path.to_owned(),
                message: format!("cannot load as Rego input: {err}"),
            }
            .into());
        }
    };
    let t = std::time::Instant::now();
    let lines = match input.layout.take() {
        Some(layout) => Lines::of_layout(layout),
        None => Lines::of(&text),
    };
    crate::profile::record("parse: resource lines", t);
    let t = std::time::Instant::now();
    // A mapped file is unmapped before the typed model grows beside the values (2 GB of
    // the peak at 1M users): in the rare case that needs the text again (the values cannot
    // stand for it), it is mapped again.
    let mut text = Some(text);
    if text.as_ref().is_some_and(|text| text.can_reload()) {
        text = None;
    }
    // The typed model of the text, when the values cannot stand for it: its errors and
    // verdicts are those of a text parse.
    let parse_text = |text: &Option<Arc<SnapshotText<'t>>>| -> Result<Snapshot, ScanError> {
        Ok(match text {
            Some(text) => snapshot::io::parse(path, text)?,
            None => snapshot::io::parse(path, &text::load(path)?)?,
        })
    };
    let mut value = input.value;
    // `SnapshotDetail::ForReports`: the array the typed snapshot holds only in part.
    let mut unkept = None;
    // Evaluation needs only the small part of the typed model (source statuses, tenant):
    // the large arrays are deserialized after it, from the values, which they consume, so
    // the two models are never resident whole together (at 1M users: ~7 GB of values,
    // ~3.4 GB of typed model).
    let skeleton = snapshot::io::skeleton_from_value(&value, input.lossy);
    // Once the values are no longer needed: the whole typed model, or its error, which
    // comes before any error of the evaluation (as when the typed model came first).
    let complete = |skeleton: snapshot::io::from_value::Skeleton,
                    value: regorus::Value,
                    text: Option<Arc<SnapshotText<'t>>>|
     -> Result<Snapshot, ScanError> {
        let t = std::time::Instant::now();
        let snapshot =
            match snapshot::io::complete_from_value(path, skeleton, value, settings.threads)? {
                Some(snapshot) => snapshot,
                None => parse_text(&text)?,
            };
        crate::profile::record("typed snapshot: large arrays (values consumed)", t);
        Ok(snapshot)
    };
    let (evaluated, snapshot) = match skeleton {
        None => {
            let snapshot = parse_text(&text)?;
            drop(text);
            crate::profile::record("parse: typed snapshot", t);
            crate::profile::record("parse: total", started);
            // After the typed model was read: the section is not part of the snapshot
            // (whose schema refuses unknown keys).
            if let Some(activity) = &settings.activity_input {
                add_activity(&mut value, activity).map_err(|message| SnapshotError::Invalid {
                    path: path.to_owned(),
                    message,
                })?;
            }
            let evaluated = evaluate::evaluate(
                pack,
                selected,
                &snapshot,
                value,
                &settings.rego_config,
                settings.threads,
            );
            (evaluated, snapshot)
        }
        Some(skeleton) => {
            crate::profile::record("parse: typed snapshot (without the large arrays)", t);
            crate::profile::record("parse: total", started);
            let activity = match &settings.activity_input {
                Some(activity) => add_activity(&mut value, activity),
                None => Ok(()),
            };
            if let Err(message) = activity {
                complete(skeleton, value, text)?;
                return Err(SnapshotError::Invalid {
                    path: path.to_owned(),
                    message,
                }
                .into());
            }
            // `ForReports` checks every inbox rule against the model, which is needed only
            // after the evaluation: the check is made while a core is idle during it.
            let checked = match settings.snapshot_detail {
                SnapshotDetail::ForReports => InboxRulesChecked::array_of(&value).map(|array| {
                    let threads = settings.threads;
                    idle::spawn(scope, move || {
                        let t = std::time::Instant::now();
                        let checked = InboxRulesChecked::check(array, threads);
                        crate::profile::record("inbox rules checked (while idle)", t);
                        checked
                    })
                }),
                SnapshotDetail::Whole => None,
            };
            // The engine gets a second reference to the values; this one is consumed by
            // `complete` (the section added above is not read by it).
            let evaluated = evaluate::evaluate(
                pack,
                selected,
                &skeleton.snapshot,
                value.clone(),
                &settings.rego_config,
                settings.threads,
            );
            crate::profile::record("evaluate: rules", started);
            match settings.snapshot_detail {
                SnapshotDetail::Whole => (evaluated, complete(skeleton, value, text)?),
                SnapshotDetail::ForReports => {
                    let t = std::time::Instant::now();
                    let named: HashSet<&str> = match &evaluated {
                        Ok(outcomes) => outcomes
                            .iter()
                            .flat_map(|o| &o.findings)
                            .map(|f| f.resource.id.as_str())
                            .collect(),
                        Err(_) => HashSet::new(),
                    };
                    let completed = snapshot::io::complete_for_reports(
                        path,
                        skeleton,
                        value,
                        &named,
                        checked.map(idle::IdleTask::join),
                        settings.threads,
                    )?;
                    drop(named);
                    crate::profile::record("typed snapshot: for reports", t);
                    match completed {
                        Some((snapshot, array)) => {
                            unkept = Some(array);
                            (evaluated, snapshot)
                        }
                        None => (evaluated, parse_text(&text)?),
                    }
                }
            }
        }
    };
    let mut outcomes = evaluated?;
    crate::profile::record("evaluate: total", started);
    let t = std::time::Instant::now();
    lines.assign(&snapshot, unkept.as_ref(), &mut outcomes);
    let unkept_values = unkept.map(|array| array.values);
    crate::profile::record("locate lines", t);

    let result = ScanResult {
        info: ScanInfo {
            tool_version: env!("CARGO_PKG_VERSION").to_owned(),
            tenant_id: snapshot.tenant.id.clone(),
            tenant_name: snapshot.tenant.display_name.clone(),
            snapshot_path: display_path(path),
            snapshot_digest: String::new(),
            collected_at: snapshot.collection.collected_at,
            scanned_at: Utc::now(),
            baseline: settings.baseline.clone(),
            fail_on: settings.fail_on,
            config_path: None,
            rule_selection: settings.only_rules.is_some(),
        },
        outcomes,
        exemptions: Vec::new(),
        warnings: Vec::new(),
        absent: Vec::new(),
        incomplete: Vec::new(),
        controls: Default::default(),
        activity: None,
    };
    Ok(ScanOutput {
        result,
        snapshot,
        unkept_values,
    })
}

/// SARIF wants a relative URI with forward slashes.
fn display_path(path: &Path) -> String {
    let shown: PathBuf = std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(cwd).ok().map(Path::to_path_buf))
        .unwrap_or_else(|| path.to_path_buf());
    shown.to_string_lossy().replace('\\', "/")
}

/// The line of every resource in the snapshot text, taken right after the text is parsed
/// so the text need not stay in memory until the findings are known: for each resource
/// array, the lines of its elements that have a (non-empty) id, in text order, which is
/// the order of the typed model's arrays. Four bytes per resource.
#[derive(Debug, Default, PartialEq)]
struct Lines {
    by_path: HashMap<String, Vec<u32>>,
    tenant: Option<usize>,
}

impl Lines {
    /// The lines from one scan of the whole text (`locate::for_each_resource`).
    fn of(text: &str) -> Lines {
        let mut lines = Lines::default();
        locate::for_each_resource(text, |path, id, line| lines.found(path, id, line));
        lines
    }

    /// The same lines without a second scan of the whole text: the arrays parsed in chunks
    /// (most of the text) from the lines the parse took of their elements; the other
    /// top-level members (a small part) scanned alone by the tasks that parsed them.
    fn of_layout(layout: Vec<input::SectionLayout>) -> Lines {
        let mut lines = Lines::default();
        for section in layout {
            // What the whole scan reports for a top-level key.
            lines.found(&section.key, "", section.key_line);
            match section.id_lines {
                // The whole scan reports the elements of a top-level array only if it is a
                // resource array: each object element's non-empty string `id`.
                Some(id_lines) => {
                    if !id_lines.is_empty()
                        && snapshot::source::arrays().any(|a| a.path() == section.key)
                    {
                        lines.by_path.insert(section.key, id_lines);
                    }
                }
                None => {
                    for (path, found) in section.member_lines.into_iter().flatten() {
                        lines.by_path.entry(path).or_default().extend(found);
                    }
                }
            }
        }
        lines
    }

    /// One `locate::for_each_resource` report.
    fn found(&mut self, path: &str, id: &str, line: usize) {
        if id.is_empty() {
            if path == "tenant" {
                self.tenant = Some(line);
            }
            return;
        }
        let line = u32::try_from(line).unwrap_or(u32::MAX);
        match self.by_path.get_mut(path) {
            Some(found) => found.push(line),
            None => {
                self.by_path.insert(path.to_owned(), vec![line]);
            }
        }
    }

    /// Fill `Finding::line`: the line of the first element of the finding's resource array
    /// whose id is the finding's resource id. Only the arrays that have findings are read,
    /// and their ids are looked up per array (no key built per resource: 0.04 s at 100k
    /// users when every resource's "<path>\0<id>" key was built). `unkept`: the array the
    /// typed snapshot holds only in part, whose ids come from it.
    fn assign(
        &self,
        snapshot: &Snapshot,
        unkept: Option<&snapshot::io::UnkeptArray>,
        outcomes: &mut [crate::findings::RuleOutcome],
    ) {
        let mut wanted: HashMap<&'static str, HashMap<String, Option<usize>>> = HashMap::new();
        for finding in outcomes.iter().flat_map(|o| o.findings.iter()) {
            if let Some(path) = finding.resource.snapshot_path() {
                wanted
                    .entry(path)
                    .or_default()
                    .insert(finding.resource.id.clone(), None);
            }
        }
        for array in snapshot::source::arrays() {
            let (Some(ids_wanted), Some(lines)) =
                (wanted.get_mut(array.path()), self.by_path.get(array.path()))
            else {
                continue;
            };
            let ids = snapshot::io::ids_in_order(array, snapshot, unkept);
            for (id, &line) in ids.iter().filter(|id| !id.is_empty()).zip(lines) {
                if let Some(slot @ None) = ids_wanted.get_mut(*id) {
                    *slot = Some(line as usize);
                }
            }
        }
        for finding in outcomes.iter_mut().flat_map(|o| o.findings.iter_mut()) {
            finding.line = match finding.resource.snapshot_path() {
                Some(path) => wanted
                    .get(path)
                    .and_then(|ids| ids.get(finding.resource.id.as_str()))
                    .copied()
                    .flatten(),
                None if finding.resource.kind == crate::findings::ResourceKind::Tenant => {
                    self.tenant
                }
                None => None,
            };
        }
    }
}

/// Add the `activity` section to the Rego input (`scan --with-activity`).
fn add_activity(input: &mut regorus::Value, activity: &serde_json::Value) -> Result<(), String> {
    let value = regorus::Value::from_json_str(&activity.to_string())
        .map_err(|e| format!("cannot add the activity section to the Rego input: {e}"))?;
    input
        .as_object_mut()
        .map_err(|e| format!("the Rego input is not an object: {e}"))?
        .insert(regorus::Value::from("activity"), value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::pack::{self, Builtin};

    fn example(name: &str) -> (PathBuf, String) {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("examples")
            .join(name);
        let text = std::fs::read_to_string(&path).unwrap();
        (path, text)
    }

    /// The three examples and a generated tenant of `users` users in the stable layout.
    fn example_texts(users: usize) -> Vec<(PathBuf, String)> {
        let mut texts: Vec<(PathBuf, String)> = [
            "contoso-compromised.json",
            "contoso-clean.json",
            "contoso-partial.json",
        ]
        .iter()
        .map(|name| example(name))
        .collect();
        let mut generated = crate::synthetic::generate(&crate::synthetic::SyntheticOptions {
            users,
            ..Default::default()
        });
        snapshot::io::normalise(&mut generated);
        texts.push((
            PathBuf::from("generated.json"),
            snapshot::io::to_stable_json(&generated),
        ));
        texts
    }

    /// The resources' lines taken from the parse's layout (the large arrays' lines from
    /// the split and their parsed ids, the other members scanned alone) are those of one
    /// scan of the whole text, chunked or not, whatever the layout; and texts where the
    /// values cannot say what the text scan reads (a repeated key, a key with an escape)
    /// get no layout, so their lines come from the scan of the text.
    #[test]
    fn lines_from_the_parse_equal_the_scan_of_the_text() {
        let mut texts: Vec<String> = example_texts(3_000)
            .into_iter()
            .map(|(_, text)| text)
            .collect();
        // Pretty-printed: elements span lines, braces on their own lines.
        let value: serde_json::Value = serde_json::from_str(&texts[3]).unwrap();
        texts.push(serde_json::to_string_pretty(&value).unwrap());
        // Elements without an id, with an empty or a non-string id, not objects, an id
        // only in a nested object, an escaped id, a string holding braces and quotes.
        let odd: Vec<serde_json::Value> = (0..2_000)
            .map(|i| match i % 8 {
                0 => serde_json::json!({"name": "no id"}),
                1 => serde_json::json!({"id": ""}),
                2 => serde_json::json!({"id": i}),
                3 => serde_json::json!(format!("{i}")),
                4 => serde_json::json!({"x": {"id": format!("nested{i}")}}),
                5 => serde_json::json!({"id": format!("m/\"{i}\"\n{{[")}),
                _ => serde_json::json!({"id": format!("r{i}"), "n": [{"id": "deep"}]}),
            })
            .collect();
        let doc = serde_json::json!({
            "tenant": {"id": "t"},
            "inbox_rules": odd,
            "users": [{"id": "u1"}, {"id": "u2"}],
            "roles": {"assignments": [{"id": "a1"}, {"id": "a2"}]},
            "schema_version": 1,
        });
        texts.push(serde_json::to_string_pretty(&doc).unwrap());
        texts.push(serde_json::to_string(&doc).unwrap());
        for (n, text) in texts.iter().enumerate() {
            for chunk_bytes in [1 << 10, 16 << 10, 8 << 20] {
                let parsed = input::parse_in_chunks(text, 2, chunk_bytes);
                let parsed = parsed.unwrap();
                let layout = parsed.layout.expect("a plain text has a layout");
                let chunked = layout.iter().filter(|s| s.id_lines.is_some()).count();
                if chunk_bytes == 1 << 10 && n >= 3 {
                    assert!(chunked > 0, "text {n}: the test must exercise chunks");
                }
                let from_layout = Lines::of_layout(layout);
                let from_scan = Lines::of(text);
                assert!(from_scan.tenant.is_some() && !from_scan.by_path.is_empty());
                assert_eq!(from_layout, from_scan, "text {n}, chunks of {chunk_bytes}");
            }
        }
        for no_layout in [
            r#"{"users": [{"id": "u1"}, {"id": "u2"}], "users": [{"id": "u3"}]}"#,
            r#"{"users": [{"id": "u1", "id": "u2"}, {"id": "u3"}], "tenant": {}}"#,
            r#"{"users": [{"i\u0064": "u1"}, {"id": "u2"}], "tenant": {}}"#,
            r#"{"users": [{"id": "u1", "n": 1.5}, {"id": "u2"}], "tenant": {}}"#,
        ] {
            let parsed = input::parse_in_chunks(no_layout, 2, 1);
            assert!(parsed.unwrap().layout.is_none(), "{no_layout}");
        }
    }

    /// The typed model read from the Rego values is the one a parse of the text gives,
    /// for every example and for a generated tenant large enough to be cut into pieces.
    #[test]
    fn typed_model_from_the_values_equals_the_text_parse() {
        let texts = example_texts(12_000);
        for (path, text) in &texts {
            let parsed = input::parse_parallel(text, 2);
            let parsed = parsed.unwrap();
            assert!(!parsed.lossy, "{}", path.display());
            let from_value = snapshot::io::parse_from_value(path, &parsed.value, false, 2)
                .unwrap()
                .expect("the values deserialize");
            assert_eq!(
                from_value,
                snapshot::io::parse(path, text).unwrap(),
                "{}",
                path.display()
            );
        }
    }

    /// The typed model built in two steps (without the large arrays, then the large arrays
    /// consuming the values) is the one a parse of the text gives, whether or not another
    /// reference to the values (the evaluation's engine) is still alive.
    #[test]
    fn typed_model_in_two_steps_equals_the_text_parse() {
        let texts = example_texts(3_000);
        for (path, text) in &texts {
            let expected = snapshot::io::parse(path, text).unwrap();
            for shared in [false, true] {
                let parsed = input::parse_parallel(text, 2);
                let parsed = parsed.unwrap();
                let skeleton = snapshot::io::skeleton_from_value(&parsed.value, parsed.lossy)
                    .expect("the values deserialize");
                assert!(skeleton.snapshot.inbox_rules.is_empty());
                assert_eq!(skeleton.snapshot.sources, expected.sources);
                let other = shared.then(|| parsed.value.clone());
                let whole = snapshot::io::complete_from_value(path, skeleton, parsed.value, 2)
                    .unwrap()
                    .expect("the large arrays deserialize");
                assert_eq!(whole, expected, "{} shared={shared}", path.display());
                drop(other);
            }
        }
    }

    /// A snapshot file (mapped, and unmapped before the typed model is built) scans like its
    /// text in memory, and when the values cannot stand for it, the file is read again for
    /// the text parse's error.
    #[test]
    fn a_mapped_file_scans_like_its_text() {
        let pack = pack::load(&[], Builtin::All).unwrap();
        let (_, text) = example("contoso-compromised.json");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("snapshot.json");
        std::fs::write(&path, &text).unwrap();
        let settings = ScanSettings::default();
        let from_file = scan_file(&path, &pack, &settings).unwrap();
        let from_text = scan_text(&path, text.as_str(), &pack, &settings).unwrap();
        assert_eq!(from_file.snapshot, from_text.snapshot);
        assert_eq!(
            from_file.result.info.snapshot_digest,
            from_text.result.info.snapshot_digest
        );
        let findings = |o: &ScanOutput| serde_json::to_string(&o.result.outcomes).unwrap();
        assert_eq!(findings(&from_file), findings(&from_text));

        let first_user = text.find("\"user_principal_name\"").unwrap();
        let repeated = format!(
            "{}\"display_name\": \"x\", {}",
            &text[..first_user],
            &text[first_user..]
        );
        std::fs::write(&path, &repeated).unwrap();
        let expected = snapshot::io::parse(&path, &repeated)
            .unwrap_err()
            .to_string();
        match scan_file(&path, &pack, &settings) {
            Ok(_) => panic!("accepted: {expected}"),
            Err(err) => assert_eq!(err.to_string(), expected),
        }
    }

    /// What the values hide or do not fit is reported as a parse of the text reports it:
    /// same message, line and column.
    #[test]
    fn a_bad_snapshot_fails_with_the_text_parse_error() {
        let pack = pack::load(&[], Builtin::All).unwrap();
        let (path, text) = example("contoso-clean.json");
        let first_user = text.find("\"user_principal_name\"").unwrap();
        let broken = [
            // A repeated key: the values keep the last one, serde refuses it.
            format!(
                "{}\"display_name\": \"x\", {}",
                &text[..first_user],
                &text[first_user..]
            ),
            // A fraction where an integer belongs.
            text.replacen("\"schema_version\": 1", "\"schema_version\": 1.0", 1),
            // A field of the wrong type.
            format!(
                "{}\"account_enabled\": \"yes\", {}",
                &text[..first_user],
                &text[first_user..].replacen("\"account_enabled\":true,", "", 1)
            ),
            // Not JSON at all.
            text.replacen('}', "", 3),
            // Wrong outside the large arrays (the part evaluation needs first).
            text.replacen("\"tenant\"", "\"unknown_section\": 1, \"tenant\"", 1),
            // A newer schema: the whole model deserializes, the version check refuses it.
            text.replacen("\"schema_version\": 1", "\"schema_version\": 99", 1),
            // An inbox rule the model refuses (a scan for reports keeps none of them).
            text.replacen(
                "\"id\":\"3a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c02/AQAAAFRvbTE=\"",
                "\"id\":\"3a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c02/AQAAAFRvbTE=\",\"colour\":1",
                1,
            ),
            // Two inbox rules with one id.
            text.replacen(
                "3a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c02/AQAAAFRvbTE=",
                "3a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c01/AQAAAE1hcmlhMQ==",
                1,
            ),
        ];
        for bad in &broken {
            assert_ne!(bad, &text);
            let expected = snapshot::io::parse(&path, bad).unwrap_err().to_string();
            for detail in [SnapshotDetail::Whole, SnapshotDetail::ForReports] {
                let settings = ScanSettings {
                    snapshot_detail: detail,
                    ..ScanSettings::default()
                };
                let got = match scan_text(&path, bad.as_str(), &pack, &settings) {
                    Ok(_) => panic!("accepted ({detail:?}): {expected}"),
                    Err(err) => err.to_string(),
                };
                assert_eq!(got, expected, "{detail:?}");
            }
        }
    }

    /// A scan for reports gives the result of a whole scan (findings, lines), and its
    /// typed snapshot is the whole one with only the inbox rules the findings name.
    #[test]
    fn a_scan_for_reports_gives_the_result_of_a_whole_scan() {
        let pack = pack::load(&[], Builtin::All).unwrap();
        let mut named_rules = 0;
        for (path, text) in example_texts(3_000) {
            let scan = |detail| {
                let settings = ScanSettings {
                    snapshot_detail: detail,
                    ..ScanSettings::default()
                };
                scan_text(&path, text.as_str(), &pack, &settings).unwrap()
            };
            let whole = scan(SnapshotDetail::Whole);
            let for_reports = scan(SnapshotDetail::ForReports);
            assert_eq!(
                serde_json::to_string(&for_reports.result.outcomes).unwrap(),
                serde_json::to_string(&whole.result.outcomes).unwrap(),
                "{}",
                path.display()
            );
            assert!(whole.unkept_values.is_none());
            let unkept = for_reports.unkept_values.expect("the inbox rules' values");
            assert_eq!(
                unkept.as_array().unwrap().len(),
                whole.snapshot.inbox_rules.len()
            );
            let named: HashSet<&str> = whole
                .result
                .outcomes
                .iter()
                .flat_map(|o| &o.findings)
                .map(|f| f.resource.id.as_str())
                .collect();
            let mut expected = whole.snapshot.clone();
            expected
                .inbox_rules
                .retain(|r| named.contains(r.id.as_str()));
            named_rules += expected.inbox_rules.len();
            assert_eq!(for_reports.snapshot, expected, "{}", path.display());
        }
        assert!(
            named_rules > 0,
            "no finding names an inbox rule: the test proves nothing"
        );
    }
}
