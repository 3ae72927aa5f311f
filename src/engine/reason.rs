//! Reasoning: what the ontology implies about the shop's data, materialised into its own graph
//! (`vocab::GRAPH_INFERRED`) and kept current as the data changes, and an explanation of why an
//! inferred triple holds.
//!
//! Written here rather than taken from a crate: the rules the ontology uses are few (RDFS
//! subclass, subproperty, domain and range; OWL equivalent classes and properties, inverses and
//! transitive properties; SKOS broader as a transitive hierarchy), they run over oxigraph terms
//! directly, and each rule's premises are needed again to explain a result. Forward chaining
//! with a worklist reaches the fixpoint; the schema (class and property hierarchies) is closed
//! first, so data triples need only one pass of each rule plus the transitive closures.

use super::{Engine, EngineError};
use crate::ontology::vocab;
use crate::store::Delta;
use crate::store::model::{GraphName, NamedNode, NamedOrBlankNode, Quad, Term};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// Reasoning state shared by the writers that keep the inferred graph current: one at a time.
#[derive(Debug, Default)]
pub(super) struct Reasoner {
    /// The closed schema, read at the last full rebuild (a schema change forces another).
    schema: Option<Arc<Schema>>,
}

/// How writes have kept the inferred graph current since the engine started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct MaintenanceCounts {
    /// Writes followed triple by triple.
    pub incremental: u64,
    /// Writes that forced a full rebuild (schema changes, replaced graphs, updates with
    /// patterns, streamed loads).
    pub rebuilds: u64,
}

/// What a commit asks of the inferred graph.
enum Plan {
    /// Rebuild it.
    Rebuild,
    /// Follow these data triples (added, removed).
    Follow(Vec<Triple>, Vec<Triple>),
}

/// A background rebuild: whether one runs, and whether a write asked for another pass.
#[derive(Debug, Default)]
pub(super) struct Background {
    running: std::sync::atomic::AtomicBool,
    again: std::sync::atomic::AtomicBool,
    /// Writes followed triple by triple.
    incremental: std::sync::atomic::AtomicU64,
    /// Writes that forced a rebuild.
    rebuilds: std::sync::atomic::AtomicU64,
}

/// What keeping the inferred graph current after one write did (for tests and logs).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Maintenance {
    /// Inferred triples added.
    pub added: usize,
    /// Inferred triples removed.
    pub removed: usize,
    /// The write could not be followed triple by triple (schema change, graph replaced,
    /// update with patterns): the graph was rebuilt.
    pub rebuilt: bool,
}

thread_local! {
    /// Set while this thread maintains the inferred graph: its own writes are not news.
    static MAINTAINING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Past this many new inferred triples a rebuild writes them with the bulk loader.
const BULK_WRITE: usize = 50_000;

/// The graphs reasoning reads as data.
const DATA_GRAPHS: [&str; 1] = [vocab::GRAPH_TAXONOMY];
/// The graphs reasoning reads the schema from (a change there means a rebuild).
const SCHEMA_GRAPHS: [&str; 5] =
    [vocab::GRAPH_ONTOLOGY, vocab::GRAPH_SCHEMA_ORG, vocab::GRAPH_GOODRELATIONS, vocab::GRAPH_REV, vocab::GRAPH_FUSION];
/// Predicates that make a data triple part of the schema.
const SCHEMA_PREDICATES: [&str; 8] = [
    vocab::OWL_SAME_AS,
    vocab::RDFS_SUB_CLASS_OF,
    vocab::RDFS_SUB_PROPERTY_OF,
    vocab::OWL_EQUIVALENT_CLASS,
    vocab::OWL_EQUIVALENT_PROPERTY,
    vocab::OWL_INVERSE_OF,
    vocab::RDFS_DOMAIN,
    vocab::RDFS_RANGE,
];

fn is_data_graph(g: &GraphName) -> bool {
    match g {
        GraphName::DefaultGraph => true,
        GraphName::NamedNode(n) => DATA_GRAPHS.contains(&n.as_str()),
        GraphName::BlankNode(_) => false,
    }
}

fn is_schema_graph(g: &GraphName) -> bool {
    matches!(g, GraphName::NamedNode(n) if SCHEMA_GRAPHS.contains(&n.as_str()))
}

fn is_schema_triple(q: &Quad) -> bool {
    SCHEMA_PREDICATES.contains(&q.predicate.as_str())
        || (q.predicate.as_str() == vocab::RDF_TYPE
            && matches!(&q.object, Term::NamedNode(c) if c.as_str() == vocab::OWL_TRANSITIVE_PROPERTY))
}

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
#[derive(Default, Debug)]
pub(super) struct Schema {
    super_classes: HashMap<NamedNode, Vec<NamedNode>>,
    super_properties: HashMap<NamedNode, Vec<NamedNode>>,
    domains: HashMap<NamedNode, Vec<NamedNode>>,
    ranges: HashMap<NamedNode, Vec<NamedNode>>,
    inverses: HashMap<NamedNode, Vec<NamedNode>>,
    transitive: HashSet<NamedNode>,
    /// Each node linked by `owl:sameAs` (fusion graph, default graph), to the others of its group.
    same: HashMap<Term, Vec<Term>>,
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
    // owl:sameAs: what holds of one node of a group holds of the others (eq-rep-s, eq-rep-o).
    if !s.same.is_empty() && p.as_str() != vocab::OWL_SAME_AS {
        for other in s.same.get(&Term::from(subj.clone())).into_iter().flatten() {
            if let Some(x) = as_subject(other) {
                out.push(("eq-rep-s (sameAs)", (x, p.clone(), o.clone())));
            }
        }
        for other in s.same.get(o).into_iter().flatten() {
            out.push(("eq-rep-o (sameAs)", (subj.clone(), p.clone(), other.clone())));
        }
    }
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

fn as_subject(t: &Term) -> Option<NamedOrBlankNode> {
    match t {
        Term::NamedNode(n) => Some(n.clone().into()),
        Term::BlankNode(b) => Some(b.clone().into()),
        _ => None,
    }
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
        // owl:sameAs is read below, into groups; the rest are the hierarchy's predicates.
        for &p in SCHEMA_PREDICATES.iter().filter(|p| **p != vocab::OWL_SAME_AS).chain([&vocab::RDF_TYPE]) {
            let quads = self.store.graph_quads_with_predicate(&GraphName::DefaultGraph, &nn(p))?;
            // Of rdf:type, only the declarations of transitive properties are schema.
            triples.extend(quads.into_iter().map(triple).filter(|t| {
                p != vocab::RDF_TYPE
                    || matches!(&t.2, Term::NamedNode(c) if c.as_str() == vocab::OWL_TRANSITIVE_PROPERTY)
            }));
        }
        let mut schema = Schema::read(&triples);
        let mut pairs = Vec::new();
        for g in [GraphName::NamedNode(nn(vocab::GRAPH_FUSION)), GraphName::DefaultGraph] {
            for q in self.store.graph_quads_with_predicate(&g, &nn(vocab::OWL_SAME_AS))? {
                pairs.push((Term::from(q.subject).to_string(), q.object.to_string()));
            }
        }
        // Groups by their N-Triples text, back to terms through a lookup of the originals.
        let mut terms: HashMap<String, Term> = HashMap::new();
        for g in [GraphName::NamedNode(nn(vocab::GRAPH_FUSION)), GraphName::DefaultGraph] {
            for q in self.store.graph_quads_with_predicate(&g, &nn(vocab::OWL_SAME_AS))? {
                terms.insert(Term::from(q.subject.clone()).to_string(), q.subject.into());
                terms.insert(q.object.to_string(), q.object);
            }
        }
        for group in super::fusion::groups(&pairs) {
            let members: Vec<Term> = group.iter().filter_map(|k| terms.get(k).cloned()).collect();
            for m in &members {
                schema.same.insert(m.clone(), members.iter().filter(|x| *x != m).cloned().collect());
            }
        }
        Ok(schema)
    }

    /// Rebuilds the inferred graph from the ontology, the taxonomy and the shop's data, and
    /// replaces it in one transaction. From then on ordinary writes keep it current.
    pub fn reason(&self) -> Result<ReasonReport, EngineError> {
        let mut state = self.reasoner.lock().unwrap_or_else(|e| e.into_inner());
        MAINTAINING.with(|m| m.set(true));
        let r = self.rebuild(&mut state);
        MAINTAINING.with(|m| m.set(false));
        r
    }

    fn rebuild(&self, state: &mut Reasoner) -> Result<ReasonReport, EngineError> {
        let start = std::time::Instant::now();
        let schema = Arc::new(self.schema()?);
        state.schema = Some(Arc::clone(&schema));
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
        let derived_at = start.elapsed().as_secs_f64();
        let graph = GraphName::NamedNode(nn(vocab::GRAPH_INFERRED));
        let total = inferred.len();
        // Only the difference is written: a rebuild after small changes touches little. A large
        // addition (a first build: ~1M triples on the demo) goes through the bulk loader, ten
        // times faster than one transaction; readers may then see part of it for those seconds,
        // never a triple that does not follow.
        let old: HashSet<Triple> = self.store.graph_quads(&graph)?.into_iter().map(triple).collect();
        let new: HashSet<Triple> = inferred.into_iter().collect();
        let quad = |(s, p, o): &Triple| Quad::new(s.clone(), p.clone(), o.clone(), graph.clone());
        let add: Vec<Quad> = new.iter().filter(|t| !old.contains(*t)).map(quad).collect();
        let remove: Vec<Quad> = old.iter().filter(|t| !new.contains(*t)).map(quad).collect();
        self.store.create_graph(&graph)?;
        if add.len() > BULK_WRITE {
            self.store.bulk_insert(add.clone())?;
            self.store.remove(&remove)?;
        } else {
            self.store.swap(&remove, &add)?;
        }
        log::info!(
            "reasoning: {total} triples inferred in {derived_at:.1}s; +{} −{} written in {:.1}s",
            add.len(),
            remove.len(),
            start.elapsed().as_secs_f64() - derived_at
        );
        Ok(ReasonReport { inferred: total, by_rule, seconds: start.elapsed().as_secs_f64() })
    }

    /// Keeps the inferred graph current after a commit (the store's listener). Nothing to do
    /// until a first `reason` built the graph, or when the write touched neither the data nor
    /// the schema. Failures are logged: the write itself has committed.
    pub(super) fn after_write(self: &Arc<Self>, delta: &Delta<'_>) {
        if MAINTAINING.with(|m| m.get()) {
            return;
        }
        let result = match self.plan(delta) {
            Ok(None) => return,
            // Seconds on a real store: not in the writer's request.
            Ok(Some(Plan::Rebuild)) => return self.rebuild_in_background(),
            // A rebuild under way reads the store after this write, or runs once more.
            Ok(Some(Plan::Follow(..))) if self.background.running.load(Ordering::SeqCst) => {
                self.background.again.store(true, Ordering::SeqCst);
                return;
            }
            Ok(Some(plan)) => self.execute(plan),
            Err(e) => Err(e),
        };
        match result {
            Ok(m) => log::debug!("inferences kept current: {m:?}"),
            Err(e) => log::error!("keeping the inferred graph current failed ({e}); run `shopgraph reason`"),
        }
    }

    /// Runs a sequence of writes that each would rebuild the inferred graph (an ontology
    /// install or upgrade) with maintenance held back, then rebuilds once if the graph exists.
    pub(super) fn with_one_rebuild<T>(&self, f: impl FnOnce() -> Result<T, EngineError>) -> Result<T, EngineError> {
        MAINTAINING.with(|m| m.set(true));
        let r = f();
        MAINTAINING.with(|m| m.set(false));
        let r = r?;
        if self.store.graph_exists(&GraphName::NamedNode(nn(vocab::GRAPH_INFERRED)))? {
            self.reason()?;
        }
        Ok(r)
    }

    /// How writes have kept the inferred graph current so far.
    pub fn maintenance_counts(&self) -> MaintenanceCounts {
        // Read without the reasoner's lock: /metrics must not wait for a rebuild.
        MaintenanceCounts {
            incremental: self.background.incremental.load(Ordering::Relaxed),
            rebuilds: self.background.rebuilds.load(Ordering::Relaxed),
        }
    }

    /// What a commit asks of the inferred graph: nothing (no graph yet, or a write that
    /// touches neither data nor schema), a rebuild, or following its data triples.
    fn plan(&self, delta: &Delta<'_>) -> Result<Option<Plan>, EngineError> {
        let (rebuild, added, removed): (bool, Vec<Triple>, Vec<Triple>) = match delta {
            Delta::Unknown { graphs } => {
                let relevant =
                    graphs.as_ref().is_none_or(|gs| gs.iter().any(|g| is_data_graph(g) || is_schema_graph(g)));
                (relevant, Vec::new(), Vec::new())
            }
            Delta::Exact { added, removed } => {
                let schema_change = added
                    .iter()
                    .chain(removed.iter())
                    .any(|q| is_schema_graph(&q.graph_name) || (is_data_graph(&q.graph_name) && is_schema_triple(q)));
                let data = |qs: &[Quad]| -> Vec<Triple> {
                    qs.iter().filter(|q| is_data_graph(&q.graph_name)).map(|q| triple(q.clone())).collect()
                };
                (schema_change, data(added), data(removed))
            }
        };
        if !rebuild && added.is_empty() && removed.is_empty() {
            return Ok(None);
        }
        if !self.store.graph_exists(&GraphName::NamedNode(nn(vocab::GRAPH_INFERRED)))? {
            return Ok(None);
        }
        Ok(Some(if rebuild { Plan::Rebuild } else { Plan::Follow(added, removed) }))
    }

    /// What [`Self::after_write`] does, all in the caller's thread, with its result.
    pub fn maintain(&self, delta: &Delta<'_>) -> Result<Option<Maintenance>, EngineError> {
        let Some(plan) = self.plan(delta)? else { return Ok(None) };
        self.execute(plan).map(Some)
    }

    fn execute(&self, plan: Plan) -> Result<Maintenance, EngineError> {
        let mut state = self.reasoner.lock().unwrap_or_else(|e| e.into_inner());
        MAINTAINING.with(|m| m.set(true));
        let r = (|| {
            let (added, removed) = match plan {
                Plan::Follow(a, r) => {
                    // After a restart the graph is current (an owed rebuild is resumed on open):
                    // only the schema has to be read again.
                    if state.schema.is_none() {
                        state.schema = Some(Arc::new(self.schema()?));
                    }
                    (a, r)
                }
                Plan::Rebuild => {
                    self.background.rebuilds.fetch_add(1, Ordering::Relaxed);
                    let r = self.rebuild(&mut state)?;
                    return Ok(Maintenance { added: r.inferred, removed: 0, rebuilt: true });
                }
            };
            self.background.incremental.fetch_add(1, Ordering::Relaxed);
            let schema = Arc::clone(state.schema.as_ref().expect("matched above"));
            let n_removed = self.retract(&schema, removed.clone())?;
            // A triple no longer asserted may still follow from the rest: then it is inferred.
            let none = HashSet::new();
            let mut still = Vec::new();
            for r in removed {
                if !self.holds(&r, true)? && self.derivable(&schema, &r, &none)? {
                    still.push(r);
                }
            }
            let g = GraphName::NamedNode(nn(vocab::GRAPH_INFERRED));
            let mut n_added = still.len();
            if !still.is_empty() {
                self.store.insert(
                    &still
                        .iter()
                        .map(|(s, p, o)| Quad::new(s.clone(), p.clone(), o.clone(), g.clone()))
                        .collect::<Vec<_>>(),
                )?;
            }
            n_added += self.extend(&schema, [added, still].concat())?;
            Ok(Maintenance { added: n_added, removed: n_removed, rebuilt: false })
        })();
        MAINTAINING.with(|m| m.set(false));
        r
    }

    /// The marker saying the inferred graph is behind the data (a rebuild is owed): written
    /// before a background rebuild starts, removed when it ends, so a process stopped in
    /// between rebuilds on its next open.
    fn stale_marker() -> Quad {
        Quad::new(
            nn(vocab::GRAPH_INFERRED),
            nn(vocab::STALE),
            crate::store::model::Literal::from(true),
            nn(vocab::GRAPH_META),
        )
    }

    /// Starts a rebuild on a thread of its own (or asks the running one for one more pass), so
    /// the write that asked for it answers at once; queries with inferences see the previous
    /// graph until it ends. [`Self::settle`] waits for it.
    pub(super) fn rebuild_in_background(self: &Arc<Self>) {
        if self.background.running.swap(true, Ordering::SeqCst) {
            self.background.again.store(true, Ordering::SeqCst);
            return;
        }
        MAINTAINING.with(|m| m.set(true));
        if let Err(e) = self.store.insert(&[Self::stale_marker()]) {
            log::error!("marking the inferred graph stale failed: {e}");
        }
        MAINTAINING.with(|m| m.set(false));
        let engine = Arc::clone(self);
        std::thread::spawn(move || {
            loop {
                engine.background.again.store(false, Ordering::SeqCst);
                if let Err(e) = engine.execute(Plan::Rebuild) {
                    log::error!("rebuilding the inferred graph failed ({e}); run `shopgraph reason`");
                }
                if !engine.background.again.load(Ordering::SeqCst) {
                    break;
                }
            }
            MAINTAINING.with(|m| m.set(true));
            if let Err(e) = engine.store.remove(&[Self::stale_marker()]) {
                log::error!("clearing the stale mark failed: {e}");
            }
            MAINTAINING.with(|m| m.set(false));
            engine.background.running.store(false, Ordering::SeqCst);
            // A write between the last pass and here asked for one more.
            if engine.background.again.swap(false, Ordering::SeqCst) {
                engine.rebuild_in_background();
            }
        });
    }

    /// Waits until no background rebuild is running (tests; commands about to exit).
    pub fn settle(&self) {
        while self.background.running.load(Ordering::SeqCst) {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }

    /// On open: a rebuild owed by a process that stopped before it finished is started.
    pub(super) fn resume_owed_rebuild(self: &Arc<Self>) -> Result<(), EngineError> {
        if self.store.contains(&Self::stale_marker())? {
            log::info!("the inferred graph is behind the data (a rebuild was interrupted): rebuilding");
            self.rebuild_in_background();
        }
        Ok(())
    }

    /// Whether a triple is asserted (default graph, taxonomy) or inferred.
    fn holds(&self, t: &Triple, inferred_too: bool) -> Result<bool, EngineError> {
        let mut graphs = vec![GraphName::DefaultGraph, GraphName::NamedNode(nn(vocab::GRAPH_TAXONOMY))];
        if inferred_too {
            graphs.push(GraphName::NamedNode(nn(vocab::GRAPH_INFERRED)));
        }
        for g in graphs {
            if self.store.contains(&Quad::new(t.0.clone(), t.1.clone(), t.2.clone(), g))? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// `(x p node)` subjects or `(node p z)` objects over the asserted and inferred graphs.
    fn neighbours(&self, p: &NamedNode, node: &Term, forward: bool) -> Result<Vec<Term>, EngineError> {
        let mut out = Vec::new();
        for g in [GraphName::DefaultGraph, nn(vocab::GRAPH_TAXONOMY).into(), nn(vocab::GRAPH_INFERRED).into()] {
            let quads = if forward {
                let Some(s) = as_subject(node) else { return Ok(out) };
                self.store.pattern(Some(&s), Some(p), None, Some(&g))?
            } else {
                self.store.pattern(None, Some(p), Some(node), Some(&g))?
            };
            out.extend(quads.into_iter().map(|q| if forward { q.object } else { q.subject.into() }));
        }
        Ok(out)
    }

    /// Adds what new data triples imply (semi-naive: each new triple is joined with what is
    /// stored and with the new triples before it).
    fn extend(&self, schema: &Schema, added: Vec<Triple>) -> Result<usize, EngineError> {
        let g = GraphName::NamedNode(nn(vocab::GRAPH_INFERRED));
        let mut new: HashSet<Triple> = HashSet::new();
        // An asserted triple is not kept as inferred as well (a rebuild would not).
        let mut now_asserted: Vec<Quad> = Vec::new();
        for t in &added {
            let q = Quad::new(t.0.clone(), t.1.clone(), t.2.clone(), g.clone());
            if self.holds(t, false)? && self.store.contains(&q)? {
                now_asserted.push(q);
            }
        }
        let mut forward: HashMap<(NamedNode, Term), Vec<Term>> = HashMap::new();
        let mut backward: HashMap<(NamedNode, Term), Vec<Term>> = HashMap::new();
        let mut work: VecDeque<Triple> = added.into_iter().collect();
        while let Some(t) = work.pop_front() {
            let mut next: Vec<Triple> = consequences(schema, &t).into_iter().map(|(_, c)| c).collect();
            if schema.transitive.contains(&t.1) {
                let (s, p, o) = (&t.0, &t.1, &t.2);
                let s_term: Term = s.clone().into();
                let mut xs = self.neighbours(p, &s_term, false)?;
                xs.extend(backward.get(&(p.clone(), s_term.clone())).into_iter().flatten().cloned());
                let mut zs = self.neighbours(p, o, true)?;
                zs.extend(forward.get(&(p.clone(), o.clone())).into_iter().flatten().cloned());
                next.extend(xs.iter().filter_map(as_subject).map(|x| (x, p.clone(), o.clone())));
                next.extend(zs.into_iter().map(|z| (s.clone(), p.clone(), z)));
                forward.entry((p.clone(), s_term.clone())).or_default().push(o.clone());
                backward.entry((p.clone(), o.clone())).or_default().push(s_term);
            }
            for c in next {
                if !new.contains(&c) && !self.holds(&c, true)? {
                    new.insert(c.clone());
                    work.push_back(c);
                }
            }
        }
        let quads: Vec<Quad> = new.into_iter().map(|(s, p, o)| Quad::new(s, p, o, g.clone())).collect();
        if !quads.is_empty() || !now_asserted.is_empty() {
            self.store.swap(&now_asserted, &quads)?;
        }
        Ok(quads.len())
    }

    /// Removes what removed data triples implied and nothing else still implies (delete and
    /// rederive: every inferred triple that could have used a removed one is taken out, then
    /// those with another derivation are put back, to a fixpoint).
    fn retract(&self, schema: &Schema, removed: Vec<Triple>) -> Result<usize, EngineError> {
        if removed.is_empty() {
            return Ok(0);
        }
        let g = GraphName::NamedNode(nn(vocab::GRAPH_INFERRED));
        let inferred = |t: &Triple| self.store.contains(&Quad::new(t.0.clone(), t.1.clone(), t.2.clone(), g.clone()));
        let mut gone: HashSet<Triple> = HashSet::new();
        let mut work = removed;
        while let Some(t) = work.pop() {
            let mut next: Vec<Triple> = consequences(schema, &t).into_iter().map(|(_, c)| c).collect();
            if schema.transitive.contains(&t.1) {
                let (s, p, o) = (&t.0, &t.1, &t.2);
                let mut xs: Vec<Term> = vec![s.clone().into()];
                xs.extend(self.neighbours(p, &s.clone().into(), false)?);
                let mut zs = vec![o.clone()];
                zs.extend(self.neighbours(p, o, true)?);
                for x in xs.iter().filter_map(as_subject) {
                    next.extend(zs.iter().map(|z| (x.clone(), p.clone(), z.clone())));
                }
            }
            for c in next {
                if !gone.contains(&c) && inferred(&c)? {
                    gone.insert(c.clone());
                    work.push(c);
                }
            }
        }
        loop {
            let mut back = Vec::new();
            for c in &gone {
                if !self.holds(c, false)? && self.derivable(schema, c, &gone)? {
                    back.push(c.clone());
                }
            }
            if back.is_empty() {
                break;
            }
            for c in back {
                gone.remove(&c);
            }
        }
        let quads: Vec<Quad> = gone.into_iter().map(|(s, p, o)| Quad::new(s, p, o, g.clone())).collect();
        if !quads.is_empty() {
            self.store.remove(&quads)?;
        }
        Ok(quads.len())
    }

    /// Whether a triple follows in one step from stored triples outside `gone`. Premises are
    /// looked up by the shape each rule gives them, stopping at the first: the subject's own
    /// triples (subclass, subproperty, domain), triples pointing at it through a property whose
    /// range is the class (range), the inverse triple, a two-step path (transitive).
    fn derivable(&self, schema: &Schema, c: &Triple, gone: &HashSet<Triple>) -> Result<bool, EngineError> {
        let inferred_graph = GraphName::NamedNode(nn(vocab::GRAPH_INFERRED));
        let usable = |q: &Quad| {
            (is_data_graph(&q.graph_name) || q.graph_name == inferred_graph) && {
                let u = (q.subject.clone(), q.predicate.clone(), q.object.clone());
                &u != c && !gone.contains(&u)
            }
        };
        let yields = |q: &Quad| consequences(schema, &triple(q.clone())).iter().any(|(_, x)| x == c);
        if self.store.find_first(Some(&c.0), None, None, None, |q| usable(q) && yields(q))?.is_some() {
            return Ok(true);
        }
        let subject_term: Term = c.0.clone().into();
        if c.1.as_str() == vocab::RDF_TYPE
            && let Term::NamedNode(class) = &c.2
        {
            for (prop, ranges) in &schema.ranges {
                if ranges.contains(class)
                    && self.store.find_first(None, Some(prop), Some(&subject_term), None, usable)?.is_some()
                {
                    return Ok(true);
                }
            }
        }
        if let Some(o) = as_subject(&c.2) {
            for q in schema.inverses.get(&c.1).into_iter().flatten() {
                if self.store.find_first(Some(&o), Some(q), Some(&subject_term), None, usable)?.is_some() {
                    return Ok(true);
                }
            }
        }
        if schema.transitive.contains(&c.1) {
            for m in self.neighbours(&c.1, &subject_term, true)? {
                let Some(ms) = as_subject(&m) else { continue };
                let first = (c.0.clone(), c.1.clone(), m.clone());
                let second = (ms, c.1.clone(), c.2.clone());
                if first != *c
                    && second != *c
                    && !gone.contains(&first)
                    && !gone.contains(&second)
                    && self.holds(&second, true)?
                {
                    return Ok(true);
                }
            }
        }
        Ok(false)
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
        // A fact copied over owl:sameAs has its premise on the other node of the group.
        for other in schema.same.get(&Term::NamedNode(subject.clone())).into_iter().flatten() {
            if let Term::NamedNode(n) = other {
                quads.extend(self.store.quads_touching(n)?);
            }
        }
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
                        "eq-rep-s (sameAs)" => {
                            [t.0.to_string(), format!("<{}>", vocab::OWL_SAME_AS), subject.to_string()]
                        }
                        "eq-rep-o (sameAs)" => {
                            [term_string(&t.2), format!("<{}>", vocab::OWL_SAME_AS), term_string(object)]
                        }
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
