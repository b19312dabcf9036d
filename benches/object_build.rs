//! What building one regorus object costs, three ways: the figure behind README
//! "Performance" (sixth round) and issue #9's upstream request for a constructor of
//! regorus' compact (`Frozen`) objects.
//!
//! `cargo bench --bench object_build` (release build). It builds `OBJECTS` objects with the
//! eleven keys of a snapshot inbox rule, each from its key/value pairs in text order, as
//! `policy::input` receives them from the JSON parser:
//! - **btree**: the pairs collected into a `BTreeMap`, then `Value::from` (what the parse
//!   does: regorus 0.14.1 offers no other way to its compact form);
//! - **template**: a frozen object with the same keys and null values, cloned and filled
//!   with `Object::insert` (which keeps the compact form for an existing key);
//! - **slice**: the pairs sorted by a precomputed order and put into a boxed slice: not a
//!   regorus value at all, but what its compact form stores. The lower bound of a public
//!   "frozen object from sorted pairs" constructor.
//!
//! Prints the median time per object over `ROUNDS` rounds (after one warm-up round), the
//! three ways alternating within each round, and checks that the two regorus ways build
//! equal objects. The figures are informational; it exits 1 only when that check fails.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use regorus::Value;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const OBJECTS: usize = 1_000_000;
const ROUNDS: usize = 7;

/// The members of a snapshot inbox rule, in the order the snapshot writes them.
const KEYS: [&str; 11] = [
    "id",
    "mailbox_id",
    "mailbox_upn",
    "rule_id",
    "exchange_identity",
    "source",
    "name",
    "enabled",
    "priority",
    "actions",
    "conditions",
];

fn main() {
    let keys: Vec<Value> = KEYS.iter().map(|k| Value::from(*k)).collect();
    // One distinct string per member, as the ids and names of real rules are.
    let values: Vec<Vec<Value>> = (0..OBJECTS)
        .map(|i| {
            (0..KEYS.len())
                .map(|j| Value::from(format!("value-{i}-{j}-of-some-length")))
                .collect()
        })
        .collect();
    let mut sorted_order: Vec<usize> = (0..KEYS.len()).collect();
    sorted_order.sort_by(|&a, &b| keys[a].cmp(&keys[b]));
    let template = Value::from(
        keys.iter()
            .map(|k| (k.clone(), Value::Null))
            .collect::<BTreeMap<Value, Value>>(),
    );
    let Ok(template) = template.as_object() else {
        eprintln!("the template is not an object");
        std::process::exit(1);
    };

    let mut times: [Vec<Duration>; 3] = [Vec::new(), Vec::new(), Vec::new()];
    for round in 0..=ROUNDS {
        let t = Instant::now();
        let btree: Vec<Value> = values
            .iter()
            .map(|member_values| {
                let pairs: Vec<(Value, Value)> = keys
                    .iter()
                    .cloned()
                    .zip(member_values.iter().cloned())
                    .collect();
                Value::from(pairs.into_iter().collect::<BTreeMap<Value, Value>>())
            })
            .collect();
        let btree_time = t.elapsed();

        let t = Instant::now();
        let filled: Vec<Value> = values
            .iter()
            .map(|member_values| {
                let mut object = template.clone();
                for (key, value) in keys.iter().zip(member_values) {
                    object.insert(key.clone(), value.clone());
                }
                Value::from(object)
            })
            .collect();
        let template_time = t.elapsed();

        let t = Instant::now();
        let slices: Vec<Box<[(Value, Value)]>> = values
            .iter()
            .map(|member_values| {
                let pairs: Vec<(Value, Value)> = sorted_order
                    .iter()
                    .map(|&i| (keys[i].clone(), member_values[i].clone()))
                    .collect();
                pairs.into_boxed_slice()
            })
            .collect();
        let slice_time = t.elapsed();

        if btree != filled {
            eprintln!("the template way built different objects");
            std::process::exit(1);
        }
        drop((btree, filled, slices));
        if round > 0 {
            times[0].push(btree_time);
            times[1].push(template_time);
            times[2].push(slice_time);
        }
    }
    println!(
        "{OBJECTS} objects of {} members, median of {ROUNDS} rounds:",
        KEYS.len()
    );
    for (name, mut runs) in ["btree", "template", "slice"].into_iter().zip(times) {
        runs.sort();
        let median = runs[runs.len() / 2];
        let per_object = median.as_nanos() as f64 / OBJECTS as f64;
        println!("  {name:<9} {per_object:>6.0} ns per object ({median:.3?} in all)");
    }
}
