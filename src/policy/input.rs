//! Build the Rego input (a regorus `Value`) from snapshot text, in parallel.
//!
//! Parsing a 100k-user snapshot (~200 MB) into regorus values is the most expensive step of
//! a scan. The top-level sections are located with a cheap borrowed scan, large arrays are
//! cut into chunks at element boundaries, and the chunks are parsed on a work queue (each
//! task also noting the lines of the resources it parsed), then stitched back together.
//! Element order and content are exactly those of a whole-document parse. The typed
//! snapshot is then deserialized from this value (`snapshot::io::parse_from_value`), unless
//! `Parsed::lossy` says the value hides something the text parse would refuse.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use regorus::Value;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// Arrays larger than this are parsed in chunks.
const CHUNK_BYTES: usize = 8 << 20;

/// One unit of parsing work: a top-level key, or a chunk of a large top-level array.
struct Task<'a> {
    key: &'a str,
    /// Position of the chunk within its array (0 for whole sections).
    chunk: usize,
    /// A whole section's text, or (for a chunk of a large array) its elements' texts,
    /// borrowed from the snapshot text: nothing is copied.
    texts: Vec<&'a str>,
    /// For a chunk of an array: the line of each element's opening brace.
    lines: Vec<u32>,
    /// For a whole member: the line its value starts on.
    value_line: usize,
    len: usize,
    is_array_chunk: bool,
    /// Whether its section's elements were found at lines (`Cut::AtLines`).
    cut_at_lines: bool,
}

/// The Rego input parsed from snapshot text.
pub struct Parsed {
    pub value: Value,
    /// Whether the text held something the value does not show: a repeated object key
    /// (the value keeps the last one) or a number with a fraction or exponent (the value
    /// does not say whether `5.0` was written `5`). A typed model deserialized from such a
    /// value could accept what a parse of the text rejects, so the caller parses the text.
    pub lossy: bool,
    /// Where the top-level members lie in the text, taken in the split's byte scan, so the
    /// lines of the resources need no second scan of the whole text (`scan::Lines`).
    /// `None` when the text was parsed whole, is `lossy`, or writes an object key with an
    /// escape (a line scan of the text reads keys as written, the value unescaped): the
    /// caller scans the text for the lines then.
    pub layout: Option<Vec<SectionLayout>>,
    /// An object key was written with an escape (see `layout`).
    escaped_key: bool,
    /// For a chunk of an array: `SectionLayout::id_lines` of its elements.
    id_lines: Vec<u32>,
    /// For a whole member: `SectionLayout::member_lines`.
    member_lines: Option<Vec<(String, Vec<u32>)>>,
}

/// A top-level member of the snapshot object: where its key and value are in the text.
pub struct SectionLayout {
    pub key: String,
    /// Line (1-based) of the key's opening quote.
    pub key_line: usize,
    /// For a member parsed whole: what `snapshot::locate` reports inside it (by resource
    /// array path, the lines of its elements with a non-empty id, in text order), scanned
    /// by the task that parsed it, right after its parse, while its text is in memory.
    pub member_lines: Option<Vec<(String, Vec<u32>)>>,
    /// For an array parsed in chunks (the caller need not scan its text): the line of the
    /// opening brace of each element that is an object with a non-empty string `id`, in
    /// order; taken from each element's value right after its parse, while it is in cache.
    pub id_lines: Option<Vec<u32>>,
}

/// The line of an array element that is not an object.
const NOT_AN_OBJECT: u32 = u32::MAX;

/// Parse `text` into a Rego input value using `threads` threads.
pub fn parse_parallel(text: &str, threads: usize) -> Result<Parsed, String> {
    parse_in_chunks(text, threads, CHUNK_BYTES)
}

/// `parse_parallel` with chunks of about `chunk_bytes` (tests cut small texts into chunks).
pub(crate) fn parse_in_chunks(
    text: &str,
    threads: usize,
    chunk_bytes: usize,
) -> Result<Parsed, String> {
    // First with the large arrays of the stable layout cut at their lines (see
    // `stable_array_end`): every piece is then parsed as exactly one value, so a wrong cut
    // can only fail, and a failure is parsed again with the exact byte scan, whose error
    // (or result) is the one that counts.
    let (parsed, cut_at_lines) = parse_split(text, threads, chunk_bytes, Cut::AtLines);
    match parsed {
        Err(_) if cut_at_lines => parse_split(text, threads, chunk_bytes, Cut::Exact).0,
        parsed => parsed,
    }
}

/// How `split_sections` finds the elements of a large top-level array.
#[derive(Clone, Copy, PartialEq)]
enum Cut {
    /// One element per line where the array is written in the stable layout (a newline
    /// search per element), the exact scan elsewhere.
    AtLines,
    /// The byte scan of every element (`value_end`), for any layout.
    Exact,
}

/// One parse of `text` with the given cut; also says whether any array was cut at lines.
fn parse_split(
    text: &str,
    threads: usize,
    chunk_bytes: usize,
    cut: Cut,
) -> (Result<Parsed, String>, bool) {
    // This thread splits the text while the others wait; all then take chunks from the
    // queue. `None` means the text is not an object of plain keys: parse it whole so its
    // error is reported.
    // The tasks, and whether the top-level object repeats a key.
    let prepared: Prepared<'_> = OnceLock::new();
    let next = AtomicUsize::new(0);
    let parsed: Mutex<Vec<(usize, Result<Parsed, String>)>> = Mutex::new(Vec::new());
    let work = |tasks: &[Task<'_>]| loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        let Some(task) = tasks.get(i) else { break };
        let value = if task.is_array_chunk {
            parse_elements(&task.texts, &task.lines)
        } else {
            let interner = RefCell::new(Interner::default());
            task.texts.first().map_or(
                Ok(Parsed {
                    value: Value::Null,
                    lossy: false,
                    layout: None,
                    escaped_key: false,
                    id_lines: Vec::new(),
                    member_lines: None,
                }),
                |text| {
                    parse_with(&interner, text).map(|mut parsed| {
                        parsed.member_lines = Some(member_lines(task.key, text, task.value_line));
                        parsed
                    })
                },
            )
        };
        if let Ok(mut parsed) = parsed.lock() {
            parsed.push((i, value));
        }
    };
    std::thread::scope(|scope| {
        for _ in 1..threads {
            scope.spawn(|| {
                if let Some((tasks, _, _)) = prepared.wait() {
                    work(tasks);
                }
            });
        }
        let t = std::time::Instant::now();
        let split = split_sections(text, chunk_bytes, cut).map(|(sections, repeated)| {
            let layout = sections.iter().map(Section::layout).collect();
            (tasks(sections), repeated, layout)
        });
        crate::profile::record("parse: split into chunks", t);
        if let Some((tasks, _, _)) = prepared.get_or_init(|| split) {
            work(tasks);
        }
    });
    match prepared.into_inner().flatten() {
        Some((tasks, repeated_key, mut layout)) => {
            let cut_at_lines = tasks.iter().any(|t| t.cut_at_lines);
            let mut parsed = parsed.into_inner().unwrap_or_default();
            parsed.sort_by_key(|(i, _)| *i);
            let assembled =
                assemble(&tasks, parsed).map(|(mut p, mut id_lines, mut member_lines)| {
                    p.lossy |= repeated_key;
                    if !p.lossy && !p.escaped_key {
                        for section in &mut layout {
                            if section.id_lines.is_some() {
                                section.id_lines = id_lines.remove(section.key.as_str());
                            } else {
                                section.member_lines = member_lines.remove(section.key.as_str());
                            }
                        }
                        p.layout = Some(layout);
                    }
                    p
                });
            (assembled, cut_at_lines)
        }
        None => (parse_with(&RefCell::new(Interner::default()), text), false),
    }
}

/// The tasks, whether the top-level object repeats a key, and the members' layout;
/// `None` when the text is not an object of plain keys (parsed whole).
type Prepared<'a> = OnceLock<Option<(Vec<Task<'a>>, bool, Vec<SectionLayout>)>>;

/// A top-level member of the snapshot object: its key, its value text and, for an array
/// larger than a chunk, its chunks: each a run of consecutive elements' texts.
struct Section<'a> {
    key: &'a str,
    text: &'a str,
    /// Each chunk: its elements' texts and the lines of their opening braces
    /// (`NOT_AN_OBJECT` for an element that is not an object).
    chunks: Vec<(Vec<&'a str>, Vec<u32>)>,
    key_line: usize,
    value_line: usize,
    /// Whether its elements were found at lines (`stable_array_end`), not by the byte scan.
    cut_at_lines: bool,
}

impl Section<'_> {
    /// The layout; a chunked array's `id_lines` (empty here) are filled after the parse.
    fn layout(&self) -> SectionLayout {
        SectionLayout {
            key: self.key.to_owned(),
            key_line: self.key_line,
            member_lines: None,
            id_lines: (self.chunks.len() > 1).then(Vec::new),
        }
    }
}

/// Find the top-level members of the JSON object `text` and cut its large arrays into
/// chunks of about `chunk_bytes` at element boundaries, in ONE byte scan (strings, escapes
/// and nesting tracked; ~10x faster than deserializing `RawValue`s twice). Exact for valid
/// JSON; invalid JSON is still rejected by the parse of the pieces (and by the typed parse,
/// whose error is the one reported). `None` when `text` is not an object of plain
/// (unescaped) keys: the caller parses it whole. A repeated key keeps its last value, as a
/// whole-document parse does (and the flag returned with the sections says so). Lines are
/// counted as `snapshot::locate` counts them: newlines outside strings.
///
/// With `Cut::AtLines`, a top-level array written in the stable layout (`[`, one element per
/// line, `  ]`) is cut at its lines instead (`stable_array_end`): at 1M users the byte scan
/// of 2.4 GB was ~2.7 s of CPU before any chunk could be parsed.
fn split_sections(text: &str, chunk_bytes: usize, cut: Cut) -> Option<(Vec<Section<'_>>, bool)> {
    let b = text.as_bytes();
    let mut line = 1usize;
    let mut i = skip_ws(b, 0, &mut line);
    if b.get(i) != Some(&b'{') {
        return None;
    }
    i = skip_ws(b, i + 1, &mut line);
    let mut sections: BTreeMap<&str, Section<'_>> = BTreeMap::new();
    let mut repeated = false;
    if b.get(i) == Some(&b'}') {
        i += 1;
    } else {
        loop {
            if b.get(i) != Some(&b'"') {
                return None;
            }
            let key_line = line;
            let key_end = string_end(b, i)?;
            let key = text.get(i + 1..key_end - 1)?;
            if key.contains('\\') {
                return None;
            }
            i = skip_ws(b, key_end, &mut line);
            if b.get(i) != Some(&b':') {
                return None;
            }
            i = skip_ws(b, i + 1, &mut line);
            let value_line = line;
            let mut element_lines = Vec::new();
            let at_lines = match cut {
                Cut::AtLines => stable_array_end(b, i, &mut line, &mut element_lines),
                Cut::Exact => None,
            };
            let cut_at_lines = at_lines.is_some();
            let (end, commas) = match at_lines {
                Some(found) => found,
                None => value_end(b, i, &mut line, &mut element_lines)?,
            };
            let value = text.get(i..end)?;
            let chunks = if end - i > chunk_bytes && commas.len() > 1 {
                // Elements: the content between the brackets cut at the commas, grouped
                // into runs of about `chunk_bytes`.
                let mut chunks = Vec::new();
                let mut run = Vec::new();
                let mut run_lines = Vec::new();
                let mut run_start = i + 1;
                let mut start = i + 1;
                // One line per element: `element_lines` has one more entry than commas.
                let ends = commas.into_iter().chain([end - 1]);
                for (comma, &line) in ends.zip(&element_lines) {
                    run.push(text.get(start..comma)?);
                    run_lines.push(line);
                    start = comma + 1;
                    if start - run_start >= chunk_bytes {
                        chunks.push((std::mem::take(&mut run), std::mem::take(&mut run_lines)));
                        run_start = start;
                    }
                }
                if !run.is_empty() {
                    chunks.push((run, run_lines));
                }
                chunks
            } else {
                Vec::new()
            };
            repeated |= sections
                .insert(
                    key,
                    Section {
                        key,
                        text: value,
                        chunks,
                        key_line,
                        value_line,
                        cut_at_lines,
                    },
                )
                .is_some();
            i = skip_ws(b, end, &mut line);
            match b.get(i) {
                Some(b',') => i = skip_ws(b, i + 1, &mut line),
                Some(b'}') => {
                    i += 1;
                    break;
                }
                _ => return None,
            }
        }
    }
    if skip_ws(b, i, &mut line) != b.len() {
        return None;
    }
    Some((sections.into_values().collect(), repeated))
}

fn skip_ws(b: &[u8], mut i: usize, line: &mut usize) -> usize {
    loop {
        match b.get(i) {
            Some(b' ' | b'\t' | b'\r') => {}
            Some(b'\n') => *line += 1,
            _ => return i,
        }
        i += 1;
    }
}

/// End (exclusive) of the string starting with the quote at `start` (`memchr2` skips the
/// string's plain bytes many at a time: most of a snapshot's bytes are in strings).
fn string_end(b: &[u8], start: usize) -> Option<usize> {
    let mut i = start + 1;
    loop {
        i += memchr::memchr2(b'"', b'\\', b.get(i..)?)?;
        if b[i] == b'"' {
            return Some(i + 1);
        }
        i += 2;
    }
}

/// A line number for `SectionLayout::element_lines` (a text under the size limit has far
/// fewer lines than `NOT_AN_OBJECT`).
fn line_u32(line: usize) -> u32 {
    u32::try_from(line).map_or(NOT_AN_OBJECT - 1, |l| l.min(NOT_AN_OBJECT - 1))
}

/// `value_end` for an array written in the stable layout (`snapshot::io::to_stable_json`):
/// `[` ending its line, each element on a line of its own that starts with four spaces and
/// `{` and ends with `}` (then `,` but for the last), and `  ]` on the next line. Only
/// newlines are searched for, as a raw newline cannot be inside a JSON string. `None`
/// (nothing changed) where the text does not look so; the exact scan runs then.
///
/// A guess, checked afterwards: the cut is right exactly when each piece between the cut
/// commas parses as one complete value, which the chunk parse demands (`de.end()`); if a
/// piece does not, the whole text is parsed again with the exact scan (`parse_in_chunks`).
fn stable_array_end(
    b: &[u8],
    start: usize,
    line: &mut usize,
    element_lines: &mut Vec<u32>,
) -> Option<(usize, Vec<usize>)> {
    if b.get(start..start + 2)? != b"[\n" {
        return None;
    }
    let mut commas = Vec::new();
    let mut lines = Vec::new();
    // The newline ending the line before the one looked at, and the lines passed.
    let mut newline = start + 1;
    let mut passed = 0usize;
    loop {
        let from = newline + 1;
        let rest = b.get(from..)?;
        let len = memchr::memchr(b'\n', rest)?;
        passed += 1;
        let body = rest[..len].strip_prefix(b"    {")?;
        lines.push(line_u32(*line + passed));
        match body {
            [.., b'}', b','] => {
                commas.push(from + len - 1);
                newline = from + len;
            }
            [.., b'}'] => {
                let close = from + len + 1;
                if b.get(close..close + 3)? != b"  ]" {
                    return None;
                }
                *line += passed + 1;
                element_lines.extend(lines);
                return Some((close + 3, commas));
            }
            _ => return None,
        }
    }
}

/// End (exclusive) of the JSON value starting at `start`, and for an array, the positions
/// of the commas separating its elements. Counts the newlines outside strings into `line`
/// and, for an array, pushes the line of each element's opening brace to `element_lines`
/// (`NOT_AN_OBJECT` for an element that is not an object).
fn value_end(
    b: &[u8],
    start: usize,
    line: &mut usize,
    element_lines: &mut Vec<u32>,
) -> Option<(usize, Vec<usize>)> {
    let mut splits = Vec::new();
    match b.get(start)? {
        b'"' => Some((string_end(b, start)?, splits)),
        b'{' | b'[' => {
            let is_array = b[start] == b'[';
            let mut depth = 0usize;
            let mut i = start;
            loop {
                match b.get(i)? {
                    b'"' => {
                        i = string_end(b, i)?;
                        continue;
                    }
                    b'\n' => *line += 1,
                    b'{' => {
                        if is_array && depth == 1 {
                            if let Some(last) = element_lines.last_mut() {
                                *last = line_u32(*line);
                            }
                        }
                        depth += 1;
                    }
                    b'[' => {
                        depth += 1;
                        if is_array && depth == 1 {
                            element_lines.push(NOT_AN_OBJECT);
                        }
                    }
                    b'}' | b']' => {
                        depth = depth.checked_sub(1)?;
                        if depth == 0 {
                            return Some((i + 1, splits));
                        }
                    }
                    b',' if is_array && depth == 1 => {
                        splits.push(i);
                        element_lines.push(NOT_AN_OBJECT);
                    }
                    _ => {}
                }
                i += 1;
            }
        }
        _ => {
            // A number, true, false or null: up to the next delimiter.
            let mut i = start;
            while !matches!(
                b.get(i),
                None | Some(b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')
            ) {
                i += 1;
            }
            (i > start).then_some((i, splits))
        }
    }
}

fn tasks(sections: Vec<Section<'_>>) -> Vec<Task<'_>> {
    let mut tasks = Vec::new();
    for section in sections {
        let key = section.key;
        if section.chunks.len() > 1 {
            for (n, (chunk, lines)) in section.chunks.into_iter().enumerate() {
                tasks.push(Task {
                    key,
                    chunk: n,
                    len: chunk.iter().map(|e| e.len()).sum(),
                    texts: chunk,
                    lines,
                    value_line: 0,
                    is_array_chunk: true,
                    cut_at_lines: section.cut_at_lines,
                });
            }
        } else {
            tasks.push(Task {
                key,
                chunk: 0,
                len: section.text.len(),
                texts: vec![section.text],
                lines: Vec::new(),
                value_line: section.value_line,
                is_array_chunk: false,
                cut_at_lines: section.cut_at_lines,
            });
        }
    }
    // Biggest first: better balance across threads.
    tasks.sort_by_key(|t| std::cmp::Reverse(t.len));
    tasks
}

/// The input value, the `id_lines` of each array parsed in chunks and the `member_lines`
/// of each member parsed whole.
type Assembled<'a> = (
    Parsed,
    BTreeMap<&'a str, Vec<u32>>,
    BTreeMap<&'a str, Vec<(String, Vec<u32>)>>,
);

fn assemble<'a>(
    tasks: &[Task<'a>],
    parsed: Vec<(usize, Result<Parsed, String>)>,
) -> Result<Assembled<'a>, String> {
    // key -> chunks in array order
    // Of each task: chunk number, whether it is an array chunk, value, id lines.
    type Part = (usize, bool, Value, Vec<u32>);
    let mut by_key: BTreeMap<&str, Vec<Part>> = BTreeMap::new();
    let mut lossy = false;
    let mut escaped_key = false;
    let mut member_lines = BTreeMap::new();
    for (i, parsed) in parsed {
        let task = &tasks[i];
        let parsed = parsed?;
        lossy |= parsed.lossy;
        escaped_key |= parsed.escaped_key;
        if let Some(lines) = parsed.member_lines {
            member_lines.insert(task.key, lines);
        }
        by_key.entry(task.key).or_default().push((
            task.chunk,
            task.is_array_chunk,
            parsed.value,
            parsed.id_lines,
        ));
    }
    let mut id_lines = BTreeMap::new();
    let mut object = Value::new_object();
    let map = object.as_object_mut().map_err(|e| e.to_string())?;
    for (key, mut parts) in by_key {
        parts.sort_by_key(|(chunk, _, _, _)| *chunk);
        let value = if parts.first().is_some_and(|(_, is_chunk, _, _)| *is_chunk) {
            // The chunks' elements are moved, not cloned, into one array of the exact size.
            let mut total = 0;
            for (_, _, part, _) in &parts {
                total += part.as_array().map_err(|e| e.to_string())?.len();
            }
            let mut elements = Vec::with_capacity(total);
            let mut lines = Vec::new();
            for (_, _, mut part, mut part_lines) in parts {
                let array = std::mem::take(part.as_array_mut().map_err(|e| e.to_string())?);
                elements.append(&mut array.into_vec());
                lines.append(&mut part_lines);
            }
            id_lines.insert(key, lines);
            Value::from(elements)
        } else {
            parts
                .pop()
                .map(|(_, _, v, _)| v)
                .ok_or_else(|| format!("section {key} was not parsed"))?
        };
        map.insert(Value::from(key), value);
    }
    let parsed = Parsed {
        value: object,
        lossy,
        layout: None,
        escaped_key,
        id_lines: Vec::new(),
        member_lines: None,
    };
    Ok((parsed, id_lines, member_lines))
}

/// Parse JSON text into a regorus value: the same value `Value::from_json_str` builds
/// (object keys sorted and de-duplicated, last one wins; numbers through the same
/// conversions), with less allocation. Object keys and short strings are interned per call,
/// so 300k inbox rules share one `"exchange"`, one `"mailbox_id"` key, ...; a string value
/// is allocated once, not as a `String` then converted.
pub fn parse_value(text: &str) -> Result<Value, String> {
    parse_with(&RefCell::new(Interner::default()), text).map(|p| p.value)
}

/// What `snapshot::locate::for_each_resource` reports inside the value `text` of the
/// top-level key `key` (starting on line `first_line`): the path and line of each element
/// of a resource array with a non-empty id.
fn member_lines(key: &str, text: &str, first_line: usize) -> Vec<(String, Vec<u32>)> {
    let mut lines: Vec<(String, Vec<u32>)> = Vec::new();
    crate::snapshot::locate::for_each_resource_in(key, text, first_line, |path, id, line| {
        if id.is_empty() {
            return;
        }
        let line = u32::try_from(line).unwrap_or(u32::MAX);
        match lines.last_mut() {
            Some((last, found)) if last == path => found.push(line),
            _ => lines.push((path.to_owned(), vec![line])),
        }
    });
    lines
}

/// The elements of an array, each parsed from its own text, as one array value (the
/// interner is shared: the elements are alike), with `SectionLayout::id_lines` from the
/// lines of the elements' opening braces.
fn parse_elements(texts: &[&str], lines: &[u32]) -> Result<Parsed, String> {
    let interner = RefCell::new(Interner::default());
    let id_key = Value::from("id");
    let mut lossy = false;
    let mut escaped_key = false;
    let mut elements = Vec::with_capacity(texts.len());
    let mut id_lines = Vec::new();
    for (text, &line) in texts
        .iter()
        .zip(lines.iter().chain(std::iter::repeat(&NOT_AN_OBJECT)))
    {
        let parsed = parse_with(&interner, text)?;
        lossy |= parsed.lossy;
        escaped_key |= parsed.escaped_key;
        if let Ok(Some(Value::String(id))) = parsed.value.as_object().map(|o| o.get(&id_key)) {
            if !id.is_empty() && line != NOT_AN_OBJECT {
                id_lines.push(line);
            }
        }
        elements.push(parsed.value);
    }
    Ok(Parsed {
        value: Value::from(elements),
        lossy,
        layout: None,
        escaped_key,
        id_lines,
        member_lines: None,
    })
}

fn parse_with(interner: &RefCell<Interner>, text: &str) -> Result<Parsed, String> {
    let mut de = serde_json::Deserializer::from_str(text);
    let value = ValueSeed {
        interner,
        key: None,
    }
    .deserialize(&mut de)
    .and_then(|value| de.end().map(|()| value))
    .map_err(|e| e.to_string())?;
    let mut interner = interner.borrow_mut();
    let lossy = std::mem::take(&mut interner.lossy);
    let escaped_key = std::mem::take(&mut interner.escaped_key);
    Ok(Parsed {
        value,
        lossy,
        layout: None,
        escaped_key,
        id_lines: Vec::new(),
        member_lines: None,
    })
}

/// Strings up to this length are interned (field values such as `"exchange"`, `"member"`,
/// folder and method names); longer ones are mostly unique ids.
const INTERN_MAX: usize = 16;

#[derive(Default)]
struct Interner {
    strings: HashSet<regorus::Rc<str>, BuildHasherDefault<FxHasher>>,
    /// For each object key (by the address of its interned text), the last string longer
    /// than `INTERN_MAX` seen under it. Consecutive elements often repeat one: the three
    /// inbox rules of a mailbox carry its `mailbox_id` and `mailbox_upn`, a mailbox its
    /// address twice. Sharing it costs one comparison, where interning every long string
    /// (mostly unique ids) cost ~10% more parse CPU (issue #9: ~6% less memory at the end of
    /// the rules at 100k users, where the 1M-user peak is).
    last_long: HashMap<usize, regorus::Rc<str>, BuildHasherDefault<FxHasher>>,
    /// Small objects and arrays seen lately (see `share`), by a hash of their members;
    /// empty until the first one.
    recent_compounds: Vec<Option<(u64, Value)>>,
    /// Set when the text held a repeated key or a non-integer number (see `Parsed::lossy`).
    lossy: bool,
    /// Set when an object key was written with an escape (see `Parsed::layout`).
    escaped_key: bool,
}

impl Interner {
    fn get(&mut self, s: &str) -> regorus::Rc<str> {
        if let Some(rc) = self.strings.get(s) {
            return rc.clone();
        }
        let rc: regorus::Rc<str> = s.into();
        self.strings.insert(rc.clone());
        rc
    }

    /// `s` (a long string under `key`), shared with the previous one under that key when
    /// they are equal.
    fn repeated(&mut self, key: &regorus::Rc<str>, s: &str) -> regorus::Rc<str> {
        let slot = self.last_long.entry(key.as_ptr() as usize);
        match slot {
            std::collections::hash_map::Entry::Occupied(mut last) => {
                if last.get().as_ref() == s {
                    return last.get().clone();
                }
                let rc: regorus::Rc<str> = s.into();
                last.insert(rc.clone());
                rc
            }
            std::collections::hash_map::Entry::Vacant(slot) => {
                let rc: regorus::Rc<str> = s.into();
                slot.insert(rc.clone());
                rc
            }
        }
    }
}

/// Objects and arrays with up to this many members are shared when equal to one seen
/// lately (`Interner::share`). The ones that repeat in a snapshot are small: an inbox rule's
/// `conditions` (`{"sender_contains": ["newsletter"]}`), a user's `mfa` (four members), a
/// method list. Elements of the large arrays (7 members and more, with unique ids) are not
/// even looked up.
const SHARE_MAX_MEMBERS: usize = 6;

/// Slots of the table of recent small compounds: one per hash value modulo its size, the
/// last compound with that hash wins. Bounded (128 KiB per parse chunk) whatever the
/// text, and enough for the few hundred distinct values that repeat.
const SHARE_SLOTS: usize = 4096;

impl Interner {
    /// `value`, or an equal small object or array seen lately in this chunk, shared.
    ///
    /// Values are immutable once parsed (regorus copies on write), so an equal value shared
    /// is indistinguishable from a copy, except in memory: in the 100k-user benchmark
    /// tenant a third of the nested objects and nine arrays in ten repeat one seen before
    /// (519k of 1.59M, 392k of 432k). Sharing them took the peak at 1M users from 7.64 to
    /// 6.92 GiB and the page faults from 3.39M to 3.10M (medians of three alternating
    /// runs, issue #9). The look-up hashes the members by identity (keys and short strings
    /// are interned, nested compounds already shared) and compares with `==`, so a miss
    /// only costs the memory it would have cost anyway.
    fn share(&mut self, value: Value) -> Value {
        let Some(hash) = members_hash(&value) else {
            return value;
        };
        if self.recent_compounds.is_empty() {
            self.recent_compounds.resize(SHARE_SLOTS, None);
        }
        let Some(slot) = self.recent_compounds.get_mut(hash as usize % SHARE_SLOTS) else {
            return value;
        };
        match slot {
            Some((seen_hash, seen)) if *seen_hash == hash && *seen == value => seen.clone(),
            _ => {
                *slot = Some((hash, value.clone()));
                value
            }
        }
    }
}

/// A hash of a small object's or array's members, `None` for other values. Strings and
/// nested compounds are hashed by address: equal ones the interner shares hash alike, and
/// equal ones it does not share only make a miss.
fn members_hash(value: &Value) -> Option<u64> {
    let mut hasher = FxHasher::default();
    match value {
        Value::Array(array) if array.len() <= SHARE_MAX_MEMBERS => {
            hasher.write_u8(1);
            for element in array.iter() {
                hash_member(&mut hasher, element);
            }
        }
        Value::Object(object) if object.len() <= SHARE_MAX_MEMBERS => {
            hasher.write_u8(2);
            for (key, member) in object.iter() {
                hash_member(&mut hasher, key);
                hash_member(&mut hasher, member);
            }
        }
        _ => return None,
    }
    Some(hasher.finish())
}

fn hash_member(hasher: &mut FxHasher, value: &Value) {
    match value {
        Value::Null => hasher.write_u8(0),
        Value::Bool(b) => hasher.write_u8(2 + u8::from(*b)),
        Value::Number(_) => hasher.write_u64(value.as_f64().map_or(0, f64::to_bits)),
        Value::String(s) => hasher.write_usize(s.as_ptr() as usize),
        Value::Array(a) => hasher.write_usize(regorus::Rc::as_ptr(a) as usize),
        Value::Object(o) => hasher.write_usize(regorus::Rc::as_ptr(o) as usize),
        Value::Set(_) | Value::Undefined => hasher.write_u8(4),
    }
}

/// The FxHash function (rustc's): fast for short keys, no DoS concern for a local table.
#[derive(Default)]
struct FxHasher {
    hash: u64,
}

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.hash = (self.hash.rotate_left(5) ^ u64::from_le_bytes(word)).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            self.hash = (self.hash.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
    }

    fn finish(&self) -> u64 {
        self.hash
    }
}

/// Room for the members of most snapshot objects before the pairs' vector grows.
const OBJECT_CAPACITY: usize = 12;

#[derive(Clone, Copy)]
struct ValueSeed<'i> {
    interner: &'i RefCell<Interner>,
    /// The key of the member being read, if any (see `Interner::last_long`).
    key: Option<&'i regorus::Rc<str>>,
}

impl ValueSeed<'_> {
    fn string(self, s: &str) -> Value {
        if s.len() <= INTERN_MAX {
            Value::String(self.interner.borrow_mut().get(s))
        } else if let Some(key) = self.key {
            Value::String(self.interner.borrow_mut().repeated(key, s))
        } else {
            Value::String(s.into())
        }
    }
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

/// An object key: always interned.
struct KeySeed<'i> {
    interner: &'i RefCell<Interner>,
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = regorus::Rc<str>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = regorus::Rc<str>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an object key")
    }

    /// A key borrowed from the text: written without escapes.
    fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Self::Value, E> {
        Ok(self.interner.borrow_mut().get(s))
    }

    /// A key the parser had to copy: it was written with an escape.
    fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
        let mut interner = self.interner.borrow_mut();
        interner.escaped_key = true;
        Ok(interner.get(s))
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        self.interner.borrow_mut().lossy = true;
        if !v.is_finite() {
            return Err(de::Error::custom(format!(
                "invalid non-finite number in input: {v}"
            )));
        }
        Ok(Value::from(v))
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Value, E> {
        Ok(self.string(s))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut elements = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(element) = seq.next_element_seed(self)? {
            elements.push(element);
        }
        Ok(self.interner.borrow_mut().share(Value::from(elements)))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        // The members are collected, sorted once and the map built from the sorted run in
        // one go: inserting them one by one searched the map for each key (a fifth of the
        // parse). Objects are small (a few to ~20 members): the sort is an insertion sort.
        let mut pairs: Vec<(Value, Value)> = Vec::with_capacity(OBJECT_CAPACITY);
        while let Some(key) = map.next_key_seed(KeySeed {
            interner: self.interner,
        })? {
            let value = map.next_value_seed(ValueSeed {
                interner: self.interner,
                key: Some(&key),
            })?;
            pairs.push((Value::String(key), value));
        }
        if pairs.is_empty() {
            return Ok(self.interner.borrow_mut().share(Value::new_object()));
        }
        // `BTreeMap::from_iter` sorts the members stably and keeps the last of equal keys,
        // as inserting them one by one does: fewer entries than members means a repeated
        // key. (A check and sort of our own before it made every object sorted twice.)
        let members = pairs.len();
        let object: BTreeMap<Value, Value> = pairs.into_iter().collect();
        let mut interner = self.interner.borrow_mut();
        if object.len() < members {
            interner.lossy = true;
        }
        Ok(interner.share(Value::from(object)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_parse_equals_whole_document_parse() {
        let rules: Vec<serde_json::Value> = (0..5_000)
            .map(|i| serde_json::json!({"id": format!("m/{i:06}"), "name": format!("rule {i}"), "actions": {"forward_to": ["a@b.c"]}}))
            .collect();
        let doc = serde_json::json!({"schema_version": 1, "inbox_rules": rules, "users": [{"id": "u"}], "tenant": {"id": "t"}});
        let text = serde_json::to_string_pretty(&doc).unwrap();
        let chunk_bytes = 64 << 10;
        assert!(
            tasks(split_sections(&text, chunk_bytes, Cut::Exact).unwrap().0).len() > 5,
            "the test must exercise chunking"
        );
        let parallel = parse_in_chunks(&text, 2, chunk_bytes);
        let parallel = parallel.unwrap();
        assert!(!parallel.lossy);
        assert_eq!(parallel.value, Value::from_json_str(&text).unwrap());
    }

    /// The stable layout's arrays are cut at their lines, to the same pieces, lines and value
    /// as the exact scan; a text that only looks so is parsed again exactly, to the same
    /// value as a whole-document parse.
    #[test]
    fn arrays_in_the_stable_layout_are_cut_at_lines_like_the_exact_scan() {
        // Strings holding what the line cut looks for: `},`, brackets, an escaped newline.
        let element = |i: usize| {
            serde_json::json!({"id": format!("r{i}"), "name": "a },\n    {x} [\"q\"]", "n": [i, {"k": "}"}]})
                .to_string()
        };
        let stable = |elements: &[String]| {
            format!(
                "{{\n  \"inbox_rules\": [\n    {}\n  ],\n  \"tenant\": {{\"id\":\"t\"}},\n  \"users\": []\n}}\n",
                elements.join(",\n    ")
            )
        };
        let elements: Vec<String> = (0..2_000).map(element).collect();
        let text = stable(&elements);
        let layout = |cut| {
            let (sections, repeated) = split_sections(&text, 4 << 10, cut).unwrap();
            let pieces: Vec<_> = sections
                .iter()
                .map(|s| (s.key, s.text, s.chunks.clone(), s.key_line, s.value_line))
                .collect();
            let at_lines = sections.iter().any(|s| s.cut_at_lines);
            (pieces, repeated, at_lines)
        };
        let (at_lines, exact) = (layout(Cut::AtLines), layout(Cut::Exact));
        assert!(at_lines.2, "the stable layout must be cut at lines");
        assert!(!exact.2);
        assert!(at_lines
            .0
            .iter()
            .any(|(_, _, chunks, _, _)| chunks.len() > 10));
        assert_eq!(at_lines.0, exact.0);
        let whole = Value::from_json_str(&text).unwrap();
        let parsed = parse_in_chunks(&text, 2, 4 << 10);
        assert_eq!(parsed.unwrap().value, whole);

        // Look-alikes: two elements on one line (valid JSON, but the line is not one value),
        // an element over two lines, a comma missing, a closing line indented otherwise.
        let mut two_on_a_line = elements.clone();
        two_on_a_line[1500] = format!("{}, {}", element(1500), element(5000));
        let mut over_two_lines = elements.clone();
        over_two_lines[700] = element(700).replacen(r#","name""#, ",\n      \"name\"", 1);
        let missing_comma = stable(&elements).replacen("},\n    {", "}\n    {", 1);
        let indented = stable(&elements).replacen("\n  ],", "\n   ],", 1);
        let two_on_a_line = stable(&two_on_a_line);
        let (sections, _) = split_sections(&two_on_a_line, 4 << 10, Cut::AtLines).unwrap();
        assert!(
            sections.iter().any(|s| s.cut_at_lines),
            "two elements on a line pass the cut: only their parse refuses them"
        );
        for text in [two_on_a_line.clone(), stable(&over_two_lines), indented] {
            let parsed = parse_in_chunks(&text, 2, 4 << 10);
            assert_eq!(parsed.unwrap().value, Value::from_json_str(&text).unwrap());
        }
        assert!(Value::from_json_str(&missing_comma).is_err());
        assert!(parse_in_chunks(&missing_comma, 2, 4 << 10).is_err());
    }

    #[test]
    fn parse_value_equals_regorus_parse() {
        let mut texts: Vec<String> = [
            r#"{"a": 1, "b": -2, "c": 1.5, "d": 1e300, "e": 18446744073709551615, "f": -9223372036854775808}"#,
            r#"{"s": "short", "l": "a string longer than sixteen bytes", "esc": "tab\t \u00e9 \"q\"", "n": null, "t": true, "f": false}"#,
            r#"{"dup": 1, "dup": 2, "z": [], "o": {}, "nested": [{"k": [1, [2, {"x": null}]]}, "exchange", "exchange"]}"#,
            r#"[1, "two", {"three": 3}]"#,
            r#""just a string""#,
            "12345678901234567890123",
        ]
        .iter()
        .map(|t| t.to_string())
        .collect();
        for example in [
            "contoso-compromised.json",
            "contoso-clean.json",
            "contoso-partial.json",
        ] {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("examples")
                .join(example);
            texts.push(std::fs::read_to_string(path).unwrap());
        }
        for text in &texts {
            assert_eq!(
                parse_value(text).unwrap(),
                Value::from_json_str(text).unwrap(),
                "{text:.80}"
            );
        }
        for bad in ["{\"a\": ", "[1, 2", "{\"a\": 1} x", "nul"] {
            assert!(parse_value(bad).is_err(), "{bad}");
            assert!(Value::from_json_str(bad).is_err(), "{bad}");
        }
    }

    /// Equal small objects and arrays are one shared value; different ones stay apart, also
    /// when there are more of them than the table has slots, and large ones are never
    /// looked up.
    #[test]
    fn equal_small_compounds_are_shared_and_different_ones_kept_apart() {
        let mut elements = Vec::new();
        for i in 0..(2 * SHARE_SLOTS) {
            elements.push(format!(
                r#"{{"n": {i}, "conditions": {{"sender_contains": ["newsletter"]}}, "methods": ["push", "sms"], "one": {{"k": {i}}}, "a": 1, "b": 2, "c": 3}}"#
            ));
        }
        let text = format!("[{}]", elements.join(",\n"));
        let parsed = parse_value(&text).unwrap();
        assert_eq!(parsed, Value::from_json_str(&text).unwrap());
        let Value::Array(elements) = &parsed else {
            panic!("not an array");
        };
        let member = |i: usize, key: &str| elements[i][&Value::from(key)].clone();
        let same = |a: &Value, b: &Value| match (a, b) {
            (Value::Object(a), Value::Object(b)) => regorus::Rc::ptr_eq(a, b),
            (Value::Array(a), Value::Array(b)) => regorus::Rc::ptr_eq(a, b),
            _ => false,
        };
        for i in [1, SHARE_SLOTS, 2 * SHARE_SLOTS - 1] {
            assert!(
                same(&member(0, "conditions"), &member(i, "conditions")),
                "{i}"
            );
            assert!(same(&member(0, "methods"), &member(i, "methods")), "{i}");
            // Different values: equal only to themselves.
            assert!(!same(&member(0, "one"), &member(i, "one")), "{i}");
            assert_eq!(member(i, "one")[&Value::from("k")], Value::from(i as u64));
            // Seven members: more than are looked up.
            assert!(!same(&elements[0], &elements[i]), "{i}");
        }
        // Two equal objects of seven members are still two values: not looked up at all.
        let seven = r#"{"a": 1, "b": 2, "c": 3, "d": 4, "e": 5, "f": 6, "g": 7}"#;
        let twice = parse_value(&format!("[{seven}, {seven}]")).unwrap();
        assert_eq!(twice[0], twice[1]);
        assert!(!same(&twice[0], &twice[1]));
        let six = r#"{"a": 1, "b": 2, "c": 3, "d": 4, "e": 5, "f": 6}"#;
        let twice = parse_value(&format!("[{six}, {six}]")).unwrap();
        assert!(same(&twice[0], &twice[1]));
        // Unequal values in one slot replace each other and are never mixed up.
        let mut interner = Interner::default();
        let values: Vec<Value> = (0..(3 * SHARE_SLOTS as u64))
            .map(|i| interner.share(Value::from(vec![Value::from(i % 7)])))
            .collect();
        for (i, value) in values.iter().enumerate() {
            assert_eq!(*value, Value::from(vec![Value::from(i as u64 % 7)]));
        }
    }

    #[test]
    fn chunks_are_cut_between_elements_whatever_the_strings_hold() {
        // Brackets, commas, quotes and backslashes inside strings, nested arrays, compact
        // and pretty layouts, repeated keys, scalars: every split parses like the whole.
        let tricky: Vec<serde_json::Value> = (0..3_000)
            .map(|i| {
                serde_json::json!({
                    "id": format!("r{i}"),
                    "name": format!("a \"quoted\", [bracketed] {{braced}} \\ name, {i}"),
                    "nested": [[i, {"x": ["],[", "}{"]}], [], {}],
                    "n": i as f64 / 7.0,
                    "flag": i % 2 == 0,
                    "none": null,
                })
            })
            .collect();
        let doc = serde_json::json!({"tenant": {"id": "t"}, "inbox_rules": tricky, "users": [], "n": 1, "s": "x"});
        let compact = serde_json::to_string(&doc).unwrap();
        let repeated = compact.replacen("{\"tenant\"", "{\"n\": 0, \"tenant\"", 1);
        for text in [
            compact,
            serde_json::to_string_pretty(&doc).unwrap(),
            repeated,
        ] {
            let (sections, _) = split_sections(&text, 4 << 10, Cut::Exact).unwrap();
            assert!(sections.iter().any(|s| s.chunks.len() > 10));
            let parallel = parse_in_chunks(&text, 2, 4 << 10);
            let parallel = parallel.unwrap();
            // Every document here has fractions (`n`); the repeated key is a second reason.
            assert!(parallel.lossy);
            assert_eq!(parallel.value, Value::from_json_str(&text).unwrap());
        }
        for not_an_object in ["[1, 2]", "\"s\"", "{\"a\\u0062\": 1}", "{\"a\": 1} x"] {
            assert!(
                split_sections(not_an_object, 1, Cut::AtLines).is_none(),
                "{not_an_object}"
            );
        }
    }

    /// What a typed model read from the value could accept although the text is invalid
    /// for it: a repeated key (anywhere) and a number with a fraction or exponent.
    #[test]
    fn repeated_keys_and_fractions_are_reported_as_lossy() {
        let lossy = |text: &str| parse_in_chunks(text, 2, 16).unwrap().lossy;
        assert!(!lossy(r#"{"a": [{"x": 1}, {"x": -2}], "b": {"c": "d"}}"#));
        assert!(lossy(r#"{"a": 1, "a": 2}"#));
        assert!(lossy(r#"{"a": [{"x": 1, "x": 1}, {"y": 2}], "b": 1}"#));
        assert!(lossy(r#"{"a": [{"x": 1}, {"x": 2.0}], "b": 1}"#));
        assert!(lossy(r#"{"a": {"b": 1e3}}"#));
        assert!(lossy(r#"[1, 2.5]"#));
    }

    #[test]
    fn malformed_text_is_an_error_not_a_panic() {
        let parsed = parse_parallel("{\"users\": [1, 2", 2);
        assert!(parsed.is_err());
    }
}
