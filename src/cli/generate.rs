//! `m365guard generate` (hidden): write a synthetic tenant snapshot for benchmarks, load
//! tests and demos. Same `--users` and `--seed` always give the same file.

use std::path::PathBuf;

use anyhow::Context;

use crate::synthetic::{self, SyntheticOptions};

#[derive(Debug, clap::Args)]
pub struct GenerateArgs {
    /// Number of users in the tenant (members, guests and shared-mailbox accounts).
    #[arg(long, value_name = "N")]
    pub users: usize,
    /// Seed of the generator; the output depends only on it and --users.
    #[arg(long, value_name = "S", default_value_t = 1)]
    pub seed: u64,
    /// Snapshot file to write (mode 0600, stable layout).
    #[arg(short, long, value_name = "PATH")]
    pub output: PathBuf,
}

pub fn run(args: &GenerateArgs) -> anyhow::Result<()> {
    let mut snapshot = synthetic::generate(&SyntheticOptions {
        users: args.users,
        seed: args.seed,
        ..SyntheticOptions::default()
    });
    crate::snapshot::io::write(&args.output, &mut snapshot)
        .with_context(|| format!("generating a {}-user tenant", args.users))?;
    Ok(())
}
