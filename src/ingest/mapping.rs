//! Column mappings: how a shop's CSV/TSV/JSON Lines file maps onto products, reviews or interactions.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::IngestError;

/// What one row of the file describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Entity {
    /// A catalogue entry.
    Product,
    /// A customer review (also declares the reviewed product and its category).
    Review,
    /// A user event (view, click, add to cart, purchase, rating).
    Interaction,
}

/// Layout of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceFormat {
    /// Comma-separated, first line is the header.
    Csv,
    /// Tab-separated, first line is the header.
    Tsv,
    /// One JSON object per line.
    Jsonl,
}

/// One column name or several (a category path, most general first).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum Columns {
    /// A single column.
    One(String),
    /// Several columns read in order.
    Many(Vec<String>),
}

impl Columns {
    /// The column names.
    pub fn names(&self) -> Vec<&str> {
        match self {
            Self::One(c) => vec![c.as_str()],
            Self::Many(cs) => cs.iter().map(String::as_str).collect(),
        }
    }
}

/// Source column for each field shopgraph understands; absent means the file has none.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnMap {
    pub id: Option<String>,
    pub product: Option<String>,
    pub name: Option<String>,
    pub description: Option<String>,
    pub brand: Option<String>,
    pub category: Option<Columns>,
    pub price: Option<String>,
    pub currency: Option<String>,
    pub availability: Option<String>,
    pub author: Option<String>,
    pub rating: Option<String>,
    pub title: Option<String>,
    pub text: Option<String>,
    pub recommended: Option<String>,
    pub helpful_votes: Option<String>,
    pub reviewer_age: Option<String>,
    pub user: Option<String>,
    pub item: Option<String>,
    pub event: Option<String>,
    pub timestamp: Option<String>,
    pub weight: Option<String>,
    pub value: Option<String>,
}

/// Inclusive rating scale.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct Scale {
    pub min: f64,
    pub max: f64,
}

impl Default for Scale {
    fn default() -> Self {
        Self { min: 1.0, max: 5.0 }
    }
}

/// A mapping file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    /// What rows describe.
    pub entity: Entity,
    /// File layout; guessed from the extension when absent.
    pub format: Option<SourceFormat>,
    /// Field to column.
    pub columns: ColumnMap,
    /// Rating scale; ratings outside it are rejected.
    #[serde(default)]
    pub rating: Scale,
    /// Currency when the file has no currency column.
    #[serde(default = "default_currency")]
    pub currency: String,
    /// Source category name (case-insensitive) to Google taxonomy id.
    #[serde(default)]
    pub categories: BTreeMap<String, u32>,
    /// Value fixes applied before anything else (misspellings in the source).
    #[serde(default)]
    pub aliases: BTreeMap<String, String>,
    /// Interaction weight per event type, over the ontology's defaults.
    #[serde(default)]
    pub event_weights: BTreeMap<String, f64>,
    /// Human note on where the data comes from.
    #[serde(default)]
    pub source: Option<String>,
}

fn default_currency() -> String {
    "USD".into()
}

impl Mapping {
    /// Reads a mapping file.
    pub fn from_file(path: &Path) -> Result<Self, IngestError> {
        let text =
            std::fs::read_to_string(path).map_err(|e| IngestError::Io { path: path.into(), message: e.to_string() })?;
        let m: Self =
            toml::from_str(&text).map_err(|e| IngestError::Mapping { path: path.into(), message: e.to_string() })?;
        m.validate().map_err(|message| IngestError::Mapping { path: path.into(), message })?;
        Ok(m)
    }

    /// Checks that the fields an entity needs are mapped.
    pub fn validate(&self) -> Result<(), String> {
        let c = &self.columns;
        let need: &[(&str, bool)] = match self.entity {
            Entity::Product => &[("id", c.id.is_some())],
            Entity::Review => &[("id", c.id.is_some()), ("product", c.product.is_some())],
            Entity::Interaction => {
                &[("user", c.user.is_some()), ("item", c.item.is_some()), ("event", c.event.is_some())]
            }
        };
        for (field, ok) in need {
            if !ok {
                return Err(format!("entity {:?} needs columns.{field}", self.entity));
            }
        }
        if self.rating.min >= self.rating.max {
            return Err("rating.min must be below rating.max".into());
        }
        Ok(())
    }

    /// The mapping beside a data file: `name.csv` -> `name.mapping.toml`.
    pub fn beside(data_file: &Path) -> Option<PathBuf> {
        let stem = data_file.file_stem()?.to_str()?;
        let p = data_file.with_file_name(format!("{stem}.mapping.toml"));
        p.exists().then_some(p)
    }

    /// The file layout, from the mapping or the extension.
    pub fn format_for(&self, path: &Path) -> Result<SourceFormat, IngestError> {
        if let Some(f) = self.format {
            return Ok(f);
        }
        match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
            Some("csv") => Ok(SourceFormat::Csv),
            Some("tsv" | "tab") => Ok(SourceFormat::Tsv),
            Some("jsonl" | "ndjson") => Ok(SourceFormat::Jsonl),
            _ => Err(IngestError::Mapping {
                path: path.into(),
                message: "cannot tell the format from the extension; set `format` in the mapping".into(),
            }),
        }
    }
}
