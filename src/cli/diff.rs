//! `m365guard diff OLD NEW`: what changed between two snapshots of one tenant, security
//! relevant changes first.

use std::io::Write;
use std::path::PathBuf;

use crate::drift::{self, render};
use crate::snapshot;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum DiffFormat {
    /// Aligned plain text.
    #[default]
    Table,
    /// The full change list, for tools.
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
}

#[derive(Debug, thiserror::Error)]
#[error(
    "{old} is tenant {old_tenant} but {new} is tenant {new_tenant}; diff compares one tenant \
     over time"
)]
pub struct TenantMismatch {
    old: String,
    old_tenant: String,
    new: String,
    new_tenant: String,
}

pub fn run(args: &DiffArgs) -> anyhow::Result<()> {
    let old = snapshot::load(&args.old)?;
    let new = snapshot::load(&args.new)?;
    if !old
        .snapshot
        .tenant
        .id
        .eq_ignore_ascii_case(&new.snapshot.tenant.id)
    {
        return Err(TenantMismatch {
            old: args.old.display().to_string(),
            old_tenant: old.snapshot.tenant.id.clone(),
            new: args.new.display().to_string(),
            new_tenant: new.snapshot.tenant.id.clone(),
        }
        .into());
    }
    let changes = drift::diff(&old.snapshot, &new.snapshot);
    let text = match args.format {
        DiffFormat::Table => render::table(&changes),
        DiffFormat::Json => render::json(&changes)?,
        DiffFormat::Markdown => render::markdown(&changes),
    };
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}
