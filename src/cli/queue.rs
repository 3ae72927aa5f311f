//! `shopgraph queue list|accept|reject|export`: the review queue of held machine facts, from
//! the command line (the same engine calls as `GET /queue` and `POST /queue/{id}/...`).

use crate::engine::{Edit, Engine, QueueFilter};
use anyhow::Result;
use clap::Subcommand;
use std::path::PathBuf;

/// What to do with the queue.
#[derive(Debug, Subcommand)]
pub enum Action {
    /// Held facts, least confident first (JSON).
    List {
        /// Only this fact kind (`aspect`, `attribute`, `sentiment`).
        #[arg(long)]
        kind: Option<String>,
        /// Only facts from reviews of this product (its IRI).
        #[arg(long)]
        product: Option<String>,
        /// Only facts whose reason contains this.
        #[arg(long)]
        reason: Option<String>,
        /// Only facts from runs whose IRI contains this (model id or version).
        #[arg(long)]
        model: Option<String>,
        /// At most this many (0: all).
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Accept items: each moves into its graph, marked as accepted by you now.
    Accept {
        /// Item ids (`list` shows them).
        #[arg(required = true)]
        ids: Vec<String>,
        /// Correct the aspect first (IRI or label).
        #[arg(long)]
        aspect: Option<String>,
        /// Correct the polarity first.
        #[arg(long)]
        sentiment: Option<String>,
    },
    /// Reject items: they leave the queue and are kept as negative examples.
    Reject {
        /// Item ids.
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Write the decisions as labelled sentences for `shopgraph finetune --aspects FILE`.
    Export {
        /// Output file (default: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

pub(super) fn run(engine: &Engine, action: Action) -> Result<()> {
    let who = format!("cli:{}", std::env::var("USER").unwrap_or_else(|_| "unknown".into()));
    match action {
        Action::List { kind, product, reason, model, limit } => {
            let items = engine.queue_list(&QueueFilter { kind, product, reason, model, limit })?;
            println!("{}", serde_json::to_string_pretty(&items)?);
        }
        Action::Accept { ids, aspect, sentiment } => {
            let edit = Edit { aspect, sentiment };
            for id in ids {
                let d = engine.queue_accept(&id, &edit, &who)?;
                println!("{}", serde_json::to_string(&d)?);
            }
        }
        Action::Reject { ids } => {
            for id in ids {
                println!("{}", serde_json::to_string(&engine.queue_reject(&id, &who)?)?);
            }
        }
        Action::Export { out } => {
            let tsv = engine.queue_export()?;
            match out {
                Some(p) => std::fs::write(&p, tsv)?,
                None => print!("{tsv}"),
            }
        }
    }
    Ok(())
}
