//! The crate's modules form layers: no module reaches, through `crate::` paths, a module that reaches back to it.
//!
//! A circle (connection needing response needing connection) makes each module impossible to read, test or change alone.
//! This reads the `crate::module` paths of each file under `src/` (in `use` items and in code) and fails on any circle.
//! It cannot see an inherent method defined in another module, so it guards the structure, not every call.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Each module of `src/` (but the crate root) with the modules its code names through `crate::`.
fn module_edges() -> BTreeMap<String, BTreeSet<String>> {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut texts = BTreeMap::new();
    for entry in std::fs::read_dir(&source).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_str().unwrap().to_owned();
        if path.extension().is_some_and(|extension| extension == "rs") && name != "lib" {
            texts.insert(name, std::fs::read_to_string(&path).unwrap());
        }
    }
    let modules: BTreeSet<String> = texts.keys().cloned().collect();
    texts
        .iter()
        .map(|(name, text)| {
            let mut named = BTreeSet::new();
            for (index, _) in text.match_indices("crate::") {
                let rest = &text[index + "crate::".len()..];
                // `crate::{a, b::C}` names several modules at once; `crate::a::...` one.
                let paths = match rest.strip_prefix('{') {
                    Some(group) => &group[..group.find('}').unwrap_or(group.len())],
                    None => rest
                        .split(|character: char| !character.is_alphanumeric() && character != '_')
                        .next()
                        .unwrap_or(""),
                };
                for path in paths.split(',') {
                    let first: String = path
                        .trim()
                        .chars()
                        .take_while(|character| character.is_alphanumeric() || *character == '_')
                        .collect();
                    if modules.contains(&first) && &first != name {
                        named.insert(first);
                    }
                }
            }
            (name.clone(), named)
        })
        .collect()
}

/// A circle through `module`, as the list of modules along it, if there is one.
fn circle_from(
    module: &str,
    edges: &BTreeMap<String, BTreeSet<String>>,
    path: &mut Vec<String>,
) -> Option<Vec<String>> {
    if let Some(start) = path.iter().position(|seen| seen == module) {
        let mut circle = path[start..].to_vec();
        circle.push(module.to_owned());
        return Some(circle);
    }
    path.push(module.to_owned());
    for next in edges.get(module).into_iter().flatten() {
        if let Some(circle) = circle_from(next, edges, path) {
            return Some(circle);
        }
    }
    path.pop();
    None
}

#[test]
fn modules_form_no_circle() {
    let edges = module_edges();
    assert!(
        edges.len() > 5,
        "expected the crate's modules, found {edges:?}"
    );
    for module in edges.keys() {
        if let Some(circle) = circle_from(module, &edges, &mut Vec::new()) {
            panic!(
                "modules import each other in a circle: {}",
                circle.join(" -> ")
            );
        }
    }
}

#[test]
fn the_check_sees_a_circle() {
    let mut edges = BTreeMap::new();
    edges.insert("a".to_owned(), BTreeSet::from(["b".to_owned()]));
    edges.insert("b".to_owned(), BTreeSet::from(["a".to_owned()]));
    assert_eq!(
        circle_from("a", &edges, &mut Vec::new()),
        Some(vec!["a".to_owned(), "b".to_owned(), "a".to_owned()])
    );
}
