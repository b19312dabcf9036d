//! `m365guard diff OLD NEW`: what changed between two snapshots of one tenant. Both are
//! scanned with the rule pack and the settings `scan` would use (config, extra packs), so
//! "new finding" means exactly what `scan --since` means by it.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use chrono::Utc;

use crate::config::Config;
use crate::drift::{self, render};
use crate::policy::evaluate::RegoConfig;
use crate::policy::pack::{self, Builtin};
use crate::scan::ScanSettings;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum DiffFormat {
    /// Aligned plain text.
    #[default]
    Table,
    /// The full result (every finding and change), for tools.
    Json,
    /// For a CI job summary or pull-request comment (long lists are cut).
    Markdown,
}

#[derive(Debug, clap::Args)]
pub struct DiffArgs {
    /// The earlier snapshot.
    #[arg(value_name = "OLD")]
    pub old: PathBuf,
    /// The later snapshot.
    #[arg(value_name = "NEW")]
    pub new: PathBuf,
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value_t)]
    pub format: DiffFormat,
    /// m365guard.toml (break-glass accounts, exceptions, allowed forwarding domains), applied
    /// to both scans. Default: ./m365guard.toml when present.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Extra rule pack directories, evaluated with the built-in pack.
    #[arg(long = "policies", value_name = "DIR")]
    pub policies: Vec<PathBuf>,
}

/// The settings `scan` derives from the same flags (config discovery, validation against
/// the pack, allowed forwarding domains).
fn settings(args: &DiffArgs, pack: &pack::Pack) -> anyhow::Result<drift::Settings> {
    let cwd = std::env::current_dir().context("cannot determine the working directory")?;
    let config = Config::discover(args.config.as_deref(), &cwd)?.map(|(_, config)| config);
    if let Some(config) = &config {
        config.validate(&pack.rule_ids())?;
    }
    let scan = ScanSettings {
        rego_config: RegoConfig {
            allowed_forwarding_domains: config
                .as_ref()
                .map(|c| c.allowed_forwarding_domains().to_vec())
                .unwrap_or_default(),
        },
        ..ScanSettings::default()
    };
    Ok(drift::Settings {
        scan,
        config,
        today: Utc::now().date_naive(),
    })
}

pub fn run(args: &DiffArgs) -> anyhow::Result<()> {
    let pack = pack::load(&args.policies, Builtin::All)?;
    let settings = settings(args, &pack)?;
    let result = drift::compare_files(&args.old, &args.new, &pack, &settings)?;
    let text = match args.format {
        DiffFormat::Table => render::table(&result),
        DiffFormat::Json => render::json(&result)?,
        DiffFormat::Markdown => render::markdown(&result),
    };
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}
