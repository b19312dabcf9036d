//! Native Rego builtins m365guard adds to regorus (available to every pack and in tests).
//!
//! `m365guard.index_by(items, paths)` groups the positions of an array's elements by the
//! values found at one or more paths, in ONE native pass over the array:
//!
//! ```rego
//! idx := m365guard.index_by(input.inbox_rules, [["actions", "delete"], ["actions", "forward_to"]])
//! # idx[0] == {true: [3, 17], false: [40]}: positions i with input.inbox_rules[i].actions.delete == v
//! ```
//!
//! For each path the result maps every value `v` found at that path (`items[i].p1.p2...`,
//! with Rego reference semantics: elements where the reference is undefined are left out)
//! to the ascending array of positions `i` holding it. So
//! `some i in idx[0][true]; rule := items[i]` visits exactly the elements for which
//! `items[i].actions.delete == true`, in array order.
//!
//! Why: in a 300k-element array every pass of the interpreter costs ~0.3 s, mostly cache
//! misses dereferencing each element; a rule that tests several alternatives (one `deny`
//! body each) pays that per alternative. One native pass reads each element once for all
//! paths, and the result is shared by every rule of an evaluation and, through a memo keyed
//! by the identity of the array, by every evaluation thread of a scan.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use regorus::{Engine, Value};

use super::PolicyError;

/// Results of `index_by` for the arrays seen by the engines sharing this memo. Keyed by the
/// array's address, compared only while the array itself is kept alive here (so an address
/// cannot be reused by another array); a handful of entries: one per (array, paths) used.
#[derive(Default)]
struct Memo {
    entries: Vec<(Value, Value, Value)>,
}

const MEMO_ENTRIES: usize = 8;

fn same_array(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Array(a), Value::Array(b)) => regorus::Rc::ptr_eq(a, b),
        _ => false,
    }
}

/// Register the builtins on `engine`. Engines cloned from it share the memo.
pub fn register(engine: &mut Engine) -> Result<(), PolicyError> {
    let memo = Arc::new(Mutex::new(Memo::default()));
    engine
        .add_extension(
            "m365guard.index_by".to_owned(),
            2,
            Box::new(move |args: Vec<Value>| index_by_memo(&memo, args)),
        )
        .map_err(|err| PolicyError::Rego {
            message: format!("cannot register m365guard.index_by: {err}"),
        })
}

fn index_by_memo(memo: &Mutex<Memo>, args: Vec<Value>) -> anyhow::Result<Value> {
    let [items, paths] = <[Value; 2]>::try_from(args)
        .map_err(|_| anyhow::anyhow!("m365guard.index_by expects 2 arguments"))?;
    // Held while computing: a second thread asking for the same index waits for it
    // instead of computing it again.
    let mut memo = memo
        .lock()
        .map_err(|_| anyhow::anyhow!("m365guard.index_by: memo poisoned"))?;
    if let Some((_, _, result)) = memo
        .entries
        .iter()
        .find(|(i, p, _)| same_array(i, &items) && *p == paths)
    {
        return Ok(result.clone());
    }
    let result = index_by(&items, &paths)?;
    if memo.entries.len() >= MEMO_ENTRIES {
        memo.entries.remove(0);
    }
    memo.entries.push((items, paths, result.clone()));
    Ok(result)
}

/// The builtin itself (no memo).
pub fn index_by(items: &Value, paths: &Value) -> anyhow::Result<Value> {
    let Value::Array(items) = items else {
        anyhow::bail!("m365guard.index_by: items must be an array, got {items}");
    };
    let Value::Array(paths) = paths else {
        anyhow::bail!("m365guard.index_by: paths must be an array of arrays, got {paths}");
    };
    let paths: Vec<&[Value]> = paths
        .iter()
        .map(|p| match p {
            Value::Array(keys) if !keys.is_empty() => Ok(keys.as_slice()),
            other => Err(anyhow::anyhow!(
                "m365guard.index_by: each path must be a non-empty array of keys, got {other}"
            )),
        })
        .collect::<anyhow::Result<_>>()?;
    // Consecutive paths often share a prefix (["actions", ...]): resolve it once per element.
    let shared: Vec<usize> = (0..paths.len())
        .map(|j| match j.checked_sub(1) {
            Some(prev) => paths[prev]
                .iter()
                .zip(paths[j].iter())
                .take_while(|(a, b)| a == b)
                .count(),
            None => 0,
        })
        .collect();
    let mut groups: Vec<BTreeMap<Value, Vec<Value>>> = vec![BTreeMap::new(); paths.len()];
    // resolved[d]: the value after d keys of the previous path.
    let mut resolved: Vec<&Value> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let position = Value::from(i as u64);
        resolved.clear();
        resolved.push(item);
        for ((path, group), &common) in paths.iter().zip(groups.iter_mut()).zip(&shared) {
            resolved.truncate(common + 1);
            let mut value = resolved[common];
            for key in &path[common..] {
                value = &value[key];
                resolved.push(value);
            }
            if *value == Value::Undefined {
                continue;
            }
            match group.get_mut(value) {
                Some(positions) => positions.push(position.clone()),
                None => {
                    group.insert(value.clone(), vec![position.clone()]);
                }
            }
        }
    }
    Ok(Value::from(
        groups
            .into_iter()
            .map(|group| {
                Value::from(
                    group
                        .into_iter()
                        .map(|(k, v)| (k, Value::from(v)))
                        .collect::<BTreeMap<Value, Value>>(),
                )
            })
            .collect::<Vec<_>>(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine_with(rego: &str, input: &str) -> Engine {
        let mut engine = Engine::new();
        register(&mut engine).unwrap();
        engine.add_policy("t.rego".into(), rego.to_owned()).unwrap();
        engine.set_input(Value::from_json_str(input).unwrap());
        engine
    }

    #[test]
    fn groups_positions_by_value_like_a_rego_comprehension() {
        let rego = r#"package t
import rego.v1
native := m365guard.index_by(input.items, [["a", "b"], ["c"], ["l", 0]])
ab := {v: [i | some i, y in input.items; y.a.b == v] | some x in input.items; v := x.a.b}
c := {v: [i | some i, y in input.items; y.c == v] | some x in input.items; v := x.c}
l0 := {v: [i | some i, y in input.items; y.l[0] == v] | some x in input.items; v := x.l[0]}
"#;
        let input = r#"{"items": [
            {"a": {"b": true}, "c": "x", "l": [1]},
            {"a": {"b": false}, "c": ["p", "q"]},
            {"a": "not an object", "c": null, "l": []},
            {"a": {"b": true}, "c": "x", "l": {"0": 5}},
            {},
            {"a": {"b": 1}, "c": ["p", "q"], "l": [1, 2]}
        ]}"#;
        let mut engine = engine_with(rego, input);
        let native = engine.eval_rule("data.t.native".into()).unwrap();
        for (n, reference) in ["ab", "c", "l0"].into_iter().enumerate() {
            let expected = engine.eval_rule(format!("data.t.{reference}")).unwrap();
            assert_eq!(native[n], expected, "path {reference}");
        }
        assert_eq!(
            native[0][&Value::from(true)],
            Value::from(vec![Value::from(0u64), Value::from(3u64)])
        );
    }

    #[test]
    fn memo_is_shared_by_clones_and_keyed_by_array_identity() {
        let rego = "package t\nimport rego.v1\nx := m365guard.index_by(input.items, [[\"k\"]])\n";
        let mut engine = engine_with(rego, r#"{"items": [{"k": 1}, {"k": 2}, {"k": 1}]}"#);
        let mut clone = engine.clone();
        let a = engine.eval_rule("data.t.x".into()).unwrap();
        assert_eq!(a, clone.eval_rule("data.t.x".into()).unwrap());
        // Another array of the same length is not served from the memo.
        engine.set_input(
            Value::from_json_str(r#"{"items": [{"k": 3}, {"k": 3}, {"k": 3}]}"#).unwrap(),
        );
        let b = engine.eval_rule("data.t.x".into()).unwrap();
        assert_ne!(a, b);
        assert_eq!(b[0][&Value::from(3u64)].as_array().unwrap().len(), 3);
    }

    #[test]
    fn undefined_items_are_undefined_and_non_arrays_an_error() {
        let rego = "package t\nimport rego.v1\nx := m365guard.index_by(input.items, [[\"k\"]])\n";
        let mut engine = engine_with(rego, r#"{"items": {"k": 1}}"#);
        assert!(engine.eval_rule("data.t.x".into()).is_err());
        engine.set_input(Value::new_object());
        assert_eq!(
            engine.eval_rule("data.t.x".into()).unwrap(),
            Value::Undefined
        );
    }
}
