//! `m365guard baselines list`: the built-in baselines and what they select.

use std::io::Write;

use crate::baseline::BaselineSet;
use crate::findings::ExitStatus;

#[derive(Debug, clap::Subcommand)]
pub enum BaselinesCommand {
    /// Name, rule count, what it extends and the framework it maps to.
    List,
}

pub fn run(command: BaselinesCommand) -> anyhow::Result<ExitStatus> {
    let BaselinesCommand::List = command;
    let summaries = BaselineSet::builtin()?.list()?;
    let width = summaries
        .iter()
        .map(|s| s.name.len())
        .max()
        .unwrap_or(4)
        .max(4);
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{:width$}  {:>5}  {:14}  TITLE",
        "NAME", "RULES", "EXTENDS"
    )?;
    for s in summaries {
        let extends = s.extends.as_deref().unwrap_or("-");
        let rules = if s.rules == 0 {
            "-".to_owned()
        } else {
            s.rules.to_string()
        };
        writeln!(
            out,
            "{:width$}  {:>5}  {:14}  {}",
            s.name, rules, extends, s.title
        )?;
    }
    Ok(ExitStatus::Compliant)
}
