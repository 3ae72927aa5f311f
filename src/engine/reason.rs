//! Reasoning: what the ontology implies about the shop's data, materialised into its own graph
//! (`vocab::GRAPH_INFERRED`), and an explanation of why an inferred triple holds.
//!
//! Written here rather than taken from a crate: the rules the ontology uses are few (RDFS
//! subclass, subproperty, domain and range; OWL equivalent classes and properties, inverses and
//! transitive properties; SKOS broader as a transitive hierarchy), they run over oxigraph terms
//! directly, and each rule's premises are needed again to explain a result. Forward chaining
//! with a worklist reaches the fixpoint; the schema (class and property hierarchies) is closed
//! first, so data triples need only one pass of each rule plus the transitive closures.

use super::{Engine, EngineError};
use crate::ontology::vocab;
use crate::store::model::{GraphName, NamedNode, NamedOrBlankNode, Quad, Term};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

/// What a rebuild did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReasonReport {
    /// Triples in the inferred graph.
    pub inferred: usize,
    /// Of those, by the rule that first produced each.
    pub by_rule: BTreeMap<&'static str, usize>,
    /// Seconds spent.
    pub seconds: f64,
}

/// One step of a derivation: the rule and the triples it used (N-Triples terms).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Derivation {
    /// Rule name (RDFS and OWL 2 RL names where they exist).
    pub rule: &'static str,
    /// The premises, each asserted or itself inferred.
    pub premises: Vec<[String; 3]>,
}

type Triple = (NamedOrBlankNode, NamedNode, Term);

/// Class and property hierarchies, closed.
#[derive(Default)]
struct Schema {
    super_classes: HashMap<NamedNode, Vec<NamedNode>>,
    super_properties: HashMap<NamedNode, Vec<NamedNode>>,
    domains: HashMap<NamedNode, Vec<NamedNode>>,
    ranges: HashMap<NamedNode, Vec<NamedNode>>,
    inverses: HashMap<NamedNode, Vec<NamedNode>>,
    transitive: HashSet<NamedNode>,
}

fn nn(s: &str) -> NamedNode {
    NamedNode::new_unchecked(s)
}

/// All nodes reachable from `start` over `edges` (not `start` itself), cycle-safe.
fn reach(start: &NamedNode, edges: &HashMap<NamedNode, Vec<NamedNode>>) -> Vec<NamedNode> {
    let mut seen: HashSet<&NamedNode> = HashSet::from([start]);
    let mut out = Vec::new();
    let mut stack = vec![start];
    while let Some(n) = stack.pop() {
        for m in edges.get(n).into_iter().flatten() {
            if seen.insert(m) {
                out.push(m.clone());
                stack.push(m);
            }
        }
    }
    out
}

impl Schema {
    fn read(triples: &[Triple]) -> Self {
        let mut direct_classes: HashMap<NamedNode, Vec<NamedNode>> = HashMap::new();
        let mut direct_props: HashMap<NamedNode, Vec<NamedNode>> = HashMap::new();
        let mut s = Schema::default();
        let named = |t: &NamedOrBlankNode| match t {
            NamedOrBlankNode::NamedNode(n) => Some(n.clone()),
            NamedOrBlankNode::BlankNode(_) => None,
        };
        for (subj, p, o) in triples {
            let (Some(a), Term::NamedNode(b)) = (named(subj), o) else {
                if p.as_str() == vocab::RDF_TYPE
                    && matches!(o, Term::NamedNode(c) if c.as_str() == vocab::OWL_TRANSITIVE_PROPERTY)
                    && let Some(a) = named(subj)
                {
                    s.transitive.insert(a);
                }
                continue;
            };
            match p.as_str() {
                vocab::RDFS_SUB_CLASS_OF => direct_classes.entry(a).or_default().push(b.clone()),
                vocab::OWL_EQUIVALENT_CLASS => {
                    direct_classes.entry(a.clone()).or_default().push(b.clone());
                    direct_classes.entry(b.clone()).or_default().push(a);
                }
                vocab::RDFS_SUB_PROPERTY_OF => direct_props.entry(a).or_default().push(b.clone()),
                vocab::OWL_EQUIVALENT_PROPERTY => {
                    direct_props.entry(a.clone()).or_default().push(b.clone());
                    direct_props.entry(b.clone()).or_default().push(a);
                }
                vocab::OWL_INVERSE_OF => {
                    s.inverses.entry(a.clone()).or_default().push(b.clone());
                    s.inverses.entry(b.clone()).or_default().push(a);
                }
                // Datatype ranges (xsd:string, ...) type literals, which cannot be subjects.
                vocab::RDFS_RANGE if !b.as_str().starts_with(vocab::XSD) => {
                    s.ranges.entry(a).or_default().push(b.clone())
                }
                vocab::RDFS_DOMAIN => s.domains.entry(a).or_default().push(b.clone()),
                vocab::RDF_TYPE if b.as_str() == vocab::OWL_TRANSITIVE_PROPERTY => {
                    s.transitive.insert(a);
                }
                _ => {}
            }
        }
        // SKOS: broader is a sub-property of the transitive broaderTransitive.
        direct_props.entry(nn(vocab::SKOS_BROADER)).or_default().push(nn(vocab::SKOS_BROADER_TRANSITIVE));
        s.transitive.insert(nn(vocab::SKOS_BROADER_TRANSITIVE));
        s.super_classes = direct_classes.keys().map(|c| (c.clone(), reach(c, &direct_classes))).collect();
        s.super_properties = direct_props.keys().map(|p| (p.clone(), reach(p, &direct_props))).collect();
        s
    }
}

/// The triples one triple implies in one step, each with its rule.
fn consequences(s: &Schema, (subj, p, o): &Triple) -> Vec<(&'static str, Triple)> {
    let rdf_type = nn(vocab::RDF_TYPE);
    let mut out = Vec::new();
    if p == &rdf_type {
        if let Term::NamedNode(c) = o {
            for d in s.super_classes.get(c).into_iter().flatten() {
                out.push(("rdfs9 (subclass)", (subj.clone(), rdf_type.clone(), d.clone().into())));
            }
        }
        return out;
    }
    for q in s.super_properties.get(p).into_iter().flatten() {
        out.push(("rdfs7 (subproperty)", (subj.clone(), q.clone(), o.clone())));
    }
    for c in s.domains.get(p).into_iter().flatten() {
        out.push(("rdfs2 (domain)", (subj.clone(), rdf_type.clone(), c.clone().into())));
    }
    let object_node = match o {
        Term::NamedNode(n) => Some(NamedOrBlankNode::NamedNode(n.clone())),
        Term::BlankNode(b) => Some(NamedOrBlankNode::BlankNode(b.clone())),
        _ => None,
    };
    if let Some(on) = object_node {
        for c in s.ranges.get(p).into_iter().flatten() {
            out.push(("rdfs3 (range)", (on.clone(), rdf_type.clone(), c.clone().into())));
        }
        for q in s.inverses.get(p).into_iter().flatten() {
            out.push(("prp-inv (inverse)", (on.clone(), q.clone(), Term::from(subj.clone()))));
        }
    }
    out
}

fn triple(q: Quad) -> Triple {
    (q.subject, q.predicate, q.object)
}

fn term_string(t: &Term) -> String {
    t.to_string()
}

impl Engine {
    /// The ontology's and vocabularies' schema, plus schema triples the shop declared in its own
    /// data (read by predicate, so the data is not scanned for them).
    fn schema(&self) -> Result<Schema, EngineError> {
        let mut triples: Vec<Triple> = Vec::new();
        for g in [vocab::GRAPH_ONTOLOGY, vocab::GRAPH_SCHEMA_ORG, vocab::GRAPH_GOODRELATIONS, vocab::GRAPH_REV] {
            triples.extend(self.store.graph_quads(&GraphName::NamedNode(nn(g)))?.into_iter().map(triple));
        }
        for p in [
            vocab::RDFS_SUB_CLASS_OF,
            vocab::RDFS_SUB_PROPERTY_OF,
            vocab::OWL_EQUIVALENT_CLASS,
            vocab::OWL_EQUIVALENT_PROPERTY,
            vocab::OWL_INVERSE_OF,
            vocab::RDFS_DOMAIN,
            vocab::RDFS_RANGE,
            vocab::RDF_TYPE,
        ] {
            let quads = self.store.graph_quads_with_predicate(&GraphName::DefaultGraph, &nn(p))?;
            // Of rdf:type, only the declarations of transitive properties are schema.
            triples.extend(quads.into_iter().map(triple).filter(|t| {
                p != vocab::RDF_TYPE
                    || matches!(&t.2, Term::NamedNode(c) if c.as_str() == vocab::OWL_TRANSITIVE_PROPERTY)
            }));
        }
        Ok(Schema::read(&triples))
    }

    /// Rebuilds the inferred graph from the ontology, the taxonomy and the shop's data, and
    /// replaces it in one transaction.
    pub fn reason(&self) -> Result<ReasonReport, EngineError> {
        let start = std::time::Instant::now();
        let schema = self.schema()?;
        let mut data: Vec<Triple> = self.store.graph_quads(&GraphName::DefaultGraph)?.into_iter().map(triple).collect();
        data.extend(self.store.graph_quads(&GraphName::NamedNode(nn(vocab::GRAPH_TAXONOMY)))?.into_iter().map(triple));
        let mut known: HashSet<Triple> = data.iter().cloned().collect();
        let mut by_rule: BTreeMap<&'static str, usize> = BTreeMap::new();
        let mut inferred: Vec<Triple> = Vec::new();
        // Edges of transitive properties, both ways, for the closure rule.
        let mut forward: HashMap<(NamedNode, NamedOrBlankNode), Vec<Term>> = HashMap::new();
        let mut backward: HashMap<(NamedNode, Term), Vec<NamedOrBlankNode>> = HashMap::new();
        let mut work: VecDeque<Triple> = data.into_iter().collect();
        while let Some(t) = work.pop_front() {
            let mut next = consequences(&schema, &t);
            if schema.transitive.contains(&t.1) {
                let (subj, p, o) = &t;
                // (x p s), (s p o) => (x p o); (s p o), (o p z) => (s p z)
                for x in backward.get(&(p.clone(), Term::from(subj.clone()))).into_iter().flatten() {
                    next.push(("prp-trp (transitive)", (x.clone(), p.clone(), o.clone())));
                }
                let o_node = match o {
                    Term::NamedNode(n) => Some(NamedOrBlankNode::NamedNode(n.clone())),
                    Term::BlankNode(b) => Some(NamedOrBlankNode::BlankNode(b.clone())),
                    _ => None,
                };
                if let Some(on) = o_node {
                    for z in forward.get(&(p.clone(), on)).into_iter().flatten() {
                        next.push(("prp-trp (transitive)", (subj.clone(), p.clone(), z.clone())));
                    }
                }
                forward.entry((p.clone(), subj.clone())).or_default().push(o.clone());
                backward.entry((p.clone(), o.clone())).or_default().push(subj.clone());
            }
            for (rule, c) in next {
                if known.insert(c.clone()) {
                    *by_rule.entry(rule).or_default() += 1;
                    inferred.push(c.clone());
                    work.push_back(c);
                }
            }
        }
        let graph = GraphName::NamedNode(nn(vocab::GRAPH_INFERRED));
        let quads: Vec<Quad> =
            inferred.iter().map(|(s, p, o)| Quad::new(s.clone(), p.clone(), o.clone(), graph.clone())).collect();
        self.store.replace_graph(&graph, &quads, None)?;
        Ok(ReasonReport { inferred: quads.len(), by_rule, seconds: start.elapsed().as_secs_f64() })
    }

    /// Why an inferred triple holds: one rule and its premises (asserted, or inferred and so
    /// explainable in turn). `None` when no rule yields it from what is stored.
    pub fn explain_inference(
        &self,
        subject: &NamedNode,
        predicate: &NamedNode,
        object: &Term,
    ) -> Result<Option<Derivation>, EngineError> {
        let schema = self.schema()?;
        // Every rule's first premise names the subject (as subject, or as object for range and
        // inverse): the quads touching it, in any graph, asserted or inferred, are all it needs.
        // Asserted premises are preferred to inferred ones: the explanation then ends sooner.
        let mut quads = self.store.quads_touching(subject)?;
        quads.sort_by_key(|q| matches!(&q.graph_name, GraphName::NamedNode(g) if g.as_str() == vocab::GRAPH_INFERRED));
        let all: Vec<Triple> = quads.into_iter().map(triple).collect();
        let target: Triple = (NamedOrBlankNode::NamedNode(subject.clone()), predicate.clone(), object.clone());
        let show = |t: &Triple| [t.0.to_string(), t.1.to_string(), term_string(&t.2)];
        for t in &all {
            for (rule, c) in consequences(&schema, t) {
                if c == target {
                    let schema_premise = match rule {
                        "rdfs9 (subclass)" => {
                            [term_string(&t.2), format!("<{}>", vocab::RDFS_SUB_CLASS_OF), term_string(object)]
                        }
                        "rdfs7 (subproperty)" => {
                            [t.1.to_string(), format!("<{}>", vocab::RDFS_SUB_PROPERTY_OF), predicate.to_string()]
                        }
                        "rdfs2 (domain)" => [t.1.to_string(), format!("<{}>", vocab::RDFS_DOMAIN), term_string(object)],
                        "rdfs3 (range)" => [t.1.to_string(), format!("<{}>", vocab::RDFS_RANGE), term_string(object)],
                        _ => [t.1.to_string(), format!("<{}>", vocab::OWL_INVERSE_OF), predicate.to_string()],
                    };
                    return Ok(Some(Derivation { rule, premises: vec![show(t), schema_premise] }));
                }
            }
            // Transitivity: (s p m) and (m p o).
            if schema.transitive.contains(predicate) && &t.1 == predicate && t.0 == target.0 {
                let m = &t.2;
                if let Term::NamedNode(n) = m
                    && self.store.quads_touching(n)?.iter().any(|u| {
                        matches!(&u.subject, NamedOrBlankNode::NamedNode(x) if x == n)
                            && &u.predicate == predicate
                            && &u.object == object
                    })
                {
                    let mid = NamedOrBlankNode::NamedNode(n.clone());
                    return Ok(Some(Derivation {
                        rule: "prp-trp (transitive)",
                        premises: vec![show(t), show(&(mid, predicate.clone(), object.clone()))],
                    }));
                }
            }
        }
        Ok(None)
    }
}
