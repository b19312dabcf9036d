//! `m365guard collect`: sign in (client secret, certificate, or workload identity
//! federation), collect a live snapshot from Graph and Exchange, write it (stable layout,
//! mode 0600) and summarise each source on stderr. The client secret is read only from
//! `AZURE_CLIENT_SECRET`, never from a flag or m365guard.toml.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;

use crate::auth::{RawCredentials, RawSettings, Secret, Settings};
use crate::config::Config;
use crate::findings::ExitStatus;
use crate::snapshot::model::{Snapshot, SourceState};

/// How the credential is chosen; shown by `collect --help` (README: live collection).
pub const CREDENTIALS_HELP: &str = "\
Credentials (exactly one is used):
  1. a flag: --certificate PEM, --federated-token-file FILE or --github-oidc (one);
  2. else the environment, where exactly one of AZURE_CLIENT_SECRET,
     AZURE_CLIENT_CERTIFICATE_PATH, AZURE_FEDERATED_TOKEN_FILE may be set
     (several is an error: unset the others or pass a flag);
  3. else `certificate` in the [connection] section of m365guard.toml.
The client secret is read only from AZURE_CLIENT_SECRET, never from a flag or a file.
Other settings: flag, else environment variable, else m365guard.toml
([tenant] id; [connection] client_id, certificate, authority_host, graph_url, exchange_url).";

#[derive(Debug, Args)]
#[command(after_help = CREDENTIALS_HELP)]
pub struct CollectArgs {
    /// Where to write the snapshot.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: PathBuf,
    /// Read the authentication methods of every user, not only of privileged ones: one
    /// Graph request per user, sent 20 to a `$batch` (README: live collection).
    #[arg(long)]
    pub deep: bool,
    #[command(flatten)]
    pub config: super::ConfigArgs,
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

/// How to reach the tenant; shared by `collect` and `scan --tenant`.
///
/// Each setting comes from its flag, else its environment variable, else m365guard.toml.
/// The credential is chosen separately (see `--help`): a flag (--certificate,
/// --federated-token-file or --github-oidc) wins; else exactly one of AZURE_CLIENT_SECRET,
/// AZURE_CLIENT_CERTIFICATE_PATH, AZURE_FEDERATED_TOKEN_FILE may be set (several is an
/// error); else `[connection] certificate` from m365guard.toml.
#[derive(Debug, Default, Args)]
pub struct ConnectionArgs {
    /// Tenant id (GUID) or verified domain [env: AZURE_TENANT_ID] [m365guard.toml: [tenant] id].
    // Read from the environment in `settings`, not by clap: `scan` must be able to tell
    // an explicit --tenant (which conflicts with --snapshot) from an ambient variable.
    #[arg(long)]
    pub tenant: Option<String>,
    /// App (client) id of the app registration [m365guard.toml: [connection] client_id].
    #[arg(long, env = "AZURE_CLIENT_ID")]
    pub client_id: Option<String>,
    /// Sign in with a certificate: a PEM file holding the certificate and its unencrypted
    /// RSA private key (PKCS#8 or PKCS#1) [env: AZURE_CLIENT_CERTIFICATE_PATH]
    /// [m365guard.toml: [connection] certificate]. The flag wins over any credential in the
    /// environment; a client secret is only ever read from AZURE_CLIENT_SECRET.
    // Read from the environment in `settings`, not by clap: a flag outranks ambient
    // credentials, an environment variable does not, so the two must stay apart.
    #[arg(long, value_name = "PEM")]
    pub certificate: Option<PathBuf>,
    /// Sign in with the GitHub Actions OIDC token of the running job (workload identity
    /// federation, no secret). Needs `permissions: id-token: write` in the workflow and a
    /// federated credential on the app for the job's subject. For other platforms set
    /// AZURE_FEDERATED_TOKEN_FILE to a file holding the federated token instead.
    #[arg(long, conflicts_with = "certificate")]
    pub github_oidc: bool,
    /// Sign in with workload identity federation: FILE holds the federated token (a JWT
    /// with audience api://AzureADTokenExchange from Azure Pipelines, GitLab, Kubernetes, a
    /// GitHub job), read anew for every token request. The flag form of
    /// AZURE_FEDERATED_TOKEN_FILE; like --certificate it wins over any credential in the
    /// environment.
    // Not `env = …`: the variable is an ambient credential (exactly one may be set), the
    // flag an explicit choice, so the two must stay apart as for --certificate.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["certificate", "github_oidc"])]
    pub federated_token_file: Option<PathBuf>,
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

    /// Validated connection settings; `config` is the m365guard.toml the command already
    /// read (its [tenant] and [connection] sections fill what flags and environment leave).
    pub fn settings(self, config: Option<&Config>) -> anyhow::Result<Settings> {
        let default = Config::default();
        let file = config.unwrap_or(&default);
        let from_file = file.connection.clone();
        let raw = RawSettings {
            tenant: self.tenant().or_else(|| file.tenant_id.clone()),
            client_id: self.client_id.or(from_file.client_id),
            client_secret: env("AZURE_CLIENT_SECRET").map(Secret::new),
            authority: self
                .authority_host
                .or_else(|| env("M365GUARD_AUTHORITY_HOST"))
                .or_else(|| env("AZURE_AUTHORITY_HOST"))
                .or(from_file.authority_host),
            graph_url: self.graph_url.or(from_file.graph_url),
            exchange_url: self.exchange_url.or(from_file.exchange_url),
        };
        let credentials = RawCredentials {
            certificate_flag: self.certificate,
            github_oidc: self.github_oidc,
            federated_token_file_flag: self.federated_token_file,
            certificate_env: env("AZURE_CLIENT_CERTIFICATE_PATH").map(PathBuf::from),
            federated_token_file: env("AZURE_FEDERATED_TOKEN_FILE").map(PathBuf::from),
            certificate_config: from_file.certificate,
            github_request_url: env("ACTIONS_ID_TOKEN_REQUEST_URL"),
            github_request_token: env("ACTIONS_ID_TOKEN_REQUEST_TOKEN").map(Secret::new),
        };
        Settings::validate_with(raw, credentials).context("invalid collection settings")
    }
}

pub fn run(args: CollectArgs) -> anyhow::Result<ExitStatus> {
    let config = args.config.load()?;
    let settings = args.connection.settings(config.as_ref())?;
    let tenant = settings.tenant.clone();
    let mut snapshot = crate::collect::collect_with(settings, args.deep)
        .with_context(|| format!("cannot sign in to tenant {tenant}"))?;
    crate::snapshot::io::write(&args.output, &mut snapshot)?;
    print_collected(&snapshot, Some(&args.output));
    Ok(summarise(&snapshot))
}

/// "collected tenant … → file" on stderr (`collect`, `scan --tenant`, `fix plan --tenant`).
pub fn print_collected(snapshot: &Snapshot, written_to: Option<&Path>) {
    match written_to {
        Some(path) => eprintln!(
            "collected tenant {} → {}",
            snapshot.tenant.id,
            path.display()
        ),
        None => eprintln!("collected tenant {}", snapshot.tenant.id),
    }
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
