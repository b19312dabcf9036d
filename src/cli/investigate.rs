//! `m365guard investigate --user UPN`: collect the user's sign-ins, directory audits, risk
//! detections, unified audit log and sent-mail trace (read-only), judge them with the
//! investigation rules, and write `evidence.json`, `timeline.html`, `evidence.sarif` (the
//! findings as SARIF) and `manifest.sha256` (chain of custody) to the output directory, next
//! to `audit-query.json` (the audit log query to resume).
//!
//! Evidence is never overwritten, with one exception that keeps it anyway: when the
//! directory holds a run whose audit log query is still pending (it timed out), the next
//! run resumes that query and first moves the earlier run's files, untouched and still
//! verifiable with their own manifest, into `superseded-N/`.
use std::path::PathBuf;

use anyhow::Context;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use clap::Args;

use crate::findings::ExitStatus;
use crate::investigate::collect::{self, Request};
use crate::investigate::{manifest, rules, Evidence, SourceState, VerdictStatus, Window};

/// The evidence document's file name in the output directory.
pub const EVIDENCE_FILE: &str = "evidence.json";
/// The HTML timeline's file name.
pub const TIMELINE_FILE: &str = "timeline.html";

#[derive(Debug, Args)]
#[command(after_help = super::collect::CREDENTIALS_HELP)]
pub struct InvestigateArgs {
    /// The user under investigation (user principal name or object id).
    #[arg(long, value_name = "UPN")]
    pub user: String,
    /// Start of the window: a date (`2026-11-01`, midnight UTC) or an RFC 3339 time.
    #[arg(long, value_name = "DATE", conflicts_with = "days")]
    pub since: Option<String>,
    /// The last N days up to now [default: 30, the sign-in log's retention with Entra ID P1].
    #[arg(long, value_name = "N")]
    pub days: Option<u32>,
    /// Directory for evidence.json, timeline.html and manifest.sha256 (created; an existing evidence.json
    /// there is never overwritten).
    #[arg(
        short = 'o',
        long = "output",
        value_name = "DIR",
        default_value = "investigation"
    )]
    pub output: PathBuf,
    /// Longest wait in seconds for the unified audit log query (it runs on the service's
    /// side, often for minutes). A run that times out records the audit log as failed; run
    /// again with the same -o DIR, --user and --since to resume the same query.
    #[arg(long, value_name = "SECONDS", default_value_t = crate::investigate::audit_query::DEFAULT_WAIT.as_secs())]
    pub audit_wait: u64,
    #[command(flatten)]
    pub config: super::ConfigArgs,
    #[command(flatten)]
    pub connection: super::collect::ConnectionArgs,
}

/// Move an earlier run's files into `superseded-N/` when its audit log query is still
/// pending (this run resumes it); else refuse, as evidence is never overwritten.
fn make_room(dir: &std::path::Path) -> anyhow::Result<()> {
    use crate::investigate::audit_query;
    let evidence_path = dir.join(EVIDENCE_FILE);
    if !evidence_path.exists() {
        return Ok(());
    }
    let pending = audit_query::load(dir).is_some_and(|s| s.is_pending());
    anyhow::ensure!(
        pending,
        "{} exists: evidence is never overwritten (choose another -o DIR)",
        evidence_path.display()
    );
    let target = (1..)
        .map(|n| dir.join(format!("superseded-{n}")))
        .find(|p| !p.exists())
        .context("no free superseded-N directory")?;
    std::fs::create_dir_all(&target)
        .with_context(|| format!("cannot create {}", target.display()))?;
    for name in [
        EVIDENCE_FILE,
        TIMELINE_FILE,
        crate::investigate::sarif::FILE,
        manifest::NAME,
    ] {
        let from = dir.join(name);
        if from.exists() {
            std::fs::rename(&from, target.join(name))
                .with_context(|| format!("cannot move {} aside", from.display()))?;
        }
    }
    // The earlier manifest also covers the resume file; a copy stays with it (this run
    // updates the original when the query's records are read).
    let state = dir.join(audit_query::STATE_FILE);
    std::fs::copy(&state, target.join(audit_query::STATE_FILE))
        .with_context(|| format!("cannot copy {} aside", state.display()))?;
    eprintln!(
        "resuming the pending audit log query; the earlier run's files are in {}",
        target.display()
    );
    Ok(())
}

/// The window from `--since` / `--days`, ending now.
pub fn window(
    since: Option<&str>,
    days: Option<u32>,
    now: DateTime<Utc>,
) -> anyhow::Result<Window> {
    let start = match (since, days) {
        (Some(s), _) => match NaiveDate::parse_from_str(s, "%Y-%m-%d") {
            Ok(d) => d.and_hms_opt(0, 0, 0).map(|t| t.and_utc()),
            Err(_) => DateTime::parse_from_rfc3339(s)
                .ok()
                .map(|t| t.with_timezone(&Utc)),
        }
        .with_context(|| {
            format!("--since {s:?}: expected a date (2026-11-01) or an RFC 3339 time")
        })?,
        (None, days) => now - Duration::days(i64::from(days.unwrap_or(30))),
    };
    anyhow::ensure!(start < now, "--since must be in the past");
    Ok(Window {
        since: start,
        until: now,
    })
}

pub fn run(args: InvestigateArgs) -> anyhow::Result<ExitStatus> {
    let window = window(args.since.as_deref(), args.days, Utc::now())?;
    make_room(&args.output)?;
    let config = args.config.load()?;
    let settings = args.connection.settings(config.as_ref())?;
    let pack = rules::load()?;
    let request = Request {
        user: args.user.clone(),
        window,
        audit: crate::investigate::audit_query::Options {
            dir: Some(args.output.clone()),
            wait: std::time::Duration::from_secs(args.audit_wait),
            ..Default::default()
        },
    };
    let mut evidence = collect::collect(settings, &request)?;
    evidence.parameters.bulk_external_recipients = bulk_external_recipients(config.as_ref());
    rules::evaluate(&pack, &mut evidence)?;

    write_case(&args.output, &pack, &evidence)?;
    print_summary(&evidence, &args.output);
    Ok(exit_status(&evidence))
}

/// The bulk-sending threshold of `[investigate]` in the config, or the default.
pub fn bulk_external_recipients(config: Option<&crate::config::Config>) -> u32 {
    config.map_or(crate::investigate::DEFAULT_BULK_EXTERNAL_RECIPIENTS, |c| {
        c.bulk_external_recipients
    })
}

/// Write the case files of `evidence` to `dir` (created): `evidence.json`, `timeline.html`,
/// `evidence.sarif` and `manifest.sha256` over them. Used by `investigate` and by
/// `respond --user`, which investigates before it changes anything.
pub fn write_case(
    dir: &std::path::Path,
    pack: &rules::Pack,
    evidence: &Evidence,
) -> anyhow::Result<()> {
    let evidence_path = dir.join(EVIDENCE_FILE);
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let text = serde_json::to_string_pretty(evidence)? + "\n";
    crate::snapshot::io::write_private(&evidence_path, text.as_bytes())
        .with_context(|| format!("cannot write {}", evidence_path.display()))?;
    let html = crate::investigate::timeline::render(evidence)
        .context("cannot render the HTML timeline")?;
    let timeline_path = dir.join(TIMELINE_FILE);
    crate::snapshot::io::write_private(&timeline_path, html.as_bytes())
        .with_context(|| format!("cannot write {}", timeline_path.display()))?;
    let sarif = crate::investigate::sarif::log(pack, evidence, EVIDENCE_FILE, &text);
    let sarif_path = dir.join(crate::investigate::sarif::FILE);
    let sarif_text = serde_json::to_string_pretty(&sarif)? + "\n";
    crate::snapshot::io::write_private(&sarif_path, sarif_text.as_bytes())
        .with_context(|| format!("cannot write {}", sarif_path.display()))?;
    let audit_state = crate::investigate::audit_query::STATE_FILE;
    let mut written = vec![
        EVIDENCE_FILE,
        TIMELINE_FILE,
        crate::investigate::sarif::FILE,
    ];
    if dir.join(audit_state).exists() {
        written.push(audit_state);
    }
    let sums = manifest::build(dir, &written)?;
    let manifest_path = dir.join(manifest::NAME);
    crate::snapshot::io::write_private(&manifest_path, sums.as_bytes())
        .with_context(|| format!("cannot write {}", manifest_path.display()))?;
    Ok(())
}

/// 3 when a source failed or a rule could not be judged (the investigation is incomplete),
/// else 1 when a rule flagged something, else 0.
pub fn exit_status(evidence: &Evidence) -> ExitStatus {
    let incomplete = evidence
        .sources
        .values()
        .any(|s| s.status != SourceState::Ok)
        || evidence.rules.iter().any(|r| {
            matches!(
                r.status,
                VerdictStatus::NotEvaluated | VerdictStatus::NotApplicable
            )
        });
    if incomplete {
        ExitStatus::Incomplete
    } else if evidence.findings.is_empty() {
        ExitStatus::Compliant
    } else {
        ExitStatus::Findings
    }
}

fn print_summary(evidence: &Evidence, dir: &std::path::Path) {
    eprintln!(
        "investigated {} ({} … {}) → {}",
        evidence.user.user_principal_name,
        evidence.window.since.to_rfc3339(),
        evidence.window.until.to_rfc3339(),
        dir.display()
    );
    for (name, s) in &evidence.sources {
        let state = match s.status {
            SourceState::Ok => "ok",
            SourceState::Unavailable => "unavailable",
            SourceState::Error => "error",
        };
        eprintln!(
            "  {name:<18} {state:<11} {:>6}  {}",
            s.items,
            s.reason.as_deref().unwrap_or("")
        );
    }
    for r in &evidence.rules {
        let status = match r.status {
            VerdictStatus::Passed => "passed",
            VerdictStatus::Failed => "FAILED",
            VerdictStatus::NotEvaluated => "not evaluated",
            VerdictStatus::NotApplicable => "not applicable",
        };
        eprintln!(
            "  {:<42} {status:<14} {}",
            r.rule_id,
            r.reason.as_deref().unwrap_or("")
        );
    }
    for f in &evidence.findings {
        println!("{} [{}] {}", f.rule_id, f.severity.as_str(), f.message);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_from_date_time_or_days() {
        let now = DateTime::parse_from_rfc3339("2026-01-05T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let w = window(Some("2025-12-01"), None, now).unwrap();
        assert_eq!(w.since.to_rfc3339(), "2025-12-01T00:00:00+00:00");
        let w = window(Some("2025-12-01T06:00:00+01:00"), None, now).unwrap();
        assert_eq!(w.since.to_rfc3339(), "2025-12-01T05:00:00+00:00");
        let w = window(None, Some(2), now).unwrap();
        assert_eq!(w.since.to_rfc3339(), "2026-01-03T10:00:00+00:00");
        assert!(window(Some("yesterday"), None, now).is_err());
        assert!(window(Some("2027-01-01"), None, now).is_err());
    }
}
