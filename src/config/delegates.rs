//! `[exchange] allowed_delegates` and `[exchange] executive_mailboxes`: the mailbox
//! delegations an organisation expects (a team working from a shared mailbox) and the
//! mailboxes that, like a privileged user's, nobody but the owner should hold rights on.
//! Both reach the `mailbox_delegate_unexpected` rule as anchored, case-insensitive regular
//! expressions (`data.m365guard.config`), since Rego here has no glob matching.
//!
//! ```toml
//! [exchange]
//! allowed_delegates = [{ mailbox = "info@contoso.com", delegate = "*@contoso.com" }]
//! executive_mailboxes = ["ceo@contoso.com", "cfo@contoso.com"]
//! ```
//! Patterns are addresses/UPNs where `*` matches any run of characters and `?` one.

use serde::Deserialize;
use toml::Spanned;

use super::Locator;
use crate::diagnostic::Diagnostic;

/// One expected delegation: delegates matching `delegate` on mailboxes matching `mailbox`
/// (both lower-case patterns, as written).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedDelegate {
    pub mailbox: String,
    pub delegate: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAllowedDelegate {
    mailbox: Option<Spanned<String>>,
    delegate: Option<Spanned<String>>,
}

pub(super) fn parse_allowed(
    loc: &Locator<'_>,
    raw: &[Spanned<RawAllowedDelegate>],
) -> Result<Vec<AllowedDelegate>, Diagnostic> {
    let mut out = Vec::new();
    for entry in raw {
        let field = |v: &Option<Spanned<String>>, key: &str| {
            match v {
            Some(v) => pattern(loc, v, &format!("exchange.allowed_delegates.{key}")),
            None => Err(loc.at(
                entry.span(),
                format!(
                    "an allowed delegate needs `{key}` (a pattern such as `*@contoso.com`; `\"*\"` for any)"
                ),
            )),
        }
        };
        out.push(AllowedDelegate {
            mailbox: field(&entry.get_ref().mailbox, "mailbox")?,
            delegate: field(&entry.get_ref().delegate, "delegate")?,
        });
    }
    Ok(out)
}

pub(super) fn parse_executives(
    loc: &Locator<'_>,
    raw: &[Spanned<String>],
) -> Result<Vec<String>, Diagnostic> {
    let mut out: Vec<String> = raw
        .iter()
        .map(|v| pattern(loc, v, "exchange.executive_mailboxes"))
        .collect::<Result<_, _>>()?;
    out.sort();
    out.dedup();
    Ok(out)
}

fn pattern(loc: &Locator<'_>, value: &Spanned<String>, what: &str) -> Result<String, Diagnostic> {
    let text = loc.required_text(value, what)?.to_lowercase();
    if text.contains(char::is_whitespace) {
        return Err(loc.at(
            value.span(),
            format!(
                "`{what}` is an address pattern such as `*@contoso.com` and cannot contain spaces"
            ),
        ));
    }
    Ok(text)
}

/// An address pattern (`*` any run, `?` one character) as an anchored regular expression
/// matching lower-case text.
pub fn pattern_regex(pattern: &str) -> String {
    let mut re = String::from("^");
    for c in pattern.to_lowercase().chars() {
        match c {
            '*' => re.push_str(".*"),
            '?' => re.push('.'),
            '\\' | '.' | '+' | '(' | ')' | '|' | '[' | ']' | '{' | '}' | '^' | '$' | '#' | '&'
            | '-' | '~' => {
                re.push('\\');
                re.push(c);
            }
            c => re.push(c),
        }
    }
    re.push('$');
    re
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::config::Config;
    use std::path::Path;

    #[test]
    fn delegates_and_executives_parse_and_point_at_mistakes() {
        let ok = Config::parse(
            Path::new("m.toml"),
            "[exchange]\nallowed_delegates = [{ mailbox = \"Info@Contoso.com\", delegate = \"*@contoso.com\" }]\nexecutive_mailboxes = [\"cfo@contoso.com\", \"CFO@contoso.com\"]\n",
        )
        .unwrap();
        assert_eq!(
            ok.allowed_delegates(),
            [AllowedDelegate {
                mailbox: "info@contoso.com".into(),
                delegate: "*@contoso.com".into()
            }]
        );
        assert_eq!(ok.executive_mailboxes(), ["cfo@contoso.com"]);
        let missing = Config::parse(
            Path::new("m.toml"),
            "[exchange]\nallowed_delegates = [{ mailbox = \"info@contoso.com\" }]\n",
        )
        .unwrap_err();
        assert!(
            missing.message.contains("needs `delegate`"),
            "{}",
            missing.message
        );
        let spaced = Config::parse(
            Path::new("m.toml"),
            "[exchange]\nexecutive_mailboxes = [\"c fo@contoso.com\"]\n",
        )
        .unwrap_err();
        assert!(
            spaced.message.contains("cannot contain spaces"),
            "{}",
            spaced.message
        );
        let unknown = Config::parse(
            Path::new("m.toml"),
            "[exchange]\nallowed_delegates = [{ mailbox = \"a\", delegate = \"b\", right = \"x\" }]\n",
        );
        assert!(unknown.is_err());
    }

    #[test]
    fn patterns_become_anchored_escaped_regexes() {
        assert_eq!(pattern_regex("*@Contoso.com"), "^.*@contoso\\.com$");
        assert_eq!(pattern_regex("a?b#ext#"), "^a.b\\#ext\\#$");
    }
}
