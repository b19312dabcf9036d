//! `m365guard policy test [DIR]`: run the Rego unit tests of a rule pack.

use std::io::Write;
use std::path::PathBuf;

use crate::findings::ExitStatus;
use crate::policy::pack::{self, Builtin};
use crate::policy::testing::{self, TestStatus};

#[derive(Debug, clap::Subcommand)]
pub enum PolicyCommand {
    /// Run every `test_*` rule in the pack's rule_test.rego files.
    Test {
        /// A rule pack directory; without it, the built-in pack. The built-in
        /// `policies/lib` helpers are available unless DIR brings its own `lib`.
        dir: Option<PathBuf>,
        /// Print only failures and the totals.
        #[arg(short, long)]
        quiet: bool,
    },
}

pub fn run(command: PolicyCommand) -> anyhow::Result<ExitStatus> {
    let PolicyCommand::Test { dir, quiet } = command;
    let pack = match &dir {
        None => pack::load(&[], Builtin::All)?,
        Some(dir) => {
            let builtin = if dir.join("lib").is_dir() {
                Builtin::None
            } else {
                Builtin::LibrariesOnly
            };
            pack::load(std::slice::from_ref(dir), builtin)?
        }
    };
    if pack.rules.is_empty() {
        anyhow::bail!("no rules found: a rule is a folder with rule.toml and rule.rego");
    }
    let report = testing::run(&pack)?;
    let mut out = std::io::stdout().lock();
    for case in &report.cases {
        match &case.status {
            TestStatus::Passed if quiet => {}
            TestStatus::Passed => writeln!(out, "PASS {}::{}", case.rule_id, case.name)?,
            TestStatus::Failed => writeln!(out, "FAIL {}::{}", case.rule_id, case.name)?,
            TestStatus::Error(message) => {
                writeln!(out, "ERROR {}::{}: {message}", case.rule_id, case.name)?
            }
        }
    }
    writeln!(
        out,
        "policy tests: {} passed, {} failed",
        report.passed(),
        report.failed()
    )?;
    Ok(if report.failed() == 0 {
        ExitStatus::Compliant
    } else {
        ExitStatus::Findings
    })
}
