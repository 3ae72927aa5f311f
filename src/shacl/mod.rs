//! SHACL Core validation: shapes read from a shapes graph, validated against any
//! data source that answers the three lookups of [`DataGraph`], results as a standard
//! `sh:ValidationReport` (triples) or JSON.
//!
//! Written here rather than taken from rudof's `shacl_validation`: that crate brings an HTTP
//! client and TLS stack (82 more crates, oxigraph's `http-client` feature turned on in a server
//! that must never fetch on a client's behalf) and reads data through its own RDF traits, so
//! validating inside a store transaction (uploads checked before they commit) would mean
//! copying the data out. SHACL Core's components and paths are implemented; SHACL-SPARQL and
//! any `sh:` term it does not know are refused when the shapes are read, never ignored.

mod literal;
mod path;
mod shapes;

pub use path::Path;
pub use shapes::{Constraint, Severity, Shape, Shapes, Target};

use oxigraph::model::{BlankNode, Literal, NamedNode, NamedOrBlankNode, Term, Triple};
use std::collections::{HashMap, HashSet};

/// The SHACL namespace.
pub const SH: &str = "http://www.w3.org/ns/shacl#";
const RDF_TYPE: &str = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type";
const RDFS_SUB_CLASS_OF: &str = "http://www.w3.org/2000/01/rdf-schema#subClassOf";

/// Errors of validation.
#[derive(Debug, thiserror::Error)]
pub enum ShaclError {
    /// A shape is malformed or uses a component the validator does not implement.
    #[error("shape {shape}: {message}")]
    Shape {
        /// The shape's node.
        shape: String,
        /// What is wrong.
        message: String,
    },
    /// The data source failed.
    #[error("reading the data graph: {0}")]
    Data(String),
}

/// The data a validation reads. Lookups see the whole data graph (the validated graph plus
/// the context it is read with, such as the ontology); [`DataGraph::focus_subjects`] and
/// [`DataGraph::focus_objects`] see only the graph being validated, so targets select its
/// nodes and not the ontology's.
pub trait DataGraph {
    /// Objects of `(s, p, ?o)`, without duplicates.
    fn objects(&self, s: &Term, p: &NamedNode) -> Result<Vec<Term>, ShaclError>;
    /// Subjects of `(?s, p, o)`, without duplicates.
    fn subjects(&self, p: &NamedNode, o: &Term) -> Result<Vec<Term>, ShaclError>;
    /// Subjects of `(?s, p, o)` (any `o` when `None`) in the validated graph.
    fn focus_subjects(&self, p: &NamedNode, o: Option<&Term>) -> Result<Vec<Term>, ShaclError>;
    /// Objects of `(?s, p, ?o)` in the validated graph.
    fn focus_objects(&self, p: &NamedNode) -> Result<Vec<Term>, ShaclError>;
    /// Every `(p, o)` of `(s, ?p, ?o)` (closed shapes).
    fn outgoing(&self, s: &Term) -> Result<Vec<(NamedNode, Term)>, ShaclError>;
}

/// One `sh:ValidationResult`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ValidationResult {
    /// `sh:focusNode`.
    pub focus_node: String,
    /// `sh:resultPath`: the predicate, or `^predicate` for an inverse path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result_path: Option<String>,
    /// `sh:value`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// `sh:sourceShape`.
    pub source_shape: String,
    /// `sh:sourceConstraintComponent` (full IRI).
    pub source_constraint_component: String,
    /// `sh:resultSeverity` (full IRI).
    pub result_severity: String,
    /// `sh:resultMessage`.
    pub result_message: String,
    #[serde(skip)]
    terms: ResultTerms,
}

#[derive(Debug, Clone, PartialEq)]
struct ResultTerms {
    focus: Term,
    path: Option<Path>,
    value: Option<Term>,
    shape: Term,
}

/// A `sh:ValidationReport`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ValidationReport {
    /// `sh:conforms`: no results.
    pub conforms: bool,
    /// `sh:result`s, in focus-node order.
    pub results: Vec<ValidationResult>,
}

impl ValidationReport {
    /// The report as RDF triples in the SHACL vocabulary.
    pub fn to_triples(&self) -> Vec<Triple> {
        let nn = |local: &str| NamedNode::new_unchecked(format!("{SH}{local}"));
        let rdf_type = NamedNode::new_unchecked(RDF_TYPE);
        let report = BlankNode::default();
        let mut out = vec![
            Triple::new(report.clone(), rdf_type.clone(), nn("ValidationReport")),
            Triple::new(report.clone(), nn("conforms"), Literal::from(self.conforms)),
        ];
        for r in &self.results {
            let node = BlankNode::default();
            out.push(Triple::new(report.clone(), nn("result"), node.clone()));
            out.push(Triple::new(node.clone(), rdf_type.clone(), nn("ValidationResult")));
            out.push(Triple::new(node.clone(), nn("focusNode"), r.terms.focus.clone()));
            if let Some(p) = &r.terms.path {
                let mut path_triples = Vec::new();
                let head = p.to_rdf(&mut path_triples);
                out.push(Triple::new(node.clone(), nn("resultPath"), head));
                out.extend(path_triples);
            }
            if let Some(v) = &r.terms.value {
                out.push(Triple::new(node.clone(), nn("value"), v.clone()));
            }
            out.push(Triple::new(node.clone(), nn("sourceShape"), r.terms.shape.clone()));
            out.push(Triple::new(
                node.clone(),
                nn("sourceConstraintComponent"),
                NamedNode::new_unchecked(&r.source_constraint_component),
            ));
            out.push(Triple::new(node.clone(), nn("resultSeverity"), NamedNode::new_unchecked(&r.result_severity)));
            out.push(Triple::new(node, nn("resultMessage"), Literal::from(r.result_message.as_str())));
        }
        out
    }

    /// The focus node of a result, as a term.
    pub fn focus_of(result: &ValidationResult) -> &Term {
        &result.terms.focus
    }

    /// Focus nodes with at least one result.
    pub fn failing_nodes(&self) -> HashSet<Term> {
        self.results.iter().map(|r| r.terms.focus.clone()).collect()
    }

    /// Messages of the results about one focus node, joined.
    pub fn messages_for(&self, node: &Term) -> String {
        let v: Vec<&str> =
            self.results.iter().filter(|r| &r.terms.focus == node).map(|r| r.result_message.as_str()).collect();
        v.join("; ")
    }
}

/// Which focus nodes to check.
#[derive(Debug, Clone, Default)]
pub enum Focus {
    /// Every target of every shape in the validated graph.
    #[default]
    All,
    /// Only these nodes, each against the shapes that target it.
    Only(HashSet<Term>),
}

fn show_path(p: &Path) -> String {
    p.show()
}

fn short(t: &Term) -> String {
    let s = t.to_string();
    if s.chars().count() > 80 { format!("{}…", s.chars().take(80).collect::<String>()) } else { s }
}

/// A test on the text of a value (length, pattern).
type TextTest<'a> = Box<dyn Fn(&str) -> bool + 'a>;

/// One validation run: caches of class membership over the data graph.
struct Run<'d> {
    data: &'d dyn DataGraph,
    shapes: &'d Shapes,
    super_classes: HashMap<Term, HashSet<Term>>,
    results: Vec<ValidationResult>,
}

/// Validates the data against the shapes.
pub fn validate(shapes: &Shapes, data: &dyn DataGraph, focus: &Focus) -> Result<ValidationReport, ShaclError> {
    let mut run = Run { data, shapes, super_classes: HashMap::new(), results: Vec::new() };
    for (i, shape) in shapes.all.iter().enumerate() {
        if shape.deactivated || shape.targets.is_empty() {
            continue;
        }
        let mut nodes = run.targets(shape)?;
        if let Focus::Only(only) = focus {
            nodes.retain(|n| only.contains(n));
        }
        nodes.sort_by_cached_key(Term::to_string);
        nodes.dedup();
        for n in nodes {
            let found = run.check(i, &n, 0)?;
            run.results.extend(found);
        }
    }
    run.results.sort_by(|a, b| a.focus_node.cmp(&b.focus_node).then(a.source_shape.cmp(&b.source_shape)));
    Ok(ValidationReport { conforms: run.results.is_empty(), results: run.results })
}

impl Run<'_> {
    fn targets(&mut self, shape: &Shape) -> Result<Vec<Term>, ShaclError> {
        let rdf_type = NamedNode::new_unchecked(RDF_TYPE);
        let mut out = Vec::new();
        for t in &shape.targets {
            match t {
                Target::Node(n) => out.push(n.clone()),
                Target::SubjectsOf(p) => out.extend(self.data.focus_subjects(p, None)?),
                Target::ObjectsOf(p) => out.extend(self.data.focus_objects(p)?),
                Target::Class(c) => {
                    for sub in self.sub_classes(&Term::NamedNode(c.clone()))? {
                        out.extend(self.data.focus_subjects(&rdf_type, Some(&sub))?);
                    }
                }
            }
        }
        Ok(out)
    }

    /// `c` and every class under it (through `rdfs:subClassOf` in the data graph).
    fn sub_classes(&self, c: &Term) -> Result<Vec<Term>, ShaclError> {
        let sub = NamedNode::new_unchecked(RDFS_SUB_CLASS_OF);
        let mut seen: HashSet<Term> = HashSet::from([c.clone()]);
        let mut stack = vec![c.clone()];
        while let Some(x) = stack.pop() {
            for s in self.data.subjects(&sub, &x)? {
                if seen.insert(s.clone()) {
                    stack.push(s);
                }
            }
        }
        Ok(seen.into_iter().collect())
    }

    /// `c` and every class above it.
    fn supers(&mut self, c: &Term) -> Result<&HashSet<Term>, ShaclError> {
        if !self.super_classes.contains_key(c) {
            let sub = NamedNode::new_unchecked(RDFS_SUB_CLASS_OF);
            let mut seen: HashSet<Term> = HashSet::from([c.clone()]);
            let mut stack = vec![c.clone()];
            while let Some(x) = stack.pop() {
                for s in self.data.objects(&x, &sub)? {
                    if seen.insert(s.clone()) {
                        stack.push(s);
                    }
                }
            }
            self.super_classes.insert(c.clone(), seen);
        }
        Ok(&self.super_classes[c])
    }

    fn instance_of(&mut self, node: &Term, class: &NamedNode) -> Result<bool, ShaclError> {
        if matches!(node, Term::Literal(_)) {
            return Ok(false);
        }
        let class = Term::NamedNode(class.clone());
        for t in self.data.objects(node, &NamedNode::new_unchecked(RDF_TYPE))? {
            if self.supers(&t)?.contains(&class) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    fn values(&self, focus: &Term, path: &Path) -> Result<Vec<Term>, ShaclError> {
        path.follow(self.data, focus)
    }

    /// Whether a node conforms to a shape (referenced by `sh:node`, `sh:or` and the like).
    fn conforms(&mut self, shape: &Term, node: &Term, depth: usize) -> Result<bool, ShaclError> {
        let j = self.shapes.by_id[shape];
        Ok(self.check(j, node, depth + 1)?.is_empty())
    }

    /// The results of one shape on one focus node (its property shapes included).
    fn check(&mut self, shape_index: usize, focus: &Term, depth: usize) -> Result<Vec<ValidationResult>, ShaclError> {
        let shape = &self.shapes.all[shape_index];
        if shape.deactivated {
            return Ok(Vec::new());
        }
        if depth > 16 {
            return Err(ShaclError::Shape {
                shape: shape.id.to_string(),
                message: "sh:node references recurse more than 16 deep".into(),
            });
        }
        let values = match &shape.path {
            Some(p) => self.values(focus, p)?,
            None => vec![focus.clone()],
        };
        let what = shape.path.as_ref().map(show_path).unwrap_or_else(|| "the node".into());
        let mut out = Vec::new();
        for c in &shape.constraints {
            let mut found: Vec<(Option<Path>, Option<Term>, String)> = Vec::new();
            if let Constraint::Closed(allowed) = c {
                // Each result names the predicate the closed shape does not allow, as the
                // spec asks; rdf:type too is refused unless listed in sh:ignoredProperties.
                for v in values.iter().filter(|v| !matches!(v, Term::Literal(_))) {
                    for (p, o) in self.data.outgoing(v)? {
                        if !allowed.contains(&p) {
                            let why = format!("{} has {p}, which the closed shape does not allow", short(v));
                            found.push((Some(Path::Predicate(p)), Some(o), why));
                        }
                    }
                }
            } else {
                let path = self.shapes.all[shape_index].path.clone();
                for (value, why) in self.failures(c, focus, &values, &what, depth)? {
                    found.push((path.clone(), value, why));
                }
            }
            let shape = &self.shapes.all[shape_index];
            for (path, value, why) in found {
                out.push(ValidationResult {
                    focus_node: focus.to_string(),
                    result_path: path.as_ref().map(show_path),
                    value: value.as_ref().map(Term::to_string),
                    source_shape: shape.id.to_string(),
                    source_constraint_component: format!("{SH}{}", c.component()),
                    result_severity: shape.severity.iri(),
                    result_message: shape.message.clone().unwrap_or(why),
                    terms: ResultTerms { focus: focus.clone(), path, value, shape: shape.id.clone() },
                });
            }
        }
        // Property shapes of a node shape apply to the node shape's value nodes.
        for &j in &self.shapes.all[shape_index].properties {
            for v in &values {
                let found = self.check(j, v, depth + 1)?;
                out.extend(found);
            }
        }
        Ok(out)
    }

    /// The value nodes (or `None` for a count) that break one constraint, each with why.
    fn failures(
        &mut self,
        c: &Constraint,
        focus: &Term,
        values: &[Term],
        what: &str,
        depth: usize,
    ) -> Result<Vec<(Option<Term>, String)>, ShaclError> {
        let mut out = Vec::new();
        let each =
            |out: &mut Vec<(Option<Term>, String)>, ok: &dyn Fn(&Term) -> bool, why: &dyn Fn(&Term) -> String| {
                for v in values {
                    if !ok(v) {
                        out.push((Some(v.clone()), format!("{what}: {} {}", short(v), why(v))));
                    }
                }
            };
        match c {
            Constraint::MinCount(n) if values.len() < *n => {
                out.push((None, format!("{what}: expected at least {n} value(s), found {}", values.len())))
            }
            Constraint::MaxCount(n) if values.len() > *n => {
                out.push((None, format!("{what}: expected at most {n} value(s), found {}", values.len())))
            }
            Constraint::MinCount(_) | Constraint::MaxCount(_) => {}
            Constraint::HasValue(v) => {
                if !values.contains(v) {
                    out.push((None, format!("{what}: must include {v}")))
                }
            }
            Constraint::Datatype(dt) => each(
                &mut out,
                &|v| matches!(v, Term::Literal(l) if l.datatype() == dt.as_ref() && literal::well_formed(dt.as_str(), l.value())),
                &|_| format!("is not a valid {dt}"),
            ),
            Constraint::Class(class) => {
                for v in values {
                    if !self.instance_of(v, class)? {
                        out.push((Some(v.clone()), format!("{what}: {} is not an instance of {class}", short(v))));
                    }
                }
            }
            Constraint::NodeKind(kind) => {
                let k = kind.as_str().strip_prefix(SH).unwrap_or_default();
                each(
                    &mut out,
                    &|v| match v {
                        Term::NamedNode(_) => k.contains("IRI"),
                        Term::BlankNode(_) => k.contains("BlankNode"),
                        _ => k.contains("Literal"),
                    },
                    &|_| format!("is not of node kind sh:{k}"),
                )
            }
            Constraint::Range { component, bound } => {
                let (rel, accept): (&str, fn(std::cmp::Ordering) -> bool) = match *component {
                    "MinInclusiveConstraintComponent" => (">=", |o| o.is_ge()),
                    "MaxInclusiveConstraintComponent" => ("<=", |o| o.is_le()),
                    "MinExclusiveConstraintComponent" => (">", |o| o.is_gt()),
                    _ => ("<", |o| o.is_lt()),
                };
                each(&mut out, &|v| literal::compare(v, bound).is_some_and(accept), &|_| {
                    format!("is not {rel} {bound}")
                })
            }
            Constraint::MinLength(_) | Constraint::MaxLength(_) | Constraint::Pattern(_) => {
                let text = |v: &Term| match v {
                    Term::NamedNode(n) => Some(n.as_str().to_owned()),
                    Term::Literal(l) => Some(l.value().to_owned()),
                    _ => None,
                };
                let (ok, rule): (TextTest<'_>, String) = match c {
                    Constraint::MinLength(n) => {
                        (Box::new(move |t| t.chars().count() >= *n), format!("is shorter than {n} characters"))
                    }
                    Constraint::MaxLength(n) => {
                        (Box::new(move |t| t.chars().count() <= *n), format!("is longer than {n} characters"))
                    }
                    Constraint::Pattern(re) => {
                        (Box::new(move |t| re.is_match(t)), format!("does not match /{}/", re.as_str()))
                    }
                    _ => unreachable!("matched above"),
                };
                each(&mut out, &|v| text(v).is_some_and(|t| ok(&t)), &|_| rule.clone())
            }
            Constraint::In(allowed) => {
                let list: Vec<String> = allowed.iter().map(short).collect();
                each(&mut out, &|v| allowed.contains(v), &|_| format!("is not one of {}", list.join(", ")))
            }
            Constraint::Node(other) => {
                for v in values {
                    if !self.conforms(other, v, depth)? {
                        out.push((Some(v.clone()), format!("{what}: {} does not conform to {other}", short(v))));
                    }
                }
            }
            Constraint::Or(members) | Constraint::And(members) | Constraint::Xone(members) => {
                for v in values {
                    let mut n = 0;
                    for m in members {
                        n += usize::from(self.conforms(m, v, depth)?);
                    }
                    let (ok, rule) = match c {
                        Constraint::Or(_) => (n >= 1, "at least one"),
                        Constraint::And(_) => (n == members.len(), "all"),
                        _ => (n == 1, "exactly one"),
                    };
                    if !ok {
                        out.push((
                            Some(v.clone()),
                            format!("{what}: {} conforms to {n} of {} shapes, not {rule}", short(v), members.len()),
                        ));
                    }
                }
            }
            Constraint::Not(other) => {
                for v in values {
                    if self.conforms(other, v, depth)? {
                        out.push((
                            Some(v.clone()),
                            format!("{what}: {} conforms to {other}, which it must not", short(v)),
                        ));
                    }
                }
            }
            // Checked in `check`: its results name a path of their own.
            Constraint::Closed(_) => {}
            Constraint::LanguageIn(ranges) => each(
                &mut out,
                &|v| match v {
                    Term::Literal(l) => l.language().is_some_and(|tag| {
                        let tag = tag.to_ascii_lowercase();
                        ranges.iter().any(|r| r == "*" || tag == *r || tag.starts_with(&format!("{r}-")))
                    }),
                    _ => false,
                },
                &|_| format!("is not in one of the languages {}", ranges.join(", ")),
            ),
            Constraint::UniqueLang => {
                let mut seen: HashMap<String, usize> = HashMap::new();
                for v in values {
                    if let Term::Literal(l) = v
                        && let Some(tag) = l.language()
                    {
                        *seen.entry(tag.to_ascii_lowercase()).or_default() += 1;
                    }
                }
                let mut dup: Vec<&String> = seen.iter().filter(|(_, n)| **n > 1).map(|(t, _)| t).collect();
                dup.sort();
                for tag in dup {
                    out.push((None, format!("{what}: more than one value in language {tag:?}")));
                }
            }
            Constraint::Equals(p)
            | Constraint::Disjoint(p)
            | Constraint::LessThan(p)
            | Constraint::LessThanOrEquals(p) => {
                let others =
                    if matches!(focus, Term::Literal(_)) { Vec::new() } else { self.data.objects(focus, p)? };
                match c {
                    Constraint::Equals(_) => {
                        for v in values.iter().filter(|v| !others.contains(v)) {
                            out.push((Some(v.clone()), format!("{what}: {} is not a value of {p}", short(v))));
                        }
                        for o in others.iter().filter(|o| !values.contains(o)) {
                            out.push((Some(o.clone()), format!("{what}: lacks {}, a value of {p}", short(o))));
                        }
                    }
                    Constraint::Disjoint(_) => {
                        for v in values.iter().filter(|v| others.contains(v)) {
                            out.push((Some(v.clone()), format!("{what}: {} is also a value of {p}", short(v))));
                        }
                    }
                    _ => {
                        let strict = matches!(c, Constraint::LessThan(_));
                        for v in values {
                            for o in &others {
                                let ok = literal::compare(v, o)
                                    .is_some_and(|ord| if strict { ord.is_lt() } else { ord.is_le() });
                                if !ok {
                                    let rel = if strict { "<" } else { "<=" };
                                    out.push((
                                        Some(v.clone()),
                                        format!("{what}: {} is not {rel} {} ({p})", short(v), short(o)),
                                    ));
                                }
                            }
                        }
                    }
                }
            }
            Constraint::Qualified { shape, min, max } => {
                let mut n = 0;
                for v in values {
                    n += usize::from(self.conforms(shape, v, depth)?);
                }
                if min.is_some_and(|m| n < m) || max.is_some_and(|m| n > m) {
                    out.push((
                        None,
                        format!(
                            "{what}: {n} value(s) conform to {shape}; expected {}{}",
                            min.map_or(String::new(), |m| format!("at least {m}")),
                            max.map_or(String::new(), |m| format!(
                                "{}at most {m}",
                                if min.is_some() { ", " } else { "" }
                            ))
                        ),
                    ));
                }
            }
        }
        Ok(out)
    }
}

/// A data graph held in memory (tests; small bodies).
#[derive(Debug, Default)]
pub struct MemoryGraph {
    by_subject: HashMap<Term, Vec<(NamedNode, Term)>>,
    by_object: HashMap<Term, Vec<(NamedNode, Term)>>,
    focus: HashSet<Triple>,
}

impl MemoryGraph {
    /// `focus` is the graph validated; `context` is read for lookups only.
    pub fn new(focus: &[Triple], context: &[Triple]) -> Self {
        let mut g = MemoryGraph::default();
        for t in focus.iter().chain(context) {
            let s: Term = t.subject.clone().into();
            g.by_subject.entry(s.clone()).or_default().push((t.predicate.clone(), t.object.clone()));
            g.by_object.entry(t.object.clone()).or_default().push((t.predicate.clone(), s));
        }
        g.focus = focus.iter().cloned().collect();
        g
    }
}

fn dedup(mut v: Vec<Term>) -> Vec<Term> {
    let mut seen = HashSet::new();
    v.retain(|t| seen.insert(t.clone()));
    v
}

impl DataGraph for MemoryGraph {
    fn objects(&self, s: &Term, p: &NamedNode) -> Result<Vec<Term>, ShaclError> {
        let all = self.by_subject.get(s).into_iter().flatten();
        Ok(dedup(all.filter(|(q, _)| q == p).map(|(_, o)| o.clone()).collect()))
    }
    fn subjects(&self, p: &NamedNode, o: &Term) -> Result<Vec<Term>, ShaclError> {
        let all = self.by_object.get(o).into_iter().flatten();
        Ok(dedup(all.filter(|(q, _)| q == p).map(|(_, s)| s.clone()).collect()))
    }
    fn focus_subjects(&self, p: &NamedNode, o: Option<&Term>) -> Result<Vec<Term>, ShaclError> {
        let hits = self.focus.iter().filter(|t| &t.predicate == p && o.is_none_or(|o| &t.object == o));
        Ok(dedup(hits.map(|t| t.subject.clone().into()).collect()))
    }
    fn focus_objects(&self, p: &NamedNode) -> Result<Vec<Term>, ShaclError> {
        Ok(dedup(self.focus.iter().filter(|t| &t.predicate == p).map(|t| t.object.clone()).collect()))
    }
    fn outgoing(&self, s: &Term) -> Result<Vec<(NamedNode, Term)>, ShaclError> {
        let mut v: Vec<(NamedNode, Term)> = self.by_subject.get(s).cloned().unwrap_or_default();
        let mut seen = HashSet::new();
        v.retain(|x| seen.insert(x.clone()));
        Ok(v)
    }
}

/// A named or blank node as a term (targets and focus nodes are terms).
pub fn node_term(n: &NamedOrBlankNode) -> Term {
    n.clone().into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxigraph::io::{RdfFormat, RdfParser};

    const PREFIXES: &str =
        "@prefix sh: <http://www.w3.org/ns/shacl#> . @prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
        @prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> . @prefix ex: <http://ex.org/> .
        @prefix rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#> .\n";

    fn triples(ttl: &str) -> Vec<Triple> {
        RdfParser::from_format(RdfFormat::Turtle)
            .for_slice(format!("{PREFIXES}{ttl}").as_bytes())
            .map(|q| q.unwrap().into())
            .collect()
    }

    /// (focus local name, component local name) of every result.
    fn results(shapes: &str, data: &str) -> Vec<(String, String)> {
        let shapes = Shapes::parse(&triples(shapes)).unwrap();
        let g = MemoryGraph::new(&triples(data), &[]);
        let report = validate(&shapes, &g, &Focus::All).unwrap();
        assert_eq!(report.conforms, report.results.is_empty());
        let mut out: Vec<(String, String)> = report
            .results
            .iter()
            .map(|r| {
                let focus = r.focus_node.trim_matches(['<', '>']).trim_start_matches("http://ex.org/").to_string();
                let c = r.source_constraint_component.trim_start_matches(SH).trim_end_matches("ConstraintComponent");
                (focus, c.to_string())
            })
            .collect();
        out.sort();
        out
    }

    #[test]
    fn each_constraint_component_finds_what_breaks_it() {
        let target = "ex:S a sh:NodeShape ; sh:targetClass ex:C ; sh:property [ sh:path ex:p ;";
        // (constraints on ex:p, data beyond the typing, expected (focus, component) results)
        type Case<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)]);
        let cases: [Case<'_>; 16] = [
            ("sh:minCount 1", "ex:a ex:p 1 .", &[("b", "MinCount")]),
            ("sh:maxCount 1", "ex:a ex:p 1, 2 . ex:b ex:p 3 .", &[("a", "MaxCount")]),
            ("sh:datatype xsd:integer", "ex:a ex:p 1 . ex:b ex:p \"1\" .", &[("b", "Datatype")]),
            ("sh:datatype xsd:integer", "ex:a ex:p \"x\"^^xsd:integer .", &[("a", "Datatype")]),
            (
                "sh:class ex:D",
                "ex:a ex:p ex:d1 . ex:d1 a ex:E . ex:E rdfs:subClassOf ex:D . ex:b ex:p ex:z .",
                &[("b", "Class")],
            ),
            ("sh:nodeKind sh:IRI", "ex:a ex:p ex:x . ex:b ex:p \"x\" .", &[("b", "NodeKind")]),
            ("sh:minInclusive 0", "ex:a ex:p 0 . ex:b ex:p -0.5 .", &[("b", "MinInclusive")]),
            ("sh:maxExclusive 5", "ex:a ex:p 4.9 . ex:b ex:p 5 .", &[("b", "MaxExclusive")]),
            ("sh:maxInclusive 5", "ex:a ex:p \"five\" .", &[("a", "MaxInclusive")]),
            ("sh:minLength 2", "ex:a ex:p \"ab\" . ex:b ex:p \"a\" .", &[("b", "MinLength")]),
            ("sh:maxLength 3", "ex:a ex:p \"abc\" . ex:b ex:p \"abcd\" .", &[("b", "MaxLength")]),
            ("sh:pattern \"^[A-Z]{3}$\"", "ex:a ex:p \"USD\" . ex:b ex:p \"usd\" .", &[("b", "Pattern")]),
            ("sh:pattern \"^usd$\" ; sh:flags \"i\"", "ex:a ex:p \"USD\" . ex:b ex:p \"EUR\" .", &[("b", "Pattern")]),
            ("sh:in ( \"x\" \"y\" )", "ex:a ex:p \"x\" . ex:b ex:p \"z\" .", &[("b", "In")]),
            ("sh:hasValue \"x\"", "ex:a ex:p \"x\" . ex:b ex:p \"y\" .", &[("b", "HasValue")]),
            ("sh:minCount 1 ; sh:deactivated true", "", &[]),
        ];
        for (constraints, data, expected) in cases {
            let shapes = format!("{target} {constraints} ] .");
            let data = format!("ex:a a ex:C . ex:b a ex:C . {data}");
            let want: Vec<(String, String)> = expected.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
            assert_eq!(results(&shapes, &data), want, "{constraints}");
        }
    }

    #[test]
    fn logical_pair_language_closed_and_qualified_components() {
        let shape = |body: &str| format!("ex:S a sh:NodeShape ; sh:targetClass ex:C ; {body} .");
        // (shape body, data beyond `ex:a a ex:C . ex:b a ex:C .`, expected results)
        type Case<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)]);
        let cases: [Case<'_>; 12] = [
            (
                "sh:property [ sh:path ex:p ; sh:or ( [ sh:datatype xsd:string ] [ sh:datatype xsd:integer ] ) ]",
                "ex:a ex:p \"x\", 3 . ex:b ex:p true .",
                &[("b", "Or")],
            ),
            (
                "sh:property [ sh:path ex:p ; sh:and ( [ sh:datatype xsd:integer ] [ sh:minInclusive 1 ] ) ]",
                "ex:a ex:p 2 . ex:b ex:p 0 .",
                &[("b", "And")],
            ),
            (
                "sh:property [ sh:path ex:p ; sh:xone ( [ sh:datatype xsd:integer ] [ sh:minInclusive 1 ] ) ]",
                "ex:a ex:p 0 . ex:b ex:p 2 .",
                &[("b", "Xone")],
            ),
            ("sh:not [ sh:class ex:Banned ]", "ex:b a ex:Banned .", &[("b", "Not")]),
            (
                "sh:closed true ; sh:ignoredProperties ( rdf:type ex:note ) ; sh:property [ sh:path ex:p ]",
                "ex:a ex:p 1 ; ex:note 2 . ex:b ex:q 3 .",
                &[("b", "Closed")],
            ),
            (
                "sh:property [ sh:path ex:label ; sh:languageIn ( \"en\" \"fr\" ) ]",
                "ex:a ex:label \"hi\"@en-GB . ex:b ex:label \"hallo\"@de .",
                &[("b", "LanguageIn")],
            ),
            (
                "sh:property [ sh:path ex:label ; sh:uniqueLang true ]",
                "ex:a ex:label \"a\"@en , \"b\"@fr . ex:b ex:label \"a\"@en , \"b\"@EN .",
                &[("b", "UniqueLang")],
            ),
            (
                "sh:property [ sh:path ex:p ; sh:equals ex:q ]",
                "ex:a ex:p 1 ; ex:q 1 . ex:b ex:p 1 ; ex:q 2 .",
                &[("b", "Equals"), ("b", "Equals")],
            ),
            (
                "sh:property [ sh:path ex:p ; sh:disjoint ex:q ]",
                "ex:a ex:p 1 ; ex:q 2 . ex:b ex:p 1 ; ex:q 1 .",
                &[("b", "Disjoint")],
            ),
            (
                "sh:property [ sh:path ex:start ; sh:lessThan ex:end ]",
                "ex:a ex:start 1 ; ex:end 2 . ex:b ex:start 2 ; ex:end 2 .",
                &[("b", "LessThan")],
            ),
            (
                "sh:property [ sh:path ex:part ; sh:qualifiedValueShape [ sh:class ex:Wheel ] ; sh:qualifiedMinCount 2 ]",
                "ex:a ex:part ex:w1 , ex:w2 . ex:w1 a ex:Wheel . ex:w2 a ex:Wheel . ex:b ex:part ex:w1 , ex:x .",
                &[("b", "QualifiedMinCount")],
            ),
            (
                "sh:property [ sh:path ex:p ; sh:node ex:Named ] . ex:Named sh:property [ sh:path ex:name ; sh:minCount 1 ]",
                "ex:a ex:p ex:n1 . ex:n1 ex:name \"n\" . ex:b ex:p ex:n2 .",
                &[("b", "Node")],
            ),
        ];
        for (body, data, expected) in cases {
            let data = format!("ex:a a ex:C . ex:b a ex:C . {data}");
            let want: Vec<(String, String)> = expected.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
            assert_eq!(results(&shape(body), &data), want, "{body}");
        }
    }

    #[test]
    fn closed_shapes_name_the_predicate_they_refuse() {
        let shapes = "ex:S sh:targetNode ex:a ; sh:closed true ; sh:property [ sh:path ex:p ] .";
        let shapes = Shapes::parse(&triples(shapes)).unwrap();
        let data = triples("ex:a a ex:C ; ex:p 1 ; ex:q 2 .");
        let report = validate(&shapes, &MemoryGraph::new(&data, &[]), &Focus::All).unwrap();
        let mut paths: Vec<String> = report.results.iter().filter_map(|r| r.result_path.clone()).collect();
        paths.sort();
        assert_eq!(paths, ["<http://ex.org/q>", "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>"]);
    }

    #[test]
    fn complex_paths_reach_what_sparql_paths_reach() {
        // A chain a -p-> x -q-> y, y -p-> z; b has nothing.
        let data = "ex:a a ex:C . ex:b a ex:C . ex:a ex:p ex:x . ex:x ex:q ex:y . ex:y ex:p ex:z . ex:z ex:r ex:a .";
        // (path, values reached from ex:a)
        let cases: [(&str, usize); 7] = [
            ("( ex:p ex:q )", 1),
            ("[ sh:alternativePath ( ex:p ex:q ) ]", 1),
            ("[ sh:zeroOrMorePath [ sh:alternativePath ( ex:p ex:q ) ] ]", 4),
            ("[ sh:oneOrMorePath [ sh:alternativePath ( ex:p ex:q ) ] ]", 3),
            ("[ sh:zeroOrOnePath ex:p ]", 2),
            ("[ sh:inversePath ex:r ]", 1),
            ("[ sh:inversePath ( ex:q ex:p ) ]", 0),
        ];
        for (path, n) in cases {
            // minCount n + 1 fails on a with exactly n values; maxCount n passes.
            let shapes = format!(
                "ex:S sh:targetNode ex:a ; sh:property [ sh:path {path} ; sh:minCount {} ; sh:maxCount {n} ] .",
                n + 1
            );
            let shapes = Shapes::parse(&triples(&shapes)).unwrap();
            let report = validate(&shapes, &MemoryGraph::new(&triples(data), &[]), &Focus::All).unwrap();
            assert_eq!(report.results.len(), 1, "{path}: {:?}", report.results);
            assert!(report.results[0].result_message.contains(&format!("found {n}")), "{path}: {:?}", report.results);
            let t = report.to_triples();
            assert!(t.iter().any(|x| x.predicate.as_str() == format!("{SH}resultPath")), "{path}");
        }
    }

    #[test]
    fn targets_inverse_paths_and_nested_shapes() {
        let shapes = "ex:S a sh:NodeShape ; sh:targetSubjectsOf ex:q ; sh:property [ sh:path [ sh:inversePath ex:r ] ; sh:minCount 1 ] .
            ex:T a sh:NodeShape ; sh:targetObjectsOf ex:link ; sh:node ex:U .
            ex:U a sh:NodeShape ; sh:property [ sh:path ex:name ; sh:minCount 1 ] .
            ex:V a sh:NodeShape ; sh:targetNode ex:lonely ; sh:property [ sh:path ex:name ; sh:minCount 1 ; sh:severity sh:Warning ] .";
        let data = "ex:a ex:q 1 . ex:z ex:r ex:a . ex:b ex:q 2 .
            ex:h ex:link ex:named , ex:nameless . ex:named ex:name \"n\" .";
        let got = results(shapes, data);
        let want = [("b", "MinCount"), ("lonely", "MinCount"), ("nameless", "Node")];
        assert_eq!(got, want.map(|(a, b)| (a.to_string(), b.to_string())));
    }

    #[test]
    fn malformed_and_unsupported_shapes_are_refused() {
        let cases = [
            (
                "ex:S sh:targetClass ex:C ; sh:property [ sh:path ex:p ; sh:minCount \"many\" ] .",
                "non-negative integer",
            ),
            ("ex:S sh:targetClass ex:C ; sh:property [ sh:path ex:p ; sh:pattern \"(\" ] .", "does not compile"),
            ("ex:S sh:targetClass ex:C ; sh:sparql [ sh:select \"SELECT $this {}\" ] .", "not supported"),
            ("ex:S sh:targetClass ex:C ; sh:property [ sh:minCount 1 ] .", "sh:path"),
            ("ex:S sh:targetClass ex:C ; sh:property [ sh:path [ sh:fooPath ex:p ] ] .", "does not make a SHACL path"),
            ("ex:S sh:targetClass ex:C ; sh:property [ sh:path ( ex:p ) ] .", "at least two"),
            ("ex:S sh:targetClass ex:C ; sh:or ( ex:Missing ) .", "names no shape"),
            (
                "ex:S sh:targetClass ex:C ; sh:property [ sh:path ex:p ; sh:qualifiedValueShape [ sh:class ex:D ] ] .",
                "qualifiedMinCount",
            ),
            ("ex:S sh:targetClass ex:C ; sh:nodeKind sh:Thing .", "node kind"),
            ("ex:S sh:targetClass ex:C ; sh:node ex:Missing .", "names no shape"),
            ("ex:S sh:targetClass ex:C ; sh:property [ sh:path ex:p ; sh:minInclusive ex:x ] .", "number, date"),
            ("ex:S sh:targetClass ex:C ; sh:in ( \"a\" \"b\" .", ""),
        ];
        for (ttl, needle) in cases {
            let parsed: Result<Vec<_>, _> = RdfParser::from_format(RdfFormat::Turtle)
                .for_slice(format!("{PREFIXES}{ttl}").as_bytes())
                .map(|q| q.map(Triple::from))
                .collect();
            // The last case is not even Turtle: the store refuses it before the shapes are read.
            let Ok(t) = parsed else { continue };
            let err = Shapes::parse(&t).unwrap_err().to_string();
            assert!(err.contains(needle), "{ttl}: {err}");
        }
    }

    #[test]
    fn report_triples_carry_the_standard_terms() {
        let shapes =
            Shapes::parse(&triples("ex:S sh:targetNode ex:a ; sh:property [ sh:path ex:p ; sh:minCount 1 ] ."))
                .unwrap();
        let report = validate(&shapes, &MemoryGraph::new(&[], &[]), &Focus::All).unwrap();
        assert!(!report.conforms);
        let t = report.to_triples();
        let has = |p: &str| t.iter().any(|x| x.predicate.as_str() == format!("{SH}{p}"));
        for p in [
            "conforms",
            "result",
            "focusNode",
            "resultPath",
            "sourceShape",
            "sourceConstraintComponent",
            "resultSeverity",
            "resultMessage",
        ] {
            assert!(has(p), "{p}");
        }
    }
}
