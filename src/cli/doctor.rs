//! `m365guard doctor`: the pre-flight. Signs in with the same settings as `collect` and
//! prints, per snapshot source and per fix action, whether it works and exactly which
//! permission, directory role or licence is missing. Exit 0 when every source can be
//! collected, 3 when some cannot, 2 when sign-in fails (with the AADSTS explanation).

use anyhow::Context;
use clap::Args;

use super::collect::{ConnectionArgs, CREDENTIALS_HELP};
use crate::findings::ExitStatus;

#[derive(Debug, Args)]
#[command(after_help = CREDENTIALS_HELP)]
pub struct DoctorArgs {
    #[command(flatten)]
    pub config: super::ConfigArgs,
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

pub fn run(args: DoctorArgs) -> anyhow::Result<ExitStatus> {
    let config = args.config.load()?;
    let settings = args.connection.settings(config.as_ref())?;
    let tenant = settings.tenant.clone();
    let report = crate::doctor::run(settings)
        .with_context(|| format!("cannot sign in to tenant {tenant}"))?;
    print!("{}", report.render());
    Ok(report.exit_status())
}
