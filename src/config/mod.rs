//! `m365guard.toml`: the tenant, how to connect to it (`[connection]`: client id,
//! certificate, endpoints — never a secret), break-glass accounts, expiring exceptions
//! (waivers) and the partner domains mail may be forwarded to.
//!
//! Parsing is strict: unknown keys, wrong types, missing or empty `reason`, dates that are
//! not TOML dates and invalid globs are errors that point at file:line:col of the value.
//! Rule ids are checked separately (`Config::validate`) because only the caller knows which
//! rule packs are loaded. An expired exception is *not* an error: it stops applying and the
//! scan reports it as a warning, so an old waiver can never silently hide a finding.
//! Applying the config to a scan result lives in `apply`.

mod apply;
mod delegates;

use std::ops::Range;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use globset::{GlobBuilder, GlobMatcher};
use serde::Deserialize;
use toml::Spanned;

use crate::diagnostic::Diagnostic;
use crate::findings::Waiver;

pub use apply::{annotate, apply};
pub use delegates::{pattern_regex, AllowedDelegate};

/// The file looked for in the working directory when `--config` is not given.
pub const FILE_NAME: &str = "m365guard.toml";

/// Shown for break-glass exemptions when `[break_glass] reason` is not set.
pub const DEFAULT_BREAK_GLASS_REASON: &str =
    "Emergency access (break-glass) account listed in m365guard.toml; Microsoft recommends \
     excluding these from conditional access and protecting them with FIDO2 keys";

/// A parsed, structurally valid `m365guard.toml`.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where it was read from, with its text, so later validation can point at values.
    source: Option<(PathBuf, String)>,
    /// `[tenant] id`: the tenant live collection signs in to.
    pub tenant_id: Option<String>,
    /// `[connection]`: how live collection signs in (flags and environment override it).
    pub connection: Connection,
    pub break_glass: BreakGlass,
    /// Lower-case, sorted, without duplicates.
    allowed_forwarding_domains: Vec<String>,
    /// `[exchange] allowed_smart_hosts`: domains (subdomains included) and IP addresses
    /// outbound connectors may route through; lower-case, sorted, without duplicates.
    allowed_smart_hosts: Vec<String>,
    /// `[exchange] allowed_delegates`: expected mailbox delegations (patterns).
    allowed_delegates: Vec<AllowedDelegate>,
    /// `[exchange] executive_mailboxes`: lower-case patterns, sorted.
    executive_mailboxes: Vec<String>,
    /// `[roles] allowed_exchange_role_group_members`: lower-case patterns, sorted.
    allowed_role_group_members: Vec<String>,
    /// `[apps] known_malicious_app_ids`: app ids added to the built-in known-malicious
    /// list (lower-case, sorted, without duplicates).
    pub known_malicious_app_ids: Vec<String>,
    /// `[apps] max_secret_lifetime_days`: the longest client-secret lifetime the tenant's
    /// app management policy may allow (`None`: the rule's default, 365).
    pub max_secret_lifetime_days: Option<u32>,
    /// `[review] window_days`: how far before collection a change counts as recent.
    pub review_window_days: u32,
    /// `[identity] federation_issuers`: issuer URIs trusted for federated domains.
    pub federation_issuers: Vec<String>,
    /// In file order: the first exception that matches a finding waives it.
    pub exceptions: Vec<Exception>,
    /// `[investigate] bulk_external_recipients`: the `bulk_external_sending` threshold.
    pub bulk_external_recipients: u32,
}

/// `[connection]`: sign-in settings that are not secret. A client secret is refused in
/// the file (it belongs in AZURE_CLIENT_SECRET); the tenant is `[tenant] id`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Connection {
    pub client_id: Option<String>,
    /// PEM with certificate and private key, relative paths resolved against the
    /// directory of the config file (so the file works from any working directory).
    pub certificate: Option<PathBuf>,
    pub authority_host: Option<String>,
    pub graph_url: Option<String>,
    pub exchange_url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreakGlass {
    /// UPNs or object ids, as written.
    pub accounts: Vec<String>,
    pub reason: String,
}

/// One `[[exception]]`: accept the findings of `rule` on `resource` until `expires`.
#[derive(Debug, Clone)]
pub struct Exception {
    pub rule: String,
    /// Exact id, UPN or name, or a glob over them.
    pub resource: String,
    pub reason: String,
    /// Last day the exception applies (inclusive).
    pub expires: NaiveDate,
    pub ticket: Option<String>,
    /// 1-based line of the `[[exception]]` header, for messages.
    pub line: Option<usize>,
    rule_span: Range<usize>,
    matcher: ResourceMatcher,
}

#[derive(Debug, Clone)]
enum ResourceMatcher {
    /// Lower-cased; compared case-insensitively (UPNs and ids are case-insensitive in Entra).
    Exact(String),
    /// Also tried as an exact name first, so a literal name with `[` still matches itself.
    Glob { literal: String, glob: GlobMatcher },
}

impl ResourceMatcher {
    fn new(pattern: &str) -> Result<ResourceMatcher, globset::Error> {
        let literal = pattern.to_lowercase();
        if !pattern.contains(['*', '?', '[', '{']) {
            return Ok(ResourceMatcher::Exact(literal));
        }
        // `*` must cross `/`: inbox rule ids are `<mailbox id>/<rule id>`.
        let glob = GlobBuilder::new(pattern)
            .case_insensitive(true)
            .literal_separator(false)
            .build()?
            .compile_matcher();
        Ok(ResourceMatcher::Glob { literal, glob })
    }

    fn is_match(&self, candidate: &str) -> bool {
        match self {
            ResourceMatcher::Exact(want) => candidate.to_lowercase() == *want,
            ResourceMatcher::Glob { literal, glob } => {
                candidate.to_lowercase() == *literal || glob.is_match(candidate)
            }
        }
    }
}

impl Exception {
    /// Whether this exception's `resource` names any of a finding's identifiers.
    pub fn matches_resource<'a>(&self, mut candidates: impl Iterator<Item = &'a str>) -> bool {
        candidates.any(|c| self.matcher.is_match(c))
    }

    pub fn is_expired(&self, today: NaiveDate) -> bool {
        self.expires < today
    }

    pub fn waiver(&self) -> Waiver {
        Waiver {
            reason: self.reason.clone(),
            expires: self.expires,
            ticket: self.ticket.clone(),
        }
    }
}

impl Default for Config {
    fn default() -> Config {
        Config {
            source: None,
            tenant_id: None,
            connection: Connection::default(),
            break_glass: BreakGlass {
                accounts: Vec::new(),
                reason: DEFAULT_BREAK_GLASS_REASON.to_owned(),
            },
            allowed_forwarding_domains: Vec::new(),
            allowed_smart_hosts: Vec::new(),
            allowed_delegates: Vec::new(),
            executive_mailboxes: Vec::new(),
            allowed_role_group_members: Vec::new(),
            known_malicious_app_ids: Vec::new(),
            max_secret_lifetime_days: None,
            review_window_days: DEFAULT_REVIEW_WINDOW_DAYS,
            federation_issuers: Vec::new(),
            exceptions: Vec::new(),
            bulk_external_recipients: crate::investigate::DEFAULT_BULK_EXTERNAL_RECIPIENTS,
        }
    }
}

// The file as written. Everything the user may get wrong is `Option`/`Spanned` so the
// checks below can say precisely what is missing and where, instead of serde's generic
// "missing field".
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    tenant: RawTenant,
    #[serde(default)]
    connection: RawConnection,
    #[serde(default)]
    break_glass: RawBreakGlass,
    #[serde(default)]
    exchange: RawExchange,
    #[serde(default)]
    apps: RawApps,
    #[serde(default)]
    review: RawReview,
    #[serde(default)]
    identity: RawIdentity,
    #[serde(default)]
    roles: RawRoles,
    #[serde(default)]
    investigate: RawInvestigate,
    #[serde(default, rename = "exception")]
    exceptions: Vec<Spanned<RawException>>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReview {
    window_days: Option<Spanned<i64>>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInvestigate {
    bulk_external_recipients: Option<Spanned<i64>>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIdentity {
    #[serde(default)]
    federation_issuers: Vec<Spanned<String>>,
}

/// `[review] window_days` when the file does not set it.
pub const DEFAULT_REVIEW_WINDOW_DAYS: u32 = 30;

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTenant {
    id: Option<Spanned<String>>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConnection {
    client_id: Option<Spanned<String>>,
    certificate: Option<Spanned<String>>,
    authority_host: Option<Spanned<String>>,
    graph_url: Option<Spanned<String>>,
    exchange_url: Option<Spanned<String>>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBreakGlass {
    #[serde(default)]
    accounts: Vec<Spanned<String>>,
    reason: Option<Spanned<String>>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExchange {
    #[serde(default)]
    allowed_forwarding_domains: Vec<Spanned<String>>,
    #[serde(default)]
    allowed_smart_hosts: Vec<Spanned<String>>,
    #[serde(default)]
    allowed_delegates: Vec<Spanned<delegates::RawAllowedDelegate>>,
    #[serde(default)]
    executive_mailboxes: Vec<Spanned<String>>,
}

/// `[roles] allowed_exchange_role_group_members`: members of the privileged Exchange role
/// groups that are expected (UPN or Exchange-name patterns, as `allowed_delegates`).
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoles {
    #[serde(default)]
    allowed_exchange_role_group_members: Vec<Spanned<String>>,
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApps {
    #[serde(default)]
    known_malicious_app_ids: Vec<Spanned<String>>,
    max_secret_lifetime_days: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawException {
    rule: Option<Spanned<String>>,
    resource: Option<Spanned<String>>,
    reason: Option<Spanned<String>>,
    expires: Option<Spanned<toml::Value>>,
    ticket: Option<Spanned<String>>,
}

/// Builds diagnostics against one file's text.
struct Locator<'a> {
    path: &'a Path,
    text: &'a str,
}

impl Locator<'_> {
    fn at(&self, span: Range<usize>, message: impl Into<String>) -> Diagnostic {
        Diagnostic::from_span(self.path, self.text, Some(span), message)
    }

    /// A non-blank string, trimmed; `what` names the key in the message.
    fn required_text(&self, value: &Spanned<String>, what: &str) -> Result<String, Diagnostic> {
        let trimmed = value.get_ref().trim();
        if trimmed.is_empty() {
            return Err(self.at(value.span(), format!("`{what}` must not be empty")));
        }
        Ok(trimmed.to_owned())
    }
}

impl Config {
    /// Parse `text` (read from `path`, which is only used in messages).
    pub fn parse(path: &Path, text: &str) -> Result<Config, Diagnostic> {
        // Diagnostic::at hides the value of any secret-looking key on the caret line and in
        // the message; a diagnostic without a line only needs its message cleaned.
        let raw: RawConfig = toml::from_str(text).map_err(|err| {
            let mut diagnostic = refused_key(path, text, &err).unwrap_or_else(|| {
                Diagnostic::from_span(path, text, err.span(), toml_message(&err, text))
            });
            diagnostic.message =
                crate::diagnostic::redact_message(text, std::mem::take(&mut diagnostic.message));
            diagnostic
        })?;
        let loc = Locator { path, text };

        let tenant_id = match &raw.tenant.id {
            Some(id) => Some(loc.required_text(id, "tenant.id")?),
            None => None,
        };

        let connection = parse_connection(&loc, &raw.connection)?;

        let mut accounts = Vec::new();
        for account in &raw.break_glass.accounts {
            let value = loc.required_text(account, "break_glass.accounts")?;
            if value.contains(char::is_whitespace) {
                return Err(loc.at(
                    account.span(),
                    "a break-glass account is a UPN or an object id and cannot contain spaces",
                ));
            }
            accounts.push(value);
        }
        let reason = match &raw.break_glass.reason {
            Some(reason) => loc.required_text(reason, "break_glass.reason")?,
            None => DEFAULT_BREAK_GLASS_REASON.to_owned(),
        };

        let mut domains = Vec::new();
        for domain in &raw.exchange.allowed_forwarding_domains {
            domains.push(parse_domain(&loc, domain)?);
        }
        domains.sort();
        domains.dedup();
        let mut smart_hosts = Vec::new();
        for host in &raw.exchange.allowed_smart_hosts {
            smart_hosts.push(parse_smart_host(&loc, host)?);
        }
        smart_hosts.sort();
        smart_hosts.dedup();
        let allowed_delegates = delegates::parse_allowed(&loc, &raw.exchange.allowed_delegates)?;
        let executive_mailboxes =
            delegates::parse_executives(&loc, &raw.exchange.executive_mailboxes)?;
        let mut allowed_role_group_members = raw
            .roles
            .allowed_exchange_role_group_members
            .iter()
            // Exchange names have spaces ("Lena Fischer"), so unlike address patterns
            // these may contain them.
            .map(|v| {
                loc.required_text(v, "roles.allowed_exchange_role_group_members")
                    .map(|t| t.to_lowercase())
            })
            .collect::<Result<Vec<_>, _>>()?;
        allowed_role_group_members.sort();
        allowed_role_group_members.dedup();

        let mut app_ids = Vec::new();
        for id in &raw.apps.known_malicious_app_ids {
            let value = loc.required_text(id, "apps.known_malicious_app_ids")?;
            if !value.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
                return Err(loc.at(
                    id.span(),
                    "an application (client) id is a GUID such as 5d4c3b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1a",
                ));
            }
            app_ids.push(value.to_lowercase());
        }
        app_ids.sort();
        app_ids.dedup();
        let max_secret_lifetime_days = match &raw.apps.max_secret_lifetime_days {
            Some(days) if (1..=3650).contains(days.get_ref()) => Some(*days.get_ref() as u32),
            Some(days) => {
                return Err(loc.at(
                    days.span(),
                    "`apps.max_secret_lifetime_days` must be a number of days from 1 to 3650",
                ))
            }
            None => None,
        };

        let review_window_days = match &raw.review.window_days {
            Some(days) if (1..=3650).contains(days.get_ref()) => *days.get_ref() as u32,
            Some(days) => {
                return Err(loc.at(
                    days.span(),
                    "`review.window_days` must be a number of days from 1 to 3650",
                ))
            }
            None => DEFAULT_REVIEW_WINDOW_DAYS,
        };
        let mut federation_issuers = Vec::new();
        for issuer in &raw.identity.federation_issuers {
            federation_issuers.push(loc.required_text(issuer, "identity.federation_issuers")?);
        }

        let bulk_external_recipients = match &raw.investigate.bulk_external_recipients {
            Some(n) if (1..=100_000).contains(n.get_ref()) => *n.get_ref() as u32,
            Some(n) => {
                return Err(loc.at(
                    n.span(),
                    "`investigate.bulk_external_recipients` must be a number of recipients from 1 to 100000",
                ))
            }
            None => crate::investigate::DEFAULT_BULK_EXTERNAL_RECIPIENTS,
        };
        let mut exceptions = Vec::new();
        for (index, raw_exception) in raw.exceptions.iter().enumerate() {
            exceptions.push(parse_exception(&loc, index + 1, raw_exception)?);
        }

        Ok(Config {
            source: Some((path.to_owned(), text.to_owned())),
            tenant_id,
            connection,
            break_glass: BreakGlass { accounts, reason },
            allowed_forwarding_domains: domains,
            allowed_smart_hosts: smart_hosts,
            allowed_delegates,
            executive_mailboxes,
            allowed_role_group_members,
            known_malicious_app_ids: app_ids,
            max_secret_lifetime_days,
            review_window_days,
            federation_issuers,
            exceptions,
            bulk_external_recipients,
        })
    }

    /// Read and parse `path`.
    pub fn load(path: &Path) -> Result<Config, Diagnostic> {
        let text = std::fs::read_to_string(path).map_err(|err| {
            let message = if err.kind() == std::io::ErrorKind::NotFound {
                "config file not found".to_owned()
            } else {
                format!("cannot read config file: {err}")
            };
            Diagnostic::whole_file(path, message)
        })?;
        Config::parse(path, &text)
    }

    /// The config to use: `--config PATH` if given (it must exist), else `m365guard.toml`
    /// in `cwd` if there is one, else none.
    pub fn discover(
        explicit: Option<&Path>,
        cwd: &Path,
    ) -> Result<Option<(PathBuf, Config)>, Diagnostic> {
        let path = match explicit {
            Some(path) => path.to_owned(),
            None => {
                let candidate = cwd.join(FILE_NAME);
                if !candidate.is_file() {
                    return Ok(None);
                }
                candidate
            }
        };
        let config = Config::load(&path)?;
        Ok(Some((path, config)))
    }

    /// `sha256:<hex>` of the file's bytes (what `sha256sum` prints), if read from a file:
    /// plans record it, and `fix apply` compares it (see `fix::plan::PlanConfig`).
    pub fn digest(&self) -> Option<String> {
        use sha2::{Digest, Sha256};
        let (_, text) = self.source.as_ref()?;
        Some(format!("sha256:{:x}", Sha256::digest(text.as_bytes())))
    }

    /// The file this config was read from, if any.
    pub fn path(&self) -> Option<&Path> {
        self.source.as_ref().map(|(path, _)| path.as_path())
    }

    /// Check that every exception names a rule that exists; the error points at the first
    /// unknown `rule` value and suggests the closest known id.
    pub fn validate(&self, known_rule_ids: &[&str]) -> Result<(), Diagnostic> {
        for exception in &self.exceptions {
            if known_rule_ids.contains(&exception.rule.as_str()) {
                continue;
            }
            let mut message = format!("unknown rule id `{}` in exception", exception.rule);
            if let Some(close) = closest(&exception.rule, known_rule_ids) {
                message.push_str(&format!("; did you mean `{close}`?"));
            } else {
                message.push_str(" (`m365guard rules list` shows the ids)");
            }
            return Err(match &self.source {
                Some((path, text)) => {
                    Diagnostic::from_span(path, text, Some(exception.rule_span.clone()), message)
                }
                None => Diagnostic::whole_file(Path::new(FILE_NAME), message),
            });
        }
        Ok(())
    }

    /// Partner domains forwarding may target, lower-case; passed to Rego as
    /// `data.m365guard.config.allowed_forwarding_domains`.
    pub fn allowed_forwarding_domains(&self) -> &[String] {
        &self.allowed_forwarding_domains
    }

    /// Smart hosts (domains or IP addresses) outbound connectors may use, lower-case;
    /// passed to Rego as `data.m365guard.config.allowed_smart_hosts`.
    pub fn allowed_smart_hosts(&self) -> &[String] {
        &self.allowed_smart_hosts
    }

    /// Expected mailbox delegations; passed to Rego as
    /// `data.m365guard.config.allowed_delegates` (`{mailbox, delegate}` regexes).
    pub fn allowed_delegates(&self) -> &[AllowedDelegate] {
        &self.allowed_delegates
    }

    /// Mailboxes treated like a privileged user's; passed to Rego as
    /// `data.m365guard.config.executive_mailboxes` (regexes).
    pub fn executive_mailboxes(&self) -> &[String] {
        &self.executive_mailboxes
    }

    /// Expected members of the privileged Exchange role groups; passed to Rego as
    /// `data.m365guard.config.allowed_exchange_role_group_members` (regexes).
    pub fn allowed_role_group_members(&self) -> &[String] {
        &self.allowed_role_group_members
    }
}

/// toml's message on one line, with a hint for the two shapes people get wrong: a single
/// `[exception]` table instead of `[[exception]]`, and a string where a list is expected.
fn toml_message(err: &toml::de::Error, text: &str) -> String {
    let mut message = err.message().trim_end().replace('\n', "; ");
    if message.ends_with("expected a sequence") {
        let at = err
            .span()
            .and_then(|span| text.get(span.start..))
            .unwrap_or_default();
        let single_table = at.strip_prefix('[').filter(|rest| !rest.starts_with('['));
        if single_table.is_some_and(|rest| rest.trim_start().starts_with("exception")) {
            message.push_str("; write `[[exception]]` (double brackets) once per exception");
        } else if at.starts_with('"') {
            message.push_str("; write a list, e.g. `[\"value\"]`");
        }
    }
    message
}

/// Keys people may try to put in `[connection]` that must not be there, explained instead
/// of serde's bare "unknown field": a client secret or anything named like one (anywhere
/// in the file; its value is never echoed) and the tenant (which is `[tenant] id`).
fn refused_key(path: &Path, text: &str, err: &toml::de::Error) -> Option<Diagnostic> {
    let message = err.message();
    let unknown_key = message
        .strip_prefix("unknown field `")
        .and_then(|rest| rest.split('`').next());
    if unknown_key.is_some_and(crate::diagnostic::is_secret_key) {
        let diagnostic = Diagnostic::from_span(
            path,
            text,
            err.span(),
            "a client secret must not be stored in m365guard.toml: set AZURE_CLIENT_SECRET in \
             the environment (from your CI secret store), or sign in with a certificate or \
             workload identity federation",
        );
        return Some(diagnostic);
    }
    let line_start = err
        .span()
        .and_then(|span| text.get(..span.start))
        .map(|before| before.rfind('\n').map_or(0, |i| i + 1));
    let in_connection = line_start.is_some_and(|start| {
        // The nearest table header above the key.
        text[..start]
            .lines()
            .rev()
            .find(|l| l.trim_start().starts_with('['))
            .is_some_and(|header| header.trim() == "[connection]")
    });
    if message.starts_with("unknown field `tenant`") && in_connection {
        return Some(Diagnostic::from_span(
            path,
            text,
            err.span(),
            "the tenant is not a `[connection]` key: set it in the `[tenant]` section as `id = \"...\"`",
        ));
    }
    None
}

fn parse_connection(loc: &Locator<'_>, raw: &RawConnection) -> Result<Connection, Diagnostic> {
    let text = |value: &Option<Spanned<String>>, what: &str| {
        value
            .as_ref()
            .map(|v| loc.required_text(v, what))
            .transpose()
    };
    let url = |value: &Option<Spanned<String>>, what: &'static str| {
        let Some(v) = value else { return Ok(None) };
        let url = loc.required_text(v, what)?;
        // Same rule as the flags: https, or http only to a loopback host.
        crate::auth::check_scheme(what, &url).map_err(|err| loc.at(v.span(), err.to_string()))?;
        Ok(Some(url))
    };
    let client_id = text(&raw.client_id, "connection.client_id")?;
    if let (Some(id), Some(v)) = (&client_id, &raw.client_id) {
        if !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
        {
            return Err(loc.at(
                v.span(),
                "`connection.client_id` is the app (client) id, a GUID",
            ));
        }
    }
    let certificate = text(&raw.certificate, "connection.certificate")?.map(|p| {
        let path = PathBuf::from(p);
        match loc.path.parent() {
            Some(dir) if path.is_relative() => dir.join(path),
            _ => path,
        }
    });
    Ok(Connection {
        client_id,
        certificate,
        authority_host: url(&raw.authority_host, "connection.authority_host")?,
        graph_url: url(&raw.graph_url, "connection.graph_url")?,
        exchange_url: url(&raw.exchange_url, "connection.exchange_url")?,
    })
}

fn parse_domain(loc: &Locator<'_>, value: &Spanned<String>) -> Result<String, Diagnostic> {
    let domain = loc
        .required_text(value, "exchange.allowed_forwarding_domains")?
        .trim_end_matches('.')
        .to_lowercase();
    let problem = if domain.contains('@') {
        Some("expected a domain such as `partner.example`, not an e-mail address")
    } else if domain.contains('*') {
        Some("wildcards are not supported: list the domain itself (its subdomains are included)")
    } else if domain.contains(|c: char| c.is_whitespace() || c == '/' || c == ':') {
        Some("expected a bare domain such as `partner.example` (no scheme, path or spaces)")
    } else if !domain.contains('.') {
        Some("expected a fully qualified domain such as `partner.example`")
    } else {
        None
    };
    match problem {
        Some(message) => Err(loc.at(value.span(), message)),
        None => Ok(domain),
    }
}

/// A smart host: an IP address as written, or a domain checked like a forwarding domain.
fn parse_smart_host(loc: &Locator<'_>, value: &Spanned<String>) -> Result<String, Diagnostic> {
    let text = loc.required_text(value, "exchange.allowed_smart_hosts")?;
    if let Ok(ip) = text.parse::<std::net::IpAddr>() {
        return Ok(ip.to_string());
    }
    let domain = parse_domain(loc, value)?;
    Ok(domain)
}

fn parse_exception(
    loc: &Locator<'_>,
    number: usize,
    raw: &Spanned<RawException>,
) -> Result<Exception, Diagnostic> {
    let entry = raw.get_ref();
    let missing = |key: &str, why: &str| {
        loc.at(
            raw.span(),
            format!("exception #{number} has no `{key}`: {why}"),
        )
    };
    let rule = entry
        .rule
        .as_ref()
        .ok_or_else(|| missing("rule", "name the rule id it waives"))?;
    let resource = entry.resource.as_ref().ok_or_else(|| {
        missing(
            "resource",
            "name the resource (id, UPN or name, or a glob such as `svc-*@contoso.com`)",
        )
    })?;
    let reason = entry.reason.as_ref().ok_or_else(|| {
        missing(
            "reason",
            "every exception must say why the risk is accepted",
        )
    })?;
    let expires = entry.expires.as_ref().ok_or_else(|| {
        missing(
            "expires",
            "every exception must expire (a TOML date such as `expires = 2027-03-31`)",
        )
    })?;

    let rule_id = loc.required_text(rule, "rule")?;
    let resource_text = loc.required_text(resource, "resource")?;
    let matcher = ResourceMatcher::new(&resource_text).map_err(|err| {
        loc.at(
            resource.span(),
            format!("invalid glob in `resource`: {}", glob_problem(&err)),
        )
    })?;
    let ticket = match &entry.ticket {
        Some(ticket) => Some(loc.required_text(ticket, "ticket")?),
        None => None,
    };
    Ok(Exception {
        rule: rule_id,
        resource: resource_text,
        reason: loc.required_text(reason, "reason")?,
        expires: parse_date(loc, expires)?,
        ticket,
        line: Some(crate::diagnostic::line_column(loc.text, raw.span().start).0),
        rule_span: rule.span(),
        matcher,
    })
}

/// globset's error text includes the whole pattern; the caret already shows it.
fn glob_problem(err: &globset::Error) -> String {
    err.kind().to_string()
}

fn parse_date(loc: &Locator<'_>, value: &Spanned<toml::Value>) -> Result<NaiveDate, Diagnostic> {
    let message = match value.get_ref() {
        toml::Value::Datetime(dt) => match (dt.date, dt.time) {
            (Some(date), None) => {
                return NaiveDate::from_ymd_opt(
                    i32::from(date.year),
                    u32::from(date.month),
                    u32::from(date.day),
                )
                .ok_or_else(|| loc.at(value.span(), format!("`expires` is not a valid date: {dt}")));
            }
            _ => format!(
                "`expires` must be a date without a time (e.g. `expires = 2027-03-31`), found `{dt}`"
            ),
        },
        toml::Value::String(s) => format!(
            "`expires` must be a TOML date, not a string: write `expires = {}` without quotes",
            if s.trim().is_empty() { "2027-03-31" } else { s.trim() }
        ),
        other => format!(
            "`expires` must be a TOML date such as `2027-03-31`, found {}",
            other.type_str()
        ),
    };
    Err(loc.at(value.span(), message))
}

/// The known id closest to `id` by edit distance, if it is plausibly a typo.
fn closest<'a>(id: &str, known: &[&'a str]) -> Option<&'a str> {
    let limit = (id.chars().count() / 3).max(2);
    known
        .iter()
        .map(|k| (edit_distance(id, k), *k))
        .filter(|(d, _)| *d <= limit)
        .min()
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, Diagnostic> {
        Config::parse(Path::new("m365guard.toml"), text)
    }

    const FULL: &str = r#"[tenant]
id = "7c1d2e3f-0000-4000-8000-000000000001"

[break_glass]
accounts = ["breakglass01@contoso.onmicrosoft.com", "6f1c0000-0000-4000-8000-00000000bg02"]

[exchange]
allowed_forwarding_domains = ["Partner.Example", "fabrikam.example.", "partner.example"]

[[exception]]
rule = "user_without_mfa"
resource = "svc-*@contoso.com"
reason = "Service account, MFA via workload identity"
expires = 2027-03-31
ticket = "SEC-1234"
"#;

    #[test]
    fn review_window_and_federation_issuers_parse_with_defaults() {
        let config = parse("").unwrap();
        assert_eq!(config.review_window_days, DEFAULT_REVIEW_WINDOW_DAYS);
        assert!(config.federation_issuers.is_empty());
        let config = parse(
            "[review]\nwindow_days = 14\n\n[identity]\nfederation_issuers = [\" http://sts.contoso.com/adfs/services/trust \"]\n",
        )
        .unwrap();
        assert_eq!(config.review_window_days, 14);
        assert_eq!(
            config.federation_issuers,
            ["http://sts.contoso.com/adfs/services/trust"]
        );
        let err = parse("[review]\nwindow_days = 0\n").unwrap_err();
        assert!(err.to_string().contains("window_days"), "{err}");
        assert!(parse("[identity]\nfederation_issuers = [\"  \"]\n").is_err());
        assert!(parse("[review]\nwindow = 3\n").is_err());
    }

    #[test]
    fn investigate_bulk_threshold_parses_with_a_default_and_points_at_bad_values() {
        let config = parse("").unwrap();
        assert_eq!(
            config.bulk_external_recipients,
            crate::investigate::DEFAULT_BULK_EXTERNAL_RECIPIENTS
        );
        let config = parse("[investigate]\nbulk_external_recipients = 20\n").unwrap();
        assert_eq!(config.bulk_external_recipients, 20);
        let err = parse("[investigate]\nbulk_external_recipients = 0\n").unwrap_err();
        assert!(err.to_string().contains(":2:"), "{err}");
        assert!(
            err.to_string().contains("bulk_external_recipients"),
            "{err}"
        );
        assert!(parse("[investigate]\nthreshold = 3\n").is_err());
    }

    #[test]
    fn full_example_parses() {
        let config = parse(FULL).unwrap();
        assert_eq!(
            config.tenant_id.as_deref(),
            Some("7c1d2e3f-0000-4000-8000-000000000001")
        );
        assert_eq!(config.break_glass.accounts.len(), 2);
        assert_eq!(config.break_glass.reason, DEFAULT_BREAK_GLASS_REASON);
        assert_eq!(
            config.allowed_forwarding_domains(),
            ["fabrikam.example", "partner.example"]
        );
        let ex = &config.exceptions[0];
        assert_eq!(ex.expires, NaiveDate::from_ymd_opt(2027, 3, 31).unwrap());
        assert_eq!(ex.ticket.as_deref(), Some("SEC-1234"));
        assert_eq!(ex.line, Some(10));
        assert!(config.validate(&["user_without_mfa"]).is_ok());
    }

    #[test]
    fn allowed_smart_hosts_take_domains_and_ip_addresses() {
        let config = parse(
            "[exchange]\nallowed_smart_hosts = [\"SMTP.Fabrikam.example.\", \"203.0.113.10\", \"2001:db8::25\"]\n",
        )
        .unwrap();
        assert_eq!(
            config.allowed_smart_hosts(),
            ["2001:db8::25", "203.0.113.10", "smtp.fabrikam.example"]
        );
        let err =
            parse("[exchange]\nallowed_smart_hosts = [\"https://relay.example\"]\n").unwrap_err();
        assert!(err.message.contains("bare domain"), "{err}");
        assert_eq!(err.line, Some(2));
    }

    #[test]
    fn known_malicious_app_ids_are_lower_case_guids() {
        let config = parse(
            "[apps]\nknown_malicious_app_ids = [\"5D4C3B2A-1F0E-4D9C-8B7A-6F5E4D3C2B1A\", \" 5d4c3b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1a \"]\n",
        )
        .unwrap();
        assert_eq!(
            config.known_malicious_app_ids,
            ["5d4c3b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1a"]
        );
        let err = parse("[apps]\nknown_malicious_app_ids = [\"Mail Sync Pro\"]\n").unwrap_err();
        assert!(err.message.contains("is a GUID"), "{err}");
        assert_eq!((err.line, err.column), (Some(2), Some(28)));
    }

    #[test]
    fn max_secret_lifetime_days_is_a_day_count() {
        let config = parse("[apps]\nmax_secret_lifetime_days = 180\n").unwrap();
        assert_eq!(config.max_secret_lifetime_days, Some(180));
        assert_eq!(parse("").unwrap().max_secret_lifetime_days, None);
        let err = parse("[apps]\nmax_secret_lifetime_days = 0\n").unwrap_err();
        assert!(err.message.contains("from 1 to 3650"), "{err}");
        assert_eq!(err.line, Some(2));
    }

    #[test]
    fn empty_file_is_an_empty_config() {
        let config = parse("").unwrap();
        assert!(config.exceptions.is_empty());
        assert!(config.break_glass.accounts.is_empty());
        assert!(config.allowed_forwarding_domains().is_empty());
    }

    #[test]
    fn glob_matches_case_insensitively_and_across_slashes() {
        let m = ResourceMatcher::new("svc-*@Contoso.com").unwrap();
        assert!(m.is_match("SVC-backup@contoso.com"));
        assert!(!m.is_match("alice@contoso.com"));
        let m = ResourceMatcher::new("aaaa-1111/*").unwrap();
        assert!(m.is_match("AAAA-1111/rule/7"));
        let exact = ResourceMatcher::new("Alice@Contoso.com").unwrap();
        assert!(exact.is_match("alice@contoso.com"));
        assert!(!exact.is_match("alice@contoso.com.evil"));
    }

    #[test]
    fn literal_name_with_brackets_matches_itself() {
        let m = ResourceMatcher::new("[External] to partner").unwrap();
        assert!(m.is_match("[external] to partner"));
    }

    #[test]
    fn expiry_is_inclusive() {
        let ex = &parse(FULL).unwrap().exceptions[0];
        assert!(!ex.is_expired(NaiveDate::from_ymd_opt(2027, 3, 31).unwrap()));
        assert!(ex.is_expired(NaiveDate::from_ymd_opt(2027, 4, 1).unwrap()));
    }

    #[test]
    fn unknown_rule_suggests_the_closest_id() {
        let text = FULL.replace("\"user_without_mfa\"", "\"user_without_mf\"");
        let err = parse(&text)
            .unwrap()
            .validate(&["user_without_mfa", "admin_without_mfa"])
            .unwrap_err();
        assert_eq!((err.line, err.column), (Some(11), Some(8)));
        assert!(
            err.message.contains("did you mean `user_without_mfa`"),
            "{err}"
        );
    }

    #[test]
    fn edit_distance_counts_single_edits() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
        assert_eq!(closest("zzzzzzzz", &["user_without_mfa"]), None);
    }

    #[test]
    fn allowed_role_group_members_parse_lower_case_sorted_and_refuse_blanks() {
        let ok = Config::parse(
            Path::new("m.toml"),
            "[roles]\nallowed_exchange_role_group_members = [\"Exo-Admin@contoso.com\", \"a*@contoso.com\", \"exo-admin@contoso.com\", \"Lena Fischer\"]\n",
        )
        .unwrap();
        assert_eq!(
            ok.allowed_role_group_members(),
            ["a*@contoso.com", "exo-admin@contoso.com", "lena fischer"]
        );
        let err = Config::parse(
            Path::new("m.toml"),
            "[roles]\nallowed_exchange_role_group_members = [\"  \"]\n",
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("roles.allowed_exchange_role_group_members"),
            "{err}"
        );
        assert!(Config::parse(Path::new("m.toml"), "[roles]\nother = 1\n").is_err());
    }
}
