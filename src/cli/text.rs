//! The text commands' work: analysing lines from stdin, whole-store extraction with progress,
//! training the sentiment head.

use super::*;

pub(super) fn analyze_stdin(engine: &Arc<Engine>, batch: usize, timing: bool) -> Result<()> {
    use crate::extract::pipeline::{self, Doc};
    use std::collections::BTreeMap;
    use std::io::BufRead;
    use std::sync::Mutex;
    // Load the models before the clock starts; the timing is of the analysis alone.
    let ex = engine.extractor()?;
    let start = std::time::Instant::now();
    // Bad lines get an error object in their place; the reader records them here and the
    // writer prints them in line order between the analyses.
    let errors: Mutex<BTreeMap<usize, String>> = Mutex::new(BTreeMap::new());
    let read_error: Mutex<Option<std::io::Error>> = Mutex::new(None);
    let docs = std::io::BufReader::new(std::io::stdin())
        .split(b'\n')
        .enumerate()
        .map_while(|(n, line)| {
            let bytes = match line {
                Ok(b) => b,
                Err(e) => {
                    *read_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                    return None;
                }
            };
            let checked = String::from_utf8(bytes)
                .map_err(|e| format!("line is not valid UTF-8 ({})", e.utf8_error()))
                .map(|t| t.trim_end_matches('\r').to_owned())
                .and_then(|t| crate::extract::Extractor::check(&t).map(|()| t).map_err(|e| e.to_string()));
            Some(match checked {
                Ok(text) => Some(Doc { key: (n + 1).to_string(), text }),
                Err(msg) => {
                    errors.lock().unwrap_or_else(|p| p.into_inner()).insert(n + 1, msg);
                    None
                }
            })
        })
        .flatten();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let print_errors_before = |line: usize, out: &mut dyn Write| -> Result<()> {
        let mut errs = errors.lock().unwrap_or_else(|p| p.into_inner());
        let later = errs.split_off(&line);
        for (n, msg) in std::mem::replace(&mut *errs, later) {
            serde_json::to_writer(&mut *out, &serde_json::json!({ "line": n, "error": msg }))?;
            out.write_all(b"\n")?;
        }
        Ok(())
    };
    let stop = std::sync::atomic::AtomicBool::new(false);
    let opts = pipeline::Options { chunk: batch.max(1) * 8, queue: 2, embed: false };
    // One worker keeps chunks in input order, so results stream out as chunks finish.
    let stats = pipeline::run::<anyhow::Error>(vec![Arc::clone(&ex)], docs, &stop, opts, |chunk| {
        for d in chunk {
            print_errors_before(d.doc.key.parse().unwrap_or(0), &mut out)?;
            serde_json::to_writer(&mut out, &d.analysis)?;
            out.write_all(b"\n")?;
        }
        Ok(())
    })?;
    if let Some(e) = read_error.lock().unwrap_or_else(|p| p.into_inner()).take() {
        return Err(e).context("reading stdin");
    }
    print_errors_before(usize::MAX, &mut out)?;
    out.flush()?;
    if timing {
        let t = serde_json::json!({"timing": {
            "seconds": start.elapsed().as_secs_f64(), "units": stats.units, "device": ex.encoder.device, "batch": ex.batch,
        }});
        eprintln!("{t}");
    }
    Ok(())
}

pub(super) fn extract(engine: &Arc<Engine>, opts: &crate::engine::ExtractOptions) -> Result<()> {
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    // First Ctrl-C: finish the chunks in flight, commit them, and stop. Second: exit now (the
    // store is transactional, so even that loses only uncommitted chunks).
    let _ = ctrlc::set_handler(move || {
        if flag.swap(true, std::sync::atomic::Ordering::SeqCst) {
            std::process::exit(130);
        }
        eprintln!("\nstopping after the chunks in flight; run `shopgraph extract` again to resume");
    });
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("extract {bar:40} {pos}/{len} texts {per_sec} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let report = engine.extract(opts, &stop, |done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    })?;
    bar.finish_and_clear();
    println!("{}", serde_json::to_string_pretty(&report)?);
    if report.interrupted {
        eprintln!("interrupted: {} texts done in this run; run again to resume", report.docs);
    }
    Ok(())
}

pub(super) fn train_sentiment(
    config: &Config,
    sentences: &Path,
    reviews: &Path,
    per_label: usize,
    holdout: f64,
    version: &str,
    out: &Path,
) -> Result<()> {
    use crate::extract::train;
    let (examples, taken) = train::load_examples(sentences, reviews, per_label, holdout)?;
    eprintln!(
        "train-sentiment: {} examples ({} sentences, review titles per label {:?})",
        examples.len(),
        examples.iter().filter(|e| e.source == train::SENTENCES).count(),
        taken
    );
    let all = crate::extract::manifest::catalog(&config.models, &config.model_cache)?;
    let enc_m = crate::extract::manifest::find(&all, "all-minilm-l6-v2-int8")?;
    let encoder =
        crate::extract::model::OnnxModel::load(enc_m, &config.model_cache, &config.device, config.query_threads)?;
    let bar = ProgressBar::new(examples.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("embed {bar:40} {pos}/{len} {per_sec} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let texts: Vec<String> = examples.iter().map(|e| e.text.clone()).collect();
    let emb = train::embed_all(&encoder, &texts, 32, |d, _| bar.set_position(d as u64))?;
    bar.finish_and_clear();
    let grid = [1e-3, 3e-3, 1e-2, 3e-2];
    let (l2, cv) =
        train::choose_l2(&examples, &emb, train::SENTENCES, &grid, 5, crate::extract::head::TrainOptions::default())?;
    for (g, acc) in &cv {
        eprintln!("train-sentiment: l2 {g}: 5-fold accuracy {acc:.3} (training share of the sentences)");
    }
    let opts = crate::extract::head::TrainOptions { l2, ..Default::default() };
    let mut losses = Vec::new();
    let (head, evals) = train::train_sentiment(&examples, &emb, opts, |_, loss| losses.push(loss))?;
    for (src, e) in &evals {
        eprintln!(
            "train-sentiment: held-out {src}: {} examples, accuracy {:.3}, polarity accuracy {:.3}",
            e.examples, e.accuracy, e.polarity_accuracy
        );
    }
    let info = train::HeadInfo { version, encoder: &enc_m.id, holdout, opts };
    let weights = train::write_head(out, &head, &evals, &losses, &examples, &info)?;
    eprintln!("train-sentiment: wrote {} and its manifest", weights.display());
    Ok(())
}
