//! `m365guard policy test`: run every `test_*` rule of a pack's `rule_test.rego` files.
//!
//! A test passes when it evaluates to `true`; `false`, undefined (a failed assertion in
//! Rego) or an evaluation error fail it. Output ends with an `N passed, M failed` line.

use regorus::Value;

use super::evaluate::{build_engine, RegoConfig};
use super::pack::{package_of, Pack};
use super::PolicyError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TestStatus {
    Passed,
    Failed,
    Error(String),
}

#[derive(Debug, Clone)]
pub struct TestCase {
    pub rule_id: String,
    pub name: String,
    pub status: TestStatus,
}

#[derive(Debug, Clone, Default)]
pub struct TestReport {
    pub cases: Vec<TestCase>,
}

impl TestReport {
    pub fn passed(&self) -> usize {
        self.cases
            .iter()
            .filter(|c| c.status == TestStatus::Passed)
            .count()
    }

    pub fn failed(&self) -> usize {
        self.cases.len() - self.passed()
    }
}

/// Names of the test rules defined in a Rego file (rule heads start at column 1).
pub fn test_names(text: &str) -> Vec<String> {
    let mut names: Vec<String> = text
        .lines()
        .filter_map(|line| {
            let name: String = line
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            name.starts_with("test_").then_some(name)
        })
        .collect();
    names.dedup();
    let mut seen = std::collections::HashSet::new();
    names.retain(|n| seen.insert(n.clone()));
    names
}

/// Run the tests of every rule in the pack. Rules without tests are reported as failing:
/// every rule must ship tests.
pub fn run(pack: &Pack) -> Result<TestReport, PolicyError> {
    let mut engine = build_engine(pack, &RegoConfig::default(), true)?;
    let mut report = TestReport::default();
    for rule in &pack.rules {
        let Some(test) = &rule.test else {
            report.cases.push(TestCase {
                rule_id: rule.meta.id.clone(),
                name: "(rule_test.rego)".into(),
                status: TestStatus::Error(format!("no rule_test.rego in {}", rule.dir.display())),
            });
            continue;
        };
        let package = package_of(&test.text).map(|(_, p)| p).unwrap_or_default();
        let names = test_names(&test.text);
        if names.is_empty() {
            report.cases.push(TestCase {
                rule_id: rule.meta.id.clone(),
                name: "(rule_test.rego)".into(),
                status: TestStatus::Error(format!(
                    "{} defines no test_* rules",
                    test.path.display()
                )),
            });
        }
        for name in names {
            let status = match engine.eval_rule(format!("data.{package}.{name}")) {
                Ok(Value::Bool(true)) => TestStatus::Passed,
                Ok(_) => TestStatus::Failed,
                Err(err) => TestStatus::Error(err.to_string()),
            };
            report.cases.push(TestCase {
                rule_id: rule.meta.id.clone(),
                name,
                status,
            });
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_test_rule_heads_once() {
        let text = "package x\ntest_a if { true }\ntest_a if { 1 == 1 }\n  test_nested := 1\ntest_b := true\nnot_a_test if { true }\n";
        assert_eq!(test_names(text), vec!["test_a", "test_b"]);
    }
}
