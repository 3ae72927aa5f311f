//! Knowledge fusion: duplicate brands and products from different sources are found (same
//! GTIN; same normalised name, and for products the same brand), proposed as `owl:sameAs`
//! candidates in the review queue, and once accepted (a link in the fusion graph) answered as
//! one entity: reasoning copies each one's facts to the other (queries with `infer=true`), and
//! the recommender trains, serves and explains them as one item (the smallest IRI of the group
//! stands for it).

use super::rec::lexical;
use super::{Engine, EngineError};
use crate::ontology::{product_id_from_iri, vocab};
use crate::store::model::{GraphName, Literal, NamedNode, Quad, Term};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use unicode_normalization::UnicodeNormalization;

fn nn(s: &str) -> NamedNode {
    NamedNode::new_unchecked(s)
}

/// What a search for duplicates proposed.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct FusionReport {
    /// Brand pairs proposed.
    pub brands: usize,
    /// Product pairs proposed.
    pub products: usize,
    /// Pairs found again but already linked, decided or waiting.
    pub known: usize,
    /// Products compared by their text embeddings (0 when extraction has not embedded them, or
    /// when there are more than [`MAX_EMBEDDED`] and the exact comparison would be too slow).
    pub embedded_compared: usize,
}

/// Cosine similarity of product text embeddings from which two products are proposed.
pub const NEAR_IDENTICAL: f32 = 0.95;
/// Above this many embedded products the all-pairs comparison is skipped (and said so).
pub const MAX_EMBEDDED: usize = 5_000;

/// Pairs of vectors (unit length) whose cosine is at least `threshold`, each once, most similar
/// first; `allowed` vetoes a pair.
pub fn similar_pairs(
    vectors: &[(String, &[f32])],
    threshold: f32,
    allowed: impl Fn(&str, &str) -> bool,
) -> Vec<(String, String, f32)> {
    let mut out = Vec::new();
    for (i, (a, va)) in vectors.iter().enumerate() {
        for (b, vb) in &vectors[i + 1..] {
            let cos: f32 = va.iter().zip(vb.iter()).map(|(x, y)| x * y).sum();
            if cos >= threshold && allowed(a, b) {
                out.push((a.clone(), b.clone(), cos));
            }
        }
    }
    out.sort_by(|x, y| y.2.total_cmp(&x.2).then_with(|| x.0.cmp(&y.0)));
    out
}

/// Words a brand or product name carries that do not tell it apart.
const NOISE: [&str; 10] = ["inc", "llc", "ltd", "co", "corp", "company", "gmbh", "the", "and", "by"];

/// A name reduced to what identifies it: compatibility-decomposed, accents and punctuation
/// dropped, lower case, legal-form words dropped.
pub fn normalise(name: &str) -> String {
    let folded: String = name
        .nfkd()
        .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
        .map(|c| if c.is_alphanumeric() { c.to_ascii_lowercase() } else { ' ' })
        .collect();
    folded.split_whitespace().filter(|w| !NOISE.contains(w)).collect::<Vec<_>>().join(" ")
}

/// The groups of a union-find over pairs, each sorted (smallest first).
pub(super) fn groups(pairs: &[(String, String)]) -> Vec<Vec<String>> {
    let mut parent: HashMap<String, String> = HashMap::new();
    fn find(parent: &mut HashMap<String, String>, x: &str) -> String {
        let p = parent.get(x).cloned().unwrap_or_else(|| x.to_owned());
        if p == x {
            return p;
        }
        let root = find(parent, &p);
        parent.insert(x.to_owned(), root.clone());
        root
    }
    for (a, b) in pairs {
        let (ra, rb) = (find(&mut parent, a), find(&mut parent, b));
        if ra != rb {
            let (lo, hi) = if ra < rb { (ra, rb) } else { (rb, ra) };
            parent.insert(hi, lo);
        }
    }
    let keys: Vec<String> = parent.keys().cloned().collect();
    let mut by: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for k in keys {
        let r = find(&mut parent, &k);
        by.entry(r.clone()).or_default().insert(k);
        by.entry(r.clone()).or_default().insert(r);
    }
    by.into_values().map(|s| s.into_iter().collect()).collect()
}

impl Engine {
    /// `owl:sameAs` links between two nodes, in the fusion graph.
    fn same_as_pairs(&self) -> Result<Vec<(String, String)>, EngineError> {
        let g = GraphName::NamedNode(nn(vocab::GRAPH_FUSION));
        Ok(self
            .store
            .graph_quads_with_predicate(&g, &nn(vocab::OWL_SAME_AS))?
            .into_iter()
            .filter_map(|q| match (&q.subject, &q.object) {
                (crate::store::model::NamedOrBlankNode::NamedNode(a), Term::NamedNode(b)) => {
                    Some((a.as_str().to_owned(), b.as_str().to_owned()))
                }
                _ => None,
            })
            .collect())
    }

    /// Product id → the id that stands for its sameAs group (only ids in a group are listed).
    pub fn canonical_items(&self) -> Result<Arc<HashMap<String, String>>, EngineError> {
        let mut out = HashMap::new();
        for g in groups(&self.same_as_pairs()?) {
            let ids: Vec<String> =
                g.iter().filter_map(|iri| product_id_from_iri(&self.minter, iri).map(|c| c.into_owned())).collect();
            let Some(first) = ids.iter().min().cloned() else { continue };
            for id in ids {
                if id != first {
                    out.insert(id, first.clone());
                }
            }
        }
        Ok(Arc::new(out))
    }

    /// The id that stands for an item (itself unless it was merged into another).
    pub fn canonical_item(&self, id: &str) -> Result<String, EngineError> {
        Ok(self.canonical_items()?.get(id).cloned().unwrap_or_else(|| id.to_owned()))
    }

    /// Pairs already linked, waiting in the queue or decided (either way), unordered.
    fn known_pairs(&self) -> Result<HashSet<(String, String)>, EngineError> {
        let mut out: HashSet<(String, String)> = HashSet::new();
        let key = |a: String, b: String| if a < b { (a, b) } else { (b, a) };
        for g in groups(&self.same_as_pairs()?) {
            for a in &g {
                for b in &g {
                    if a < b {
                        out.insert((a.clone(), b.clone()));
                    }
                }
            }
        }
        for graph in [vocab::GRAPH_QUEUE, vocab::GRAPH_DECISIONS] {
            let g = GraphName::NamedNode(nn(graph));
            let about: HashMap<String, String> = self
                .store
                .graph_quads_with_predicate(&g, &nn(vocab::ABOUT))?
                .into_iter()
                .map(|q| (q.subject.to_string(), q.object.to_string()))
                .collect();
            for q in self.store.graph_quads_with_predicate(&g, &nn(vocab::CANDIDATE))? {
                if let (Some(a), Term::NamedNode(b)) = (about.get(&q.subject.to_string()), &q.object) {
                    out.insert(key(a.trim_matches(['<', '>']).to_owned(), b.as_str().to_owned()));
                }
            }
        }
        Ok(out)
    }

    /// Finds duplicate brands and products and puts each new pair in the review queue.
    pub fn propose_duplicates(&self) -> Result<FusionReport, EngineError> {
        let known = self.known_pairs()?;
        let mut report = FusionReport::default();
        let mut proposals: Vec<(String, String, &'static str, String, f64)> = Vec::new();
        let mut propose =
            |kind: &'static str, a: &str, b: &str, why: String, confidence: f64, report: &mut FusionReport| {
                let (a, b) = if a < b { (a, b) } else { (b, a) };
                if known.contains(&(a.to_owned(), b.to_owned())) {
                    report.known += 1;
                } else if !proposals.iter().any(|p| p.0 == a && p.1 == b) {
                    proposals.push((a.to_owned(), b.to_owned(), kind, why, confidence));
                }
            };
        // Brands by normalised name.
        let mut brands: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let mut brand_names: HashMap<String, String> = HashMap::new();
        for r in self.internal("brands", &[], &["brand", "name"])? {
            let (Some(b), Some(n)) = (lexical(&r[0]), lexical(&r[1])) else { continue };
            let key = normalise(&n);
            if !key.is_empty() {
                brands.entry(key).or_default().insert(b.clone());
            }
            brand_names.insert(b, n);
        }
        for (key, members) in &brands {
            let m: Vec<&String> = members.iter().collect();
            for b in &m[1..] {
                propose("brand", m[0], b, format!("same brand name once normalised: {key:?}"), 0.9, &mut report);
            }
        }
        // Brands that are (or will be) one: products compare by the group's first brand.
        let brand_of: HashMap<&String, &String> =
            brands.values().flat_map(|s| s.iter().map(move |b| (b, s.iter().next().expect("non-empty")))).collect();
        let mut brand_of_product: HashMap<String, String> = HashMap::new();
        let mut by_gtin: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let mut by_name: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
        for r in self.internal("fusion-products", &[], &["product", "name", "brand", "gtin"])? {
            let Some(p) = lexical(&r[0]) else { continue };
            // Every product gets an entry (no brand: empty), for the text comparison below.
            brand_of_product.entry(p.clone()).or_default();
            if let Some(g) = lexical(&r[3]) {
                let digits: String = g.chars().filter(char::is_ascii_digit).collect();
                // GTIN-8/12/13/14 compare as GTIN-14.
                if (8..=14).contains(&digits.len()) {
                    by_gtin.entry(format!("{digits:0>14}")).or_default().insert(p.clone());
                }
            }
            if let Some(b) = lexical(&r[2]) {
                brand_of_product.insert(p.clone(), brand_of.get(&b).map_or(b.clone(), |c| (*c).clone()));
            }
            if let (Some(n), Some(b)) = (lexical(&r[1]), lexical(&r[2])) {
                let brand = brand_of.get(&b).map_or(b.clone(), |c| (*c).clone());
                let key = normalise(&n);
                if !key.is_empty() {
                    by_name.entry((key, brand)).or_default().insert(p);
                }
            }
        }
        for (gtin, members) in &by_gtin {
            let m: Vec<&String> = members.iter().collect();
            for p in &m[1..] {
                propose("product", m[0], p, format!("same GTIN {gtin}"), 0.99, &mut report);
            }
        }
        for ((name, brand), members) in &by_name {
            let m: Vec<&String> = members.iter().collect();
            let brand = brand_names.get(brand).cloned().unwrap_or_else(|| brand.clone());
            for p in &m[1..] {
                propose("product", m[0], p, format!("same name {name:?} and brand {brand:?}"), 0.8, &mut report);
            }
        }
        // Near-identical text, from the embeddings extraction stored: products of one brand
        // (or without a brand on either side).
        if let Ok(index) = self.semantic.index() {
            let mut products: Vec<&String> = brand_of_product.keys().collect();
            products.sort();
            let vectors: Vec<(String, &[f32])> =
                products.iter().filter_map(|p| index.get(p).map(|v| ((*p).clone(), v))).collect();
            if vectors.len() <= MAX_EMBEDDED {
                report.embedded_compared = vectors.len();
                let same_brand = |a: &str, b: &str| {
                    let (x, y) = (&brand_of_product[a], &brand_of_product[b]);
                    x.is_empty() || y.is_empty() || x == y
                };
                for (a, b, cos) in similar_pairs(&vectors, NEAR_IDENTICAL, same_brand) {
                    propose(
                        "product",
                        &a,
                        &b,
                        format!("near-identical text (cosine {cos:.3})"),
                        f64::from(cos),
                        &mut report,
                    );
                }
            } else {
                log::warn!(
                    "{} embedded products: more than {MAX_EMBEDDED}, text similarity not compared",
                    vectors.len()
                );
            }
        }
        let queue = GraphName::NamedNode(nn(vocab::GRAPH_QUEUE));
        let mut quads = Vec::new();
        for (a, b, kind, why, confidence) in &proposals {
            let id = super::extract::hash_id(&["same-as", a, b]);
            let node = nn(&format!("{}candidate/{id}", self.minter().base()));
            let q = |p: &str, o: Term| Quad::new(node.clone(), nn(p), o, queue.clone());
            quads.push(q(vocab::RDF_TYPE, nn(vocab::SAME_AS_CANDIDATE).into()));
            quads.push(q(vocab::ABOUT, nn(a).into()));
            quads.push(q(vocab::CANDIDATE, nn(b).into()));
            quads.push(q(vocab::CONFIDENCE, Literal::from(*confidence).into()));
            quads.push(q(vocab::HELD_BECAUSE, Literal::from(why.as_str()).into()));
            quads.push(q(vocab::TARGET_GRAPH, nn(vocab::GRAPH_FUSION).into()));
            quads.push(q(vocab::SOURCE_TEXT, Literal::from(format!("{kind}: <{a}> = <{b}>")).into()));
            if *kind == "brand" {
                report.brands += 1;
            } else {
                report.products += 1;
            }
        }
        if !quads.is_empty() {
            self.store.insert(&quads)?;
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_normalise_to_what_identifies_them() {
        let cases = [
            ("Retailer Inc.", "retailer"),
            ("RÉTAILER, inc", "retailer"),
            ("The North-Face", "north face"),
            ("Levi Strauss & Co.", "levi strauss"),
            ("  Striped   Linen Shirt ", "striped linen shirt"),
            ("Inc.", ""),
        ];
        for (raw, want) in cases {
            assert_eq!(normalise(raw), want, "{raw}");
        }
    }

    #[test]
    fn similar_pairs_are_found_once_best_first_and_vetoed() {
        let unit = |v: [f32; 2]| {
            let n = (v[0] * v[0] + v[1] * v[1]).sqrt();
            vec![v[0] / n, v[1] / n]
        };
        let (a, b, c, d) = (unit([1.0, 0.0]), unit([1.0, 0.1]), unit([1.0, 0.02]), unit([0.0, 1.0]));
        let v: Vec<(String, &[f32])> =
            vec![("a".into(), &a[..]), ("b".into(), &b[..]), ("c".into(), &c[..]), ("d".into(), &d[..])];
        let got: Vec<(String, String)> =
            similar_pairs(&v, 0.99, |_, _| true).into_iter().map(|(x, y, _)| (x, y)).collect();
        assert_eq!(got, [("a".to_string(), "c".to_string()), ("b".into(), "c".into()), ("a".into(), "b".into())]);
        assert!(similar_pairs(&v, 0.99, |x, _| x != "a").iter().all(|p| p.0 != "a"));
    }

    #[test]
    fn pairs_group_transitively_with_the_smallest_first() {
        let p = |a: &str, b: &str| (a.to_owned(), b.to_owned());
        let g = groups(&[p("c", "b"), p("b", "a"), p("x", "y")]);
        assert_eq!(g, vec![vec!["a", "b", "c"], vec!["x", "y"]]);
    }
}
