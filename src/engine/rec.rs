//! The engine's recommendation half: training from the graph, serving with graph filters,
//! explanations that join model contributions with graph paths, and events that land in the
//! graph and in the live model at once.

use super::{Engine, EngineError};
use crate::ingest::mapping::{ColumnMap, Entity, Mapping, Scale, SourceFormat};
use crate::ingest::{self, clean};
use crate::ontology::{product_id_from_iri, vocab};
use crate::queries::NamedQueries;
use crate::recommend::dataset::Dataset;
use crate::recommend::facets::{Facets, Filter};
use crate::recommend::{self, Algorithm, Meta, RecommendError, Scored, Source, Trained};
use crate::sparql_fns::user_key;
use crate::store::model::{Literal, NamedNode, Quad, Term};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// Answer of `/recommend`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RecommendResponse {
    /// Model version that answered.
    pub model_version: String,
    /// Algorithm that answered.
    pub model: &'static str,
    /// Whether the user's history was used or the popular fallback.
    pub source: Source,
    /// Items, best first.
    pub items: Vec<Scored>,
}

/// One past item's share in a recommendation, with the graph paths tying it to the item.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Contribution {
    /// Past item (shop id).
    pub item: String,
    /// Additive contribution to the score.
    pub contribution: f32,
    /// contribution / score.
    pub share: f32,
    /// Graph connections between the past item and the recommended one.
    pub paths: Vec<Path>,
}

/// A graph connection.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Path {
    /// same_brand, same_category, shared_ancestor_category, shared_attribute, shared_review_aspect.
    pub kind: String,
    /// The node both items reach.
    pub via: String,
    /// Its label, when it has one.
    pub label: Option<String>,
}

/// Answer of `/explain`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Explanation {
    /// Recommended item.
    pub item: String,
    /// Its score for the user.
    pub score: f32,
    /// Algorithm.
    pub model: &'static str,
    /// Past items by contribution (top 10), each with its graph paths.
    pub contributions: Vec<Contribution>,
    /// Hybrid model: the item's features that placed it for this user (top 10, by part of
    /// the score), and the part its own shoppers account for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub features: Option<FeatureParts>,
    /// The same explanation as Turtle.
    pub rdf: String,
}

/// How a hybrid model's item features and shoppers split an item's score.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FeatureParts {
    /// (feature, part of the score), best first; features are `category=<concept IRI>`,
    /// `brand=...`, `shop_category=...`, `attribute=...` or `opinion=<aspect IRI> <sentiment>`.
    pub parts: Vec<FeaturePart>,
    /// The part of the score the item's own shoppers account for (0 for an item nobody has
    /// touched yet: it was placed by its features alone).
    pub shoppers: f32,
}

/// One feature's part of a hybrid score.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FeaturePart {
    /// The feature.
    pub feature: String,
    /// Its part of the score.
    pub part: f32,
}

/// How a shopper's pseudonym is written where a raw id is expected.
pub const PSEUDONYM_PREFIX: &str = "pseudonym:";

/// Answer of `POST /events`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct EventsAccepted {
    /// Events written to the graph.
    pub accepted: usize,
    /// Users whose factors were recomputed.
    pub users_updated: usize,
    /// Whether a background retrain was started.
    pub retrain_started: bool,
}

/// One event as posted.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct PostedEvent {
    user: String,
    item: String,
    event: String,
    timestamp: Option<String>,
    weight: Option<f64>,
    value: Option<f64>,
}

fn events_mapping() -> Mapping {
    let c = |s: &str| Some(s.to_owned());
    Mapping {
        entity: Entity::Interaction,
        format: Some(SourceFormat::Jsonl),
        columns: ColumnMap {
            user: c("user"),
            item: c("item"),
            event: c("event"),
            timestamp: c("timestamp"),
            weight: c("weight"),
            value: c("value"),
            ..ColumnMap::default()
        },
        rating: Scale::default(),
        currency: "USD".into(),
        categories: Default::default(),
        aliases: Default::default(),
        event_weights: Default::default(),
        source: Some("POST /events".into()),
    }
}

pub(super) fn lexical(t: &Option<Term>) -> Option<String> {
    match t {
        Some(Term::Literal(l)) => Some(l.value().to_owned()),
        Some(Term::NamedNode(n)) => Some(n.as_str().to_owned()),
        _ => None,
    }
}

impl Engine {
    /// Events as JSON Lines through the same cleaning rules as interaction files.
    fn clean_events(&self, lines: &str, source: &str) -> Result<ingest::Cleaned, EngineError> {
        let p = std::path::Path::new(source);
        let mapping = events_mapping();
        Ok(ingest::clean_reader(
            lines.as_bytes(),
            p,
            SourceFormat::Jsonl,
            &mapping,
            &self.minter,
            &self.pseudo,
            Box::new(|_| {}),
        )?)
    }

    /// Where models are saved: `<data>/models`, none for an in-memory store.
    pub fn models_dir(&self) -> Option<PathBuf> {
        (!self.config.memory).then(|| self.config.data.join("models"))
    }

    /// The recommender.
    pub fn recommender(&self) -> &Arc<crate::recommend::Recommender> {
        &self.rec
    }

    /// A shopper's interactions by raw id (pseudonymised here), newest first: item, event type,
    /// time and weight.
    pub fn user_history(&self, raw_user: &str, limit: usize) -> Result<Vec<serde_json::Value>, EngineError> {
        let user = self.minter.user(&self.user_key(raw_user));
        let rows = self.internal_named(
            "user-interactions",
            &[("user".into(), user.into())],
            &["item", "type", "timestamp", "weight"],
        )?;
        Ok(rows
            .into_iter()
            .take(limit)
            .map(|r| {
                let text = |t: &Option<Term>| match t {
                    Some(Term::NamedNode(n)) => {
                        let iri = n.as_str();
                        Some(product_id_from_iri(&self.minter, iri).map_or_else(|| iri.rsplit(['#', '/']).next().unwrap_or(iri).to_owned(), |c| c.into_owned()))
                    }
                    Some(Term::Literal(l)) => Some(l.value().to_owned()),
                    _ => None,
                };
                serde_json::json!({"item": text(&r[0]), "event": text(&r[1]), "timestamp": text(&r[2]), "weight": text(&r[3])})
            })
            .collect())
    }

    /// The pseudonymous key of a shop's raw user id.
    pub fn user_key(&self, raw: &str) -> String {
        // `pseudonym:<key>` names a shopper by the key shopgraph already holds (what /audience
        // and the cleaning reports show), so a pseudonymous list can be followed up without
        // the raw id.
        match raw.strip_prefix(PSEUDONYM_PREFIX) {
            Some(key) if key.len() == 32 && key.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) => {
                key.to_owned()
            }
            _ => self.pseudo.pseudonym(raw),
        }
    }

    /// The shoppers most likely to want a product, as `pseudonym:<key>` ids (who would like
    /// this), leaving out those who already have it.
    pub fn audience(&self, item: &str, k: usize) -> Result<serde_json::Value, EngineError> {
        let live = self.rec.current()?;
        let item = self.canonical_item(item)?;
        let users = live.audience(&item, k)?;
        Ok(serde_json::json!({
            "item": item,
            "model": live.trained.model.name(),
            "model_version": live.trained.meta.version,
            "users": users.into_iter().map(|(u, s)| serde_json::json!({"user": format!("{PSEUDONYM_PREFIX}{u}"), "score": s})).collect::<Vec<_>>(),
        }))
    }

    pub(super) fn load_saved_model(&self) -> Result<(), EngineError> {
        let Some(dir) = self.models_dir() else { return Ok(()) };
        if let Some(t) = Trained::load_current(&dir)? {
            let facets = self.facets(&t.items)?;
            log::info!("loaded model {} ({})", t.meta.version, t.model.name());
            self.rec.swap(t, facets);
        }
        Ok(())
    }

    /// A served named query (`queries/`) with its parameters bound, as terms.
    fn internal_named(
        &self,
        name: &str,
        bindings: &[(String, Term)],
        vars: &[&str],
    ) -> Result<Vec<Vec<Option<Term>>>, EngineError> {
        let q = self.queries.get(name)?;
        Ok(self.store.select_terms(&q.text, bindings, vars, self.config.query_timeout())?)
    }

    pub(super) fn internal(
        &self,
        name: &str,
        bindings: &[(String, Term)],
        vars: &[&str],
    ) -> Result<Vec<Vec<Option<Term>>>, EngineError> {
        let q = NamedQueries::internal(name)?;
        Ok(self.store.select_terms(&q.text, bindings, vars, self.config.query_timeout())?)
    }

    /// Every interaction in the graph, with every catalogue product as an item (so products
    /// without interactions can be placed by their graph neighbours).
    pub fn interaction_dataset(&self) -> Result<Dataset, EngineError> {
        let mut ds = Dataset::default();
        // Products accepted as the same (owl:sameAs in the fusion graph) are one item, named by
        // the smallest id of their group.
        let canonical = self.canonical_items()?;
        for row in self.internal("item-facets", &[], &["id"])? {
            if let Some(id) = lexical(&row[0])
                && !canonical.contains_key(&id)
            {
                ds.add_item(&id);
            }
        }
        let mut skipped = 0usize;
        for row in self.internal("interactions", &[], &["user", "item", "weight", "timestamp"])? {
            let (Some(Term::NamedNode(u)), Some(Term::NamedNode(i))) = (&row[0], &row[1]) else { continue };
            let (Some(user), Some(item)) =
                (user_key(&self.minter, u.as_str()), product_id_from_iri(&self.minter, i.as_str()))
            else {
                continue;
            };
            let w = lexical(&row[2]).and_then(|w| w.parse::<f32>().ok()).unwrap_or(1.0);
            // Weights written past ingest's checks (a SPARQL update) must not poison the model.
            if !w.is_finite() || w <= 0.0 || f64::from(w) > clean::MAX_WEIGHT {
                skipped += 1;
                continue;
            }
            let ts = lexical(&row[3]).and_then(|t| clean::parse_timestamp(&t).ok()).map_or(0, |t| t.timestamp());
            let item = canonical.get(item.as_ref()).map_or(item.as_ref(), String::as_str);
            ds.push(user, item, w, ts);
        }
        if skipped > 0 {
            log::warn!("skipped {skipped} interactions whose weight is not a number in (0, {}]", clean::MAX_WEIGHT);
        }
        Ok(ds)
    }

    /// [`Self::interaction_dataset`] with the hybrid's item features (two more queries; on the
    /// fully extracted demo the aspect opinions take seconds, so plain training skips them).
    pub fn interaction_dataset_with_features(&self) -> Result<Dataset, EngineError> {
        let mut ds = self.interaction_dataset()?;
        self.add_item_features(&mut ds)?;
        Ok(ds)
    }

    /// The dataset an algorithm trains on: with item features for the hybrid only.
    pub fn dataset_for(&self, alg: &Algorithm) -> Result<Dataset, EngineError> {
        if matches!(alg, Algorithm::Hybrid(_)) {
            self.interaction_dataset_with_features()
        } else {
            self.interaction_dataset()
        }
    }

    /// The hybrid's side information, from the graph: each product's category and every broader
    /// concept (asserted, added by an engineer, or inferred), its brand, the shop's own
    /// category, attribute values, and for each aspect its reviews mention at least twice, the
    /// sentiment most of those mentions carry.
    fn add_item_features(&self, ds: &mut Dataset) -> Result<(), EngineError> {
        let items = ds.items.clone();
        let facets = self.facets(&items)?;
        for (i, item) in items.iter().enumerate() {
            if let Some(c) = &facets.category[i] {
                let mut seen = std::collections::HashSet::new();
                let mut stack = vec![c.clone()];
                while let Some(x) = stack.pop() {
                    if seen.insert(x.clone()) {
                        stack.extend(facets.parent.get(&x).into_iter().flatten().cloned());
                        ds.add_feature(item, &format!("category={x}"), 1.0);
                    }
                }
            }
            if let Some(b) = &facets.brand[i] {
                ds.add_feature(item, &format!("brand={b}"), 1.0);
            }
        }
        let known: std::collections::HashSet<&str> = items.iter().map(String::as_str).collect();
        // (item, aspect) -> (best sentiment, its count, all mentions)
        let mut opinions: HashMap<(String, String), (String, usize, usize)> = HashMap::new();
        for row in self.internal("item-features", &[], &["id", "kind", "value"])? {
            if let (Some(id), Some(kind), Some(value)) = (lexical(&row[0]), lexical(&row[1]), lexical(&row[2]))
                && known.contains(id.as_str())
            {
                ds.add_feature(&id, &format!("{kind}={}", value.to_lowercase()), 1.0);
            }
        }
        for row in self.internal("item-opinions", &[], &["id", "aspect", "sentiment", "n"])? {
            let (Some(id), Some(aspect), Some(sentiment)) = (lexical(&row[0]), lexical(&row[1]), lexical(&row[2]))
            else {
                continue;
            };
            if !known.contains(id.as_str()) {
                continue;
            }
            let n = lexical(&row[3]).and_then(|n| n.parse().ok()).unwrap_or(0usize);
            let e = opinions.entry((id, aspect)).or_insert_with(|| (String::new(), 0, 0));
            e.2 += n;
            if n > e.1 {
                e.0 = sentiment.to_owned();
                e.1 = n;
            }
        }
        for ((id, aspect), (sentiment, _, total)) in opinions {
            if total >= 2 {
                ds.add_feature(&id, &format!("opinion={aspect} {sentiment}"), 1.0);
            }
        }
        Ok(())
    }

    /// Filter attributes of the given items, read from the graph.
    pub fn facets(&self, items: &[String]) -> Result<Facets, EngineError> {
        let ix: HashMap<&str, usize> = items.iter().enumerate().map(|(i, s)| (s.as_str(), i)).collect();
        let mut f = Facets::empty(items.len());
        for row in self.internal("item-facets", &[], &["id", "category", "brand", "price", "availability"])? {
            let Some(&i) = lexical(&row[0]).as_deref().and_then(|id| ix.get(id)) else { continue };
            f.category[i] = f.category[i].take().or_else(|| lexical(&row[1]));
            f.brand[i] = f.brand[i].take().or_else(|| lexical(&row[2]).map(|b| b.to_lowercase()));
            f.price[i] = f.price[i].or_else(|| lexical(&row[3]).and_then(|p| p.parse().ok()));
            f.in_stock[i] = f.in_stock[i].or_else(|| lexical(&row[4]).map(|a| a == vocab::SCHEMA_IN_STOCK));
        }
        for row in self.internal("taxonomy-edges", &[], &["child", "parent"])? {
            if let (Some(c), Some(p)) = (lexical(&row[0]), lexical(&row[1])) {
                f.parent.entry(c).or_default().push(p);
            }
        }
        Ok(f)
    }

    /// Places cold items, saves (on disk stores) and swaps a trained model in.
    pub fn install(&self, mut trained: Trained) -> Result<Meta, EngineError> {
        let facets = self.facets(&trained.items)?;
        let placed = recommend::place_cold_items(&mut trained, &facets);
        if placed > 0 {
            log::info!("placed {placed} items without interactions by their category or brand");
        }
        if let Some(dir) = self.models_dir() {
            trained.save(&dir)?;
            let pruned = recommend::prune_versions(&dir, self.config.keep_models);
            if pruned > 0 {
                log::info!("deleted {pruned} old model versions (keep_models = {})", self.config.keep_models);
            }
        }
        let meta = trained.meta.clone();
        self.rec.swap(trained, facets);
        Ok(meta)
    }

    /// Trains on the graph's interactions and installs the model.
    pub fn train(
        &self,
        alg: &Algorithm,
        reason: Option<String>,
        on_iteration: impl FnMut(usize, &crate::cf::als::AlsModel),
    ) -> Result<Meta, EngineError> {
        let ds = self.dataset_for(alg)?;
        if ds.events.is_empty() {
            return Err(RecommendError::Input("the graph holds no interactions to train on".into()).into());
        }
        self.install(Trained::train(&ds, alg, reason, on_iteration)?)
    }

    /// Top k for a shop user id. A user without history gets popular items, unless
    /// `cold_start` is false: then it is an unknown user.
    pub fn recommend(
        &self,
        raw_user: &str,
        k: usize,
        filter: &Filter,
        exclude_seen: bool,
        cold_start: bool,
    ) -> Result<RecommendResponse, EngineError> {
        let live = self.rec.current()?;
        let key = self.user_key(raw_user);
        if !cold_start && !live.knows_user(&key) {
            return Err(RecommendError::UnknownUser(raw_user.into()).into());
        }
        let (items, source) = live.recommend(&key, k, filter, exclude_seen)?;
        Ok(RecommendResponse {
            model_version: live.trained.meta.version.clone(),
            model: live.trained.model.name(),
            source,
            items,
        })
    }

    /// Items most like a product.
    pub fn similar(&self, item: &str, k: usize, filter: &Filter) -> Result<RecommendResponse, EngineError> {
        let live = self.rec.current()?;
        let item = self.canonical_item(item)?;
        let items = live.similar(&item, k, filter)?;
        Ok(RecommendResponse {
            model_version: live.trained.meta.version.clone(),
            model: live.trained.model.name(),
            source: Source::Model,
            items,
        })
    }

    /// Why `item` is recommended to a user: model contributions of past items, each tied to the
    /// item by graph paths.
    pub fn explain(&self, raw_user: &str, item: &str) -> Result<Explanation, EngineError> {
        let live = self.rec.current()?;
        let key = self.user_key(raw_user);
        if !live.knows_user(&key) {
            return Err(RecommendError::UnknownUser(raw_user.into()).into());
        }
        let item = &self.canonical_item(item)?;
        let score = live.score(&key, item)?;
        let (parts, total) = live.contributions(&key, item)?;
        let b = self.minter.product(item);
        let mut contributions = Vec::new();
        for (past, c) in parts.into_iter().take(10) {
            let a = self.minter.product(&past);
            let rows = self.internal(
                "explain-paths",
                &[("a".into(), a.into()), ("b".into(), b.clone().into())],
                &["kind", "via", "label"],
            )?;
            let paths = rows
                .iter()
                .filter_map(|r| Some(Path { kind: lexical(&r[0])?, via: lexical(&r[1])?, label: lexical(&r[2]) }))
                .collect();
            contributions.push(Contribution {
                item: past,
                contribution: c,
                share: if total.abs() > 1e-12 { c / total } else { 0.0 },
                paths,
            });
        }
        let features = live.feature_contributions(&key, item)?.map(|(parts, shoppers)| FeatureParts {
            parts: parts.into_iter().take(10).map(|(feature, part)| FeaturePart { feature, part }).collect(),
            shoppers,
        });
        let rdf = self.explanation_turtle(&key, item, score, &contributions, features.as_ref());
        Ok(Explanation { item: item.into(), score, model: live.trained.model.name(), contributions, features, rdf })
    }

    fn explanation_turtle(
        &self,
        user_key: &str,
        item: &str,
        score: f32,
        parts: &[Contribution],
        features: Option<&FeatureParts>,
    ) -> String {
        let mut t = format!(
            "@prefix sg: <{}> .\n\n[] a sg:Explanation ;\n  sg:forUser <{}> ;\n  sg:explains <{}> ;\n  sg:score {} ",
            vocab::SG,
            self.minter.user(user_key).as_str(),
            self.minter.product(item).as_str(),
            Literal::from(f64::from(score))
        );
        for c in parts {
            t.push_str(&format!(
                ";\n  sg:contribution [ sg:contributor <{}> ; sg:share {} ",
                self.minter.product(&c.item).as_str(),
                Literal::from(f64::from(c.share))
            ));
            for p in &c.paths {
                t.push_str(&format!(
                    "; sg:path [ sg:pathKind {} ; sg:via <{}> ] ",
                    Literal::from(p.kind.as_str()),
                    p.via
                ));
            }
            t.push(']');
        }
        for p in features.map_or(&[][..], |f| f.parts.as_slice()) {
            t.push_str(&format!(
                ";\n  sg:featureContribution [ sg:feature {} ; sg:share {} ] ",
                Literal::from(p.feature.as_str()),
                Literal::from(f64::from(if score.abs() > 1e-12 { p.part / score } else { 0.0 }))
            ));
        }
        t.push_str(" .\n");
        t
    }

    /// Stores posted events (JSON Lines, a JSON object, or an array) in the graph, all or none,
    /// then refolds each user so their next recommendation reflects them.
    pub fn post_events(self: &Arc<Self>, body: &[u8]) -> Result<EventsAccepted, EngineError> {
        let events: Vec<PostedEvent> = super::json_records(body, "event")?;
        if events.is_empty() {
            return Err(EngineError::Input("no events in the body".into()));
        }
        let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string();
        let mut lines = String::new();
        for (n, e) in events.iter().enumerate() {
            let p = self.minter.product(&e.item);
            if !self.store.contains(&Quad::new(
                p,
                NamedNode::new_unchecked(vocab::RDF_TYPE),
                NamedNode::new_unchecked(vocab::PRODUCT),
                crate::store::model::GraphName::DefaultGraph,
            ))? {
                return Err(RecommendError::UnknownItem(format!("{} (event {})", e.item, n + 1)).into());
            }
            // Events without a time get the server's, so two identical purchases stay two.
            let ts = e.timestamp.clone().unwrap_or_else(|| now.clone());
            lines.push_str(&serde_json::json!({"user": e.user, "item": e.item, "event": e.event, "timestamp": ts, "weight": e.weight, "value": e.value}).to_string());
            lines.push('\n');
        }
        let cleaned = self.clean_events(&lines, "POST /events")?;
        if !cleaned.rejects.is_empty() {
            let why: Vec<String> = cleaned.rejects.iter().map(|r| format!("event {}: {}", r.line, r.reason)).collect();
            return Err(EngineError::Input(format!("nothing stored: {}", why.join("; "))));
        }
        self.store.insert(&cleaned.quads)?;
        let mut per_user: HashMap<String, Vec<(String, f32)>> = HashMap::new();
        // Read once for the whole post: merged products fold into the item that stands for them.
        let canonical = self.canonical_items()?;
        for e in &events {
            let ev = clean::parse_event(&e.event).unwrap_or("view");
            let w = e.weight.unwrap_or_else(|| ingest::default_weight(ev)) as f32;
            per_user
                .entry(self.user_key(&e.user))
                .or_default()
                .push((canonical.get(&e.item).unwrap_or(&e.item).clone(), w));
        }
        let mut retrain_started = false;
        let users_updated = per_user.len();
        if let Ok(live) = self.rec.current() {
            for (u, evs) in &per_user {
                live.add_events(u, evs);
            }
            if live.pending_events() >= self.config.retrain_after_events
                && !self.retraining.swap(true, Ordering::SeqCst)
            {
                retrain_started = true;
                let engine = Arc::clone(self);
                let alg = live.trained.meta.algorithm.clone();
                std::thread::spawn(move || {
                    match engine.train(&alg, Some("background retrain after new events".into()), |_, _| {}) {
                        Ok(m) => log::info!("background retrain installed model {}", m.version),
                        Err(e) => log::error!("background retrain failed: {e}"),
                    }
                    engine.retraining.store(false, Ordering::SeqCst);
                });
            }
        }
        Ok(EventsAccepted { accepted: events.len(), users_updated, retrain_started })
    }
}

impl Engine {
    /// Adds SYNTHETIC shoppers (see [`crate::recommend::simulate`]) to the graph; returns the
    /// events written and the tastes planted.
    pub fn simulate(
        &self,
        users: usize,
        seed: u64,
    ) -> Result<(usize, Vec<crate::recommend::simulate::Taste>), EngineError> {
        use crate::recommend::simulate::{SimItem, simulate};
        let items: Vec<SimItem> = self
            .internal("item-ratings", &[], &["id", "category", "mean", "reviews"])?
            .iter()
            .filter_map(|r| {
                Some(SimItem {
                    id: lexical(&r[0])?,
                    category: lexical(&r[1]),
                    quality: lexical(&r[2]).and_then(|m| m.parse().ok()).unwrap_or(3.0),
                    reviews: lexical(&r[3]).and_then(|m| m.parse().ok()).unwrap_or(0),
                })
            })
            .collect();
        if items.is_empty() {
            return Err(EngineError::Input("the graph has no products to simulate shoppers on".into()));
        }
        let (events, tastes) = simulate(&items, users, seed);
        let mut lines = String::new();
        for e in &events {
            lines.push_str(&serde_json::to_string(e).map_err(|e| EngineError::Input(e.to_string()))?);
            lines.push('\n');
        }
        let cleaned = self.clean_events(&lines, "simulated-shoppers")?;
        let kept = cleaned.report.rows_kept as usize;
        self.store.bulk_insert(cleaned.quads)?;
        Ok((kept, tastes))
    }
}
