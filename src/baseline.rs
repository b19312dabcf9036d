//! Baselines: named selections of rules, and mappings of rules to framework controls.
//!
//! `baselines/*.toml` ship inside the binary; `--baseline FILE.toml` adds a user's own. A
//! baseline is named after its file and may `extends` another one, whose rules it keeps
//! (Microsoft's roadmap phases build on each other this way). A baseline lists rules
//! (`[[rule]]`: id, one-line reason, the source it comes from) and/or framework mappings
//! (`[[mapping]]`: rule, control id, full/partial coverage); selecting it runs both. Framework
//! ids (CIS, ScubaGear) live only here, so rule ids stay stable when frameworks renumber.
//!
//! Problems are `Diagnostic`s at file:line:col: unknown keys, empty reasons, an unknown
//! `extends`, an `extends` cycle, and (`validate`) rule ids that no loaded pack defines.

use std::collections::HashSet;
use std::ops::Range;
use std::path::{Path, PathBuf};

use include_dir::{include_dir, Dir};
use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::diagnostic::Diagnostic;

static BUILTIN: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/baselines");

/// Display prefix of built-in baselines in messages (they have no path on disk).
pub const BUILTIN_PREFIX: &str = "<builtin>/baselines";

/// How much of a framework control a rule checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Coverage {
    /// The rule's pass/fail answers the control.
    Full,
    /// The rule checks part of the control, or its observable outcome.
    Partial,
}

impl Coverage {
    pub fn as_str(self) -> &'static str {
        match self {
            Coverage::Full => "full",
            Coverage::Partial => "partial",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BaselineRule {
    pub id: String,
    /// Why the baseline includes it, in one line.
    pub reason: String,
    /// Where that comes from (URL, section, task).
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mapping {
    pub rule: String,
    /// The framework's id (`MS.AAD.1.1v1`, `5.2.2.3`).
    pub control: String,
    pub title: String,
    pub coverage: Coverage,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Baseline {
    /// The file name without `.toml`; what `--baseline` takes.
    pub name: String,
    pub title: String,
    pub description: String,
    pub extends: Option<String>,
    /// Framework label for mappings (`ScubaGear`, `CIS M365`).
    pub framework: Option<String>,
    pub url: Option<String>,
    pub rules: Vec<BaselineRule>,
    pub mappings: Vec<Mapping>,
    #[serde(skip)]
    origin: Origin,
}

/// Where a baseline was read from, with the spans later checks point at.
#[derive(Debug, Clone)]
struct Origin {
    path: PathBuf,
    text: String,
    extends: Option<Range<usize>>,
    /// Every rule id the file names (`[[rule]] id` and `[[mapping]] rule`), in file order.
    rule_ids: Vec<(String, Range<usize>)>,
}

impl Origin {
    fn error(&self, span: Option<Range<usize>>, message: impl Into<String>) -> Diagnostic {
        Diagnostic::from_span(&self.path, &self.text, span, message)
    }
}

impl Baseline {
    /// File the baseline came from (`<builtin>/baselines/…` for embedded ones).
    pub fn path(&self) -> &Path {
        &self.origin.path
    }

    /// Rule ids this file itself selects (without `extends`), in file order, deduplicated.
    pub fn own_rule_ids(&self) -> Vec<&str> {
        let mut seen = HashSet::new();
        self.origin
            .rule_ids
            .iter()
            .map(|(id, _)| id.as_str())
            .filter(|id| seen.insert(*id))
            .collect()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    #[error("{0}")]
    Invalid(#[from] Diagnostic),
    #[error("unknown baseline `{name}` (available: {available}; or give a path to a .toml file)")]
    Unknown { name: String, available: String },
}

/// One row of `m365guard baselines list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BaselineSummary {
    pub name: String,
    pub title: String,
    /// Rules selected, `extends` included.
    pub rules: usize,
    pub extends: Option<String>,
    pub framework: Option<String>,
}

/// A framework control a rule is mapped to, for reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ControlRef {
    pub framework: String,
    pub baseline: String,
    pub control: String,
    pub title: String,
    pub coverage: Coverage,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBaseline {
    title: Spanned<String>,
    description: Spanned<String>,
    extends: Option<Spanned<String>>,
    framework: Option<Spanned<String>>,
    url: Option<Spanned<String>>,
    #[serde(default, rename = "rule")]
    rules: Vec<RawRule>,
    #[serde(default, rename = "mapping")]
    mappings: Vec<RawMapping>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: Spanned<String>,
    reason: Spanned<String>,
    source: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMapping {
    rule: Spanned<String>,
    control: Spanned<String>,
    title: Spanned<String>,
    coverage: Coverage,
    note: Option<Spanned<String>>,
}

/// Parse one baseline file; `path` names it in messages and gives its name (the stem).
pub fn parse(path: &Path, text: &str) -> Result<Baseline, Diagnostic> {
    let raw: RawBaseline = toml::from_str(text).map_err(|err| {
        Diagnostic::from_span(
            path,
            text,
            err.span(),
            format!("invalid baseline: {}", err.message().trim_end()),
        )
    })?;
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(Diagnostic::whole_file(
            path,
            "a baseline file name (its name) may only use letters, digits, `-` and `_`",
        ));
    }
    let mut origin = Origin {
        path: path.to_owned(),
        text: text.to_owned(),
        extends: raw.extends.as_ref().map(Spanned::span),
        rule_ids: Vec::new(),
    };
    let required = |value: &Spanned<String>, what: &str| -> Result<String, Diagnostic> {
        let trimmed = value.get_ref().trim();
        if trimmed.is_empty() {
            Err(Diagnostic::from_span(
                path,
                text,
                Some(value.span()),
                format!("`{what}` must not be empty"),
            ))
        } else {
            Ok(trimmed.to_owned())
        }
    };
    let optional =
        |value: &Option<Spanned<String>>, what: &str| -> Result<Option<String>, Diagnostic> {
            value.as_ref().map(|v| required(v, what)).transpose()
        };

    let mut rules = Vec::new();
    let mut own: HashSet<String> = HashSet::new();
    for rule in &raw.rules {
        let id = required(&rule.id, "rule.id")?;
        if !own.insert(id.clone()) {
            return Err(origin.error(
                Some(rule.id.span()),
                format!("rule `{id}` is listed twice in this baseline"),
            ));
        }
        origin.rule_ids.push((id.clone(), rule.id.span()));
        rules.push(BaselineRule {
            id,
            reason: required(&rule.reason, "rule.reason")?,
            source: required(&rule.source, "rule.source")?,
        });
    }

    let framework = optional(&raw.framework, "framework")?;
    let mut mappings = Vec::new();
    let mut mapped: HashSet<(String, String)> = HashSet::new();
    for mapping in &raw.mappings {
        let rule = required(&mapping.rule, "mapping.rule")?;
        let control = required(&mapping.control, "mapping.control")?;
        if !mapped.insert((rule.clone(), control.clone())) {
            return Err(origin.error(
                Some(mapping.control.span()),
                format!("rule `{rule}` is mapped to `{control}` twice"),
            ));
        }
        origin.rule_ids.push((rule.clone(), mapping.rule.span()));
        mappings.push(Mapping {
            rule,
            control,
            title: required(&mapping.title, "mapping.title")?,
            coverage: mapping.coverage,
            note: optional(&mapping.note, "mapping.note")?,
        });
    }
    if !mappings.is_empty() && framework.is_none() {
        return Err(origin.error(
            None,
            "a baseline with [[mapping]] entries needs `framework = \"…\"` (the label reports show)",
        ));
    }
    if rules.is_empty() && mappings.is_empty() && raw.extends.is_none() {
        return Err(origin.error(
            None,
            "the baseline selects no rules: add [[rule]] or [[mapping]] entries, or `extends`",
        ));
    }

    Ok(Baseline {
        name,
        title: required(&raw.title, "title")?,
        description: required(&raw.description, "description")?,
        extends: optional(&raw.extends, "extends")?,
        framework,
        url: optional(&raw.url, "url")?,
        rules,
        mappings,
        origin,
    })
}

/// Every loaded baseline, built-in and user-supplied, by name.
#[derive(Debug, Clone, Default)]
pub struct BaselineSet {
    /// Sorted by name.
    baselines: Vec<Baseline>,
}

impl BaselineSet {
    /// The baselines embedded from `baselines/`.
    pub fn builtin() -> Result<BaselineSet, Diagnostic> {
        let mut set = BaselineSet::default();
        for file in BUILTIN.files() {
            if file.path().extension().is_none_or(|e| e != "toml") {
                continue;
            }
            let path = Path::new(BUILTIN_PREFIX).join(file.path());
            let text = file
                .contents_utf8()
                .ok_or_else(|| Diagnostic::whole_file(&path, "baseline is not valid UTF-8"))?;
            set.insert(parse(&path, text)?)?;
        }
        Ok(set)
    }

    /// Read a user's baseline file; returns its name. It may extend the built-in ones.
    pub fn add_file(&mut self, path: &Path) -> Result<String, Diagnostic> {
        let text = std::fs::read_to_string(path)
            .map_err(|err| Diagnostic::whole_file(path, format!("cannot read baseline: {err}")))?;
        self.add_text(path, &text)
    }

    /// Add a baseline from text (`path` gives its name and appears in messages).
    pub fn add_text(&mut self, path: &Path, text: &str) -> Result<String, Diagnostic> {
        let baseline = parse(path, text)?;
        let name = baseline.name.clone();
        self.insert(baseline)?;
        Ok(name)
    }

    fn insert(&mut self, baseline: Baseline) -> Result<(), Diagnostic> {
        match self
            .baselines
            .binary_search_by(|b| b.name.cmp(&baseline.name))
        {
            Ok(existing) => Err(baseline.origin.error(
                None,
                format!(
                    "a baseline named `{}` is already loaded from {}",
                    baseline.name,
                    self.baselines[existing].path().display()
                ),
            )),
            Err(at) => {
                self.baselines.insert(at, baseline);
                Ok(())
            }
        }
    }

    /// `--baseline` takes a name or a path to a `.toml` file; returns the name to select.
    pub fn resolve_arg(&mut self, arg: &str) -> Result<String, BaselineError> {
        let looks_like_path = arg.ends_with(".toml") || arg.contains(['/', '\\']);
        if looks_like_path {
            return Ok(self.add_file(Path::new(arg))?);
        }
        self.get(arg)
            .map(|b| b.name.clone())
            .ok_or_else(|| self.unknown(arg))
    }

    fn unknown(&self, name: &str) -> BaselineError {
        BaselineError::Unknown {
            name: name.to_owned(),
            available: self.names().join(", "),
        }
    }

    pub fn names(&self) -> Vec<&str> {
        self.baselines.iter().map(|b| b.name.as_str()).collect()
    }

    pub fn get(&self, name: &str) -> Option<&Baseline> {
        self.baselines
            .binary_search_by(|b| b.name.as_str().cmp(name))
            .ok()
            .map(|i| &self.baselines[i])
    }

    pub fn iter(&self) -> impl Iterator<Item = &Baseline> {
        self.baselines.iter()
    }

    /// `name` and the baselines it extends, the root first.
    pub fn chain(&self, name: &str) -> Result<Vec<&Baseline>, BaselineError> {
        let mut chain: Vec<&Baseline> = vec![self.get(name).ok_or_else(|| self.unknown(name))?];
        while let Some(current) = chain.last().copied() {
            let Some(parent_name) = &current.extends else {
                break;
            };
            let Some(parent) = self.get(parent_name) else {
                return Err(current
                    .origin
                    .error(
                        current.origin.extends.clone(),
                        format!(
                            "`{}` extends unknown baseline `{parent_name}` (available: {})",
                            current.name,
                            self.names().join(", ")
                        ),
                    )
                    .into());
            };
            if let Some(start) = chain.iter().position(|b| b.name == parent.name) {
                let mut cycle: Vec<&str> = chain[start..].iter().map(|b| b.name.as_str()).collect();
                cycle.push(parent.name.as_str());
                return Err(current
                    .origin
                    .error(
                        current.origin.extends.clone(),
                        format!("`extends` forms a cycle: {}", cycle.join(" → ")),
                    )
                    .into());
            }
            chain.push(parent);
        }
        chain.reverse();
        Ok(chain)
    }

    /// Rule ids `name` selects, `extends` included: parents' rules first, file order,
    /// each once.
    pub fn select(&self, name: &str) -> Result<Vec<String>, BaselineError> {
        let mut seen = HashSet::new();
        let mut ids = Vec::new();
        for baseline in self.chain(name)? {
            for id in baseline.own_rule_ids() {
                if seen.insert(id) {
                    ids.push(id.to_owned());
                }
            }
        }
        Ok(ids)
    }

    /// Check every baseline: `extends` resolves without cycles and every rule id is one of
    /// `known_rule_ids` (the loaded packs). The first problem, in name and file order.
    pub fn validate(&self, known_rule_ids: &[&str]) -> Result<(), Diagnostic> {
        for baseline in &self.baselines {
            if let Err(err) = self.chain(&baseline.name) {
                return Err(match err {
                    BaselineError::Invalid(d) => d,
                    other => baseline.origin.error(None, other.to_string()),
                });
            }
            for (id, span) in &baseline.origin.rule_ids {
                if !known_rule_ids.contains(&id.as_str()) {
                    return Err(baseline.origin.error(
                        Some(span.clone()),
                        format!(
                            "unknown rule id `{id}` in baseline `{}` (`m365guard rules list` shows the ids)",
                            baseline.name
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Rows for `m365guard baselines list`, sorted by name.
    pub fn list(&self) -> Result<Vec<BaselineSummary>, BaselineError> {
        self.baselines
            .iter()
            .map(|b| {
                Ok(BaselineSummary {
                    name: b.name.clone(),
                    title: b.title.clone(),
                    rules: self.select(&b.name)?.len(),
                    extends: b.extends.clone(),
                    framework: b.framework.clone(),
                })
            })
            .collect()
    }

    /// Every framework control `rule_id` is mapped to, across all baselines.
    /// `controls_for` of each rule that has a mapping, by rule id (what `ScanResult.controls`
    /// holds).
    pub fn controls_by_rule<'a>(
        &self,
        rule_ids: impl IntoIterator<Item = &'a str>,
    ) -> std::collections::BTreeMap<String, Vec<ControlRef>> {
        rule_ids
            .into_iter()
            .map(|id| (id.to_owned(), self.controls_for(id)))
            .filter(|(_, controls)| !controls.is_empty())
            .collect()
    }

    pub fn controls_for(&self, rule_id: &str) -> Vec<ControlRef> {
        self.baselines
            .iter()
            .flat_map(|b| {
                b.mappings
                    .iter()
                    .filter(move |m| m.rule == rule_id)
                    .map(move |m| ControlRef {
                        framework: b.framework.clone().unwrap_or_else(|| b.name.clone()),
                        baseline: b.name.clone(),
                        control: m.control.clone(),
                        title: m.title.clone(),
                        coverage: m.coverage,
                        note: m.note.clone(),
                    })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set_with(files: &[(&str, &str)]) -> BaselineSet {
        let mut set = BaselineSet::default();
        for (name, text) in files {
            set.add_text(Path::new(name), text).unwrap();
        }
        set
    }

    const BASE: &str = r#"title = "Base"
description = "d"

[[rule]]
id = "a"
reason = "r"
source = "s"

[[rule]]
id = "b"
reason = "r"
source = "s"
"#;

    #[test]
    fn builtin_roadmap_phases_build_on_each_other() {
        let set = BaselineSet::builtin().unwrap();
        let d30 = set.select("roadmap-30d").unwrap();
        let d90 = set.select("roadmap-90d").unwrap();
        let beyond = set.select("roadmap-beyond").unwrap();
        assert!(d30.contains(&"admin_without_mfa".to_owned()));
        assert!(!d30.contains(&"privileged_role_permanent".to_owned()));
        assert_eq!(&d90[..d30.len()], &d30[..], "90d starts with the 30d rules");
        assert!(d90.contains(&"privileged_role_permanent".to_owned()));
        assert_eq!(beyond, d90);
        let names: Vec<&str> = set
            .chain("roadmap-beyond")
            .unwrap()
            .iter()
            .map(|b| b.name.as_str())
            .collect();
        assert_eq!(names, ["roadmap-30d", "roadmap-90d", "roadmap-beyond"]);
    }

    #[test]
    fn builtin_baselines_reference_only_rules_of_the_builtin_pack() {
        let pack = crate::policy::pack::load(&[], crate::policy::pack::Builtin::All).unwrap();
        let set = BaselineSet::builtin().unwrap();
        set.validate(&pack.rule_ids()).unwrap();
    }

    #[test]
    fn every_builtin_rule_is_in_some_roadmap_phase() {
        let pack = crate::policy::pack::load(&[], crate::policy::pack::Builtin::All).unwrap();
        let set = BaselineSet::builtin().unwrap();
        let beyond = set.select("roadmap-beyond").unwrap();
        let missing: Vec<&str> = pack
            .rule_ids()
            .into_iter()
            .filter(|id| !beyond.iter().any(|b| b == id))
            .collect();
        assert!(missing.is_empty(), "rules in no roadmap phase: {missing:?}");
    }

    #[test]
    fn framework_mappings_are_found_per_rule() {
        let set = BaselineSet::builtin().unwrap();
        let controls = set.controls_for("legacy_auth_not_blocked");
        let ids: Vec<(&str, &str)> = controls
            .iter()
            .map(|c| (c.framework.as_str(), c.control.as_str()))
            .collect();
        assert!(ids.contains(&("ScubaGear", "MS.AAD.1.1v1")), "{ids:?}");
        assert!(ids.contains(&("CIS M365", "5.2.2.3")), "{ids:?}");
        assert!(set
            .select("scubagear")
            .unwrap()
            .contains(&"privileged_role_permanent".to_owned()));
    }

    #[test]
    fn list_counts_rules_including_extends() {
        let set = set_with(&[
            ("base.toml", BASE),
            (
                "more.toml",
                "title = \"More\"\ndescription = \"d\"\nextends = \"base\"\n\n[[rule]]\nid = \"c\"\nreason = \"r\"\nsource = \"s\"\n",
            ),
        ]);
        let list = set.list().unwrap();
        assert_eq!(
            list.iter()
                .map(|s| (s.name.as_str(), s.rules))
                .collect::<Vec<_>>(),
            [("base", 2), ("more", 3)]
        );
        assert_eq!(set.select("more").unwrap(), ["a", "b", "c"]);
    }

    #[test]
    fn extends_cycle_is_an_error_at_the_extends_value() {
        let a = "title = \"A\"\ndescription = \"d\"\nextends = \"b\"\n";
        let b = "title = \"B\"\ndescription = \"d\"\nextends = \"a\"\n";
        let set = set_with(&[("a.toml", a), ("b.toml", b)]);
        let err = set.validate(&[]).unwrap_err();
        assert_eq!(err.path, Path::new("b.toml"));
        assert_eq!((err.line, err.column), (Some(3), Some(11)));
        assert!(err.message.contains("cycle: a → b → a"), "{err}");
        assert!(set.select("a").is_err());
    }

    #[test]
    fn extending_itself_is_a_cycle() {
        let set = set_with(&[(
            "a.toml",
            "title = \"A\"\ndescription = \"d\"\nextends = \"a\"\n",
        )]);
        let err = set.select("a").unwrap_err().to_string();
        assert!(err.contains("cycle: a → a"), "{err}");
    }

    #[test]
    fn unknown_extends_is_an_error() {
        let set = set_with(&[(
            "a.toml",
            "title = \"A\"\ndescription = \"d\"\nextends = \"roadmap-31d\"\n",
        )]);
        let err = set.validate(&[]).unwrap_err();
        assert_eq!((err.line, err.column), (Some(3), Some(11)));
        assert!(
            err.message.contains("unknown baseline `roadmap-31d`"),
            "{err}"
        );
    }

    #[test]
    fn unknown_rule_id_points_at_the_id() {
        let set = set_with(&[("base.toml", BASE)]);
        let err = set.validate(&["a"]).unwrap_err();
        assert_eq!(err.path, Path::new("base.toml"));
        assert_eq!((err.line, err.column), (Some(10), Some(6)));
        assert_eq!(
            err.to_string(),
            "base.toml:10:6: unknown rule id `b` in baseline `base` (`m365guard rules list` shows the ids)\n   |\n10 | id = \"b\"\n   |      ^"
        );
    }

    #[test]
    fn unknown_rule_in_a_mapping_points_at_the_rule() {
        let text = "title = \"F\"\ndescription = \"d\"\nframework = \"F\"\n\n[[mapping]]\nrule = \"nope\"\ncontrol = \"1.1\"\ntitle = \"t\"\ncoverage = \"full\"\n";
        let set = set_with(&[("f.toml", text)]);
        let err = set.validate(&["a"]).unwrap_err();
        assert_eq!((err.line, err.column), (Some(6), Some(8)));
    }

    #[test]
    fn bad_coverage_and_unknown_keys_are_located() {
        let text = "title = \"F\"\ndescription = \"d\"\nframework = \"F\"\n\n[[mapping]]\nrule = \"a\"\ncontrol = \"1.1\"\ntitle = \"t\"\ncoverage = \"most\"\n";
        let err = parse(Path::new("f.toml"), text).unwrap_err();
        assert_eq!(err.line, Some(9));
        assert!(err.message.contains("unknown variant `most`"), "{err}");
        let err = parse(Path::new("b.toml"), &format!("{BASE}phase = 1\n")).unwrap_err();
        assert!(err.message.contains("unknown field `phase`"), "{err}");
    }

    #[test]
    fn empty_reason_and_duplicates_are_errors() {
        let err = parse(
            Path::new("b.toml"),
            &BASE.replacen("reason = \"r\"", "reason = \" \"", 1),
        )
        .unwrap_err();
        assert_eq!((err.line, err.column), (Some(6), Some(10)));
        let err = parse(
            Path::new("b.toml"),
            &BASE.replace("id = \"b\"", "id = \"a\""),
        )
        .unwrap_err();
        assert!(err.message.contains("listed twice"), "{err}");
        assert_eq!(err.line, Some(10));
    }

    #[test]
    fn mappings_need_a_framework_label() {
        let text = "title = \"F\"\ndescription = \"d\"\n\n[[mapping]]\nrule = \"a\"\ncontrol = \"1.1\"\ntitle = \"t\"\ncoverage = \"full\"\n";
        let err = parse(Path::new("f.toml"), text).unwrap_err();
        assert!(err.message.contains("needs `framework"), "{err}");
    }

    #[test]
    fn a_baseline_must_select_something() {
        let err = parse(Path::new("e.toml"), "title = \"E\"\ndescription = \"d\"\n").unwrap_err();
        assert!(err.message.contains("selects no rules"), "{err}");
    }

    #[test]
    fn resolve_arg_takes_names_and_paths() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mine.toml");
        std::fs::write(
            &path,
            "title = \"Mine\"\ndescription = \"d\"\nextends = \"roadmap-30d\"\n",
        )
        .unwrap();
        let mut set = BaselineSet::builtin().unwrap();
        assert_eq!(set.resolve_arg("roadmap-90d").unwrap(), "roadmap-90d");
        assert_eq!(set.resolve_arg(path.to_str().unwrap()).unwrap(), "mine");
        assert_eq!(
            set.select("mine").unwrap(),
            set.select("roadmap-30d").unwrap()
        );
        let err = set.resolve_arg("roadmap-60d").unwrap_err().to_string();
        assert!(
            err.starts_with(
                "unknown baseline `roadmap-60d` (available: cis-m365, mine, roadmap-30d"
            ),
            "{err}"
        );
        // A user file cannot shadow a built-in baseline.
        let clash = dir.path().join("roadmap-30d.toml");
        std::fs::write(&clash, BASE).unwrap();
        let err = set
            .resolve_arg(clash.to_str().unwrap())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("already loaded from <builtin>/baselines/roadmap-30d.toml"),
            "{err}"
        );
    }
}
