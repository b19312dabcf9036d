//! `m365guard.toml` error messages (snapshot-tested, so a change in wording or location is a
//! reviewed diff), discovery, and the shipped example.

use std::path::Path;

use m365guard::config::Config;
use m365guard::diagnostic::Diagnostic;

const KNOWN: &[&str] = &[
    "admin_without_mfa",
    "user_without_mfa",
    "privileged_role_permanent",
];

const VALID_EXCEPTION: &str = r#"[[exception]]
rule = "user_without_mfa"
resource = "svc-*@contoso.com"
reason = "Service account, MFA via workload identity"
expires = 2027-03-31
"#;

/// Parse and validate `text` as `m365guard.toml`; the error rendered as users see it.
fn error(text: &str) -> String {
    let result = Config::parse(Path::new("m365guard.toml"), text)
        .and_then(|config| config.validate(KNOWN).map(|()| config));
    match result {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(diagnostic) => diagnostic.to_string(),
    }
}

fn with_exception_line(from: &str, to: &str) -> String {
    assert!(VALID_EXCEPTION.contains(from), "{from}");
    VALID_EXCEPTION.replace(from, to)
}

#[test]
fn unknown_top_level_table() {
    insta::assert_snapshot!(
        "unknown_table",
        error("[breakglass]\naccounts = [\"bg@contoso.onmicrosoft.com\"]\n")
    );
}

#[test]
fn unknown_key_in_exception() {
    insta::assert_snapshot!(
        "unknown_key",
        error(&with_exception_line(
            "expires = 2027-03-31",
            "expiry = 2027-03-31"
        ))
    );
}

#[test]
fn impossible_date() {
    insta::assert_snapshot!(
        "bad_date",
        error(&with_exception_line("2027-03-31", "2027-02-30"))
    );
}

#[test]
fn date_written_as_a_string() {
    insta::assert_snapshot!(
        "date_as_string",
        error(&with_exception_line("2027-03-31", "\"2027-03-31\""))
    );
}

#[test]
fn date_with_a_time() {
    insta::assert_snapshot!(
        "date_with_time",
        error(&with_exception_line("2027-03-31", "2027-03-31T12:00:00Z"))
    );
}

#[test]
fn missing_reason() {
    insta::assert_snapshot!(
        "missing_reason",
        error(&with_exception_line(
            "reason = \"Service account, MFA via workload identity\"\n",
            ""
        ))
    );
}

#[test]
fn missing_expires() {
    insta::assert_snapshot!(
        "missing_expires",
        error(&format!(
            "[break_glass]\naccounts = [\"bg@contoso.onmicrosoft.com\"]\n\n{VALID_EXCEPTION}\n{}",
            with_exception_line("expires = 2027-03-31\n", "")
        ))
    );
}

#[test]
fn empty_reason() {
    insta::assert_snapshot!(
        "empty_reason",
        error(&with_exception_line(
            "\"Service account, MFA via workload identity\"",
            "\"  \""
        ))
    );
}

#[test]
fn unknown_rule_id() {
    insta::assert_snapshot!(
        "unknown_rule",
        error(&with_exception_line(
            "\"user_without_mfa\"",
            "\"users_without_mfa\""
        ))
    );
}

#[test]
fn unknown_rule_id_without_a_close_match() {
    insta::assert_snapshot!(
        "unknown_rule_no_suggestion",
        error(&with_exception_line(
            "\"user_without_mfa\"",
            "\"dkim_disabled\""
        ))
    );
}

#[test]
fn invalid_glob() {
    insta::assert_snapshot!(
        "invalid_glob",
        error(&with_exception_line(
            "svc-*@contoso.com",
            "svc-[*@contoso.com"
        ))
    );
}

#[test]
fn exception_written_as_a_single_table() {
    insta::assert_snapshot!(
        "single_exception_table",
        error(&VALID_EXCEPTION.replace("[[exception]]", "[exception]"))
    );
}

#[test]
fn forwarding_domain_written_as_an_address() {
    insta::assert_snapshot!(
        "domain_is_address",
        error("[exchange]\nallowed_forwarding_domains = [\"partner.example\", \"ap@partner.example\"]\n")
    );
}

#[test]
fn break_glass_accounts_not_a_list() {
    insta::assert_snapshot!(
        "accounts_not_a_list",
        error("[break_glass]\naccounts = \"bg@contoso.onmicrosoft.com\"\n")
    );
}

#[test]
fn toml_syntax_error() {
    insta::assert_snapshot!("syntax_error", error("[tenant]\nid = \"7c1d2e3f\n"));
}

// ---- [connection] ------------------------------------------------------------------------

#[test]
fn client_secret_in_the_file_is_refused_without_echoing_it() {
    let message =
        error("[connection]\nclient_id = \"abc\"\nclient_secret = \"Fake~Secret.Value_0123\"\n");
    assert!(!message.contains("Fake~Secret"), "{message}");
    insta::assert_snapshot!("connection_client_secret", message);
    // Not echoed from a syntax error on that line either.
    let message = error("[connection]\nclient_secret = \"Fake~Secret.Value_0123\n");
    assert!(!message.contains("Fake~Secret"), "{message}");
    assert!(message.starts_with("m365guard.toml:2:"), "{message}");
}

#[test]
fn tenant_in_connection_points_at_the_tenant_section() {
    insta::assert_snapshot!(
        "connection_tenant",
        error("[connection]\ntenant = \"contoso.onmicrosoft.com\"\n")
    );
}

#[test]
fn connection_url_must_be_https_unless_loopback() {
    insta::assert_snapshot!(
        "connection_insecure_url",
        error("[connection]\ngraph_url = \"http://graph.example.com\"\n")
    );
}

#[test]
fn unknown_key_in_connection() {
    insta::assert_snapshot!(
        "connection_unknown_key",
        error("[connection]\ncertificate_path = \"app.pem\"\n")
    );
}

#[test]
fn connection_settings_parse_and_the_certificate_is_relative_to_the_file() {
    let text = r#"[tenant]
id = "7c1d2e3f-4a5b-4c6d-8e7f-901a2b3c4d5e"

[connection]
client_id = "3f2a1b0c-9d8e-4f7a-b6c5-d4e3f2a1b0c9"
certificate = "certs/app.pem"
authority_host = "http://127.0.0.1:8080"
graph_url = "https://graph.microsoft.us"
exchange_url = "https://outlook.office365.us"
"#;
    let config = Config::parse(Path::new("/etc/m365guard/m365guard.toml"), text).unwrap();
    let c = &config.connection;
    assert_eq!(
        c.client_id.as_deref(),
        Some("3f2a1b0c-9d8e-4f7a-b6c5-d4e3f2a1b0c9")
    );
    assert_eq!(
        c.certificate.as_deref(),
        Some(Path::new("/etc/m365guard/certs/app.pem"))
    );
    assert_eq!(c.authority_host.as_deref(), Some("http://127.0.0.1:8080"));
    assert_eq!(c.graph_url.as_deref(), Some("https://graph.microsoft.us"));
    assert_eq!(
        c.exchange_url.as_deref(),
        Some("https://outlook.office365.us")
    );
    let absolute = text.replace("certs/app.pem", "/secure/app.pem");
    let config = Config::parse(Path::new("/etc/m365guard/m365guard.toml"), &absolute).unwrap();
    assert_eq!(
        config.connection.certificate.as_deref(),
        Some(Path::new("/secure/app.pem"))
    );
    // No [connection]: nothing set.
    let config = Config::parse(Path::new("m365guard.toml"), VALID_EXCEPTION).unwrap();
    assert_eq!(config.connection, Default::default());
}

#[test]
fn valid_exception_has_no_error() {
    let config = Config::parse(Path::new("m365guard.toml"), VALID_EXCEPTION).unwrap();
    config.validate(KNOWN).unwrap();
    assert_eq!(config.exceptions.len(), 1);
}

// ---- discovery -------------------------------------------------------------------------

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn explicit_config_wins_over_the_working_directory() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "m365guard.toml",
        "[tenant]\nid = \"from-cwd\"\n",
    );
    let explicit = write(dir.path(), "other.toml", "[tenant]\nid = \"explicit\"\n");
    let (path, config) = Config::discover(Some(&explicit), dir.path())
        .unwrap()
        .unwrap();
    assert_eq!(path, explicit);
    assert_eq!(config.tenant_id.as_deref(), Some("explicit"));
}

#[test]
fn config_in_the_working_directory_is_found() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "m365guard.toml",
        "[tenant]\nid = \"from-cwd\"\n",
    );
    let (path, config) = Config::discover(None, dir.path()).unwrap().unwrap();
    assert_eq!(path, dir.path().join("m365guard.toml"));
    assert_eq!(config.tenant_id.as_deref(), Some("from-cwd"));
}

#[test]
fn no_config_anywhere_is_none() {
    let dir = tempfile::tempdir().unwrap();
    assert!(Config::discover(None, dir.path()).unwrap().is_none());
}

#[test]
fn missing_explicit_config_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.toml");
    let err: Diagnostic = Config::discover(Some(&missing), dir.path()).unwrap_err();
    assert_eq!(err.path, missing);
    assert_eq!(err.message, "config file not found");
}

#[test]
fn errors_in_a_discovered_config_name_its_path() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "m365guard.toml", "[tenant]\nname = \"x\"\n");
    let err = Config::discover(None, dir.path()).unwrap_err();
    assert_eq!(err.path, dir.path().join("m365guard.toml"));
    assert_eq!((err.line, err.column), (Some(2), Some(1)));
}

// ---- the shipped example -----------------------------------------------------------------

#[test]
fn example_config_is_valid_for_the_builtin_pack() {
    use m365guard::policy::pack::{self, Builtin};
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/m365guard.toml");
    let config = Config::load(&path).unwrap();
    let pack = pack::load(&[], Builtin::All).unwrap();
    config.validate(&pack.rule_ids()).unwrap();
    assert_eq!(
        config.break_glass.accounts,
        ["breakglass01@contoso.onmicrosoft.com"]
    );
    assert!(!config.exceptions.is_empty());
}

// ---- issue 15 item 3: a secret is never echoed ---------------------------------------------

const FAKE_SECRET: &str = "Fake~Secret.Value_0123";

/// Every way a client secret (or something named like one) can end up in the file: quoted
/// keys, dotted keys, inline tables, multi-line strings and arrays with syntax errors,
/// look-alike names. The error must point into the file and never show the value.
#[test]
fn no_error_path_echoes_a_secret_value() {
    let v = FAKE_SECRET;
    let cases = [
        format!("[connection]\n\"client_secret\" = \"{v}\"\n"),
        format!("[connection]\n'client_secret' = \"{v}\"\n"),
        format!("connection.client_secret = \"{v}\"\n"),
        format!("connection = {{ client_id = \"abc\", client_secret = \"{v}\" }}\n"),
        format!("[connection]\nclient_secret = \"{v}\n"),
        format!("[connection]\nclient_secret = \"\"\"{v}\nmore {v}\n"),
        format!("[connection]\nclient_secret = \"\"\"\n{v}\n"),
        format!("[connection]\nclient_secret = [\n  \"{v}\",\n"),
        format!("[connection]\nclient_secret = {v}\n"),
        format!("secret = \"{v}\"\n"),
        format!("[connection]\nclientSecret = \"{v}\"\n"),
        format!("[connection]\nclient-secret = \"{v}\"\n"),
        format!("[connection]\nCLIENT_SECRET = \"{v}\"\n"),
        format!("AZURE_CLIENT_SECRET = \"{v}\"\n"),
        format!("[tenant]\nid = \"x\"\npassword = '{v}'\n"),
        format!("[connection]\nclient_id = \"abc\"\n\"client_secret\" = 5 \"{v}\"\n"),
    ];
    for text in &cases {
        let message = error(text);
        assert!(
            !message.contains("Fake~Secret") && !message.contains("Value_0123"),
            "the secret was echoed for\n{text}\n---\n{message}"
        );
        assert!(message.starts_with("m365guard.toml:"), "{message}");
    }
}

#[test]
fn look_alike_secret_keys_are_refused_like_client_secret() {
    let message = error(&format!(
        "connection = {{ client_id = \"abc\", clientSecret = \"{FAKE_SECRET}\" }}\n"
    ));
    assert!(!message.contains("Fake~Secret"), "{message}");
    insta::assert_snapshot!("connection_inline_secret", message);
    let message = error(&format!("AZURE_CLIENT_SECRET = \"{FAKE_SECRET}\"\n"));
    assert!(message.contains("AZURE_CLIENT_SECRET"), "{message}");
    insta::assert_snapshot!("top_level_azure_client_secret", message);
}
