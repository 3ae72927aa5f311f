//! Training the sentiment head: labelled sentences and review titles with star ratings, embedded
//! by the encoder, a softmax head fitted on them, and accuracy measured on held-out sentences.

use super::ExtractError;
use super::head::{Head, TrainOptions};
use super::model::{OnnxModel, argmax};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Sentiment labels in head order.
pub const LABELS: [&str; 3] = ["negative", "neutral", "positive"];

/// One labelled text.
#[derive(Debug, Clone)]
pub struct Example {
    /// The text.
    pub text: String,
    /// Index into [`LABELS`].
    pub label: usize,
    /// Which data set it came from.
    pub source: String,
    /// Whether it is held out for evaluation (never trained on).
    pub holdout: bool,
}

/// Accuracy of a trained head on held-out examples.
#[derive(Debug, Clone, Serialize)]
pub struct Evaluation {
    /// Held-out examples.
    pub examples: usize,
    /// Share where the head's top label (of all three) is the true label.
    pub accuracy: f64,
    /// Share where, of the true label's two poles, the head prefers the right one
    /// (p(positive) vs p(negative)); for data labelled only positive/negative.
    pub polarity_accuracy: f64,
    /// Confusion counts `[true][predicted]` in label order.
    pub confusion: [[usize; 3]; 3],
}

/// Source name of the labelled sentences (the set the head is judged and tuned on).
pub const SENTENCES: &str = "sentences";

/// Reads the training examples: `text<TAB>label` sentences (0 negative, 1 positive; a header
/// line first) and review titles from a CSV with `Title` and `Rating` columns (1-2 stars
/// negative, 3 neutral, 5 positive, 4 left out as mixed; at most `per_label` per label). Each
/// is held out by a hash of its text with probability `holdout`. Returns the examples and the
/// review titles taken per label.
pub fn load_examples(
    sentences: &Path,
    reviews: &Path,
    per_label: usize,
    holdout: f64,
) -> Result<(Vec<Example>, [usize; 3]), ExtractError> {
    let mut examples: Vec<Example> = super::finetune::data::binary_sentences(sentences)?
        .into_iter()
        .map(|(_, text, label)| {
            let holdout = is_holdout(&text, holdout);
            Example { text, label, source: SENTENCES.into(), holdout }
        })
        .collect();
    let (titles, taken) = super::finetune::data::rated_titles(reviews, per_label, None, &|_| false)?;
    examples.extend(titles.into_iter().map(|(_, text, label)| {
        let holdout = is_holdout(&text, holdout);
        Example { text, label, source: "review-titles".into(), holdout }
    }));
    Ok((examples, taken))
}

/// What the head's manifest says about how it was made.
#[derive(Debug, Clone, Copy)]
pub struct HeadInfo<'a> {
    /// Version written into the manifest.
    pub version: &'a str,
    /// Manifest id of the encoder it reads.
    pub encoder: &'a str,
    /// Held-out share of each source.
    pub holdout: f64,
    /// The settings it was trained with.
    pub opts: TrainOptions,
}

/// Writes the head's weights (`sentiment-minilm.json`), its manifest with checksum and
/// measured accuracy (`sentiment-minilm.toml`) and its loss curve (`...-training.svg`) into
/// `out`; returns the weights' path.
pub fn write_head(
    out: &Path,
    head: &Head,
    evals: &[(String, Evaluation)],
    losses: &[f32],
    examples: &[Example],
    info: &HeadInfo<'_>,
) -> Result<PathBuf, ExtractError> {
    std::fs::create_dir_all(out).map_err(|e| ExtractError::io(out, e))?;
    let weights = out.join("sentiment-minilm.json");
    let json = serde_json::to_string(head).map_err(|e| ExtractError::Training(e.to_string()))?;
    std::fs::write(&weights, json).map_err(|e| ExtractError::io(&weights, e))?;
    let sha = super::manifest::sha256_file(&weights)?;
    let mut metrics = String::new();
    for (src, e) in evals {
        metrics.push_str(&format!(
            "\n[metrics.{src}]\nheldout_examples = {}\naccuracy = {:.4}\npolarity_accuracy = {:.4}\nconfusion = {:?}\n",
            e.examples, e.accuracy, e.polarity_accuracy, e.confusion
        ));
    }
    let manifest = format!(
        "# Written by `shopgraph train-sentiment`; retrain to change. A softmax head on the encoder's\n# embeddings: negative / neutral / positive.\nid = \"sentiment-minilm\"\nversion = \"{}\"\ntask = \"embedding-head\"\nencoder = \"{}\"\nlicence = \"MIT (weights trained here on CC BY 4.0 and CC0 data)\"\ndescription = \"Review sentiment head (negative, neutral, positive) on {} embeddings\"\ntrained_on = \"{} labelled sentences (UCI Sentiment Labelled Sentences, Amazon, CC BY 4.0) and review titles of 1-2 (negative), 3 (neutral) and 5 (positive) stars from the Women's E-Commerce Clothing Reviews (CC0); {:.0}% of each held out by a hash of the text; {} epochs, l2 {} chosen by 5-fold cross-validation on the training share\"\n\n[weights]\nfile = \"sentiment-minilm.json\"\nsha256 = \"{sha}\"\n\n[inference]\nlabels = [\"negative\", \"neutral\", \"positive\"]\n{metrics}",
        info.version,
        info.encoder,
        info.encoder,
        examples.iter().filter(|e| e.source == SENTENCES).count(),
        info.holdout * 100.0,
        info.opts.epochs,
        info.opts.l2
    );
    let path = out.join("sentiment-minilm.toml");
    std::fs::write(&path, manifest).map_err(|e| ExtractError::io(&path, e))?;
    let curve: Vec<f64> = losses.iter().map(|l| f64::from(*l)).collect();
    let svg = crate::chart::lines(
        "Sentiment head: training loss (weighted cross-entropy)",
        "epoch",
        &[("train".to_string(), curve)],
    );
    let path = out.join("sentiment-minilm-training.svg");
    std::fs::write(&path, svg).map_err(|e| ExtractError::io(&path, e))?;
    Ok(weights)
}

/// Whether a text is in the held-out share, decided by a hash of the text so the split is the
/// same on every machine and run.
pub fn is_holdout(text: &str, share: f64) -> bool {
    let h = blake3::hash(text.as_bytes());
    let v = u64::from_le_bytes(h.as_bytes()[..8].try_into().unwrap_or_default());
    (v as f64 / u64::MAX as f64) < share
}

/// Embeds every example (length-bucketed batches), calling `progress(done, total)`.
pub fn embed_all(
    encoder: &OnnxModel,
    texts: &[String],
    batch: usize,
    mut progress: impl FnMut(usize, usize),
) -> Result<Vec<Vec<f32>>, ExtractError> {
    let mut out = Vec::with_capacity(texts.len());
    for (i, chunk) in texts.chunks(batch * 8).enumerate() {
        let tokens = chunk.iter().map(|t| encoder.tokenize(t)).collect::<Result<Vec<_>, _>>()?;
        out.extend(super::embed_bucketed(encoder, &tokens, batch)?);
        progress((i * batch * 8 + chunk.len()).min(texts.len()), texts.len());
    }
    Ok(out)
}

/// Fits the head on the non-held-out examples (each source weighted to the same total, so a
/// large source does not drown a small one) and evaluates it on the held-out ones per source.
pub fn train_sentiment(
    examples: &[Example],
    embeddings: &[Vec<f32>],
    opts: TrainOptions,
    progress: impl FnMut(usize, f32),
) -> Result<(Head, Vec<(String, Evaluation)>), ExtractError> {
    let train: Vec<usize> = (0..examples.len()).filter(|&i| !examples[i].holdout).collect();
    let mut per_source: std::collections::BTreeMap<&str, usize> = Default::default();
    for &i in &train {
        *per_source.entry(examples[i].source.as_str()).or_default() += 1;
    }
    let x: Vec<Vec<f32>> = train.iter().map(|&i| embeddings[i].clone()).collect();
    let y: Vec<usize> = train.iter().map(|&i| examples[i].label).collect();
    let w: Vec<f32> = train
        .iter()
        .map(|&i| train.len() as f32 / (per_source.len() as f32 * per_source[examples[i].source.as_str()] as f32))
        .collect();
    let head = Head::train(&x, &y, &w, LABELS.iter().map(|s| s.to_string()).collect(), opts, progress)?;
    let mut evals = Vec::new();
    let sources: std::collections::BTreeSet<&str> =
        examples.iter().filter(|e| e.holdout).map(|e| e.source.as_str()).collect();
    for s in sources {
        let idx: Vec<usize> = (0..examples.len()).filter(|&i| examples[i].holdout && examples[i].source == s).collect();
        evals.push((s.to_string(), evaluate(&head, idx.iter().map(|&i| (&embeddings[i], examples[i].label)))));
    }
    Ok((head, evals))
}

/// Picks the L2 penalty by k-fold cross-validation inside the training share: folds are cut
/// from the examples of `source` (the data the head is judged on), every other training
/// example stays in each fold's training set, and the held-out share is never looked at.
/// Returns the chosen penalty and the mean fold accuracy of each candidate.
pub fn choose_l2(
    examples: &[Example],
    embeddings: &[Vec<f32>],
    source: &str,
    grid: &[f32],
    folds: usize,
    opts: TrainOptions,
) -> Result<(f32, Vec<(f32, f64)>), ExtractError> {
    let judged: Vec<usize> =
        (0..examples.len()).filter(|&i| !examples[i].holdout && examples[i].source == source).collect();
    let mut scores = Vec::new();
    for &l2 in grid {
        let mut acc = 0.0;
        for f in 0..folds {
            // Fold membership by position in a hash order, so it is stable and mixed.
            let val: std::collections::HashSet<usize> =
                judged.iter().copied().filter(|&i| fold_of(&examples[i].text, folds) == f).collect();
            let fold_examples: Vec<Example> = examples
                .iter()
                .enumerate()
                .map(|(i, e)| Example { holdout: e.holdout || val.contains(&i), ..e.clone() })
                .collect();
            let (head, _) = train_sentiment(&fold_examples, embeddings, TrainOptions { l2, ..opts }, |_, _| {})?;
            acc += evaluate(&head, val.iter().map(|&i| (&embeddings[i], examples[i].label))).accuracy;
        }
        scores.push((l2, acc / folds as f64));
    }
    let best = scores.iter().copied().fold((grid[0], f64::MIN), |b, s| if s.1 > b.1 { s } else { b });
    Ok((best.0, scores))
}

fn fold_of(text: &str, folds: usize) -> usize {
    let h = blake3::hash(format!("fold:{text}").as_bytes());
    (u64::from_le_bytes(h.as_bytes()[..8].try_into().unwrap_or_default()) % folds as u64) as usize
}

/// Accuracy of `head` on `(embedding, true label)` pairs.
pub fn evaluate<'a>(head: &Head, data: impl Iterator<Item = (&'a Vec<f32>, usize)>) -> Evaluation {
    let mut confusion = [[0usize; 3]; 3];
    let (mut n, mut right, mut polar_n, mut polar_right) = (0usize, 0usize, 0usize, 0usize);
    for (x, y) in data {
        let p = head.predict(x);
        let k = argmax(&p);
        confusion[y][k] += 1;
        n += 1;
        right += usize::from(k == y);
        if y != 1 {
            polar_n += 1;
            let said = if p[2] >= p[0] { 2 } else { 0 };
            polar_right += usize::from(said == y);
        }
    }
    Evaluation {
        examples: n,
        accuracy: right as f64 / n.max(1) as f64,
        polarity_accuracy: polar_right as f64 / polar_n.max(1) as f64,
        confusion,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn examples_come_from_labelled_sentences_and_star_rated_titles() {
        let dir = tempfile::tempdir().unwrap();
        let (s, r) = (dir.path().join("s.tsv"), dir.path().join("r.csv"));
        std::fs::write(&s, "text\tlabel\nGreat fit.\t1\nAwful seams.\t0\n\t1\n").unwrap();
        std::fs::write(&r, "Title,Rating\nLove it,5\nMeh,3\nNice,4\nToo small,2\nBad,1\n,5\nPerfect,5\n").unwrap();
        let (ex, taken) = load_examples(&s, &r, 1, 0.0).unwrap();
        let got: Vec<(&str, usize, &str)> = ex.iter().map(|e| (&*e.text, e.label, &*e.source)).collect();
        assert_eq!(
            got,
            [
                ("Great fit.", 2, SENTENCES),
                ("Awful seams.", 0, SENTENCES),
                ("Love it", 2, "review-titles"),
                ("Meh", 1, "review-titles"),
                ("Too small", 0, "review-titles"),
            ]
        );
        assert_eq!(taken, [1, 1, 1]);
        assert!(ex.iter().all(|e| !e.holdout));
        std::fs::write(&s, "text\tlabel\nOdd.\t7\n").unwrap();
        assert!(matches!(load_examples(&s, &r, 1, 0.0), Err(ExtractError::Training(_))));
    }
}
