//! The shipped ontology, vocabularies and taxonomy as quads, and deterministic minting of instance IRIs.
//!
//! Imports nothing of ours: other modules read IRIs from [`vocab`] and mint through [`Minter`].

pub mod vocab;

use oxigraph::io::{RdfFormat, RdfParser};
use oxigraph::model::{GraphName, Literal, NamedNode, Quad};

/// Errors of this module.
#[derive(Debug, thiserror::Error)]
pub enum OntologyError {
    /// A shipped RDF file does not parse (a broken build, or a user-edited ontology file).
    #[error("ontology file {file} does not parse: {message}")]
    Parse { file: String, message: String },
    /// A line of the taxonomy file is not `id - A > B > C`.
    #[error("taxonomy line {line}: {message}")]
    Taxonomy { line: usize, message: String },
    /// An identifier produced an IRI that is not valid.
    #[error("invalid IRI {0}")]
    Iri(String),
}

/// The shopgraph ontology (Turtle), embedded so a binary needs no repo checkout.
pub const ONTOLOGY_TTL: &str = include_str!("../../ontology/shopgraph.ttl");
/// The SHACL shapes, Turtle.
pub const SHAPES_TTL: &str = include_str!("../../ontology/shapes.ttl");
const SCHEMA_NQ: &[u8] = include_bytes!("../../ontology/vendor/schema.nq");
const GR_NQ: &[u8] = include_bytes!("../../ontology/vendor/gr.nq");
const REV_NQ: &[u8] = include_bytes!("../../ontology/vendor/rev.nq");
/// The Google product taxonomy text file (`id - A > B > C`).
pub const TAXONOMY_TXT: &str = include_str!("../../ontology/vendor/google-product-taxonomy.en-US.txt");

fn nn(iri: &str) -> NamedNode {
    NamedNode::new_unchecked(iri)
}

fn parse_into(
    file: &str,
    format: RdfFormat,
    data: &[u8],
    graph: Option<&str>,
    out: &mut Vec<Quad>,
) -> Result<(), OntologyError> {
    let mut parser = RdfParser::from_format(format);
    if let Some(g) = graph {
        parser = parser.with_default_graph(nn(g));
    }
    for q in parser.for_slice(data) {
        out.push(q.map_err(|e| OntologyError::Parse { file: file.into(), message: e.to_string() })?);
    }
    Ok(())
}

/// All quads of the fused ontology: shopgraph's own graph, schema.org, GoodRelations, the RDF
/// Review vocabulary (each in the named graph its file gives) and the taxonomy as SKOS.
pub fn ontology_quads() -> Result<Vec<Quad>, OntologyError> {
    let mut out = Vec::with_capacity(32_000);
    parse_into(
        "ontology/shopgraph.ttl",
        RdfFormat::Turtle,
        ONTOLOGY_TTL.as_bytes(),
        Some(vocab::GRAPH_ONTOLOGY),
        &mut out,
    )?;
    parse_into("ontology/shapes.ttl", RdfFormat::Turtle, SHAPES_TTL.as_bytes(), Some(vocab::GRAPH_SHAPES), &mut out)?;
    parse_into("ontology/vendor/schema.nq", RdfFormat::NQuads, SCHEMA_NQ, None, &mut out)?;
    parse_into("ontology/vendor/gr.nq", RdfFormat::NQuads, GR_NQ, None, &mut out)?;
    parse_into("ontology/vendor/rev.nq", RdfFormat::NQuads, REV_NQ, None, &mut out)?;
    out.extend(taxonomy_quads(TAXONOMY_TXT)?);
    Ok(out)
}

/// One taxonomy concept as parsed from the text file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaxonomyEntry {
    /// Google's numeric id.
    pub id: u32,
    /// Full path, root first.
    pub path: Vec<String>,
}

/// Parses the `id - A > B > C` taxonomy format; `#` lines are comments.
pub fn parse_taxonomy(text: &str) -> Result<Vec<TaxonomyEntry>, OntologyError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (id, path) = line
            .split_once(" - ")
            .ok_or(OntologyError::Taxonomy { line: i + 1, message: "expected `id - path`".into() })?;
        let id = id
            .trim()
            .parse()
            .map_err(|_| OntologyError::Taxonomy { line: i + 1, message: format!("bad id {id:?}") })?;
        let path = path.split(" > ").map(|s| s.trim().to_owned()).collect();
        out.push(TaxonomyEntry { id, path });
    }
    Ok(out)
}

/// IRI of a taxonomy concept.
pub fn taxonomy_concept(id: u32) -> NamedNode {
    nn(&format!("{}{id}", vocab::TAXONOMY))
}

/// A category as requests name it: a Google taxonomy id stands for its concept, anything else
/// is taken as the IRI it is.
pub fn category_iri(c: &str) -> String {
    if !c.is_empty() && c.chars().all(|ch| ch.is_ascii_digit()) {
        format!("{}{c}", vocab::TAXONOMY)
    } else {
        c.to_owned()
    }
}

/// The taxonomy as SKOS concepts (typed `sg:Category`) with `skos:broader`, in its own graph.
pub fn taxonomy_quads(text: &str) -> Result<Vec<Quad>, OntologyError> {
    let entries = parse_taxonomy(text)?;
    let by_path: std::collections::HashMap<&[String], u32> =
        entries.iter().map(|e| (e.path.as_slice(), e.id)).collect();
    let g = GraphName::NamedNode(nn(vocab::GRAPH_TAXONOMY));
    let scheme = nn(vocab::TAXONOMY_SCHEME);
    let version =
        text.lines().find_map(|l| l.strip_prefix("# Google_Product_Taxonomy_Version:")).map_or("unknown", str::trim);
    let mut out = vec![
        Quad::new(scheme.clone(), nn(vocab::RDF_TYPE), nn(vocab::SKOS_CONCEPT_SCHEME), g.clone()),
        Quad::new(
            scheme.clone(),
            nn(vocab::RDFS_LABEL),
            Literal::new_language_tagged_literal_unchecked("Google product taxonomy", "en"),
            g.clone(),
        ),
        Quad::new(scheme.clone(), nn(vocab::OWL_VERSION_INFO), Literal::from(version), g.clone()),
    ];
    for e in &entries {
        let c = taxonomy_concept(e.id);
        let label = e.path.last().map_or("", String::as_str);
        out.push(Quad::new(c.clone(), nn(vocab::RDF_TYPE), nn(vocab::SKOS_CONCEPT), g.clone()));
        out.push(Quad::new(c.clone(), nn(vocab::RDF_TYPE), nn(vocab::CATEGORY), g.clone()));
        out.push(Quad::new(
            c.clone(),
            nn(vocab::SKOS_PREF_LABEL),
            Literal::new_language_tagged_literal_unchecked(label, "en"),
            g.clone(),
        ));
        out.push(Quad::new(c.clone(), nn(vocab::SKOS_NOTATION), Literal::from(e.id.to_string()), g.clone()));
        out.push(Quad::new(c.clone(), nn(vocab::SKOS_IN_SCHEME), scheme.clone(), g.clone()));
        if e.path.len() == 1 {
            out.push(Quad::new(c.clone(), nn(vocab::SKOS_TOP_CONCEPT_OF), scheme.clone(), g.clone()));
        } else if let Some(parent) = by_path.get(&e.path[..e.path.len() - 1]) {
            out.push(Quad::new(c, nn(vocab::SKOS_BROADER), taxonomy_concept(*parent), g.clone()));
        } else {
            return Err(OntologyError::Taxonomy {
                line: 0,
                message: format!("concept {} has no parent in the file", e.id),
            });
        }
    }
    Ok(out)
}

/// Percent-encodes everything but RFC 3986 unreserved characters, so any shop id is a safe IRI segment.
pub fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Mints instance IRIs under a base. The same input always gives the same IRI, which is what
/// makes loading the same data twice leave the same triples.
#[derive(Debug, Clone)]
pub struct Minter {
    base: String,
}

impl Minter {
    /// A minter under `base` (must end in `/` or `#`).
    pub fn new(base: &str) -> Result<Self, OntologyError> {
        NamedNode::new(format!("{base}x")).map_err(|_| OntologyError::Iri(base.into()))?;
        Ok(Self { base: base.to_owned() })
    }

    fn mint(&self, kind: &str, id: &str) -> NamedNode {
        nn(&format!("{}{kind}/{}", self.base, encode_segment(id)))
    }

    /// A search event by a hash of its content.
    pub fn search_event(&self, id: &str) -> NamedNode {
        self.mint("search", id)
    }

    /// Product by the shop's id.
    pub fn product(&self, id: &str) -> NamedNode {
        self.mint("product", id)
    }
    /// Review by the source's review id.
    pub fn review(&self, id: &str) -> NamedNode {
        self.mint("review", id)
    }
    /// User by pseudonym (never the raw id).
    pub fn user(&self, pseudonym: &str) -> NamedNode {
        self.mint("user", pseudonym)
    }
    /// Brand by normalised name.
    pub fn brand(&self, name: &str) -> NamedNode {
        self.mint("brand", &name.to_lowercase())
    }
    /// The offer of a product (one offer per product and currency).
    pub fn offer(&self, product_id: &str, currency: &str) -> NamedNode {
        self.mint("offer", &format!("{product_id}-{currency}"))
    }
    /// Interaction by a content hash of its fields.
    pub fn interaction(&self, key: &str) -> NamedNode {
        self.mint("interaction", key)
    }
    /// A loaded dataset by its name.
    pub fn dataset(&self, name: &str) -> NamedNode {
        self.mint("dataset", name)
    }
    /// The base.
    pub fn base(&self) -> &str {
        &self.base
    }
}

/// Map from a product IRI back to the shop id, the inverse of [`Minter::product`].
pub fn product_id_from_iri<'a>(minter: &Minter, iri: &'a str) -> Option<std::borrow::Cow<'a, str>> {
    let rest = iri.strip_prefix(minter.base())?.strip_prefix("product/")?;
    Some(percent_decode(rest))
}

fn percent_decode(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.contains('%') {
        return std::borrow::Cow::Borrowed(s);
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    std::borrow::Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn taxonomy_has_every_concept_and_a_parent_for_each_non_root() {
        let entries = parse_taxonomy(TAXONOMY_TXT).unwrap();
        assert_eq!(entries.len(), 5582);
        let quads = taxonomy_quads(TAXONOMY_TXT).unwrap();
        let broader = quads.iter().filter(|q| q.predicate.as_str() == vocab::SKOS_BROADER).count();
        let roots = entries.iter().filter(|e| e.path.len() == 1).count();
        assert_eq!(broader + roots, entries.len());
    }

    #[test]
    fn minted_ids_round_trip_and_escape() {
        let m = Minter::new(vocab::DEFAULT_BASE).unwrap();
        let iri = m.product("a b/ç%");
        assert!(NamedNode::new(iri.as_str()).is_ok());
        assert_eq!(product_id_from_iri(&m, iri.as_str()).unwrap(), "a b/ç%");
        assert_eq!(m.product("767"), m.product("767"));
    }

    #[test]
    fn ontology_parses_and_declares_its_version() {
        let q = ontology_quads().unwrap();
        assert!(q.iter().any(|q| q.predicate.as_str() == vocab::OWL_VERSION_INFO
            && q.object.to_string() == format!("\"{}\"", vocab::ONTOLOGY_VERSION)));
    }
}
