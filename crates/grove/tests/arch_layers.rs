//! The layering rules of ARCHITECTURE.md, checked on the source: a module may use only
//! modules of lower layers (doc links and comments do not count). A new import that breaks a
//! rule fails here, with the rule it breaks.

use std::collections::BTreeMap;
use std::path::Path;

/// Bottom to top; a module may import modules of lower layers only.
const LAYERS: &[&[&str]] = &[
    &["diag", "ctx", "loom"],
    &["monitor"],
    &["hub"],
    &["time", "io", "greenlet"],
    &["task", "generator", "sync", "thread_pool"],
    &["dns", "fs", "process", "pool", "future", "select"],
    &["net"],
    &["tls", "signal"],
    &["runtime"],
];

/// Crate-root re-exports a module may name (`crate::spawn` is `task::spawn`, ...).
const ROOT_ITEMS: &[(&str, &str)] = &[
    ("spawn", "task"),
    ("try_spawn", "task"),
    ("joinall", "task"),
    ("Builder", "task"),
    ("JoinError", "task"),
    ("JoinHandle", "task"),
    ("timeout", "time"),
    ("timeout_at", "time"),
    ("Elapsed", "time"),
    ("yield_now", "time"),
    ("sleep", "time"),
    ("getcurrent", "greenlet"),
    ("GreenletExit", "hub"),
    ("block_on", "future"),
    ("run", "lib"),
    ("run_info", "hub"),
    ("stats", "hub"),
    ("GreenletInfo", "hub"),
    ("HubStats", "hub"),
    ("WaitError", "hub"),
    ("local", "sync"),
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

fn code_lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines().map(str::trim_start).filter(|l| !l.starts_with("//"))
}

/// Every source file of the crate: its path relative to `src/`, and its text.
fn source_files() -> Vec<(String, String)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let rel = path.strip_prefix(&src).unwrap().to_string_lossy().into_owned();
            files.push((rel, std::fs::read_to_string(&path).unwrap()));
        }
    }
    files
}

#[test]
fn modules_import_only_lower_layers() {
    let mut violations = Vec::new();
    let mut seen = BTreeMap::new();
    for (rel, text) in source_files() {
        let module = rel.split(['/', '.']).next().unwrap().to_string();
        if module == "lib" {
            continue;
        }
        let me = layer_of(&module)
            .unwrap_or_else(|| panic!("{rel}: module `{module}` has no layer in LAYERS"));
        for line in code_lines(&text) {
            let mut names = Vec::new();
            for (i, _) in line.match_indices("crate::") {
                let rest = &line[i + 7..];
                if let Some(group) = rest.strip_prefix('{') {
                    // `use crate::{a, b::c};`: every first segment in the braces.
                    let inner = group.split('}').next().unwrap_or("");
                    names.extend(
                        inner
                            .split(',')
                            .map(|p| p.trim().split("::").next().unwrap_or("").to_string()),
                    );
                } else {
                    names.push(
                        rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect(),
                    );
                }
            }
            for name in names.into_iter().filter(|n| !n.is_empty()) {
                let dep = ROOT_ITEMS
                    .iter()
                    .find(|(item, _)| *item == name)
                    .map_or(name.as_str(), |(_, m)| m);
                if dep == module || dep == "lib" {
                    continue;
                }
                *seen.entry((module.clone(), dep.to_string())).or_insert(0) += 1;
                match layer_of(dep) {
                    Some(l) if l < me => {}
                    Some(l) => violations.push(format!(
                        "{rel}: `{module}` (layer {me}) uses `{dep}` (layer {l}): {line}"
                    )),
                    None => violations.push(format!(
                        "{rel}: `crate::{name}` is neither a module with a layer nor a known \
                             crate-root re-export: {line}"
                    )),
                }
            }
        }
    }
    assert!(violations.is_empty(), "layering broken:\n{}", violations.join("\n"));
    assert!(seen.len() > 10, "the scan found too few imports: {seen:?}");
}

/// Files longer than this are split by job (ARCHITECTURE.md, "one job per file").
const MAX_LINES: usize = 600;

/// Modules outside the core that are still one file each, with why.
const LONG_FILES: &[(&str, &str)] = &[
    ("process.rs", "std::process's surface, one doc example per method"),
    ("tls.rs", "rustls glue: the stream, its split halves and their doc examples"),
];

#[test]
fn no_core_file_is_longer_than_its_job() {
    let long: Vec<String> = source_files()
        .into_iter()
        .map(|(rel, text)| (rel, text.lines().count()))
        .filter(|(rel, n)| *n > MAX_LINES && !LONG_FILES.iter().any(|(f, _)| f == rel))
        .map(|(rel, n)| format!("{rel}: {n} lines"))
        .collect();
    assert!(long.is_empty(), "split these by job (or list them in LONG_FILES with why): {long:?}");
}
