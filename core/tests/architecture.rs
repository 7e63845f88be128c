//! The core's architecture, checked: layers that only point down, one state-holding `static`,
//! files of one job.
//!
//! Reads every file under `core/src` and collects the `crate::…` paths its code names (comments
//! and doc links excluded, unit-test modules at the end of a file excluded). Each top-level
//! module belongs to a layer; a module may name modules of its own layer or of a layer below,
//! never one above, never the crate root's facade items (`crate::registry()`, `crate::init()`),
//! and the modules of one layer name each other without a cycle. `docs/architecture.md` shows
//! the layers; run this test alone with `cargo test -p unitel --test architecture`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Layers, bottom to top. `lib.rs` is the facade above them all.
const LAYERS: &[(&str, &[&str])] = &[
    ("leaves", &["catalog", "config"]),
    ("registry", &["registry"]),
    ("exporters", &["export"]),
    ("trace", &["trace"]),
    ("telemetry", &["telemetry"]),
    (
        "domains",
        &[
            "http",
            "db",
            "genai",
            "system",
            "instrument",
            "record",
            "resilience",
            "__macro_support",
        ],
    ),
    ("init", &["init"]),
];

/// The one module allowed a state-holding `static`: the process-wide default `Telemetry`.
const DEFAULT_STATE_FILE: &str = "telemetry/global.rs";

/// Longest a core source file may grow (one job per file).
const MAX_LINES: usize = 600;

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Relative path with `/` separators, e.g. `trace/span.rs`.
fn relative(path: &Path) -> String {
    path.strip_prefix(src_dir())
        .unwrap_or(path)
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// The top-level module a file belongs to (`None` for `lib.rs`).
fn top_module(rel: &str) -> Option<String> {
    if rel == "lib.rs" {
        return None;
    }
    let first = rel.split('/').next().unwrap_or(rel);
    Some(first.trim_end_matches(".rs").to_owned())
}

/// The code of a file: comments removed, and everything from a trailing unit-test module on.
fn code_lines(text: &str) -> Vec<String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("#[cfg(test)]") || trimmed.starts_with("#[cfg(all(test") {
            let next = lines[i + 1..]
                .iter()
                .map(|l| l.trim())
                .find(|l| !l.is_empty());
            if next.is_some_and(|l| l.starts_with("mod ") || l.starts_with("pub(crate) mod ")) {
                break;
            }
        }
        let code = match line.find("//") {
            // A `//` inside a string literal is rare in this crate's `use` lines; keep it simple.
            Some(at) if !line[..at].contains('"') => &line[..at],
            _ => line,
        };
        out.push(code.to_owned());
    }
    out
}

fn ident_at(s: &str) -> String {
    s.chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

/// The first segments named after `crate::` in `code` (`crate::{a, b::C}` gives `a`, `b`).
fn crate_references(code: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        let before = rest[..at].chars().next_back();
        rest = &rest[at + "crate::".len()..];
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$') {
            continue; // `unitel_crate::` or a macro's `$crate::`
        }
        if let Some(group) = rest.strip_prefix('{') {
            // Split the group at its top-level commas.
            let mut depth = 0usize;
            let mut start = 0usize;
            let bytes: Vec<char> = group.chars().collect();
            let mut end = bytes.len();
            for (i, c) in bytes.iter().enumerate() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        end = i;
                        break;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        let part: String = bytes[start..i].iter().collect();
                        found.push(ident_at(part.trim()));
                        start = i + 1;
                    }
                    _ => {}
                }
            }
            let part: String = bytes[start..end].iter().collect();
            if !part.trim().is_empty() {
                found.push(ident_at(part.trim()));
            }
        } else {
            found.push(ident_at(rest));
        }
    }
    found.retain(|s| !s.is_empty());
    found
}

struct Source {
    rel: String,
    text: String,
}

fn sources() -> Vec<Source> {
    let mut files = Vec::new();
    rust_files(&src_dir(), &mut files);
    files.sort();
    files
        .into_iter()
        .map(|path| Source {
            rel: relative(&path),
            text: std::fs::read_to_string(&path).unwrap_or_default(),
        })
        .collect()
}

fn layer_of(module: &str) -> Option<usize> {
    LAYERS
        .iter()
        .position(|(_, modules)| modules.contains(&module))
}

/// Edges `from -> to` between top-level modules, with the file that makes each.
fn module_graph(sources: &[Source]) -> BTreeMap<(String, String), String> {
    let modules: BTreeSet<&str> = LAYERS.iter().flat_map(|(_, m)| m.iter().copied()).collect();
    let mut edges = BTreeMap::new();
    for source in sources {
        let Some(from) = top_module(&source.rel) else {
            continue;
        };
        for line in code_lines(&source.text) {
            for to in crate_references(&line) {
                if to == from {
                    continue;
                }
                let to = if modules.contains(to.as_str()) {
                    to
                } else {
                    // A root item: the facade in lib.rs, above every layer.
                    format!("(crate root: `crate::{to}`)")
                };
                edges
                    .entry((from.clone(), to))
                    .or_insert_with(|| source.rel.clone());
            }
        }
    }
    edges
}

#[test]
fn every_top_level_module_has_a_layer() {
    let mut missing = BTreeSet::new();
    for source in sources() {
        if let Some(module) = top_module(&source.rel)
            && layer_of(&module).is_none()
        {
            missing.insert(module);
        }
    }
    assert!(
        missing.is_empty(),
        "modules without a layer (add them to LAYERS here and to docs/architecture.md): {missing:?}"
    );
}

#[test]
fn modules_only_point_down() {
    let edges = module_graph(&sources());
    let mut broken = Vec::new();
    for ((from, to), file) in &edges {
        let (Some(a), b) = (layer_of(from), layer_of(to)) else {
            continue;
        };
        match b {
            Some(b) if b <= a => {}
            Some(b) => broken.push(format!(
                "{file}: `{from}` ({}) imports `{to}` ({}), a layer above it",
                LAYERS[a].0, LAYERS[b].0
            )),
            None => broken.push(format!(
                "{file}: `{from}` ({}) names {to}; import the module that defines it",
                LAYERS[a].0
            )),
        }
    }
    assert!(
        broken.is_empty(),
        "imports that point up:\n{}",
        broken.join("\n")
    );
}

#[test]
fn no_import_cycle_among_top_level_modules() {
    let edges = module_graph(&sources());
    let mut graph: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (from, to) in edges.keys() {
        graph.entry(from).or_default().insert(to);
    }
    // Depth-first search for a back edge.
    fn visit<'a>(
        node: &'a str,
        graph: &BTreeMap<&'a str, BTreeSet<&'a str>>,
        state: &mut BTreeMap<&'a str, u8>,
        path: &mut Vec<&'a str>,
    ) -> Option<Vec<String>> {
        match state.get(node) {
            Some(2) => return None,
            Some(1) => {
                let at = path.iter().position(|n| *n == node).unwrap_or(0);
                let mut cycle: Vec<String> = path[at..].iter().map(|s| (*s).to_owned()).collect();
                cycle.push(node.to_owned());
                return Some(cycle);
            }
            _ => {}
        }
        state.insert(node, 1);
        path.push(node);
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, state, path) {
                return Some(cycle);
            }
        }
        path.pop();
        state.insert(node, 2);
        None
    }
    let mut state = BTreeMap::new();
    for node in graph.keys() {
        let mut path = Vec::new();
        if let Some(cycle) = visit(node, &graph, &mut state, &mut path) {
            let files: Vec<String> = cycle
                .windows(2)
                .filter_map(|w| edges.get(&(w[0].clone(), w[1].clone())))
                .cloned()
                .collect();
            panic!("import cycle: {} (made in {files:?})", cycle.join(" -> "));
        }
    }
}

#[test]
fn one_state_holding_static() {
    const STATE_TYPES: &[&str] = &[
        "OnceLock", "OnceCell", "Lazy", "Atomic", "Mutex", "RwLock", "Cell<", "RefCell",
    ];
    let mut found = Vec::new();
    for source in sources() {
        let mut in_thread_local = 0usize;
        for (n, line) in code_lines(&source.text).iter().enumerate() {
            let t = line.trim_start();
            if t.starts_with("thread_local!") {
                in_thread_local = 1;
                continue;
            }
            if in_thread_local > 0 {
                in_thread_local += line.matches('{').count();
                in_thread_local = in_thread_local.saturating_sub(line.matches('}').count());
                continue;
            }
            let declares = t.starts_with("static ")
                || t.starts_with("pub static ")
                || t.starts_with("pub(crate) static ")
                || t.starts_with("pub(super) static ");
            if declares
                && STATE_TYPES.iter().any(|ty| t.contains(ty))
                && source.rel != DEFAULT_STATE_FILE
            {
                found.push(format!("{}:{}: {}", source.rel, n + 1, t.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "state-holding statics outside {DEFAULT_STATE_FILE} (keep state in `Telemetry`):\n{}",
        found.join("\n")
    );
}

#[test]
fn files_do_one_job() {
    let long: Vec<String> = sources()
        .iter()
        .filter(|s| s.text.lines().count() > MAX_LINES)
        .map(|s| format!("{} ({} lines)", s.rel, s.text.lines().count()))
        .collect();
    assert!(
        long.is_empty(),
        "core files over {MAX_LINES} lines: {long:?}"
    );
}

#[test]
fn reference_scanner_reads_grouped_and_plain_paths() {
    assert_eq!(
        crate_references("use crate::{catalog, registry::{Registry, Counter}, trace::span};"),
        ["catalog", "registry", "trace"]
    );
    assert_eq!(
        crate_references("let r = crate::registry(); $crate::x; my_crate::y"),
        ["registry"]
    );
    assert_eq!(
        code_lines(
            "use crate::a; // crate::b\n/// crate::c\n#[cfg(test)]\nmod tests {\nuse crate::d;\n}"
        ),
        ["use crate::a; ", ""]
    );
}
