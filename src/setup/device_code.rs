//! Signing in as an administrator for `setup --apply`: the OAuth 2.0 device authorization
//! grant (<https://learn.microsoft.com/entra/identity-platform/v2-oauth2-device-code>,
//! RFC 8628). `POST {authority}/{tenant}/oauth2/v2.0/devicecode` gives a user code and a
//! URL, whose message is shown on stderr; then `/token` is polled with
//! `grant_type=urn:ietf:params:oauth:grant-type:device_code` every `interval` seconds:
//! `authorization_pending` → poll again, `slow_down` → wait 5 s longer from now on
//! (RFC 8628 §3.5), `authorization_declined`, `expired_token`, `bad_verification_code` →
//! stop. The access token is delegated (the admin's own rights, limited to the scopes
//! asked for) and is never printed.

use std::time::Duration;

use serde::Deserialize;

use crate::auth::Secret;

/// The public client the admin signs in through: Microsoft Graph Command Line Tools (the
/// Microsoft Graph PowerShell SDK's app, present in every tenant; it may request any Graph
/// delegated scope). `--admin-client-id` names another public client.
pub const GRAPH_COMMAND_LINE_TOOLS: &str = "14d82eec-204b-4c2f-b7e8-296a70dab67e";

/// The delegated scopes `--apply` asks for: create the app and its service principal
/// (application-post-applications), grant app roles (serviceprincipal-post-approleassignments)
/// and assign directory roles (rbacapplication-post-roleassignments).
pub const ADMIN_SCOPES: [&str; 3] = [
    "https://graph.microsoft.com/Application.ReadWrite.All",
    "https://graph.microsoft.com/AppRoleAssignment.ReadWrite.All",
    "https://graph.microsoft.com/RoleManagement.ReadWrite.Directory",
];

const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:device_code";

#[derive(Debug, thiserror::Error)]
pub enum DeviceCodeError {
    #[error("device-code sign-in: cannot reach {endpoint}: {message}")]
    Transport { endpoint: String, message: String },
    #[error("device-code sign-in: {endpoint} answered HTTP {status}: {error}: {description}")]
    Refused {
        endpoint: String,
        status: u16,
        error: String,
        description: String,
    },
    #[error("device-code sign-in: unexpected answer from {endpoint}: {message}")]
    BadResponse { endpoint: String, message: String },
    #[error("device-code sign-in was declined by the user")]
    Declined,
    #[error("device-code sign-in expired before it was completed (the code is valid for {0} s): run setup --apply again")]
    Expired(u64),
    #[error("device-code sign-in: the device code was not recognised (bad_verification_code)")]
    BadCode,
}

/// The answer of `/devicecode` (the device code itself is a credential: kept secret).
#[derive(Deserialize)]
struct DeviceCodeAnswer {
    device_code: String,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    user_code: Option<String>,
    #[serde(default)]
    verification_uri: Option<String>,
    #[serde(default)]
    expires_in: Option<u64>,
    #[serde(default)]
    interval: Option<u64>,
}

#[derive(Deserialize)]
struct TokenAnswer {
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    error_description: Option<String>,
}

/// One poll of `/token`.
#[derive(Debug)]
pub enum Poll {
    Token(Secret),
    Pending,
    SlowDown,
    Declined,
    Expired,
    BadCode,
}

/// Where and as whom to sign in.
pub struct SignIn<'a> {
    pub agent: &'a ureq::Agent,
    /// The authority host without a trailing slash.
    pub authority: &'a str,
    /// Tenant id, verified domain or `organizations`.
    pub tenant: &'a str,
    pub client_id: &'a str,
}

impl SignIn<'_> {
    /// Sign in: `show` receives the message for the user (print it on stderr), `sleep`
    /// waits between polls (tests pass a fake).
    pub fn run(
        &self,
        show: &mut dyn FnMut(&str),
        sleep: &mut dyn FnMut(Duration),
    ) -> Result<Secret, DeviceCodeError> {
        let endpoint = format!("{}/{}/oauth2/v2.0/devicecode", self.authority, self.tenant);
        let scope = ADMIN_SCOPES.join(" ");
        let (status, body) = post_form(
            self.agent,
            &endpoint,
            &[("client_id", self.client_id), ("scope", &scope)],
        )?;
        if !(200..300).contains(&status) {
            return Err(refused(&endpoint, status, &body));
        }
        let answer: DeviceCodeAnswer =
            serde_json::from_str(&body).map_err(|e| DeviceCodeError::BadResponse {
                endpoint: endpoint.clone(),
                message: e.to_string(),
            })?;
        let message = answer.message.clone().unwrap_or_else(|| {
            format!(
                "To sign in, open {} and enter the code {}.",
                answer
                    .verification_uri
                    .as_deref()
                    .unwrap_or("the verification page"),
                answer.user_code.as_deref().unwrap_or("shown there")
            )
        });
        show(&message);
        let device_code = Secret::new(answer.device_code);
        // 15 minutes and 5 seconds are the documented defaults.
        let expires_in = answer.expires_in.unwrap_or(900).clamp(1, 3600);
        let interval = answer.interval.unwrap_or(5).clamp(1, 60);
        let token_endpoint = format!("{}/{}/oauth2/v2.0/token", self.authority, self.tenant);
        poll_until_done(interval, expires_in, sleep, &mut || {
            self.poll(&token_endpoint, &device_code)
        })
    }

    fn poll(&self, endpoint: &str, device_code: &Secret) -> Result<Poll, DeviceCodeError> {
        let (status, body) = post_form(
            self.agent,
            endpoint,
            &[
                ("grant_type", GRANT_TYPE),
                ("client_id", self.client_id),
                ("device_code", device_code.expose()),
            ],
        )?;
        let answer: TokenAnswer =
            serde_json::from_str(&body).map_err(|e| DeviceCodeError::BadResponse {
                endpoint: endpoint.to_owned(),
                message: format!("HTTP {status}: {e}"),
            })?;
        if (200..300).contains(&status) {
            return answer
                .access_token
                .map(|t| Poll::Token(Secret::new(t)))
                .ok_or_else(|| DeviceCodeError::BadResponse {
                    endpoint: endpoint.to_owned(),
                    message: "no access_token in the answer".into(),
                });
        }
        Ok(match answer.error.as_deref() {
            Some("authorization_pending") => Poll::Pending,
            Some("slow_down") => Poll::SlowDown,
            Some("authorization_declined") | Some("access_denied") => Poll::Declined,
            Some("expired_token") => Poll::Expired,
            Some("bad_verification_code") => Poll::BadCode,
            _ => {
                return Err(DeviceCodeError::Refused {
                    endpoint: endpoint.to_owned(),
                    status,
                    error: answer.error.unwrap_or_default(),
                    description: first_line(answer.error_description.as_deref()),
                })
            }
        })
    }
}

/// Poll every `interval` seconds (5 more after each `slow_down`) until a token, a final
/// error, or `expires_in` seconds of waiting.
pub fn poll_until_done(
    interval: u64,
    expires_in: u64,
    sleep: &mut dyn FnMut(Duration),
    poll: &mut dyn FnMut() -> Result<Poll, DeviceCodeError>,
) -> Result<Secret, DeviceCodeError> {
    let mut interval = interval.max(1);
    let mut waited = 0;
    loop {
        if waited >= expires_in {
            return Err(DeviceCodeError::Expired(expires_in));
        }
        sleep(Duration::from_secs(interval));
        waited += interval;
        match poll()? {
            Poll::Token(t) => return Ok(t),
            Poll::Pending => {}
            Poll::SlowDown => interval += 5,
            Poll::Declined => return Err(DeviceCodeError::Declined),
            Poll::Expired => return Err(DeviceCodeError::Expired(expires_in)),
            Poll::BadCode => return Err(DeviceCodeError::BadCode),
        }
    }
}

fn first_line(s: Option<&str>) -> String {
    s.unwrap_or_default()
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

fn refused(endpoint: &str, status: u16, body: &str) -> DeviceCodeError {
    let answer: Option<TokenAnswer> = serde_json::from_str(body).ok();
    DeviceCodeError::Refused {
        endpoint: endpoint.to_owned(),
        status,
        error: answer
            .as_ref()
            .and_then(|a| a.error.clone())
            .unwrap_or_default(),
        description: first_line(answer.as_ref().and_then(|a| a.error_description.as_deref())),
    }
}

/// POST a form; a transport failure is retried twice with back-off. No redirect is
/// followed (the agent's policy): a 3xx is an error like any other status.
fn post_form(
    agent: &ureq::Agent,
    endpoint: &str,
    form: &[(&str, &str)],
) -> Result<(u16, String), DeviceCodeError> {
    let mut last = String::new();
    for attempt in 0..3u32 {
        if attempt > 0 {
            std::thread::sleep(crate::http::backoff(attempt));
        }
        let sent = agent.post(endpoint).send_form(form.iter().copied());
        let mut resp = match sent {
            Ok(r) => r,
            Err(e) if crate::http::is_transient(&e) => {
                last = e.to_string();
                continue;
            }
            Err(e) => {
                return Err(DeviceCodeError::Transport {
                    endpoint: endpoint.to_owned(),
                    message: e.to_string(),
                })
            }
        };
        let status = resp.status().as_u16();
        match resp
            .body_mut()
            .with_config()
            .limit(1 << 20)
            .read_to_string()
        {
            Ok(body) if matches!(status, 429 | 503 | 504) => {
                last = format!("HTTP {status}: {}", body.len())
            }
            Ok(body) => return Ok((status, body)),
            Err(e) => last = e.to_string(),
        }
    }
    Err(DeviceCodeError::Transport {
        endpoint: endpoint.to_owned(),
        message: last,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(
        answers: Vec<Poll>,
        interval: u64,
        expires_in: u64,
    ) -> (Result<Secret, DeviceCodeError>, Vec<u64>) {
        let mut answers = answers.into_iter();
        let mut slept = Vec::new();
        let result = poll_until_done(
            interval,
            expires_in,
            &mut |d| slept.push(d.as_secs()),
            &mut || Ok(answers.next().unwrap_or(Poll::Pending)),
        );
        (result, slept)
    }

    #[test]
    fn pending_polls_again_at_the_interval_and_slow_down_adds_five_seconds() {
        let (r, slept) = run(
            vec![
                Poll::Pending,
                Poll::SlowDown,
                Poll::Pending,
                Poll::Token(Secret::new("t")),
            ],
            2,
            900,
        );
        assert_eq!(r.unwrap().expose(), "t");
        assert_eq!(slept, vec![2, 2, 7, 7]);
    }

    #[test]
    fn declined_expired_and_bad_code_stop_polling() {
        assert!(matches!(
            run(vec![Poll::Declined], 1, 900).0,
            Err(DeviceCodeError::Declined)
        ));
        assert!(matches!(
            run(vec![Poll::Pending, Poll::Expired], 1, 900).0,
            Err(DeviceCodeError::Expired(900))
        ));
        assert!(matches!(
            run(vec![Poll::BadCode], 1, 900).0,
            Err(DeviceCodeError::BadCode)
        ));
        // Never approved: stops after expires_in seconds of waiting, without the server's word.
        let (r, slept) = run(vec![], 5, 12);
        assert!(matches!(r, Err(DeviceCodeError::Expired(12))));
        assert_eq!(slept, vec![5, 5, 5]);
    }
}
