//! Checks an ontology must pass before it is installed: no dangling class, no subclass or
//! broader cycle, labels on the shop's own terms, shapes that read.

use super::Snapshot;
use crate::ontology::vocab;
use crate::shacl::Shapes;
use crate::store::model::{NamedOrBlankNode, Term, Triple};
use std::collections::{BTreeSet, HashMap, HashSet};

const RDF_TYPE: &str = vocab::RDF_TYPE;
const OWL: &str = "http://www.w3.org/2002/07/owl#";
const RDFS: &str = "http://www.w3.org/2000/01/rdf-schema#";
const RDF: &str = "http://www.w3.org/1999/02/22-rdf-syntax-ns#";
/// Namespaces whose terms need no declaration in the store.
const BUILT_IN: [&str; 8] = [
    OWL,
    RDFS,
    RDF,
    vocab::XSD,
    vocab::SKOS,
    "http://www.w3.org/ns/prov#",
    crate::shacl::SH,
    "http://purl.org/dc/terms/",
];

/// Why an ontology cannot be installed: dangling classes, subclass / broader cycles, unlabelled
/// terms, shapes that do not read. `vocab_classes` are the classes the vocabulary graphs
/// declare.
pub fn problems(s: &Snapshot, vocab_classes: &HashSet<String>) -> Vec<String> {
    let mut out = Vec::new();
    let iri = |t: &Term| if let Term::NamedNode(n) = t { Some(n.as_str().to_owned()) } else { None };
    let subject =
        |t: &Triple| if let NamedOrBlankNode::NamedNode(n) = &t.subject { Some(n.as_str().to_owned()) } else { None };
    let mut declared: HashSet<String> = vocab_classes.clone();
    let mut types: HashMap<String, Vec<String>> = HashMap::new();
    for t in &s.ontology {
        if t.predicate.as_str() == RDF_TYPE
            && let (Some(sub), Some(o)) = (subject(t), iri(&t.object))
        {
            if o == format!("{OWL}Class") || o == format!("{RDFS}Class") {
                declared.insert(sub.clone());
            }
            types.entry(sub).or_default().push(o);
        }
    }
    let known = |c: &str| declared.contains(c) || BUILT_IN.iter().any(|ns| c.starts_with(ns));
    let mut dangling = BTreeSet::new();
    let class_refs = [
        format!("{RDFS}subClassOf"),
        format!("{OWL}equivalentClass"),
        format!("{RDFS}domain"),
        format!("{RDFS}range"),
        RDF_TYPE.to_owned(),
    ];
    for t in &s.ontology {
        if class_refs.iter().any(|p| p == t.predicate.as_str())
            && let Some(c) = iri(&t.object)
            && !known(&c)
        {
            dangling.insert(format!("{} {} {c}", t.subject, t.predicate));
        }
    }
    for t in &s.shapes {
        let p = t.predicate.as_str();
        if (p == format!("{}class", crate::shacl::SH) || p == format!("{}targetClass", crate::shacl::SH))
            && let Some(c) = iri(&t.object)
            && !known(&c)
        {
            dangling.insert(format!("shape {} names the undeclared class {c}", t.subject));
        }
    }
    out.extend(dangling.into_iter().map(|d| format!("dangling class: {d}")));
    for p in [format!("{RDFS}subClassOf"), vocab::SKOS_BROADER.to_owned()] {
        let mut edges: HashMap<String, Vec<String>> = HashMap::new();
        for t in s.ontology.iter().filter(|t| t.predicate.as_str() == p) {
            if let (Some(a), Some(b)) = (subject(t), iri(&t.object)) {
                edges.entry(a).or_default().push(b);
            }
        }
        if let Some(cycle) = find_cycle(&edges) {
            out.push(format!("cycle in {p}: {}", cycle.join(" → ")));
        }
    }
    let needs_label = [
        format!("{OWL}Class"),
        format!("{OWL}ObjectProperty"),
        format!("{OWL}DatatypeProperty"),
        format!("{OWL}AnnotationProperty"),
        vocab::ASPECT.to_owned(),
        vocab::ATTRIBUTE_VALUE.to_owned(),
    ];
    let labelled: HashSet<String> = s
        .ontology
        .iter()
        .filter(|t| {
            [format!("{RDFS}label"), vocab::SKOS_PREF_LABEL.to_owned()].iter().any(|p| p == t.predicate.as_str())
        })
        .filter_map(subject)
        .collect();
    let mut unlabelled: Vec<&String> = types
        .iter()
        .filter(|(s, ts)| {
            s.starts_with(vocab::SG) && ts.iter().any(|t| needs_label.contains(t)) && !labelled.contains(*s)
        })
        .map(|(s, _)| s)
        .collect();
    unlabelled.sort();
    out.extend(unlabelled.into_iter().map(|s| format!("no rdfs:label or skos:prefLabel: <{s}>")));
    if let Err(e) = Shapes::parse(&s.shapes) {
        out.push(format!("shapes: {e}"));
    }
    out
}

/// One cycle of a directed graph, as its path, if any.
fn find_cycle(edges: &HashMap<String, Vec<String>>) -> Option<Vec<String>> {
    // 0 unseen, 1 on the stack, 2 done.
    let mut state: HashMap<&str, u8> = HashMap::new();
    let mut starts: Vec<&String> = edges.keys().collect();
    starts.sort();
    for start in starts {
        if state.get(start.as_str()).copied().unwrap_or(0) != 0 {
            continue;
        }
        let mut stack: Vec<(&str, usize)> = vec![(start, 0)];
        state.insert(start, 1);
        while let Some((node, i)) = stack.pop() {
            let next = edges.get(node).and_then(|v| v.get(i));
            match next {
                Some(m) => {
                    stack.push((node, i + 1));
                    match state.get(m.as_str()).copied().unwrap_or(0) {
                        1 => {
                            let at = stack.iter().position(|(n, _)| *n == m.as_str()).unwrap_or(0);
                            let mut path: Vec<String> = stack[at..].iter().map(|(n, _)| n.to_string()).collect();
                            path.push(m.clone());
                            return Some(path);
                        }
                        0 => {
                            state.insert(m, 1);
                            stack.push((m, 0));
                        }
                        _ => {}
                    }
                }
                None => {
                    state.insert(node, 2);
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_ontology_has_no_problems() {
        let snap = super::super::split_builtin(&crate::ontology::ontology_quads().unwrap());
        assert!(!snap.ontology.is_empty() && !snap.shapes.is_empty());
        let vocab_classes: HashSet<String> = crate::ontology::ontology_quads()
            .unwrap()
            .into_iter()
            .filter(|q| q.predicate.as_str() == RDF_TYPE && q.object.to_string().ends_with("#Class>"))
            .map(|q| q.subject.to_string().trim_matches(['<', '>']).to_owned())
            .collect();
        assert_eq!(problems(&snap, &vocab_classes), Vec::<String>::new());
    }

    #[test]
    fn cycles_are_found_with_their_path() {
        let e = |pairs: &[(&str, &str)]| {
            let mut m: HashMap<String, Vec<String>> = HashMap::new();
            for (a, b) in pairs {
                m.entry(a.to_string()).or_default().push(b.to_string());
            }
            m
        };
        assert_eq!(find_cycle(&e(&[("a", "b"), ("b", "c"), ("x", "b")])), None);
        let c = find_cycle(&e(&[("a", "b"), ("b", "c"), ("c", "a")])).unwrap();
        assert_eq!((c.len(), c.first(), c.last()), (4, c.last(), c.first()));
        assert!(find_cycle(&e(&[("a", "a")])).is_some());
    }
}
