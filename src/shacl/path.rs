//! SHACL property paths: reading them from the shapes graph, following them through a data
//! graph, and writing them back (as SPARQL path text, and as RDF for reports).

use super::{DataGraph, SH, ShaclError};
use oxigraph::model::{BlankNode, NamedNode, Term, Triple};
use std::collections::{HashMap, HashSet};

const RDF: &str = "http://www.w3.org/1999/02/22-rdf-syntax-ns#";

/// A path from a focus node to its value nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Path {
    /// `ex:p`.
    Predicate(NamedNode),
    /// `[ sh:inversePath P ]`.
    Inverse(Box<Path>),
    /// `( P1 P2 ... )`.
    Sequence(Vec<Path>),
    /// `[ sh:alternativePath ( P1 P2 ... ) ]`.
    Alternative(Vec<Path>),
    /// `[ sh:zeroOrMorePath P ]`.
    ZeroOrMore(Box<Path>),
    /// `[ sh:oneOrMorePath P ]`.
    OneOrMore(Box<Path>),
    /// `[ sh:zeroOrOnePath P ]`.
    ZeroOrOne(Box<Path>),
}

type Index<'a> = HashMap<&'a Term, Vec<(&'a NamedNode, &'a Term)>>;

fn bad(shape: &Term, message: impl Into<String>) -> ShaclError {
    ShaclError::Shape { shape: shape.to_string(), message: message.into() }
}

/// The members of an RDF list, refusing cycles and malformed cells.
pub(super) fn list(shape: &Term, head: &Term, index: &Index<'_>) -> Result<Vec<Term>, ShaclError> {
    let (first, rest, nil) = (format!("{RDF}first"), format!("{RDF}rest"), format!("{RDF}nil"));
    let mut out = Vec::new();
    let mut cell = head.clone();
    loop {
        if matches!(&cell, Term::NamedNode(n) if n.as_str() == nil) {
            return Ok(out);
        }
        if out.len() > 10_000 {
            return Err(bad(shape, "an RDF list longer than 10,000 members (or a cycle)"));
        }
        let props = index.get(&cell).ok_or_else(|| bad(shape, format!("{cell} is not an RDF list")))?;
        let get = |p: &str| props.iter().find(|(q, _)| q.as_str() == p).map(|(_, o)| (*o).clone());
        let (Some(v), Some(next)) = (get(&first), get(&rest)) else {
            return Err(bad(shape, format!("{cell} is not a well-formed RDF list cell")));
        };
        out.push(v);
        cell = next;
    }
}

impl Path {
    /// Reads the path `node` of `shape`.
    pub(super) fn parse(shape: &Term, node: &Term, index: &Index<'_>, depth: usize) -> Result<Path, ShaclError> {
        if depth > 16 {
            return Err(bad(shape, "a path nested more than 16 deep"));
        }
        match node {
            Term::NamedNode(n) => return Ok(Path::Predicate(n.clone())),
            Term::Literal(_) => return Err(bad(shape, format!("{node} is not a path"))),
            _ => {}
        }
        let props = index.get(node).cloned().unwrap_or_default();
        if props.iter().any(|(p, _)| p.as_str() == format!("{RDF}first")) {
            let members = list(shape, node, index)?;
            if members.len() < 2 {
                return Err(bad(shape, "a sequence path needs at least two members"));
            }
            let parts = members.iter().map(|m| Path::parse(shape, m, index, depth + 1)).collect::<Result<_, _>>()?;
            return Ok(Path::Sequence(parts));
        }
        let [(p, o)] = props.as_slice() else {
            return Err(bad(
                shape,
                format!(
                    "{node} is not a SHACL path (one of sh:inversePath, sh:alternativePath, sh:zeroOrMorePath, sh:oneOrMorePath, sh:zeroOrOnePath, or a list)"
                ),
            ));
        };
        let inner = |o: &Term| Path::parse(shape, o, index, depth + 1).map(Box::new);
        Ok(match p.as_str().strip_prefix(SH) {
            Some("inversePath") => Path::Inverse(inner(o)?),
            Some("zeroOrMorePath") => Path::ZeroOrMore(inner(o)?),
            Some("oneOrMorePath") => Path::OneOrMore(inner(o)?),
            Some("zeroOrOnePath") => Path::ZeroOrOne(inner(o)?),
            Some("alternativePath") => Path::Alternative(
                list(shape, o, index)?
                    .iter()
                    .map(|m| Path::parse(shape, m, index, depth + 1))
                    .collect::<Result<_, _>>()?,
            ),
            _ => return Err(bad(shape, format!("{p} does not make a SHACL path"))),
        })
    }

    /// The predicate, when the path is a single one (closed shapes allow those).
    pub fn predicate(&self) -> Option<&NamedNode> {
        if let Path::Predicate(p) = self { Some(p) } else { None }
    }

    /// The nodes the path reaches from `node`, without duplicates.
    pub(super) fn follow(&self, data: &dyn DataGraph, node: &Term) -> Result<Vec<Term>, ShaclError> {
        self.step(data, node, false)
    }

    fn step(&self, data: &dyn DataGraph, node: &Term, inverse: bool) -> Result<Vec<Term>, ShaclError> {
        let mut out: Vec<Term> = match self {
            Path::Predicate(p) => {
                if inverse {
                    data.subjects(p, node)?
                } else if matches!(node, Term::Literal(_)) {
                    Vec::new()
                } else {
                    data.objects(node, p)?
                }
            }
            Path::Inverse(p) => p.step(data, node, !inverse)?,
            Path::Sequence(parts) => {
                let mut frontier = vec![node.clone()];
                let ordered: Vec<&Path> = if inverse { parts.iter().rev().collect() } else { parts.iter().collect() };
                for part in ordered {
                    let mut next = Vec::new();
                    for n in &frontier {
                        next.extend(part.step(data, n, inverse)?);
                    }
                    frontier = dedup(next);
                }
                frontier
            }
            Path::Alternative(parts) => {
                let mut all = Vec::new();
                for part in parts {
                    all.extend(part.step(data, node, inverse)?);
                }
                all
            }
            Path::ZeroOrOne(p) => {
                let mut all = vec![node.clone()];
                all.extend(p.step(data, node, inverse)?);
                all
            }
            Path::ZeroOrMore(p) | Path::OneOrMore(p) => {
                let mut seen: HashSet<Term> = HashSet::new();
                let mut order = Vec::new();
                if matches!(self, Path::ZeroOrMore(_)) {
                    seen.insert(node.clone());
                    order.push(node.clone());
                }
                let mut stack = vec![node.clone()];
                while let Some(n) = stack.pop() {
                    for m in p.step(data, &n, inverse)? {
                        if seen.insert(m.clone()) {
                            order.push(m.clone());
                            stack.push(m);
                        }
                    }
                }
                order
            }
        };
        out = dedup(out);
        Ok(out)
    }

    /// SPARQL property path text (`^ex:p`, `ex:a/ex:b`, `(ex:a|ex:b)*`).
    pub fn show(&self) -> String {
        match self {
            Path::Predicate(n) => n.to_string(),
            Path::Inverse(p) => format!("^{}", p.show_atom()),
            Path::Sequence(ps) => ps.iter().map(Path::show_atom).collect::<Vec<_>>().join("/"),
            Path::Alternative(ps) => ps.iter().map(Path::show_atom).collect::<Vec<_>>().join("|"),
            Path::ZeroOrMore(p) => format!("{}*", p.show_atom()),
            Path::OneOrMore(p) => format!("{}+", p.show_atom()),
            Path::ZeroOrOne(p) => format!("{}?", p.show_atom()),
        }
    }

    fn show_atom(&self) -> String {
        match self {
            Path::Predicate(_) | Path::Inverse(_) => self.show(),
            _ => format!("({})", self.show()),
        }
    }

    /// The path as RDF (for `sh:resultPath`): its node and the triples that describe it.
    pub(super) fn to_rdf(&self, out: &mut Vec<Triple>) -> Term {
        let sh = |l: &str| NamedNode::new_unchecked(format!("{SH}{l}"));
        let one = |out: &mut Vec<Triple>, p: &str, inner: &Path| {
            let b = BlankNode::default();
            let o = inner.to_rdf(out);
            out.push(Triple::new(b.clone(), sh(p), o));
            Term::BlankNode(b)
        };
        let rdf_list = |out: &mut Vec<Triple>, items: &[Path]| {
            let nil = Term::NamedNode(NamedNode::new_unchecked(format!("{RDF}nil")));
            let mut head = nil;
            for item in items.iter().rev() {
                let cell = BlankNode::default();
                let o = item.to_rdf(out);
                out.push(Triple::new(cell.clone(), NamedNode::new_unchecked(format!("{RDF}first")), o));
                out.push(Triple::new(cell.clone(), NamedNode::new_unchecked(format!("{RDF}rest")), head));
                head = Term::BlankNode(cell);
            }
            head
        };
        match self {
            Path::Predicate(n) => Term::NamedNode(n.clone()),
            Path::Inverse(p) => one(out, "inversePath", p),
            Path::ZeroOrMore(p) => one(out, "zeroOrMorePath", p),
            Path::OneOrMore(p) => one(out, "oneOrMorePath", p),
            Path::ZeroOrOne(p) => one(out, "zeroOrOnePath", p),
            Path::Sequence(ps) => rdf_list(out, ps),
            Path::Alternative(ps) => {
                let b = BlankNode::default();
                let l = rdf_list(out, ps);
                out.push(Triple::new(b.clone(), sh("alternativePath"), l));
                Term::BlankNode(b)
            }
        }
    }
}

fn dedup(mut v: Vec<Term>) -> Vec<Term> {
    let mut seen = HashSet::new();
    v.retain(|t| seen.insert(t.clone()));
    v
}
