//! The anomaly registry (`src/vocab/anomalies.rs`) is the one list of
//! anomaly names: README's anomaly table and the JSON Schema's
//! `anomaly_name` enum must equal it, every registered anomaly must be
//! emitted somewhere (or be listed in [`NOT_EMITTED`] with a reason), and a
//! dotted name written as a string literal in `src/` (a consumer matching on
//! a name) must be registered. Emitters cannot bypass the registry: they
//! build anomalies with `Anomaly::new(AnomalyKind, ..)`.
//!
//! Failure messages say exactly what to add where.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use rtmpscope::vocab::anomalies::ALL;
use rtmpscope::vocab::AnomalyKind;

const REGISTRY: &str = "src/vocab/anomalies.rs";
const BEGIN: &str = "<!-- anomaly-table: begin";
const END: &str = "<!-- anomaly-table: end -->";

/// Registered anomalies that no code emits (none today). An entry needs a
/// reason, e.g. a name kept in the registry for consumers of old output.
const NOT_EMITTED: &[(&str, &str)] = &[];

/// String literals in `src/` shaped like anomaly names that are not
/// anomaly names.
const NOT_NAMES: &[&str] = &[
    // A file name in a CLI parsing test.
    "capture.pcapng",
];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// The registry constant's identifier for a name (`tcp.seq_gap` -> `TCP_SEQ_GAP`).
fn ident(name: &str) -> String {
    name.to_uppercase().replace('.', "_")
}

fn readme_row(k: &AnomalyKind) -> String {
    format!("| `{}` | {} | {} |", k.name, k.severity.as_str(), k.meaning)
}

fn registry_line(name: &str) -> String {
    format!(
        "    {} = \"{name}\", Warning, \"<one-line meaning>\";",
        ident(name)
    )
}

#[test]
fn registry_is_sorted_unique_and_well_formed() {
    let names: Vec<&str> = ALL.iter().map(|k| k.name).collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(
        names, sorted,
        "{REGISTRY}: keep the entries sorted by name, each once"
    );
    for k in ALL {
        let ok = k.name.split('.').count() >= 2
            && k.name.split('.').all(|p| {
                !p.is_empty()
                    && p.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            });
        assert!(
            ok,
            "{REGISTRY}: {:?} is not a dotted lower-case name",
            k.name
        );
        assert!(
            !k.meaning.trim().is_empty() && !k.meaning.contains('\n') && !k.meaning.contains('|'),
            "{REGISTRY}: {} needs a one-line meaning without '|'",
            k.name
        );
    }
}

#[test]
fn readme_table_equals_the_registry() {
    let readme = read("README.md");
    let start = readme
        .find(BEGIN)
        .unwrap_or_else(|| panic!("README.md: the anomaly table's marker {BEGIN:?} is missing"));
    let end = readme[start..]
        .find(END)
        .map(|e| start + e)
        .unwrap_or_else(|| panic!("README.md: the marker {END:?} is missing"));
    let table: Vec<&str> = readme[start..end]
        .lines()
        .filter(|l| l.starts_with("| `"))
        .collect();
    let want: Vec<String> = ALL.iter().map(readme_row).collect();
    let have: BTreeSet<&str> = table.iter().copied().collect();
    let wanted: BTreeSet<&str> = want.iter().map(String::as_str).collect();
    let missing: Vec<&str> = want
        .iter()
        .map(String::as_str)
        .filter(|r| !have.contains(r))
        .collect();
    let extra: Vec<&str> = table
        .iter()
        .copied()
        .filter(|r| !wanted.contains(r))
        .collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "README.md's anomaly table (between {BEGIN:?} and {END:?}) differs from {REGISTRY}.\n\
         Add these rows (sorted by name):\n{}\nRemove or fix these rows:\n{}",
        missing.join("\n"),
        extra.join("\n")
    );
    let order: Vec<&str> = table.to_vec();
    assert_eq!(
        order,
        want.iter().map(String::as_str).collect::<Vec<_>>(),
        "README.md: keep the anomaly table sorted by name"
    );
}

#[test]
fn schema_enum_equals_the_registry() {
    let schema: serde_json::Value =
        serde_json::from_str(&read("schema/rtmpscope-events.schema.json")).unwrap();
    let list = schema["$defs"]["anomaly_name"]["enum"]
        .as_array()
        .expect("schema: $defs.anomaly_name.enum is missing");
    let have: Vec<&str> = list.iter().filter_map(|v| v.as_str()).collect();
    let want: Vec<&str> = ALL.iter().map(|k| k.name).collect();
    let have_set: BTreeSet<&str> = have.iter().copied().collect();
    let want_set: BTreeSet<&str> = want.iter().copied().collect();
    let missing: Vec<String> = want_set
        .difference(&have_set)
        .map(|n| format!("  \"{n}\","))
        .collect();
    let extra: Vec<&&str> = have_set.difference(&want_set).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "schema/rtmpscope-events.schema.json: $defs.anomaly_name.enum differs from {REGISTRY}.\n\
         Add (sorted by name):\n{}\nRemove: {extra:?}",
        missing.join("\n")
    );
    assert_eq!(
        have, want,
        "schema: keep $defs.anomaly_name.enum sorted by name"
    );
    // The places that carry names refer to the enum.
    let text = read("schema/rtmpscope-events.schema.json");
    assert!(
        text.matches("\"#/$defs/anomaly_name\"").count() >= 4,
        "schema: anomaly.name, anomaly.suppressed.name, stats.anomalies and \
         session.anomalies must refer to $defs/anomaly_name"
    );
}

/// `src/**/*.rs` without the registry, the unit-test files and the inline
/// `mod tests` blocks.
fn code_files() -> Vec<(PathBuf, String)> {
    fn walk(d: &Path, out: &mut Vec<(PathBuf, String)>) {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                let name = p.file_name().unwrap().to_string_lossy().into_owned();
                if p.ends_with(REGISTRY) || name == "tests.rs" || name == "testutil.rs" {
                    continue;
                }
                let mut text = std::fs::read_to_string(&p).unwrap();
                if let Some(i) = text.find("#[cfg(test)]\nmod tests {") {
                    text.truncate(i);
                }
                out.push((p, text));
            }
        }
    }
    let mut v = Vec::new();
    walk(&root().join("src"), &mut v);
    v.sort();
    v
}

#[test]
fn every_registered_anomaly_is_emitted() {
    let files = code_files();
    let allowed: BTreeMap<&str, &str> = NOT_EMITTED.iter().copied().collect();
    let mut unused = Vec::new();
    for k in ALL {
        let id = format!("anomalies::{}", ident(k.name));
        let used = files.iter().any(|(_, t)| {
            t.match_indices(&id).any(|(i, _)| {
                // Not a longer identifier with the same start.
                !t[i + id.len()..]
                    .starts_with(|c: char| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
            })
        });
        if !used && !allowed.contains_key(k.name) {
            unused.push(k.name);
        }
        if used && allowed.contains_key(k.name) {
            panic!(
                "{} is emitted now: remove it from NOT_EMITTED in tests/anomaly_registry.rs",
                k.name
            );
        }
    }
    assert!(
        unused.is_empty(),
        "registered but never emitted by src/ (no `anomalies::CONST` outside tests): {unused:?}.\n\
         Emit them, remove them from {REGISTRY}, README.md and the schema, or list them in \
         NOT_EMITTED (tests/anomaly_registry.rs) with the reason"
    );
}

#[test]
fn dotted_name_literals_in_src_are_registered() {
    let registered: BTreeSet<&str> = ALL.iter().map(|k| k.name).collect();
    let prefixes: BTreeSet<&str> = ALL
        .iter()
        .filter_map(|k| k.name.split('.').next())
        .collect();
    let mut bad = Vec::new();
    for (path, text) in code_files() {
        for lit in text.split('"').skip(1).step_by(2) {
            let mut parts = lit.split('.');
            let head = parts.next().unwrap_or("");
            let shaped = lit.contains('.')
                && lit.split('.').all(|p| {
                    !p.is_empty()
                        && p.chars()
                            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                });
            if shaped
                && prefixes.contains(head)
                && !registered.contains(lit)
                && !NOT_NAMES.contains(&lit)
            {
                bad.push(format!(
                    "{}: {lit:?}",
                    path.strip_prefix(root()).unwrap().display()
                ));
            }
        }
    }
    let lines: Vec<String> = bad
        .iter()
        .filter_map(|b| b.rsplit('"').nth(1).map(registry_line))
        .collect();
    assert!(
        bad.is_empty(),
        "anomaly-shaped names in src/ that are not registered:\n{}\n\
         Register each with one line in {REGISTRY} (sorted; then README.md's table row and \
         the schema's $defs.anomaly_name enum, which the other tests print), e.g.\n{}\n\
         or, if the literal is no anomaly name, add it to NOT_NAMES in tests/anomaly_registry.rs",
        bad.join("\n"),
        lines.join("\n")
    );
}
