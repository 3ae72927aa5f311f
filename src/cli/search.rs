//! `shopgraph search`: one query (results, how it was read, facets), a rebuild of the index,
//! or an evaluation over a labelled query set (nDCG@10, recall@100, MRR per retrieval mode).

use crate::engine::Engine;
use crate::search::{Mode, SearchRequest};
use anyhow::{Context, Result, bail};
use std::collections::HashMap;
use std::path::PathBuf;

/// Arguments of `shopgraph search`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// What to search for.
    pub query: Option<String>,
    /// Results to show.
    #[arg(long, default_value_t = 10)]
    pub k: usize,
    /// Category filter (IRI or Google taxonomy id).
    #[arg(long)]
    pub category: Vec<String>,
    /// Brand filter (name or IRI).
    #[arg(long)]
    pub brand: Vec<String>,
    /// Lowest price.
    #[arg(long)]
    pub min_price: Option<f64>,
    /// Highest price.
    #[arg(long)]
    pub max_price: Option<f64>,
    /// Re-rank for this shopper (raw id, pseudonymised like every user id).
    #[arg(long)]
    pub user: Option<String>,
    /// Weight of the shopper's recommender scores (0 to 1).
    #[arg(long, default_value_t = 0.3)]
    pub personal_weight: f32,
    /// Retrieval paths: full, hybrid, keyword, semantic.
    #[arg(long, default_value = "full")]
    pub mode: String,
    /// Print the whole response as JSON (facets included).
    #[arg(long)]
    pub json: bool,
    /// Rewrite the index from the graph.
    #[arg(long)]
    pub rebuild: bool,
    /// Evaluate on a query set: a TSV of `qid, query, kind, split` beside its judgements
    /// (`<stem>.qrels.tsv`: `qid, product id, grade`).
    #[arg(long)]
    pub eval: Option<PathBuf>,
    /// Only queries of this split (`dev` or `test`) in the evaluation.
    #[arg(long)]
    pub split: Option<String>,
    /// Write the evaluation as JSON here.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Runs the command.
pub fn run(engine: &Engine, a: Args) -> Result<()> {
    if a.rebuild {
        let n = engine.rebuild_search(true)?;
        eprintln!("search index rebuilt: {n} products");
    }
    if let Some(file) = &a.eval {
        return evaluate(engine, file, a.split.as_deref(), a.out.as_ref());
    }
    let Some(q) = a.query.clone() else {
        if a.rebuild {
            return Ok(());
        }
        bail!("give a query, --rebuild or --eval FILE");
    };
    let req = SearchRequest {
        q,
        k: a.k,
        categories: a.category.iter().map(|c| crate::ontology::category_iri(c)).collect(),
        brands: a.brand.clone(),
        min_price: a.min_price,
        max_price: a.max_price,
        mode: a.mode.parse().map_err(anyhow::Error::msg)?,
        personal_weight: if a.user.is_some() { a.personal_weight } else { 0.0 },
        facets: a.json,
        ..Default::default()
    };
    let r = engine.search(&req, a.user.as_deref())?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&r)?);
        return Ok(());
    }
    eprintln!("read as: {}", serde_json::to_string(&r.interpretation)?);
    println!("{} match(es)", r.total);
    for (i, h) in r.results.iter().enumerate() {
        let price = h.price.map(|p| format!("  {p:.2}")).unwrap_or_default();
        println!("{:>3}. {:<40} {:>8.4}{price}  {}", i + 1, h.name, h.score, serde_json::to_string(&h.why)?);
    }
    Ok(())
}

/// A labelled query.
struct Labelled {
    qid: String,
    query: String,
    kind: String,
    grades: HashMap<String, u8>,
}

fn read_set(file: &PathBuf, split: Option<&str>) -> Result<Vec<Labelled>> {
    let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let qrels_path = file.with_extension("qrels.tsv");
    let qrels = std::fs::read_to_string(&qrels_path).with_context(|| format!("reading {}", qrels_path.display()))?;
    let mut grades: HashMap<String, HashMap<String, u8>> = HashMap::new();
    for line in qrels.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()).skip(1) {
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() >= 3 {
            grades.entry(f[0].into()).or_default().insert(f[1].into(), f[2].trim().parse().unwrap_or(0));
        }
    }
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()).skip(1) {
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() < 4 || split.is_some_and(|s| s != f[3].trim()) {
            continue;
        }
        out.push(Labelled {
            qid: f[0].into(),
            query: f[1].into(),
            kind: f[2].into(),
            grades: grades.remove(f[0]).unwrap_or_default(),
        });
    }
    Ok(out)
}

/// nDCG@10 (gains 2^grade - 1), recall@100 of grade >= 1, reciprocal rank of the first grade
/// >= 2 (the first "relevant" product).
pub fn metrics(ranked: &[String], grades: &HashMap<String, u8>) -> (f64, f64, f64) {
    let gain = |g: u8| f64::from((1u32 << g) - 1);
    let dcg: f64 = ranked
        .iter()
        .take(10)
        .enumerate()
        .map(|(i, p)| gain(grades.get(p).copied().unwrap_or(0)) / ((i + 2) as f64).log2())
        .sum();
    let mut ideal: Vec<u8> = grades.values().copied().collect();
    ideal.sort_unstable_by(|a, b| b.cmp(a));
    let idcg: f64 = ideal.iter().take(10).enumerate().map(|(i, g)| gain(*g) / ((i + 2) as f64).log2()).sum();
    let relevant = grades.values().filter(|g| **g >= 1).count();
    let found = ranked.iter().take(100).filter(|p| grades.get(*p).is_some_and(|g| *g >= 1)).count();
    let rr = ranked.iter().position(|p| grades.get(p).is_some_and(|g| *g >= 2)).map_or(0.0, |i| 1.0 / (i + 1) as f64);
    (if idcg > 0.0 { dcg / idcg } else { 0.0 }, if relevant > 0 { found as f64 / relevant as f64 } else { 0.0 }, rr)
}

fn evaluate(engine: &Engine, file: &PathBuf, split: Option<&str>, out: Option<&PathBuf>) -> Result<()> {
    let set = read_set(file, split)?;
    if set.is_empty() {
        bail!("no queries in {}", file.display());
    }
    let mut report = serde_json::Map::new();
    println!("{:<10} {:>8} {:>10} {:>8}   ({} queries)", "mode", "nDCG@10", "recall@100", "MRR", set.len());
    for (name, m) in
        [("keyword", Mode::Keyword), ("semantic", Mode::Semantic), ("hybrid", Mode::Hybrid), ("full", Mode::Full)]
    {
        let mut sums = (0.0, 0.0, 0.0);
        let mut per_kind: HashMap<&str, (f64, usize)> = HashMap::new();
        let mut per_query = serde_json::Map::new();
        for l in &set {
            let req = SearchRequest { q: l.query.clone(), k: 100, mode: m, ..Default::default() };
            let ranked: Vec<String> = match engine.search(&req, None) {
                Ok(r) => r.results.into_iter().map(|h| h.id).collect(),
                Err(e) => {
                    eprintln!("{}: {e}", l.qid);
                    Vec::new()
                }
            };
            let (n, r, rr) = metrics(&ranked, &l.grades);
            sums = (sums.0 + n, sums.1 + r, sums.2 + rr);
            let e = per_kind.entry(&l.kind).or_default();
            *e = (e.0 + n, e.1 + 1);
            per_query.insert(l.qid.clone(), serde_json::json!({"ndcg10": n, "recall100": r, "mrr": rr}));
        }
        let n = set.len() as f64;
        println!("{name:<10} {:>8.4} {:>10.4} {:>8.4}", sums.0 / n, sums.1 / n, sums.2 / n);
        let kinds: serde_json::Map<String, serde_json::Value> =
            per_kind.into_iter().map(|(k, (s, c))| (k.to_owned(), serde_json::json!(s / c as f64))).collect();
        report.insert(
            name.into(),
            serde_json::json!({"ndcg10": sums.0 / n, "recall100": sums.1 / n, "mrr": sums.2 / n, "ndcg10_by_kind": kinds, "queries": per_query}),
        );
    }
    if let Some(o) = out {
        std::fs::write(o, serde_json::to_string_pretty(&report)?)?;
    }
    Ok(())
}
