//! Plain-text handling for extraction: sentences and clauses with char spans, and the lexicon
//! matcher that finds ontology terms (aspects, attribute values) in text.

use std::collections::HashMap;

/// A char range `[start, end)` of a text.
pub type Span = (usize, usize);

/// Sentences of a text as char spans, trimmed. A sentence ends at `.`, `!` or `?` (runs of them)
/// followed by white space, or at a line break; "5.5" and "e.g.x" do not split.
pub fn sentences(text: &str) -> Vec<Span> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let end = if c == '\n' {
            Some(i)
        } else if matches!(c, '.' | '!' | '?') {
            let mut j = i;
            while j + 1 < chars.len() && matches!(chars[j + 1], '.' | '!' | '?' | ')' | '"') {
                j += 1;
            }
            if j + 1 == chars.len() || chars[j + 1].is_whitespace() {
                i = j;
                Some(j + 1)
            } else {
                None
            }
        } else {
            None
        };
        if let Some(e) = end {
            push_trimmed(&chars, start, e, &mut out);
            start = e.max(i + 1);
        }
        i += 1;
    }
    push_trimmed(&chars, start, chars.len(), &mut out);
    out
}

fn push_trimmed(chars: &[char], mut s: usize, mut e: usize, out: &mut Vec<Span>) {
    while s < e && chars[s].is_whitespace() {
        s += 1;
    }
    while e > s && chars[e - 1].is_whitespace() {
        e -= 1;
    }
    // A sentence needs at least one letter or digit: "!!!" alone is not one.
    if chars[s..e].iter().any(|c| c.is_alphanumeric()) {
        out.push((s, e));
    }
}

/// Words of a text, lower-cased, with their char spans. Apostrophes and inner hyphens stay in a
/// word ("doesn't", "see-through").
pub fn words(text: &str) -> Vec<(String, Span)> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut start = 0;
    let chars: Vec<char> = text.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let inner = (c == '\'' || c == '’' || c == '-')
            && !cur.is_empty()
            && chars.get(i + 1).is_some_and(|n| n.is_alphanumeric());
        if c.is_alphanumeric() || inner {
            if cur.is_empty() {
                start = i;
            }
            cur.extend(c.to_lowercase().map(|c| if c == '’' { '\'' } else { c }));
        } else if !cur.is_empty() {
            out.push((std::mem::take(&mut cur), (start, i)));
        }
    }
    if !cur.is_empty() {
        out.push((cur, (start, chars.len())));
    }
    out
}

/// Words after which a new clause starts: what comes after "but" often says the opposite of
/// what came before ("love the colour but the fabric is thin").
const CLAUSE_BREAKS: [&str; 7] = ["but", "however", "although", "though", "except", "unfortunately", "while"];

/// Clauses of a sentence span (char spans in the text), split before contrast words and at
/// semicolons. A sentence without them is one clause.
pub fn clauses(text: &str, sentence: Span) -> Vec<Span> {
    let chars: Vec<char> = text.chars().collect();
    let inner: String = chars[sentence.0..sentence.1].iter().collect();
    let mut cuts = vec![sentence.0];
    for (w, (s, _)) in words(&inner) {
        if CLAUSE_BREAKS.contains(&w.as_str()) && s > 0 {
            cuts.push(sentence.0 + s);
        }
    }
    for (i, c) in inner.chars().enumerate() {
        if c == ';' {
            cuts.push(sentence.0 + i + 1);
        }
    }
    cuts.sort_unstable();
    cuts.dedup();
    cuts.push(sentence.1);
    let mut out = Vec::new();
    for w in cuts.windows(2) {
        push_trimmed(&chars, w[0], w[1], &mut out);
    }
    if out.is_empty() {
        out.push(sentence);
    }
    out
}

/// The substring of a text at a char span.
pub fn slice(text: &str, span: Span) -> String {
    text.chars().skip(span.0).take(span.1 - span.0).collect()
}

/// Finds terms (one to several words each) in text, longest match first.
#[derive(Debug, Clone, Default)]
pub struct Matcher {
    terms: HashMap<Vec<String>, usize>,
    longest: usize,
}

/// One match: the entry the term belongs to, the term, and where.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// Index of the entry whose term matched.
    pub entry: usize,
    /// The matched words as written in the lexicon.
    pub term: String,
    /// Char span in the text.
    pub span: Span,
}

impl Matcher {
    /// A matcher over `(entry, term)` pairs; terms are split into words the way text is.
    pub fn new<'a>(terms: impl IntoIterator<Item = (usize, &'a str)>) -> Self {
        let mut m = Self::default();
        for (entry, term) in terms {
            let key: Vec<String> = words(term).into_iter().map(|(w, _)| w).collect();
            if key.is_empty() {
                continue;
            }
            m.longest = m.longest.max(key.len());
            m.terms.entry(key).or_insert(entry);
        }
        m
    }

    /// Non-overlapping hits, left to right, longest term first at each position.
    pub fn find(&self, text: &str) -> Vec<Hit> {
        let ws = words(text);
        let mut out = Vec::new();
        let mut i = 0;
        while i < ws.len() {
            let mut step = 1;
            for n in (1..=self.longest.min(ws.len() - i)).rev() {
                let key: Vec<String> = ws[i..i + n].iter().map(|(w, _)| w.clone()).collect();
                if let Some(&entry) = self.terms.get(&key) {
                    out.push(Hit { entry, term: key.join(" "), span: (ws[i].1.0, ws[i + n - 1].1.1) });
                    step = n;
                    break;
                }
            }
            i += step;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_split_on_terminators_not_decimals() {
        let t = "Love it!! Fits 5.5 size.  it runs small\nGreat colour";
        let s: Vec<String> = sentences(t).into_iter().map(|sp| slice(t, sp)).collect();
        assert_eq!(s, ["Love it!!", "Fits 5.5 size.", "it runs small", "Great colour"]);
    }

    #[test]
    fn clauses_split_before_but() {
        let t = "Love the colour, but the fabric is thin.";
        let c: Vec<String> = clauses(t, (0, t.chars().count())).into_iter().map(|sp| slice(t, sp)).collect();
        assert_eq!(c, ["Love the colour,", "but the fabric is thin."]);
    }

    #[test]
    fn matcher_prefers_longest_term_and_reports_char_spans() {
        let m = Matcher::new([(0, "size"), (1, "true to size"), (2, "see-through")]);
        let t = "Café top, true to size and see-through";
        let hits = m.find(t);
        assert_eq!(hits.len(), 2);
        assert_eq!((hits[0].entry, slice(t, hits[0].span)), (1, "true to size".to_string()));
        assert_eq!((hits[1].entry, slice(t, hits[1].span)), (2, "see-through".to_string()));
    }
}
