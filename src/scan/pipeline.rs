//! The scan pipeline, assembled once for every command that scans (`scan`, `fix plan`, the
//! verification after `fix apply`, `respond`): snapshot (a file, text in memory, or a live
//! collection) → evaluate → m365guard.toml (break-glass exemptions, exceptions) → `--since`
//! comparison → exit status.
//!
//! The exit status is decided here, before any report exists: everything it depends on
//! (rule outcomes, a failed source of a live collection, no rule evaluated at all) is in the
//! returned `ScanResult`, and `ScanResult::exit_status` derives the code from it alone. So
//! every report rendered from the result states the code the process returns. Parsing
//! arguments and rendering reports stay in `cli/`.

use std::path::{Path, PathBuf};

use chrono::{NaiveDate, Utc};

use super::{scan_text, ScanError, ScanSettings, SnapshotDetail, SnapshotText};
use crate::config::{self, Config};
use crate::findings::{ExitStatus, RuleStatus, ScanResult, Severity};
use crate::policy::evaluate::RegoConfig;
use crate::policy::pack::Pack;
use crate::since;
use crate::snapshot::model::{Snapshot, SourceState};
use crate::snapshot::{io as snapshot_io, SnapshotError};

/// Where the snapshot to scan comes from.
#[derive(Debug, Clone)]
pub enum Input {
    /// A snapshot file (`--snapshot`, or a plan's saved snapshot).
    File(PathBuf),
    /// Snapshot text already in memory (stable JSON), reported as `name`.
    Text { name: PathBuf, text: String },
    /// Collect the tenant live with these connection settings; the snapshot is written to
    /// `save_to` (mode 0600) when given, and scanned from the same text. A source that
    /// failed to collect makes the scan incomplete (exit 3) even when no selected rule
    /// reads it: a live scan never passes on missing data.
    Live {
        connection: crate::auth::Settings,
        save_to: Option<PathBuf>,
    },
}

/// Everything a scan needs, already validated by the caller (`cli/` parses arguments into
/// this). m365guard.toml is read once by the caller and passed in.
#[derive(Debug, Clone)]
pub struct Settings<'a> {
    pub input: Input,
    pub pack: &'a Pack,
    /// The parsed m365guard.toml, if any: allowed forwarding domains (to the rules), and
    /// break-glass exemptions and exceptions (to the result, see `apply_waivers`).
    pub config: Option<&'a Config>,
    /// Apply the config's break-glass exemptions and exceptions to the result. `respond`
    /// turns it off: in an incident, a compromised account's approved forwarding is
    /// reviewed like any other (unchanged from before the pipeline was shared).
    pub apply_waivers: bool,
    /// Only these rule ids (`--rule`, a baseline's selection); `None` = the whole pack.
    pub only_rules: Option<Vec<String>>,
    /// The baseline's name, for the reports.
    pub baseline: Option<String>,
    pub fail_on: Severity,
    /// Evaluation threads.
    pub threads: usize,
    /// An earlier SARIF log or snapshot to compare with (`--since`).
    pub since: Option<PathBuf>,
    /// The day exceptions' expiry dates are compared with.
    pub today: NaiveDate,
    /// `scan --with-activity`: read the window's audit logs (live input only) before the
    /// evaluation, for the rules' optional `input.activity` section; the logs come back in
    /// `Outcome::activity` for the join onto findings.
    pub activity: Option<crate::activity::read::Options>,
    /// How much of the typed snapshot `Outcome::snapshot` holds. A live collection is
    /// always `Whole` (its summary counts every array, and the activity join reads them).
    pub snapshot_detail: SnapshotDetail,
}

impl<'a> Settings<'a> {
    /// Defaults: every rule, waivers applied, `fail_on` high, the machine's cores, today.
    pub fn new(input: Input, pack: &'a Pack, config: Option<&'a Config>) -> Settings<'a> {
        let defaults = ScanSettings::default();
        Settings {
            input,
            pack,
            config,
            apply_waivers: true,
            only_rules: None,
            baseline: None,
            fail_on: defaults.fail_on,
            threads: defaults.threads,
            since: None,
            today: Utc::now().date_naive(),
            activity: None,
            snapshot_detail: SnapshotDetail::Whole,
        }
    }

    /// The evaluation settings (also used to scan a `--since` snapshot the same way).
    pub fn scan_settings(&self) -> ScanSettings {
        ScanSettings {
            only_rules: self.only_rules.clone(),
            baseline: self.baseline.clone(),
            fail_on: self.fail_on,
            rego_config: RegoConfig {
                allowed_forwarding_domains: self
                    .config
                    .map(|c| c.allowed_forwarding_domains().to_vec())
                    .unwrap_or_default(),
                allowed_smart_hosts: self
                    .config
                    .map(|c| c.allowed_smart_hosts().to_vec())
                    .unwrap_or_default(),
                allowed_delegates: self
                    .config
                    .map(|c| {
                        c.allowed_delegates()
                            .iter()
                            .map(|a| (a.mailbox.clone(), a.delegate.clone()))
                            .collect()
                    })
                    .unwrap_or_default(),
                executive_mailboxes: self
                    .config
                    .map(|c| c.executive_mailboxes().to_vec())
                    .unwrap_or_default(),
                allowed_role_group_members: self
                    .config
                    .map(|c| c.allowed_role_group_members().to_vec())
                    .unwrap_or_default(),
                known_malicious_app_ids: self
                    .config
                    .map(|c| c.known_malicious_app_ids.clone())
                    .unwrap_or_default(),
                review_window_days: self.config.map(|c| c.review_window_days),
                max_secret_lifetime_days: self.config.and_then(|c| c.max_secret_lifetime_days),
                federation_issuers: self
                    .config
                    .map(|c| c.federation_issuers.clone())
                    .unwrap_or_default(),
            },
            threads: self.threads,
            activity_input: None,
            snapshot_detail: match self.input {
                Input::Live { .. } => SnapshotDetail::Whole,
                Input::File(_) | Input::Text { .. } => self.snapshot_detail,
            },
        }
    }
}

/// What a scan produced: the result (ready for reports, exit status included) and the
/// parsed snapshot (for fix planning and verification).
pub struct Outcome {
    pub result: ScanResult,
    /// As much of it as `Settings::snapshot_detail` asked for.
    pub snapshot: Snapshot,
    /// Rego values the typed snapshot does not hold (`ScanOutput::unkept_values`).
    pub unkept_values: Option<regorus::Value>,
    /// The snapshot file read or written; `None` when it only lived in memory.
    pub snapshot_path: Option<PathBuf>,
    /// Whether the snapshot was collected live in this run.
    pub collected: bool,
    /// `scan --with-activity`: the audit logs read (live input only).
    pub activity: Option<crate::activity::read::Logs>,
}

impl Outcome {
    /// The process exit status, as every report rendered from `result` states it.
    pub fn exit_status(&self) -> ExitStatus {
        self.result.exit_status()
    }
}

/// Name under which a live snapshot kept only in memory is reported.
const IN_MEMORY_NAME: &str = "collected-snapshot.json";

/// Run the pipeline: snapshot → evaluate → waivers → `--since` → exit status.
pub fn run(settings: &Settings<'_>) -> Result<Outcome, ScanError> {
    // Validate before collecting: no sign-in for a typo in m365guard.toml.
    if let (Some(config), true) = (settings.config, settings.apply_waivers) {
        config.validate(&settings.pack.rule_ids())?;
    }
    let mut scan_settings = settings.scan_settings();
    let mut activity = None;
    let (name, text, snapshot_path, collected): (&Path, SnapshotText<'_>, _, _) =
        match &settings.input {
            // Mapped, not read: no copy of a 2 GB file into fresh memory (see `text`).
            Input::File(path) => (path, super::text::load(path)?, Some(path.clone()), false),
            Input::Text { name, text } => (name, SnapshotText::from(text.as_str()), None, false),
            Input::Live {
                connection,
                save_to,
            } => {
                let (text, methods) =
                    collect_text(connection, save_to.as_deref(), settings.activity.is_some())?;
                // Context for the rules that can use it; never a verdict of its own.
                if let Some(options) = &settings.activity {
                    let mut logs = crate::activity::read::read_logs(connection, options);
                    scan_settings.activity_input = Some(logs.rego_section(&methods));
                    activity = Some(logs);
                }
                let name = save_to.as_deref().unwrap_or(Path::new(IN_MEMORY_NAME));
                (name, SnapshotText::from(text), save_to.clone(), true)
            }
        };
    // The text moves in: the scan drops it once parsed (2 GB for 1M users).
    let output = scan_text(name, text, settings.pack, &scan_settings)?;
    let mut result = output.result;
    let snapshot = output.snapshot;
    let unkept_values = output.unkept_values;

    let t = std::time::Instant::now();
    match (settings.config, settings.apply_waivers) {
        (Some(config), true) => config::apply(config, &mut result, &snapshot, settings.today),
        _ => config::annotate(&mut result, &snapshot),
    }
    crate::profile::record("waivers and annotations", t);
    result.info.config_path = settings
        .config
        .and_then(Config::path)
        .map(|p| p.display().to_string());
    if let Some(path) = &settings.since {
        let previous = match since::read(path)? {
            since::Earlier::Sarif(previous) => previous,
            // An earlier snapshot is judged exactly like this one: same rules, config and
            // waivers (a break-glass finding exempted now was exempted then, not "absent").
            since::Earlier::Snapshot(text) => {
                let earlier = Settings {
                    input: Input::Text {
                        name: path.clone(),
                        text,
                    },
                    since: None,
                    ..settings.clone()
                };
                since::Previous::from_result(run(&earlier)?.result)
            }
        };
        since::compare(&mut result, previous, path)?;
    }
    if collected {
        mark_failed_sources(&mut result, &snapshot);
    }
    if !result
        .outcomes
        .iter()
        .any(|o| matches!(o.status, RuleStatus::Passed | RuleStatus::Failed))
    {
        result.mark_incomplete(
            "no rule was evaluated (every selected rule is not applicable or not evaluated): \
             there is no verdict on this tenant"
                .to_owned(),
        );
    }
    Ok(Outcome {
        result,
        snapshot,
        unkept_values,
        snapshot_path,
        collected,
        activity,
    })
}

/// Collect live, normalise, and return the stable JSON text (written to `save_to` first).
/// The collected snapshot as stable JSON, and (with `keep_auth_methods`, for
/// `--with-activity`) its auth methods, taken from the typed snapshot so the text is not
/// parsed a second time to read them.
fn collect_text(
    connection: &crate::auth::Settings,
    save_to: Option<&Path>,
    keep_auth_methods: bool,
) -> Result<(String, Vec<crate::snapshot::model::AuthMethod>), ScanError> {
    let tenant = connection.tenant.clone();
    let mut snapshot =
        crate::collect::collect(connection.clone()).map_err(|source| ScanError::SignIn {
            tenant,
            source: Box::new(source),
        })?;
    // The same steps as `snapshot::io::write`, keeping the text to scan it without a
    // second read of the file.
    snapshot_io::normalise(&mut snapshot);
    let text = snapshot_io::to_stable_json(&snapshot);
    if let Some(path) = save_to {
        snapshot_io::write_private(path, text.as_bytes()).map_err(|source| {
            SnapshotError::Write {
                path: path.to_owned(),
                source,
            }
        })?;
    }
    let methods = if keep_auth_methods {
        std::mem::take(&mut snapshot.auth_methods)
    } else {
        Vec::new()
    };
    Ok((text, methods))
}

/// A live collection with a source in `error` is incomplete, whether or not a selected
/// rule reads that source.
fn mark_failed_sources(result: &mut ScanResult, snapshot: &Snapshot) {
    let failed: Vec<String> = snapshot
        .sources
        .iter()
        .filter(|(_, status)| status.status == SourceState::Error)
        .map(|(id, status)| match &status.reason {
            Some(reason) => format!("{} ({reason})", id.as_str()),
            None => id.as_str().to_owned(),
        })
        .collect();
    if !failed.is_empty() {
        result.mark_incomplete(format!(
            "the live collection is incomplete: {} failed to collect: {}",
            if failed.len() == 1 {
                "1 source"
            } else {
                "sources"
            },
            failed.join("; ")
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::pack::{self, Builtin};

    fn example() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/contoso-compromised.json")
    }

    fn forwarding_targets(outcome: &Outcome) -> Vec<String> {
        outcome
            .result
            .outcomes
            .iter()
            .filter(|o| o.rule.id == "mailbox_external_forwarding")
            .flat_map(|o| o.active_findings())
            .map(|f| f.resource.name.clone())
            .collect()
    }

    /// Every caller gets the config's allowed forwarding domains into the rules just by
    /// passing the config (the verification after `fix apply` used to scan with defaults).
    #[test]
    fn the_config_reaches_the_rules_and_the_waivers() {
        let pack = pack::load(&[], Builtin::All).unwrap();
        let without = run(&Settings::new(Input::File(example()), &pack, None)).unwrap();
        assert!(
            forwarding_targets(&without).contains(&"lena.fischer@contoso.com".to_owned()),
            "{:?}",
            forwarding_targets(&without)
        );
        let config = Config::parse(
            Path::new("m365guard.toml"),
            "[exchange]\nallowed_forwarding_domains = [\"gmail.com\"]\n\n\
             [[exception]]\nrule = \"user_without_mfa\"\nresource = \"*\"\n\
             reason = \"test\"\nexpires = 2999-01-01\n",
        )
        .unwrap();
        let with = run(&Settings::new(Input::File(example()), &pack, Some(&config))).unwrap();
        assert!(
            !forwarding_targets(&with).contains(&"lena.fischer@contoso.com".to_owned()),
            "{:?}",
            forwarding_targets(&with)
        );
        let waived = with
            .result
            .outcomes
            .iter()
            .find(|o| o.rule.id == "user_without_mfa")
            .unwrap();
        assert!(!waived.findings.is_empty());
        assert!(waived.findings.iter().all(|f| f.is_waived()));
        assert_eq!(with.exit_status(), with.result.exit_status());
    }

    /// A scan for reports (inbox rules kept only where findings name them) applies
    /// m365guard.toml exactly as a whole scan: exceptions matched on an inbox rule's
    /// mailbox owner, break-glass accounts, the keys reports show.
    #[test]
    fn a_scan_for_reports_applies_the_config_like_a_whole_scan() {
        let pack = pack::load(&[], Builtin::All).unwrap();
        let config = Config::parse(
            Path::new("m365guard.toml"),
            "[break_glass]\naccounts = [\"breakglass01@contoso.onmicrosoft.com\", \"nobody@contoso.com\"]\n\n\
             [[exception]]\nrule = \"inbox_rule_external_forwarding\"\n\
             resource = \"lena.fischer@contoso.com\"\nreason = \"test\"\nexpires = 2999-01-01\n",
        )
        .unwrap();
        let scan = |detail| {
            let mut settings = Settings::new(Input::File(example()), &pack, Some(&config));
            settings.snapshot_detail = detail;
            run(&settings).unwrap().result
        };
        let whole = scan(SnapshotDetail::Whole);
        let for_reports = scan(SnapshotDetail::ForReports);
        let waived = whole
            .outcomes
            .iter()
            .find(|o| o.rule.id == "inbox_rule_external_forwarding")
            .unwrap();
        assert!(waived.findings.iter().any(|f| f.is_waived()));
        assert!(!whole.exemptions.is_empty() && !whole.warnings.is_empty());
        let json = |r: &ScanResult| {
            serde_json::to_string(&(&r.outcomes, &r.exemptions, &r.warnings)).unwrap()
        };
        assert_eq!(json(&for_reports), json(&whole));
    }

    /// The exit status is part of the result: a reason marked on it is exit 3 whatever
    /// the rules say, and it is listed among the warnings.
    #[test]
    fn an_incomplete_reason_decides_the_exit_status_in_the_result() {
        let pack = pack::load(&[], Builtin::All).unwrap();
        let mut settings = Settings::new(Input::File(example()), &pack, None);
        settings.only_rules = Some(vec!["too_many_global_admins".to_owned()]);
        let mut outcome = run(&settings).unwrap();
        assert_ne!(outcome.exit_status(), ExitStatus::Incomplete);
        outcome.result.mark_incomplete("a source failed".to_owned());
        assert_eq!(outcome.exit_status(), ExitStatus::Incomplete);
        assert!(outcome
            .result
            .warnings
            .iter()
            .any(|w| w.contains("a source failed")));
    }
}
