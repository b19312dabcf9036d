//! Command-line interface: clap definitions, one file per subcommand. Each subcommand
//! validates its raw arguments into typed settings before calling the library.

use clap::{Parser, Subcommand};

use crate::findings::ExitStatus;

pub mod baselines;
pub mod collect;
pub mod diff;
pub mod fix;
pub mod generate;
pub mod policy_test;
pub mod respond;
pub mod rules;
pub mod scan;
pub mod schema;

#[derive(Debug, Parser)]
#[command(
    name = "m365guard",
    version,
    about = "Policy-as-code compliance scanner and remediation for Microsoft 365 tenants",
    after_help = "Exit codes: 0 compliant, 1 findings at or above --fail-on, 2 usage/config/policy error, 3 incomplete data (some rule not evaluated)."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
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
    /// Plan and apply fixes for scan findings (plan → review → apply → verify).
    #[command(subcommand)]
    Fix(fix::FixCommand),
    /// Incident response for a compromised account: Microsoft's playbook as a plan, applied.
    Respond(respond::RespondArgs),
    /// Collect a live snapshot from a tenant (Graph + Exchange).
    Collect(collect::CollectArgs),
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
        Command::Collect(args) => collect::run(args),
        Command::Fix(command) => fix::run(command),
        Command::Respond(args) => respond::run(args),
        Command::Generate(args) => generate::run(&args).map(|()| ExitStatus::Compliant),
    }
}
