//! `m365guard respond --user UPN`: the compromised-account playbook (see `fix::respond`).

use std::path::PathBuf;

use anyhow::Context;
use chrono::Utc;

use super::collect::ConnectionArgs;
use super::fix::{execute, print_plan, print_verified, sign_in, summary_status, ExecuteArgs};
use super::ConfigArgs;
use crate::findings::ExitStatus;
use crate::fix::evidence::Evidence;
use crate::fix::live::Live;
use crate::fix::plan::PlanConfig;
use crate::fix::respond::{self, RespondOptions};
use crate::fix::verify;
use crate::policy::pack::{self, Builtin};

#[derive(Debug, clap::Args)]
pub struct RespondArgs {
    /// The compromised account (UPN or object id).
    #[arg(long, value_name = "UPN")]
    pub user: String,
    /// Also remove the user's privileged directory role assignments.
    #[arg(long)]
    pub remove_admin_roles: bool,
    /// Start of the review window (YYYY-MM-DD or RFC 3339): transport rules and connectors
    /// changed since then are listed. Default: 30 days ago.
    #[arg(long, value_name = "DATE", value_parser = parse_since)]
    pub since: Option<chrono::DateTime<Utc>>,
    /// Re-enable sign-in at the end (only if every earlier step succeeded).
    #[arg(long)]
    pub restore_access: bool,
    /// Collect, save evidence and write the plan, but change nothing.
    #[arg(long)]
    pub plan_only: bool,
    /// Where to write the plan. Default: <evidence dir>/plan.json.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub execute: ExecuteArgs,
    #[command(flatten)]
    pub connection: ConnectionArgs,
    #[command(flatten)]
    pub config: ConfigArgs,
}

pub fn run(args: RespondArgs) -> anyhow::Result<ExitStatus> {
    let config = args.config.load()?;
    let pack = pack::load(&[], Builtin::All)?;
    let options = RespondOptions {
        user: args.user.clone(),
        remove_admin_roles: args.remove_admin_roles,
        restore_access: args.restore_access,
        break_glass: config
            .as_ref()
            .map(|c| c.break_glass.accounts.clone())
            .unwrap_or_default(),
        since: args.since,
    };
    let (settings, tokens, agent, oid) = sign_in(args.connection, config.as_ref(), None)?;
    let live = Live::new(&tokens, agent);
    eprintln!("collecting the state of {}…", args.user);
    let before = respond::collect_user(&live, &settings, &pack, config.as_ref(), &options)?;
    let mut plan = respond::playbook(&before, &options, oid.as_deref(), Utc::now())?;
    plan.config = config.as_ref().and_then(PlanConfig::of);

    let evidence_dir = args
        .execute
        .evidence
        .clone()
        .unwrap_or_else(|| PathBuf::from("m365guard-evidence").join(&plan.plan_id));
    let evidence = Evidence::create(&evidence_dir)?;
    let state_file = evidence.save_bytes("user-state-before", "json", before.text.as_bytes())?;
    let plan_file = match &args.output {
        Some(path) => {
            crate::snapshot::io::write_private(path, plan.to_json()?.as_bytes())
                .with_context(|| format!("cannot write plan {}", path.display()))?;
            path.clone()
        }
        None => evidence.save_bytes("plan", "json", plan.to_json()?.as_bytes())?,
    };
    let since = options.since.unwrap_or_else(|| {
        Utc::now() - chrono::Duration::days(crate::fix::respond_review::DEFAULT_WINDOW_DAYS)
    });
    // The investigation, read-only and before any write: the evidence of what the attacker
    // did is saved before containment changes the account. Its failure is reported and
    // does not block containment.
    let investigation =
        investigate_first(&settings, config.as_ref(), &before, since, &evidence_dir);
    print_plan(&plan);
    // Listed, not changed: delegations, mail flow changed in the window, manual steps.
    let user = &before.snapshot.users[0];
    let mut review = crate::fix::respond_review::collect(
        &live,
        &settings,
        &user.id,
        &user.user_principal_name,
        since,
    );
    review.guidance = match &investigation {
        Ok(evidence) => crate::investigate::checklist::steps(Some(evidence), ""),
        Err(e) => {
            crate::investigate::checklist::steps(None, &format!("the investigation failed: {e:#}"))
        }
    };
    review.add_consents(&before.consents);
    print!("{}", review.render());
    evidence.save_bytes(
        "respond-review",
        "json",
        serde_json::to_string_pretty(&review)?.as_bytes(),
    )?;
    println!(
        "Evidence: {}  Plan: {}",
        state_file.display(),
        plan_file.display()
    );
    if args.plan_only {
        println!(
            "Nothing changed (--plan-only). To apply: {}",
            crate::report::commands::fix_apply(
                &plan_file.display().to_string(),
                plan.config.as_ref().map(|c| c.path.as_str())
            )
        );
        return Ok(ExitStatus::Compliant);
    }

    let mut execute_args = args.execute;
    execute_args.evidence = Some(evidence_dir);
    let results = execute(&plan, &live, &execute_args, config.as_ref(), oid)?;
    let status = summary_status(&results);
    if !execute_args.no_verify {
        let after = respond::collect_user(&live, &settings, &pack, config.as_ref(), &options)?;
        let verified = verify::compare(&plan, &results, &after.scan);
        print_verified(&verified);
        evidence.save_bytes("user-state-after", "json", after.text.as_bytes())?;
    }
    Ok(status)
}

/// Where respond writes the investigation's case files, inside its evidence directory.
pub const INVESTIGATION_DIR: &str = "investigation";

/// How long respond waits for the unified audit log query before containing.
const RESPOND_AUDIT_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

/// Run `investigate`'s collection and rules for the user (read-only) and write its case
/// files to `<evidence dir>/investigation/` (`investigation-N` when taken). An error is printed, saying that containment
/// goes on without the evidence, and returned for the checklist.
fn investigate_first(
    settings: &crate::auth::Settings,
    config: Option<&crate::config::Config>,
    before: &respond::UserState,
    since: chrono::DateTime<Utc>,
    evidence_dir: &std::path::Path,
) -> anyhow::Result<crate::investigate::Evidence> {
    let user = before
        .snapshot
        .users
        .first()
        .map(|u| u.user_principal_name.clone())
        .unwrap_or_default();
    // Evidence is never overwritten: a second incident filed into the same directory gets
    // `investigation-2`, like `Evidence::save_bytes` numbers its files.
    let dir = (1..)
        .map(|n| match n {
            1 => evidence_dir.join(INVESTIGATION_DIR),
            n => evidence_dir.join(format!("{INVESTIGATION_DIR}-{n}")),
        })
        .find(|d| !d.exists())
        .unwrap_or_else(|| evidence_dir.join(INVESTIGATION_DIR));
    eprintln!("investigating {user} (read-only, before any change)…");
    let result = (|| -> anyhow::Result<crate::investigate::Evidence> {
        let window = super::investigate::window(Some(&since.to_rfc3339()), None, Utc::now())?;
        let pack = crate::investigate::rules::load()?;
        // Containment must not wait for the unified audit log query (it often runs for
        // minutes on the service's side): respond waits briefly and keeps the query's id in
        // the case directory, so `investigate --user … --since … -o <that dir>` resumes it.
        let request = crate::investigate::collect::Request {
            user,
            window,
            audit: crate::investigate::audit_query::Options {
                dir: Some(dir.clone()),
                wait: RESPOND_AUDIT_WAIT,
                ..Default::default()
            },
        };
        let mut evidence = crate::investigate::collect::collect(settings.clone(), &request)?;
        evidence.parameters.bulk_external_recipients =
            super::investigate::bulk_external_recipients(config);
        crate::investigate::rules::evaluate(&pack, &mut evidence)?;
        super::investigate::write_case(&dir, &pack, &evidence)?;
        Ok(evidence)
    })();
    match &result {
        Ok(evidence) => {
            let not_ok: Vec<&str> = evidence
                .sources
                .iter()
                .filter(|(_, s)| s.status != crate::investigate::SourceState::Ok)
                .map(|(name, _)| name.as_str())
                .collect();
            println!(
                "Investigation: {} finding(s); evidence.json, timeline.html, evidence.sarif in {}{}",
                evidence.findings.len(),
                dir.display(),
                if not_ok.is_empty() {
                    String::new()
                } else {
                    format!(" (not collected: {})", not_ok.join(", "))
                }
            );
            for f in &evidence.findings {
                println!("  {} [{}] {}", f.rule_id, f.severity.as_str(), f.message);
            }
        }
        Err(e) => eprintln!(
            "evidence collection failed: {e:#}. Containment goes on without it; run \
             `m365guard investigate --user …` separately."
        ),
    }
    result
}

/// `--since`: a date (midnight UTC) or an RFC 3339 instant.
fn parse_since(text: &str) -> Result<chrono::DateTime<Utc>, String> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
        .ok_or_else(|| format!("`{text}` is not a date (YYYY-MM-DD) or an RFC 3339 time"))
}
