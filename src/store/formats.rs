//! Content negotiation: Accept headers and `format=` names to oxigraph's result and RDF formats.

use oxigraph::io::RdfFormat;
use oxigraph::sparql::results::QueryResultsFormat;

/// Result formats offered for SELECT/ASK, first is the default.
pub const RESULTS_FORMATS: [QueryResultsFormat; 4] =
    [QueryResultsFormat::Json, QueryResultsFormat::Xml, QueryResultsFormat::Csv, QueryResultsFormat::Tsv];

/// RDF formats offered for CONSTRUCT/DESCRIBE and the Graph Store Protocol, first is the default.
pub const GRAPH_FORMATS: [RdfFormat; 6] = [
    RdfFormat::Turtle,
    RdfFormat::NTriples,
    RdfFormat::JsonLd { profile: oxigraph::io::JsonLdProfileSet::empty() },
    RdfFormat::RdfXml,
    RdfFormat::NQuads,
    RdfFormat::TriG,
];

/// Parsed `Accept` entries sorted by preference (q, then specificity, then order).
fn accept_ranges(accept: &str) -> Vec<(String, f32)> {
    let mut out: Vec<(String, f32, usize)> = accept
        .split(',')
        .enumerate()
        .filter_map(|(i, part)| {
            let mut it = part.split(';');
            let media = it.next()?.trim().to_ascii_lowercase();
            if media.is_empty() {
                return None;
            }
            let mut q = 1.0f32;
            for p in it {
                if let Some(v) = p.trim().strip_prefix("q=") {
                    q = v.trim().parse().unwrap_or(0.0);
                }
            }
            Some((media, q, i))
        })
        .filter(|(_, q, _)| *q > 0.0)
        .collect();
    out.sort_by(|a, b| {
        b.1.partial_cmp(&a.1)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then_with(|| specificity(&b.0).cmp(&specificity(&a.0)))
            .then(a.2.cmp(&b.2))
    });
    out.into_iter().map(|(m, q, _)| (m, q)).collect()
}

fn specificity(m: &str) -> u8 {
    match m {
        "*/*" => 0,
        _ if m.ends_with("/*") => 1,
        _ => 2,
    }
}

fn negotiate<F: Copy>(
    accept: Option<&str>,
    offered: &[F],
    media: impl Fn(F) -> &'static str,
    parse: impl Fn(&str) -> Option<F>,
) -> Option<F> {
    let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else {
        return offered.first().copied();
    };
    for (range, _) in accept_ranges(accept) {
        if range == "*/*" {
            return offered.first().copied();
        }
        if let Some(prefix) = range.strip_suffix("/*") {
            if let Some(f) = offered.iter().copied().find(|f| media(*f).starts_with(prefix)) {
                return Some(f);
            }
            continue;
        }
        if let Some(f) = parse(&range) {
            return Some(f);
        }
        // Browsers send text/html first; JSON is what a person can read there.
        if range == "text/html" || range == "application/xhtml+xml" {
            continue;
        }
    }
    None
}

/// Names clients send in `format=`, `output=` or `results=` (the oxigraph server's short
/// names, SPARQLWrapper's and rdflib's, and media types), for SELECT/ASK results.
pub fn results_by_name(name: &str) -> Option<QueryResultsFormat> {
    match name.trim().to_ascii_lowercase().as_str() {
        "json" | "srj" | "application/json" => Some(QueryResultsFormat::Json),
        "xml" | "srx" | "application/xml" | "text/xml" => Some(QueryResultsFormat::Xml),
        "csv" => Some(QueryResultsFormat::Csv),
        "tsv" => Some(QueryResultsFormat::Tsv),
        other => QueryResultsFormat::from_media_type(other),
    }
}

/// The same for CONSTRUCT/DESCRIBE graphs. N3 is asked for by SPARQLWrapper's default;
/// Turtle is a subset of N3, so every N3 reader reads what is served.
pub fn graph_by_name(name: &str) -> Option<RdfFormat> {
    match name.trim().to_ascii_lowercase().as_str() {
        "ttl"
        | "turtle"
        | "n3"
        | "text/n3"
        | "text/rdf+n3"
        | "application/n3"
        | "application/turtle"
        | "application/x-turtle" => Some(RdfFormat::Turtle),
        "nt" | "ntriples" | "n-triples" => Some(RdfFormat::NTriples),
        "jsonld" | "json-ld" | "application/json" | "json" => Some(GRAPH_FORMATS[2]),
        "rdf" | "xml" | "rdfxml" | "rdf/xml" | "rdf+xml" | "application/xml" | "text/xml" => Some(RdfFormat::RdfXml),
        "nq" | "nquads" | "n-quads" => Some(RdfFormat::NQuads),
        "trig" => Some(RdfFormat::TriG),
        other => RdfFormat::from_media_type(other).filter(|f| GRAPH_FORMATS.contains(f)),
    }
}

/// Picks the result format for SELECT/ASK; `None` means nothing offered is acceptable (406).
/// `names` are the request's `format`/`output`/`results` values in order: the first one that
/// names a results format wins; when none does, the Accept header decides.
pub fn results_format(names: &[String], accept: Option<&str>) -> Option<QueryResultsFormat> {
    if let Some(f) = names.iter().find_map(|n| results_by_name(n)) {
        return Some(f);
    }
    negotiate(accept, &RESULTS_FORMATS, QueryResultsFormat::media_type, results_by_name)
}

/// Picks the RDF format for CONSTRUCT/DESCRIBE and GSP reads; `None` means 406.
pub fn graph_format(names: &[String], accept: Option<&str>) -> Option<RdfFormat> {
    if let Some(f) = names.iter().find_map(|n| graph_by_name(n)) {
        return Some(f);
    }
    negotiate(accept, &GRAPH_FORMATS, RdfFormat::media_type, graph_by_name)
}

/// RDF format of an uploaded body from its Content-Type.
pub fn upload_format(content_type: &str) -> Option<RdfFormat> {
    let media = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    RdfFormat::from_media_type(&media)
}

/// RDF format of a file by extension.
pub fn file_format(path: &std::path::Path) -> Option<RdfFormat> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    match ext.as_str() {
        "json" | "jsonld" => Some(GRAPH_FORMATS[2]),
        other => RdfFormat::from_extension(other),
    }
}

fn serializer(format: RdfFormat, prefixes: &[(&str, &str)]) -> std::io::Result<oxigraph::io::RdfSerializer> {
    let mut ser = oxigraph::io::RdfSerializer::from_format(format);
    for (name, iri) in prefixes {
        ser = ser.with_prefix(*name, *iri).map_err(std::io::Error::other)?;
    }
    Ok(ser)
}

/// Serialises triples made in code (a SHACL report) in a graph format, with the given prefixes
/// where the format has them.
pub fn write_triples(
    triples: &[oxigraph::model::Triple],
    format: RdfFormat,
    prefixes: &[(&str, &str)],
) -> std::io::Result<Vec<u8>> {
    let mut w = serializer(format, prefixes)?.for_writer(Vec::new());
    for t in triples {
        w.serialize_triple(t.as_ref())?;
    }
    w.finish()
}

/// Serialises quads made in code (an ontology version with its shapes) in a dataset format.
pub fn write_quads(
    quads: &[oxigraph::model::Quad],
    format: RdfFormat,
    prefixes: &[(&str, &str)],
) -> std::io::Result<Vec<u8>> {
    let mut w = serializer(format, prefixes)?.for_writer(Vec::new());
    for q in quads {
        w.serialize_quad(q.as_ref())?;
    }
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn q_values_and_wildcards_are_honoured() {
        assert_eq!(
            results_format(&[], Some("text/csv;q=0.5, application/sparql-results+xml")),
            Some(QueryResultsFormat::Xml)
        );
        assert_eq!(results_format(&[], Some("text/*")), Some(QueryResultsFormat::Csv));
        assert_eq!(results_format(&[], None), Some(QueryResultsFormat::Json));
        assert_eq!(results_format(&[], Some("image/png")), None);
        assert_eq!(graph_format(&[], Some("text/html,*/*;q=0.1")), Some(RdfFormat::Turtle));
        assert_eq!(graph_format(&["nt".into()], Some("text/turtle")), Some(RdfFormat::NTriples));
    }

    /// What SPARQLWrapper 2.0, rdflib and Jena send in `format=`/`output=`/`results=` and
    /// Accept, and what each must get.
    #[test]
    fn client_format_names_resolve() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let results_cases: &[(&[&str], Option<&str>, Option<QueryResultsFormat>)] = &[
            (&["json", "json", "json"], None, Some(QueryResultsFormat::Json)),
            (&["xml"], None, Some(QueryResultsFormat::Xml)),
            (&["tsv", "text/tab-separated-values"], None, Some(QueryResultsFormat::Tsv)),
            (&["application/sparql-results+json"], None, Some(QueryResultsFormat::Json)),
            // Unknown names fall back to the Accept header.
            (&["n3"], Some("application/sparql-results+xml"), Some(QueryResultsFormat::Xml)),
            (&["json-ld", "application/ld+json"], Some("text/csv"), Some(QueryResultsFormat::Csv)),
        ];
        for (names, accept, want) in results_cases {
            assert_eq!(results_format(&s(names), *accept), *want, "{names:?} {accept:?}");
        }
        let graph_cases: &[(&[&str], Option<&str>, Option<RdfFormat>)] = &[
            (&["n3", "n3"], None, Some(RdfFormat::Turtle)),
            (&["json-ld", "application/ld+json"], None, Some(GRAPH_FORMATS[2])),
            (&["rdf+xml", "application/rdf+xml"], None, Some(RdfFormat::RdfXml)),
            (&["turtle"], None, Some(RdfFormat::Turtle)),
            (&[], Some("text/rdf+n3,application/n-triples,text/n3"), Some(RdfFormat::Turtle)),
            (&["csv"], Some("application/n-triples"), Some(RdfFormat::NTriples)),
        ];
        for (names, accept, want) in graph_cases {
            assert_eq!(graph_format(&s(names), *accept), *want, "{names:?} {accept:?}");
        }
    }
}
