//! Named SPARQL queries from queries/*.rq: their header (description, typed parameters) and
//! turning request parameters into RDF terms. The query text itself is never edited.

use crate::ontology::{self, Minter};
use oxigraph::model::{Literal, NamedNode, Term};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

include!(concat!(env!("OUT_DIR"), "/builtin_queries.rs"));

/// Errors of named queries.
#[derive(Debug, thiserror::Error)]
pub enum NamedQueryError {
    /// No query has this name.
    #[error("no named query {0:?}")]
    Unknown(String),
    /// A header line is malformed.
    #[error("{file}: {message}")]
    Header { file: String, message: String },
    /// A required parameter is missing.
    #[error("parameter {0:?} is required")]
    MissingParam(String),
    /// A parameter that the query does not declare.
    #[error("unknown parameter {param:?}; this query takes: {known}")]
    UnknownParam { param: String, known: String },
    /// A parameter value that is not of its declared type.
    #[error("parameter {param:?}: {value:?} is not a valid {kind}")]
    BadParam { param: String, value: String, kind: &'static str },
    /// The queries directory cannot be read.
    #[error("cannot read {0}")]
    Io(String),
}

/// Type of a parameter: how a string from the URL becomes an RDF term.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ParamKind {
    /// Any absolute IRI.
    Iri,
    /// A shop product id, bound to the product's IRI.
    Product,
    /// A Google taxonomy id, bound to its concept IRI.
    Category,
    /// A plain string literal.
    String,
    /// xsd:integer.
    Integer,
    /// xsd:decimal.
    Decimal,
    /// xsd:double.
    Double,
    /// xsd:boolean.
    Boolean,
}

impl ParamKind {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "iri" => Self::Iri,
            "product" => Self::Product,
            "category" => Self::Category,
            "string" => Self::String,
            "integer" => Self::Integer,
            "decimal" => Self::Decimal,
            "double" => Self::Double,
            "boolean" => Self::Boolean,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Self::Iri => "IRI",
            Self::Product => "product id",
            Self::Category => "taxonomy category id",
            Self::String => "string",
            Self::Integer => "integer",
            Self::Decimal => "decimal",
            Self::Double => "double",
            Self::Boolean => "boolean",
        }
    }
}

/// A declared parameter: `# param: NAME KIND [default]`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Param {
    /// Name in the URL and variable in the query (`?NAME`).
    pub name: String,
    /// Type.
    pub kind: ParamKind,
    /// Value used when the request gives none; none means required.
    pub default: Option<String>,
}

/// One named query.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NamedQuery {
    /// URL name (`/queries/{name}`), the file stem.
    pub name: String,
    /// `# description:` line.
    pub description: String,
    /// Declared parameters.
    pub params: Vec<Param>,
    /// The SPARQL text.
    #[serde(skip)]
    pub text: String,
}

impl NamedQuery {
    /// Parses the `# key: value` header lines at the top of an .rq file.
    pub fn parse(file: &str, text: &str) -> Result<Self, NamedQueryError> {
        let name = file.strip_suffix(".rq").unwrap_or(file).to_owned();
        let mut description = String::new();
        let mut params = Vec::new();
        for line in text.lines() {
            let Some(h) = line.trim().strip_prefix('#') else {
                if line.trim().is_empty() {
                    continue;
                }
                break;
            };
            let Some((key, value)) = h.split_once(':') else {
                continue;
            };
            match key.trim() {
                "description" => description = value.trim().to_owned(),
                "param" => {
                    let mut parts = value.split_whitespace();
                    let (Some(pname), Some(kind)) = (parts.next(), parts.next()) else {
                        return Err(NamedQueryError::Header {
                            file: file.into(),
                            message: format!("`param:` needs a name and a type: {line}"),
                        });
                    };
                    let kind = ParamKind::parse(kind).ok_or_else(|| NamedQueryError::Header {
                        file: file.into(),
                        message: format!("unknown parameter type {kind:?}"),
                    })?;
                    let default = parts.next().map(str::to_owned);
                    params.push(Param { name: pname.into(), kind, default });
                }
                _ => {}
            }
        }
        Ok(Self { name, description, params, text: text.to_owned() })
    }

    /// Turns request parameters into bindings, checking names and types.
    pub fn bind(
        &self,
        given: &HashMap<String, String>,
        minter: &Minter,
    ) -> Result<Vec<(String, Term)>, NamedQueryError> {
        for k in given.keys() {
            if !self.params.iter().any(|p| &p.name == k) {
                return Err(NamedQueryError::UnknownParam {
                    param: k.clone(),
                    known: self.params.iter().map(|p| p.name.as_str()).collect::<Vec<_>>().join(", "),
                });
            }
        }
        let mut out = Vec::new();
        for p in &self.params {
            let value = match given.get(&p.name).or(p.default.as_ref()) {
                Some(v) => v,
                None => return Err(NamedQueryError::MissingParam(p.name.clone())),
            };
            out.push((p.name.clone(), to_term(p, value, minter)?));
        }
        Ok(out)
    }
}

fn to_term(p: &Param, v: &str, minter: &Minter) -> Result<Term, NamedQueryError> {
    let bad = || NamedQueryError::BadParam { param: p.name.clone(), value: v.into(), kind: p.kind.name() };
    let typed = |dt: &str| Literal::new_typed_literal(v, NamedNode::new_unchecked(dt));
    Ok(match p.kind {
        ParamKind::Iri => NamedNode::new(v).map_err(|_| bad())?.into(),
        ParamKind::Product => {
            if v.is_empty() {
                return Err(bad());
            }
            minter.product(v).into()
        }
        ParamKind::Category => ontology::taxonomy_concept(v.parse().map_err(|_| bad())?).into(),
        ParamKind::String => Literal::from(v).into(),
        ParamKind::Integer => {
            v.parse::<i64>().map_err(|_| bad())?;
            typed(ontology::vocab::XSD_INTEGER).into()
        }
        ParamKind::Decimal => {
            if v.is_empty()
                || !v.chars().all(|c| c.is_ascii_digit() || c == '.' || c == '-')
                || v.parse::<f64>().is_err()
            {
                return Err(bad());
            }
            typed(ontology::vocab::XSD_DECIMAL).into()
        }
        ParamKind::Double => Literal::from(v.parse::<f64>().map_err(|_| bad())?).into(),
        ParamKind::Boolean => Literal::from(v.parse::<bool>().map_err(|_| bad())?).into(),
    })
}

/// All named queries: the built-in ones, then a user directory's (same name replaces).
#[derive(Debug, Clone, Default)]
pub struct NamedQueries {
    by_name: BTreeMap<String, NamedQuery>,
}

impl NamedQueries {
    /// Built-ins plus `dir` if given.
    pub fn load(dir: Option<&Path>) -> Result<Self, NamedQueryError> {
        let mut by_name = BTreeMap::new();
        for (file, text) in BUILTIN {
            let q = NamedQuery::parse(file, text)?;
            by_name.insert(q.name.clone(), q);
        }
        if let Some(dir) = dir {
            let entries = std::fs::read_dir(dir).map_err(|e| NamedQueryError::Io(format!("{}: {e}", dir.display())))?;
            for e in entries.flatten() {
                let path = e.path();
                if path.extension().is_some_and(|x| x == "rq") {
                    let text = std::fs::read_to_string(&path)
                        .map_err(|e| NamedQueryError::Io(format!("{}: {e}", path.display())))?;
                    let file = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
                    let q = NamedQuery::parse(file, &text)?;
                    by_name.insert(q.name.clone(), q);
                }
            }
        }
        Ok(Self { by_name })
    }

    /// Looks a query up.
    pub fn get(&self, name: &str) -> Result<&NamedQuery, NamedQueryError> {
        self.by_name.get(name).ok_or_else(|| NamedQueryError::Unknown(name.into()))
    }

    /// An internal query (queries/internal/NAME.rq), used by the engine and not served.
    pub fn internal(name: &str) -> Result<NamedQuery, NamedQueryError> {
        let file = format!("{name}.rq");
        let (_, text) =
            INTERNAL.iter().find(|(f, _)| *f == file).ok_or_else(|| NamedQueryError::Unknown(name.into()))?;
        NamedQuery::parse(&file, text)
    }

    /// Every query, by name.
    pub fn all(&self) -> impl Iterator<Item = &NamedQuery> {
        self.by_name.values()
    }
}
