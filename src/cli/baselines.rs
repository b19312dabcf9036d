//! `m365guard baselines list` (the built-in baselines and what they select) and
//! `baselines show NAME` (a baseline's controls with the rules that check them, and with
//! `--snapshot` whether each control passes on that tenant), as text or, with
//! `--format json`, as one machine-readable document ([`ShowJson`]).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use serde::Serialize;

use crate::baseline::{Baseline, BaselineSet, Coverage};
use crate::findings::{ExitStatus, RuleStatus, ScanResult};
use crate::policy::pack::{self, Builtin};
use crate::scan::{self as engine, Input};

#[derive(Debug, clap::Subcommand)]
pub enum BaselinesCommand {
    /// Name, rule count, what it extends and the framework it maps to.
    List,
    /// A baseline's framework controls (or rules) and the m365guard rules that check them;
    /// with --snapshot, pass/fail per control on that tenant.
    Show(ShowArgs),
}

#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// A built-in baseline (`m365guard baselines list`) or a baseline .toml file.
    pub name: String,
    /// Scan this snapshot with the baseline's rules and show each control's status.
    #[arg(long, value_name = "FILE")]
    pub snapshot: Option<PathBuf>,
    /// `text` (for people) or `json` (controls, their rules and, with --snapshot, each
    /// one's status and unwaived finding count).
    #[arg(long, short = 'f', value_enum, default_value_t = ShowFormat::Text)]
    pub format: ShowFormat,
    #[command(flatten)]
    pub config: super::ConfigArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ShowFormat {
    Text,
    Json,
}

pub fn run(command: BaselinesCommand) -> anyhow::Result<ExitStatus> {
    match command {
        BaselinesCommand::List => list(),
        BaselinesCommand::Show(args) => show(&args),
    }
}

fn list() -> anyhow::Result<ExitStatus> {
    let summaries = BaselineSet::builtin()?.list()?;
    let width = summaries
        .iter()
        .map(|s| s.name.len())
        .max()
        .unwrap_or(4)
        .max(4);
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{:width$}  {:>5}  {:14}  TITLE",
        "NAME", "RULES", "EXTENDS"
    )?;
    for s in summaries {
        let extends = s.extends.as_deref().unwrap_or("-");
        let rules = if s.rules == 0 {
            "-".to_owned()
        } else {
            s.rules.to_string()
        };
        writeln!(
            out,
            "{:width$}  {:>5}  {:14}  {}",
            s.name, rules, extends, s.title
        )?;
    }
    Ok(ExitStatus::Compliant)
}

/// One row of `baselines show`: a framework control (or, for a baseline without
/// mappings, one selected rule) and the rules that check it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlRow {
    /// The framework's control id, or the rule id for rule-only baselines.
    pub control: String,
    pub title: String,
    /// (rule id, coverage; `None` for a rule-only baseline's own rule).
    pub rules: Vec<(String, Option<Coverage>)>,
}

/// A control's verdict on one scan: the worst of its rules' outcomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControlStatus {
    Pass,
    /// Every rule passed, but none of them checks the whole control.
    PassPartial,
    Fail,
    NotEvaluated,
    NotApplicable,
}

impl ControlStatus {
    /// The JSON name (`baselines show --format json`).
    pub fn key(self) -> &'static str {
        match self {
            ControlStatus::Pass => "pass",
            ControlStatus::PassPartial => "pass_partial",
            ControlStatus::Fail => "fail",
            ControlStatus::NotEvaluated => "not_evaluated",
            ControlStatus::NotApplicable => "not_applicable",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ControlStatus::Pass => "pass",
            ControlStatus::PassPartial => "pass (partial)",
            ControlStatus::Fail => "FAIL",
            ControlStatus::NotEvaluated => "not evaluated",
            ControlStatus::NotApplicable => "n/a",
        }
    }
}

/// The rows of a baseline and the baselines it extends, in file order: its `[[mapping]]`
/// entries grouped by control, then `[[rule]]` entries (one row each).
pub fn rows(chain: &[&Baseline]) -> Vec<ControlRow> {
    let mut rows: Vec<ControlRow> = Vec::new();
    for baseline in chain {
        for m in &baseline.mappings {
            match rows.iter_mut().find(|r| r.control == m.control) {
                Some(row) => row.rules.push((m.rule.clone(), Some(m.coverage))),
                None => rows.push(ControlRow {
                    control: m.control.clone(),
                    title: m.title.clone(),
                    rules: vec![(m.rule.clone(), Some(m.coverage))],
                }),
            }
        }
        for r in &baseline.rules {
            if !rows.iter().any(|row| row.control == r.id) {
                rows.push(ControlRow {
                    control: r.id.clone(),
                    title: r.reason.clone(),
                    rules: vec![(r.id.clone(), None)],
                });
            }
        }
    }
    rows
}

/// A control's status from its rules' outcomes in `result` (a rule the scan did not
/// evaluate at all counts as not evaluated).
pub fn control_status(row: &ControlRow, result: &ScanResult) -> ControlStatus {
    let statuses: Vec<Option<&RuleStatus>> = row
        .rules
        .iter()
        .map(|(id, _)| {
            result
                .outcomes
                .iter()
                .find(|o| &o.rule.id == id)
                .map(|o| &o.status)
        })
        .collect();
    if statuses
        .iter()
        .any(|s| matches!(s, Some(RuleStatus::Failed)))
    {
        return ControlStatus::Fail;
    }
    if statuses
        .iter()
        .any(|s| matches!(s, None | Some(RuleStatus::NotEvaluated { .. })))
    {
        return ControlStatus::NotEvaluated;
    }
    if statuses
        .iter()
        .all(|s| matches!(s, Some(RuleStatus::NotApplicable { .. })))
    {
        return ControlStatus::NotApplicable;
    }
    if row
        .rules
        .iter()
        .any(|(_, coverage)| coverage.is_none_or(|c| c == Coverage::Full))
    {
        ControlStatus::Pass
    } else {
        ControlStatus::PassPartial
    }
}

fn show(args: &ShowArgs) -> anyhow::Result<ExitStatus> {
    let pack = pack::load(&[], Builtin::All)?;
    let mut set = BaselineSet::builtin()?;
    let name = set.resolve_arg(&args.name)?;
    set.validate(&pack.rule_ids())?;
    let chain = set.chain(&name)?;
    let Some(baseline) = chain.last().copied() else {
        anyhow::bail!("baseline {name} is empty");
    };
    let rows = rows(&chain);

    let result = match &args.snapshot {
        None => None,
        Some(path) => {
            let config = args.config.load()?;
            let mut settings =
                engine::Settings::new(Input::File(path.clone()), &pack, config.as_ref());
            settings.only_rules = Some(set.select(&name)?);
            settings.baseline = Some(name.clone());
            // Only the result is shown.
            settings.snapshot_detail = engine::SnapshotDetail::ForReports;
            Some(engine::run(&settings)?.result)
        }
    };

    let mut out = std::io::stdout().lock();
    if args.format == ShowFormat::Json {
        let doc = show_json(&chain, &rows, args.snapshot.as_deref(), result.as_ref());
        serde_json::to_writer_pretty(&mut out, &doc)?;
        writeln!(out)?;
        return Ok(result.map_or(ExitStatus::Compliant, |r| r.exit_status()));
    }
    writeln!(out, "{} ({})", baseline.title, baseline.name)?;
    if let Some(framework) = &baseline.framework {
        write!(out, "Framework: {framework}")?;
        match &baseline.url {
            Some(url) => writeln!(out, " <{url}>")?,
            None => writeln!(out)?,
        }
    }
    if chain.len() > 1 {
        let names: Vec<&str> = chain.iter().map(|b| b.name.as_str()).collect();
        writeln!(out, "Includes: {}", names.join(" → "))?;
    }
    writeln!(out)?;
    let mut counts = [0usize; 5];
    for row in &rows {
        let status = result.as_ref().map(|r| control_status(row, r));
        match status {
            Some(s) => {
                counts[s as usize] += 1;
                writeln!(out, "[{}] {}  {}", s.as_str(), row.control, row.title)?;
            }
            None => writeln!(out, "{}  {}", row.control, row.title)?,
        }
        for (rule, coverage) in &row.rules {
            if coverage.is_some() || rule != &row.control {
                let coverage = coverage.map(|c| format!(" ({})", c.as_str()));
                writeln!(out, "    {rule}{}", coverage.unwrap_or_default())?;
            }
        }
    }
    if let Some(result) = &result {
        writeln!(out)?;
        writeln!(
            out,
            "{} controls: {} pass ({} only partially checked), {} fail, {} not evaluated, {} not applicable",
            rows.len(),
            counts[ControlStatus::Pass as usize] + counts[ControlStatus::PassPartial as usize],
            counts[ControlStatus::PassPartial as usize],
            counts[ControlStatus::Fail as usize],
            counts[ControlStatus::NotEvaluated as usize],
            counts[ControlStatus::NotApplicable as usize],
        )?;
        return Ok(result.exit_status());
    }
    Ok(ExitStatus::Compliant)
}

/// `baselines show --format json`: the baseline, its controls with their rules and, with
/// `--snapshot`, every control's and rule's status (the same verdicts as the text form).
#[derive(Debug, Serialize)]
pub struct ShowJson {
    pub baseline: String,
    pub title: String,
    pub framework: Option<String>,
    pub url: Option<String>,
    /// The chain of baselines read, the named one last.
    pub includes: Vec<String>,
    /// The snapshot judged, `null` without `--snapshot`.
    pub snapshot: Option<String>,
    pub controls: Vec<ControlJson>,
    /// Controls per status; `null` without `--snapshot`.
    pub summary: Option<BTreeMap<&'static str, usize>>,
}

#[derive(Debug, Serialize)]
pub struct ControlJson {
    /// The framework's control id, or the rule id for rule-only baselines.
    pub control: String,
    pub title: String,
    /// `pass`, `pass_partial`, `fail`, `not_evaluated`, `not_applicable`; `null` without
    /// `--snapshot`.
    pub status: Option<&'static str>,
    pub rules: Vec<ControlRuleJson>,
}

#[derive(Debug, Serialize)]
pub struct ControlRuleJson {
    pub id: String,
    /// `full` or `partial`; `null` for a rule-only baseline's own rule.
    pub coverage: Option<&'static str>,
    /// `passed`, `failed`, `not_evaluated`, `not_applicable`; `null` without `--snapshot`.
    pub status: Option<&'static str>,
    /// Unwaived findings; `null` without `--snapshot`.
    pub findings: Option<usize>,
}

fn rule_status_key(status: &RuleStatus) -> &'static str {
    match status {
        RuleStatus::Passed => "passed",
        RuleStatus::Failed => "failed",
        RuleStatus::NotEvaluated { .. } => "not_evaluated",
        RuleStatus::NotApplicable { .. } => "not_applicable",
    }
}

pub fn show_json(
    chain: &[&Baseline],
    rows: &[ControlRow],
    snapshot: Option<&std::path::Path>,
    result: Option<&ScanResult>,
) -> ShowJson {
    let last = chain.last();
    let controls: Vec<ControlJson> = rows
        .iter()
        .map(|row| ControlJson {
            control: row.control.clone(),
            title: row.title.clone(),
            status: result.map(|r| control_status(row, r).key()),
            rules: row
                .rules
                .iter()
                .map(|(id, coverage)| {
                    let outcome = result.and_then(|r| r.outcomes.iter().find(|o| &o.rule.id == id));
                    ControlRuleJson {
                        id: id.clone(),
                        coverage: coverage.map(Coverage::as_str),
                        // A rule the scan did not evaluate at all is not evaluated.
                        status: result.map(|_| {
                            outcome.map_or("not_evaluated", |o| rule_status_key(&o.status))
                        }),
                        findings: result
                            .map(|_| outcome.map_or(0, |o| o.active_findings().count())),
                    }
                })
                .collect(),
        })
        .collect();
    let summary = result.map(|_| {
        let mut counts: BTreeMap<&'static str, usize> = [
            ControlStatus::Pass,
            ControlStatus::PassPartial,
            ControlStatus::Fail,
            ControlStatus::NotEvaluated,
            ControlStatus::NotApplicable,
        ]
        .iter()
        .map(|s| (s.key(), 0))
        .collect();
        for c in &controls {
            if let Some(count) = c.status.and_then(|s| counts.get_mut(s)) {
                *count += 1;
            }
        }
        counts
    });
    ShowJson {
        baseline: last.map(|b| b.name.clone()).unwrap_or_default(),
        title: last.map(|b| b.title.clone()).unwrap_or_default(),
        framework: last.and_then(|b| b.framework.clone()),
        url: last.and_then(|b| b.url.clone()),
        includes: chain.iter().map(|b| b.name.clone()).collect(),
        snapshot: snapshot.map(|p| p.display().to_string()),
        controls,
        summary,
    }
}
