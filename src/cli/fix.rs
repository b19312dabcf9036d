//! `m365guard fix plan` and `m365guard fix apply`, and the apply/verify driver that
//! `respond` shares.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use anyhow::{bail, Context};
use chrono::Utc;
use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};

use super::collect::ConnectionArgs;
use super::scan::FailOn;
use super::ConfigArgs;
use crate::auth::{token_claim, Settings, TokenProvider, GRAPH_SCOPE};
use crate::config::Config;
use crate::findings::{ExitStatus, Severity};
use crate::fix::apply::{self, ActionResult, ApplyOptions, Sinks};
use crate::fix::audit::{AuditLog, Outcome};
use crate::fix::evidence::Evidence;
use crate::fix::guards;
use crate::fix::live::Live;
use crate::fix::password::PasswordSink;
use crate::fix::plan::{Plan, PlanConfig};
use crate::fix::planner::{self, PlanOptions};
use crate::fix::verify::{self, FindingState, Verified};
use crate::policy::pack::{self, Builtin};
use crate::report::commands;
use crate::scan::{self as engine, Input};

#[derive(Debug, clap::Subcommand)]
pub enum FixCommand {
    /// Plan the fixes for a scan's findings and write them as a reviewable JSON plan.
    Plan(PlanArgs),
    /// Apply a reviewed plan: re-read, skip what changed, write, verify, audit.
    Apply(ApplyArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MfaVia {
    /// Per-user MFA `enforced` for each affected user (the rule passes right away).
    PerUser,
    /// One report-only conditional access policy requiring MFA for all users, for the
    /// admin to review and switch on (Microsoft's recommended mechanism).
    ConditionalAccess,
}

/// Plan-only actions `fix plan --allow` may include.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Allow {
    /// `disable_connector`: Set-OutboundConnector / Set-InboundConnector -Enabled $false.
    Connector,
    /// Disable service principals and remove app secrets (apps may run production
    /// workloads; without it those fixes are listed as manual steps).
    AppChanges,
}

#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    /// Snapshot to plan from (`collect` output).
    #[arg(long, value_name = "FILE", conflicts_with = "tenant")]
    pub snapshot: Option<PathBuf>,
    /// Instead of --snapshot: collect the tenant live first (saved next to the plan as
    /// <plan>.snapshot.json).
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// Only findings of these rules (repeatable).
    #[arg(long = "rule", value_name = "ID")]
    pub rules: Vec<String>,
    /// Only findings at or above this severity.
    #[arg(long, value_enum)]
    pub severity: Option<FailOn>,
    /// Only findings about these users (UPN or object id; repeatable).
    #[arg(long = "user", value_name = "UPN")]
    pub users: Vec<String>,
    /// Delete malicious inbox rules instead of disabling them (disabling keeps them for
    /// investigation; the definition is saved as evidence either way).
    #[arg(long)]
    pub delete_rules: bool,
    /// How `mfa_not_enforced` is fixed.
    #[arg(long, value_enum, default_value = "per-user")]
    pub mfa_via: MfaVia,
    /// Include actions that are plan-only by default (repeatable). `connector`:
    /// disable_connector, which changes real mail flow; `app-changes`: disable service
    /// principals and remove app secrets (apps may run production workloads).
    #[arg(long = "allow", value_enum, value_name = "KIND")]
    pub allow: Vec<Allow>,
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Where to write the plan.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: PathBuf,
    /// Hours the plan may be applied before it expires (the state it saw gets stale).
    #[arg(long, value_name = "HOURS", default_value_t = 24,
          value_parser = clap::value_parser!(u16).range(1..=168))]
    pub valid_for: u16,
}

/// Options shared by `fix apply` and `respond`.
#[derive(Debug, clap::Args)]
pub struct ExecuteArgs {
    /// Apply without asking (required when stdin is not a terminal).
    #[arg(long)]
    pub yes: bool,
    /// Refuse plans that reset passwords of, block, or remove roles from more than N
    /// accounts.
    #[arg(long, value_name = "N", default_value_t = guards::DEFAULT_MAX_ACTIONS)]
    pub max_actions: usize,
    /// Append one JSON line per action here (fsync'd).
    #[arg(long, value_name = "FILE", default_value = "m365guard-audit.jsonl")]
    pub audit_log: PathBuf,
    /// Evidence directory. Default: m365guard-evidence/<plan id>.
    #[arg(long, value_name = "DIR")]
    pub evidence: Option<PathBuf>,
    /// File (created 0600) receiving generated temporary passwords.
    /// Default: m365guard-passwords-<plan id>.txt. Never send it by email.
    #[arg(long, value_name = "FILE", conflicts_with = "reveal_password")]
    pub password_file: Option<PathBuf>,
    /// Print generated passwords once on the terminal instead of writing a file.
    #[arg(long)]
    pub reveal_password: bool,
    /// Skip re-collecting and re-evaluating after apply.
    #[arg(long)]
    pub no_verify: bool,
}

#[derive(Debug, clap::Args)]
pub struct ApplyArgs {
    /// The plan from `fix plan` or `respond --plan-only`.
    pub plan: PathBuf,
    #[command(flatten)]
    pub execute: ExecuteArgs,
    /// How to reach the tenant (the tenant defaults to the plan's).
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// Its break-glass accounts are honoured on top of the plan's. It must be the config
    /// the plan was made with (same SHA-256), unless --force-config-change.
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Apply a plan made with another m365guard.toml (or with none) than this run's; the
    /// break-glass accounts of both are still never acted on.
    #[arg(long)]
    pub force_config_change: bool,
}

pub fn run(command: FixCommand) -> anyhow::Result<ExitStatus> {
    match command {
        FixCommand::Plan(args) => plan(args),
        FixCommand::Apply(args) => apply_plan(args),
    }
}

fn plan(mut args: PlanArgs) -> anyhow::Result<ExitStatus> {
    let pack = pack::load(&[], Builtin::All)?;
    let config = args.config.load()?;
    for rule in &args.rules {
        if !pack.rule_ids().contains(&rule.as_str()) {
            bail!("--rule {rule}: no such rule (see `m365guard rules list`)");
        }
    }
    let input = match &args.snapshot {
        Some(path) => Input::File(path.clone()),
        None => {
            if args.connection.tenant().is_none() {
                bail!("fix plan needs --snapshot FILE or --tenant ID (or AZURE_TENANT_ID)");
            }
            Input::Live {
                connection: std::mem::take(&mut args.connection).settings(config.as_ref())?,
                save_to: Some(args.output.with_extension("snapshot.json")),
            }
        }
    };
    let output = engine::run(&engine::Settings::new(input, &pack, config.as_ref()))?;
    if output.collected {
        super::collect::print_collected(&output.snapshot, output.snapshot_path.as_deref());
    }
    let result = output.result;
    for outcome in &result.outcomes {
        if let crate::findings::RuleStatus::NotEvaluated { reason } = &outcome.status {
            eprintln!(
                "warning: {} was not evaluated ({reason}); nothing is planned for it",
                outcome.rule.id
            );
        }
    }
    for reason in &result.incomplete {
        eprintln!("warning: scan incomplete: {reason}");
    }
    let options = PlanOptions {
        rules: args.rules.clone(),
        min_severity: args.severity.map(Severity::from),
        users: args.users.clone(),
        delete_rules: args.delete_rules,
        mfa_via_conditional_access: args.mfa_via == MfaVia::ConditionalAccess,
        break_glass: config
            .as_ref()
            .map(|c| c.break_glass.accounts.clone())
            .unwrap_or_default(),
        valid_for: Some(chrono::Duration::hours(i64::from(args.valid_for))),
        allow_connector: args.allow.contains(&Allow::Connector),
        allow_app_changes: args.allow.contains(&Allow::AppChanges),
    };
    let mut plan = planner::from_scan(&result, &output.snapshot, &options, Utc::now());
    plan.config = config.as_ref().and_then(PlanConfig::of);
    crate::snapshot::io::write_private(&args.output, plan.to_json()?.as_bytes())
        .with_context(|| format!("cannot write plan {}", args.output.display()))?;
    print_plan(&plan);
    println!(
        "Plan written to {} (expires {}). Review it, then: {}",
        args.output.display(),
        plan.expires_at.format("%Y-%m-%d %H:%M UTC"),
        commands::fix_apply(
            &args.output.display().to_string(),
            plan.config.as_ref().map(|c| c.path.as_str())
        )
    );
    Ok(ExitStatus::Compliant)
}

pub(crate) fn print_plan(plan: &Plan) {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header(vec!["#", "action", "target", "after", "fixes"]);
    for a in &plan.actions {
        let fixes: Vec<&str> = a
            .fixes
            .iter()
            .map(|f| f.rule_id.as_str())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        table.add_row(vec![
            a.id.clone(),
            a.kind.to_string(),
            a.target.name.clone(),
            a.depends_on.join(","),
            if fixes.is_empty() {
                a.reason.clone()
            } else {
                fixes.join(", ")
            },
        ]);
    }
    println!(
        "Plan {} for tenant {}: {} action(s)",
        plan.plan_id,
        plan.tenant_id,
        plan.actions.len()
    );
    if !plan.actions.is_empty() {
        println!("{table}");
    }
    if !plan.not_planned.is_empty() {
        println!("Not planned ({}):", plan.not_planned.len());
        for n in &plan.not_planned {
            println!("  {} {}: {}", n.rule_id, n.resource_name, n.reason);
        }
    }
}

/// Sign in for fix mode, defaulting the tenant to the plan's.
pub(crate) fn sign_in(
    mut connection: ConnectionArgs,
    config: Option<&Config>,
    default_tenant: Option<&str>,
) -> anyhow::Result<(Settings, TokenProvider, ureq::Agent, Option<String>)> {
    if connection.tenant().is_none() {
        connection.tenant = default_tenant.map(str::to_owned);
    }
    let settings = connection.settings(config)?;
    let agent = crate::collect::agent();
    let tokens = TokenProvider::new(settings.clone(), agent.clone());
    let token = tokens
        .token(GRAPH_SCOPE)
        .with_context(|| format!("cannot sign in to tenant {}", settings.tenant))?;
    if let (Some(expected), Some(tid)) = (default_tenant, token_claim(&token, "tid")) {
        if !tid.eq_ignore_ascii_case(expected) {
            bail!(
                "the plan is for tenant {expected}, but the sign-in is to tenant {tid}; refusing"
            );
        }
    }
    let oid = token_claim(&token, "oid");
    Ok((settings, tokens, agent, oid))
}

fn apply_plan(args: ApplyArgs) -> anyhow::Result<ExitStatus> {
    let plan = Plan::load(&args.plan, Utc::now())?;
    let config = args.config.load()?;
    // Before anything else (no sign-in): the plan must have been made with this config.
    let current = config.as_ref().and_then(PlanConfig::of);
    if let Some(warning) = plan
        .check_config(current.as_ref(), args.force_config_change)
        .with_context(|| format!("refusing {}", args.plan.display()))?
    {
        eprintln!("warning: {warning}");
    }
    let pack = pack::load(&[], Builtin::All)?;
    // The verification scan applies the config: check it before anything is changed.
    if let Some(config) = &config {
        config.validate(&pack.rule_ids())?;
    }
    print_plan(&plan);
    let (settings, tokens, agent, oid) =
        sign_in(args.connection, config.as_ref(), Some(&plan.tenant_id))?;
    let live = Live::new(&tokens, agent);
    let results = execute(&plan, &live, &args.execute, config.as_ref(), oid)?;
    let mut status = summary_status(&results);
    if !args.execute.no_verify && results.iter().any(|r| r.outcome == Outcome::Applied) {
        let verified = verify_by_rescan(&plan, &results, settings, &pack, config.as_ref())?;
        print_verified(&verified);
        if verified.iter().any(|v| v.state == FindingState::Unknown)
            && status == ExitStatus::Compliant
        {
            status = ExitStatus::Incomplete;
        }
    }
    Ok(status)
}

/// Confirm, open the sinks, run the plan, print the summary table.
pub(crate) fn execute(
    plan: &Plan,
    live: &Live<'_>,
    args: &ExecuteArgs,
    config: Option<&Config>,
    own_principal_id: Option<String>,
) -> anyhow::Result<Vec<ActionResult>> {
    if let Err(why) = guards::max_actions(&plan.actions, args.max_actions) {
        bail!("{why}");
    }
    if plan.actions.is_empty() {
        println!("Nothing to apply.");
        return Ok(Vec::new());
    }
    confirm(plan, args.yes)?;
    let completed_earlier = crate::fix::audit::completed(&args.audit_log, &plan.plan_id)?;
    let mut audit = AuditLog::open(&args.audit_log)?;
    let evidence_dir = args
        .evidence
        .clone()
        .unwrap_or_else(|| PathBuf::from("m365guard-evidence").join(&plan.plan_id));
    let evidence = Evidence::create(&evidence_dir)?;
    let mut passwords =
        if args.reveal_password {
            PasswordSink::Reveal
        } else {
            PasswordSink::file(&args.password_file.clone().unwrap_or_else(|| {
                PathBuf::from(format!("m365guard-passwords-{}.txt", plan.plan_id))
            }))
        };
    let options = ApplyOptions {
        break_glass: config
            .map(|c| c.break_glass.accounts.clone())
            .unwrap_or_default(),
        own_principal_id,
        completed_earlier,
        ..ApplyOptions::default()
    };
    let mut sinks = Sinks {
        audit: &mut audit,
        evidence: &evidence,
        passwords: &mut passwords,
    };
    let results = apply::apply(plan, live, &options, &mut sinks, |r| {
        eprintln!(
            "  {} {:<32} {:<13} {}",
            r.id,
            r.kind.as_str(),
            r.outcome.as_str(),
            r.target
        );
    })?;
    print_results(&results);
    println!(
        "Audit log: {}  Evidence: {}",
        args.audit_log.display(),
        evidence.dir().display()
    );
    if let Some(file) = passwords.written_file() {
        println!(
            "New temporary passwords are in {} (mode 0600). Hand them over out of band — never by email — and delete the file.",
            file.display()
        );
    }
    Ok(results)
}

fn confirm(plan: &Plan, yes: bool) -> anyhow::Result<()> {
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        bail!("refusing to apply without --yes: stdin is not a terminal, so nobody can confirm");
    }
    print!(
        "Apply {} action(s) to tenant {}? Type 'yes' to continue: ",
        plan.actions.len(),
        plan.tenant_id
    );
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    if answer.trim() != "yes" {
        bail!("not confirmed; nothing was changed");
    }
    Ok(())
}

fn print_results(results: &[ActionResult]) {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header(vec!["#", "action", "target", "outcome", "detail"]);
    for r in results {
        table.add_row(vec![
            r.id.clone(),
            r.kind.to_string(),
            r.target.clone(),
            r.outcome.as_str().to_owned(),
            r.detail.clone(),
        ]);
    }
    println!("{table}");
    let count = |o: Outcome| results.iter().filter(|r| r.outcome == o).count();
    println!(
        "{} applied, {} already done, {} skipped, {} refused, {} failed",
        count(Outcome::Applied),
        count(Outcome::AlreadyDone),
        count(Outcome::Skipped),
        count(Outcome::Refused),
        count(Outcome::Failed)
    );
}

/// 0 when every action is applied or already done; 1 otherwise (something the plan asked
/// for did not happen).
pub(crate) fn summary_status(results: &[ActionResult]) -> ExitStatus {
    if results.iter().all(|r| r.outcome.satisfied()) {
        ExitStatus::Compliant
    } else {
        ExitStatus::Findings
    }
}

/// Re-collect the tenant and re-scan it through the same pipeline as `scan` (the same
/// config: allowed forwarding domains, break-glass, exceptions), then compare with what
/// the plan meant to fix.
fn verify_by_rescan(
    plan: &Plan,
    results: &[ActionResult],
    settings: Settings,
    pack: &pack::Pack,
    config: Option<&Config>,
) -> anyhow::Result<Vec<Verified>> {
    eprintln!("verifying: re-collecting the tenant and re-evaluating the rules…");
    let input = Input::Live {
        connection: settings,
        save_to: None,
    };
    let output =
        engine::run(&engine::Settings::new(input, pack, config)).context("cannot re-collect")?;
    Ok(verify::compare(plan, results, &output.result))
}

pub(crate) fn print_verified(verified: &[Verified]) {
    if verified.is_empty() {
        return;
    }
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header(vec!["rule", "resource", "after apply"]);
    for v in verified {
        let state = match &v.note {
            Some(note) => format!("{} — {note}", v.state.as_str()),
            None => v.state.as_str().to_owned(),
        };
        table.add_row(vec![v.rule_id.clone(), v.resource.clone(), state]);
    }
    println!("Verification (re-collected and re-evaluated):\n{table}");
}
