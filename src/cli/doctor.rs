//! `m365guard doctor`: the pre-flight. Signs in with the same settings as `collect` and
//! prints, per snapshot source and per fix action, whether it works and exactly which
//! permission, directory role or licence is missing. Exit 0 when every source can be
//! collected, 3 when some cannot, 2 when sign-in fails (with the AADSTS explanation).

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use super::collect::{ConnectionArgs, CREDENTIALS_HELP};
use crate::findings::ExitStatus;

#[derive(Debug, Args)]
#[command(after_help = CREDENTIALS_HELP)]
pub struct DoctorArgs {
    /// m365guard.toml to read [tenant] and [connection] settings from.
    /// Default: ./m365guard.toml when present.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

pub fn run(mut args: DoctorArgs) -> anyhow::Result<ExitStatus> {
    args.connection.config_file = args.config;
    let settings = args.connection.settings()?;
    let tenant = settings.tenant.clone();
    let report = crate::doctor::run(settings)
        .with_context(|| format!("cannot sign in to tenant {tenant}"))?;
    print!("{}", report.render());
    Ok(report.exit_status())
}
