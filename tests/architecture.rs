//! Layering rules of `src/`, checked on the source text:
//! - no import cycles between files: a file that refers to another (`use crate::…`,
//!   `super::…`, `crate::…` in code) must not be referred to back, directly or around a loop;
//! - no `map["key"]`/`value["key"]` indexing in `src/fix` and `src/collect`, where the data
//!   is an API answer: those read typed structs with optional fields.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn src() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module path of a file: `src/fix/actions/mod.rs` → `fix::actions`.
fn module_of(file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src()).unwrap();
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

/// Code without comments, string literals and `#[cfg(test)]` modules (tests may reach
/// anywhere).
fn code_of(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(i) => &text[..i],
        None => text,
    };
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let line = line.trim_start();
        if line.starts_with("//") {
            continue;
        }
        let mut in_str = false;
        let mut prev = ' ';
        for c in line.chars() {
            if c == '"' && prev != '\\' {
                in_str = !in_str;
                out.push(' ');
            } else if !in_str {
                out.push(c);
            }
            prev = c;
        }
        out.push('\n');
    }
    out
}

/// Reads a path (`a::b::c`) at `i`; a trailing `{…}` group expands into one path per item.
fn paths_at(chars: &[char], mut i: usize) -> Vec<Vec<String>> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    while i < chars.len() {
        let c = chars[i];
        if c.is_alphanumeric() || c == '_' {
            cur.push(c);
            i += 1;
        } else if c == ':' && chars.get(i + 1) == Some(&':') {
            parts.push(std::mem::take(&mut cur));
            i += 2;
        } else {
            break;
        }
    }
    if !cur.is_empty() {
        parts.push(cur);
    }
    if chars.get(i) != Some(&'{') {
        return vec![parts];
    }
    // Split the group at top-level commas and expand each item.
    let mut out = Vec::new();
    let mut depth = 0;
    let mut item_start = i + 1;
    let mut j = i;
    while j < chars.len() {
        match chars[j] {
            '{' => depth += 1,
            '}' | ',' if depth == 1 => {
                let item: String = chars[item_start..j].iter().collect();
                let item: Vec<char> = item.trim().chars().collect();
                if !item.is_empty() {
                    for tail in paths_at(&item, 0) {
                        let mut full = parts.clone();
                        full.extend(tail.into_iter().filter(|t| t != "self"));
                        out.push(full);
                    }
                }
                item_start = j + 1;
                if chars[j] == '}' {
                    break;
                }
            }
            '}' => depth -= 1,
            _ => {}
        }
        j += 1;
    }
    if out.is_empty() {
        out.push(parts);
    }
    out
}

/// Module paths a file refers to through `crate::…` and `super::…`, resolved.
fn references(module: &[String], code: &str) -> BTreeSet<Vec<String>> {
    let chars: Vec<char> = code.chars().collect();
    let mut refs = BTreeSet::new();
    for i in 0..chars.len() {
        let boundary = i == 0 || !(chars[i - 1].is_alphanumeric() || chars[i - 1] == '_');
        if !boundary {
            continue;
        }
        let head: String = chars[i..chars.len().min(i + 7)].iter().collect();
        if head == "crate::" {
            for path in paths_at(&chars, i) {
                refs.insert(path[1..].to_vec());
            }
        } else if head == "super::" {
            for mut path in paths_at(&chars, i) {
                let mut base: Vec<String> = module.to_vec();
                while path.first().map(String::as_str) == Some("super") {
                    path.remove(0);
                    base.pop();
                }
                base.extend(path);
                refs.insert(base);
            }
        }
    }
    refs
}

#[test]
fn no_import_cycles_between_files() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    files.retain(|f| !f.ends_with("main.rs"));
    let modules: BTreeMap<Vec<String>, PathBuf> =
        files.iter().map(|f| (module_of(f), f.clone())).collect();
    // Resolve a referenced path to the deepest module file that exists.
    let resolve = |path: &[String]| -> Option<Vec<String>> {
        (1..=path.len())
            .rev()
            .map(|n| path[..n].to_vec())
            .find(|p| modules.contains_key(p))
    };
    let mut edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    for (module, file) in &modules {
        let code = code_of(&std::fs::read_to_string(file).unwrap());
        for r in references(module, &code) {
            if let Some(target) = resolve(&r) {
                if &target != module && !target.is_empty() {
                    edges.entry(module.clone()).or_default().insert(target);
                }
            }
        }
    }
    // Tarjan-free: find any cycle by DFS with colours, report it as a path.
    let mut cycles = Vec::new();
    let mut colour: BTreeMap<&Vec<String>, u8> = BTreeMap::new();
    fn dfs<'a>(
        node: &'a Vec<String>,
        edges: &'a BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        colour: &mut BTreeMap<&'a Vec<String>, u8>,
        stack: &mut Vec<&'a Vec<String>>,
        cycles: &mut Vec<String>,
    ) {
        colour.insert(node, 1);
        stack.push(node);
        for next in edges.get(node).into_iter().flatten() {
            match colour.get(next).copied().unwrap_or(0) {
                0 => dfs(next, edges, colour, stack, cycles),
                1 => {
                    let start = stack.iter().position(|n| *n == next).unwrap();
                    let names: Vec<String> = stack[start..]
                        .iter()
                        .chain(std::iter::once(&next))
                        .map(|m| m.join("::"))
                        .collect();
                    cycles.push(names.join(" -> "));
                }
                _ => {}
            }
        }
        stack.pop();
        colour.insert(node, 2);
    }
    for module in modules.keys() {
        if colour.get(module).copied().unwrap_or(0) == 0 {
            dfs(module, &edges, &mut colour, &mut Vec::new(), &mut cycles);
        }
    }
    assert!(
        cycles.is_empty(),
        "{} import cycle(s) between files in src/:\n{}",
        cycles.len(),
        cycles.join("\n")
    );
}

#[test]
fn no_indexing_of_api_answers_in_fix_and_collect() {
    let mut files = Vec::new();
    rust_files(&src().join("fix"), &mut files);
    rust_files(&src().join("collect"), &mut files);
    let mut hits = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let text = match text.find("#[cfg(test)]") {
            Some(i) => &text[..i],
            None => &text,
        };
        for (n, line) in text.lines().enumerate() {
            let trimmed = line.trim_start();
            if trimmed.starts_with("//") {
                continue;
            }
            // `ident["…"]` or `)["…"]` / `]["…"]`: indexing with a string key.
            let b = line.as_bytes();
            for i in 1..b.len().saturating_sub(1) {
                if b[i] == b'[' && b[i + 1] == b'"' {
                    let p = b[i - 1];
                    if p.is_ascii_alphanumeric() || p == b'_' || p == b')' || p == b']' {
                        hits.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
                        break;
                    }
                }
            }
        }
    }
    assert!(
        hits.is_empty(),
        "index API answers through typed structs with Option fields, not by key:\n{}",
        hits.join("\n")
    );
}

/// Cargo's `autotests` is off (one test binary): a `tests/*.rs` file that `tests/tests.rs`
/// does not declare would silently never run.
#[test]
fn every_test_file_is_a_module_of_the_test_binary() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests");
    let root = std::fs::read_to_string(dir.join("tests.rs")).unwrap();
    let declared: std::collections::BTreeSet<String> = root
        .lines()
        .filter_map(|l| l.strip_prefix("mod "))
        .map(|m| m.trim_end_matches(';').to_owned())
        .collect();
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let is_module = (path.extension().is_some_and(|e| e == "rs") && name != "tests")
            || (path.is_dir() && path.join("mod.rs").exists());
        if is_module && !declared.contains(&name) {
            missing.push(name);
        }
    }
    assert!(
        missing.is_empty(),
        "declare these in tests/tests.rs: {missing:?}"
    );
}
