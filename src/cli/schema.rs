//! `m365guard schema`: print a JSON Schema.

use std::io::Write;

use crate::findings::ExitStatus;

#[derive(Debug, Clone, Copy, Default, clap::ValueEnum)]
pub enum SchemaKind {
    /// The snapshot document (`collect` output, `scan --snapshot` input).
    #[default]
    Snapshot,
    /// A fix plan (`fix plan` / `respond --plan-only` output, `fix apply` input).
    Plan,
    /// The evidence document (`investigate` output, `evidence.json`).
    Evidence,
}

#[derive(Debug, clap::Args)]
pub struct SchemaArgs {
    /// Which document.
    #[arg(value_enum, default_value_t)]
    pub kind: SchemaKind,
}

pub fn run(args: SchemaArgs) -> anyhow::Result<ExitStatus> {
    let schema = match args.kind {
        SchemaKind::Snapshot => crate::snapshot::json_schema(),
        SchemaKind::Plan => crate::fix::plan::json_schema(),
        SchemaKind::Evidence => crate::investigate::json_schema(),
    };
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, &schema)?;
    writeln!(out)?;
    Ok(ExitStatus::Compliant)
}
