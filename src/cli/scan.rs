//! `m365guard scan`: parse the arguments into `scan::Settings`, run the library's scan
//! pipeline, and render/write the requested reports.
//!
//! The exit status is the result's (`ScanResult::exit_status`), decided by the pipeline
//! before any report is rendered, so every report states the code the process returns.
//! Reports are rendered in memory first and written to temporary files that are renamed
//! into place only when every one succeeded, so a failed run never leaves a partial
//! report that looks complete. With `--out`, stdout gets a short summary, not the table.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::collect::ConnectionArgs;
use super::ConfigArgs;
use crate::baseline::BaselineSet;
use crate::config::Config;
use crate::findings::{ExitStatus, ScanResult, Severity};
use crate::policy::pack::{self, Builtin, Pack};
use crate::report::{Format, RenderOptions};
use crate::scan::{self as engine, Input};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FailOn {
    Critical,
    High,
    Medium,
    Low,
}

impl From<FailOn> for Severity {
    fn from(f: FailOn) -> Severity {
        match f {
            FailOn::Critical => Severity::Critical,
            FailOn::High => Severity::High,
            FailOn::Medium => Severity::Medium,
            FailOn::Low => Severity::Low,
        }
    }
}

#[derive(Debug, clap::Args)]
#[command(after_help = super::collect::CREDENTIALS_HELP)]
pub struct ScanArgs {
    /// Snapshot file to evaluate (from `m365guard collect` or `examples/`).
    #[arg(long, value_name = "FILE", conflicts_with = "tenant")]
    pub snapshot: Option<PathBuf>,
    /// Instead of --snapshot: collect the tenant live (like `collect`), write the snapshot
    /// to <--out>/snapshot.json and scan that.
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// Extra rule pack directories, evaluated with the built-in pack.
    #[arg(long = "policies", value_name = "DIR")]
    pub policies: Vec<PathBuf>,
    /// Report formats; repeat for several. Default: table.
    #[arg(long = "format", short = 'f', value_enum, value_name = "FORMAT")]
    pub formats: Vec<Format>,
    /// Write every requested format into this directory (created if missing); stdout then
    /// gets a short summary (counts, exit code, the files written) instead of the table.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Exit 1 when an unwaived finding has at least this severity.
    #[arg(long, value_enum, default_value = "high")]
    pub fail_on: FailOn,
    /// Only evaluate these rules (repeatable).
    #[arg(long = "rule", value_name = "ID")]
    pub rules: Vec<String>,
    /// Evaluate a baseline's selection: `roadmap-30d`, `roadmap-90d`, `roadmap-beyond`,
    /// or a baseline .toml file (see `m365guard baselines list`).
    #[arg(long, value_name = "NAME|FILE")]
    pub baseline: Option<String>,
    #[command(flatten)]
    pub config: ConfigArgs,
    /// An earlier SARIF log or snapshot: mark each finding new/unchanged/updated and report
    /// fixed ones as absent (SARIF baselineState).
    #[arg(long, value_name = "FILE")]
    pub since: Option<PathBuf>,
    /// Threads for parsing and rule evaluation (default: the machine's cores).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub threads: Option<u16>,
    /// Do not print the summary to stdout when writing to --out.
    #[arg(short, long)]
    pub quiet: bool,
    /// With --tenant: read the last DAYS of directory audits, the unified audit log and the
    /// actors' sign-ins, and attach to each finding who created or changed its object,
    /// when and from where. Context only: verdicts and exit code are unchanged.
    #[arg(long, value_name = "DAYS", value_parser = clap::value_parser!(u32).range(1..=3650))]
    pub with_activity: Option<u32>,
    /// With --with-activity: the longest wait for the audit log query, in seconds.
    #[arg(long, value_name = "SECONDS", requires = "with_activity", default_value_t = crate::investigate::audit_query::DEFAULT_WAIT.as_secs())]
    pub audit_wait: u64,
}

/// Validated scan settings: what to write where.
struct Outputs {
    formats: Vec<Format>,
    out_dir: Option<PathBuf>,
    print_summary: bool,
}

fn validate_outputs(args: &ScanArgs) -> anyhow::Result<Outputs> {
    let mut formats = args.formats.clone();
    if formats.is_empty() {
        formats.push(Format::Table);
    }
    formats.sort();
    formats.dedup();
    if args.out.is_none() && formats.len() > 1 {
        anyhow::bail!("several --format values need --out DIR (stdout can hold only one report)");
    }
    Ok(Outputs {
        print_summary: args.out.is_some() && !args.quiet,
        formats,
        out_dir: args.out.clone(),
    })
}

/// The rule selection from --rule and --baseline, validated against the pack; with the
/// baseline's name.
fn selection(
    args: &ScanArgs,
    pack: &Pack,
    set: &mut BaselineSet,
) -> anyhow::Result<(Option<Vec<String>>, Option<String>)> {
    let only_rules = (!args.rules.is_empty()).then(|| args.rules.clone());
    let Some(arg) = &args.baseline else {
        return Ok((only_rules, None));
    };
    let name = set.resolve_arg(arg)?;
    set.validate(&pack.rule_ids())?;
    let selected = set.select(&name)?;
    let only_rules = match only_rules {
        // --rule narrows a baseline further; a rule outside it would silently evaluate
        // nothing, so it is an error rather than an empty (passing) scan.
        Some(rules) => {
            if let Some(outside) = rules.iter().find(|r| !selected.contains(r)) {
                anyhow::bail!("--rule {outside} is not part of baseline {name}");
            }
            rules
        }
        None => selected,
    };
    Ok((Some(only_rules), Some(name)))
}

/// Where the snapshot comes from. An explicit --snapshot wins over an ambient
/// AZURE_TENANT_ID, so scanning a file never signs in by surprise. Nothing is collected
/// here: the settings are only validated.
fn input(args: ScanArgs, config: Option<&Config>) -> anyhow::Result<Input> {
    if let Some(path) = args.snapshot {
        return Ok(Input::File(path));
    }
    if args.connection.tenant().is_none() {
        anyhow::bail!("scan needs --snapshot FILE or --tenant ID (or AZURE_TENANT_ID)");
    }
    let Some(out) = args.out else {
        anyhow::bail!(
            "--tenant needs --out DIR: the collected snapshot is written there as snapshot.json"
        );
    };
    let connection = args.connection.settings(config)?;
    std::fs::create_dir_all(&out)
        .with_context(|| format!("cannot create output directory {}", out.display()))?;
    Ok(Input::Live {
        connection,
        save_to: Some(out.join("snapshot.json")),
    })
}

pub fn run(mut args: ScanArgs) -> anyhow::Result<ExitStatus> {
    let outputs = validate_outputs(&args)?;
    // The audit logs are read live from the tenant: a saved snapshot has no activity to
    // join (its objects may have changed since), so this is a usage error, not a silent
    // "no activity".
    if args.with_activity.is_some() && args.snapshot.is_some() {
        anyhow::bail!(
            "--with-activity reads the tenant's audit logs live: use it with --tenant, not --snapshot"
        );
    }
    let activity = args.with_activity.map(|days| {
        let mut options = crate::activity::read::Options::new(days);
        options.audit.wait = std::time::Duration::from_secs(args.audit_wait);
        options
    });
    let pack = pack::load(&args.policies, Builtin::All)?;
    let config = args.config.load()?;
    // The built-in baselines plus a --baseline file: their [[mapping]] entries give every
    // report its framework ids (ScubaGear, CIS), whichever rules were selected.
    let mut baselines = BaselineSet::builtin()?;
    let (only_rules, baseline) = selection(&args, &pack, &mut baselines)?;
    let since = args.since.take();
    let threads = args.threads;
    let fail_on = args.fail_on.into();
    let mut settings = engine::Settings::new(input(args, config.as_ref())?, &pack, config.as_ref());
    settings.only_rules = only_rules;
    settings.baseline = baseline;
    settings.fail_on = fail_on;
    settings.since = since;
    if let Some(n) = threads {
        settings.threads = usize::from(n);
    }
    settings.activity = activity;
    // The snapshot only goes to the waivers and reports (a live one is kept whole anyway).
    settings.snapshot_detail = engine::SnapshotDetail::ForReports;
    let outcome = engine::run(&settings)?;
    if outcome.collected {
        super::collect::print_collected(&outcome.snapshot, outcome.snapshot_path.as_deref());
        super::collect::summarise(&outcome.snapshot);
    }
    let engine::Outcome {
        mut result,
        snapshot,
        unkept_values,
        activity,
        ..
    } = outcome;
    result.controls =
        baselines.controls_by_rule(result.outcomes.iter().map(|o| o.rule.id.as_str()));
    // The framework the scan was asked for (`--baseline scubagear`) is listed first.
    if let Some(selected) = result.info.baseline.clone() {
        for controls in result.controls.values_mut() {
            controls.sort_by_key(|c| c.baseline != selected);
        }
    }
    // Context only, after the verdicts: it adds `activity` to findings and the result,
    // never a finding, a status or an incomplete reason.
    if let Some(logs) = activity {
        let summary = logs.attach(&mut result, &snapshot);
        // Stated in every report's warnings (which never change the exit code).
        for problem in summary.problems() {
            result.warnings.push(format!(
                "activity not read, so unknown (not \"none\"): {problem}"
            ));
        }
        result.activity = Some(summary);
    }
    // Decided before anything is rendered; every report derives the same code from `result`.
    let exit = result.exit_status();
    for warning in &result.warnings {
        eprintln!("warning: {warning}");
    }

    let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    match &outputs.out_dir {
        Some(dir) => {
            let t = std::time::Instant::now();
            render_and_write(dir, &outputs.formats, &result, settings.threads)?;
            crate::profile::record("render and write reports", t);
            if outputs.print_summary {
                let names: Vec<&str> = outputs.formats.iter().map(|f| f.file_name()).collect();
                print!("{}", summary(&result, exit, dir, &names));
            }
        }
        None => {
            let format = outputs.formats[0];
            let options = RenderOptions {
                color: color && format == Format::Table,
                width: terminal_width(),
            };
            let bytes = format.reporter().render(&result, &options)?;
            std::io::stdout().write_all(&bytes)?;
        }
    }
    // The process exits right after this returns and the OS takes the memory back at once:
    // freeing the typed model and the findings object by object first is work nobody
    // waits for (issue #9 counted ~0.3 s of freeing at exit at 100k users; the Rego
    // values are freed on a background thread, see `policy::evaluate`).
    std::mem::forget(snapshot);
    std::mem::forget(unkept_values);
    std::mem::forget(result);
    Ok(exit)
}

/// The width the terminal table fits in: `COLUMNS` when set (shells export it; tests and
/// pipes can ask for a width), else the terminal's when stdout is one.
fn terminal_width() -> Option<usize> {
    let from_env = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|w| *w > 0);
    from_env.or_else(|| {
        terminal_size::terminal_size_of(std::io::stdout())
            .map(|(terminal_size::Width(w), _)| usize::from(w))
    })
}

/// The short stdout summary with `--out`: verdict and exit code, counts per outcome and
/// per severity, and where the reports went. The findings themselves are in the reports
/// (printing every one cost +0.3 s at 100k users).
fn summary(result: &ScanResult, exit: ExitStatus, dir: &Path, files: &[&str]) -> String {
    let info = &result.info;
    let tenant = match &info.tenant_name {
        Some(name) => format!("{name} ({})", info.tenant_id),
        None => info.tenant_id.clone(),
    };
    let mut by_severity = [0usize; 4];
    for finding in result.outcomes.iter().flat_map(|o| o.active_findings()) {
        by_severity[finding.severity as usize] += 1;
    }
    let severities = [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
    ]
    .iter()
    .map(|s| format!("{} {s}", by_severity[*s as usize]))
    .collect::<Vec<_>>()
    .join(", ");
    let mut out = format!(
        "m365guard scan of {tenant}: {} (exit {})\n",
        crate::report::json::exit_name(exit),
        exit as i32
    );
    out.push_str(&crate::report::table::totals_line(result));
    out.push('\n');
    out.push_str(&format!(
        "Unwaived findings by severity: {severities} (fail on {} and above)\n",
        info.fail_on
    ));
    for reason in &result.incomplete {
        out.push_str(&format!("Incomplete: {reason}\n"));
    }
    if let Some(activity) = &result.activity {
        out.push_str(&crate::report::activity_lines(result, activity));
    }
    out.push_str(&format!(
        "Reports written to {}: {}\n",
        dir.display(),
        files.join(", ")
    ));
    out
}

/// Render every format and write each to a temporary file in `dir` as soon as it is
/// rendered, the formats shared by `threads` threads (reports only read the result, so
/// SARIF renders while JSON is written); then, when every one succeeded, rename them all
/// into place. On any failure every temporary file is removed and the first failing
/// format's error (in `formats` order) is returned: a failed run leaves no partial set.
fn render_and_write(
    dir: &Path,
    formats: &[Format],
    result: &ScanResult,
    threads: usize,
) -> anyhow::Result<()> {
    /// What one format's work left: its temporary file (when one was created, complete or
    /// not) and whether it was rendered and written.
    type Done = (Option<PathBuf>, anyhow::Result<()>);
    let one = |format: Format| -> Done {
        // Wall and this thread's CPU: the formats render side by side.
        let t = crate::profile::Mark::now();
        let bytes = match format.reporter().render(result, &RenderOptions::default()) {
            Ok(bytes) => bytes,
            Err(err) => return (None, Err(err.into())),
        };
        t.record(&format!("render {}", format.file_name()));
        let t = crate::profile::Mark::now();
        if let Err(err) = std::fs::create_dir_all(dir) {
            let err = anyhow::Error::new(err)
                .context(format!("cannot create output directory {}", dir.display()));
            return (None, Err(err));
        }
        let name = format.file_name();
        let temp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
        let written = crate::snapshot::io::write_private(&temp, &bytes)
            .with_context(|| format!("cannot write report {}", dir.join(name).display()));
        // The process is about to exit: the OS takes the buffer back (see `run`).
        std::mem::forget(bytes);
        t.record(&format!("write {name}"));
        (Some(temp), written)
    };
    // The costliest first (SARIF is most of the rendering), so the others fill the
    // other thread.
    let mut order: Vec<usize> = (0..formats.len()).collect();
    order.sort_by_key(|&i| formats[i] != Format::Sarif);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let done: Vec<std::sync::Mutex<Option<Done>>> = formats
        .iter()
        .map(|_| std::sync::Mutex::new(None))
        .collect();
    let work = || {
        while let Some(&i) = order.get(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed)) {
            let finished = one(formats[i]);
            if let Ok(mut slot) = done[i].lock() {
                *slot = Some(finished);
            }
        }
    };
    std::thread::scope(|scope| {
        for _ in 1..threads.clamp(1, formats.len().max(1)) {
            scope.spawn(work);
        }
        work();
    });
    let mut temps = Vec::new();
    let mut first_error = None;
    for slot in done {
        let (temp, outcome) = slot
            .into_inner()
            .ok()
            .flatten()
            .unwrap_or_else(|| (None, Err(anyhow::anyhow!("a report was not rendered"))));
        temps.extend(temp);
        if let Err(err) = outcome {
            first_error.get_or_insert(err);
        }
    }
    if let Some(err) = first_error {
        for temp in &temps {
            let _ = std::fs::remove_file(temp);
        }
        return Err(err);
    }
    for (format, temp) in formats.iter().zip(&temps) {
        let target = dir.join(format.file_name());
        std::fs::rename(temp, &target)
            .with_context(|| format!("cannot write report {}", target.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn example_result() -> ScanResult {
        let pack = pack::load(&[], Builtin::All).unwrap();
        let path =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/contoso-compromised.json");
        engine::run(&engine::Settings::new(Input::File(path), &pack, None))
            .unwrap()
            .result
    }

    fn listing(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    /// Rendered on several threads, each report is written exactly as its reporter renders
    /// it, and only the report files are left.
    #[test]
    fn reports_rendered_side_by_side_are_written_whole() {
        let result = example_result();
        let formats = [Format::Json, Format::Sarif, Format::Junit, Format::Csv];
        for threads in [1, 2, 3] {
            let dir = tempfile::tempdir().unwrap();
            let out = dir.path().join("out");
            render_and_write(&out, &formats, &result, threads).unwrap();
            let mut expected: Vec<String> =
                formats.iter().map(|f| f.file_name().to_owned()).collect();
            expected.sort();
            assert_eq!(listing(&out), expected, "threads={threads}");
            for format in formats {
                let rendered = format
                    .reporter()
                    .render(&result, &RenderOptions::default())
                    .unwrap();
                let written = std::fs::read(out.join(format.file_name())).unwrap();
                assert!(
                    written == rendered,
                    "{} threads={threads}",
                    format.file_name()
                );
            }
        }
    }

    /// One report that cannot be written (its temporary file's name is taken by a
    /// directory): nothing is put in place and every temporary file is removed, whichever
    /// thread wrote what first.
    #[test]
    fn a_failed_write_leaves_no_partial_set() {
        let result = example_result();
        let formats = [Format::Json, Format::Sarif, Format::Junit];
        for (threads, blocked) in [(1, Format::Junit), (2, Format::Json), (2, Format::Sarif)] {
            let dir = tempfile::tempdir().unwrap();
            let blocker = format!(".{}.tmp-{}", blocked.file_name(), std::process::id());
            std::fs::create_dir(dir.path().join(&blocker)).unwrap();
            let err = render_and_write(dir.path(), &formats, &result, threads).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!(
                    "cannot write report {}",
                    dir.path().join(blocked.file_name()).display()
                )
            );
            assert_eq!(listing(dir.path()), vec![blocker], "threads={threads}");
        }
    }
}
