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
        /// `text` (aligned columns) or `markdown` (README's rule table: adds what each rule
        /// cannot see).
        #[arg(long, value_enum, default_value_t = ListFormat::Text)]
        format: ListFormat,
    },
    /// What a rule checks, why it matters, how to fix it, references.
    Explain {
        id: String,
        #[arg(long = "policies", value_name = "DIR")]
        policies: Vec<PathBuf>,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ListFormat {
    Text,
    Markdown,
}

pub fn run(command: RulesCommand) -> anyhow::Result<ExitStatus> {
    let mut out = std::io::stdout().lock();
    match command {
        RulesCommand::List {
            policies,
            format: ListFormat::Markdown,
        } => {
            let pack = pack::load(&policies, Builtin::All)?;
            let metas: Vec<&RuleMeta> = pack.rules.iter().map(|r| r.meta.as_ref()).collect();
            write!(out, "{}", markdown_table(&metas))?;
        }
        RulesCommand::List {
            policies,
            format: ListFormat::Text,
        } => {
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

/// README's rule table: one row per rule, with what it cannot see. Pipes in the text would
/// break the table, so they are escaped.
pub fn markdown_table(rules: &[&RuleMeta]) -> String {
    let cell = |text: &str| {
        text.split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .replace('|', "\\|")
    };
    let mut table = String::from(
        "| rule | severity | phase | area | what it checks | what it cannot see |\n|---|---|---|---|---|---|\n",
    );
    for m in rules {
        let fix = match m.fix_action {
            Some(action) => format!(" (fix: `{}`)", action.as_str()),
            None => String::new(),
        };
        table.push_str(&format!(
            "| `{}` | {} | {} | {} | {}{fix} | {} |\n",
            m.id,
            m.severity.as_str(),
            m.roadmap_phase.as_str(),
            m.area.as_str(),
            cell(&m.title),
            cell(m.limits.as_deref().unwrap_or("not stated")),
        ));
    }
    table
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
            let allow = kind
                .plan_only_allow()
                .map(|word| format!(" --allow {word}"))
                .unwrap_or_default();
            format!(
                "{} — `m365guard fix plan --rule {}{allow} --config m365guard.toml`, review, `m365guard fix apply --config m365guard.toml` (needs {})",
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
    if let Some(limits) = &m.limits {
        text.push_str(&format!("## What it cannot see\n{}\n\n", limits.trim()));
    }
    text.push_str("## References\n");
    for reference in &m.references {
        text.push_str(&format!("- {reference}\n"));
    }
    text
}
