//! `m365guard collect`: sign in with a client secret, collect a live snapshot from Graph
//! and Exchange, write it (stable layout, mode 0600) and summarise each source on stderr.
//! The secret is read only from `AZURE_CLIENT_SECRET`, never from a flag.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;

use crate::auth::{RawSettings, Secret, Settings};
use crate::findings::ExitStatus;
use crate::snapshot::model::{Snapshot, SourceState};

#[derive(Debug, Args)]
pub struct CollectArgs {
    /// Where to write the snapshot.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: PathBuf,
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

/// How to reach the tenant; shared by `collect` and `scan --tenant`.
#[derive(Debug, Default, Args)]
pub struct ConnectionArgs {
    /// Tenant id (GUID) or verified domain [env: AZURE_TENANT_ID].
    // Read from the environment in `settings`, not by clap: `scan` must be able to tell
    // an explicit --tenant (which conflicts with --snapshot) from an ambient variable.
    #[arg(long)]
    pub tenant: Option<String>,
    /// App (client) id of the app registration. The secret comes from AZURE_CLIENT_SECRET.
    #[arg(long, env = "AZURE_CLIENT_ID")]
    pub client_id: Option<String>,
    /// Entra authority host [env: M365GUARD_AUTHORITY_HOST or AZURE_AUTHORITY_HOST]
    /// [default: https://login.microsoftonline.com].
    #[arg(long)]
    pub authority_host: Option<String>,
    /// Microsoft Graph base URL [default: https://graph.microsoft.com].
    #[arg(long, env = "M365GUARD_GRAPH_URL")]
    pub graph_url: Option<String>,
    /// Exchange Online base URL [default: https://outlook.office365.com].
    #[arg(long, env = "M365GUARD_EXCHANGE_URL")]
    pub exchange_url: Option<String>,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

impl ConnectionArgs {
    /// The tenant from --tenant or AZURE_TENANT_ID.
    pub fn tenant(&self) -> Option<String> {
        self.tenant.clone().or_else(|| env("AZURE_TENANT_ID"))
    }

    pub fn settings(self) -> anyhow::Result<Settings> {
        let raw = RawSettings {
            tenant: self.tenant(),
            client_id: self.client_id,
            client_secret: env("AZURE_CLIENT_SECRET").map(Secret::new),
            authority: self
                .authority_host
                .or_else(|| env("M365GUARD_AUTHORITY_HOST"))
                .or_else(|| env("AZURE_AUTHORITY_HOST")),
            graph_url: self.graph_url,
            exchange_url: self.exchange_url,
        };
        Settings::validate(raw).context("invalid collection settings")
    }
}

pub fn run(args: CollectArgs) -> anyhow::Result<ExitStatus> {
    let snapshot = collect_to(args.connection, &args.output)?;
    Ok(summarise(&snapshot))
}

/// Collect a snapshot and write it to `output` (stable layout, mode 0600).
pub fn collect_to(connection: ConnectionArgs, output: &Path) -> anyhow::Result<Snapshot> {
    let settings = connection.settings()?;
    let tenant = settings.tenant.clone();
    let mut snapshot = crate::collect::collect(settings)
        .with_context(|| format!("cannot sign in to tenant {tenant}"))?;
    crate::snapshot::io::write(output, &mut snapshot)?;
    eprintln!(
        "collected tenant {} → {}",
        snapshot.tenant.id,
        output.display()
    );
    Ok(snapshot)
}

/// Print each source's status on stderr; `Incomplete` when any source is in error.
pub fn summarise(snapshot: &Snapshot) -> ExitStatus {
    let mut status = ExitStatus::Compliant;
    for (source, st) in &snapshot.sources {
        let state = match st.status {
            SourceState::Ok => "ok",
            SourceState::Unavailable => "unavailable",
            SourceState::Error => {
                status = ExitStatus::Incomplete;
                "error"
            }
        };
        match &st.reason {
            Some(reason) => eprintln!(
                "  {:<24} {state:<11} {:>6}  {reason}",
                source.as_str(),
                st.items
            ),
            None => eprintln!("  {:<24} {state:<11} {:>6}", source.as_str(), st.items),
        }
    }
    if status == ExitStatus::Incomplete {
        eprintln!("some sources are in error: a scan of this snapshot will not pass (exit 3)");
    }
    status
}
