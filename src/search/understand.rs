//! Query understanding: a shopper's words matched against the graph's vocabulary (categories
//! with their labels, brands, attribute values, review aspects) and price phrases, turned into
//! filters and boosts that the response reports back.

use regex::Regex;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::LazyLock;

/// One concept the vocabulary knows, with every label that names it.
#[derive(Debug, Clone, Default)]
pub struct Concept {
    /// IRI.
    pub iri: String,
    /// Display label.
    pub label: String,
    /// Other labels (skos:altLabel): synonyms for the keyword query too, except for aspects,
    /// whose labels are cues of one topic ("tight" and "loose" both name fit).
    pub alt: Vec<String>,
}

/// What the query can be matched against, read from the graph.
#[derive(Debug, Clone, Default)]
pub struct Vocabulary {
    /// Categories that hold products (directly or below them).
    pub categories: Vec<Concept>,
    /// Brands.
    pub brands: Vec<Concept>,
    /// Attribute values (colour, material), with the attribute's name as `kind`.
    pub attributes: Vec<(Concept, String)>,
    /// Review aspects.
    pub aspects: Vec<Concept>,
}

/// Which kind of concept a phrase named.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A category (a filter, with its descendants).
    Category,
    /// A brand (a filter).
    Brand,
    /// An attribute value (a boost for products that have it).
    Attribute,
    /// A review aspect (a boost by how reviews judge it).
    Aspect,
}

/// A phrase of the query read as a concept.
#[derive(Debug, Clone, Serialize)]
pub struct Matched {
    /// Kind of concept.
    pub kind: Kind,
    /// The concept.
    pub iri: String,
    /// Its label.
    pub label: String,
    /// The words of the query that named it.
    pub phrase: String,
    /// For an aspect: the shopper asked for its absence ("not see-through"): products whose
    /// reviews do not complain about it rank higher, as for a plain aspect.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub negated: bool,
}

/// A price range read from the query ("under $50", "$20-40", "between 30 and 60").
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct PriceRange {
    /// Lowest price.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// Highest price.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// The words that said it.
    pub phrase: String,
}

/// How a query was read.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Interpretation {
    /// The words searched as keywords (price phrases taken out).
    pub keywords: String,
    /// Concepts the query named.
    pub matched: Vec<Matched>,
    /// Price range.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price: Option<PriceRange>,
    /// Synonyms added to the keyword query (from the concepts' labels).
    pub synonyms: Vec<String>,
    /// Query words read as typos: corrected to a vocabulary word ("dresss → dress"), or
    /// matched by edit distance in the index.
    pub fuzzy: Vec<String>,
    /// Whether semantic retrieval took part (and why not, when not).
    pub semantic: String,
    /// How the filters were applied: a category the query named filters only when something
    /// matches inside it.
    pub notes: Vec<String>,
}

/// Lower case, words only (letters, digits, `-` inside words), plurals folded, so that labels
/// and queries compare as the same words.
pub fn fold_words(text: &str) -> Vec<String> {
    let lower = text.to_lowercase();
    lower
        .split(|c: char| !(c.is_alphanumeric() || c == '-' || c == '\''))
        .map(|w| w.trim_matches(|c| c == '-' || c == '\'').trim_end_matches("'s"))
        .filter(|w| !w.is_empty())
        .map(fold)
        .collect()
}

/// One word's singular (a light, predictable folding: "dresses" "dress", "tops" "top",
/// "accessories" "accessory").
pub fn fold(w: &str) -> String {
    let n = w.chars().count();
    if n > 4 && w.ends_with("ies") {
        return format!("{}y", &w[..w.len() - 3]);
    }
    if n > 4 && (w.ends_with("sses") || w.ends_with("shes") || w.ends_with("ches") || w.ends_with("xes")) {
        return w[..w.len() - 2].to_owned();
    }
    if n > 3 && w.ends_with('s') && !w.ends_with("ss") && !w.ends_with("us") {
        return w[..w.len() - 1].to_owned();
    }
    w.to_owned()
}

static PRICE: LazyLock<Vec<(Regex, u8)>> = LazyLock::new(|| {
    let n = r"\$?\s*(\d+(?:\.\d+)?)\s*(?:\$|usd|dollars?|eur|€|£)?";
    [
        (format!(r"(?i)\bbetween\s+{n}\s+and\s+{n}"), 2u8),
        (format!(r"(?i){n}\s*(?:-|–|to)\s*{n}"), 2),
        (format!(r"(?i)\b(?:under|below|less\s+than|cheaper\s+than|up\s+to|max(?:imum)?|at\s+most|<=?)\s*{n}"), 1),
        (format!(r"(?i)\b(?:over|above|more\s+than|at\s+least|from|min(?:imum)?|>=?)\s*{n}"), 0),
    ]
    .into_iter()
    .map(|(r, k)| (Regex::new(&r).expect("price regex"), k))
    .collect()
});

/// Takes a price phrase out of `text`: the range and the text without it. A bare number is
/// not a price ("size 10"): only phrases with a price word, a currency sign or a range.
pub fn price_phrase(text: &str) -> (Option<PriceRange>, String) {
    for (re, kind) in PRICE.iter() {
        let Some(c) = re.captures(text) else { continue };
        let whole = c.get(0).map_or("", |m| m.as_str());
        let num = |i: usize| c.get(i).and_then(|m| m.as_str().parse::<f64>().ok());
        // "2-3 days", "size 4 to 6": a range is a price only with a currency mark.
        if *kind == 2 && !whole.contains('$') && !whole.to_lowercase().contains("between") {
            let rest = &text[c.get(0).map_or(0, |m| m.end())..].trim_start().to_lowercase();
            if !(rest.starts_with("dollar") || rest.starts_with("usd")) {
                continue;
            }
        }
        let range = match kind {
            2 => PriceRange { min: num(1), max: num(2), phrase: whole.trim().into() },
            1 => PriceRange { min: None, max: num(1), phrase: whole.trim().into() },
            _ => PriceRange { min: num(1), max: None, phrase: whole.trim().into() },
        };
        let rest =
            format!("{} {}", &text[..c.get(0).map_or(0, |m| m.start())], &text[c.get(0).map_or(0, |m| m.end())..]);
        return (Some(range), rest.split_whitespace().collect::<Vec<_>>().join(" "));
    }
    (None, text.to_owned())
}

/// Phrases (folded word sequences) to the concepts they name.
#[derive(Debug, Default, Clone)]
pub struct PhraseTable {
    by_phrase: HashMap<Vec<String>, Vec<(Kind, usize)>>,
    longest: usize,
    /// Every word of every label (typo corrections aim at these).
    words: Vec<String>,
}

/// Edit distance (Levenshtein with adjacent swaps), stopping early above `max`.
fn distance(a: &str, b: &str, max: usize) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    if a.len().abs_diff(b.len()) > max {
        return max + 1;
    }
    let mut prev2 = vec![0usize; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut cur = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                cur[j] = cur[j].min(prev2[j - 2] + 1);
            }
        }
        if cur.iter().min().copied().unwrap_or(0) > max {
            return max + 1;
        }
        prev2 = std::mem::replace(&mut prev, cur);
    }
    prev[b.len()]
}

impl PhraseTable {
    /// Every label and alternative label of the vocabulary's concepts. Category labels such as
    /// "Shirts & Tops" also name the category by each part.
    pub fn new(v: &Vocabulary) -> Self {
        let mut t = Self::default();
        let mut add = |label: &str, kind: Kind, i: usize| {
            let words = fold_words(label);
            if words.is_empty() {
                return;
            }
            t.longest = t.longest.max(words.len());
            for w in &words {
                if w.chars().count() >= 4 && !t.words.contains(w) {
                    t.words.push(w.clone());
                }
            }
            let e = t.by_phrase.entry(words).or_default();
            if !e.contains(&(kind, i)) {
                e.push((kind, i));
            }
        };
        for (i, c) in v.categories.iter().enumerate() {
            for l in std::iter::once(&c.label).chain(&c.alt) {
                add(l, Kind::Category, i);
                if l.contains('&') || l.contains(',') {
                    for part in l.split(['&', ',']) {
                        add(part, Kind::Category, i);
                    }
                }
            }
        }
        for (i, c) in v.brands.iter().enumerate() {
            for l in std::iter::once(&c.label).chain(&c.alt) {
                add(l, Kind::Brand, i);
            }
        }
        for (i, (c, _)) in v.attributes.iter().enumerate() {
            for l in std::iter::once(&c.label).chain(&c.alt) {
                add(l, Kind::Attribute, i);
            }
        }
        for (i, c) in v.aspects.iter().enumerate() {
            for l in std::iter::once(&c.label).chain(&c.alt) {
                add(l, Kind::Aspect, i);
            }
        }
        t
    }
}

const NEGATIONS: [&str; 6] = ["not", "no", "non", "without", "never", "isn't"];

/// Reads a query: price phrase, then the longest phrases that name concepts, left to right.
/// A phrase naming an attribute value is not read as an aspect too ("silk" is a material
/// before it is a review topic).
/// Words of four letters or more that neither the vocabulary nor the index knows (`rare` says
/// the index has it in at most a couple of products) are corrected to the closest vocabulary
/// word (one edit, two from eight letters; first letter kept).
pub fn interpret(q: &str, v: &Vocabulary, table: &PhraseTable, rare: &dyn Fn(&str) -> bool) -> Interpretation {
    let (price, mut keywords) = price_phrase(q);
    let mut fixed = Vec::new();
    for raw in keywords.split_whitespace().map(str::to_owned).collect::<Vec<_>>() {
        let w = fold(&raw.to_lowercase());
        let n = w.chars().count();
        if n < 4 || table.words.contains(&w) || !rare(&raw) {
            continue;
        }
        let max = if n >= 8 { 2 } else { 1 };
        let best = table
            .words
            .iter()
            .filter(|c| c.chars().next() == w.chars().next())
            .map(|c| (distance(&w, c, max), c))
            .filter(|(d, _)| *d <= max)
            .min_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(b.1)));
        if let Some((_, c)) = best {
            fixed.push(format!("{raw} → {c}"));
            keywords = keywords
                .split_whitespace()
                .map(|x| if x == raw { c.as_str() } else { x })
                .collect::<Vec<_>>()
                .join(" ");
        }
    }
    let words = fold_words(&keywords);
    let mut matched = Vec::new();
    let mut synonyms = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let mut took = 0;
        for len in (1..=table.longest.min(words.len() - i)).rev() {
            let Some(hits) = table.by_phrase.get(&words[i..i + len]) else { continue };
            let phrase = words[i..i + len].join(" ");
            let has_attr = hits.iter().any(|(k, _)| *k == Kind::Attribute);
            for &(kind, idx) in hits {
                if kind == Kind::Aspect && has_attr {
                    continue;
                }
                let c = match kind {
                    Kind::Category => &v.categories[idx],
                    Kind::Brand => &v.brands[idx],
                    Kind::Attribute => &v.attributes[idx].0,
                    Kind::Aspect => &v.aspects[idx],
                };
                let negated = kind == Kind::Aspect
                    && i > 0
                    && (NEGATIONS.contains(&words[i - 1].as_str()) || words[i].starts_with("non-"));
                if kind != Kind::Aspect {
                    for l in std::iter::once(&c.label).chain(&c.alt) {
                        let folded = fold_words(l).join(" ");
                        if folded != phrase && !synonyms.contains(l) && !l.contains('&') {
                            synonyms.push(l.clone());
                        }
                    }
                }
                if !matched.iter().any(|m: &Matched| m.iri == c.iri) {
                    matched.push(Matched {
                        kind,
                        iri: c.iri.clone(),
                        label: c.label.clone(),
                        phrase: phrase.clone(),
                        negated,
                    });
                }
            }
            took = len;
            break;
        }
        i += took.max(1);
    }
    Interpretation { keywords, matched, price, synonyms, fuzzy: fixed, ..Default::default() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn price_phrases_are_read_and_bare_numbers_are_not() {
        type Range = Option<(Option<f64>, Option<f64>)>;
        let cases: [(&str, Range, &str); 8] = [
            ("dress under $50", Some((None, Some(50.0))), "dress"),
            ("jeans below 80 dollars", Some((None, Some(80.0))), "jeans"),
            ("coat over 100", Some((Some(100.0), None)), "coat"),
            ("skirt $20-$40", Some((Some(20.0), Some(40.0))), "skirt"),
            ("top between 15 and 30", Some((Some(15.0), Some(30.0))), "top"),
            ("size 10 jeans", None, "size 10 jeans"),
            ("ages 2-3 pajamas", None, "ages 2-3 pajamas"),
            ("cheap shoes less than 25.50", Some((None, Some(25.5))), "cheap shoes"),
        ];
        for (q, want, rest) in cases {
            let (got, text) = price_phrase(q);
            assert_eq!(got.map(|p| (p.min, p.max)), want, "{q}");
            assert_eq!(text, rest, "{q}");
        }
    }

    #[test]
    fn edit_distance_counts_swaps_as_one() {
        for (a, b, d) in [
            ("dresss", "dress", 1),
            ("sweatre", "sweater", 1),
            ("jaket", "jacket", 1),
            ("skirt", "shirt", 1),
            ("coat", "boots", 3),
        ] {
            assert_eq!(distance(a, b, 3), d, "{a} {b}");
        }
    }

    #[test]
    fn plurals_fold_to_one_word() {
        for (a, b) in [("dresses", "dress"), ("tops", "top"), ("accessories", "accessory"), ("dress", "dress")] {
            assert_eq!(fold(a), b);
        }
    }
}
