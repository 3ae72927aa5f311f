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
    let config = Config::resolve(&a.store.overrides(None), &|k| std::env::var(k).ok())?;
    let job = Job {
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
    };
    train(&config, &job)
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
