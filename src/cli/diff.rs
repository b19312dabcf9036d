//! `m365guard diff OLD NEW`: what changed between two snapshots of one tenant. Both are
//! scanned by the scan pipeline with the settings `scan` would use (config, extra packs), so
//! "new finding" means exactly what `scan --since` means by it.

use std::io::Write;
use std::path::PathBuf;

use super::ConfigArgs;
use crate::drift::{self, render};
use crate::policy::pack::{self, Builtin};

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
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Extra rule pack directories, evaluated with the built-in pack.
    #[arg(long = "policies", value_name = "DIR")]
    pub policies: Vec<PathBuf>,
}

pub fn run(args: &DiffArgs) -> anyhow::Result<()> {
    let pack = pack::load(&args.policies, Builtin::All)?;
    let config = args.config.load()?;
    let settings = drift::Settings::new(&pack, config.as_ref());
    let result = drift::compare_files(&args.old, &args.new, &settings)?;
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
