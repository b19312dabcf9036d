//! `m365guard setup`: what to create so m365guard can sign in to a tenant — the app
//! registration, its service principal, the application permissions (Microsoft Graph and
//! Office 365 Exchange Online), the Entra directory roles and, for GitHub Actions, the
//! federated identity credential.
//!
//! What is needed is not defined here: [`Requirements::for_setup`] reads the one permission
//! table (`snapshot::source::SOURCES` for collection, `ActionKind::needs` for fixes,
//! `permission::INVESTIGATION` for `investigate` with `--with-investigation`) and
//! keeps the least-privileged permission of each requirement, dropping one another chosen
//! permission already covers. [`render`] prints it as an app manifest fragment, `az`
//! commands or Graph requests; [`apply`] does it through Graph after a device-code sign-in
//! ([`device_code`]) as an administrator.

pub mod app_roles;
pub mod apply;
pub mod device_code;
pub mod render;

use crate::fix::actions::ActionKind;
use crate::permission::{role, AnyOf, EXCHANGE_READ_ROLE, INVESTIGATION, MANAGE_AS_APP};
use crate::snapshot::source::SOURCES;

/// Collection only, or collection and fixes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    ReadOnly,
    WithFix,
}

/// A directory role the app's service principal needs, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleNeed {
    pub template_id: &'static str,
    pub name: &'static str,
    pub why: String,
}

/// Everything the app registration needs for a mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirements {
    pub mode: Mode,
    /// Also what `investigate` (and `respond --user`) reads: `setup --with-investigation`.
    pub investigation: bool,
    /// Microsoft Graph application permissions, least-privileged and without redundancy.
    pub graph: Vec<&'static str>,
    /// Office 365 Exchange Online application permissions (`Exchange.ManageAsApp`).
    pub exchange: Vec<&'static str>,
    pub roles: Vec<RoleNeed>,
}

impl Requirements {
    /// Read the permission table for `mode`, without the investigation reads.
    pub fn for_mode(mode: Mode) -> Requirements {
        Requirements::for_setup(mode, false)
    }

    /// Read the permission table for `mode`, and with `investigation` also for what
    /// `investigate` reads (sign-ins, directory audits, risk detections, the audit log
    /// query API, the message trace): opt-in, since collection and fixes need none of it.
    pub fn for_setup(mode: Mode, investigation: bool) -> Requirements {
        let mut needs: Vec<AnyOf> = Vec::new();
        let mut exchange = false;
        let mut roles: Vec<(&'static str, String)> = Vec::new();
        for def in SOURCES.iter() {
            needs.extend(def.needs.graph.iter().copied());
            if def.needs.exchange {
                exchange = true;
                if let Some(id) = role_id(EXCHANGE_READ_ROLE) {
                    push_role(&mut roles, id, "Exchange sources (read)".into());
                }
            }
        }
        if mode == Mode::WithFix {
            for kind in ActionKind::ALL {
                let n = kind.needs();
                needs.extend(n.graph.iter().copied());
                if let Some((graph, _)) = n.variant {
                    needs.extend(graph.iter().copied());
                }
                let action = kind.as_str();
                if let Some(first) = n.exchange_roles.and_then(|r| r.first()) {
                    exchange = true;
                    push_role(&mut roles, first, format!("{action} (Exchange cmdlets)"));
                }
                if let Some((ids, why)) = n.directory_role {
                    if let Some(first) = ids.first() {
                        push_role(&mut roles, first, format!("{action}: {why}"));
                    }
                }
                if let Some((ids, when)) = n.target_role {
                    if let Some(first) = ids.first() {
                        push_role(&mut roles, first, format!("{action} {when}"));
                    }
                }
            }
        }
        if investigation {
            for need in INVESTIGATION {
                needs.extend(need.graph.iter().copied());
                if let Some(ids) = need.exchange_roles {
                    exchange = true;
                    // A role already granted for another reason that serves the source is
                    // reused (with-fix's Exchange Administrator covers the message trace).
                    let held = ids.iter().find(|id| roles.iter().any(|(r, _)| r == *id));
                    if let Some(id) = held.or(ids.first()) {
                        push_role(&mut roles, id, format!("investigate: {}", need.source));
                    }
                }
            }
        }
        Requirements {
            mode,
            investigation,
            graph: least_covering(&needs),
            exchange: if exchange {
                vec![MANAGE_AS_APP]
            } else {
                vec![]
            },
            roles: roles
                .into_iter()
                .filter_map(|(id, why)| {
                    Some(RoleNeed {
                        template_id: id,
                        name: role::name(id)?,
                        why,
                    })
                })
                .collect(),
        }
    }
}

/// The template id of a built-in role m365guard knows by name.
fn role_id(name: &str) -> Option<&'static str> {
    role::NAMES
        .iter()
        .find(|(_, n)| *n == name)
        .map(|(id, _)| *id)
}

/// Add a role, or add `why` to the reasons of a role already there.
fn push_role(roles: &mut Vec<(&'static str, String)>, id: &'static str, why: String) {
    match roles.iter_mut().find(|(r, _)| *r == id) {
        Some((_, reasons)) if !reasons.contains(&why) => {
            reasons.push_str("; ");
            reasons.push_str(&why);
        }
        Some(_) => {}
        None => roles.push((id, why)),
    }
}

/// The least-privileged permission of each requirement, then without any permission whose
/// every requirement another chosen permission also satisfies (`RoleManagement.Read.Directory`
/// goes when `RoleManagement.ReadWrite.Directory` is needed anyway). Every requirement
/// stays satisfied: a permission is dropped only when nothing needs it.
fn least_covering(needs: &[AnyOf]) -> Vec<&'static str> {
    let mut chosen: Vec<&'static str> = Vec::new();
    for any in needs {
        if let Some(first) = any.first() {
            if !chosen.contains(first) {
                chosen.push(first);
            }
        }
    }
    let mut i = 0;
    while i < chosen.len() {
        let candidate = chosen[i];
        let others: Vec<&str> = chosen.iter().copied().filter(|p| *p != candidate).collect();
        let redundant = needs
            .iter()
            .all(|any| any.iter().any(|p| others.contains(p)) || !any.contains(&candidate));
        if redundant {
            chosen.remove(i);
        } else {
            i += 1;
        }
    }
    chosen
}

/// `--github OWNER/REPO[:REF]`: the GitHub Actions workload the federated credential trusts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GithubSubject {
    pub repository: String,
    /// The part after `repo:OWNER/REPO:` — `ref:refs/heads/main`, `environment:prod`.
    pub qualifier: String,
}

/// GitHub's OIDC issuer and the audience Entra expects
/// (<https://learn.microsoft.com/graph/api/resources/federatedidentitycredential>).
pub const GITHUB_ISSUER: &str = "https://token.actions.githubusercontent.com";
pub const FEDERATION_AUDIENCE: &str = crate::auth::FEDERATION_AUDIENCE;

#[derive(Debug, thiserror::Error)]
#[error("--github {value:?}: {reason} (expected OWNER/REPO, OWNER/REPO:BRANCH, OWNER/REPO:refs/tags/TAG or OWNER/REPO:environment:NAME)")]
pub struct GithubError {
    value: String,
    reason: &'static str,
}

impl GithubSubject {
    /// `OWNER/REPO` (branch main), `OWNER/REPO:BRANCH`, `OWNER/REPO:refs/…`,
    /// `OWNER/REPO:environment:NAME` or `OWNER/REPO:pull_request`.
    pub fn parse(value: &str) -> Result<GithubSubject, GithubError> {
        let err = |reason| GithubError {
            value: value.to_owned(),
            reason,
        };
        let (repository, reference) = value.split_once(':').unwrap_or((value, "main"));
        let (owner, repo) = repository
            .split_once('/')
            .ok_or_else(|| err("no OWNER/REPO"))?;
        let name_ok = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        };
        if !name_ok(owner) || !name_ok(repo) {
            return Err(err(
                "OWNER and REPO hold letters, digits, '-', '_' and '.' only",
            ));
        }
        let reference = reference.trim();
        if reference.is_empty() || reference.chars().any(|c| c.is_whitespace() || c == '"') {
            return Err(err("empty reference, or one with spaces or quotes"));
        }
        let qualifier = if let Some(env) = reference.strip_prefix("environment:") {
            format!("environment:{env}")
        } else if reference == "pull_request" {
            "pull_request".to_owned()
        } else if reference.starts_with("refs/") {
            format!("ref:{reference}")
        } else {
            format!("ref:refs/heads/{reference}")
        };
        Ok(GithubSubject {
            repository: repository.to_owned(),
            qualifier,
        })
    }

    /// The token's `sub`: `repo:OWNER/REPO:ref:refs/heads/main`.
    pub fn subject(&self) -> String {
        format!("repo:{}:{}", self.repository, self.qualifier)
    }

    /// The credential's name: letters, digits, '-' and '_' only, at most 120 characters
    /// (<https://learn.microsoft.com/graph/api/application-post-federatedidentitycredentials>).
    pub fn credential_name(&self) -> String {
        let raw = format!("github-{}-{}", self.repository, self.qualifier);
        let mut name: String = raw
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        name.truncate(120);
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::permission::{ROLE_READ, ROLE_WRITE, USER_READ};

    #[test]
    fn read_only_takes_the_least_privileged_permission_of_every_source() {
        let r = Requirements::for_mode(Mode::ReadOnly);
        for def in SOURCES.iter() {
            for any in def.needs.graph {
                assert!(
                    any.iter().any(|p| r.graph.contains(p)),
                    "{} needs one of {any:?}; setup grants {:?}",
                    def.id.as_str(),
                    r.graph
                );
            }
        }
        // consent_grants has no permission below Directory.Read.All (its page names none),
        // and Directory.Read.All covers User.Read.All, so the latter is not granted twice.
        assert!(r.graph.contains(&"Directory.Read.All"), "{:?}", r.graph);
        assert!(!r.graph.contains(&"User.Read.All"), "{:?}", r.graph);
        assert!(
            !r.graph.iter().any(|p| p.contains("ReadWrite")),
            "{:?}",
            r.graph
        );
        assert_eq!(r.exchange, vec![MANAGE_AS_APP]);
        let roles: Vec<&str> = r.roles.iter().map(|x| x.name).collect();
        assert_eq!(roles, vec![EXCHANGE_READ_ROLE]);
    }

    #[test]
    fn with_fix_covers_every_action_and_drops_what_a_write_permission_covers() {
        let r = Requirements::for_mode(Mode::WithFix);
        for kind in ActionKind::ALL {
            for any in kind.needs().graph {
                assert!(any.iter().any(|p| r.graph.contains(p)), "{}", kind.as_str());
            }
        }
        assert!(r.graph.contains(&"RoleManagement.ReadWrite.Directory"));
        assert!(
            !r.graph.contains(&"RoleManagement.Read.Directory"),
            "{:?}",
            r.graph
        );
        let roles: Vec<&str> = r.roles.iter().map(|x| x.template_id).collect();
        assert!(roles.contains(&role::USER_ADMINISTRATOR), "{roles:?}");
        assert!(roles.contains(&role::EXCHANGE_ADMINISTRATOR), "{roles:?}");
    }

    #[test]
    fn with_investigation_adds_the_investigation_reads_and_nothing_without_it() {
        for mode in [Mode::ReadOnly, Mode::WithFix] {
            let plain = Requirements::for_mode(mode);
            let r = Requirements::for_setup(mode, true);
            assert!(r.investigation && !plain.investigation);
            for need in INVESTIGATION {
                for any in need.graph {
                    assert!(any.iter().any(|p| r.graph.contains(p)), "{}", need.source);
                }
                if let Some(ids) = need.exchange_roles {
                    assert!(
                        r.roles.iter().any(|x| ids.contains(&x.template_id)),
                        "{}: {:?}",
                        need.source,
                        r.roles
                    );
                }
            }
            for p in ["IdentityRiskEvent.Read.All", "AuditLogsQuery.Read.All"] {
                assert!(r.graph.contains(&p), "{mode:?}: {:?}", r.graph);
                assert!(!plain.graph.contains(&p), "{mode:?}: {:?}", plain.graph);
            }
        }
        // Read-only: the message trace gets the role the table names first; with fixes,
        // Exchange Administrator (already granted for the fix actions) serves it instead.
        let ids =
            |r: &Requirements| -> Vec<&str> { r.roles.iter().map(|x| x.template_id).collect() };
        let read_only = Requirements::for_setup(Mode::ReadOnly, true);
        assert!(ids(&read_only).contains(&role::COMPLIANCE_ADMINISTRATOR));
        let with_fix = Requirements::for_setup(Mode::WithFix, true);
        assert!(!ids(&with_fix).contains(&role::COMPLIANCE_ADMINISTRATOR));
        let exchange_admin = with_fix
            .roles
            .iter()
            .find(|x| x.template_id == role::EXCHANGE_ADMINISTRATOR)
            .unwrap();
        assert!(exchange_admin.why.contains("investigate: messages_sent"));
    }

    #[test]
    fn a_permission_is_dropped_only_when_nothing_else_needs_it() {
        assert_eq!(
            least_covering(&[ROLE_READ, ROLE_WRITE]),
            vec!["RoleManagement.ReadWrite.Directory"]
        );
        assert_eq!(least_covering(&[USER_READ]), vec!["User.Read.All"]);
        assert!(least_covering(&[]).is_empty());
    }

    #[test]
    fn github_subjects_follow_the_token_format() {
        let s = |v: &str| GithubSubject::parse(v).map(|g| g.subject());
        assert_eq!(
            s("contoso/guard").unwrap(),
            "repo:contoso/guard:ref:refs/heads/main"
        );
        assert_eq!(
            s("contoso/guard:dev").unwrap(),
            "repo:contoso/guard:ref:refs/heads/dev"
        );
        assert_eq!(
            s("contoso/guard:environment:prod").unwrap(),
            "repo:contoso/guard:environment:prod"
        );
        assert_eq!(
            s("contoso/guard:refs/tags/v1").unwrap(),
            "repo:contoso/guard:ref:refs/tags/v1"
        );
        assert!(s("contoso").is_err());
        assert!(s("contoso/gu ard").is_err());
        assert!(s("contoso/guard:a\"b").is_err());
        let name = GithubSubject::parse("contoso/guard:environment:prod")
            .unwrap()
            .credential_name();
        assert_eq!(name, "github-contoso-guard-environment-prod");
    }
}
