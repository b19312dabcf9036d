//! `m365guard setup [--read-only|--with-fix] [--with-investigation] [--format manifest|az|graph] [--github
//! OWNER/REPO[:REF]] [--apply]`: what the app registration needs, printed from the one
//! permission table (no tenant, no sign-in) as an Entra app manifest fragment, `az`
//! commands and Graph requests; with `--apply`, done in the tenant after a device-code
//! sign-in as an administrator. The library side is `crate::setup`.

use anyhow::Context;
use clap::{Args, ValueEnum};

use crate::auth::{check_scheme, DEFAULT_AUTHORITY, DEFAULT_GRAPH};
use crate::findings::ExitStatus;
use crate::setup::apply::{apply, ApplyOptions};
use crate::setup::device_code::GRAPH_COMMAND_LINE_TOOLS;
use crate::setup::render::Setup;
use crate::setup::{GithubSubject, Mode, Requirements};

#[derive(Debug, Args)]
pub struct SetupArgs {
    /// Only what collection needs (the default).
    #[arg(long, conflicts_with = "with_fix")]
    pub read_only: bool,
    /// Also what every fix action needs (fix plan/apply, respond).
    #[arg(long)]
    pub with_fix: bool,
    /// Also what `investigate` and `respond --user` read: sign-ins, directory audits,
    /// Identity Protection risk detections, the audit log query API and the message trace
    /// (an Exchange role that may run Get-MessageTraceV2).
    #[arg(long)]
    pub with_investigation: bool,
    /// Print one form only: the app manifest fragment (JSON), `az` commands, or the Graph
    /// requests. Default: all three, each under a heading.
    #[arg(long, value_enum, conflicts_with = "apply")]
    pub format: Option<Format>,
    /// Add a federated credential trusting GitHub Actions of OWNER/REPO: on branch REF
    /// (default main), `refs/tags/TAG`, `environment:NAME` or `pull_request`.
    #[arg(long, value_name = "OWNER/REPO[:REF]")]
    pub github: Option<String>,
    /// Display name of the app registration (an existing one is reused by --apply).
    #[arg(long, default_value = "m365guard")]
    pub name: String,
    /// Do it: sign in as an administrator (device code, delegated) and create or complete
    /// the app, service principal, permissions, directory roles and federated credential.
    #[arg(long)]
    pub apply: bool,
    /// Tenant to sign in to with --apply: id or verified domain [env: AZURE_TENANT_ID]
    /// [default: organizations, the admin's home tenant].
    #[arg(long)]
    pub tenant: Option<String>,
    /// Public client the admin signs in through with --apply [default: Microsoft Graph
    /// Command Line Tools, 14d82eec-204b-4c2f-b7e8-296a70dab67e].
    #[arg(long, value_name = "CLIENT_ID")]
    pub admin_client_id: Option<String>,
    /// Entra authority host [env: M365GUARD_AUTHORITY_HOST or AZURE_AUTHORITY_HOST]
    /// [default: https://login.microsoftonline.com].
    #[arg(long)]
    pub authority_host: Option<String>,
    /// Microsoft Graph base URL [default: https://graph.microsoft.com].
    #[arg(long, env = "M365GUARD_GRAPH_URL")]
    pub graph_url: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Manifest,
    Az,
    Graph,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

pub fn run(args: SetupArgs) -> anyhow::Result<ExitStatus> {
    let mode = if args.with_fix {
        Mode::WithFix
    } else {
        Mode::ReadOnly
    };
    let requirements = Requirements::for_setup(mode, args.with_investigation);
    let github = args
        .github
        .as_deref()
        .map(GithubSubject::parse)
        .transpose()?;
    let name = args.name.trim();
    if name.is_empty() || name.len() > 120 {
        anyhow::bail!("--name must be 1 to 120 characters");
    }
    if args.apply {
        return run_apply(&args, &requirements, github.as_ref());
    }
    let setup = Setup {
        requirements: &requirements,
        display_name: name,
        github: github.as_ref(),
    };
    let text = match args.format {
        Some(Format::Manifest) => {
            eprint!("{}", setup.notes());
            setup.manifest()?
        }
        Some(Format::Az) => setup.az()?,
        Some(Format::Graph) => setup.graph()?,
        None => format!(
            "## Entra app manifest (requiredResourceAccess)\n\n{}{}\n## az CLI\n\n{}\n## Microsoft Graph requests\n\n{}",
            setup.manifest()?,
            setup.notes(),
            setup.az()?,
            setup.graph()?
        ),
    };
    use std::io::Write as _;
    std::io::stdout().write_all(text.as_bytes())?;
    Ok(ExitStatus::Compliant)
}

fn run_apply(
    args: &SetupArgs,
    requirements: &Requirements,
    github: Option<&GithubSubject>,
) -> anyhow::Result<ExitStatus> {
    let tenant = args
        .tenant
        .clone()
        .or_else(|| env("AZURE_TENANT_ID"))
        .unwrap_or_else(|| "organizations".into());
    let id_ok = |v: &str| {
        !v.is_empty()
            && v.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
    };
    if !id_ok(&tenant) {
        anyhow::bail!("--tenant {tenant:?} contains characters not allowed in a tenant id");
    }
    let client_id = args
        .admin_client_id
        .clone()
        .unwrap_or_else(|| GRAPH_COMMAND_LINE_TOOLS.into());
    if !id_ok(&client_id) {
        anyhow::bail!("--admin-client-id {client_id:?} is not a client id");
    }
    let url = |name: &'static str, v: Option<String>, default: &str| -> anyhow::Result<String> {
        let v = v.unwrap_or_else(|| default.to_owned());
        check_scheme(name, &v)?;
        Ok(v.trim_end_matches('/').to_owned())
    };
    let authority = url(
        "authority host",
        args.authority_host
            .clone()
            .or_else(|| env("M365GUARD_AUTHORITY_HOST"))
            .or_else(|| env("AZURE_AUTHORITY_HOST")),
        DEFAULT_AUTHORITY,
    )?;
    let graph_url = url("Graph URL", args.graph_url.clone(), DEFAULT_GRAPH)?;
    let opts = ApplyOptions {
        authority: &authority,
        graph_url: &graph_url,
        tenant: &tenant,
        admin_client_id: &client_id,
        display_name: args.name.trim(),
        github,
        requirements,
    };
    let outcome = apply(&opts, &mut |message| eprintln!("{message}"), &mut |line| {
        eprintln!("setup: {line}")
    })
    .context(
        "setup --apply failed (everything done before the failure stays; run it again to complete)",
    )?;
    println!("tenant id   {}", outcome.tenant_id);
    println!("client id   {}", outcome.client_id);
    println!();
    println!("Sign in with these, e.g.:");
    println!(
        "  export AZURE_TENANT_ID={} AZURE_CLIENT_ID={}",
        outcome.tenant_id, outcome.client_id
    );
    if github.is_some() {
        println!("  (in GitHub Actions: m365guard doctor --github-oidc)");
    }
    println!("  m365guard doctor");
    Ok(ExitStatus::Compliant)
}
