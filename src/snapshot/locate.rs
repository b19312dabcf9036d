//! Find the line of each resource in a snapshot's text, whatever its formatting.
//!
//! SARIF results point at the snapshot line of the offending resource. Snapshots we write
//! have one resource per line, but a hand-edited or pretty-printed file must work too, so
//! this is a small JSON scanner that tracks the path of keys down to each array element and
//! reports `(section path, id, line of the element's opening brace)`. It never allocates
//! for strings without escapes and runs in one pass.

enum Frame<'a> {
    Object {
        key: Option<&'a str>,
        /// Line of the opening brace.
        line: usize,
    },
    Array,
}

/// Calls `found(path, id, line)` for every object directly inside a resource array that
/// has a string `id`, and `found(key, "", line)` for every top-level key. Lines are 1-based.
/// Malformed text just ends the scan early: the caller parsed it successfully already.
pub fn for_each_resource(text: &str, found: impl FnMut(&str, &str, usize)) {
    scan(text, Vec::new(), 1, false, found);
}

/// `for_each_resource` for one top-level member alone: `value` is the text of the value of
/// the top-level key `key`, starting on line `first_line` of the snapshot. Reports what the
/// scan of the whole text reports inside that value (not the top-level key itself).
pub fn for_each_resource_in(
    key: &str,
    value: &str,
    first_line: usize,
    found: impl FnMut(&str, &str, usize),
) {
    let root = Frame::Object {
        key: Some(key),
        line: 1,
    };
    scan(value, vec![root], first_line, true, found);
}

/// The scan from a state: the frames open before `text`, its first line, and whether a
/// value is expected (after a colon).
fn scan<'a>(
    text: &'a str,
    mut stack: Vec<Frame<'a>>,
    mut line: usize,
    mut expecting_value: bool,
    mut found: impl FnMut(&str, &str, usize),
) {
    let bytes = text.as_bytes();
    let mut i = 0usize;
    let mut path = String::new();
    while i < bytes.len() {
        match bytes[i] {
            b'\n' => line += 1,
            b'{' => {
                stack.push(Frame::Object { key: None, line });
                expecting_value = false;
            }
            b'[' => {
                stack.push(Frame::Array);
                expecting_value = false;
            }
            b'}' | b']' => {
                stack.pop();
                expecting_value = false;
            }
            b':' => expecting_value = true,
            b',' => expecting_value = false,
            b'"' => {
                let start = i + 1;
                let mut j = start;
                let mut escaped = false;
                while j < bytes.len() && bytes[j] != b'"' {
                    if bytes[j] == b'\\' {
                        escaped = true;
                        j += 1;
                    }
                    j += 1;
                }
                let Some(raw) = text.get(start..j.min(bytes.len())) else {
                    return;
                };
                let depth = stack.len();
                if let Some(Frame::Object {
                    key,
                    line: obj_line,
                }) = stack.last_mut()
                {
                    if !expecting_value {
                        *key = Some(raw);
                        if depth == 1 {
                            found(raw, "", line);
                        }
                    } else if *key == Some("id") {
                        let obj_line = *obj_line;
                        if element_path(&stack, &mut path) {
                            if escaped {
                                let unescaped: String =
                                    serde_json::from_str(&format!("\"{raw}\"")).unwrap_or_default();
                                found(&path, &unescaped, obj_line);
                            } else {
                                found(&path, raw, obj_line);
                            }
                        }
                    }
                }
                expecting_value = false;
                i = j;
            }
            _ => {}
        }
        i += 1;
    }
}

/// If the innermost object is an element of a resource array, write its section path into
/// `path` and return true.
fn element_path(stack: &[Frame<'_>], path: &mut String) -> bool {
    // stack: root object, [section object, ] array, element object
    let n = stack.len();
    if n < 3 || !matches!(stack[n - 2], Frame::Array) {
        return false;
    }
    path.clear();
    for frame in &stack[..n - 2] {
        match frame {
            Frame::Object { key: Some(k), .. } => {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(k);
            }
            _ => return false,
        }
    }
    super::source::arrays().any(|a| a.path() == path.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(text: &str) -> Vec<(String, String, usize)> {
        let mut out = Vec::new();
        for_each_resource(text, |p, id, line| {
            if !id.is_empty() {
                out.push((p.to_owned(), id.to_owned(), line))
            }
        });
        out
    }

    #[test]
    fn finds_one_line_resources_and_nested_sections() {
        let text = "{\n  \"users\": [\n    {\"id\": \"u1\", \"mfa\": {\"id\": \"x\"}},\n    {\"id\": \"u2\"}\n  ],\n  \"roles\": {\n    \"assignments\": [\n      {\"principal_id\": \"u1\", \"id\": \"a1\"}\n    ]\n  }\n}\n";
        assert_eq!(
            collect(text),
            vec![
                ("users".into(), "u1".into(), 3),
                ("users".into(), "u2".into(), 4),
                ("roles.assignments".into(), "a1".into(), 8),
            ]
        );
    }

    #[test]
    fn pretty_printed_objects_point_at_their_opening_brace() {
        let text = "{\"inbox_rules\": [\n {\n  \"name\": \"a \\\"quoted\\\" } name\",\n  \"id\": \"m1/r\\u0031\"\n }\n]}";
        assert_eq!(
            collect(text),
            vec![("inbox_rules".into(), "m1/r1".into(), 2)]
        );
    }

    #[test]
    fn outbound_and_conditional_access_policies_are_told_apart() {
        let text = r#"{"outbound_spam": {"policies": [{"id": "Default"}]}, "conditional_access": {"policies": [{"id": "ca1"}]}}"#;
        let found = collect(text);
        assert_eq!(found[0].0, "outbound_spam.policies");
        assert_eq!(found[1].0, "conditional_access.policies");
    }
}
