//! Snapshots as units for diff and merge: a named subject's values of one predicate, blank-node
//! structures written out canonically so that equal shapes compare equal whatever their labels;
//! the diff of two snapshots by kind of term.

use super::{Change, OntologyDiff, Snapshot, Terms};
use crate::store::model::{NamedOrBlankNode, Term, Triple};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

const RDF_TYPE: &str = crate::ontology::vocab::RDF_TYPE;
const OWL: &str = "http://www.w3.org/2002/07/owl#";
const RDFS: &str = "http://www.w3.org/2000/01/rdf-schema#";
const SKOS_ALT: &str = "http://www.w3.org/2004/02/skos/core#altLabel";
const SKOS_PREF: &str = crate::ontology::vocab::SKOS_PREF_LABEL;

/// (part: 0 ontology / 1 shapes, subject, predicate) → canonical value → its triples (the
/// triple itself plus the blank-node structure under its object).
pub(super) type Units = BTreeMap<(u8, String, String), BTreeMap<String, Vec<Triple>>>;

fn canon(t: &Term, by_subject: &HashMap<Term, Vec<&Triple>>, depth: usize, out: &mut Vec<Triple>) -> String {
    match t {
        Term::BlankNode(_) if depth < 16 => {
            let mut parts: Vec<String> = Vec::new();
            for x in by_subject.get(t).into_iter().flatten() {
                out.push((*x).clone());
                parts.push(format!("{} {}", x.predicate, canon(&x.object, by_subject, depth + 1, out)));
            }
            parts.sort();
            format!("[ {} ]", parts.join(" ; "))
        }
        Term::BlankNode(_) => "[ … ]".into(),
        other => other.to_string(),
    }
}

pub(super) fn units(s: &Snapshot) -> Units {
    let mut out = Units::new();
    for (part, triples) in [(0u8, &s.ontology), (1, &s.shapes)] {
        let mut by_subject: HashMap<Term, Vec<&Triple>> = HashMap::new();
        for t in triples {
            by_subject.entry(t.subject.clone().into()).or_default().push(t);
        }
        let mut reached: HashSet<Triple> = HashSet::new();
        for t in triples.iter().filter(|t| matches!(t.subject, NamedOrBlankNode::NamedNode(_))) {
            let mut closure = vec![t.clone()];
            let value = canon(&t.object, &by_subject, 0, &mut closure);
            reached.extend(closure.iter().cloned());
            out.entry((part, t.subject.to_string(), t.predicate.to_string())).or_default().insert(value, closure);
        }
        // Blank-node structures no named subject reaches are kept whole, keyed by their shape.
        for t in triples.iter().filter(|t| !reached.contains(*t) && matches!(t.subject, NamedOrBlankNode::BlankNode(_)))
        {
            let mut closure = Vec::new();
            let key = canon(&t.subject.clone().into(), &by_subject, 0, &mut closure);
            out.entry((part, key.clone(), String::new())).or_default().insert(key, closure);
        }
    }
    out
}

pub(super) fn rebuild(u: &Units) -> Snapshot {
    let mut seen = HashSet::new();
    let mut s = Snapshot::default();
    for ((part, _, _), values) in u {
        for t in values.values().flatten() {
            if seen.insert((*part, t.clone())) {
                if *part == 0 { s.ontology.push(t.clone()) } else { s.shapes.push(t.clone()) }
            }
        }
    }
    s
}

/// Whether two snapshots hold the same values (blank-node labels and order aside).
pub(super) fn same(a: &Units, b: &Units) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|((ka, va), (kb, vb))| ka == kb && va.keys().eq(vb.keys()))
}

pub(super) fn keys(v: Option<&BTreeMap<String, Vec<Triple>>>) -> BTreeSet<&String> {
    v.map(|m| m.keys().collect()).unwrap_or_default()
}

pub(super) fn summary(d: &OntologyDiff) -> String {
    let n = |t: &Terms| t.classes.len() + t.properties.len() + t.terms.len() + t.shapes.len();
    format!(
        "{} term(s) added, {} removed, {} label change(s), {} other change(s); +{} −{} triples",
        n(&d.added),
        n(&d.removed),
        d.labels.len(),
        d.changed.len(),
        d.triples_added,
        d.triples_removed
    )
}

/// The kind of each named subject, read from its types (in either snapshot).
fn kinds(snaps: [&Snapshot; 2]) -> HashMap<String, &'static str> {
    let mut out = HashMap::new();
    for s in snaps {
        for t in &s.shapes {
            out.insert(t.subject.to_string(), "shape");
        }
        for t in s.ontology.iter().filter(|t| t.predicate.as_str() == RDF_TYPE) {
            let o = t.object.to_string();
            let kind = if o == format!("<{OWL}Class>") || o == format!("<{RDFS}Class>") {
                "class"
            } else if o.contains("Property>") {
                "property"
            } else {
                "term"
            };
            let e = out.entry(t.subject.to_string()).or_insert(kind);
            // A class or property typed otherwise as well stays a class or property.
            if *e == "term" {
                *e = kind;
            }
        }
    }
    out
}

pub(super) fn diff(from: &str, to: &str, a: &Snapshot, b: &Snapshot) -> OntologyDiff {
    let (ua, ub) = (units(a), units(b));
    let subjects = |u: &Units| -> BTreeSet<(u8, String)> { u.keys().map(|(p, s, _)| (*p, s.clone())).collect() };
    let (sa, sb) = (subjects(&ua), subjects(&ub));
    let kind = kinds([a, b]);
    let mut added = Terms::default();
    let mut removed = Terms::default();
    let put = |t: &mut Terms, s: &str| match kind.get(s).copied() {
        Some("class") => t.classes.push(s.to_owned()),
        Some("property") => t.properties.push(s.to_owned()),
        Some("shape") => t.shapes.push(s.to_owned()),
        Some(_) => t.terms.push(s.to_owned()),
        None => {}
    };
    for (_, s) in sb.difference(&sa) {
        put(&mut added, s);
    }
    for (_, s) in sa.difference(&sb) {
        put(&mut removed, s);
    }
    let labels = [format!("<{RDFS}label>"), format!("<{SKOS_PREF}>"), format!("<{SKOS_ALT}>")];
    let mut label_changes = Vec::new();
    let mut changed = Vec::new();
    let all: BTreeSet<&(u8, String, String)> = ua.keys().chain(ub.keys()).collect();
    for k in all {
        if !(sa.contains(&(k.0, k.1.clone())) && sb.contains(&(k.0, k.1.clone()))) {
            continue;
        }
        let (ka, kb) = (keys(ua.get(k)), keys(ub.get(k)));
        if ka == kb {
            continue;
        }
        let c = Change {
            subject: k.1.clone(),
            predicate: k.2.clone(),
            added: kb.difference(&ka).map(|s| s.to_string()).collect(),
            removed: ka.difference(&kb).map(|s| s.to_string()).collect(),
        };
        if labels.contains(&k.2) { label_changes.push(c) } else { changed.push(c) }
    }
    let ta: HashSet<String> = a.ontology.iter().chain(&a.shapes).map(units_free).collect();
    let tb: HashSet<String> = b.ontology.iter().chain(&b.shapes).map(units_free).collect();
    OntologyDiff {
        from: from.to_owned(),
        to: to.to_owned(),
        added,
        removed,
        labels: label_changes,
        changed,
        triples_added: tb.difference(&ta).count(),
        triples_removed: ta.difference(&tb).count(),
    }
}

/// A triple's text with blank nodes blanked, so that equal structures read alike.
fn units_free(t: &Triple) -> String {
    let b = |s: String| if s.starts_with("_:") { "_:b".to_owned() } else { s };
    format!("{} {} {}", b(t.subject.to_string()), t.predicate, b(t.object.to_string()))
}
