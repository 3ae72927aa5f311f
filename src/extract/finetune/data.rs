//! Labelled data for the review model: aspect-labelled sentences (`id, text, aspects,
//! sentiment` TSV by the rules of tests/data/aspects/GUIDELINES.md), sentiment-only sentences
//! (`text, label` with 0/1), and weak labels from review titles and star ratings. Fixes the
//! untouched test share: a review's sentences all fall on one side of the split.

use super::super::ExtractError;
use std::path::Path;

/// Polarity labels in the model's order.
pub const POLARITIES: [&str; 3] = ["negative", "neutral", "positive"];

/// One training or test example, before tokenising.
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    /// Where it came from (file stem and row id), for reports.
    pub id: String,
    /// The sentence.
    pub text: String,
    /// Per aspect (in the model's aspect order): `None` absent, `Some(polarity)` present;
    /// `None` as a whole when the source labels no aspects.
    pub aspects: Option<Vec<Option<usize>>>,
    /// Which aspects the labels speak for (all of them when empty): rows from review
    /// decisions know only the aspects decided, and training leaves the others alone.
    pub known: Vec<bool>,
    /// Sentence polarity, when labelled.
    pub sentence: Option<usize>,
    /// Loss weight (weak labels count less).
    pub weight: f32,
    /// Which side of the split it is on.
    pub test: bool,
}

/// Index of a polarity name (also `+`, `-`, `0`).
pub fn polarity(s: &str) -> Option<usize> {
    match s.trim() {
        "negative" | "-" => Some(0),
        "neutral" | "0" => Some(1),
        "positive" | "+" => Some(2),
        _ => None,
    }
}

/// Whether a group key (a review id) is in the test share: 20% of keys by a fixed hash, so the
/// share never moves when files grow and a review's sentences stay together.
pub fn in_test_share(key: &str) -> bool {
    blake3::hash(key.as_bytes()).as_bytes()[0].is_multiple_of(5)
}

/// The review an aspect-file id (`t-r<review>s<sentence>`) belongs to; the whole id otherwise.
fn group_of(id: &str) -> &str {
    id.strip_prefix("t-r").and_then(|r| r.split('s').next()).unwrap_or(id)
}

fn read(path: &Path) -> Result<String, ExtractError> {
    std::fs::read_to_string(path).map_err(|e| ExtractError::io(path, e))
}

/// The aspect names an aspect-labelled TSV uses, in first-seen order.
pub fn aspect_names(path: &Path) -> Result<Vec<String>, ExtractError> {
    let text = read(path)?;
    let mut lines = text.lines().filter(|l| !l.starts_with('#'));
    let header: Vec<&str> = lines.next().unwrap_or_default().split('\t').collect();
    let Some(ca) = header.iter().position(|h| *h == "aspects") else {
        return Err(ExtractError::Training(format!("{}: no \"aspects\" column", path.display())));
    };
    let mut out: Vec<String> = Vec::new();
    for line in lines {
        let Some(cell) = line.split('\t').nth(ca) else { continue };
        for a in cell.split(';').filter_map(|a| a.split_once(':')).map(|(n, _)| n.trim()) {
            if !a.is_empty() && !out.iter().any(|x| x == a) {
                out.push(a.to_string());
            }
        }
    }
    Ok(out)
}

/// Reads an aspect-labelled TSV (`id`, `text`, `aspects`, `sentiment` columns, a header line;
/// `aspects` as `aspect:polarity;...`). An aspect not in `aspects` is an error naming the line,
/// so a typo cannot silently drop labels.
pub fn read_aspect_file(path: &Path, aspects: &[String]) -> Result<Vec<Example>, ExtractError> {
    let text = read(path)?;
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("aspects");
    let mut lines = text.lines().filter(|l| !l.starts_with('#'));
    let header: Vec<&str> = lines.next().unwrap_or_default().split('\t').collect();
    let col = |n: &str| {
        header
            .iter()
            .position(|h| *h == n)
            .ok_or_else(|| ExtractError::Training(format!("{}: no {n:?} column (header {header:?})", path.display())))
    };
    let (ci, ct, ca, cs) = (col("id")?, col("text")?, col("aspects")?, col("sentiment")?);
    let cl = header.iter().position(|h| *h == "labels");
    let mut out = Vec::new();
    for (n, line) in lines.enumerate() {
        let c: Vec<&str> = line.trim_end_matches('\r').split('\t').collect();
        let bad = |why: String| ExtractError::Training(format!("{} line {}: {why}", path.display(), n + 2));
        if c.len() < header.len() {
            return Err(bad(format!("{} columns, the header has {}", c.len(), header.len())));
        }
        let partial = match cl.map(|i| c[i].trim()) {
            None | Some("" | "full") => false,
            Some("partial") => true,
            Some(other) => return Err(bad(format!("labels {other:?} is not full or partial"))),
        };
        let mut per = vec![None; aspects.len()];
        let mut known = vec![!partial; aspects.len()];
        for a in c[ca].split(';').filter(|s| !s.trim().is_empty()) {
            let (name, pol) = a.split_once(':').ok_or_else(|| bad(format!("aspect {a:?} is not aspect:polarity")))?;
            let k = aspects
                .iter()
                .position(|x| x == name.trim())
                .ok_or_else(|| bad(format!("unknown aspect {name:?} (known: {aspects:?})")))?;
            known[k] = true;
            // `absent`: a reviewer rejected this aspect here (a negative example).
            if pol.trim() != "absent" {
                per[k] = Some(polarity(pol).ok_or_else(|| bad(format!("unknown polarity {pol:?}")))?);
            }
        }
        let sentence = match c[cs].trim() {
            "" => None,
            s => Some(polarity(s).ok_or_else(|| bad(format!("unknown sentiment {s:?}")))?),
        };
        out.push(Example {
            id: format!("{stem}:{}", c[ci]),
            text: c[ct].to_string(),
            aspects: Some(per),
            known: if partial { known } else { Vec::new() },
            sentence,
            weight: 1.0,
            test: in_test_share(&format!("{stem}:{}", group_of(c[ci]))),
        });
    }
    Ok(out)
}

/// `text<TAB>label` sentences labelled 0 (negative) or 1 (positive) after a header line, as
/// (data line index, text, polarity index: 0 or 2); lines without text are skipped. Also read
/// by the sentiment head's training ([`crate::extract::train`]).
pub fn binary_sentences(path: &Path) -> Result<Vec<(usize, String, usize)>, ExtractError> {
    let text = read(path)?;
    let mut out = Vec::new();
    for (n, line) in text.lines().skip(1).enumerate() {
        let Some((t, l)) = line.trim_end_matches('\r').rsplit_once('\t') else { continue };
        if t.trim().is_empty() {
            continue;
        }
        let polarity = match l.trim() {
            "0" => 0,
            "1" => 2,
            other => {
                return Err(ExtractError::Training(format!(
                    "{} line {}: label {other:?} is not 0 or 1",
                    path.display(),
                    n + 2
                )));
            }
        };
        out.push((n, t.to_string(), polarity));
    }
    Ok(out)
}

/// Reads `text<TAB>label` sentences labelled 0 (negative) or 1 (positive) after a header.
pub fn read_binary_file(path: &Path) -> Result<Vec<Example>, ExtractError> {
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("sentences");
    Ok(binary_sentences(path)?
        .into_iter()
        .map(|(n, text, polarity)| {
            let id = format!("{stem}:{n}");
            Example {
                test: in_test_share(&id),
                id,
                text,
                aspects: None,
                known: Vec::new(),
                sentence: Some(polarity),
                weight: 1.0,
            }
        })
        .collect())
}

/// A review title with its star-rating polarity: (review id, title, polarity index).
pub type RatedTitle = (String, String, usize);

/// Review titles with the polarity their star rating gives (1-2 stars negative, 3 neutral, 5
/// positive; 4 is left out as mixed), at most `per_label` per polarity in file order, as
/// (review id, title, polarity index). `id_column` names the id column (then required);
/// `skip` leaves reviews out by id. Returns the titles taken per polarity too. Also read by
/// the sentiment head's training.
pub fn rated_titles(
    reviews: &Path,
    per_label: usize,
    id_column: Option<&str>,
    skip: &dyn Fn(&str) -> bool,
) -> Result<(Vec<RatedTitle>, [usize; 3]), ExtractError> {
    let bad = |e: csv::Error| ExtractError::Training(format!("{}: {e}", reviews.display()));
    let mut rdr = csv::Reader::from_path(reviews).map_err(bad)?;
    let hdr = rdr.headers().map_err(bad)?.clone();
    let col = |n: &str| {
        hdr.iter()
            .position(|h| h == n)
            .ok_or_else(|| ExtractError::Training(format!("{}: no {n:?} column", reviews.display())))
    };
    let (ct, cr) = (col("Title")?, col("Rating")?);
    let ci = id_column.map(col).transpose()?;
    let mut per = [0usize; 3];
    let mut out = Vec::new();
    for r in rdr.records() {
        let r = r.map_err(bad)?;
        let t = r.get(ct).unwrap_or("").trim();
        let id = ci.and_then(|i| r.get(i)).unwrap_or("");
        if t.is_empty() || skip(id) {
            continue;
        }
        let l = match r.get(cr).unwrap_or("").trim().parse::<u8>() {
            Ok(1 | 2) => 0,
            Ok(3) => 1,
            Ok(5) => 2,
            _ => continue,
        };
        if per[l] >= per_label {
            continue;
        }
        per[l] += 1;
        out.push((id.to_string(), t.to_string(), l));
    }
    Ok((out, per))
}

/// Weak sentence labels from review titles ([`rated_titles`]). Reviews whose id is in
/// `exclude` (the sources of labelled sentences, so no test review leaks in) are skipped.
pub fn read_titles(
    reviews: &Path,
    per_label: usize,
    exclude: &dyn Fn(&str) -> bool,
) -> Result<Vec<Example>, ExtractError> {
    let (titles, _) = rated_titles(reviews, per_label, Some("review_id"), exclude)?;
    Ok(titles
        .into_iter()
        .map(|(id, text, l)| Example {
            id: format!("title:{id}"),
            text,
            aspects: None,
            known: Vec::new(),
            sentence: Some(l),
            weight: 0.5,
            test: false,
        })
        .collect())
}

/// BLAKE3 of the training examples (ids, texts and labels in order): names the data a model
/// was trained on in its manifest.
pub fn fingerprint(examples: &[Example]) -> String {
    let mut h = blake3::Hasher::new();
    for e in examples {
        h.update(format!("{}\t{}\t{:?}\t{:?}\t{}\n", e.id, e.text, e.aspects, e.sentence, e.weight).as_bytes());
    }
    h.finalize().to_hex().to_string()
}
