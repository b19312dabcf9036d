//! `m365guard scan`: evaluate rules on a snapshot and write the requested reports.
//!
//! Reports are rendered in memory first and written to temporary files that are renamed
//! into place only when every one succeeded, so a failed run never leaves a partial
//! report that looks complete.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;

use chrono::Utc;

use super::collect::ConnectionArgs;
use crate::baseline::BaselineSet;
use crate::config::{self, Config};
use crate::findings::{ExitStatus, Severity};
use crate::policy::evaluate::RegoConfig;
use crate::policy::pack::{self, Builtin, Pack};
use crate::report::{Format, RenderOptions};
use crate::scan::{self as engine, ScanSettings};
use crate::since;

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
    /// Write every requested format into this directory (created if missing).
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
    /// m365guard.toml (break-glass accounts, exceptions, allowed forwarding domains).
    /// Default: ./m365guard.toml when present.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// An earlier SARIF log or snapshot: mark each finding new/unchanged/updated and report
    /// fixed ones as absent (SARIF baselineState).
    #[arg(long, value_name = "FILE")]
    pub since: Option<PathBuf>,
    /// Threads for parsing and rule evaluation (default: the machine's cores).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub threads: Option<u16>,
    /// Do not print the table summary to stdout when writing to --out.
    #[arg(short, long)]
    pub quiet: bool,
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

/// Settings derived from the config file and baseline, validated against the pack.
fn settings(args: &ScanArgs, pack: &Pack) -> anyhow::Result<(ScanSettings, Option<Config>)> {
    let cwd = std::env::current_dir().context("cannot determine the working directory")?;
    let config = Config::discover(args.config.as_deref(), &cwd)?.map(|(_, config)| config);
    if let Some(config) = &config {
        config.validate(&pack.rule_ids())?;
    }
    let mut only_rules = (!args.rules.is_empty()).then(|| args.rules.clone());
    let mut baseline = None;
    if let Some(arg) = &args.baseline {
        let mut set = BaselineSet::builtin()?;
        let name = set.resolve_arg(arg)?;
        set.validate(&pack.rule_ids())?;
        let selected = set.select(&name)?;
        only_rules = Some(match only_rules {
            // --rule narrows a baseline further; a rule outside it would silently evaluate
            // nothing, so it is an error rather than an empty (passing) scan.
            Some(rules) => {
                if let Some(outside) = rules.iter().find(|r| !selected.contains(r)) {
                    anyhow::bail!("--rule {outside} is not part of baseline {name}");
                }
                rules
            }
            None => selected,
        });
        baseline = Some(name);
    }
    let settings = ScanSettings {
        only_rules,
        baseline,
        fail_on: args.fail_on.into(),
        rego_config: RegoConfig {
            allowed_forwarding_domains: config
                .as_ref()
                .map(|c| c.allowed_forwarding_domains().to_vec())
                .unwrap_or_default(),
        },
        ..ScanSettings::default()
    };
    let settings = match args.threads {
        Some(n) => ScanSettings {
            threads: usize::from(n),
            ..settings
        },
        None => settings,
    };
    Ok((settings, config))
}

/// Where the snapshot comes from, and whether a live collection was incomplete. An
/// explicit --snapshot wins over an ambient AZURE_TENANT_ID, so scanning a file never
/// signs in by surprise.
fn snapshot_path(args: &mut ScanArgs) -> anyhow::Result<(PathBuf, bool)> {
    if let Some(path) = &args.snapshot {
        return Ok((path.clone(), false));
    }
    if args.connection.tenant().is_none() {
        anyhow::bail!("scan needs --snapshot FILE or --tenant ID (or AZURE_TENANT_ID)");
    }
    let Some(out) = args.out.clone() else {
        anyhow::bail!(
            "--tenant needs --out DIR: the collected snapshot is written there as snapshot.json"
        );
    };
    std::fs::create_dir_all(&out)
        .with_context(|| format!("cannot create output directory {}", out.display()))?;
    let path = out.join("snapshot.json");
    let mut connection = std::mem::take(&mut args.connection);
    connection.config_file = args.config.clone();
    let snapshot = super::collect::collect_to(connection, &path)?;
    let incomplete = super::collect::summarise(&snapshot) == ExitStatus::Incomplete;
    Ok((path, incomplete))
}

pub fn run(mut args: ScanArgs) -> anyhow::Result<ExitStatus> {
    let outputs = validate_outputs(&args)?;
    let pack = pack::load(&args.policies, Builtin::All)?;
    let (settings, config) = settings(&args, &pack)?;
    // Collect only after the options are known to be valid: no sign-in for a typo.
    let (snapshot, collection_incomplete) = snapshot_path(&mut args)?;
    let output = engine::scan_file(&snapshot, &pack, &settings)?;
    let mut result = output.result;
    if let Some(config) = &config {
        config::apply(
            config,
            &mut result,
            &output.snapshot,
            Utc::now().date_naive(),
        );
    }
    if let Some(since) = &args.since {
        let previous = since::load(since, &pack, &settings)?;
        since::compare(&mut result, previous, since)?;
    }
    for warning in &result.warnings {
        eprintln!("warning: {warning}");
    }

    let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    match &outputs.out_dir {
        Some(dir) => {
            let mut rendered = Vec::new();
            for format in &outputs.formats {
                let bytes = format
                    .reporter()
                    .render(&result, &RenderOptions { color: false })?;
                rendered.push((format.file_name(), bytes));
            }
            write_all_or_nothing(dir, &rendered)?;
            if outputs.print_summary {
                let table = Format::Table
                    .reporter()
                    .render(&result, &RenderOptions { color })?;
                std::io::stdout().write_all(&table)?;
                let names: Vec<&str> = rendered.iter().map(|(n, _)| *n).collect();
                println!("Reports written to {}: {}", dir.display(), names.join(", "));
            }
        }
        None => {
            let format = outputs.formats[0];
            let options = RenderOptions {
                color: color && format == Format::Table,
            };
            let bytes = format.reporter().render(&result, &options)?;
            std::io::stdout().write_all(&bytes)?;
        }
    }
    // A live scan whose collection failed somewhere is incomplete even when no selected
    // rule reads the failed source: `scan --tenant` never passes on missing data.
    Ok(match result.exit_status() {
        ExitStatus::Compliant | ExitStatus::Findings if collection_incomplete => {
            ExitStatus::Incomplete
        }
        status => status,
    })
}

/// Write every report to a temporary file in `dir`, then rename them all into place.
fn write_all_or_nothing(dir: &Path, files: &[(&str, Vec<u8>)]) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create output directory {}", dir.display()))?;
    let mut temps = Vec::new();
    let result = (|| -> anyhow::Result<()> {
        for (name, bytes) in files {
            let temp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
            temps.push(temp.clone());
            crate::snapshot::io::write_private(&temp, bytes)
                .with_context(|| format!("cannot write report {}", dir.join(name).display()))?;
        }
        Ok(())
    })();
    if let Err(err) = result {
        for temp in &temps {
            let _ = std::fs::remove_file(temp);
        }
        return Err(err);
    }
    for ((name, _), temp) in files.iter().zip(&temps) {
        let target = dir.join(name);
        std::fs::rename(temp, &target)
            .with_context(|| format!("cannot write report {}", target.display()))?;
    }
    Ok(())
}
