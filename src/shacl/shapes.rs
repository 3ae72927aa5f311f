//! Reading SHACL shapes from the triples of a shapes graph into [`Shapes`], refusing what
//! shopgraph's validator does not implement instead of silently passing it.

use super::path::{Path, list};
use super::{SH, ShaclError, literal};
use oxigraph::model::{NamedNode, NamedOrBlankNode, Term, Triple};
use std::collections::{HashMap, HashSet};

const RDF: &str = "http://www.w3.org/1999/02/22-rdf-syntax-ns#";

/// How bad a result is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Severity {
    /// `sh:Violation` (the default).
    Violation,
    /// `sh:Warning`.
    Warning,
    /// `sh:Info`.
    Info,
}

impl Severity {
    /// The severity's IRI.
    pub fn iri(self) -> String {
        format!(
            "{SH}{}",
            match self {
                Severity::Violation => "Violation",
                Severity::Warning => "Warning",
                Severity::Info => "Info",
            }
        )
    }
}

/// One constraint component's parameter(s).
#[derive(Debug, Clone)]
pub enum Constraint {
    /// `sh:minCount`.
    MinCount(usize),
    /// `sh:maxCount`.
    MaxCount(usize),
    /// `sh:datatype`.
    Datatype(NamedNode),
    /// `sh:class`.
    Class(NamedNode),
    /// `sh:nodeKind`.
    NodeKind(NamedNode),
    /// `sh:minInclusive`, `sh:maxInclusive`, `sh:minExclusive`, `sh:maxExclusive`.
    Range { component: &'static str, bound: Term },
    /// `sh:minLength`.
    MinLength(usize),
    /// `sh:maxLength`.
    MaxLength(usize),
    /// `sh:pattern` (with `sh:flags`).
    Pattern(regex::Regex),
    /// `sh:in`.
    In(Vec<Term>),
    /// `sh:hasValue`.
    HasValue(Term),
    /// `sh:node`: each value conforms to that shape.
    Node(Term),
    /// `sh:or`: each value conforms to at least one of the shapes.
    Or(Vec<Term>),
    /// `sh:and`: each value conforms to all of them.
    And(Vec<Term>),
    /// `sh:not`: no value conforms to the shape.
    Not(Term),
    /// `sh:xone`: each value conforms to exactly one of them.
    Xone(Vec<Term>),
    /// `sh:closed true`: the focus node has no predicate outside these (the property shapes'
    /// predicates and `sh:ignoredProperties`).
    Closed(HashSet<NamedNode>),
    /// `sh:languageIn`.
    LanguageIn(Vec<String>),
    /// `sh:uniqueLang true`.
    UniqueLang,
    /// `sh:equals`: the values are exactly the focus node's values of this predicate.
    Equals(NamedNode),
    /// `sh:disjoint`: no value is a value of this predicate.
    Disjoint(NamedNode),
    /// `sh:lessThan`: each value is less than every value of this predicate.
    LessThan(NamedNode),
    /// `sh:lessThanOrEquals`.
    LessThanOrEquals(NamedNode),
    /// `sh:qualifiedValueShape` with `sh:qualifiedMinCount` / `sh:qualifiedMaxCount`.
    Qualified {
        /// The shape counted values conform to.
        shape: Term,
        /// At least this many.
        min: Option<usize>,
        /// At most this many.
        max: Option<usize>,
    },
}

impl Constraint {
    /// The constraint component's local name (`MinCountConstraintComponent`).
    pub fn component(&self) -> &'static str {
        match self {
            Constraint::MinCount(_) => "MinCountConstraintComponent",
            Constraint::MaxCount(_) => "MaxCountConstraintComponent",
            Constraint::Datatype(_) => "DatatypeConstraintComponent",
            Constraint::Class(_) => "ClassConstraintComponent",
            Constraint::NodeKind(_) => "NodeKindConstraintComponent",
            Constraint::Range { component, .. } => component,
            Constraint::MinLength(_) => "MinLengthConstraintComponent",
            Constraint::MaxLength(_) => "MaxLengthConstraintComponent",
            Constraint::Pattern(_) => "PatternConstraintComponent",
            Constraint::In(_) => "InConstraintComponent",
            Constraint::HasValue(_) => "HasValueConstraintComponent",
            Constraint::Node(_) => "NodeConstraintComponent",
            Constraint::Or(_) => "OrConstraintComponent",
            Constraint::And(_) => "AndConstraintComponent",
            Constraint::Not(_) => "NotConstraintComponent",
            Constraint::Xone(_) => "XoneConstraintComponent",
            Constraint::Closed(_) => "ClosedConstraintComponent",
            Constraint::LanguageIn(_) => "LanguageInConstraintComponent",
            Constraint::UniqueLang => "UniqueLangConstraintComponent",
            Constraint::Equals(_) => "EqualsConstraintComponent",
            Constraint::Disjoint(_) => "DisjointConstraintComponent",
            Constraint::LessThan(_) => "LessThanConstraintComponent",
            Constraint::LessThanOrEquals(_) => "LessThanOrEqualsConstraintComponent",
            Constraint::Qualified { min: Some(_), .. } => "QualifiedMinCountConstraintComponent",
            Constraint::Qualified { .. } => "QualifiedMaxCountConstraintComponent",
        }
    }

    /// The shapes this constraint refers to.
    pub fn shape_refs(&self) -> Vec<&Term> {
        match self {
            Constraint::Node(t) | Constraint::Not(t) | Constraint::Qualified { shape: t, .. } => vec![t],
            Constraint::Or(ts) | Constraint::And(ts) | Constraint::Xone(ts) => ts.iter().collect(),
            _ => Vec::new(),
        }
    }
}

/// What a shape selects as its focus nodes.
#[derive(Debug, Clone)]
pub enum Target {
    /// `sh:targetClass`: instances of the class and its subclasses.
    Class(NamedNode),
    /// `sh:targetNode`.
    Node(Term),
    /// `sh:targetSubjectsOf`.
    SubjectsOf(NamedNode),
    /// `sh:targetObjectsOf`.
    ObjectsOf(NamedNode),
}

/// A node shape or a property shape.
#[derive(Debug, Clone)]
pub struct Shape {
    /// The shape's node in the shapes graph.
    pub id: Term,
    /// `None` for a node shape.
    pub path: Option<Path>,
    /// Focus-node selectors (node shapes; property shapes reached through `sh:property`).
    pub targets: Vec<Target>,
    /// Constraints on the value nodes.
    pub constraints: Vec<Constraint>,
    /// `sh:property` shapes, by index into [`Shapes::all`].
    pub properties: Vec<usize>,
    /// `sh:severity`.
    pub severity: Severity,
    /// `sh:message`, when the shape gives one.
    pub message: Option<String>,
    /// `sh:deactivated true`.
    pub deactivated: bool,
}

/// Every shape of a shapes graph.
#[derive(Debug, Clone, Default)]
pub struct Shapes {
    /// All shapes; node shapes with targets are the roots of validation.
    pub all: Vec<Shape>,
    /// Shape node to index.
    pub by_id: HashMap<Term, usize>,
}

/// Predicates a shape may carry that do not constrain anything (annotations, form hints).
const ANNOTATIONS: [&str; 10] = [
    "name",
    "description",
    "order",
    "group",
    "defaultValue",
    "flags",
    "ignoredProperties",
    "qualifiedMinCount",
    "qualifiedMaxCount",
    "qualifiedValueShapesDisjoint",
];

type Index<'a> = HashMap<&'a Term, Vec<(&'a NamedNode, &'a Term)>>;

fn sh(local: &str) -> String {
    format!("{SH}{local}")
}

fn bad(shape: &Term, message: impl Into<String>) -> ShaclError {
    ShaclError::Shape { shape: shape.to_string(), message: message.into() }
}

fn count(shape: &Term, p: &str, o: &Term) -> Result<usize, ShaclError> {
    match o {
        Term::Literal(l) => l
            .value()
            .parse::<usize>()
            .map_err(|_| bad(shape, format!("sh:{p} must be a non-negative integer, got {o}"))),
        _ => Err(bad(shape, format!("sh:{p} must be a non-negative integer, got {o}"))),
    }
}

fn iri<'t>(shape: &Term, p: &str, o: &'t Term) -> Result<&'t NamedNode, ShaclError> {
    match o {
        Term::NamedNode(n) => Ok(n),
        _ => Err(bad(shape, format!("sh:{p} must be an IRI, got {o}"))),
    }
}

impl Shapes {
    /// Reads the shapes of a graph's triples. A shape using a constraint component this
    /// validator does not implement, or with a malformed parameter, is an error: a shape that
    /// silently checks nothing would report data as conforming.
    pub fn parse(triples: &[Triple]) -> Result<Shapes, ShaclError> {
        let as_term = |s: &NamedOrBlankNode| -> Term { s.clone().into() };
        let subjects: Vec<Term> = triples.iter().map(|t| as_term(&t.subject)).collect();
        let mut index: Index<'_> = HashMap::new();
        for (t, s) in triples.iter().zip(&subjects) {
            index.entry(s).or_default().push((&t.predicate, &t.object));
        }
        // Shapes: typed as such, carrying a target, or referenced by sh:property / sh:node.
        let mut roots: Vec<Term> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for t in triples {
            let p = t.predicate.as_str();
            let typed = p == format!("{RDF}type")
                && matches!(&t.object, Term::NamedNode(c) if c.as_str() == sh("NodeShape") || c.as_str() == sh("PropertyShape"));
            let targeted =
                ["targetClass", "targetNode", "targetSubjectsOf", "targetObjectsOf"].iter().any(|l| p == sh(l));
            if (typed || targeted) && seen.insert(as_term(&t.subject)) {
                roots.push(as_term(&t.subject));
            }
        }
        let mut shapes = Shapes::default();
        for r in roots {
            shapes.read(&r, &index, 0)?;
        }
        Ok(shapes)
    }

    fn read(&mut self, id: &Term, index: &Index<'_>, depth: usize) -> Result<usize, ShaclError> {
        if let Some(&i) = self.by_id.get(id) {
            return Ok(i);
        }
        if depth > 32 {
            return Err(bad(id, "shapes nested more than 32 deep"));
        }
        let i = self.all.len();
        self.by_id.insert(id.clone(), i);
        self.all.push(Shape {
            id: id.clone(),
            path: None,
            targets: Vec::new(),
            constraints: Vec::new(),
            properties: Vec::new(),
            severity: Severity::Violation,
            message: None,
            deactivated: false,
        });
        let props: Vec<(&NamedNode, &Term)> = index.get(id).cloned().unwrap_or_default();
        let mut property_ids = Vec::new();
        let mut flags = String::new();
        let mut pattern = None;
        for (p, o) in &props {
            if p.as_str() == sh("flags") {
                flags = o_value(o);
            }
        }
        let mut shape = self.all[i].clone();
        let mut closed = false;
        for &(p, o) in &props {
            let Some(local) = p.as_str().strip_prefix(SH) else { continue };
            match local {
                "path" => shape.path = Some(Path::parse(id, o, index, 0)?),
                "targetClass" => shape.targets.push(Target::Class(iri(id, local, o)?.clone())),
                "targetNode" => shape.targets.push(Target::Node(o.clone())),
                "targetSubjectsOf" => shape.targets.push(Target::SubjectsOf(iri(id, local, o)?.clone())),
                "targetObjectsOf" => shape.targets.push(Target::ObjectsOf(iri(id, local, o)?.clone())),
                "property" => property_ids.push(o.clone()),
                "minCount" => shape.constraints.push(Constraint::MinCount(count(id, local, o)?)),
                "maxCount" => shape.constraints.push(Constraint::MaxCount(count(id, local, o)?)),
                "minLength" => shape.constraints.push(Constraint::MinLength(count(id, local, o)?)),
                "maxLength" => shape.constraints.push(Constraint::MaxLength(count(id, local, o)?)),
                "datatype" => shape.constraints.push(Constraint::Datatype(iri(id, local, o)?.clone())),
                "class" => shape.constraints.push(Constraint::Class(iri(id, local, o)?.clone())),
                "nodeKind" => {
                    let k = iri(id, local, o)?;
                    let known = ["IRI", "BlankNode", "Literal", "BlankNodeOrIRI", "BlankNodeOrLiteral", "IRIOrLiteral"];
                    if !known.iter().any(|l| k.as_str() == sh(l)) {
                        return Err(bad(id, format!("sh:nodeKind {k} is not a SHACL node kind")));
                    }
                    shape.constraints.push(Constraint::NodeKind(k.clone()))
                }
                "minInclusive" | "maxInclusive" | "minExclusive" | "maxExclusive" => {
                    if !matches!(o, Term::Literal(_)) || literal::number_or_ordered(o).is_none() {
                        return Err(bad(id, format!("sh:{local} needs a number, date or dateTime literal, got {o}")));
                    }
                    let component = match local {
                        "minInclusive" => "MinInclusiveConstraintComponent",
                        "maxInclusive" => "MaxInclusiveConstraintComponent",
                        "minExclusive" => "MinExclusiveConstraintComponent",
                        _ => "MaxExclusiveConstraintComponent",
                    };
                    shape.constraints.push(Constraint::Range { component, bound: o.clone() })
                }
                "pattern" => {
                    let mut source = String::new();
                    if !flags.is_empty() {
                        if flags.chars().any(|c| !"imsx".contains(c)) {
                            return Err(bad(id, format!("sh:flags {flags:?}: only i, m, s and x are supported")));
                        }
                        source = format!("(?{flags})");
                    }
                    source.push_str(&o_value(o));
                    // Bounded so a hostile shape cannot make a huge automaton.
                    let re = regex::RegexBuilder::new(&source)
                        .size_limit(1 << 20)
                        .build()
                        .map_err(|e| bad(id, format!("sh:pattern does not compile: {e}")))?;
                    pattern = Some(re);
                }
                "in" => shape.constraints.push(Constraint::In(list(id, o, index)?)),
                "hasValue" => shape.constraints.push(Constraint::HasValue(o.clone())),
                "node" => shape.constraints.push(Constraint::Node(o.clone())),
                "or" => shape.constraints.push(Constraint::Or(list(id, o, index)?)),
                "and" => shape.constraints.push(Constraint::And(list(id, o, index)?)),
                "xone" => shape.constraints.push(Constraint::Xone(list(id, o, index)?)),
                "not" => shape.constraints.push(Constraint::Not(o.clone())),
                "closed" => closed = o_value(o) == "true",
                "languageIn" => shape.constraints.push(Constraint::LanguageIn(
                    list(id, o, index)?.iter().map(|t| o_value(t).to_ascii_lowercase()).collect(),
                )),
                "uniqueLang" => {
                    if o_value(o) == "true" {
                        shape.constraints.push(Constraint::UniqueLang)
                    }
                }
                "equals" => shape.constraints.push(Constraint::Equals(iri(id, local, o)?.clone())),
                "disjoint" => shape.constraints.push(Constraint::Disjoint(iri(id, local, o)?.clone())),
                "lessThan" => shape.constraints.push(Constraint::LessThan(iri(id, local, o)?.clone())),
                "lessThanOrEquals" => shape.constraints.push(Constraint::LessThanOrEquals(iri(id, local, o)?.clone())),
                "qualifiedValueShape" => {
                    let get = |l: &str| props.iter().find(|(p, _)| p.as_str() == sh(l)).map(|(_, o)| *o);
                    if get("qualifiedValueShapesDisjoint").is_some_and(|o| o_value(o) == "true") {
                        return Err(bad(id, "sh:qualifiedValueShapesDisjoint true is not supported"));
                    }
                    let min = get("qualifiedMinCount").map(|o| count(id, "qualifiedMinCount", o)).transpose()?;
                    let max = get("qualifiedMaxCount").map(|o| count(id, "qualifiedMaxCount", o)).transpose()?;
                    if min.is_none() && max.is_none() {
                        return Err(bad(
                            id,
                            "sh:qualifiedValueShape needs sh:qualifiedMinCount or sh:qualifiedMaxCount",
                        ));
                    }
                    shape.constraints.push(Constraint::Qualified { shape: o.clone(), min, max })
                }
                "severity" => {
                    shape.severity = match iri(id, local, o)?.as_str().strip_prefix(SH) {
                        Some("Violation") => Severity::Violation,
                        Some("Warning") => Severity::Warning,
                        Some("Info") => Severity::Info,
                        _ => {
                            return Err(bad(id, format!("sh:severity {o} is not sh:Violation, sh:Warning or sh:Info")));
                        }
                    }
                }
                "message" => shape.message = Some(o_value(o)),
                "deactivated" => shape.deactivated = o_value(o) == "true",
                l if ANNOTATIONS.contains(&l) => {}
                other => {
                    return Err(bad(
                        id,
                        format!("sh:{other} is not supported by shopgraph's validator (SHACL Core subset; see README)"),
                    ));
                }
            }
        }
        if let Some(re) = pattern {
            shape.constraints.push(Constraint::Pattern(re));
        }
        if shape.path.is_none()
            && shape.constraints.iter().any(|c| matches!(c, Constraint::MinCount(_) | Constraint::MaxCount(_)))
        {
            return Err(bad(id, "sh:minCount and sh:maxCount need sh:path (a property shape)"));
        }
        self.all[i] = shape;
        for p in property_ids {
            let j = self.read(&p, index, depth + 1)?;
            if self.all[j].path.is_none() {
                return Err(bad(&p, "a shape reached through sh:property has no sh:path"));
            }
            self.all[i].properties.push(j);
        }
        if closed {
            let mut allowed: HashSet<NamedNode> = HashSet::new();
            for &j in &self.all[i].properties {
                if let Some(p) = self.all[j].path.as_ref().and_then(Path::predicate) {
                    allowed.insert(p.clone());
                }
            }
            if let Some((_, o)) = props.iter().find(|(p, _)| p.as_str() == sh("ignoredProperties")) {
                for t in list(id, o, index)? {
                    if let Term::NamedNode(n) = t {
                        allowed.insert(n);
                    }
                }
            }
            self.all[i].constraints.push(Constraint::Closed(allowed));
        }
        let refs: Vec<Term> =
            self.all[i].constraints.iter().flat_map(|c| c.shape_refs().into_iter().cloned()).collect();
        for n in refs {
            if !index.contains_key(&n) {
                return Err(bad(id, format!("{n} names no shape in the shapes graph")));
            }
            self.read(&n, index, depth + 1)?;
        }
        Ok(i)
    }
}

fn o_value(o: &Term) -> String {
    match o {
        Term::Literal(l) => l.value().to_owned(),
        Term::NamedNode(n) => n.as_str().to_owned(),
        other => other.to_string(),
    }
}
