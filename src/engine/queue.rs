//! The review queue: machine facts held back from the served graph (their confidence under the
//! kind's threshold), listed with their source text, span, model and reason; accepted (moved
//! into the graph they belong to, marked with who and when, optionally edited first) or
//! rejected (kept as a negative example). Decisions are exported as labelled sentences that
//! `shopgraph finetune` reads, closing the loop from curation back to the model.

use super::rec::lexical;
use super::{Engine, EngineError};
use crate::ontology::vocab;
use crate::store::model::{GraphName, Literal, NamedNode, Quad, Term};
use serde::Serialize;

fn nn(s: &str) -> NamedNode {
    NamedNode::new_unchecked(s)
}

/// One held fact.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct QueueItem {
    /// Its id (the last path segment of its IRI).
    pub id: String,
    /// Its IRI.
    pub iri: String,
    /// Fact kind: `aspect`, `attribute` (attribute or brand mention), `sentiment` (a
    /// review's sentiment judgement) or `same_as` (two products or brands proposed as one).
    pub kind: String,
    /// The review it was read from.
    pub source: String,
    /// Product of that review, when known.
    pub product: Option<String>,
    /// Aspect concept IRI.
    pub aspect: String,
    /// Polarity the model gave it.
    pub sentiment: String,
    /// The fact's confidence.
    pub confidence: f64,
    /// The words it was read from.
    pub source_text: String,
    /// The sentence around them.
    pub context: String,
    /// Char span in the review text.
    pub span: (i64, i64),
    /// `model` or `lexicon`.
    pub method: String,
    /// Why it was held.
    pub reason: String,
    /// The extraction run (names the models and versions).
    pub run: String,
    /// The graph it goes to when accepted.
    pub target_graph: String,
    /// For a `same_as` candidate: the node proposed to be the same as `source`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub same_as: Option<String>,
}

/// Which items to list.
#[derive(Debug, Clone, Default)]
pub struct QueueFilter {
    /// Only this kind.
    pub kind: Option<String>,
    /// Only items from reviews of this product (IRI).
    pub product: Option<String>,
    /// Only items whose reason contains this.
    pub reason: Option<String>,
    /// Only items from runs whose IRI contains this (a model id or version appears there).
    pub model: Option<String>,
    /// At most this many.
    pub limit: usize,
}

/// Changes a reviewer makes before accepting.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Edit {
    /// Another aspect concept (IRI or label).
    pub aspect: Option<String>,
    /// Another polarity.
    pub sentiment: Option<String>,
}

/// A decision taken.
#[derive(Debug, Clone, Serialize)]
pub struct Decision {
    /// `accepted` or `rejected`.
    pub decision: String,
    /// The item as decided (edits applied).
    pub item: QueueItem,
}

impl Engine {
    fn queue_items(&self, only: Option<&NamedNode>) -> Result<Vec<QueueItem>, EngineError> {
        let filter = only.map_or_else(String::new, |n| format!("FILTER(?m = <{}>)", n.as_str()));
        // Aspect mentions carry every field; facts held because they fail a shape may lack
        // some (that can be why they were held), so only the bookkeeping is required.
        let q = format!(
            "PREFIX sg: <{sg}> SELECT ?m ?src ?product ?aspect ?s ?c ?text ?ctx ?start ?end ?method ?why ?run ?target ?type ?other WHERE {{
               GRAPH <{queue}> {{ ?m a ?type ; sg:heldBecause ?why ; sg:targetGraph ?target .
                 VALUES ?type {{ sg:AspectMention sg:AttributeMention sg:SentimentJudgement sg:SameAsCandidate }}
                 OPTIONAL {{ ?m sg:candidate ?other }}
                 OPTIONAL {{ ?m sg:mentionIn|sg:about ?src }} OPTIONAL {{ ?m sg:aspect ?aspect }}
                 OPTIONAL {{ ?m sg:sentiment ?s }} OPTIONAL {{ ?m sg:confidence ?c }} OPTIONAL {{ ?m sg:sourceText ?text }}
                 OPTIONAL {{ ?m sg:contextText ?ctx }} OPTIONAL {{ ?m sg:spanStart ?start }} OPTIONAL {{ ?m sg:spanEnd ?end }}
                 OPTIONAL {{ ?m sg:detectionMethod ?method }} OPTIONAL {{ ?m sg:generatedBy ?run }} }}
               OPTIONAL {{ ?src sg:reviewOf ?product }} {filter} }} ORDER BY ?c ?m",
            sg = vocab::SG,
            queue = vocab::GRAPH_QUEUE,
        );
        let vars = [
            "m", "src", "product", "aspect", "s", "c", "text", "ctx", "start", "end", "method", "why", "run", "target",
            "type", "other",
        ];
        let rows = self.store().select_terms(&q, &[], &vars, self.config.query_timeout())?;
        let text = |t: &Option<Term>| lexical(t).unwrap_or_default();
        let num = |t: &Option<Term>| text(t).parse::<f64>().unwrap_or(0.0);
        let mut items: Vec<QueueItem> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for r in rows {
            let iri = text(&r[0]);
            // A fact with two values of one field (itself a reason to hold it) lists once.
            if !seen.insert(iri.clone()) {
                continue;
            }
            let kind = match text(&r[14]).rsplit('#').next() {
                Some("AspectMention") => "aspect",
                Some("AttributeMention") => "attribute",
                Some("SameAsCandidate") => "same_as",
                _ => "sentiment",
            };
            items.push(QueueItem {
                id: iri.rsplit('/').next().unwrap_or_default().to_string(),
                iri,
                kind: kind.into(),
                source: text(&r[1]),
                product: lexical(&r[2]).or_else(|| (kind == "attribute").then(|| text(&r[1]))),
                aspect: text(&r[3]),
                sentiment: text(&r[4]),
                confidence: num(&r[5]),
                source_text: text(&r[6]),
                context: text(&r[7]),
                span: (num(&r[8]) as i64, num(&r[9]) as i64),
                method: text(&r[10]),
                reason: text(&r[11]),
                run: text(&r[12]),
                target_graph: text(&r[13]),
                same_as: if kind == "same_as" { lexical(&r[15]) } else { None },
            });
        }
        Ok(items)
    }

    /// Held facts, least confident first.
    pub fn queue_list(&self, f: &QueueFilter) -> Result<Vec<QueueItem>, EngineError> {
        let mut items = self.queue_items(None)?;
        items.retain(|i| {
            f.kind.as_ref().is_none_or(|k| &i.kind == k)
                && f.product.as_ref().is_none_or(|p| i.product.as_ref() == Some(p))
                && f.reason.as_ref().is_none_or(|r| i.reason.contains(r.as_str()))
                && f.model.as_ref().is_none_or(|m| i.run.contains(m.as_str()))
        });
        items.truncate(if f.limit == 0 { usize::MAX } else { f.limit });
        Ok(items)
    }

    fn queue_node(&self, id: &str) -> Result<(NamedNode, QueueItem), EngineError> {
        // Ids are the hex hashes the extraction mints; anything else cannot name an item.
        if id.is_empty() || id.len() > 64 || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(EngineError::NotFound(format!("no review-queue item {id:?}")));
        }
        // Mentions, judgements and candidates are minted under different paths; the id names one.
        for kind in ["mention", "judgement", "candidate"] {
            let node = nn(&format!("{}{kind}/{id}", self.minter().base()));
            if let Some(item) = self.queue_items(Some(&node))?.into_iter().next() {
                return Ok((node, item));
            }
        }
        Err(EngineError::NotFound(format!("no review-queue item {id:?}")))
    }

    /// Accepts a held fact (after `edit`): it moves into its target graph, marked as accepted by
    /// `who` now, and the decision is recorded.
    pub fn queue_accept(&self, id: &str, edit: &Edit, who: &str) -> Result<Decision, EngineError> {
        let (node, mut item) = self.queue_node(id)?;
        if let Some(s) = &edit.sentiment {
            if !["positive", "negative", "neutral"].contains(&s.as_str()) {
                return Err(EngineError::Input(format!("sentiment {s:?} is not positive, negative or neutral")));
            }
            item.sentiment = s.clone();
        }
        if edit.aspect.is_some() && item.kind != "aspect" {
            return Err(EngineError::Input(format!("a held {} fact has no aspect to edit", item.kind)));
        }
        if edit.sentiment.is_some() && item.kind == "attribute" {
            return Err(EngineError::Input("a held attribute fact has no sentiment to edit".into()));
        }
        if let Some(a) = &edit.aspect {
            let lex = self.lexicon()?;
            let hit = lex.aspects.iter().find(|e| &e.iri == a || e.label.eq_ignore_ascii_case(a));
            item.aspect = hit.map(|e| e.iri.clone()).ok_or_else(|| EngineError::Input(format!("no aspect {a:?}")))?;
        }
        let target = GraphName::NamedNode(nn(&item.target_graph));
        let held = self.held_quads(&node)?;
        if item.kind == "same_as" {
            if edit.aspect.is_some() || edit.sentiment.is_some() {
                return Err(EngineError::Input("a same-as candidate has nothing to edit".into()));
            }
            let (Ok(a), Some(Ok(b))) = (NamedNode::new(&item.source), item.same_as.as_deref().map(NamedNode::new))
            else {
                return Err(EngineError::Input("the candidate does not name two nodes".into()));
            };
            // Both directions: queries and the recommender read the link either way round.
            let link = vec![
                Quad::new(a.clone(), nn(vocab::OWL_SAME_AS), b.clone(), target.clone()),
                Quad::new(b, nn(vocab::OWL_SAME_AS), a, target.clone()),
            ];
            let decided = self.decision_quads(&node, &item, "accepted", who, &now());
            self.store().swap(&held, &[link, decided].concat())?;
            return Ok(Decision { decision: "accepted".into(), item });
        }
        let mut moved = Vec::new();
        for q in &held {
            let p = q.predicate.as_str();
            // Queue-only bookkeeping stays behind; edited values are replaced.
            if [vocab::HELD_BECAUSE, vocab::TARGET_GRAPH, vocab::CONTEXT_TEXT, vocab::HAS_ASPECT, vocab::SENTIMENT]
                .contains(&p)
            {
                continue;
            }
            moved.push(Quad::new(q.subject.clone(), q.predicate.clone(), q.object.clone(), target.clone()));
        }
        if let Ok(aspect) = NamedNode::new(&item.aspect) {
            moved.push(Quad::new(node.clone(), nn(vocab::HAS_ASPECT), aspect, target.clone()));
        }
        if !item.sentiment.is_empty() {
            moved.push(Quad::new(
                node.clone(),
                nn(vocab::SENTIMENT),
                Literal::from(item.sentiment.as_str()),
                target.clone(),
            ));
        }
        let now = now();
        let mut decided = self.decision_quads(&node, &item, "accepted", who, &now);
        decided.extend(decision_marks(&node, "accepted", who, &now, &target));
        self.store().swap(&held, &[moved, decided].concat())?;
        Ok(Decision { decision: "accepted".into(), item })
    }

    /// Rejects a held fact: it leaves the queue and stays in the decisions graph as a negative
    /// example.
    pub fn queue_reject(&self, id: &str, who: &str) -> Result<Decision, EngineError> {
        let (node, item) = self.queue_node(id)?;
        let held = self.held_quads(&node)?;
        let decided = self.decision_quads(&node, &item, "rejected", who, &now());
        self.store().swap(&held, &decided)?;
        Ok(Decision { decision: "rejected".into(), item })
    }

    /// The queue graph's quads about one item.
    fn held_quads(&self, node: &NamedNode) -> Result<Vec<Quad>, EngineError> {
        let queue = GraphName::NamedNode(nn(vocab::GRAPH_QUEUE));
        Ok(self.store().quads_touching(node)?.into_iter().filter(|q| q.graph_name == queue).collect())
    }

    fn decision_quads(&self, node: &NamedNode, item: &QueueItem, decision: &str, who: &str, now: &str) -> Vec<Quad> {
        let g = GraphName::NamedNode(nn(vocab::GRAPH_DECISIONS));
        let mut out = decision_marks(node, decision, who, now, &g);
        let lit = |p: &str, v: &str| Quad::new(node.clone(), nn(p), Literal::from(v), g.clone());
        let link = |p: &str, o: &str| NamedNode::new(o).ok().map(|o| Quad::new(node.clone(), nn(p), o, g.clone()));
        let about =
            if matches!(item.kind.as_str(), "attribute" | "same_as") { vocab::ABOUT } else { vocab::MENTION_IN };
        out.extend(link(about, &item.source));
        out.extend(item.same_as.as_deref().and_then(|b| link(vocab::CANDIDATE, b)));
        out.extend(link(vocab::HAS_ASPECT, &item.aspect));
        out.extend(link(vocab::GENERATED_BY, &item.run));
        for (p, v) in [
            (vocab::SENTIMENT, &item.sentiment),
            (vocab::CONTEXT_TEXT, &item.context),
            (vocab::SOURCE_TEXT, &item.source_text),
        ] {
            if !v.is_empty() {
                out.push(lit(p, v));
            }
        }
        out
    }

    /// Decisions as aspect-labelled sentences (`id, text, aspects, sentiment, labels`): an
    /// accepted fact is the aspect with its polarity, a rejected one the aspect marked
    /// `absent`; `labels` is `partial` (only the listed aspects are known), so training leaves
    /// the others alone.
    pub fn queue_export(&self) -> Result<String, EngineError> {
        let q = format!(
            "PREFIX sg: <{sg}> SELECT ?m ?ctx ?aspect ?s ?d WHERE {{ GRAPH <{g}> {{
               ?m sg:decision ?d ; sg:contextText ?ctx ; sg:aspect ?aspect ; sg:sentiment ?s }} }} ORDER BY ?ctx ?m",
            sg = vocab::SG,
            g = vocab::GRAPH_DECISIONS
        );
        let rows =
            self.store().select_terms(&q, &[], &["m", "ctx", "aspect", "s", "d"], self.config.query_timeout())?;
        let lex = self.lexicon()?;
        // One row per sentence, its decided aspects together.
        let mut by: Vec<(String, String, Vec<String>)> = Vec::new();
        for r in rows {
            let (Some(m), Some(ctx), Some(a), Some(s), Some(d)) =
                (lexical(&r[0]), lexical(&r[1]), lexical(&r[2]), lexical(&r[3]), lexical(&r[4]))
            else {
                continue;
            };
            let Some(label) = lex.aspects.iter().find(|e| e.iri == a).map(|e| e.label.clone()) else { continue };
            let clean = ctx.replace(['\t', '\n', '\r'], " ");
            let value = if d == "accepted" { format!("{label}:{s}") } else { format!("{label}:absent") };
            match by.iter_mut().find(|(_, c, _)| *c == clean) {
                Some((_, _, v)) if !v.contains(&value) => v.push(value),
                Some(_) => {}
                None => by.push((m.rsplit('/').next().unwrap_or_default().to_string(), clean, vec![value])),
            }
        }
        let mut out = String::from("id\ttext\taspects\tsentiment\tlabels\n");
        for (id, text, aspects) in by {
            out.push_str(&format!("q-{id}\t{text}\t{}\t\tpartial\n", aspects.join(";")));
        }
        Ok(out)
    }
}

/// The time a decision is stamped with (one per decision, in both graphs it is written to).
fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn decision_marks(node: &NamedNode, decision: &str, who: &str, now: &str, g: &GraphName) -> Vec<Quad> {
    vec![
        Quad::new(node.clone(), nn(vocab::DECISION), Literal::from(decision), g.clone()),
        Quad::new(node.clone(), nn(vocab::DECIDED_BY), Literal::from(who), g.clone()),
        Quad::new(
            node.clone(),
            nn(vocab::DECIDED_AT),
            Literal::new_typed_literal(now, nn(vocab::XSD_DATE_TIME)),
            g.clone(),
        ),
    ]
}
