//! Token endpoint, assertions, federation, audiences, expiry and permission gates.
mod common;

use common::*;
use m365guard_emulator::crypto::{sign_jwt, Certificate};
use m365guard_emulator::util::now_epoch;
use m365guard_emulator::{spawn, FicErrorStyle, Grants};
use serde_json::{json, Value};

fn assert_aadsts(r: &Resp, status: u16, error: &str, code: u64) {
    assert_eq!(r.status, status, "{}", r.text());
    let v = r.json();
    assert_eq!(v["error"], error);
    assert_eq!(
        v["error_codes"],
        json!([code]),
        "error_codes must be an int array"
    );
    assert!(v["error_description"]
        .as_str()
        .unwrap()
        .starts_with(&format!("AADSTS{code}: ")));
    let ts = v["timestamp"].as_str().unwrap();
    assert_eq!(ts.len(), 20, "{ts}");
    assert_eq!(&ts[10..11], " ", "timestamp uses a space: {ts}");
    assert!(ts.ends_with('Z'));
    // Same member set as the contract fixture.
    assert_eq!(
        keys(&v),
        keys(&fixture("token.error.invalid_client_secret.json"))
    );
    assert_eq!(
        v["error_uri"],
        format!("https://login.microsoftonline.com/error?code={code}")
    );
}

#[test]
fn client_secret_success_matches_fixture_shape_and_claims_decode() {
    let emu = start();
    let r = token_request(
        &emu,
        &[
            ("client_id", CLIENT_ID),
            ("scope", GRAPH_SCOPE),
            ("client_secret", SECRET),
            ("grant_type", "client_credentials"),
        ],
    );
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(keys(&v), keys(&fixture("token.success.graph.json")));
    assert!(v["expires_in"].is_u64() && v["ext_expires_in"].is_u64());
    let tok = v["access_token"].as_str().unwrap();
    let claims = m365guard_emulator::crypto::Jwt::decode(tok).unwrap().claims;
    assert_eq!(claims["aud"], "https://graph.microsoft.com");
    assert_eq!(claims["appidacr"], "1");
    assert_eq!(claims["tid"], TENANT);
    assert!(claims["roles"]
        .as_array()
        .unwrap()
        .contains(&json!("User.Read.All")));
    // The tenant may also be addressed by a verified domain.
    let by_domain = request(
        &format!("{}/contoso.onmicrosoft.com/oauth2/v2.0/token", emu.base_url),
        "POST",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        &form(&[
            ("client_id", CLIENT_ID),
            ("scope", EXO_SCOPE),
            ("client_secret", SECRET),
            ("grant_type", "client_credentials"),
        ]),
    )
    .unwrap();
    assert_eq!(by_domain.status, 200);
}

#[test]
fn token_error_cases_follow_the_fixtures() {
    let emu = start();
    let base = |extra: &[(&'static str, &'static str)]| {
        let mut p = vec![
            ("client_id", CLIENT_ID),
            ("grant_type", "client_credentials"),
        ];
        p.extend_from_slice(extra);
        p
    };
    assert_aadsts(
        &token_request(
            &emu,
            &base(&[("scope", GRAPH_SCOPE), ("client_secret", "wrong")]),
        ),
        401,
        "invalid_client",
        7000215,
    );
    assert_aadsts(
        &token_request(
            &emu,
            &base(&[("scope", "User.Read.All"), ("client_secret", SECRET)]),
        ),
        400,
        "invalid_scope",
        1002012,
    );
    assert_aadsts(
        &token_request(
            &emu,
            &base(&[
                (
                    "scope",
                    "https://graph.microsoft.com/.default https://outlook.office365.com/.default",
                ),
                ("client_secret", SECRET),
            ]),
        ),
        400,
        "invalid_scope",
        70011,
    );
    assert_aadsts(
        &token_request(&emu, &base(&[("scope", GRAPH_SCOPE)])),
        401,
        "invalid_client",
        7000218,
    );
    let r = token_request(
        &emu,
        &[
            ("client_id", "00000000-0000-4000-8000-000000000000"),
            ("grant_type", "client_credentials"),
            ("scope", GRAPH_SCOPE),
            ("client_secret", SECRET),
        ],
    );
    assert_aadsts(&r, 400, "unauthorized_client", 700016);
    let r = request(
        &format!("{}/nosuch.example/oauth2/v2.0/token", emu.base_url),
        "POST",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        &form(&base(&[("scope", GRAPH_SCOPE), ("client_secret", SECRET)])),
    )
    .unwrap();
    assert_aadsts(&r, 400, "invalid_request", 90002);
    // JSON instead of a form body: the parameters are not seen at all.
    let r = request(
        &emu.token_url(),
        "POST",
        &[("Content-Type", "application/json")],
        br#"{"grant_type":"client_credentials"}"#,
    )
    .unwrap();
    assert_aadsts(&r, 400, "invalid_request", 900144);

    let mut cfg = config();
    cfg.app.secret_expired = true;
    let emu2 = spawn(cfg).unwrap();
    assert_aadsts(
        &token_request(
            &emu2,
            &base(&[("scope", GRAPH_SCOPE), ("client_secret", SECRET)]),
        ),
        401,
        "invalid_client",
        7000222,
    );
}

fn assertion(alg: &str, thumb: (&str, String), key: &str, claims: Value) -> String {
    let header = json!({"typ": "JWT", thumb.0: thumb.1});
    sign_jwt(key, alg, &header, &claims).unwrap()
}

fn assertion_claims(aud: &str, jti: &str, nbf: u64) -> Value {
    json!({"aud": aud, "iss": CLIENT_ID, "sub": CLIENT_ID, "jti": jti, "nbf": nbf, "exp": nbf + 600, "iat": nbf})
}

fn with_assertion(emu: &m365guard_emulator::Emulator, scope: &str, a: &str) -> Resp {
    token_request(
        emu,
        &[
            ("scope", scope),
            ("client_id", CLIENT_ID),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", a),
            ("grant_type", "client_credentials"),
        ],
    )
}

#[test]
fn certificate_assertions_are_verified() {
    let emu = start();
    let cert = Certificate::from_pem(&testdata("test-app.cert.pem")).unwrap();
    let key = testdata("test-app.key.pem");
    let wrong_key = testdata("test-issuer.key.pem");
    let now = now_epoch();
    let aud = format!("https://login.microsoftonline.com/{TENANT}/oauth2/v2.0/token");

    // PS256 + x5t#S256 (MSAL today) for Exchange.
    let a = assertion(
        "PS256",
        ("x5t#S256", cert.x5t_sha256()),
        &key,
        assertion_claims(&aud, "jti-1", now),
    );
    let r = with_assertion(&emu, EXO_SCOPE, &a);
    assert_eq!(r.status, 200, "{}", r.text());
    let claims =
        m365guard_emulator::crypto::Jwt::decode(r.json()["access_token"].as_str().unwrap())
            .unwrap()
            .claims;
    assert_eq!(claims["appidacr"], "2");
    assert_eq!(claims["roles"], json!(["Exchange.ManageAsApp"]));

    // RS256 + x5t (legacy), audience on the emulator's own host.
    let aud_local = format!("{}/{TENANT}/oauth2/v2.0/token", emu.base_url);
    let a = assertion(
        "RS256",
        ("x5t", cert.x5t_sha1()),
        &key,
        assertion_claims(&aud_local, "jti-2", now),
    );
    assert_eq!(with_assertion(&emu, GRAPH_SCOPE, &a).status, 200);

    // Replay of the same jti.
    assert_eq!(with_assertion(&emu, GRAPH_SCOPE, &a).status, 401);

    // Signed with another key → 700027.
    let a = assertion(
        "PS256",
        ("x5t#S256", cert.x5t_sha256()),
        &wrong_key,
        assertion_claims(&aud, "jti-3", now),
    );
    assert_aadsts(
        &with_assertion(&emu, GRAPH_SCOPE, &a),
        401,
        "invalid_client",
        700027,
    );
    // Unknown thumbprint → 700027.
    let a = assertion(
        "PS256",
        (
            "x5t#S256",
            "A1bC2dE3fG4hI5jK6lM7nO8pQ9rS0tU1vW2xY3zA4bC".into(),
        ),
        &key,
        assertion_claims(&aud, "jti-4", now),
    );
    assert_aadsts(
        &with_assertion(&emu, GRAPH_SCOPE, &a),
        401,
        "invalid_client",
        700027,
    );
    // Expired → 700024 with the fixture's wording.
    let a = assertion(
        "PS256",
        ("x5t#S256", cert.x5t_sha256()),
        &key,
        assertion_claims(&aud, "jti-5", now - 7200),
    );
    let r = with_assertion(&emu, GRAPH_SCOPE, &a);
    assert_aadsts(&r, 401, "invalid_client", 700024);
    assert!(r.json()["error_description"]
        .as_str()
        .unwrap()
        .contains("Client assertion is not within its valid time range"));
    // Not yet valid.
    let a = assertion(
        "PS256",
        ("x5t#S256", cert.x5t_sha256()),
        &key,
        assertion_claims(&aud, "jti-6", now + 7200),
    );
    assert_aadsts(
        &with_assertion(&emu, GRAPH_SCOPE, &a),
        401,
        "invalid_client",
        700024,
    );
}

fn github_token(sub: &str, aud: &str) -> String {
    let now = now_epoch();
    let claims = json!({"iss": "https://token.actions.githubusercontent.com", "sub": sub, "aud": aud, "jti": "5d1a7c2e", "nbf": now, "iat": now, "exp": now + 300, "repository": "contoso-sec/m365-guard"});
    sign_jwt(
        &testdata("test-issuer.key.pem"),
        "RS256",
        &json!({"typ": "JWT", "kid": "gh"}),
        &claims,
    )
    .unwrap()
}

#[test]
fn federated_credentials_match_exactly_and_case_sensitively() {
    let emu = start();
    let good = github_token(
        "repo:contoso-sec/m365-guard:environment:prod",
        "api://AzureADTokenExchange",
    );
    assert_eq!(with_assertion(&emu, GRAPH_SCOPE, &good).status, 200);

    let cased = github_token(
        "repo:Contoso-Sec/m365-guard:environment:prod",
        "api://AzureADTokenExchange",
    );
    let r = with_assertion(&emu, GRAPH_SCOPE, &cased);
    assert_aadsts(&r, 401, "invalid_client", 700213);
    let d = r.json()["error_description"].as_str().unwrap().to_owned();
    assert!(
        d.contains("presented assertion subject 'repo:Contoso-Sec/m365-guard:environment:prod'"),
        "{d}"
    );
    assert!(!d.contains("\r\n"), "current form uses spaces");

    let wrong_aud = github_token(
        "repo:contoso-sec/m365-guard:environment:prod",
        "api://Other",
    );
    assert_aadsts(
        &with_assertion(&emu, GRAPH_SCOPE, &wrong_aud),
        401,
        "invalid_client",
        700213,
    );

    // Right claims, forged signature.
    let forged = format!("{}.ZmFrZS1zaWduYXR1cmU", good.rsplit_once('.').unwrap().0);
    assert_aadsts(
        &with_assertion(&emu, GRAPH_SCOPE, &forged),
        401,
        "invalid_client",
        700027,
    );

    let mut o = emu.options();
    o.fic_error_style = FicErrorStyle::Legacy;
    emu.set_options(o);
    let r = with_assertion(&emu, GRAPH_SCOPE, &cased);
    assert_aadsts(&r, 400, "invalid_request", 70021);
    assert!(r.json()["error_description"]
        .as_str()
        .unwrap()
        .contains("Assertion Audience: 'api://AzureADTokenExchange'"));
}

#[test]
fn audiences_are_not_interchangeable_and_expired_tokens_are_rejected() {
    let emu = start();
    let g = token(&emu, GRAPH_SCOPE);
    let x = token(&emu, EXO_SCOPE);
    let r = exo(&emu, &g, "Get-Mailbox", json!({"ResultSize": "Unlimited"}));
    assert_eq!(r.status, 401, "Graph token on InvokeCommand");
    let r = get(&emu, &x, "/v1.0/users");
    assert_eq!(r.status, 401, "Exchange token on Graph");
    assert_eq!(r.json()["error"]["code"], "InvalidAuthenticationToken");
    let r = request(&format!("{}/v1.0/users", emu.base_url), "GET", &[], b"").unwrap();
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["error"]["message"], "Access token is empty.");

    assert_eq!(get(&emu, &g, "/v1.0/users").status, 200);
    emu.expire_all_tokens();
    let r = get(&emu, &g, "/v1.0/users");
    assert_eq!(r.status, 401);
    let v = r.json();
    assert_eq!(v["error"]["code"], "InvalidAuthenticationToken");
    assert_eq!(
        v["error"]["message"],
        fixture("error.401.InvalidAuthenticationToken.json")["error"]["message"]
    );
    assert!(r.header("WWW-Authenticate").unwrap().starts_with("Bearer "));
    assert_eq!(exo(&emu, &x, "Get-Mailbox", json!({})).status, 401);

    // Short lifetimes: expires_in is what the scenario says.
    let mut o = emu.options();
    o.token_lifetime_secs = 1;
    emu.set_options(o);
    let r = token_request(
        &emu,
        &[
            ("client_id", CLIENT_ID),
            ("scope", GRAPH_SCOPE),
            ("client_secret", SECRET),
            ("grant_type", "client_credentials"),
        ],
    );
    assert_eq!(r.json()["expires_in"], 1);
    let t = r.json()["access_token"].as_str().unwrap().to_owned();
    std::thread::sleep(std::time::Duration::from_millis(2100));
    assert_eq!(get(&emu, &t, "/v1.0/users").status, 401);
}

#[test]
fn missing_permissions_give_the_documented_bodies() {
    let emu = start();
    let mut g = Grants::read_only();
    g.graph
        .retain(|p| p != "AuditLog.Read.All" && p != "MailboxSettings.Read");
    g.exchange_manage_as_app = true;
    g.directory_roles = vec![];
    emu.set_grants(g.clone());
    let tok = token(&emu, GRAPH_SCOPE);
    let r = get(&emu, &tok, "/v1.0/users?$select=id,signInActivity");
    assert_eq!(r.status, 403);
    let v = r.json();
    assert_eq!(
        keys(&v["error"]),
        keys(&fixture("error.403.Authorization_RequestDenied.json")["error"])
    );
    assert_eq!(v["error"]["code"], "Authorization_RequestDenied");
    assert_eq!(
        v["error"]["message"],
        "Insufficient privileges to complete the operation."
    );
    assert_eq!(
        get(
            &emu,
            &tok,
            &format!("/v1.0/users/{LENA}/mailFolders/inbox/messageRules")
        )
        .status,
        403
    );
    assert_eq!(
        graph(
            &emu,
            &tok,
            "PATCH",
            &format!("/v1.0/users/{LENA}"),
            Some(&json!({"accountEnabled": false}))
        )
        .status,
        403
    );

    // Exchange: app role without a directory role → 403 with NUL bytes.
    let x = token(&emu, EXO_SCOPE);
    let r = exo(&emu, &x, "Get-Mailbox", json!({}));
    assert_eq!(r.status, 403);
    assert!(
        !r.body.is_empty() && r.body.iter().all(|b| *b == 0),
        "NUL-byte body"
    );
    // Neither Exchange.ManageAsApp → 401.
    g.exchange_manage_as_app = false;
    emu.set_grants(g);
    let x = token(&emu, EXO_SCOPE);
    assert_eq!(exo(&emu, &x, "Get-Mailbox", json!({})).status, 401);
    // Read-only role cannot run writes.
    let mut g = Grants::read_only();
    g.directory_roles = vec![m365guard_emulator::state::role_ids::GLOBAL_READER.into()];
    emu.set_grants(g);
    let x = token(&emu, EXO_SCOPE);
    assert_eq!(exo(&emu, &x, "Get-Mailbox", json!({})).status, 200);
    let r = exo(
        &emu,
        &x,
        "Set-Mailbox",
        json!({"Identity": "lena.fischer@contoso.com", "ForwardingSmtpAddress": null}),
    );
    assert_eq!(r.status, 400);
    assert!(r.json()["error"]["innererror"]["internalexception"]["type"]
        .as_str()
        .unwrap()
        .contains("CommandNotFound"));
}

#[test]
fn licence_gates_fail_the_documented_way() {
    let emu = start();
    emu.set_licences(m365guard_emulator::Licences {
        p1: false,
        p2: false,
    });
    let t = token(&emu, GRAPH_SCOPE);
    let r = get(&emu, &t, "/v1.0/users?$select=id,signInActivity&$top=999");
    assert_eq!(r.status, 403);
    assert_eq!(
        r.json()["error"]["code"],
        fixture("error.403.nonpremium_signInActivity.json")["error"]["code"]
    );
    assert_eq!(
        get(&emu, &t, "/v1.0/users?$select=id,accountEnabled").status,
        200,
        "fallback without signInActivity works"
    );
    let r = get(
        &emu,
        &t,
        "/v1.0/roleManagement/directory/roleEligibilityScheduleInstances",
    );
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["error"]["message"],
        fixture("error.400.AadPremiumLicenseRequired.json")["error"]["message"]
    );
    assert_eq!(
        get(
            &emu,
            &t,
            "/v1.0/reports/authenticationMethods/userRegistrationDetails"
        )
        .status,
        403
    );
    assert_eq!(
        get(&emu, &t, "/v1.0/identity/conditionalAccess/policies").status,
        403
    );
    assert_eq!(
        get(&emu, &t, "/v1.0/identityProtection/riskyUsers").status,
        403
    );
    assert_eq!(
        get(
            &emu,
            &t,
            "/v1.0/policies/identitySecurityDefaultsEnforcementPolicy"
        )
        .status,
        200
    );
}
