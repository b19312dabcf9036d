//! `m365guard history DIR`: the trend over a folder of snapshots, JSON reports or SARIF
//! logs, as
//! `m365guard-history.html` (inline SVG charts) and `m365guard-history.csv` in `--out`.

use std::path::PathBuf;

use anyhow::Context;

use crate::findings::ExitStatus;
use crate::history::{self, render};
use crate::policy::pack::{self, Builtin};
use crate::scan::{self as engine, Input};

#[derive(Debug, clap::Args)]
pub struct HistoryArgs {
    /// Folder of earlier runs: snapshots, m365guard JSON reports (`*.json`) and/or
    /// m365guard SARIF logs (`*.sarif`, `*.json`), mixed as they come.
    pub dir: PathBuf,
    /// Where to write m365guard-history.html and m365guard-history.csv (created if
    /// missing).
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub out: PathBuf,
    /// Extra rule packs used to scan the snapshots (as `scan --policies`).
    #[arg(long = "policies", value_name = "DIR")]
    pub policies: Vec<PathBuf>,
    #[command(flatten)]
    pub config: super::ConfigArgs,
}

pub const HTML_FILE: &str = "m365guard-history.html";
pub const CSV_FILE: &str = "m365guard-history.csv";

pub fn run(args: &HistoryArgs) -> anyhow::Result<ExitStatus> {
    let files = history::json_files(&args.dir)
        .with_context(|| format!("cannot read folder {}", args.dir.display()))?;
    let pack = pack::load(&args.policies, Builtin::All)?;
    let config = args.config.load()?;
    let mut runs = Vec::new();
    let mut skipped = Vec::new();
    for path in files {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let text = match crate::snapshot::io::read_text(&path) {
            Ok(text) => text,
            Err(err) => {
                skipped.push(format!("{name}: {err}"));
                continue;
            }
        };
        if history::is_json_report(&text) {
            match history::run_from_report(name.clone(), &text) {
                Ok(run) => runs.push(run),
                Err(why) => skipped.push(format!("{name}: {why}")),
            }
            continue;
        }
        if history::sarif::is_sarif(&text) {
            match history::sarif::run_from_sarif(name.clone(), &text) {
                Ok(run) => runs.push(run),
                Err(why) => skipped.push(format!("{name}: {why}")),
            }
            continue;
        }
        let mut settings = engine::Settings::new(
            Input::Text {
                name: path.clone(),
                text,
            },
            &pack,
            config.as_ref(),
        );
        settings.threads = settings.threads.max(1);
        match engine::run(&settings) {
            Ok(outcome) => runs.push(history::run_from_result(name, &outcome.result)),
            Err(err) => skipped.push(format!(
                "{name}: not a snapshot, JSON report or SARIF log: {err}"
            )),
        }
    }
    if runs.is_empty() {
        anyhow::bail!(
            "no snapshot or m365guard JSON report or SARIF log in {} ({} file(s) skipped)",
            args.dir.display(),
            skipped.len()
        );
    }
    for note in &skipped {
        eprintln!("skipped {note}");
    }
    let history = history::build(runs, skipped);
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create output directory {}", args.out.display()))?;
    let html_path = args.out.join(HTML_FILE);
    let csv_path = args.out.join(CSV_FILE);
    std::fs::write(&html_path, render::html(&history))
        .with_context(|| format!("cannot write {}", html_path.display()))?;
    std::fs::write(&csv_path, render::csv(&history))
        .with_context(|| format!("cannot write {}", csv_path.display()))?;
    let fixed = history
        .lifetimes
        .iter()
        .filter(|l| l.fixed_at.is_some())
        .count();
    println!(
        "{} runs, {} findings fixed, {} open: wrote {} and {}",
        history.runs.len(),
        fixed,
        history.lifetimes.len() - fixed,
        html_path.display(),
        csv_path.display()
    );
    Ok(ExitStatus::Compliant)
}
