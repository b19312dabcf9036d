//! Command-line interface: clap definitions, one file per subcommand. Each subcommand
//! validates its raw arguments into typed settings before calling the library.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::config::Config;
use crate::findings::ExitStatus;

pub mod baselines;
pub mod collect;
pub mod diff;
pub mod doctor;
pub mod fix;
pub mod generate;
pub mod history;
pub mod investigate;
pub mod permissions;
pub mod policy_test;
pub mod respond;
pub mod rules;
pub mod scan;
pub mod schema;
pub mod setup;

#[derive(Debug, Parser)]
#[command(
    name = "m365guard",
    version,
    about = "Policy-as-code compliance scanner and remediation for Microsoft 365 tenants",
    after_help = "Exit codes: 0 compliant, 1 findings at or above --fail-on, 2 usage/config/policy error, 3 incomplete data (some rule not evaluated)."
)]
pub struct Cli {
    /// More detail on stderr: -v each source and step, -vv every HTTP request too
    /// (method, endpoint without query, status, attempt, retry wait, request-id; never a
    /// token, secret or request body).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Format of the -v/-vv log lines on stderr: text, or one JSON object per line.
    #[arg(long, value_enum, value_name = "FORMAT", default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
    /// No progress spinners. They are shown only when stderr is a terminal and CI is unset.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

/// `--config FILE`: one flag, one help text, for every subcommand that reads m365guard.toml.
/// The file is read and parsed once per command (`load`) and the parsed `Config` passed on.
#[derive(Debug, Default, Clone, clap::Args)]
pub struct ConfigArgs {
    /// m365guard.toml: [tenant] and [connection] (how to sign in), break-glass accounts,
    /// exceptions and allowed forwarding domains. Default: ./m365guard.toml when present.
    #[arg(long = "config", value_name = "FILE")]
    pub path: Option<PathBuf>,
}

impl ConfigArgs {
    /// Read and parse the config: `--config FILE` (which must exist), else
    /// ./m365guard.toml when present, else none.
    pub fn load(&self) -> anyhow::Result<Option<Config>> {
        let cwd = std::env::current_dir().context("cannot determine the working directory")?;
        Ok(Config::discover(self.path.as_deref(), &cwd)?.map(|(_, config)| config))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

impl Cli {
    /// Progress spinners: only when stderr is a terminal, never in CI (`CI` set) nor when
    /// asked to be quiet.
    pub fn shows_progress(&self, stderr_is_terminal: bool, in_ci: bool) -> bool {
        stderr_is_terminal && !in_ci && !self.is_quiet()
    }

    /// Whether the subcommand was asked to be quiet (`scan` and `policy test` have their
    /// own `--quiet`, which then takes the global flag's place).
    pub fn is_quiet(&self) -> bool {
        self.quiet
            || matches!(&self.command, Command::Scan(args) if args.quiet)
            || matches!(
                &self.command,
                Command::Policy(policy_test::PolicyCommand::Test { quiet: true, .. })
            )
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Evaluate the rules on a tenant snapshot and write reports.
    Scan(scan::ScanArgs),
    /// List the rules or explain one.
    #[command(subcommand)]
    Rules(rules::RulesCommand),
    /// Work with rule packs.
    #[command(subcommand)]
    Policy(policy_test::PolicyCommand),
    /// Print the JSON Schema of the snapshot document.
    Schema(schema::SchemaArgs),
    /// List the baselines (roadmap phases, framework mappings).
    #[command(subcommand)]
    Baselines(baselines::BaselinesCommand),
    /// What changed between two snapshots, security-relevant changes first.
    Diff(diff::DiffArgs),
    /// The trend over a folder of snapshots or JSON reports: an HTML page with charts
    /// (findings per severity, roadmap progress, time to fix) and a CSV.
    History(history::HistoryArgs),
    /// Plan and apply fixes for scan findings (plan → review → apply → verify).
    #[command(subcommand)]
    Fix(fix::FixCommand),
    /// Incident response for a compromised account: Microsoft's playbook as a plan, applied.
    Respond(respond::RespondArgs),
    /// Collect a live snapshot from a tenant (Graph + Exchange).
    Collect(collect::CollectArgs),
    /// Investigate a user (read-only): sign-ins and directory audits in a window, judged by
    /// the investigation rules, written as an evidence document with a SHA-256 manifest.
    Investigate(investigate::InvestigateArgs),
    /// Pre-flight: sign in and show, per source and fix action, what works and exactly
    /// which permission, directory role or licence is missing.
    Doctor(doctor::DoctorArgs),
    /// What to grant the app: per source (and with --fix per fix action) the Graph
    /// application permission, Entra role, Exchange permission and licence.
    Permissions(permissions::PermissionsArgs),
    /// Create the app registration: the permissions, directory roles and federated
    /// credential as an app manifest, az commands or Graph requests; --apply does it.
    Setup(setup::SetupArgs),
    /// Write a synthetic tenant snapshot (benchmarks and large tests).
    #[command(hide = true)]
    Generate(generate::GenerateArgs),
}

pub fn run(cli: Cli) -> anyhow::Result<ExitStatus> {
    match cli.command {
        Command::Scan(args) => scan::run(args),
        Command::Rules(command) => rules::run(command),
        Command::Policy(command) => policy_test::run(command),
        Command::Schema(args) => schema::run(args),
        Command::Baselines(command) => baselines::run(command),
        Command::Diff(args) => diff::run(&args).map(|()| ExitStatus::Compliant),
        Command::History(args) => history::run(&args),
        Command::Collect(args) => collect::run(args),
        Command::Doctor(args) => doctor::run(args),
        Command::Permissions(args) => permissions::run(args),
        Command::Setup(args) => setup::run(args),
        Command::Fix(command) => fix::run(command),
        Command::Respond(args) => respond::run(args),
        Command::Investigate(args) => investigate::run(args),
        Command::Generate(args) => generate::run(&args).map(|()| ExitStatus::Compliant),
    }
}
