//! The m365guard commands the reports and the CLI suggest (`fix plan …`, `fix apply …`).
//!
//! One place builds them so every suggestion carries what changes the plan: the
//! m365guard.toml the scan used (`--config`: a plan made without it does not know the
//! break-glass accounts and would plan changes on them) and, when the scan was narrowed by
//! `--rule`/`--baseline`, the rules it showed (`--rule`). `fix plan` reads only the built-in
//! rule pack and has no baseline option, so `--policies` and `--baseline` themselves are
//! not repeated. Paths are quoted for a POSIX shell when they need it.

use crate::findings::ScanInfo;
use crate::fix::actions::ActionKind;
use crate::policy::metadata::FixAction;

/// `s` as one POSIX shell word: unchanged when it has only characters no shell treats
/// specially, else single-quoted (a `'` inside becomes `'\''`).
pub fn shell_word(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-./:@%+=,".contains(c));
    if plain {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// ` --config FILE` for the scan's config, or nothing when it used none.
fn config_option(config_path: Option<&str>) -> String {
    config_path
        .map(|path| format!(" --config {}", shell_word(path)))
        .unwrap_or_default()
}

/// `m365guard fix plan --snapshot S [--config C] [--rule R]… -o plan.json`: `rules` are
/// named when the scan was narrowed to a selection (else the plan covers every rule, as
/// the scan did). `snapshot` is the scanned file, or a placeholder where none applies.
pub fn fix_plan(info: &ScanInfo, snapshot: &str, rules: &[&str]) -> String {
    let mut cmd = format!(
        "m365guard fix plan --snapshot {}{}",
        shell_word(snapshot),
        config_option(info.config_path.as_deref())
    );
    if info.rule_selection {
        for rule in rules {
            cmd.push_str(&format!(" --rule {}", shell_word(rule)));
        }
    }
    cmd.push_str(" -o plan.json");
    cmd
}

/// Stands for the snapshot where a suggestion is not tied to one file (SARIF rule help).
pub const SNAPSHOT_PLACEHOLDER: &str = "<snapshot.json>";

/// `m365guard fix plan` for one rule's findings (always names the rule); `snapshot`
/// `None` writes [`SNAPSHOT_PLACEHOLDER`], unquoted, for the reader to replace.
pub fn fix_plan_for_rule(
    info: &ScanInfo,
    snapshot: Option<&str>,
    rule: &str,
    action: FixAction,
) -> String {
    let allow = ActionKind::from(action)
        .plan_only_allow()
        .map(|word| format!(" --allow {word}"))
        .unwrap_or_default();
    format!(
        "m365guard fix plan --snapshot {}{} --rule {}{allow} -o plan.json",
        snapshot.map_or_else(|| SNAPSHOT_PLACEHOLDER.to_owned(), shell_word),
        config_option(info.config_path.as_deref()),
        shell_word(rule)
    )
}

/// `m365guard fix apply PLAN [--config C]`: apply refuses a plan made with another config
/// than the one it is given, so the suggestion repeats the planning config.
pub fn fix_apply(plan: &str, config_path: Option<&str>) -> String {
    format!(
        "m365guard fix apply {}{}",
        shell_word(plan),
        config_option(config_path)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_words_are_quoted_only_when_needed() {
        assert_eq!(
            shell_word("examples/m365guard.toml"),
            "examples/m365guard.toml"
        );
        assert_eq!(shell_word("my dir/m.toml"), "'my dir/m.toml'");
        assert_eq!(shell_word("it's.toml"), r"'it'\''s.toml'");
        assert_eq!(shell_word("$(rm -rf)"), "'$(rm -rf)'");
        assert_eq!(shell_word(""), "''");
        assert_eq!(
            fix_apply("plan.json", Some("/etc/m365guard.toml")),
            "m365guard fix apply plan.json --config /etc/m365guard.toml"
        );
        assert_eq!(fix_apply("p.json", None), "m365guard fix apply p.json");
    }
}
