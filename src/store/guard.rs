//! Checks run on untrusted text before a recursive parser sees it: nesting depth of SPARQL and
//! JSON(-LD), and XML entity declarations (the "billion laughs" expansion).
//!
//! oxigraph's SPARQL parser, its evaluator and the JSON-LD parser recurse once per nesting
//! level; a 10 kB request of nested braces overflows the thread's stack and aborts the whole
//! process (Rust cannot catch a stack overflow). Counting brackets with a small lexer is linear
//! and cannot overflow, so it runs first.

/// Deepest nesting of `{`, `(` and `[` accepted in a SPARQL query or update. Hand-written
/// queries stay far below; the parser and evaluator need well under 64 MiB of stack for it.
pub const MAX_SPARQL_NESTING: usize = 128;

/// Deepest nesting of objects and arrays accepted in a JSON-LD upload.
pub const MAX_JSON_NESTING: usize = 128;

/// Deepest bracket nesting of SPARQL text, ignoring brackets inside strings, IRIs and comments.
pub fn sparql_depth(text: &str) -> usize {
    let b = text.as_bytes();
    let (mut depth, mut max, mut i) = (0usize, 0usize, 0usize);
    while i < b.len() {
        match b[i] {
            b'#' => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            q @ (b'"' | b'\'') => {
                let long = b.get(i + 1) == Some(&q) && b.get(i + 2) == Some(&q);
                i += if long { 3 } else { 1 };
                while i < b.len() {
                    if b[i] == b'\\' {
                        i += 2;
                        continue;
                    }
                    if b[i] == q && (!long || (b.get(i + 1) == Some(&q) && b.get(i + 2) == Some(&q))) {
                        i += if long { 2 } else { 0 };
                        break;
                    }
                    if !long && b[i] == b'\n' {
                        break;
                    }
                    i += 1;
                }
            }
            b'<' => {
                // An IRI runs to `>` without spaces or brackets; otherwise `<` is a comparison.
                let end = b[i + 1..]
                    .iter()
                    .position(|&c| matches!(c, b'>' | b' ' | b'\t' | b'\n' | b'\r' | b'{' | b'}' | b'<' | b'"'));
                if let Some(e) = end
                    && b[i + 1 + e] == b'>'
                {
                    i += 1 + e;
                }
            }
            b'{' | b'(' | b'[' => {
                depth += 1;
                max = max.max(depth);
            }
            b'}' | b')' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    max
}

/// Deepest nesting of JSON objects and arrays, ignoring brackets inside strings.
pub fn json_depth(data: &[u8]) -> usize {
    let (mut depth, mut max, mut i, mut in_str) = (0usize, 0usize, 0usize, false);
    while i < data.len() {
        let c = data[i];
        if in_str {
            match c {
                b'\\' => i += 1,
                b'"' => in_str = false,
                _ => {}
            }
        } else {
            match c {
                b'"' => in_str = true,
                b'{' | b'[' => {
                    depth += 1;
                    max = max.max(depth);
                }
                b'}' | b']' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        i += 1;
    }
    max
}

/// Whether an XML document declares entities in its DTD. RDF/XML never needs them, and the
/// parser would expand nested ones into gigabytes.
pub fn declares_xml_entities(data: &[u8]) -> bool {
    data.windows(8).any(|w| w == b"<!ENTITY")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparql_depth_skips_strings_iris_and_comments() {
        let cases: &[(&str, usize)] = &[
            ("SELECT * WHERE { ?s ?p ?o }", 1),
            ("SELECT * WHERE { { ?s ?p ?o } }", 2),
            ("SELECT * WHERE { ?s ?p \"{{{{\" }", 1),
            ("SELECT * WHERE { ?s ?p '''{{{\n{{''' }", 1),
            ("SELECT * WHERE { ?s <http://x/#{> ?o } # {{{{{", 1),
            ("SELECT * WHERE { ?s ?p ?o FILTER(?o < 3 && (?o > 1)) }", 3),
            ("ASK { [ ?p [ ?q ?r ] ] }", 3),
            ("SELECT * WHERE { ?s ?p \"a\\\"{{\" }", 1),
        ];
        for (q, want) in cases {
            assert_eq!(sparql_depth(q), *want, "{q}");
        }
        assert_eq!(sparql_depth(&"{".repeat(5000)), 5000);
    }

    #[test]
    fn json_depth_skips_strings() {
        assert_eq!(json_depth(br#"{"a": [1, {"b": "[[[["}]}"#), 3);
        assert_eq!(json_depth(br#"{"a": "\"{{"}"#), 1);
        assert_eq!(json_depth(&b"[".repeat(5000)), 5000);
    }

    #[test]
    fn entity_declarations_are_found() {
        assert!(declares_xml_entities(b"<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY a \"aaaa\">]><r/>"));
        assert!(!declares_xml_entities(b"<rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\"/>"));
    }
}
