//! `shopgraph keys create|list|revoke`: API keys of a data folder. Works beside a running
//! server (it does not open the store), which picks the change up at its next request.

use crate::auth::{Keys, Role};
use crate::config::Config;
use anyhow::{Context, Result};
use clap::Subcommand;

/// What to do with the keys.
#[derive(Debug, Subcommand)]
pub enum Action {
    /// Create a key and print it (shown this once; only its hash is kept).
    Create {
        /// reader (queries, recommendations), writer (also updates, events, loads) or admin
        /// (also training, keys, the ontology and taxonomy graphs).
        #[arg(long)]
        role: String,
        /// Who or what holds it, e.g. "shop frontend".
        #[arg(long)]
        name: String,
    },
    /// List keys (id, name, role, created, revoked), never their secrets.
    List,
    /// Revoke a key by its id.
    Revoke {
        /// The id `list` shows (the part after `sg_`).
        id: String,
    },
}

pub(super) fn run(config: &Config, action: Action) -> Result<()> {
    let keys = Keys::open(&config.data).with_context(|| format!("opening the keys of {}", config.data.display()))?;
    match action {
        Action::Create { role, name } => {
            let role: Role = role.parse()?;
            let (record, key) = keys.create(&name, role)?;
            eprintln!(
                "created key {} for {:?} with role {}; it is shown only now:",
                record.id, record.name, record.role
            );
            println!("{key}");
        }
        Action::List => println!("{}", serde_json::to_string_pretty(&keys.list()?)?),
        Action::Revoke { id } => {
            let r = keys.revoke(&id)?;
            eprintln!("revoked key {} ({})", r.id, r.name);
        }
    }
    Ok(())
}
