//! Evaluate a rule pack on a snapshot.
//!
//! The rules are a work queue taken by `threads` threads, each with its own clone of the
//! prepared engine and a shared, reference-counted input; each rule is one query, and the
//! indexes rules share over large sources come from native builtins memoised for the whole
//! scan (see `builtins`). Rules whose sources failed are not evaluated at all:
//! their outcome says why, and no Rego runs on data we know is incomplete.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use regorus::{Engine, Value};
use sha2::{Digest, Sha256};

use super::pack::{Pack, PolicyFile, Rule};
use super::PolicyError;
use crate::findings::{Finding, ResourceKind, ResourceRef, RuleOutcome, RuleStatus, Severity};
use crate::snapshot::{Snapshot, SourceState};

/// Settings that reach Rego as `data.m365guard.config`.
#[derive(Debug, Clone, Default)]
pub struct RegoConfig {
    /// Partner domains that forwarding rules may target (lower-case).
    pub allowed_forwarding_domains: Vec<String>,
    /// Smart hosts (domains or IP addresses) outbound connectors may use (lower-case).
    pub allowed_smart_hosts: Vec<String>,
    /// `[exchange] allowed_delegates`: (mailbox, delegate) address patterns.
    pub allowed_delegates: Vec<(String, String)>,
    /// `[exchange] executive_mailboxes`: address patterns.
    pub executive_mailboxes: Vec<String>,
    /// `[roles] allowed_exchange_role_group_members`: member patterns.
    pub allowed_role_group_members: Vec<String>,
    /// App ids the operator adds to the built-in known-malicious list (lower-case).
    pub known_malicious_app_ids: Vec<String>,
    /// `[review] window_days` (`None`: the rules' default, 30).
    pub review_window_days: Option<u32>,
    /// `[apps] max_secret_lifetime_days` (`None`: the rule's default, 365).
    pub max_secret_lifetime_days: Option<u32>,
    /// `[identity] federation_issuers`.
    pub federation_issuers: Vec<String>,
}

impl RegoConfig {
    fn to_data(&self) -> Value {
        let domains: Vec<String> = self
            .allowed_forwarding_domains
            .iter()
            .map(|d| d.to_lowercase())
            .collect();
        let smart_hosts: Vec<String> = self
            .allowed_smart_hosts
            .iter()
            .map(|h| h.to_lowercase())
            .collect();
        let regex = crate::config::pattern_regex;
        let delegates: Vec<serde_json::Value> = self
            .allowed_delegates
            .iter()
            .map(|(m, d)| serde_json::json!({"mailbox": regex(m), "delegate": regex(d)}))
            .collect();
        let executives: Vec<String> = self.executive_mailboxes.iter().map(|p| regex(p)).collect();
        let role_group_members: Vec<String> = self
            .allowed_role_group_members
            .iter()
            .map(|p| regex(p))
            .collect();
        let mut config = serde_json::json!({
            "allowed_forwarding_domains": domains,
            "allowed_smart_hosts": smart_hosts,
            "allowed_delegates": delegates,
            "executive_mailboxes": executives,
            "allowed_exchange_role_group_members": role_group_members,
            "known_malicious_app_ids": self.known_malicious_app_ids,
            "federation_issuers": self.federation_issuers,
        });
        // Absent: the rules' own default window (30 days).
        if let Some(days) = self.review_window_days {
            config["review_window_days"] = serde_json::json!(days);
        }
        if let Some(days) = self.max_secret_lifetime_days {
            config["max_secret_lifetime_days"] = serde_json::json!(days);
        }
        Value::from(serde_json::json!({"m365guard": {"config": config}}))
    }
}

fn add_file(engine: &mut Engine, file: &PolicyFile) -> Result<(), PolicyError> {
    engine
        .add_policy(file.path.display().to_string(), file.text.clone())
        .map(|_| ())
        .map_err(|err| PolicyError::Rego {
            message: err.to_string(),
        })
}

/// An engine holding the pack's libraries and rules (and tests, for the test runner).
pub fn build_engine(
    pack: &Pack,
    config: &RegoConfig,
    with_tests: bool,
) -> Result<Engine, PolicyError> {
    let mut engine = Engine::new();
    super::builtins::register(&mut engine)?;
    for lib in &pack.libraries {
        add_file(&mut engine, lib)?;
    }
    for rule in &pack.rules {
        add_file(&mut engine, &rule.rego)?;
        if with_tests {
            if let Some(test) = &rule.test {
                add_file(&mut engine, test)?;
            }
        }
    }
    engine
        .add_data(config.to_data())
        .map_err(|err| PolicyError::Rego {
            message: format!("cannot add config data: {err}"),
        })?;
    Ok(engine)
}

/// Why a rule cannot be evaluated on this snapshot, if it cannot.
pub fn source_gate(rule: &Rule, snapshot: &Snapshot) -> Option<RuleStatus> {
    let mut unavailable = Vec::new();
    for source in &rule.meta.sources {
        match snapshot.sources.get(source) {
            None => {
                return Some(RuleStatus::NotEvaluated {
                    reason: format!("source `{source}` is missing from the snapshot"),
                })
            }
            Some(status) => match status.status {
                SourceState::Ok => {}
                SourceState::Error => {
                    return Some(RuleStatus::NotEvaluated {
                        reason: format!(
                            "source `{source}` failed to collect: {}",
                            status.reason.as_deref().unwrap_or("no reason recorded")
                        ),
                    })
                }
                SourceState::Unavailable => unavailable.push(format!(
                    "source `{source}` is unavailable: {}",
                    status.reason.as_deref().unwrap_or("no reason recorded")
                )),
            },
        }
    }
    for source in &rule.meta.optional_sources {
        if let Some(status) = snapshot.sources.get(source) {
            if status.status == SourceState::Error {
                return Some(RuleStatus::NotEvaluated {
                    reason: format!(
                        "source `{source}` failed to collect: {}",
                        status.reason.as_deref().unwrap_or("no reason recorded")
                    ),
                });
            }
        }
    }
    if unavailable.is_empty() {
        None
    } else {
        Some(RuleStatus::NotApplicable {
            reason: unavailable.join("; "),
        })
    }
}

/// Evaluate `rules` (indexes into `pack.rules`) with `input` on up to `threads` threads.
/// Outcomes come back in the order of `rules`; findings have no line numbers yet.
pub fn evaluate(
    pack: &Pack,
    rules: &[usize],
    snapshot: &Snapshot,
    input: Value,
    config: &RegoConfig,
    threads: usize,
) -> Result<Vec<RuleOutcome>, PolicyError> {
    let mut engine = build_engine(pack, config, false)?;
    // Whether the caller keeps the input: see the drop of `engine` below.
    let input_root = match &input {
        Value::Object(root) => Some(regorus::Rc::downgrade(root)),
        _ => None,
    };
    engine.set_input(input);
    let tenant_id = snapshot.tenant.id.as_str();

    let mut outcomes: Vec<Option<Result<RuleOutcome, PolicyError>>> = Vec::new();
    let mut to_run = Vec::new();
    for (slot, &index) in rules.iter().enumerate() {
        let rule = &pack.rules[index];
        match source_gate(rule, snapshot) {
            Some(status) => outcomes.push(Some(Ok(RuleOutcome {
                rule: rule.meta.clone(),
                status,
                findings: Vec::new(),
            }))),
            None => {
                outcomes.push(None);
                to_run.push((slot, rule));
            }
        }
    }

    // A work queue of single rules: each thread takes the next rule when it is done with
    // one, so both threads stay busy whatever the tenant's shape (a static split by source
    // left one thread idle for half the evaluation when one source dominated). Rules do
    // not share a query, but what they would share over a large source (the inbox-rule
    // index, users by id, ...) is built by the native builtins once per scan and shared by
    // every thread through their memo, and the remaining library rules read small sources.
    // Order: costliest first, interleaving the large sources, so the two threads start on
    // different sources instead of one waiting for the index the other is building.
    let threads = threads.clamp(1, to_run.len().max(1));
    let queue = work_order(to_run, snapshot);
    let next = AtomicUsize::new(0);
    let results = Mutex::new(Vec::with_capacity(queue.len()));
    std::thread::scope(|scope| {
        for _ in 0..threads {
            let mut engine = engine.clone();
            let (results, next, queue) = (&results, &next, &queue);
            scope.spawn(move || {
                while let Some(&(slot, rule)) = queue.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let outcome = evaluate_rule(&mut engine, rule, tenant_id);
                    if let Ok(mut results) = results.lock() {
                        results.push((slot, outcome));
                    }
                }
            });
        }
    });
    // The threads' clones are gone: this engine holds the rules' memo (indexes whose values
    // share the input's elements) and one reference to the input.
    // - The caller keeps the input (a scan consumes its large arrays element by element right
    //   after this, to build the typed model without a second copy): drop the engine now.
    //   That frees only the memo, and afterwards nothing else shares the elements; dropped on
    //   another thread it raced that consumption, which then had to clone what was still
    //   shared (a higher peak, issue #9).
    // - The engine holds the last reference: freeing millions of small values (~0.3 s at
    //   100k users) is left to a background thread that nothing waits for. (If the thread
    //   cannot start, `spawn` has already dropped the engine here.)
    let caller_keeps_input = input_root.is_some_and(|root| root.strong_count() > 1);
    if caller_keeps_input {
        drop(engine);
    } else {
        let dropper = std::thread::Builder::new().name("m365guard-free-input".into());
        let _ = dropper.spawn(move || drop(engine));
    }
    let results = results.into_inner().map_err(|_| PolicyError::Eval {
        rule: "*".into(),
        message: "an evaluation thread panicked".into(),
    })?;
    for (slot, outcome) in results {
        outcomes[slot] = Some(outcome);
    }
    outcomes
        .into_iter()
        .map(|o| {
            o.unwrap_or_else(|| {
                Err(PolicyError::Eval {
                    rule: "*".into(),
                    message: "a rule was not evaluated (internal error)".into(),
                })
            })
        })
        .collect()
}

/// The source with the most items a rule reads ("" when it reads none).
fn largest_source<'a>(rule: &'a Rule, snapshot: &Snapshot) -> &'a str {
    rule.meta
        .sources
        .iter()
        .max_by_key(|s| snapshot.sources.get(*s).map_or(0, |status| status.items))
        .map_or("", |s| s.as_str())
}

/// Items in the largest source a rule reads: a proxy for how long it takes.
fn estimated_cost(rule: &Rule, snapshot: &Snapshot) -> u64 {
    rule.meta
        .sources
        .iter()
        .filter_map(|s| snapshot.sources.get(s).map(|status| status.items))
        .max()
        .unwrap_or(0)
}

/// The order in which the threads take the rules: one rule of each source, largest source
/// first, then a second rule of each, and so on (rules over one source in pack order). Costliest first keeps the tail short; the
/// interleaving lets two threads start on different sources.
fn work_order<'a>(rules: Vec<(usize, &'a Rule)>, snapshot: &Snapshot) -> Vec<(usize, &'a Rule)> {
    let mut by_source: Vec<(u64, Vec<(usize, &'a Rule)>)> = Vec::new();
    let mut source_index: std::collections::HashMap<&str, usize> = Default::default();
    for (slot, rule) in rules {
        let source = largest_source(rule, snapshot);
        let g = *source_index.entry(source).or_insert_with(|| {
            by_source.push((0, Vec::new()));
            by_source.len() - 1
        });
        by_source[g].0 = by_source[g].0.max(estimated_cost(rule, snapshot));
        by_source[g].1.push((slot, rule));
    }
    by_source.sort_by_key(|(cost, _)| std::cmp::Reverse(*cost));
    // (rank within its source, source cost, source position, rule)
    type Ranked<'r> = (usize, std::cmp::Reverse<u64>, usize, (usize, &'r Rule));
    let mut ranked: Vec<Ranked<'a>> = Vec::new();
    for (g, (cost, rules)) in by_source.into_iter().enumerate() {
        for (rank, entry) in rules.into_iter().enumerate() {
            ranked.push((rank, std::cmp::Reverse(cost), g, entry));
        }
    }
    ranked.sort_by_key(|(rank, cost, g, _)| (*rank, *cost, *g));
    ranked.into_iter().map(|(_, _, _, entry)| entry).collect()
}

fn evaluate_rule(
    engine: &mut Engine,
    rule: &Rule,
    tenant_id: &str,
) -> Result<RuleOutcome, PolicyError> {
    let id = rule.meta.id.as_str();
    let started = crate::profile::Mark::now();
    let value = engine
        .eval_rule(rule.deny_path())
        .map_err(|err| PolicyError::Eval {
            rule: id.to_owned(),
            message: err.to_string(),
        })?;
    let outcome = outcome_from_value(rule, &value, tenant_id);
    started.record(&format!("rule {id}"));
    outcome
}

/// Turn a rule's `deny` value into its outcome: findings sorted, fingerprints unique.
fn outcome_from_value(
    rule: &Rule,
    value: &Value,
    tenant_id: &str,
) -> Result<RuleOutcome, PolicyError> {
    let id = rule.meta.id.as_str();
    let set = match value {
        Value::Set(set) => set.iter().cloned().collect::<Vec<_>>(),
        Value::Undefined => {
            return Err(PolicyError::Eval {
                rule: id.to_owned(),
                message: format!(
                    "`{}` is undefined: the rule must define `deny contains finding if {{ ... }}`",
                    rule.deny_path()
                ),
            })
        }
        other => {
            return Err(PolicyError::BadFinding {
                rule: id.to_owned(),
                message: format!("`deny` must be a set, got {other}"),
            })
        }
    };
    let mut findings = set
        .into_iter()
        .map(|item| to_finding(rule, tenant_id, &item))
        .collect::<Result<Vec<_>, _>>()?;
    findings.sort_by(|a, b| {
        (&a.resource.name, &a.resource.id, &a.message).cmp(&(
            &b.resource.name,
            &b.resource.id,
            &b.message,
        ))
    });
    disambiguate_fingerprints(&mut findings);
    let status = if findings.is_empty() {
        RuleStatus::Passed
    } else {
        RuleStatus::Failed
    };
    Ok(RuleOutcome {
        rule: rule.meta.clone(),
        status,
        findings,
    })
}

fn field<'a>(rule: &Rule, item: &'a Value, name: &str) -> Result<Option<&'a str>, PolicyError> {
    match &item[&Value::from(name)] {
        Value::Undefined | Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.as_ref())),
        other => Err(PolicyError::BadFinding {
            rule: rule.meta.id.clone(),
            message: format!("`{name}` must be a string, got {other}"),
        }),
    }
}

fn required<'a>(rule: &Rule, item: &'a Value, name: &str) -> Result<&'a str, PolicyError> {
    field(rule, item, name)?.ok_or_else(|| PolicyError::BadFinding {
        rule: rule.meta.id.clone(),
        message: format!("missing `{name}` in {item}"),
    })
}

fn to_finding(rule: &Rule, tenant_id: &str, item: &Value) -> Result<Finding, PolicyError> {
    if !matches!(item, Value::Object(_)) {
        return Err(PolicyError::BadFinding {
            rule: rule.meta.id.clone(),
            message: format!("each element of `deny` must be an object, got {item}"),
        });
    }
    let kind_name = required(rule, item, "resource_type")?;
    // A typo here would give findings no line, no fix and no drift key: refuse it (exit 2).
    let kind = ResourceKind::parse(kind_name).ok_or_else(|| PolicyError::BadFinding {
        rule: rule.meta.id.clone(),
        message: format!(
            "unknown resource_type {kind_name:?} (expected one of: {})",
            ResourceKind::names()
        ),
    })?;
    let id = required(rule, item, "resource_id")?;
    let message = required(rule, item, "message")?;
    let name = field(rule, item, "resource_name")?.unwrap_or(id);
    let severity = match field(rule, item, "severity")? {
        None => rule.meta.severity,
        Some(s) => Severity::parse(s).ok_or_else(|| PolicyError::BadFinding {
            rule: rule.meta.id.clone(),
            message: format!("unknown severity {s:?} (expected critical, high, medium or low)"),
        })?,
    };
    let details = match &item[&Value::from("details")] {
        Value::Undefined | Value::Null => serde_json::Value::Null,
        v => serde_json::to_value(v).map_err(|err| PolicyError::BadFinding {
            rule: rule.meta.id.clone(),
            message: format!("`details` is not JSON: {err}"),
        })?,
    };
    Ok(Finding {
        rule_id: rule.meta.id.clone(),
        severity,
        resource: ResourceRef {
            kind,
            id: id.to_owned(),
            name: name.to_owned(),
        },
        message: message.to_owned(),
        details,
        fingerprint: fingerprint(tenant_id, &rule.meta.id, kind.as_str(), id),
        line: None,
        waiver: None,
        baseline_state: None,
        exception_keys: None,
        activity: None,
    })
}

/// Stable identity of a finding across runs: same tenant, rule and resource → same value,
/// so code scanning tracks one alert per tenant object.
pub fn fingerprint(tenant_id: &str, rule_id: &str, kind: &str, resource_id: &str) -> String {
    let mut hasher = Sha256::new();
    for part in [tenant_id, rule_id, kind, resource_id] {
        hasher.update(part.as_bytes());
        hasher.update([0u8]);
    }
    hasher.finalize()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Two findings of one rule on the same resource (e.g. two external recipients) must not
/// share a fingerprint; suffix the later ones in their (sorted, stable) order.
fn disambiguate_fingerprints(findings: &mut [Finding]) {
    let mut seen = std::collections::HashMap::<String, usize>::new();
    for f in findings.iter_mut() {
        let count = seen.entry(f.fingerprint.clone()).or_insert(0);
        if *count > 0 {
            f.fingerprint = format!("{}-{}", f.fingerprint, count);
        }
        *count += 1;
    }
}
