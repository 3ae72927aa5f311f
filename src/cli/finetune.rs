//! `shopgraph finetune`: its arguments, the job they make, and the run with its progress bar.

use super::*;
use crate::extract::finetune::Options;
use crate::extract::finetune::job::Job;

/// The arguments of `shopgraph finetune` (its help text is the doc of `Command::Finetune`).
#[derive(Debug, Args)]
pub(super) struct FinetuneArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Aspect-labelled TSV (`id, text, aspects, sentiment`; tests/data/aspects/GUIDELINES.md).
    #[arg(long = "aspects", default_values = ["tests/data/aspects/sentences.tsv", "tests/data/aspects/own-sentences.tsv"])]
    pub aspects: Vec<PathBuf>,
    /// Positive/negative sentences (`text<TAB>0|1`).
    #[arg(long = "sentences", default_value = "tests/data/sentiment-sentences-amazon.tsv")]
    pub sentences: Vec<PathBuf>,
    /// Review CSV whose titles and star ratings are weak sentence labels.
    #[arg(long, default_value = "tests/data/demo/womens-clothing-reviews.csv")]
    pub reviews: PathBuf,
    /// Review titles taken per polarity as weak sentence labels (0: none; 500 did not help
    /// on the development share, see benches/REPORT.md).
    #[arg(long, default_value_t = 0)]
    pub titles_per_label: usize,
    /// Passes over the training data.
    #[arg(long, default_value_t = 12)]
    pub epochs: usize,
    /// Adapter rank.
    #[arg(long, default_value_t = 8)]
    pub rank: usize,
    /// Peak learning rate.
    #[arg(long, default_value_t = 2e-3)]
    pub lr: f64,
    /// Seed of the initialisation and the shuffles.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Train a run per seed (comma-separated), one after another, and keep their soup (see
    /// --soup); overrides --seed.
    #[arg(long, value_delimiter = ',')]
    pub seeds: Vec<u64>,
    /// With --seeds: how many seeds train at a time, each in a worker process of its own with
    /// one thread (0: one per core; 1: one after another in this process). On a CPU, one thread
    /// per run is faster than two threads on one run (benches/REPORT.md section 6).
    #[arg(long, default_value_t = 0)]
    pub jobs: usize,
    /// (Internal: what a worker process of --jobs does.) Train one run with --seed, write its
    /// parts to this file and its curve beside it, and score nothing else.
    #[arg(long, hide = true)]
    pub worker_run_to: Option<PathBuf>,
    /// Keep the mean of the trained parts over the last N epochs (four snapshots an epoch)
    /// rather than the epoch that scores best on the development share (0).
    #[arg(long, default_value_t = 0)]
    pub average_last: usize,
    /// Sentences from outside the shop's domain with a 3-way sentence label only (the
    /// aspect-file format, `labels` = `partial`): trained on at half weight, never tested on.
    #[arg(long = "general")]
    pub general: Vec<PathBuf>,
    /// Aspect-labelled sentences (the --aspects format) trained on at full weight and never
    /// put in the test or development share, so those stay comparable across runs.
    #[arg(long = "train-only")]
    pub train_only: Vec<PathBuf>,
    /// Positive/negative sentences from other kinds of reviews, never trained on: scored at
    /// the end and written into the manifest.
    #[arg(long = "report-sentences", default_values = ["tests/data/sentiment-sentences-yelp.tsv", "tests/data/sentiment-sentences-imdb.tsv", "tests/data/sentiment-snippets-amazon-huliu.tsv"])]
    pub report_sentences: Vec<PathBuf>,
    /// Train nothing: write the uniform mean of these runs' trained-parts files (same base,
    /// rank and aspects), a "model soup", scored on the same shares.
    #[arg(long = "soup")]
    pub soup: Vec<PathBuf>,
    /// Then re-fit the aspect heads (attention, detection, polarity) for N passes on the
    /// finished encoder, frozen, at --refit-lr; the development share keeps the best pass or
    /// none.
    #[arg(long, default_value_t = 0)]
    pub refit_heads: usize,
    /// Learning rate of the head re-fit.
    #[arg(long, default_value_t = 1e-3)]
    pub refit_lr: f64,
    /// Encoder-weights manifest to start from.
    #[arg(long, default_value = "all-minilm-l6-v2")]
    pub base: String,
    /// Id of the model written.
    #[arg(long, default_value = "review-minilm")]
    pub id: String,
    /// Version written into the manifest.
    #[arg(long, default_value = "1.0.0")]
    pub version: String,
    /// Output folder.
    #[arg(long, default_value = "models")]
    pub out: PathBuf,
}

/// Runs the command.
pub(super) fn run(a: FinetuneArgs) -> Result<()> {
    restart_with_training_allocator();
    // Said once, by the command (its workers inherit the same settings).
    if let Some(conf) = std::env::var_os("MALLOC_CONF")
        && a.worker_run_to.is_none()
        && crate::memory::is_installed()
    {
        eprintln!("finetune: allocator settings MALLOC_CONF={}", conf.to_string_lossy());
    }
    let config = Config::resolve(&a.store.overrides(None), &|k| std::env::var(k).ok())?;
    let (worker_run_to, jobs, seed) = (a.worker_run_to.clone(), a.jobs, a.seed);
    let mut job = Job {
        aspect_files: a.aspects,
        binary_files: a.sentences,
        general_files: a.general,
        train_only_files: a.train_only,
        report_files: a.report_sentences,
        reviews: Some(a.reviews),
        titles_per_label: a.titles_per_label,
        base: a.base,
        id: a.id,
        version: a.version,
        out: a.out,
        options: Options {
            epochs: a.epochs,
            rank: a.rank,
            lr: a.lr,
            seed: a.seed,
            average_last: a.average_last,
            ..Default::default()
        },
        device: config.device.clone(),
        soup: a.soup,
        seeds: a.seeds,
        refit_heads: a.refit_heads,
        refit_lr: a.refit_lr,
        worker_runs: Vec::new(),
        workers: 1,
        worker_seconds: 0.0,
    };
    if let Some(parts) = worker_run_to {
        return worker(&config, &job, seed, &parts);
    }
    let workers = match jobs {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    }
    .min(job.seeds.len());
    // Workers are for a CPU's cores: on a GPU the seeds train in turn on the one device.
    if workers > 1 && job.soup.is_empty() && (job.device == "cpu" || !cfg!(feature = "cuda")) {
        let t0 = std::time::Instant::now();
        job.worker_runs = train_in_workers(&job, workers)?;
        job.workers = workers;
        job.worker_seconds = t0.elapsed().as_secs_f64();
    }
    train(&config, &job)
}

/// Starts this command again in place with the allocator's training settings
/// ([`crate::memory::TRAINING_MALLOC_CONF`]: 1.6 times faster training here), which jemalloc
/// reads only at start. The worker processes inherit them. Does nothing when `MALLOC_CONF` is
/// already set (the operator's, or this restart's) or the process does not run on jemalloc; if
/// the restart fails, training goes on as it is, slower.
fn restart_with_training_allocator() {
    if !crate::memory::is_installed() || std::env::var_os("MALLOC_CONF").is_some() {
        return;
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        let Ok(exe) = std::env::current_exe() else { return };
        let err = std::process::Command::new(exe)
            .args(std::env::args_os().skip(1))
            .env("MALLOC_CONF", crate::memory::TRAINING_MALLOC_CONF)
            .exec();
        eprintln!("finetune: could not restart with the training allocator settings ({err}); going on without");
    }
}

/// A worker process: one seed's run, its parts and its curve, progress as a line per epoch.
fn worker(config: &Config, job: &Job, seed: u64, parts: &Path) -> Result<()> {
    let models = crate::extract::manifest::catalog(&config.models, &config.model_cache)?;
    let curve = crate::extract::finetune::job::train_worker_run(job, &models, &config.model_cache, seed, parts, |p| {
        if p.step == p.steps {
            eprintln!("finetune seed {seed}: {} {}/{}: training loss {:.4}", p.stage, p.epoch + 1, p.of, p.loss);
        }
    })?;
    let path = curve_file(parts);
    std::fs::write(&path, serde_json::to_vec(&curve)?).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

fn curve_file(parts: &Path) -> PathBuf {
    parts.with_extension("curve.json")
}

/// The command line as given, less what names the seeds and the workers: each worker gets its
/// own seed and output file.
fn worker_args(args: impl Iterator<Item = std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    let mut passed = Vec::new();
    let mut args = args.peekable();
    while let Some(x) = args.next() {
        let t = x.to_string_lossy();
        if ["--seeds", "--jobs", "--seed", "--worker-run-to"].contains(&t.as_ref()) {
            args.next();
        } else if !["--seeds=", "--jobs=", "--seed=", "--worker-run-to="].iter().any(|p| t.starts_with(p)) {
            passed.push(x);
        }
    }
    passed
}

/// Trains each of the job's seeds in a worker process (this binary, `finetune --worker-run-to`),
/// `workers` at a time, each with one thread, and reads back their parts and curves.
fn train_in_workers(job: &Job, workers: usize) -> Result<Vec<crate::extract::finetune::job::WorkerRun>> {
    let exe = std::env::current_exe().context("finding this program to start worker processes")?;
    let passed = worker_args(std::env::args_os().skip(1));
    std::fs::create_dir_all(&job.out).with_context(|| format!("creating {}", job.out.display()))?;
    let mut queue: std::collections::VecDeque<u64> = job.seeds.iter().copied().collect();
    let mut running: Vec<(u64, PathBuf, std::process::Child)> = Vec::new();
    let mut done = Vec::new();
    eprintln!(
        "finetune: training seeds {} in worker processes, {workers} at a time with a thread each",
        job.seeds.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")
    );
    while !queue.is_empty() || !running.is_empty() {
        while running.len() < workers {
            let Some(seed) = queue.pop_front() else { break };
            let parts = job.out.join(format!("{}-seed{seed}.safetensors", job.id));
            let mut cmd = std::process::Command::new(&exe);
            cmd.args(&passed).arg("--seed").arg(seed.to_string()).arg("--worker-run-to").arg(&parts);
            // One thread per worker: with two threads, candle's element-wise pool spins beside
            // the matrix products' threads and page faults interrupt both cores; one thread
            // each trained faster per run (REPORT section 6). (Telling jemalloc to keep freed
            // pages was faster for one epoch, and grew a worker to 12 GB over two.)
            for (k, v) in [("RAYON_NUM_THREADS", "1"), ("CANDLE_NUM_THREADS", "1")] {
                if std::env::var_os(k).is_none() {
                    cmd.env(k, v);
                }
            }
            let child = cmd.spawn().with_context(|| format!("starting the worker for seed {seed}"))?;
            running.push((seed, parts, child));
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
        let mut i = 0;
        while i < running.len() {
            if let Some(status) = running[i].2.try_wait()? {
                let (seed, parts, _) = running.swap_remove(i);
                if !status.success() {
                    for (_, _, c) in &mut running {
                        let _ = c.kill();
                    }
                    bail!("the worker training seed {seed} failed ({status})");
                }
                let path = curve_file(&parts);
                let curve = serde_json::from_slice(
                    &std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?,
                )
                .with_context(|| format!("reading {}", path.display()))?;
                done.push(crate::extract::finetune::job::WorkerRun { seed, parts, curve });
            } else {
                i += 1;
            }
        }
    }
    // The soup's order is the seeds' order, whichever finished first.
    done.sort_by_key(|r| job.seeds.iter().position(|&s| s == r.seed));
    Ok(done)
}

fn train(config: &Config, job: &Job) -> Result<()> {
    let models = crate::extract::manifest::catalog(&config.models, &config.model_cache)?;
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("finetune {prefix} {bar:40} {pos}/{len} steps, {msg} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let report = crate::extract::finetune::job::run(job, &models, &config.model_cache, |p| {
        bar.set_length(p.steps as u64);
        bar.set_prefix(format!("{} {}/{}", p.stage, p.epoch + 1, p.of));
        bar.set_position(p.step as u64);
        bar.set_message(format!("loss {:.3}", p.loss));
        // Without a terminal the bar is hidden: a line per epoch still shows progress in logs.
        if bar.is_hidden() && p.step == p.steps {
            eprintln!("finetune: {} {}/{}: training loss {:.4}", p.stage, p.epoch + 1, p.of, p.loss);
        }
    })?;
    bar.finish_and_clear();
    let t = &report.test;
    eprintln!(
        "finetune: test share: aspects P {:.3} R {:.3} F1 {:.3}, aspect polarity {:.3}, sentence 3-way {:.3}, positive/negative {:.3}",
        t.precision, t.recall, t.f1, t.polarity_accuracy, t.sentence_accuracy, t.binary_accuracy
    );
    if let Some(k) = report.refit_kept {
        eprintln!(
            "finetune: aspect heads re-fitted; the development share kept {}",
            crate::extract::finetune::refit::kept_in_words(k)
        );
    }
    for (name, acc) in &report.other {
        eprintln!("finetune: {name} (never trained on): positive/negative {acc:.3}");
    }
    if let Some((t, other)) = &report.best_epoch_scores {
        eprintln!(
            "finetune: for comparison, the best epoch alone: aspects F1 {:.3}, aspect polarity {:.3}, sentence 3-way {:.3}, positive/negative {:.3}{}",
            t.f1,
            t.polarity_accuracy,
            t.sentence_accuracy,
            t.binary_accuracy,
            other.iter().map(|(n, a)| format!(", {n} {a:.3}")).collect::<String>()
        );
    }
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workers_get_the_command_line_less_the_seeds_and_the_workers() {
        // (command line, what a worker is given before its own --seed and --worker-run-to)
        let cases: [(&str, &str); 4] = [
            ("finetune --seeds 31,32,33 --epochs 8 --jobs 2", "finetune --epochs 8"),
            ("finetune --seeds=1,2 --seed=3 --out x --train-only a.tsv", "finetune --out x --train-only a.tsv"),
            (
                "finetune --seed 7 --seeds 1,2 --refit-heads 6 --version 1.4.0",
                "finetune --refit-heads 6 --version 1.4.0",
            ),
            ("finetune --jobs=0 --worker-run-to p --seeds 1,2", "finetune"),
        ];
        for (given, want) in cases {
            let got = worker_args(given.split(' ').map(std::ffi::OsString::from));
            let got: Vec<String> = got.iter().map(|x| x.to_string_lossy().into_owned()).collect();
            assert_eq!(got.join(" "), want, "{given}");
        }
    }
}
