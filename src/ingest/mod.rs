//! Tabular ingest: reads CSV/TSV/JSON Lines through a mapping, cleans every row, and returns the
//! quads and a cleaning report. It never writes to the store; the engine does.

pub mod clean;
pub mod mapping;
pub mod pseudonym;
pub mod scrub;

use crate::ontology::{self, Minter, vocab};
use clean::{Reject, normalise_text};
use mapping::{Entity, Mapping, SourceFormat};
use oxigraph::model::{GraphName, Literal, NamedNode, NamedOrBlankNode, Quad, Term};
use pseudonym::Pseudonymizer;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// Errors of tabular ingest. Bad rows are not errors: they are rejected and reported.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The file cannot be read at all.
    #[error("cannot read {path}: {message}")]
    Io { path: PathBuf, message: String },
    /// The mapping file is missing fields or is not valid TOML.
    #[error("mapping {path}: {message}")]
    Mapping { path: PathBuf, message: String },
    /// The header lacks a column the mapping names.
    #[error("{path}: column {column:?} named in the mapping is not in the header {header:?}")]
    MissingColumn { path: PathBuf, column: String, header: Vec<String> },
    /// The pseudonym key cannot be read or created.
    #[error("pseudonym key: {0}")]
    Key(String),
}

/// Counts per cleaning rule and what could not be mapped, for one file.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CleaningReport {
    /// The file.
    pub file: String,
    /// What its rows describe.
    pub entity: Option<Entity>,
    /// Data rows read (header excluded).
    pub rows_read: u64,
    /// Rows turned into triples.
    pub rows_kept: u64,
    /// Rows rejected (see the rejects file).
    pub rows_rejected: u64,
    /// Exact duplicate rows dropped.
    pub rows_duplicate: u64,
    /// How often each rule fired (`rejected:*`, `dropped:*`, `kept:*`, `fixed:*`).
    pub rules: BTreeMap<String, u64>,
    /// Source category names with no taxonomy concept, and how many rows had each.
    pub unmapped_categories: BTreeMap<String, u64>,
    /// Quads produced (before the store drops duplicates).
    pub quads: u64,
}

impl CleaningReport {
    fn bump(&mut self, rule: impl Into<String>) {
        *self.rules.entry(rule.into()).or_default() += 1;
    }

    /// A plain-text table for the terminal.
    pub fn render(&self) -> String {
        let mut s = format!(
            "{}: {} rows read, {} kept, {} rejected, {} exact duplicates dropped, {} quads\n",
            self.file, self.rows_read, self.rows_kept, self.rows_rejected, self.rows_duplicate, self.quads
        );
        for (rule, n) in &self.rules {
            s.push_str(&format!("  {rule:<44} {n:>8}\n"));
        }
        if !self.unmapped_categories.is_empty() {
            s.push_str("  categories with no taxonomy concept:\n");
            for (c, n) in &self.unmapped_categories {
                s.push_str(&format!("    {c:<42} {n:>8}\n"));
            }
        }
        s
    }
}

/// A rejected row, kept with its reason.
#[derive(Debug, Clone, Serialize)]
pub struct RejectedRow {
    /// 1-based line in the file (the header is line 1 for CSV).
    pub line: u64,
    /// Rule name.
    pub rule: String,
    /// Why.
    pub reason: String,
    /// The raw row as JSON.
    pub row: String,
}

/// The result of cleaning a file.
#[derive(Debug)]
pub struct Cleaned {
    /// Quads to write, all in the default graph.
    pub quads: Vec<Quad>,
    /// Counts.
    pub report: CleaningReport,
    /// Rows rejected, with reasons.
    pub rejects: Vec<RejectedRow>,
}

/// Fields people write freely, where personal data turns up and is scrubbed.
const FREE_TEXT: [&str; 3] = ["title", "text", "description"];

/// One source row: column name to raw value.
struct Row {
    values: HashMap<String, String>,
    line: u64,
}

fn nn(s: &str) -> NamedNode {
    NamedNode::new_unchecked(s)
}

/// Counts bytes read so a progress bar can follow a file.
struct Counting<R> {
    inner: R,
    read: u64,
    tick: Box<dyn FnMut(u64)>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        (self.tick)(self.read);
        Ok(n)
    }
}

/// Reads, cleans and converts one tabular file. `progress` receives bytes read so far.
pub fn clean_file(
    path: &Path,
    mapping: &Mapping,
    minter: &Minter,
    pseudo: &Pseudonymizer,
    progress: Box<dyn FnMut(u64)>,
) -> Result<Cleaned, IngestError> {
    let file = std::fs::File::open(path).map_err(|e| IngestError::Io { path: path.into(), message: e.to_string() })?;
    let format = mapping.format_for(path)?;
    clean_reader(file, path, format, mapping, minter, pseudo, progress)
}

/// Like [`clean_file`] over any reader (HTTP bodies); `path` only names the source in reports.
pub fn clean_reader(
    input: impl Read,
    path: &Path,
    format: SourceFormat,
    mapping: &Mapping,
    minter: &Minter,
    pseudo: &Pseudonymizer,
    progress: Box<dyn FnMut(u64)>,
) -> Result<Cleaned, IngestError> {
    let io = |e: std::io::Error| IngestError::Io { path: path.into(), message: e.to_string() };
    let reader = Counting { inner: input, read: 0, tick: progress };
    let mut cleaner = Cleaner::new(path, mapping, minter, pseudo);
    match format {
        SourceFormat::Csv | SourceFormat::Tsv => {
            let mut rdr = csv::ReaderBuilder::new()
                .delimiter(if format == SourceFormat::Tsv { b'\t' } else { b',' })
                .flexible(false)
                .from_reader(reader);
            let header: Vec<String> = rdr
                .headers()
                .map_err(|e| IngestError::Io { path: path.into(), message: e.to_string() })?
                .iter()
                .map(|h| h.trim().to_owned())
                .collect();
            cleaner.check_header(&header)?;
            let mut rec = csv::StringRecord::new();
            let mut line = 1u64;
            loop {
                match rdr.read_record(&mut rec) {
                    Ok(false) => break,
                    Ok(true) => {
                        line = rec.position().map_or(line + 1, |p| p.line());
                        let values = header.iter().cloned().zip(rec.iter().map(str::to_owned)).collect();
                        cleaner.row(Row { values, line });
                    }
                    Err(e) => {
                        line = e.position().map_or(line + 1, |p| p.line());
                        if matches!(e.kind(), csv::ErrorKind::Io(_)) {
                            return Err(IngestError::Io { path: path.into(), message: e.to_string() });
                        }
                        cleaner.reject_raw(line, Reject::Malformed(e.to_string()), String::new());
                    }
                }
            }
        }
        SourceFormat::Jsonl => {
            let mut br = BufReader::new(reader);
            let mut buf = Vec::new();
            let mut line = 0u64;
            loop {
                buf.clear();
                if br.read_until(b'\n', &mut buf).map_err(io)? == 0 {
                    break;
                }
                line += 1;
                let text = match std::str::from_utf8(&buf) {
                    Ok(t) => t.trim(),
                    Err(e) => {
                        cleaner.reject_raw(line, Reject::Malformed(format!("not UTF-8: {e}")), String::new());
                        continue;
                    }
                };
                if text.is_empty() {
                    continue;
                }
                match serde_json::from_str::<serde_json::Value>(text) {
                    Ok(serde_json::Value::Object(obj)) => {
                        let values = obj
                            .into_iter()
                            .filter_map(|(k, v)| {
                                let v = match v {
                                    serde_json::Value::Null => return None,
                                    serde_json::Value::String(s) => s,
                                    other => other.to_string(),
                                };
                                Some((k, v))
                            })
                            .collect();
                        cleaner.row(Row { values, line });
                    }
                    // The line may hold a person's id that cannot be found to pseudonymise it.
                    Ok(_) => cleaner.reject_raw(line, Reject::Malformed("not a JSON object".into()), String::new()),
                    Err(e) => cleaner.reject_raw(line, Reject::Malformed(e.to_string()), String::new()),
                }
            }
        }
    }
    Ok(cleaner.finish())
}

/// State of one file's cleaning.
struct Cleaner<'a> {
    mapping: &'a Mapping,
    minter: &'a Minter,
    pseudo: &'a Pseudonymizer,
    report: CleaningReport,
    rejects: Vec<RejectedRow>,
    quads: Vec<Quad>,
    seen_rows: HashSet<[u8; 32]>,
    seen_ids: HashMap<String, [u8; 32]>,
    seen_products: HashSet<String>,
    categories: HashMap<String, u32>,
    aliases: HashMap<String, String>,
}

/// Fields in a fixed order, for hashing rows and reading them.
const FIELDS: [&str; 22] = [
    "id",
    "product",
    "name",
    "description",
    "brand",
    "category",
    "price",
    "currency",
    "availability",
    "author",
    "rating",
    "title",
    "text",
    "recommended",
    "helpful_votes",
    "reviewer_age",
    "user",
    "item",
    "event",
    "timestamp",
    "weight",
    "value",
];

impl<'a> Cleaner<'a> {
    fn new(path: &Path, mapping: &'a Mapping, minter: &'a Minter, pseudo: &'a Pseudonymizer) -> Self {
        Self {
            mapping,
            minter,
            pseudo,
            report: CleaningReport {
                file: path.display().to_string(),
                entity: Some(mapping.entity),
                ..Default::default()
            },
            rejects: Vec::new(),
            quads: Vec::new(),
            seen_rows: HashSet::new(),
            seen_ids: HashMap::new(),
            seen_products: HashSet::new(),
            categories: mapping.categories.iter().map(|(k, v)| (k.to_lowercase(), *v)).collect(),
            aliases: mapping.aliases.clone().into_iter().collect(),
        }
    }

    fn columns(&self, field: &str) -> Vec<&'a str> {
        let c = &self.mapping.columns;
        let one = |o: &'a Option<String>| o.as_deref().into_iter().collect::<Vec<_>>();
        match field {
            "id" => one(&c.id),
            "product" => one(&c.product),
            "name" => one(&c.name),
            "description" => one(&c.description),
            "brand" => one(&c.brand),
            "category" => c.category.as_ref().map(|c| c.names()).unwrap_or_default(),
            "price" => one(&c.price),
            "currency" => one(&c.currency),
            "availability" => one(&c.availability),
            "author" => one(&c.author),
            "rating" => one(&c.rating),
            "title" => one(&c.title),
            "text" => one(&c.text),
            "recommended" => one(&c.recommended),
            "helpful_votes" => one(&c.helpful_votes),
            "reviewer_age" => one(&c.reviewer_age),
            "user" => one(&c.user),
            "item" => one(&c.item),
            "event" => one(&c.event),
            "timestamp" => one(&c.timestamp),
            "weight" => one(&c.weight),
            "value" => one(&c.value),
            _ => Vec::new(),
        }
    }

    fn check_header(&self, header: &[String]) -> Result<(), IngestError> {
        for f in FIELDS {
            for col in self.columns(f) {
                if !header.iter().any(|h| h == col) {
                    return Err(IngestError::MissingColumn {
                        path: self.report.file.clone().into(),
                        column: col.into(),
                        header: header.to_vec(),
                    });
                }
            }
        }
        Ok(())
    }

    fn reject_raw(&mut self, line: u64, why: Reject, row: String) {
        self.report.rows_read += 1;
        self.report.rows_rejected += 1;
        self.report.bump(why.rule());
        self.rejects.push(RejectedRow { line, rule: why.rule(), reason: why.reason(), row });
    }

    /// Normalised values for each field; a category keeps every path element.
    fn extract(&mut self, row: &Row) -> (HashMap<&'static str, String>, Vec<String>) {
        let mut out = HashMap::new();
        let mut path = Vec::new();
        for f in FIELDS {
            for col in self.columns(f) {
                let Some(raw) = row.values.get(col) else {
                    continue;
                };
                let (mut v, changed) = normalise_text(raw);
                if changed && !raw.trim().is_empty() {
                    self.report.bump("fixed:whitespace_or_unicode_normalised");
                }
                if let Some(fix) = self.aliases.get(&v) {
                    self.report.bump(format!("fixed:alias {v} -> {fix}"));
                    v = fix.clone();
                }
                if FREE_TEXT.contains(&f) {
                    let (clean, found) = scrub::scrub(&v);
                    for rule in found {
                        self.report.bump(rule);
                    }
                    v = clean;
                }
                if v.is_empty() {
                    continue;
                }
                if f == "category" {
                    path.push(v);
                } else {
                    out.insert(f, v);
                }
            }
        }
        (out, path)
    }

    fn row(&mut self, row: Row) {
        let (vals, path) = self.extract(&row);
        // Rejects are written to a report file: people's ids in it are pseudonymised like the
        // graph's, so the report never holds what the store itself does not. Only rejected rows
        // pay for this.
        let raw_json = |this: &Self| {
            let mut values = row.values.clone();
            for c in ["user", "author"].iter().flat_map(|f| this.columns(f)) {
                if let Some(v) = values.get_mut(c)
                    && !v.is_empty()
                {
                    *v = format!("pseudonym:{}", this.pseudo.pseudonym(v));
                }
            }
            for c in FREE_TEXT.iter().flat_map(|f| this.columns(f)) {
                if let Some(v) = values.get_mut(c) {
                    *v = scrub::scrub(v).0;
                }
            }
            serde_json::to_string(&values).unwrap_or_default()
        };
        // Exact duplicates: same normalised content in every mapped field.
        let mut h = blake3::Hasher::new();
        for f in FIELDS {
            h.update(f.as_bytes());
            h.update(&[0]);
            h.update(vals.get(f).map_or(&b""[..], |v| v.as_bytes()));
            h.update(&[1]);
        }
        for p in &path {
            h.update(p.as_bytes());
            h.update(&[2]);
        }
        let digest: [u8; 32] = *h.finalize().as_bytes();
        if !self.seen_rows.insert(digest) {
            self.report.rows_read += 1;
            self.report.rows_duplicate += 1;
            self.report.bump("dropped:exact_duplicate_row");
            return;
        }
        if let Some(id) = vals.get("id")
            && self.seen_ids.get(id).is_some_and(|prev| *prev != digest)
        {
            let raw = raw_json(self);
            self.reject_raw(row.line, Reject::ConflictingDuplicateId(id.clone()), raw);
            return;
        }
        let before = self.quads.len();
        match self.convert(&vals, &path) {
            Ok(()) => {
                if let Some(id) = vals.get("id") {
                    self.seen_ids.insert(id.clone(), digest);
                }
                self.report.rows_read += 1;
                self.report.rows_kept += 1;
            }
            Err(why) => {
                self.quads.truncate(before);
                let raw = raw_json(self);
                self.reject_raw(row.line, why, raw);
            }
        }
    }

    fn optional<'v>(&mut self, vals: &'v HashMap<&'static str, String>, field: &'static str) -> Option<&'v str> {
        let v = vals.get(field).map(String::as_str);
        if v.is_none() && !self.columns(field).is_empty() {
            self.report.bump(format!("kept:missing_optional_{field}"));
        }
        v
    }

    fn required<'v>(vals: &'v HashMap<&'static str, String>, field: &'static str) -> Result<&'v str, Reject> {
        vals.get(field).map(String::as_str).ok_or(Reject::MissingRequired(field))
    }

    fn push(&mut self, s: impl Into<NamedOrBlankNode>, p: &str, o: impl Into<Term>) {
        self.quads.push(Quad::new(s, nn(p), o, GraphName::DefaultGraph));
    }

    /// Product node with id and category; emitted once per product per file.
    fn product(&mut self, id: &str, path: &[String]) -> NamedNode {
        let p = self.minter.product(id);
        let key = format!("{id}\u{0}{}", path.join(">"));
        if self.seen_products.insert(key) {
            self.push(p.clone(), vocab::RDF_TYPE, nn(vocab::PRODUCT));
            self.push(p.clone(), vocab::PRODUCT_ID, Literal::from(id));
            if !path.is_empty() {
                self.push(p.clone(), vocab::SOURCE_CATEGORY, Literal::from(path.join(" > ")));
                match path.iter().rev().find_map(|c| self.categories.get(&c.to_lowercase())).copied() {
                    Some(concept) => {
                        self.push(p.clone(), vocab::HAS_CATEGORY, ontology::taxonomy_concept(concept));
                    }
                    None => {
                        self.report.bump("kept:category_unmapped");
                        *self.report.unmapped_categories.entry(path.join(" > ")).or_default() += 1;
                    }
                }
            }
        }
        p
    }

    fn convert(&mut self, vals: &HashMap<&'static str, String>, path: &[String]) -> Result<(), Reject> {
        match self.mapping.entity {
            Entity::Product => self.convert_product(vals, path),
            Entity::Review => self.convert_review(vals, path),
            Entity::Interaction => self.convert_interaction(vals),
        }
    }

    fn convert_product(&mut self, vals: &HashMap<&'static str, String>, path: &[String]) -> Result<(), Reject> {
        let id = Self::required(vals, "id")?;
        let price = match self.optional(vals, "price") {
            Some(raw) => {
                let v = clean::parse_number(raw).ok_or_else(|| Reject::PriceNotANumber(raw.into()))?;
                if v < 0.0 {
                    return Err(Reject::NegativePrice(raw.into()));
                }
                Some(raw.to_owned())
            }
            None => None,
        };
        if path.is_empty() && !self.columns("category").is_empty() {
            self.report.bump("kept:missing_optional_category");
        }
        let p = self.product(id, path);
        if let Some(v) = self.optional(vals, "name") {
            let v = v.to_owned();
            self.push(p.clone(), vocab::NAME, Literal::from(v));
        }
        if let Some(v) = self.optional(vals, "description") {
            let v = v.to_owned();
            self.push(p.clone(), vocab::DESCRIPTION, Literal::from(v));
        }
        if let Some(b) = self.optional(vals, "brand") {
            let b = b.to_owned();
            let brand = self.minter.brand(&b);
            self.push(brand.clone(), vocab::RDF_TYPE, nn(vocab::BRAND));
            self.push(brand.clone(), vocab::NAME, Literal::from(b));
            self.push(p.clone(), vocab::HAS_BRAND, brand);
        }
        if let Some(price) = price {
            let currency =
                self.optional(vals, "currency").map_or_else(|| self.mapping.currency.clone(), str::to_uppercase);
            let offer = self.minter.offer(id, &currency);
            self.push(p.clone(), vocab::HAS_OFFER, offer.clone());
            self.push(offer.clone(), vocab::RDF_TYPE, nn(vocab::OFFER));
            let dec = format_decimal(&price);
            self.push(offer.clone(), vocab::PRICE, Literal::new_typed_literal(dec, nn(vocab::XSD_DECIMAL)));
            self.push(offer.clone(), vocab::CURRENCY, Literal::from(currency));
            if let Some(a) = self.optional(vals, "availability") {
                let a = availability(a);
                self.push(offer, vocab::AVAILABILITY, nn(a));
            }
        }
        Ok(())
    }

    fn convert_review(&mut self, vals: &HashMap<&'static str, String>, path: &[String]) -> Result<(), Reject> {
        let id = Self::required(vals, "id")?;
        let product = Self::required(vals, "product")?;
        let rating = match self.optional(vals, "rating") {
            Some(raw) => {
                let v = clean::parse_number(raw).ok_or_else(|| Reject::RatingNotANumber(raw.into()))?;
                if v < self.mapping.rating.min || v > self.mapping.rating.max || v.fract() != 0.0 {
                    return Err(Reject::RatingOutOfScale(raw.into()));
                }
                Some(v as i64)
            }
            None => None,
        };
        if path.is_empty() && !self.columns("category").is_empty() {
            self.report.bump("kept:missing_optional_category");
        }
        let p = self.product(product, path);
        let r = self.minter.review(id);
        self.push(r.clone(), vocab::RDF_TYPE, nn(vocab::REVIEW));
        self.push(r.clone(), vocab::REVIEW_OF, p);
        if let Some(v) = rating {
            self.push(r.clone(), vocab::RATING, Literal::from(v));
        }
        for (field, prop) in [("title", vocab::TITLE), ("text", vocab::TEXT)] {
            if let Some(v) = self.optional(vals, field) {
                let v = v.to_owned();
                self.push(r.clone(), prop, Literal::from(v));
            }
        }
        if let Some(a) = self.optional(vals, "author") {
            let u = self.minter.user(&self.pseudo.pseudonym(a));
            self.push(u.clone(), vocab::RDF_TYPE, nn(vocab::USER));
            self.push(r.clone(), vocab::AUTHOR, u);
        }
        if let Some(v) = self.optional(vals, "recommended").and_then(clean::parse_bool) {
            self.push(r.clone(), vocab::RECOMMENDED, Literal::from(v));
        }
        for (field, prop) in [("helpful_votes", vocab::HELPFUL_VOTES), ("reviewer_age", vocab::REVIEWER_AGE)] {
            if let Some(raw) = self.optional(vals, field) {
                match raw.parse::<i64>() {
                    Ok(n) if n >= 0 => self.push(r.clone(), prop, Literal::from(n)),
                    _ => self.report.bump(format!("kept:dropped_bad_{field}")),
                }
            }
        }
        Ok(())
    }

    fn convert_interaction(&mut self, vals: &HashMap<&'static str, String>) -> Result<(), Reject> {
        let user = Self::required(vals, "user")?;
        let item = Self::required(vals, "item")?;
        let event = clean::parse_event(Self::required(vals, "event")?)?;
        let ts = match self.optional(vals, "timestamp") {
            Some(raw) => Some(clean::parse_timestamp(raw)?),
            None => None,
        };
        let num = |field: &'static str, raw: Option<&str>, max: f64| -> Result<Option<f64>, Reject> {
            match raw {
                None => Ok(None),
                Some(r) => clean::parse_number(r)
                    .filter(|v| (0.0..=max).contains(v))
                    .map(Some)
                    .ok_or_else(|| Reject::BadNumber(field, r.into())),
            }
        };
        let weight = num("weight", vals.get("weight").map(String::as_str), clean::MAX_WEIGHT)?;
        let value = num("value", vals.get("value").map(String::as_str), clean::MAX_VALUE)?;
        if event == "rating" {
            let v = value.ok_or(Reject::MissingRequired("value"))?;
            if v < self.mapping.rating.min || v > self.mapping.rating.max {
                return Err(Reject::RatingOutOfScale(v.to_string()));
            }
        }
        let weight =
            weight.or_else(|| self.mapping.event_weights.get(event).copied()).unwrap_or_else(|| default_weight(event));
        let pseudonym = self.pseudo.pseudonym(user);
        let u = self.minter.user(&pseudonym);
        let p = self.minter.product(item);
        let ts_str = ts.map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string());
        let key = blake3::hash(
            format!("{pseudonym}\u{0}{item}\u{0}{event}\u{0}{}\u{0}{value:?}", ts_str.as_deref().unwrap_or(""))
                .as_bytes(),
        );
        let i = self.minter.interaction(&key.to_hex()[..32]);
        self.push(u.clone(), vocab::RDF_TYPE, nn(vocab::USER));
        if self.seen_products.insert(format!("{item}\u{0}")) {
            self.push(p.clone(), vocab::RDF_TYPE, nn(vocab::PRODUCT));
            self.push(p.clone(), vocab::PRODUCT_ID, Literal::from(item));
        }
        self.push(i.clone(), vocab::RDF_TYPE, nn(vocab::INTERACTION));
        self.push(i.clone(), vocab::HAS_USER, u);
        self.push(i.clone(), vocab::ITEM, p);
        self.push(i.clone(), vocab::INTERACTION_TYPE, nn(event_type_iri(event)));
        if let Some(t) = ts_str {
            self.push(i.clone(), vocab::TIMESTAMP, Literal::new_typed_literal(t, nn(vocab::XSD_DATE_TIME)));
        }
        self.push(i.clone(), vocab::WEIGHT, Literal::from(weight));
        if let Some(v) = value {
            self.push(i, vocab::VALUE, Literal::from(v));
        }
        Ok(())
    }

    fn finish(mut self) -> Cleaned {
        self.report.quads = self.quads.len() as u64;
        Cleaned { quads: self.quads, report: self.report, rejects: self.rejects }
    }
}

/// The `sg:` individual of a canonical event name.
pub fn event_type_iri(event: &str) -> &'static str {
    match event {
        "view" => vocab::VIEW,
        "click" => vocab::CLICK,
        "add_to_cart" => vocab::ADD_TO_CART,
        "purchase" => vocab::PURCHASE,
        _ => vocab::RATING_EVENT,
    }
}

/// The ontology's `sg:defaultWeight` of each event type.
pub fn default_weight(event: &str) -> f64 {
    match event {
        "add_to_cart" => 3.0,
        "purchase" => 5.0,
        _ => 1.0,
    }
}

fn availability(s: &str) -> &'static str {
    let k: String = s.to_ascii_lowercase().chars().filter(char::is_ascii_alphanumeric).collect();
    match k.as_str() {
        "outofstock" | "soldout" | "no" | "false" | "0" => vocab::SCHEMA_OUT_OF_STOCK,
        "preorder" => vocab::SCHEMA_PRE_ORDER,
        _ => vocab::SCHEMA_IN_STOCK,
    }
}

/// xsd:decimal lexical form of a parsed number string ("1e2" -> "100", "5" -> "5.0").
fn format_decimal(raw: &str) -> String {
    let v: f64 = raw.parse().unwrap_or(0.0);
    let s = format!("{:.4}", v);
    let s = s.trim_end_matches('0');
    if s.ends_with('.') { format!("{s}0") } else { s.to_owned() }
}
