//! The living ontology: the ontology and shapes graphs in the store are the source of truth
//! once installed. Each change (the built-in installed, an engineer's patch, an upgrade of
//! shopgraph) becomes a numbered version with a snapshot of both graphs; versions are listed,
//! diffed (classes, properties, terms, shapes, labels) and exported; a patch (Turtle additions or
//! a SPARQL Update) is checked before it applies (no dangling class, no subclass or broader
//! cycle, labels present, shapes that read); and a newer built-in ontology is merged three ways
//! with the built-in the store was installed from, so an engineer's edits survive and
//! conflicts are reported, never silently overwritten.

use super::{Engine, EngineError};
use crate::ontology::{self, vocab};
use crate::store::model::{GraphName, Literal, NamedNode, NamedOrBlankNode, Quad, Term, Triple};
use crate::store::{Store, UpdateDataset};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

mod check;
mod units;

pub use check::problems;
use units::{Units, diff, keys, rebuild, same, summary, units};

fn nn(s: &str) -> NamedNode {
    NamedNode::new_unchecked(s)
}

const RDF_TYPE: &str = vocab::RDF_TYPE;
const OWL: &str = "http://www.w3.org/2002/07/owl#";
const RDFS: &str = "http://www.w3.org/2000/01/rdf-schema#";

/// The two versioned graphs at one point.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    /// The ontology graph's triples.
    pub ontology: Vec<Triple>,
    /// The shapes graph's triples.
    pub shapes: Vec<Triple>,
}

/// One recorded version.
#[derive(Debug, Clone, serde::Serialize)]
pub struct OntologyVersion {
    /// 1, 2, ...
    pub number: u64,
    /// The ontology's own `owl:versionInfo` in that version.
    pub label: String,
    /// When it was recorded.
    pub created: String,
    /// Who made it (`shopgraph` for installs and upgrades).
    pub by: String,
    /// `built-in`, `patch` or `upgrade`.
    pub source: String,
    /// What changed, in words (conflicts of an upgrade are listed here).
    pub note: String,
    /// Triples in its ontology and shapes graphs.
    pub triples: usize,
}

/// The versions and whether the live graphs moved on since the latest.
#[derive(Debug, Clone, serde::Serialize)]
pub struct OntologyInfo {
    /// The latest version.
    pub current: Option<OntologyVersion>,
    /// The live graphs differ from the latest version (edits made through the Graph Store
    /// or updates, not through a patch): `diff latest current` shows them.
    pub unversioned_changes: bool,
    /// Every version, oldest first.
    pub history: Vec<OntologyVersion>,
}

/// Terms that appear or disappear, by kind.
#[derive(Debug, Clone, Default, serde::Serialize, PartialEq)]
pub struct Terms {
    /// `owl:Class` / `rdfs:Class`.
    pub classes: Vec<String>,
    /// Properties of any OWL or RDF kind.
    pub properties: Vec<String>,
    /// Other typed terms: aspects, attribute values, interaction types, concepts.
    pub terms: Vec<String>,
    /// SHACL shapes.
    pub shapes: Vec<String>,
}

/// A subject kept in both versions whose values of one predicate changed.
#[derive(Debug, Clone, serde::Serialize, PartialEq)]
pub struct Change {
    /// The subject.
    pub subject: String,
    /// The predicate.
    pub predicate: String,
    /// Values only in the newer version (blank-node structures written out).
    pub added: Vec<String>,
    /// Values only in the older version.
    pub removed: Vec<String>,
}

/// What changed between two versions.
#[derive(Debug, Clone, serde::Serialize)]
pub struct OntologyDiff {
    /// The older side as asked (`3`, `latest`, `current`).
    pub from: String,
    /// The newer side.
    pub to: String,
    /// Terms only in `to`.
    pub added: Terms,
    /// Terms only in `from`.
    pub removed: Terms,
    /// Label changes (`rdfs:label`, `skos:prefLabel`, `skos:altLabel`) of kept terms.
    pub labels: Vec<Change>,
    /// Every other change of a kept term.
    pub changed: Vec<Change>,
    /// Triples only in `to`, only in `from`.
    pub triples_added: usize,
    /// Triples only in `from`.
    pub triples_removed: usize,
}

/// Where an upgrade and an engineer changed the same values differently; the engineer's
/// values were kept.
#[derive(Debug, Clone, serde::Serialize, PartialEq)]
pub struct Conflict {
    /// The subject.
    pub subject: String,
    /// The predicate.
    pub predicate: String,
    /// The values the engineer's edit gave (kept).
    pub kept: Vec<String>,
    /// The values the new built-in ontology gives (not applied).
    pub built_in: Vec<String>,
}

/// What an upgrade did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MergeReport {
    /// The built-in version the store had.
    pub from: String,
    /// The built-in version installed.
    pub to: String,
    /// Whether the built-in the store was installed from was on record (stores made before
    /// 1.4.0 have none: their graphs are kept as a version and replaced).
    pub base_known: bool,
    /// Engineer's changes carried over (predicate values of a subject).
    pub edits_kept: usize,
    /// Both sides changed the same values: the engineer's kept, listed here.
    pub conflicts: Vec<Conflict>,
    /// Problems the merged ontology has (e.g. an edit uses a class the upgrade removed).
    pub problems: Vec<String>,
    /// The version recorded.
    pub version: u64,
}

/// A change set to apply.
#[derive(Debug, Clone)]
pub enum Patch {
    /// Triples to add to the ontology graph.
    Turtle(String),
    /// A SPARQL Update over the ontology graph as the default graph, with the shapes graph
    /// under its own name (`GRAPH <https://w3id.org/shopgraph/graph/shapes>`).
    Update(String),
}

// ------------------------------------------------------------------ the store side

fn history_graph(n: &str, part: &str) -> GraphName {
    GraphName::NamedNode(nn(&format!("{}/{n}/{part}", vocab::GRAPH_ONTOLOGY_HISTORY)))
}

fn quads_of(s: &Snapshot, ontology: &GraphName, shapes: &GraphName) -> Vec<Quad> {
    let q = |t: &Triple, g: &GraphName| Quad::new(t.subject.clone(), t.predicate.clone(), t.object.clone(), g.clone());
    s.ontology.iter().map(|t| q(t, ontology)).chain(s.shapes.iter().map(|t| q(t, shapes))).collect()
}

fn label_of(s: &Snapshot) -> String {
    s.ontology
        .iter()
        .find(|t| {
            t.predicate.as_str() == vocab::OWL_VERSION_INFO
                && matches!(&t.subject, NamedOrBlankNode::NamedNode(n) if n.as_str() == vocab::ONTOLOGY)
        })
        .and_then(|t| if let Term::Literal(l) = &t.object { Some(l.value().to_owned()) } else { None })
        .unwrap_or_default()
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn live() -> (GraphName, GraphName) {
    (GraphName::NamedNode(nn(vocab::GRAPH_ONTOLOGY)), GraphName::NamedNode(nn(vocab::GRAPH_SHAPES)))
}

/// The two graphs of built-in quads.
fn split_builtin(quads: &[Quad]) -> Snapshot {
    let (o, s) = live();
    let t = |q: &Quad| Triple::new(q.subject.clone(), q.predicate.clone(), q.object.clone());
    Snapshot {
        ontology: quads.iter().filter(|q| q.graph_name == o).map(t).collect(),
        shapes: quads.iter().filter(|q| q.graph_name == s).map(t).collect(),
    }
}

impl Engine {
    fn read_snapshot(&self, ontology: &GraphName, shapes: &GraphName) -> Result<Snapshot, EngineError> {
        let t = |q: Quad| Triple::new(q.subject, q.predicate, q.object);
        Ok(Snapshot {
            ontology: self.store.graph_quads(ontology)?.into_iter().map(t).collect(),
            shapes: self.store.graph_quads(shapes)?.into_iter().map(t).collect(),
        })
    }

    /// The live graphs, a recorded version (`3`), the latest (`latest`) or the built-in the
    /// store was last installed from (`builtin`).
    pub fn ontology_snapshot(&self, which: &str) -> Result<Snapshot, EngineError> {
        match which {
            "current" => {
                let (o, s) = live();
                self.read_snapshot(&o, &s)
            }
            "builtin" => self.read_snapshot(&history_graph("builtin", "ontology"), &history_graph("builtin", "shapes")),
            "latest" => {
                let n = self
                    .ontology_versions()?
                    .current
                    .map(|v| v.number)
                    .ok_or_else(|| EngineError::NotFound("no ontology version is recorded yet".into()))?;
                self.ontology_snapshot(&n.to_string())
            }
            n => {
                let n: u64 = n.parse().map_err(|_| {
                    EngineError::Input(format!("{n:?} is not a version: give a number, latest, current or builtin"))
                })?;
                if !self.history()?.iter().any(|v| v.number == n) {
                    return Err(EngineError::NotFound(format!("no ontology version {n}")));
                }
                self.read_snapshot(&history_graph(&n.to_string(), "ontology"), &history_graph(&n.to_string(), "shapes"))
            }
        }
    }

    /// Every recorded version and whether the live graphs moved on since the latest.
    pub fn ontology_versions(&self) -> Result<OntologyInfo, EngineError> {
        let history = self.history()?;
        let current = history.last().cloned();
        let unversioned_changes = match &current {
            Some(v) => {
                let (o, s) = live();
                let n = v.number.to_string();
                !same(
                    &units(&self.read_snapshot(&o, &s)?),
                    &units(&self.read_snapshot(&history_graph(&n, "ontology"), &history_graph(&n, "shapes"))?),
                )
            }
            None => false,
        };
        Ok(OntologyInfo { current, unversioned_changes, history })
    }

    /// The recorded versions, oldest first (records only: no snapshot is read).
    fn history(&self) -> Result<Vec<OntologyVersion>, EngineError> {
        let g = GraphName::NamedNode(nn(vocab::GRAPH_ONTOLOGY_HISTORY));
        let mut by: BTreeMap<String, HashMap<String, String>> = BTreeMap::new();
        for q in self.store.graph_quads(&g)? {
            let v = match &q.object {
                Term::Literal(l) => l.value().to_owned(),
                other => other.to_string(),
            };
            by.entry(q.subject.to_string()).or_default().insert(q.predicate.as_str().to_owned(), v);
        }
        let mut history: Vec<OntologyVersion> = by
            .into_values()
            .filter_map(|m| {
                let get = |p: &str| m.get(p).cloned().unwrap_or_default();
                Some(OntologyVersion {
                    number: get(vocab::VERSION_NUMBER).parse().ok()?,
                    label: get(vocab::OWL_VERSION_INFO),
                    created: get(vocab::CREATED_AT),
                    by: get(vocab::CREATED_BY),
                    source: get(vocab::VERSION_SOURCE),
                    note: get(vocab::CHANGE_NOTE),
                    triples: get(vocab::ROW_COUNT).parse().unwrap_or(0),
                })
            })
            .collect();
        history.sort_by_key(|v| v.number);
        Ok(history)
    }

    /// The quads that record a new version (its record and snapshot); numbered after the latest.
    fn version_quads(
        &self,
        snap: &Snapshot,
        source: &str,
        by: &str,
        note: &str,
    ) -> Result<(u64, Vec<Quad>), EngineError> {
        let n = self.history()?.last().map_or(1, |v| v.number + 1);
        let g = GraphName::NamedNode(nn(vocab::GRAPH_ONTOLOGY_HISTORY));
        let node = nn(&format!("{}/{n}", vocab::GRAPH_ONTOLOGY_HISTORY));
        let lit = |p: &str, v: Literal| Quad::new(node.clone(), nn(p), v, g.clone());
        let mut out = vec![
            Quad::new(node.clone(), nn(RDF_TYPE), nn(vocab::ONTOLOGY_VERSION_CLASS), g.clone()),
            lit(vocab::VERSION_NUMBER, Literal::from(n as i64)),
            lit(vocab::OWL_VERSION_INFO, Literal::from(label_of(snap))),
            lit(vocab::CREATED_AT, Literal::new_typed_literal(now(), nn(vocab::XSD_DATE_TIME))),
            lit(vocab::CREATED_BY, Literal::from(by)),
            lit(vocab::VERSION_SOURCE, Literal::from(source)),
            lit(vocab::CHANGE_NOTE, Literal::from(note)),
            lit(vocab::ROW_COUNT, Literal::from((snap.ontology.len() + snap.shapes.len()) as i64)),
        ];
        out.extend(quads_of(
            snap,
            &history_graph(&n.to_string(), "ontology"),
            &history_graph(&n.to_string(), "shapes"),
        ));
        Ok((n, out))
    }

    fn vocabulary_classes(&self) -> Result<HashSet<String>, EngineError> {
        let mut out = HashSet::new();
        for g in [vocab::GRAPH_SCHEMA_ORG, vocab::GRAPH_GOODRELATIONS, vocab::GRAPH_REV] {
            for q in self.store.graph_quads_with_predicate(&GraphName::NamedNode(nn(g)), &nn(RDF_TYPE))? {
                if let (NamedOrBlankNode::NamedNode(s), Term::NamedNode(o)) = (&q.subject, &q.object)
                    && (o.as_str() == format!("{OWL}Class") || o.as_str() == format!("{RDFS}Class"))
                {
                    out.insert(s.as_str().to_owned());
                }
            }
        }
        Ok(out)
    }

    /// What changed from one version to another (`N`, `latest`, `current`, `builtin`).
    pub fn ontology_diff(&self, from: &str, to: &str) -> Result<OntologyDiff, EngineError> {
        let (a, b) = (self.ontology_snapshot(from)?, self.ontology_snapshot(to)?);
        Ok(diff(from, to, &a, &b))
    }

    /// A version (or the live graphs) as TriG (both graphs under their live names), or one of
    /// them as a graph format.
    pub fn ontology_export(
        &self,
        which: &str,
        format: crate::store::GraphFormat,
        part: &str,
    ) -> Result<Vec<u8>, EngineError> {
        let snap = self.ontology_snapshot(which)?;
        let prefixes =
            [("sg", vocab::SG), ("sh", crate::shacl::SH), ("skos", vocab::SKOS), ("owl", OWL), ("rdfs", RDFS)];
        let io = |e: std::io::Error| EngineError::Input(format!("cannot write the ontology: {e}"));
        if format.supports_datasets() {
            let (o, s) = live();
            return crate::store::formats::write_quads(&quads_of(&snap, &o, &s), format, &prefixes).map_err(io);
        }
        let triples = match part {
            "ontology" => &snap.ontology,
            "shapes" => &snap.shapes,
            other => return Err(EngineError::Input(format!("part {other:?} is ontology or shapes"))),
        };
        crate::store::formats::write_triples(triples, format, &prefixes).map_err(io)
    }

    /// Applies a change set to the live graphs as a new version, after checking the result.
    /// Refused (and nothing changed) when the patch does not parse, writes other graphs,
    /// changes nothing, or leaves the ontology with problems.
    pub fn ontology_apply(&self, patch: &Patch, who: &str, note: &str) -> Result<OntologyVersion, EngineError> {
        let (o, s) = live();
        let before = self.read_snapshot(&o, &s)?;
        // Worked on in a scratch store: the ontology as its default graph, the shapes under
        // their name, so the patch reads as a change to the ontology and nothing else.
        let scratch = Store::memory()?;
        scratch.insert(&quads_of(&before, &GraphName::DefaultGraph, &s))?;
        match patch {
            Patch::Turtle(text) => {
                let quads = Store::parse_document(
                    text.as_bytes(),
                    crate::store::GraphFormat::Turtle,
                    GraphName::DefaultGraph,
                    Some(vocab::ONTOLOGY),
                )?;
                scratch.insert(&quads)?;
            }
            Patch::Update(text) => scratch.update(text, &UpdateDataset::default(), self.config.query_timeout())?,
        }
        for g in scratch.graph_names()? {
            if g != vocab::GRAPH_SHAPES {
                return Err(EngineError::Input(format!(
                    "the patch writes the graph <{g}>: it may change the ontology (its default graph) and <{}> only",
                    vocab::GRAPH_SHAPES
                )));
            }
        }
        let after = {
            let t = |q: Quad| Triple::new(q.subject, q.predicate, q.object);
            Snapshot {
                ontology: scratch.graph_quads(&GraphName::DefaultGraph)?.into_iter().map(t).collect(),
                shapes: scratch.graph_quads(&s)?.into_iter().map(t).collect(),
            }
        };
        if same(&units(&after), &units(&before)) {
            return Err(EngineError::Input("the patch changes nothing".into()));
        }
        let found = problems(&after, &self.vocabulary_classes()?);
        if !found.is_empty() {
            return Err(EngineError::Input(format!(
                "the patch leaves the ontology broken, nothing was changed: {}",
                found.join("; ")
            )));
        }
        let d = diff("current", "patched", &before, &after);
        let note = if note.is_empty() { summary(&d) } else { format!("{note} ({})", summary(&d)) };
        let (n, record) = self.version_quads(&after, "patch", who, &note)?;
        self.store.swap(&quads_of(&before, &o, &s), &[quads_of(&after, &o, &s), record].concat())?;
        self.history()?
            .into_iter()
            .find(|v| v.number == n)
            .ok_or_else(|| EngineError::NotFound(format!("version {n} was not recorded")))
    }

    /// Installs the built-in ontology on a store that has none, recording it as version 1.
    pub(super) fn install_ontology(&self, builtin: Vec<Quad>) -> Result<(), EngineError> {
        let snap = split_builtin(&builtin);
        let (_, record) =
            self.version_quads(&snap, "built-in", "shopgraph", &format!("installed {}", label_of(&snap)))?;
        let mut all = builtin;
        all.extend(quads_of(&snap, &history_graph("builtin", "ontology"), &history_graph("builtin", "shapes")));
        all.extend(record);
        self.store.bulk_insert(all)?;
        Ok(())
    }

    /// Replaces the vocabulary and taxonomy graphs with the built-in ones and merges the
    /// built-in ontology and shapes into the live graphs three ways: where the engineer changed
    /// a subject's values of a predicate since the built-in the store was installed from and the
    /// new built-in did not, the edit stays; where both changed them differently, the edit stays
    /// and the conflict is reported (in the result, the log and the version's note).
    pub fn upgrade_ontology(&self, builtin: Vec<Quad>) -> Result<MergeReport, EngineError> {
        let theirs = split_builtin(&builtin);
        let (o, s) = live();
        let ours = self.read_snapshot(&o, &s)?;
        let base_graphs = (history_graph("builtin", "ontology"), history_graph("builtin", "shapes"));
        let base = self.read_snapshot(&base_graphs.0, &base_graphs.1)?;
        let base_known = !base.ontology.is_empty();
        // Vocabularies and taxonomy are not edited through versions: replaced as they ship.
        for g in [vocab::GRAPH_TAXONOMY, vocab::GRAPH_SCHEMA_ORG, vocab::GRAPH_GOODRELATIONS, vocab::GRAPH_REV] {
            let g = GraphName::NamedNode(nn(g));
            if self.store.graph_exists(&g)? {
                self.store.delete_graph(&g)?;
            }
        }
        self.store.bulk_insert(builtin.into_iter().filter(|q| q.graph_name != o && q.graph_name != s).collect())?;
        let mut report = MergeReport {
            from: label_of(if base_known { &base } else { &ours }),
            to: label_of(&theirs),
            base_known,
            edits_kept: 0,
            conflicts: Vec::new(),
            problems: Vec::new(),
            version: 0,
        };
        let mut record = Vec::new();
        let merged = if base_known {
            let (b, ou, th) = (units(&base), units(&ours), units(&theirs));
            let all: BTreeSet<&(u8, String, String)> = b.keys().chain(ou.keys()).chain(th.keys()).collect();
            let mut m = Units::new();
            for k in all {
                let (kb, ko, kt) = (keys(b.get(k)), keys(ou.get(k)), keys(th.get(k)));
                let take = if ko == kb {
                    th.get(k)
                } else if kt == kb || ko == kt {
                    report.edits_kept += usize::from(kt == kb);
                    ou.get(k)
                } else {
                    report.conflicts.push(Conflict {
                        subject: k.1.clone(),
                        predicate: k.2.clone(),
                        kept: ko.iter().map(|s| s.to_string()).collect(),
                        built_in: kt.iter().map(|s| s.to_string()).collect(),
                    });
                    ou.get(k)
                };
                if let Some(v) = take {
                    m.insert(k.clone(), v.clone());
                }
            }
            rebuild(&m)
        } else {
            // No record of what the store was installed from: its graphs become a version of
            // their own, so nothing is lost, and the new built-in replaces them.
            if !ours.ontology.is_empty() {
                let note = format!(
                    "the graphs as they were before the upgrade to {}; no record of the built-in they were installed from, so edits were not merged: see `ontology diff {{this}} current`",
                    report.to
                );
                let (_, q) = self.version_quads(&ours, "before-upgrade", "shopgraph", &note)?;
                self.store.insert(&q)?;
            }
            theirs.clone()
        };
        report.problems = problems(&merged, &self.vocabulary_classes()?);
        let note = format!(
            "upgrade {} → {}: {} edit(s) kept, {} conflict(s){}{}",
            report.from,
            report.to,
            report.edits_kept,
            report.conflicts.len(),
            if report.conflicts.is_empty() {
                String::new()
            } else {
                format!(
                    " (kept the engineer's values of {})",
                    report
                        .conflicts
                        .iter()
                        .map(|c| format!("{} {}", c.subject, c.predicate))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            },
            if report.problems.is_empty() {
                String::new()
            } else {
                format!("; problems: {}", report.problems.join("; "))
            }
        );
        let (n, q) = self.version_quads(&merged, "upgrade", "shopgraph", &note)?;
        record.extend(q);
        report.version = n;
        let old = [quads_of(&ours, &o, &s), quads_of(&base, &base_graphs.0, &base_graphs.1)].concat();
        let new = [quads_of(&merged, &o, &s), quads_of(&theirs, &base_graphs.0, &base_graphs.1), record].concat();
        self.store.swap(&old, &new)?;
        if report.conflicts.is_empty() && report.problems.is_empty() {
            log::info!("{note}");
        } else {
            log::warn!("{note}");
        }
        Ok(report)
    }

    /// [`Self::upgrade_ontology`] with the ontology built into this binary.
    pub fn upgrade_to_builtin(&self) -> Result<MergeReport, EngineError> {
        self.upgrade_ontology(ontology::ontology_quads()?)
    }
}
