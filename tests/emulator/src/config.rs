//! Emulator configuration: the tenant state, the app registration (credentials), what the
//! app was granted, the tenant's licences, behaviour switches for UNVERIFIED contract
//! points, and fault injection. Built in code by tests, or loaded from a scenario TOML
//! (`tests/emulator/scenarios/*.toml`) that points at a m365guard snapshot.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::crypto::Certificate;
use crate::state::{role_ids, TenantState};

/// The fake ids of the contract's fixtures.
pub const CONTOSO_TENANT_ID: &str = "7c1d2e3f-4a5b-4c6d-8e7f-901a2b3c4d5e";
pub const CONTOSO_CLIENT_ID: &str = "3f2a1b0c-9d8e-4f7a-b6c5-d4e3f2a1b0c9";
pub const CONTOSO_SP_OBJECT_ID: &str = "b2c3d4e5-f6a7-4b8c-9d0e-1f2a3b4c5d6e";
/// Demo secret printed by the binary; a fixed, fake value (CONTRACT fixture).
pub const DEMO_CLIENT_SECRET: &str = "Fake~Secret.Value_0123456789abcdefABCDEF";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: invalid scenario TOML: {message}")]
    Toml { path: PathBuf, message: String },
    #[error("{path}: invalid snapshot JSON: {message}")]
    Snapshot { path: PathBuf, message: String },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// One federated identity credential on the app registration (matched exactly and
/// case-sensitively against the assertion's iss/sub/aud).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FederatedCredential {
    pub issuer: String,
    pub subject: String,
    pub audience: String,
    /// When set, the federated JWT must be RS256/PS256-signed by this certificate's key
    /// (tests mint tokens with `testdata/test-issuer.key.pem`); when `None` the signature
    /// is not checked (demo mode, like the fixture's unsigned GitHub token).
    #[serde(skip)]
    pub issuer_certificate: Option<Certificate>,
}

/// The app registration the client authenticates as.
#[derive(Debug, Clone)]
pub struct AppRegistration {
    pub client_id: String,
    pub display_name: String,
    /// Object id of the app's service principal (`oid`/`sub` of its tokens).
    pub service_principal_id: String,
    pub client_secret: Option<String>,
    /// The secret exists but expired → AADSTS7000222.
    pub secret_expired: bool,
    pub certificate: Option<Certificate>,
    pub federated_credentials: Vec<FederatedCredential>,
}

/// What the app was granted: Graph application permissions (the `roles` claim),
/// Exchange.ManageAsApp, and Entra directory roles held by its service principal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grants {
    pub graph: Vec<String>,
    pub exchange_manage_as_app: bool,
    /// Directory role template ids (`state::role_ids`).
    pub directory_roles: Vec<String>,
}

impl Grants {
    /// Everything m365guard reads and fixes with; Exchange Administrator + Global Reader.
    pub fn full() -> Grants {
        Grants {
            graph: [
                "User.Read.All",
                "AuditLog.Read.All",
                "Policy.Read.All",
                "MailboxSettings.ReadWrite",
                "Mail.ReadBasic.All",
                "RoleManagement.ReadWrite.Directory",
                "RoleEligibilitySchedule.Read.Directory",
                "IdentityRiskyUser.Read.All",
                "IdentityRiskEvent.Read.All",
                "Organization.Read.All",
                "Domain.Read.All",
                "GroupMember.Read.All",
                "User.RevokeSessions.All",
                "User.EnableDisableAccount.All",
                "User-PasswordProfile.ReadWrite.All",
                "Policy.ReadWrite.AuthenticationMethod",
                "Policy.ReadWrite.ConditionalAccess",
                // Apps: read, and fix mode's writes (grants, assignments, credentials,
                // service principals, the authorization policy).
                "Application.Read.All",
                "DelegatedPermissionGrant.ReadWrite.All",
                "AppRoleAssignment.ReadWrite.All",
                "Application.ReadWrite.All",
                "Policy.ReadWrite.Authorization",
                "UserAuthenticationMethod.ReadWrite.All",
                // The unified audit log (`investigate`).
                "AuditLogsQuery.Read.All",
            ]
            .map(String::from)
            .to_vec(),
            exchange_manage_as_app: true,
            directory_roles: vec![
                role_ids::GLOBAL_READER.into(),
                role_ids::EXCHANGE_ADMINISTRATOR.into(),
                role_ids::PRIVILEGED_AUTHENTICATION_ADMINISTRATOR.into(),
                role_ids::PRIVILEGED_ROLE_ADMINISTRATOR.into(),
            ],
        }
    }

    /// The read-only set of the contract's example token plus Exchange read access.
    pub fn read_only() -> Grants {
        Grants {
            graph: [
                "User.Read.All",
                "AuditLog.Read.All",
                "Policy.Read.All",
                "MailboxSettings.Read",
                "Mail.ReadBasic.All",
                "RoleManagement.Read.Directory",
                "RoleEligibilitySchedule.Read.Directory",
                "IdentityRiskyUser.Read.All",
                "IdentityRiskEvent.Read.All",
                "Organization.Read.All",
                "Domain.Read.All",
                "GroupMember.Read.All",
                "Application.Read.All",
                "UserAuthenticationMethod.Read.All",
            ]
            .map(String::from)
            .to_vec(),
            exchange_manage_as_app: true,
            directory_roles: vec![role_ids::GLOBAL_READER.into()],
        }
    }
}

/// Entra ID licences of the tenant: P1 gates signInActivity, the registration report, CA
/// and sign-in logs; P2 gates PIM eligibility, risky users and P2-only CA conditions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Licences {
    pub p1: bool,
    pub p2: bool,
}

/// Fault injection. All randomness comes from the seeded PRNG (`Options::seed`).
/// Probabilistic faults apply to Graph and Exchange API requests (not the token endpoint)
/// whose path contains `path_contains` (all when empty).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Fixed latency added to every request (token endpoint included).
    pub latency_ms: u64,
    /// Extra uniform random latency `0..=jitter_ms`.
    pub jitter_ms: u64,
    /// Probability of a top-level 429 (Graph `TooManyRequests`, Exchange 429).
    pub rate_429: f64,
    /// `Retry-After` value sent with injected 429s (`"7"`, `"2.128"`); `None` = no header.
    pub retry_after: Option<String>,
    /// Probability that a `$batch` item answers 429 (with `Retry-After` in its headers).
    pub batch_item_429_rate: f64,
    /// The next N API requests answer 503 `serviceNotAvailable` (a burst); decremented.
    pub burst_503: u32,
    /// Probability of closing the connection without any response.
    pub drop_rate: f64,
    /// The next N API requests are dropped (connection closed, no response).
    pub drop_next: u32,
    /// Probability of a truncated body (Content-Length larger than the bytes sent).
    pub truncate_rate: f64,
    /// The next N API requests get a truncated body.
    pub truncate_next: u32,
    /// Graph mailbox resources (messageRules, mailFolders): in-flight requests per mailbox
    /// above this answer 429 `ApplicationThrottled`. 0 = unlimited. Microsoft's limit is 4.
    pub mailbox_concurrency_limit: u32,
    /// CA policies and riskyUsers: more than one request per second per tenant → 429
    /// without `Retry-After` (Microsoft's documented limit).
    pub one_rps_limit: bool,
    /// Exchange: cut every paged cmdlet response after the first page with a warning
    /// (`@odata.nextLink` + non-empty `@adminapi.warnings`), even with `ResultSize Unlimited`.
    pub exo_force_truncation: bool,
    /// Exchange: following any `@odata.nextLink` answers 400 "Expired or Invalid pagination
    /// request" (the 2026 live report) instead of the next page.
    pub exo_pagination_expired: bool,
    /// Restrict probabilistic/burst faults to request paths containing this text.
    pub path_contains: String,
    /// Exchange: every `*-InboxRule` call whose `Mailbox` names this mailbox (any identity
    /// form: UPN, alias, SMTP address, guid) answers 500 — a mailbox that always fails.
    pub fail_mailbox: Option<String>,
    /// Exchange: every `Get-MailboxPermission` call for this mailbox (any identity form)
    /// answers 500, like `fail_mailbox` does for `*-InboxRule`.
    pub fail_permissions_mailbox: Option<String>,
    /// Exchange: these cmdlets answer 403 with the NUL-byte body (the app's Exchange role
    /// does not cover them), every other cmdlet runs as usual.
    pub forbid_cmdlets: Vec<String>,
    /// Exchange: the folder cmdlets (`crate::exo_folders`) for this mailbox answer 500.
    pub fail_folders_mailbox: Option<String>,
    /// Exchange: the folder cmdlets for this mailbox answer 429 `ApplicationThrottled`
    /// with `retry_after`, every time (throttled past every retry).
    pub throttle_folders_mailbox: Option<String>,
    /// Exchange: these cmdlets answer 429 (`Retry-After: retry_after`) for their next
    /// `throttle_cmdlets_times` calls together (`u32::MAX`: always), then run as usual.
    pub throttle_cmdlets: Vec<String>,
    pub throttle_cmdlets_times: u32,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            latency_ms: 0,
            jitter_ms: 0,
            rate_429: 0.0,
            retry_after: Some("1".into()),
            batch_item_429_rate: 0.0,
            burst_503: 0,
            drop_rate: 0.0,
            drop_next: 0,
            truncate_rate: 0.0,
            truncate_next: 0,
            mailbox_concurrency_limit: 4,
            one_rps_limit: false,
            exo_force_truncation: false,
            exo_pagination_expired: false,
            path_contains: String::new(),
            fail_mailbox: None,
            fail_permissions_mailbox: None,
            forbid_cmdlets: Vec::new(),
            fail_folders_mailbox: None,
            throttle_folders_mailbox: None,
            throttle_cmdlets: Vec::new(),
            throttle_cmdlets_times: 0,
        }
    }
}

/// Which body a federated-credential mismatch answers with (CONTRACT §1.3 step 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum FicErrorStyle {
    /// HTTP 401 `invalid_client` AADSTS700213 (2025–2026).
    #[default]
    Current,
    /// HTTP 400 `invalid_request` AADSTS70021 (older captures).
    Legacy,
}

/// How Exchange `Get-InboxRule` renders `MoveToFolder` (CONTRACT §16.3, UNVERIFIED).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum FolderFormat {
    /// `lena.fischer:\RSS Feeds`
    #[default]
    Path,
    /// `RSS Feeds`
    Name,
}

/// Exchange paging: both behaviours are reported for `InvokeCommand` (CONTRACT §6.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ExoPaging {
    /// POSTing the same body to `@odata.nextLink` returns the next page (Microsoft's
    /// module, CIPP's New-ExoRequest).
    #[default]
    NextLink,
    /// Every nextLink answers 400 "Expired or Invalid pagination request" (graph2otel, live
    /// 2026-07: the `$skiptoken` pins a backend the front door does not route back to), and
    /// a page cut by `Prefer: odata.maxpagesize` carries the truncation warning; a request
    /// without `Prefer` is answered whole, as far as its `ResultSize` allows, so a client
    /// must re-POST instead of following.
    Restart,
}

/// The success answer of an Exchange write cmdlet with no output: `fixtures/exo.set.response.json`
/// is an assumption (CONTRACT §6.3 UNVERIFIED), so a client must accept each of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ExoWriteAnswer {
    /// 200 with the usual envelope and `"value": []`.
    #[default]
    Value,
    /// 200 with an empty body.
    EmptyBody,
    /// 204 No Content.
    NoContent,
}

/// Behaviour switches and sizes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Options {
    /// Seed of the PRNG behind faults, shuffles and generated ids.
    pub seed: u64,
    /// `expires_in` of issued tokens; tokens are rejected (401) once expired.
    pub token_lifetime_secs: u64,
    /// Graph page size when the client sends no `$top`.
    pub graph_page_size: usize,
    /// Historical cap on users pages that select `signInActivity` (UNVERIFIED whether it
    /// still applies); `0` = no cap.
    pub sign_in_activity_page_cap: usize,
    /// Exchange's largest page: the page size when the client sends no
    /// `Prefer: odata.maxpagesize`, and the cap on the one it asks for (a small value makes
    /// every client page, whatever it prefers).
    pub exo_page_size: usize,
    /// Whether Exchange's `@odata.nextLink` can be followed (see [`ExoPaging`]).
    pub exo_paging: ExoPaging,
    /// How Exchange answers a write cmdlet that outputs nothing (see [`ExoWriteAnswer`]).
    pub exo_write_answer: ExoWriteAnswer,
    /// Remove-BlockedSenderAddress calls the tenant may make per day (this emulator's
    /// lifetime counts as one day); past it the cmdlet fails. `None` = no limit.
    pub exo_unblock_limit: Option<u32>,
    /// HTTP status of Exchange ManagementObjectNotFound (UNVERIFIED 404 vs 400).
    pub exo_not_found_status: u16,
    pub exo_move_to_folder_format: FolderFormat,
    pub fic_error_style: FicErrorStyle,
    /// Tolerated clock skew for client assertion `nbf`/`exp`.
    pub assertion_clock_skew_secs: u64,
    /// `userRegistrationDetails.isAdmin` is derived from live role assignments, as
    /// Microsoft does. `false` serves the value recorded in the scenario's snapshot instead
    /// (the contoso scenario replays the example snapshot verbatim).
    pub registration_is_admin_from_roles: bool,
    /// `Get-InboxRule` of another user's mailbox under Global Reader alone. `true`: allowed
    /// (no Microsoft page documents an exception). `false`: refused the way a report on
    /// Microsoft's docs repository shows, "…out of the current user's read scope…"
    /// (<https://github.com/MicrosoftDocs/OfficeDocs-O365ITPro/issues/780>); see
    /// `exchange::inbox_rule_read_scope`.
    pub global_reader_reads_inbox_rules: bool,
    /// Status reads of an audit log query before it is `succeeded` (`audit_query`).
    pub audit_query_polls_to_succeed: u32,
    /// The audit log query ends `failed` instead.
    pub audit_query_fails: bool,
    /// Status reads of an audit log query answered 429 (`Retry-After: 1`) first.
    pub audit_query_throttled_polls: u32,
    /// `false`: the tenant has no audit log search (creating a query answers "not licensed").
    pub audit_log_licensed: bool,
    /// "Today" of Get-MessageTraceV2's 90 days (RFC 3339): the contoso story's present.
    pub message_trace_today: String,
    /// Exchange `$batch` (`crate::exo_batch`) refused with this status (404, 405, 501…)
    /// for a tenant where the undocumented route is not there; `None` = served.
    pub exo_batch_refused: Option<u16>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            seed: 1,
            token_lifetime_secs: 3599,
            graph_page_size: 100,
            sign_in_activity_page_cap: 120,
            exo_page_size: 1000,
            exo_paging: ExoPaging::NextLink,
            exo_write_answer: ExoWriteAnswer::Value,
            exo_unblock_limit: None,
            exo_not_found_status: 404,
            exo_move_to_folder_format: FolderFormat::Path,
            fic_error_style: FicErrorStyle::Current,
            assertion_clock_skew_secs: 300,
            registration_is_admin_from_roles: true,
            global_reader_reads_inbox_rules: true,
            audit_query_polls_to_succeed: 2,
            audit_query_fails: false,
            audit_query_throttled_polls: 0,
            audit_log_licensed: true,
            message_trace_today: "2026-01-05T00:00:00Z".into(),
            exo_batch_refused: None,
        }
    }
}

/// Everything `spawn` needs.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    pub tenant: TenantState,
    pub app: AppRegistration,
    pub grants: Grants,
    pub licences: Licences,
    pub options: Options,
    pub faults: Faults,
}

impl EmulatorConfig {
    /// A config around a tenant: the contract's Contoso app with the demo secret, full
    /// grants, P1+P2, no certificate and no federated credential, no faults.
    pub fn new(tenant: TenantState) -> EmulatorConfig {
        EmulatorConfig {
            tenant,
            app: AppRegistration {
                client_id: CONTOSO_CLIENT_ID.into(),
                display_name: "Contoso M365 Guard".into(),
                service_principal_id: CONTOSO_SP_OBJECT_ID.into(),
                client_secret: Some(DEMO_CLIENT_SECRET.into()),
                secret_expired: false,
                certificate: None,
                federated_credentials: vec![],
            },
            grants: Grants::full(),
            licences: Licences { p1: true, p2: true },
            options: Options::default(),
            faults: Faults::default(),
        }
    }

    /// A config around a m365guard snapshot given as JSON (what `m365guard generate` writes
    /// or `m365guard::synthetic::generate` returns, serialised), e.g. a large synthetic
    /// tenant for a benchmark. The emulator reads it as a `Value`, so it does not depend on
    /// the m365guard crate.
    pub fn from_snapshot_value(snapshot: &serde_json::Value) -> Result<EmulatorConfig, String> {
        Ok(EmulatorConfig::new(TenantState::from_snapshot(
            snapshot,
            &[],
        )?))
    }

    /// `from_snapshot_value` of a snapshot file (`-` reads standard input).
    pub fn from_snapshot_file(path: &Path) -> Result<EmulatorConfig, ConfigError> {
        let value = read_snapshot(path)?;
        EmulatorConfig::from_snapshot_value(&value).map_err(|message| ConfigError::Snapshot {
            path: path.to_owned(),
            message,
        })
    }

    /// Loads a scenario TOML; relative paths inside it are relative to the TOML file.
    pub fn from_scenario_file(path: &Path) -> Result<EmulatorConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_owned(),
            source,
        })?;
        let scenario: Scenario = toml::from_str(&text).map_err(|e| ConfigError::Toml {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        let dir = path.parent().unwrap_or(Path::new("."));
        scenario.into_config(dir, path)
    }
}

/// Reads and parses a snapshot file as JSON; `-` is standard input (`m365guard generate …`
/// piped into the emulator binary).
fn read_snapshot(path: &Path) -> Result<serde_json::Value, ConfigError> {
    let io = |source| ConfigError::Io {
        path: path.to_owned(),
        source,
    };
    let text = if path == Path::new("-") {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text).map_err(io)?;
        text
    } else {
        std::fs::read_to_string(path).map_err(io)?
    };
    serde_json::from_str(&text).map_err(|e| ConfigError::Snapshot {
        path: path.to_owned(),
        message: e.to_string(),
    })
}

// ---- scenario TOML ----------------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Scenario {
    tenant: ScenarioTenant,
    app: ScenarioApp,
    grants: ScenarioGrants,
    #[serde(default = "default_licences")]
    licences: Licences,
    #[serde(default)]
    emulator: Options,
    #[serde(default)]
    faults: Faults,
}

fn default_licences() -> Licences {
    Licences { p1: true, p2: true }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioTenant {
    /// m365guard snapshot JSON, relative to the scenario file (a generated tenant is a
    /// snapshot written by `m365guard generate`).
    snapshot: String,
    tenant_id: Option<String>,
    display_name: Option<String>,
    #[serde(default)]
    unverified_domains: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioApp {
    client_id: String,
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    service_principal_id: Option<String>,
    client_secret: Option<String>,
    #[serde(default)]
    secret_expired: bool,
    /// PEM certificate path (relative to the scenario file).
    certificate: Option<String>,
    #[serde(default)]
    federated_credentials: Vec<ScenarioFic>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioFic {
    issuer: String,
    subject: String,
    audience: String,
    issuer_certificate: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioGrants {
    graph: Vec<String>,
    #[serde(default)]
    exchange_manage_as_app: bool,
    /// Role names (`Global Reader`) or template ids.
    #[serde(default)]
    directory_roles: Vec<String>,
}

impl Scenario {
    fn into_config(self, dir: &Path, file: &Path) -> Result<EmulatorConfig, ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            path: file.to_owned(),
            message,
        };
        let p = dir.join(&self.tenant.snapshot);
        let v = read_snapshot(&p)?;
        let mut tenant = TenantState::from_snapshot(&v, &self.tenant.unverified_domains)
            .map_err(|message| ConfigError::Snapshot { path: p, message })?;
        if let Some(id) = self.tenant.tenant_id {
            tenant.tenant_id = id;
        }
        if let Some(n) = self.tenant.display_name {
            tenant.display_name = n;
        }
        let read_cert = |rel: &str| -> Result<Certificate, ConfigError> {
            let p = dir.join(rel);
            let pem = std::fs::read_to_string(&p).map_err(|source| ConfigError::Io {
                path: p.clone(),
                source,
            })?;
            Certificate::from_pem(&pem).map_err(|message| ConfigError::Invalid { path: p, message })
        };
        let certificate = self.app.certificate.as_deref().map(read_cert).transpose()?;
        let mut feds = Vec::new();
        for f in self.app.federated_credentials {
            feds.push(FederatedCredential {
                issuer_certificate: f.issuer_certificate.as_deref().map(read_cert).transpose()?,
                issuer: f.issuer,
                subject: f.subject,
                audience: f.audience,
            });
        }
        let mut roles = Vec::new();
        for r in &self.grants.directory_roles {
            roles.push(
                role_ids::resolve(r)
                    .ok_or_else(|| invalid(format!("unknown directory role `{r}`")))?
                    .to_owned(),
            );
        }
        Ok(EmulatorConfig {
            tenant,
            app: AppRegistration {
                client_id: self.app.client_id,
                display_name: self.app.display_name.unwrap_or_else(|| "M365 Guard".into()),
                service_principal_id: self
                    .app
                    .service_principal_id
                    .unwrap_or_else(|| CONTOSO_SP_OBJECT_ID.into()),
                client_secret: self.app.client_secret,
                secret_expired: self.app.secret_expired,
                certificate,
                federated_credentials: feds,
            },
            grants: Grants {
                graph: self.grants.graph,
                exchange_manage_as_app: self.grants.exchange_manage_as_app,
                directory_roles: roles,
            },
            licences: self.licences,
            options: self.emulator,
            faults: self.faults,
        })
    }
}
