//! The extraction pipeline: a reader, a tokenizer stage that plans and tokenises chunks of
//! documents, inference workers (one ONNX session each) and the caller's writer, joined by
//! bounded crossbeam channels so a slow stage holds the others back instead of filling memory.

use super::{Analysis, ExtractError, Extractor};
use crossbeam_channel::bounded;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// One text to analyse, keyed by the node it came from.
#[derive(Debug, Clone)]
pub struct Doc {
    /// IRI of the source node (a review, a product).
    pub key: String,
    /// The text.
    pub text: String,
}

/// A document and what was found in it.
#[derive(Debug, Clone)]
pub struct Done {
    /// The source document.
    pub doc: Doc,
    /// Its analysis.
    pub analysis: Analysis,
}

/// Pipeline settings.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Documents per chunk; a chunk is tokenised together, bucketed by length, and handed to
    /// the writer as one batch.
    pub chunk: usize,
    /// Chunks that may wait between two stages.
    pub queue: usize,
    /// Whether each text's embedding is wanted (the encoder runs over whole texts).
    pub embed: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self { chunk: 64, queue: 2, embed: true }
    }
}

/// What a run did.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Stats {
    /// Documents analysed and written.
    pub docs: usize,
    /// Text units the encoder ran on (texts, sentences, clauses).
    pub units: usize,
    /// Documents left out, with the reason (empty, too long).
    pub skipped: Vec<(String, String)>,
    /// Whether the run stopped early on request.
    pub interrupted: bool,
}

/// Runs the pipeline over `docs`. `write` is called on this thread with each finished chunk and
/// must commit it whole; after `stop` is set, no new chunk is read and the chunks in flight are
/// finished and written, so an interrupt leaves only whole chunks behind.
pub fn run<E: From<ExtractError> + Send>(
    workers: Vec<Arc<Extractor>>,
    docs: impl Iterator<Item = Doc> + Send,
    stop: &AtomicBool,
    opts: Options,
    mut write: impl FnMut(Vec<Done>) -> Result<(), E>,
) -> Result<Stats, E> {
    let planner = workers.first().cloned().ok_or_else(|| ExtractError::Input("no inference workers".into()))?;
    let failed = AtomicBool::new(false);
    let units = std::sync::atomic::AtomicUsize::new(0);
    let (raw_tx, raw_rx) = bounded::<Vec<Doc>>(opts.queue);
    let (prep_tx, prep_rx) = bounded::<(Vec<Doc>, super::Prepared)>(opts.queue);
    let (done_tx, done_rx) = bounded::<Result<Vec<Done>, ExtractError>>(opts.queue);
    let mut stats = Stats::default();
    let mut skipped = Vec::new();
    let result = std::thread::scope(|s| {
        let skipped = &mut skipped;
        let failed = &failed;
        let units = &units;
        s.spawn(move || {
            let mut chunk = Vec::with_capacity(opts.chunk);
            for d in docs {
                if stop.load(Ordering::Relaxed) || failed.load(Ordering::Relaxed) {
                    return;
                }
                match Extractor::check(&d.text) {
                    Ok(()) => chunk.push(d),
                    Err(e) => skipped.push((d.key, e.to_string())),
                }
                if chunk.len() == opts.chunk && raw_tx.send(std::mem::take(&mut chunk)).is_err() {
                    return;
                }
            }
            if !chunk.is_empty() {
                let _ = raw_tx.send(chunk);
            }
        });
        let err_tx = done_tx.clone();
        s.spawn(move || {
            for chunk in raw_rx {
                let texts: Vec<String> = chunk.iter().map(|d| d.text.clone()).collect();
                match planner.prepare(texts, opts.embed) {
                    Ok(p) => {
                        if prep_tx.send((chunk, p)).is_err() {
                            return;
                        }
                    }
                    Err(e) => {
                        let _ = err_tx.send(Err(e));
                        return;
                    }
                }
            }
        });
        for w in &workers {
            let rx = prep_rx.clone();
            let tx = done_tx.clone();
            let w = Arc::clone(w);
            s.spawn(move || {
                for (chunk, p) in rx {
                    units.fetch_add(p.units(), Ordering::Relaxed);
                    let out = w.embed_prepared(&p).map(|emb| {
                        let analyses = w.assemble(&p, &emb);
                        chunk.into_iter().zip(analyses).map(|(doc, analysis)| Done { doc, analysis }).collect()
                    });
                    let bad = out.is_err();
                    if tx.send(out).is_err() || bad {
                        return;
                    }
                }
            });
        }
        drop(done_tx);
        drop(prep_rx);
        for msg in done_rx {
            let batch = match msg {
                Ok(b) => b,
                Err(e) => {
                    failed.store(true, Ordering::Relaxed);
                    return Err(E::from(e));
                }
            };
            stats.docs += batch.len();
            if let Err(e) = write(batch) {
                failed.store(true, Ordering::Relaxed);
                return Err(e);
            }
        }
        Ok(())
    });
    result?;
    stats.skipped = skipped;
    stats.units = units.into_inner();
    stats.interrupted = stop.load(Ordering::Relaxed);
    Ok(stats)
}
