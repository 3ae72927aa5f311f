//! One fine-tuning run from files to a servable model: read the labelled data, split it
//! (untouched test share, a development share for choosing the epoch), train, score on the
//! test share, and write the trained parts, their manifest, the training curves and the ONNX
//! file's checksum.

use super::data::{self, Example};
use super::{Evaluation, Options, Progress, Trained};
use crate::extract::ExtractError;
use crate::extract::manifest::{self, Manifest, Task};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// What to train on and where to write.
#[derive(Debug, Clone)]
pub struct Job {
    /// Aspect-labelled TSV files.
    pub aspect_files: Vec<PathBuf>,
    /// Positive/negative sentence files (`text<TAB>0|1`).
    pub binary_files: Vec<PathBuf>,
    /// Sentences from outside the shop's domain with a 3-way sentence label and no aspect labels
    /// (the aspect-file format with `labels` = `partial`): training only, never in the test or
    /// development share, at half weight.
    pub general_files: Vec<PathBuf>,
    /// Aspect-labelled files trained on and never scored: every example goes to the training
    /// share, at full weight, so the test and development shares stay what they were.
    pub train_only_files: Vec<PathBuf>,
    /// Positive/negative sentence files from other kinds of reviews, never trained on and never
    /// used to choose anything: scored once at the end, like the test share.
    pub report_files: Vec<PathBuf>,
    /// Reviews CSV whose titles and star ratings give weak sentence labels.
    pub reviews: Option<PathBuf>,
    /// Weak labels per polarity taken from `reviews`.
    pub titles_per_label: usize,
    /// Id of the encoder-weights manifest to start from.
    pub base: String,
    /// Id and version of the model written.
    pub id: String,
    /// Version written into the manifest and the ONNX file.
    pub version: String,
    /// Folder the manifest, parts and curves go to.
    pub out: PathBuf,
    /// Training settings.
    pub options: Options,
    /// Trained-parts files of earlier runs (same base, rank and aspects): when given, nothing is
    /// trained; the model is their uniform mean ([`super::soup`]), scored and written like a
    /// trained one.
    pub soup: Vec<PathBuf>,
    /// With more than one: train a run per seed, one after another, write each run's parts
    /// beside the model (`<id>-seed<N>.safetensors`) and keep their soup.
    pub seeds: Vec<u64>,
    /// Passes of re-fitting the aspect heads on the finished encoder ([`super::refit`]); 0
    /// re-fits nothing.
    pub refit_heads: usize,
    /// Learning rate of the re-fit (training's own is in `options`).
    pub refit_lr: f64,
    /// Where training runs: `cpu`, `cuda` (a CUDA GPU; needs a build with `--features cuda`)
    /// or `auto` (CUDA when there is one, else the CPU).
    pub device: String,
    /// Runs trained for this job by worker processes (`finetune --jobs`), one seed each: the
    /// job soups and reports them as runs it trained.
    pub worker_runs: Vec<WorkerRun>,
    /// How many of those ran at a time (for the manifest's words).
    pub workers: usize,
    /// Wall-clock seconds the worker processes took, counted in the training time.
    pub worker_seconds: f64,
}

/// One seed's run, trained in a worker process: its parts file and its training curve.
#[derive(Debug, Clone)]
pub struct WorkerRun {
    /// Seed of the run.
    pub seed: u64,
    /// Its trained-parts file.
    pub parts: PathBuf,
    /// Its epochs.
    pub curve: Vec<super::Epoch>,
}

/// What a run produced.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Manifest written.
    pub manifest: PathBuf,
    /// Training, development and test examples.
    pub examples: [usize; 3],
    /// BLAKE3 of the training examples.
    pub data_hash: String,
    /// Scores on the untouched test share.
    pub test: Evaluation,
    /// Positive/negative accuracy on each report file (file stem, accuracy).
    pub other: Vec<(String, f64)>,
    /// With averaging: the same run's best epoch on the test share and the report files, for
    /// comparing the two ways of choosing what to keep.
    pub best_epoch_scores: Option<(Evaluation, Vec<(String, f64)>)>,
    /// Epoch kept.
    pub best_epoch: usize,
    /// With a head re-fit: the pass kept (0: the heads as they came).
    pub refit_kept: Option<usize>,
    /// Seconds of training.
    pub seconds: f64,
    /// Where it trained (`cpu` or `cuda:N`).
    pub device: String,
    /// Test-share sentences read per second by the trained model on that device (batches of 32).
    pub eval_per_second: f64,
}

/// The candle device `name` asks for.
pub fn training_device(name: &str) -> Result<candle_core::Device, ExtractError> {
    use candle_core::Device;
    match name {
        "cpu" => Ok(Device::Cpu),
        "cuda" => Device::new_cuda(0).map_err(|e| {
            ExtractError::Training(format!(
                "no CUDA device for training ({e}); a build with `--features cuda` and a GPU are needed"
            ))
        }),
        "auto" => Device::cuda_if_available(0).map_err(|e| ExtractError::Training(e.to_string())),
        other => Err(ExtractError::Training(format!("unknown device {other:?}: cpu, cuda or auto"))),
    }
}

fn device_name(d: &candle_core::Device) -> String {
    match d.location() {
        candle_core::DeviceLocation::Cpu => "cpu".into(),
        candle_core::DeviceLocation::Cuda { gpu_id } => format!("cuda:{gpu_id}"),
        candle_core::DeviceLocation::Metal { gpu_id } => format!("metal:{gpu_id}"),
    }
}

/// Whether a training-share example goes to the development share (about 1 in 9).
fn in_dev_share(e: &Example) -> bool {
    blake3::hash(format!("dev:{}", e.id).as_bytes()).as_bytes()[0].is_multiple_of(9)
}

/// The three shares of the data.
#[derive(Debug, Default)]
pub struct Split {
    /// Trained on.
    pub train: Vec<Example>,
    /// Chooses the epoch.
    pub dev: Vec<Example>,
    /// Untouched: scored once at the end.
    pub test: Vec<Example>,
}

/// Reads every source and splits it.
pub fn split(job: &Job, aspects: &[String]) -> Result<Split, ExtractError> {
    let mut all = Vec::new();
    for f in &job.aspect_files {
        all.extend(data::read_aspect_file(f, aspects)?);
    }
    for f in &job.binary_files {
        all.extend(data::read_binary_file(f)?);
    }
    if let Some(r) = &job.reviews
        && job.titles_per_label > 0
    {
        // Labelled sentences come from reviews with ids under 5000 (the aspect files' `t-r<id>`):
        // titles are taken only from the others, so no test review reaches training.
        let taken: std::collections::HashSet<String> = all
            .iter()
            .filter_map(|e| e.id.split_once(":t-r").and_then(|(_, r)| r.split('s').next()).map(str::to_string))
            .collect();
        let exclude = |id: &str| taken.contains(id) || id.parse::<u64>().is_ok_and(|n| n < 5000);
        all.extend(data::read_titles(r, job.titles_per_label, &exclude)?);
    }
    for f in &job.general_files {
        all.extend(data::read_aspect_file(f, aspects)?.into_iter().map(|e| Example {
            id: format!("general:{}", e.id),
            test: false,
            weight: 0.5,
            ..e
        }));
    }
    for f in &job.train_only_files {
        all.extend(data::read_aspect_file(f, aspects)?.into_iter().map(|e| Example {
            id: format!("train-only:{}", e.id),
            test: false,
            ..e
        }));
    }
    let (test, rest): (Vec<Example>, Vec<Example>) = all.into_iter().partition(|e| e.test);
    let training_only = |e: &Example| ["title:", "general:", "train-only:"].iter().any(|p| e.id.starts_with(p));
    let (dev, train): (Vec<Example>, Vec<Example>) =
        rest.into_iter().partition(|e| !training_only(e) && in_dev_share(e));
    Ok(Split { train, dev, test })
}

fn table(e: &Evaluation) -> toml::Table {
    let v = toml::Value::try_from(e).unwrap_or(toml::Value::Table(toml::Table::new()));
    v.as_table().cloned().unwrap_or_default()
}

/// What every run of a job starts from: the tokenizer, the aspects, the three shares and the
/// base weights on the training device.
struct Prepared {
    tok: tokenizers::Tokenizer,
    aspects: Vec<String>,
    train: Vec<Example>,
    dev: Vec<Example>,
    test: Vec<Example>,
    heads: usize,
    data_hash: String,
    device: candle_core::Device,
    base_weights: std::collections::HashMap<String, candle_core::Tensor>,
}

fn prepare(job: &Job, models: &[Manifest], cache: &Path) -> Result<Prepared, ExtractError> {
    let base_m = manifest::find(models, &job.base)?;
    if base_m.task != Task::EncoderWeights {
        return Err(ExtractError::Manifest(format!("{} is not an encoder-weights manifest", job.base)));
    }
    let wref = base_m.weights.clone().ok_or_else(|| ExtractError::Manifest(format!("{}: no [weights]", job.base)))?;
    let tref =
        base_m.tokenizer.clone().ok_or_else(|| ExtractError::Manifest(format!("{}: no [tokenizer]", job.base)))?;
    let base_path = base_m.verified(&wref, cache)?;
    let tok_path = base_m.verified(&tref, cache)?;
    let tok = tokenizers::Tokenizer::from_file(&tok_path)
        .map_err(|e| ExtractError::Model(format!("{}: {e}", tok_path.display())))?;
    let mut aspects: Vec<String> = base_aspects();
    for f in &job.aspect_files {
        for a in data::aspect_names(f)? {
            if !aspects.contains(&a) {
                aspects.push(a);
            }
        }
    }
    let Split { train, dev, test } = split(job, &aspects)?;
    let heads = base_m.attention_heads.unwrap_or(12);
    let data_hash = data::fingerprint(&train);
    let device = training_device(&job.device)?;
    // Read once: each run takes its own handles to the same (never written) base tensors.
    let base_weights = super::read_base(&base_path, &device)?;
    Ok(Prepared { tok, aspects, train, dev, test, heads, data_hash, device, base_weights })
}

/// Trains one run of the job with `seed` and writes its trained parts to `parts`: the work of
/// one worker process of `finetune --jobs`. Returns the run's curve and scores nothing else.
pub fn train_worker_run(
    job: &Job,
    models: &[Manifest],
    cache: &Path,
    seed: u64,
    parts: &Path,
    progress: impl FnMut(Progress),
) -> Result<Vec<super::Epoch>, ExtractError> {
    let Prepared { tok, aspects, train, dev, heads, base_weights, .. } = prepare(job, models, cache)?;
    let opts = Options { seed, ..job.options };
    let t = super::train(base_weights, heads, &tok, aspects, &train, &dev, opts, progress)?;
    if let Some(dir) = parts.parent() {
        std::fs::create_dir_all(dir).map_err(|e| ExtractError::io(dir, e))?;
    }
    super::save_parts(&t.model, parts)?;
    Ok(t.curve)
}

/// Runs the job. `progress` sees every training step.
pub fn run(
    job: &Job,
    models: &[Manifest],
    cache: &Path,
    mut progress: impl FnMut(Progress),
) -> Result<Report, ExtractError> {
    let start = std::time::Instant::now();
    let Prepared { tok, aspects, train, dev, test, heads, data_hash, device, base_weights } =
        prepare(job, models, cache)?;
    let mut seed_curves: Vec<(u64, Vec<super::Epoch>)> = Vec::new();
    let mut soup_files = job.soup.clone();
    // Several seeds: each trains in turn (or trained in a worker process), its parts are written
    // beside the model, and the model is their soup.
    if (!job.worker_runs.is_empty() || job.seeds.len() > 1) && !job.soup.is_empty() {
        return Err(ExtractError::Training("give either seeds to train or runs to mix, not both".into()));
    }
    if !job.worker_runs.is_empty() {
        for r in &job.worker_runs {
            seed_curves.push((r.seed, r.curve.clone()));
            soup_files.push(r.parts.clone());
        }
    } else if job.seeds.len() > 1 {
        std::fs::create_dir_all(&job.out).map_err(|e| ExtractError::io(&job.out, e))?;
        for &seed in &job.seeds {
            let opts = Options { seed, ..job.options };
            let t =
                super::train(base_weights.clone(), heads, &tok, aspects.clone(), &train, &dev, opts, &mut progress)?;
            let f = job.out.join(format!("{}-seed{seed}.safetensors", job.id));
            super::save_parts(&t.model, &f)?;
            seed_curves.push((seed, t.curve));
            soup_files.push(f);
        }
    }
    let (Trained { model, curve, best_epoch, averaged }, soup_dev) = if soup_files.is_empty() {
        let opts = Options { seed: job.seeds.first().copied().unwrap_or(job.options.seed), ..job.options };
        let t = super::train(base_weights, heads, &tok, aspects.clone(), &train, &dev, opts, &mut progress)?;
        (t, None)
    } else {
        let model = super::soup_model(base_weights, &soup_files, heads, aspects.clone(), job.options.rank)?;
        let dev_eval = super::evaluate(&model, &tok, &dev, job.options.max_tokens)?;
        (Trained { model, curve: Vec::new(), best_epoch: 0, averaged: None }, Some(dev_eval))
    };
    let refitted = match job.refit_heads {
        0 => None,
        n => {
            let opts = Options { lr: job.refit_lr, ..job.options };
            Some(super::refit::refit_heads(&model, &tok, &train, &dev, opts, n, &mut progress)?)
        }
    };
    let seconds = start.elapsed().as_secs_f64() + job.worker_seconds;
    let t_eval = std::time::Instant::now();
    let test_eval = super::evaluate(&model, &tok, &test, job.options.max_tokens)?;
    // The model's forward pass over the test share, tokenising included: its reading speed on
    // this device (the served path is ort's, measured in benches/extract_vs_onnxruntime.py).
    let eval_per_second = test.len() as f64 / t_eval.elapsed().as_secs_f64().max(1e-9);
    let mut others = Vec::new();
    for f in &job.report_files {
        let stem = f.file_stem().map_or_else(String::new, |s| s.to_string_lossy().to_string());
        others.push((stem, data::read_binary_file(f)?));
    }
    let score_others = |m: &super::tagger::Tagger| -> Result<Vec<(String, f64)>, ExtractError> {
        others
            .iter()
            .map(|(n, ex)| Ok((n.clone(), super::evaluate(m, &tok, ex, job.options.max_tokens)?.binary_accuracy)))
            .collect()
    };
    let other = score_others(&model)?;
    // The best epoch, scored on the same shares, then the average put back.
    let best_epoch_scores = match &averaged {
        Some((_, _, best_parts)) => {
            let kept = super::snapshot(&model)?;
            super::set_parts(&model, best_parts)?;
            let scores = (super::evaluate(&model, &tok, &test, job.options.max_tokens)?, score_others(&model)?);
            super::set_parts(&model, &kept)?;
            Some(scores)
        }
        None => None,
    };

    std::fs::create_dir_all(&job.out).map_err(|e| ExtractError::io(&job.out, e))?;
    let parts = job.out.join(format!("{}.safetensors", job.id));
    if soup_files.is_empty() {
        super::save_parts(&model, &parts)?;
    } else {
        super::save_half_adapters(&model, &parts)?;
    }
    let onnx = model.to_onnx(&job.version).map_err(|e| ExtractError::Model(e.to_string()))?;
    let onnx_file = format!("{}-{}.onnx", job.id, job.version);
    manifest::write_cached(cache, &job.id, &onnx_file, &onnx)?;

    // Two charts: the loss falls by orders of magnitude, the scores move in [0, 1]. With several
    // seeds, a line per seed.
    let (loss_svg, dev_svg) = if seed_curves.is_empty() {
        let loss = crate::chart::lines(
            &format!("{} {}: training loss per epoch", job.id, job.version),
            "epoch",
            &[("training loss".into(), curve.iter().map(|e| e.loss).collect())],
        );
        let dev = crate::chart::lines(
            &format!("{} {}: development-share scores per epoch (the best epoch is kept)", job.id, job.version),
            "epoch",
            &[
                ("aspect F1".into(), curve.iter().map(|e| e.dev.f1).collect()),
                ("aspect polarity".into(), curve.iter().map(|e| e.dev.polarity_accuracy).collect()),
                ("sentence 3-way".into(), curve.iter().map(|e| e.dev.sentence_accuracy).collect()),
                ("positive/negative".into(), curve.iter().map(|e| e.dev.binary_accuracy).collect()),
            ],
        );
        (loss, dev)
    } else {
        let per_seed = |f: &dyn Fn(&super::Epoch) -> f64, what: &str| -> Vec<(String, Vec<f64>)> {
            seed_curves.iter().map(|(seed, c)| (format!("{what}, seed {seed}"), c.iter().map(f).collect())).collect()
        };
        let loss = crate::chart::lines(
            &format!("{} {}: training loss per epoch, each seed of the soup", job.id, job.version),
            "epoch",
            &per_seed(&|e| e.loss, "loss"),
        );
        let mut dev_series = per_seed(&|e| e.dev.f1, "aspect F1");
        dev_series.extend(per_seed(&|e| e.dev.sentence_accuracy, "sentence 3-way"));
        let dev = crate::chart::lines(
            &format!("{} {}: development-share scores per epoch, each seed of the soup", job.id, job.version),
            "epoch",
            &dev_series,
        );
        (loss, dev)
    };
    // A soup of earlier runs trained nothing here: no curves (theirs are beside their manifests).
    let trained_here = !curve.is_empty() || !seed_curves.is_empty();
    for (name, svg) in [("training", loss_svg), ("dev", dev_svg)].into_iter().filter(|_| trained_here) {
        let path = job.out.join(format!("{}-{name}.svg", job.id));
        std::fs::write(&path, svg).map_err(|e| ExtractError::io(&path, e))?;
    }

    let mut m = toml::Table::new();
    let s = |v: &str| toml::Value::String(v.to_string());
    m.insert("id".into(), s(&job.id));
    m.insert("version".into(), s(&job.version));
    m.insert("task".into(), s("review-model"));
    m.insert("base".into(), s(&job.base));
    m.insert("rank".into(), toml::Value::Integer(job.options.rank as i64));
    m.insert("attention_heads".into(), toml::Value::Integer(heads as i64));
    m.insert("licence".into(), s("MIT (adapters and heads trained here on CC0 and CC BY 4.0 data; base Apache-2.0)"));
    m.insert(
        "description".into(),
        s("all-MiniLM-L6-v2 fine-tuned with low-rank adapters: aspects (attention spans), per-aspect polarity, sentence polarity"),
    );
    let refit_note = match &refitted {
        Some(r) => format!(
            "; then the aspect heads re-fitted on the frozen encoder for {} passes, the same development examples keeping {}",
            job.refit_heads,
            super::refit::kept_in_words(r.kept)
        ),
        None => String::new(),
    };
    let sources: Vec<String> = job
        .aspect_files
        .iter()
        .chain(&job.binary_files)
        .chain(&job.general_files)
        .chain(&job.train_only_files)
        .chain(job.reviews.iter().filter(|_| job.titles_per_label > 0))
        .map(|p| p.file_name().map_or_else(String::new, |f| f.to_string_lossy().to_string()))
        .collect();
    m.insert(
        "trained_on".into(),
        s(&format!(
            "{} training examples from {} ({} review titles per polarity as weak labels); blake3 {}; {}; {} test-share examples never trained on{}",
            train.len(),
            sources.join(", "),
            job.titles_per_label,
            data_hash,
            match (&averaged, &soup_dev) {
                (_, Some(_)) => format!(
                    "the uniform mean of {} runs' trained parts, adapters in half precision ({}; blake3 {}), {}; {} development examples scored it and chose nothing",
                    soup_files.len(),
                    soup_files.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "),
                    soup_hash(&soup_files)?,
                    if seed_curves.is_empty() {
                        "trained earlier, their data as their manifests say".to_string()
                    } else {
                        format!(
                            "trained here {} with seeds {} ({} epochs each)",
                            if job.worker_runs.is_empty() {
                                "one after another".to_string()
                            } else {
                                format!("in worker processes, {} at a time with a thread each,", job.workers)
                            },
                            seed_curves.iter().map(|(x, _)| x.to_string()).collect::<Vec<_>>().join(", "),
                            job.options.epochs
                        )
                    },
                    dev.len()
                ),
                (Some((n, _, _)), None) => format!(
                    "kept the mean of {n} snapshots over the last {} epochs ({} development examples chose nothing)",
                    job.options.average_last,
                    dev.len()
                ),
                (None, None) => format!("{} development examples chose epoch {}", dev.len(), best_epoch + 1),
            },
            test.len(),
            refit_note
        )),
    );
    let file = |f: &str, sha: &str| {
        let mut t = toml::Table::new();
        t.insert("file".into(), s(f));
        t.insert("sha256".into(), s(sha));
        toml::Value::Table(t)
    };
    let parts_name = parts.file_name().map_or_else(String::new, |f| f.to_string_lossy().to_string());
    m.insert("weights".into(), file(&parts_name, &manifest::sha256_file(&parts)?));
    m.insert("onnx".into(), file(&onnx_file, &manifest::sha256_bytes(&onnx)));
    let mut inf = toml::Table::new();
    inf.insert("max_length".into(), toml::Value::Integer(job.options.max_tokens as i64));
    inf.insert("labels".into(), toml::Value::Array(aspects.iter().map(|a| s(a)).collect()));
    m.insert("inference".into(), toml::Value::Table(inf));
    let mut metrics = toml::Table::new();
    metrics.insert("test".into(), toml::Value::Table(table(&test_eval)));
    let accuracies =
        |o: &[(String, f64)]| toml::Value::Table(o.iter().map(|(n, a)| (n.clone(), toml::Value::Float(*a))).collect());
    if !other.is_empty() {
        metrics.insert("other".into(), accuracies(&other));
    }
    let kept_dev = match (&refitted, &soup_dev, &averaged, curve.get(best_epoch)) {
        (Some(r), ..) if r.kept > 0 => r.curve.get(r.kept - 1).map(|e| &e.dev),
        (Some(r), ..) => Some(&r.before),
        (None, Some(d), _, _) | (None, None, Some((_, d, _)), _) => Some(d),
        (None, None, None, e) => e.map(|e| &e.dev),
    };
    if let Some(d) = kept_dev {
        metrics.insert("dev".into(), toml::Value::Table(table(d)));
    }
    if let (Some((t, o)), Some(e)) = (&best_epoch_scores, curve.get(best_epoch)) {
        // Not the model kept: what the best-epoch recipe would have kept from this run.
        let mut b = toml::Table::new();
        b.insert("dev".into(), toml::Value::Table(table(&e.dev)));
        b.insert("test".into(), toml::Value::Table(table(t)));
        if !o.is_empty() {
            b.insert("other".into(), accuracies(o));
        }
        metrics.insert("best_epoch".into(), toml::Value::Table(b));
    }
    let mut opts = toml::Value::try_from(job.options).map_err(|e| ExtractError::Training(e.to_string()))?;
    if let Some(t) = opts.as_table_mut() {
        t.insert("seconds".into(), toml::Value::Float(seconds));
        if soup_dev.is_some() {
            t.insert(
                "soup".into(),
                toml::Value::Array(soup_files.iter().map(|p| s(&p.display().to_string())).collect()),
            );
            t.insert(
                "seeds".into(),
                toml::Value::Array(job.seeds.iter().map(|&x| toml::Value::Integer(x as i64)).collect()),
            );
        } else {
            t.insert("best_epoch".into(), toml::Value::Integer(best_epoch as i64 + 1));
        }
        if let Some(r) = &refitted {
            t.insert("refit_heads".into(), toml::Value::Integer(job.refit_heads as i64));
            t.insert("refit_kept".into(), toml::Value::Integer(r.kept as i64));
            t.insert("refit_lr".into(), toml::Value::Float(job.refit_lr));
            let dev_f1 = r.curve.iter().map(|e| toml::Value::Float(e.dev.f1)).collect();
            t.insert("refit_dev_f1".into(), toml::Value::Array(dev_f1));
        }
        t.insert("device".into(), s(&device_name(&device)));
        t.insert("test_sentences_per_second".into(), toml::Value::Float(eval_per_second));
    }
    metrics.insert("training".into(), opts);
    let mut c = toml::Table::new();
    let series =
        |f: &dyn Fn(&super::Epoch) -> f64| toml::Value::Array(curve.iter().map(|e| toml::Value::Float(f(e))).collect());
    c.insert("loss".into(), series(&|e| e.loss));
    c.insert("dev_f1".into(), series(&|e| e.dev.f1));
    c.insert("dev_polarity".into(), series(&|e| e.dev.polarity_accuracy));
    c.insert("dev_sentence".into(), series(&|e| e.dev.sentence_accuracy));
    c.insert("seconds".into(), series(&|e| e.seconds));
    metrics.insert("curve".into(), toml::Value::Table(c));
    m.insert("metrics".into(), toml::Value::Table(metrics));
    let text = format!(
        "# Written by `shopgraph finetune`; train again to change. Metrics under [metrics.test] are on\n# the untouched test share (never trained on, never used to choose anything).\n{}",
        toml::to_string(&m).map_err(|e| ExtractError::Training(e.to_string()))?
    );
    let mpath = job.out.join(format!("{}.toml", job.id));
    std::fs::write(&mpath, text).map_err(|e| ExtractError::io(&mpath, e))?;
    Ok(Report {
        manifest: mpath,
        examples: [train.len(), dev.len(), test.len()],
        data_hash,
        test: test_eval,
        other,
        best_epoch_scores,
        best_epoch,
        refit_kept: refitted.as_ref().map(|r| r.kept),
        seconds,
        device: device_name(&device),
        eval_per_second,
    })
}

/// BLAKE3 over the soup's parts files, in the order given.
fn soup_hash(files: &[PathBuf]) -> Result<String, ExtractError> {
    let mut h = blake3::Hasher::new();
    for f in files {
        h.update(&std::fs::read(f).map_err(|e| ExtractError::io(f, e))?);
    }
    Ok(h.finalize().to_hex().to_string())
}

/// The nine aspects of the labelling guidelines, in the model's output order.
pub fn base_aspects() -> Vec<String> {
    ["fit", "size", "fabric", "colour", "comfort", "quality", "price", "style", "length"].map(String::from).to_vec()
}
