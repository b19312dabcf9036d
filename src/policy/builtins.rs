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
//! `m365guard.positions_unset(items, paths)` is its complement for absent values: for each
//! path, the ascending positions `i` where `items[i].p1.p2...` is undefined, `null` or
//! `false`, the candidates of a `not items[i].p1.p2` or `items[i].p1.p2 == null` test
//! (the rule still makes the test; the builtin only narrows the elements it visits).
//!
//! `m365guard.object_by(items, path)` is `{x.p1.p2...: x | some x in items}` (elements without
//! the key left out; two different elements with one key are an error, as in Rego).
//! `m365guard.object_by_lower(items, path)` is `{lower(x.p1.p2...): x | some x in items}`
//! (a key that is not a string is an error, as `lower` is).
//!
//! Why: in a 300k-element array every pass of the interpreter costs ~0.3 s, mostly cache
//! misses dereferencing each element; a rule that tests several alternatives (one `deny`
//! body each) pays that per alternative. One native pass reads each element once for all
//! paths, and the result is shared by every rule of an evaluation and, through a memo keyed
//! by the identity of the array, by every evaluation thread of a scan.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};

use regorus::{Engine, Value};

use super::PolicyError;

/// Results of the builtins for the arrays seen by the engines sharing this memo. Keyed by the
/// array's address, compared only while the array itself is kept alive here (so an address
/// cannot be reused by another array); a handful of entries: one per (array, paths) used.
#[derive(Default)]
struct Memo {
    entries: Vec<MemoEntry>,
}

/// One builtin call's arguments and its result, computed once. The cell is filled outside
/// the memo's lock: a thread asking for ANOTHER result does not wait while this one is
/// computed (at 100k users the inbox-rule index takes ~0.25 s, during which the other
/// evaluation thread used to block on the memo for its own, unrelated index).
struct MemoEntry {
    name: &'static str,
    items: Value,
    paths: Value,
    result: Arc<OnceLock<Result<Value, String>>>,
}

const MEMO_ENTRIES: usize = 16;

type Builtin = fn(&Value, &Value) -> anyhow::Result<Value>;

const BUILTINS: [(&str, Builtin); 4] = [
    ("m365guard.index_by", index_by),
    ("m365guard.positions_unset", positions_unset),
    ("m365guard.object_by", object_by),
    ("m365guard.object_by_lower", object_by_lower),
];

fn same_array(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Array(a), Value::Array(b)) => regorus::Rc::ptr_eq(a, b),
        _ => false,
    }
}

/// Register the builtins on `engine`. Engines cloned from it share the memo.
pub fn register(engine: &mut Engine) -> Result<(), PolicyError> {
    let memo = Arc::new(Mutex::new(Memo::default()));
    for (name, builtin) in BUILTINS {
        let memo = memo.clone();
        engine
            .add_extension(
                name.to_owned(),
                2,
                Box::new(move |args: Vec<Value>| memoised(&memo, name, builtin, args)),
            )
            .map_err(|err| PolicyError::Rego {
                message: format!("cannot register {name}: {err}"),
            })?;
    }
    engine
        .add_extension(
            "m365guard.days_before".to_owned(),
            2,
            Box::new(|args: Vec<Value>| days_before(&args)),
        )
        .map_err(|err| PolicyError::Rego {
            message: format!("cannot register m365guard.days_before: {err}"),
        })?;
    Ok(())
}

/// `m365guard.days_before(time, days)`: the RFC 3339 UTC time (`…Z`, whole seconds) `days`
/// days before `time`, so rules can compare timestamps as strings (the snapshot writes
/// every time in that form) without regorus' optional `time` builtins. Rules use it for
/// review windows ("added in the 30 days before collection").
pub fn days_before(args: &[Value]) -> anyhow::Result<Value> {
    let (Some(time), Some(days)) = (args.first(), args.get(1)) else {
        anyhow::bail!("m365guard.days_before takes a time and a number of days");
    };
    let time = chrono::DateTime::parse_from_rfc3339(time.as_string()?.as_ref())?;
    let days = days.as_i64()?;
    // Checked: a huge `review_window_days` in m365guard.toml must be an error, not a panic.
    let start = chrono::TimeDelta::try_days(days)
        .and_then(|d| time.with_timezone(&chrono::Utc).checked_sub_signed(d))
        .ok_or_else(|| anyhow::anyhow!("m365guard.days_before: {days} days is out of range"))?;
    Ok(Value::from(
        start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    ))
}

fn memoised(
    memo: &Mutex<Memo>,
    name: &'static str,
    builtin: Builtin,
    args: Vec<Value>,
) -> anyhow::Result<Value> {
    let [items, paths] =
        <[Value; 2]>::try_from(args).map_err(|_| anyhow::anyhow!("{name} expects 2 arguments"))?;
    let cell = {
        let mut memo = memo
            .lock()
            .map_err(|_| anyhow::anyhow!("{name}: memo poisoned"))?;
        let found = memo
            .entries
            .iter()
            .find(|e| e.name == name && same_array(&e.items, &items) && e.paths == paths);
        match found {
            Some(entry) => entry.result.clone(),
            None => {
                if memo.entries.len() >= MEMO_ENTRIES {
                    memo.entries.remove(0);
                }
                let cell = Arc::new(OnceLock::new());
                memo.entries.push(MemoEntry {
                    name,
                    items: items.clone(),
                    paths: paths.clone(),
                    result: cell.clone(),
                });
                cell
            }
        }
    };
    // A second thread asking for the same result waits here for the first one's, instead of
    // computing it again; an error is kept too (the same arguments give the same error).
    cell.get_or_init(|| builtin(&items, &paths).map_err(|err| format!("{err:#}")))
        .clone()
        .map_err(anyhow::Error::msg)
}

/// The keys of each path (non-empty arrays), or an error naming the builtin.
fn key_paths<'a>(name: &str, paths: &'a Value) -> anyhow::Result<Vec<&'a [Value]>> {
    let Value::Array(paths) = paths else {
        anyhow::bail!("{name}: paths must be an array of arrays, got {paths}");
    };
    paths
        .iter()
        .map(|p| match p {
            Value::Array(keys) if !keys.is_empty() => Ok(keys.as_slice()),
            other => Err(anyhow::anyhow!(
                "{name}: each path must be a non-empty array of keys, got {other}"
            )),
        })
        .collect()
}

/// `item.k1.k2...` with Rego reference semantics (Undefined when any step is missing).
fn resolve<'a>(item: &'a Value, path: &[Value]) -> &'a Value {
    path.iter().fold(item, |value, key| &value[key])
}

/// The builtin `m365guard.positions_unset` (no memo).
pub fn positions_unset(items: &Value, paths: &Value) -> anyhow::Result<Value> {
    let Value::Array(items) = items else {
        anyhow::bail!("m365guard.positions_unset: items must be an array, got {items}");
    };
    let paths = key_paths("m365guard.positions_unset", paths)?;
    let mut positions: Vec<Vec<Value>> = vec![Vec::new(); paths.len()];
    for (i, item) in items.iter().enumerate() {
        for (path, found) in paths.iter().zip(positions.iter_mut()) {
            if matches!(
                resolve(item, path),
                Value::Undefined | Value::Null | Value::Bool(false)
            ) {
                found.push(Value::from(i as u64));
            }
        }
    }
    Ok(Value::from(
        positions.into_iter().map(Value::from).collect::<Vec<_>>(),
    ))
}

/// The builtin `m365guard.object_by` (no memo): `path` is one array of keys.
pub fn object_by(items: &Value, path: &Value) -> anyhow::Result<Value> {
    keyed_object("m365guard.object_by", items, path, |key| Ok(key.clone()))
}

/// The builtin `m365guard.object_by_lower` (no memo): `object_by` with lower-case keys. Why:
/// `{lower(u.user_principal_name): u | some u in input.users}` costs 0.23 s of CPU at 100k
/// users in the interpreter (a `lower` call per user), the native pass a fraction of it.
pub fn object_by_lower(items: &Value, path: &Value) -> anyhow::Result<Value> {
    keyed_object("m365guard.object_by_lower", items, path, |key| match key {
        Value::String(s) => Ok(Value::from(s.to_lowercase())),
        other => anyhow::bail!("m365guard.object_by_lower: keys must be strings, got {other}"),
    })
}

/// `{key(x.p1.p2...): x | some x in items}`, elements without the path left out.
fn keyed_object(
    name: &str,
    items: &Value,
    path: &Value,
    key_of: impl Fn(&Value) -> anyhow::Result<Value>,
) -> anyhow::Result<Value> {
    let Value::Array(items) = items else {
        anyhow::bail!("{name}: items must be an array, got {items}");
    };
    let path = match path {
        Value::Array(keys) if !keys.is_empty() => keys.as_slice(),
        other => anyhow::bail!("{name}: path must be a non-empty array of keys, got {other}"),
    };
    let mut object = BTreeMap::new();
    for item in items.iter() {
        let found = resolve(item, path);
        if *found == Value::Undefined {
            continue;
        }
        let key = key_of(found)?;
        match object.get(&key) {
            Some(existing) if existing != item => {
                anyhow::bail!("{name}: object keys must be unique, {key} is repeated")
            }
            Some(_) => {}
            None => {
                object.insert(key, item.clone());
            }
        }
    }
    Ok(Value::from(object))
}

/// The builtin `m365guard.index_by` (no memo).
pub fn index_by(items: &Value, paths: &Value) -> anyhow::Result<Value> {
    let Value::Array(items) = items else {
        anyhow::bail!("m365guard.index_by: items must be an array, got {items}");
    };
    let paths = key_paths("m365guard.index_by", paths)?;
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
    let first_path: &[Value] = paths.first().copied().unwrap_or_default();
    let elements = items.as_slice();
    for (i, item) in elements.iter().enumerate() {
        // The memory of the elements ahead (see `prefetch`): the pass mostly waits for it.
        crate::prefetch::along_path(elements.get(i + 1..).unwrap_or_default(), first_path);
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

    /// What policies/README.md documents: UTC, whole seconds, negative days count forward,
    /// and every bad argument is an error (never a panic).
    #[test]
    fn days_before_semantics_and_errors() {
        let call = |t: Value, d: Value| days_before(&[t, d]);
        let ok = |t: &str, d: i64| call(Value::from(t), Value::from(d)).unwrap();
        assert_eq!(
            ok("2026-01-01T06:00:00Z", 30),
            Value::from("2025-12-02T06:00:00Z")
        );
        assert_eq!(
            ok("2026-01-01T06:00:00.750+02:00", 1),
            Value::from("2025-12-31T04:00:00Z")
        );
        assert_eq!(
            ok("2025-01-01T00:00:00Z", -365),
            Value::from("2026-01-01T00:00:00Z")
        );
        for (t, d) in [
            (Value::from("2026-01-01"), Value::from(1)),
            (Value::Null, Value::from(1)),
            (Value::from("2026-01-01T00:00:00Z"), Value::from(1.5)),
            (Value::from("2026-01-01T00:00:00Z"), Value::from("30")),
            (Value::from("2026-01-01T00:00:00Z"), Value::from(i64::MAX)),
            (Value::from("2026-01-01T00:00:00Z"), Value::from(i64::MIN)),
        ] {
            assert!(call(t.clone(), d.clone()).is_err(), "{t} {d}");
        }
        assert!(days_before(&[Value::from("2026-01-01T00:00:00Z")]).is_err());
    }

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
        // Longer than the farthest prefetch (`prefetch::along_path`), so every stage runs on
        // every kind of element; the groups are still the comprehensions'.
        let items = Value::from_json_str(input).unwrap()["items"].clone();
        let many: Vec<Value> = (0..6)
            .flat_map(|_| items.as_array().unwrap().clone())
            .collect();
        assert!(many.len() > 30);
        let mut long_input = Value::new_object();
        long_input
            .as_object_mut()
            .unwrap()
            .insert(Value::from("items"), Value::from(many));
        let mut engine = engine_with(rego, "{}");
        engine.set_input(long_input);
        let native = engine.eval_rule("data.t.native".into()).unwrap();
        for (n, reference) in ["ab", "c", "l0"].into_iter().enumerate() {
            let expected = engine.eval_rule(format!("data.t.{reference}")).unwrap();
            assert_eq!(native[n], expected, "path {reference}, 36 items");
        }
        assert_eq!(native[0][&Value::from(true)].as_array().unwrap().len(), 12);
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

    /// Set by the test below once the second call returned; the slow builtin waits for it.
    static OTHER_CALL_RETURNED: std::sync::atomic::AtomicBool =
        std::sync::atomic::AtomicBool::new(false);

    /// A builtin that returns only after another call on the same memo has returned (or
    /// gives up after 20 s), as a long index build does while the other thread needs its own.
    fn slow(_: &Value, _: &Value) -> anyhow::Result<Value> {
        let start = std::time::Instant::now();
        while !OTHER_CALL_RETURNED.load(std::sync::atomic::Ordering::SeqCst) {
            anyhow::ensure!(
                start.elapsed() < std::time::Duration::from_secs(20),
                "the other call waited for this one"
            );
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        Ok(Value::from("slow"))
    }

    #[test]
    fn a_result_being_computed_does_not_hold_up_another() {
        let memo = Mutex::new(Memo::default());
        let items = Value::from_json_str(r#"[{"k": 1}]"#).unwrap();
        let paths = Value::from_json_str(r#"[["k"]]"#).unwrap();
        std::thread::scope(|scope| {
            let slow_call =
                scope.spawn(|| memoised(&memo, "slow", slow, vec![items.clone(), paths.clone()]));
            // Wait until the slow call holds its entry, then ask for another result.
            // (Bounded: had the slow call kept the memo locked, it gives up after 20 s.)
            while memo.lock().unwrap().entries.is_empty() && !slow_call.is_finished() {
                std::thread::yield_now();
            }
            let other = memoised(
                &memo,
                "m365guard.index_by",
                index_by,
                vec![items.clone(), paths.clone()],
            );
            OTHER_CALL_RETURNED.store(true, std::sync::atomic::Ordering::SeqCst);
            assert!(other.is_ok());
            assert_eq!(slow_call.join().unwrap().unwrap(), Value::from("slow"));
        });
        // Both results are kept: a second ask is answered from the memo.
        assert_eq!(memo.lock().unwrap().entries.len(), 2);
        let again = memoised(
            &memo,
            "slow",
            |_, _| anyhow::bail!("recomputed"),
            vec![items, paths],
        );
        assert_eq!(again.unwrap(), Value::from("slow"));
    }

    #[test]
    fn positions_unset_and_object_by_match_their_rego_definitions() {
        let rego = r#"package t
import rego.v1
unset := m365guard.positions_unset(input.items, [["a", "b"], ["c"]])
unset_ab := [i | some i, x in input.items; not x.a.b]
null_ab := [i | some i, x in input.items; x.a.b == null]
unset_c := [i | some i, x in input.items; not x.c]
null_c := [i | some i, x in input.items; x.c == null]
by_id := m365guard.object_by(input.items, ["id"])
by_id_rego := {x.id: x | some x in input.items}
by_lower := m365guard.object_by_lower(input.items, ["id"])
by_lower_rego := {lower(x.id): x | some x in input.items}
"#;
        let input = r#"{"items": [
            {"id": "p", "a": {"b": true}, "c": "x"},
            {"id": "q", "a": {"b": false}, "c": null},
            {"a": "not an object", "c": false},
            {"id": "r", "a": {"b": null}},
            {"id": "s", "a": {"b": []}, "c": 0},
            {}
        ]}"#;
        let mut engine = engine_with(rego, input);
        let unset = engine.eval_rule("data.t.unset".into()).unwrap();
        for (n, (not_rule, null_rule)) in [("unset_ab", "null_ab"), ("unset_c", "null_c")]
            .into_iter()
            .enumerate()
        {
            let mut expected: Vec<Value> = Vec::new();
            for name in [not_rule, null_rule] {
                let v = engine.eval_rule(format!("data.t.{name}")).unwrap();
                expected.extend(v.as_array().unwrap().iter().cloned());
            }
            expected.sort();
            expected.dedup();
            assert_eq!(unset[n], Value::from(expected), "path {n}");
        }
        assert_eq!(
            engine.eval_rule("data.t.by_id".into()).unwrap(),
            engine.eval_rule("data.t.by_id_rego".into()).unwrap()
        );
        let by_lower = engine.eval_rule("data.t.by_lower".into()).unwrap();
        assert_eq!(
            by_lower,
            engine.eval_rule("data.t.by_lower_rego".into()).unwrap()
        );
        assert_eq!(by_lower[&Value::from("p")]["c"], Value::from("x"));
        // Keys differing only in case collide once lower-cased: an error, as in Rego; and a
        // key that is not a string is an error, as `lower` is.
        for items in [
            r#"{"items": [{"id": "P", "n": 1}, {"id": "p", "n": 2}]}"#,
            r#"{"items": [{"id": 7}]}"#,
            r#"{"items": [{"id": null}]}"#,
        ] {
            engine.set_input(Value::from_json_str(items).unwrap());
            assert!(
                engine.eval_rule("data.t.by_lower".into()).is_err(),
                "{items}"
            );
            assert!(
                engine.eval_rule("data.t.by_lower_rego".into()).is_err(),
                "{items}"
            );
        }
        // Two different elements with one key: an error, as the Rego comprehension.
        engine.set_input(
            Value::from_json_str(r#"{"items": [{"id": "p", "n": 1}, {"id": "p", "n": 2}]}"#)
                .unwrap(),
        );
        assert!(engine.eval_rule("data.t.by_id".into()).is_err());
        assert!(engine.eval_rule("data.t.by_id_rego".into()).is_err());
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
