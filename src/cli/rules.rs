//! `m365guard rules list` and `m365guard rules explain ID`.

use std::io::Write;
use std::path::PathBuf;

use crate::findings::ExitStatus;
use crate::policy::metadata::RuleMeta;
use crate::policy::pack::{self, Builtin};
use crate::policy::PolicyError;

#[derive(Debug, clap::Subcommand)]
pub enum RulesCommand {
    /// One line per rule: id, severity, roadmap phase, area, title.
    List {
        /// Also list the rules of these packs.
        #[arg(long = "policies", value_name = "DIR")]
        policies: Vec<PathBuf>,
    },
    /// What a rule checks, why it matters, how to fix it, references.
    Explain {
        id: String,
        #[arg(long = "policies", value_name = "DIR")]
        policies: Vec<PathBuf>,
    },
}

pub fn run(command: RulesCommand) -> anyhow::Result<ExitStatus> {
    let mut out = std::io::stdout().lock();
    match command {
        RulesCommand::List { policies } => {
            let pack = pack::load(&policies, Builtin::All)?;
            let width = pack
                .rules
                .iter()
                .map(|r| r.meta.id.len())
                .max()
                .unwrap_or(2);
            writeln!(
                out,
                "{:width$}  {:8}  {:6}  {:8}  TITLE",
                "ID", "SEVERITY", "PHASE", "AREA"
            )?;
            for rule in &pack.rules {
                let m = &rule.meta;
                writeln!(
                    out,
                    "{:width$}  {:8}  {:6}  {:8}  {}",
                    m.id,
                    m.severity.as_str(),
                    m.roadmap_phase.as_str(),
                    m.area.as_str(),
                    m.title
                )?;
            }
        }
        RulesCommand::Explain { id, policies } => {
            let pack = pack::load(&policies, Builtin::All)?;
            let rule = pack.rule(&id).ok_or(PolicyError::UnknownRule(id))?;
            write!(out, "{}", explain(&rule.meta))?;
        }
    }
    Ok(ExitStatus::Compliant)
}

/// The fixed-section rule documentation shown by `rules explain`.
pub fn explain(m: &RuleMeta) -> String {
    let mut sources: Vec<String> = m.sources.iter().map(|s| s.as_str().to_owned()).collect();
    sources.extend(
        m.optional_sources
            .iter()
            .map(|s| format!("{s} (when licensed)")),
    );
    let fix = match m.fix_action {
        Some(action) => {
            let kind = crate::fix::actions::ActionKind::from(action);
            // Plan-only actions are planned only when allowed (`fix plan --allow`).
            let allow = match kind {
                crate::fix::actions::ActionKind::DisableConnector => " --allow connector",
                _ => "",
            };
            format!(
                "{} — `m365guard fix plan --rule {}{allow}`, review, `m365guard fix apply` (needs {})",
                action.as_str(),
                m.id,
                kind.needs().summary()
            )
        }
        None => "none (manual remediation)".to_owned(),
    };
    let mut text = format!(
        "{id}: {title}\n\nSeverity: {sev}    Area: {area}    Roadmap phase: {phase}\nReads: {sources}\nAutomatic fix: {fix}\n\n",
        id = m.id,
        title = m.title,
        sev = m.severity,
        area = m.area.as_str(),
        phase = m.roadmap_phase.as_str(),
        sources = sources.join(", "),
    );
    for (heading, body) in [
        ("What it checks", &m.description),
        ("Why it matters", &m.rationale),
        ("Remediation", &m.remediation),
    ] {
        text.push_str(&format!("## {heading}\n{}\n\n", body.trim()));
    }
    text.push_str("## References\n");
    for reference in &m.references {
        text.push_str(&format!("- {reference}\n"));
    }
    text
}
