//! The keyword index: tantivy (used only here) over product names, brands, category labels,
//! attribute values, descriptions and review text, BM25 with English stemming, stop words,
//! per-field weights, typo tolerance (Levenshtein automata for words the index does not hold)
//! and query-time synonyms.

use super::{ProductDoc, SearchError};
use std::path::Path;
use std::sync::Mutex;
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::directory::MmapDirectory;
use tantivy::query::{BooleanQuery, BoostQuery, DisjunctionMaxQuery, FuzzyTermQuery, Occur, Query, TermQuery};
use tantivy::schema::{FAST, Field, INDEXED, IndexRecordOption, STORED, Schema, TextFieldIndexing, TextOptions, Value};
use tantivy::tokenizer::{
    Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer, StopWordFilter, TextAnalyzer,
};
use tantivy::{
    DocId, Index, IndexReader, IndexSettings, IndexWriter, ReloadPolicy, Score, SegmentReader, TantivyDocument, Term,
};

/// The analyzer every text field and every query goes through.
const ANALYZER: &str = "sg_en";
/// Bumped when the schema or the analyzer changes: an index of another version is rebuilt.
pub const SCHEMA_VERSION: &str = "1";

/// Text fields with their BM25 weight: a word in the name says more than one in a review.
const FIELDS: [(&str, f32); 6] =
    [("name", 3.0), ("brand", 2.0), ("category", 2.0), ("attributes", 1.5), ("description", 1.0), ("reviews", 0.6)];

/// A keyword query: the analysed words of the shopper's text and synonyms with their weight.
#[derive(Debug, Clone)]
pub struct TextQuery {
    /// Free text as typed (analysed here).
    pub text: String,
    /// Extra phrases (synonyms of what the text names), each with its weight.
    pub expansions: Vec<(String, f32)>,
    /// How much the fields other than the best one add (0: the best field only, 1: the sum).
    pub tie_breaker: f32,
    /// Weight of review text (the other fields keep theirs).
    pub review_weight: f32,
}

impl Default for TextQuery {
    fn default() -> Self {
        Self { text: String::new(), expansions: Vec::new(), tie_breaker: 0.5, review_weight: FIELDS[5].1 }
    }
}

/// Product keys with their BM25 score.
pub type Hits = Vec<(u64, f32)>;

/// The keyword index and its one writer.
pub struct TextIndex {
    reader: IndexReader,
    writer: Mutex<IndexWriter<TantivyDocument>>,
    /// The folder the index lives in (none in memory), kept to prune its map cache.
    mmap: Option<MmapDirectory>,
    /// Commits since the index was opened.
    commits: std::sync::atomic::AtomicU64,
    key: Field,
    name_stored: Field,
    text: Vec<(Field, f32)>,
}

impl std::fmt::Debug for TextIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextIndex").finish_non_exhaustive()
    }
}

fn schema() -> Schema {
    let mut b = Schema::builder();
    b.add_u64_field("key", INDEXED | FAST);
    b.add_text_field("display", STORED);
    let opts = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default().set_tokenizer(ANALYZER).set_index_option(IndexRecordOption::WithFreqsAndPositions),
    );
    for (name, _) in FIELDS {
        b.add_text_field(name, opts.clone());
    }
    b.build()
}

/// Built once: the English stop-word set and stemmer are not remade for every query word.
static BUILT: std::sync::LazyLock<TextAnalyzer> = std::sync::LazyLock::new(build_analyzer);

fn analyzer() -> TextAnalyzer {
    BUILT.clone()
}

fn build_analyzer() -> TextAnalyzer {
    let stop = StopWordFilter::new(Language::English).unwrap_or_else(|| StopWordFilter::remove(Vec::new()));
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .filter(stop)
        .filter(Stemmer::new(Language::English))
        .build()
}

/// The analysed words of `text` (lower case, stop words out, stemmed).
pub fn words(text: &str) -> Vec<String> {
    let mut a = analyzer();
    let mut stream = a.token_stream(text);
    let mut out = Vec::new();
    while let Some(t) = stream.next() {
        out.push(t.text.clone());
    }
    out
}

impl TextIndex {
    /// Opens the index in `dir` (created when missing or of another schema version: the flag
    /// says it is empty and must be filled), or one in memory.
    pub fn open(dir: Option<&Path>) -> Result<(Self, bool), SearchError> {
        let (index, fresh, mmap) = match dir {
            None => (Index::create_in_ram(schema()), true, None),
            Some(dir) => {
                let marker = dir.join("schema-version");
                let same = std::fs::read_to_string(&marker).is_ok_and(|v| v.trim() == SCHEMA_VERSION);
                let opened = if same {
                    MmapDirectory::open(dir).ok().and_then(|m| Index::open(m.clone()).ok().map(|ix| (ix, m)))
                } else {
                    None
                };
                match opened {
                    Some((ix, m)) => (ix, false, Some(m)),
                    None => {
                        if dir.exists() {
                            std::fs::remove_dir_all(dir).map_err(|e| SearchError::io(dir, e))?;
                        }
                        std::fs::create_dir_all(dir).map_err(|e| SearchError::io(dir, e))?;
                        let m = MmapDirectory::open(dir).map_err(tantivy::TantivyError::from)?;
                        let ix = Index::create(m.clone(), schema(), IndexSettings::default())?;
                        std::fs::write(&marker, SCHEMA_VERSION).map_err(|e| SearchError::io(&marker, e))?;
                        (ix, true, Some(m))
                    }
                }
            }
        };
        index.tokenizers().register(ANALYZER, analyzer());
        let reader = index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into()?;
        let writer = index.writer_with_num_threads(1, 40_000_000)?;
        let s = index.schema();
        let field = |n: &str| s.get_field(n).map_err(SearchError::from);
        let text = FIELDS.iter().map(|(n, w)| Ok((field(n)?, *w))).collect::<Result<Vec<_>, SearchError>>()?;
        Ok((
            Self {
                key: field("key")?,
                name_stored: field("display")?,
                text,
                reader,
                writer: Mutex::new(writer),
                mmap,
                commits: Default::default(),
            },
            fresh,
        ))
    }

    /// Documents in the index.
    pub fn len(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn document(&self, d: &ProductDoc) -> TantivyDocument {
        let mut doc = TantivyDocument::default();
        doc.add_u64(self.key, d.key);
        doc.add_text(self.name_stored, d.display_name());
        let values: [Vec<&str>; 6] = [
            d.name.iter().map(String::as_str).collect(),
            d.brand.iter().map(|b| b.1.as_str()).collect(),
            d.category_text.iter().map(String::as_str).collect(),
            d.attribute_labels.iter().map(String::as_str).collect(),
            d.description.iter().map(String::as_str).collect(),
            d.review_text.iter().map(String::as_str).collect(),
        ];
        for ((field, _), vals) in self.text.iter().zip(values) {
            for v in vals {
                doc.add_text(*field, v);
            }
        }
        doc
    }

    /// Replaces everything with `docs` (one commit).
    pub fn replace_all(&self, docs: &[ProductDoc]) -> Result<(), SearchError> {
        self.write(docs, |w| w.delete_all_documents().map(drop))
    }

    /// Replaces the documents of `docs` and removes those of `gone` (one commit).
    pub fn update(&self, docs: &[ProductDoc], gone: &[u64]) -> Result<(), SearchError> {
        self.write(docs, |w| {
            for key in gone.iter().chain(docs.iter().map(|d| &d.key)) {
                w.delete_term(Term::from_field_u64(self.key, *key));
            }
            Ok(())
        })
    }

    /// Deletes (`first`), adds `docs`, commits, and lets searches see it.
    fn write(
        &self,
        docs: &[ProductDoc],
        first: impl FnOnce(&mut IndexWriter<TantivyDocument>) -> tantivy::Result<()>,
    ) -> Result<(), SearchError> {
        let mut w = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        first(&mut w)?;
        for d in docs {
            w.add_document(self.document(d))?;
        }
        w.commit()?;
        drop(w);
        self.reader.reload()?;
        self.commits.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if let Some(m) = &self.mmap {
            // tantivy's map cache keeps an entry (path and a weak handle) for every file it ever
            // opened, deleted ones included, and only this call drops them: without it each
            // commit's and merge's files stay listed for the life of the process, a slow climb
            // under writes (benches/REPORT.md section 9).
            let _ = m.get_cache_info();
        }
        Ok(())
    }

    /// Commits since the index was opened.
    pub fn commits(&self) -> u64 {
        self.commits.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Products whose text holds a word (the field that holds it most); a word the analyzer
    /// drops (a stop word) counts as everywhere.
    pub fn doc_freq(&self, raw: &str) -> u64 {
        words(raw).first().map_or(u64::MAX, |w| self.field_freq(&self.reader.searcher(), w))
    }

    /// The largest document frequency of an analysed word over the text fields.
    fn field_freq(&self, searcher: &tantivy::Searcher, word: &str) -> u64 {
        self.text
            .iter()
            .map(|(f, _)| searcher.doc_freq(&Term::from_field_text(*f, word)).unwrap_or(0))
            .max()
            .unwrap_or(0)
    }

    /// Every matching document with its BM25 score, and the words that were read as typos of
    /// indexed words (matched by edit distance).
    pub fn search(&self, q: &TextQuery) -> Result<(Hits, Vec<String>), SearchError> {
        let searcher = self.reader.searcher();
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        let mut fuzzy = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let phrases =
            std::iter::once((q.text.as_str(), 1.0f32)).chain(q.expansions.iter().map(|(t, w)| (t.as_str(), *w)));
        for (text, weight) in phrases {
            for word in words(text) {
                if !seen.insert(word.clone()) {
                    continue;
                }
                let typo = self.field_freq(&searcher, &word) == 0 && word.chars().count() >= 4;
                if typo {
                    fuzzy.push(word.clone());
                }
                let per_field: Vec<Box<dyn Query>> = self
                    .text
                    .iter()
                    .enumerate()
                    .map(|(i, (f, w))| {
                        let w = if i == 5 { &q.review_weight } else { w };
                        let term = Term::from_field_text(*f, &word);
                        let inner: Box<dyn Query> = if typo {
                            let d = if word.chars().count() >= 8 { 2 } else { 1 };
                            Box::new(FuzzyTermQuery::new(term, d, true))
                        } else {
                            Box::new(TermQuery::new(term, IndexRecordOption::WithFreqs))
                        };
                        Box::new(BoostQuery::new(inner, *w * weight)) as Box<dyn Query>
                    })
                    .collect();
                clauses
                    .push((Occur::Should, Box::new(DisjunctionMaxQuery::with_tie_breaker(per_field, q.tie_breaker))));
            }
        }
        if clauses.is_empty() {
            return Ok((Vec::new(), fuzzy));
        }
        let query = BooleanQuery::new(clauses);
        let hits = searcher.search(&query, &AllScores)?;
        Ok((hits, fuzzy))
    }

    /// Every document's key (to check the index against the catalogue).
    pub fn keys(&self) -> Result<Vec<u64>, SearchError> {
        let searcher = self.reader.searcher();
        Ok(searcher.search(&tantivy::query::AllQuery, &AllScores)?.into_iter().map(|(k, _)| k).collect())
    }

    /// The stored display name of a key's document (tests).
    pub fn display(&self, key: u64) -> Result<Option<String>, SearchError> {
        let searcher = self.reader.searcher();
        let q = TermQuery::new(Term::from_field_u64(self.key, key), IndexRecordOption::Basic);
        let top = searcher.search(&q, &tantivy::collector::TopDocs::with_limit(1).order_by_score())?;
        let Some((_, addr)) = top.first() else { return Ok(None) };
        let doc: TantivyDocument = searcher.doc(*addr)?;
        Ok(doc.get_first(self.name_stored).and_then(|v| v.as_str()).map(str::to_owned))
    }
}

/// Collects every match (key from the fast field, score): facets count the whole match set.
struct AllScores;

struct SegmentScores {
    keys: tantivy::columnar::Column<u64>,
    out: Vec<(u64, f32)>,
}

impl Collector for AllScores {
    type Fruit = Vec<(u64, f32)>;
    type Child = SegmentScores;

    fn for_segment(&self, _ord: u32, segment: &SegmentReader) -> tantivy::Result<SegmentScores> {
        Ok(SegmentScores { keys: segment.fast_fields().u64("key")?, out: Vec::new() })
    }

    fn requires_scoring(&self) -> bool {
        true
    }

    fn merge_fruits(&self, parts: Vec<Vec<(u64, f32)>>) -> tantivy::Result<Vec<(u64, f32)>> {
        Ok(parts.into_iter().flatten().collect())
    }
}

impl SegmentCollector for SegmentScores {
    type Fruit = Vec<(u64, f32)>;

    fn collect(&mut self, doc: DocId, score: Score) {
        if let Some(k) = self.keys.first(doc) {
            self.out.push((k, score));
        }
    }

    fn harvest(self) -> Vec<(u64, f32)> {
        self.out
    }
}
