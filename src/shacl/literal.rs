//! Literal checks SHACL needs: is a lexical form valid for its XSD datatype, and how two
//! literals order (numbers by value, dates and date-times of one datatype by their text).

use oxigraph::model::Term;
use std::cmp::Ordering;

const XSD: &str = "http://www.w3.org/2001/XMLSchema#";

/// Integer datatypes with their bounds (`None`: unbounded).
const INTEGERS: [(&str, Option<i128>, Option<i128>); 13] = [
    ("integer", None, None),
    ("long", Some(i64::MIN as i128), Some(i64::MAX as i128)),
    ("int", Some(i32::MIN as i128), Some(i32::MAX as i128)),
    ("short", Some(i16::MIN as i128), Some(i16::MAX as i128)),
    ("byte", Some(i8::MIN as i128), Some(i8::MAX as i128)),
    ("nonNegativeInteger", Some(0), None),
    ("positiveInteger", Some(1), None),
    ("nonPositiveInteger", None, Some(0)),
    ("negativeInteger", None, Some(-1)),
    ("unsignedLong", Some(0), Some(u64::MAX as i128)),
    ("unsignedInt", Some(0), Some(u32::MAX as i128)),
    ("unsignedShort", Some(0), Some(u16::MAX as i128)),
    ("unsignedByte", Some(0), Some(u8::MAX as i128)),
];

fn digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn integer(s: &str) -> bool {
    digits(s.strip_prefix(['+', '-']).unwrap_or(s))
}

fn decimal(s: &str) -> bool {
    let s = s.strip_prefix(['+', '-']).unwrap_or(s);
    match s.split_once('.') {
        Some((a, b)) => (a.is_empty() || digits(a)) && (b.is_empty() || digits(b)) && !(a.is_empty() && b.is_empty()),
        None => digits(s),
    }
}

fn floating(s: &str) -> bool {
    matches!(s, "INF" | "+INF" | "-INF" | "NaN")
        || (!s.contains(['i', 'I', 'n', 'N']) && s.parse::<f64>().is_ok() && !s.ends_with('.'))
        || s.ends_with('.') && decimal(s)
}

/// `-?YYYY-MM-DD` with an optional time zone; month and day in range.
fn date(s: &str) -> bool {
    let s = s.strip_prefix('-').unwrap_or(s);
    let (body, _) = split_zone(s);
    let parts: Vec<&str> = body.split('-').collect();
    matches!(parts.as_slice(), [y, m, d] if y.len() >= 4 && digits(y) && two(m, 1, 12) && two(d, 1, 31))
}

fn two(s: &str, lo: u32, hi: u32) -> bool {
    s.len() == 2 && digits(s) && s.parse::<u32>().is_ok_and(|v| (lo..=hi).contains(&v))
}

fn split_zone(s: &str) -> (&str, Option<&str>) {
    if let Some(b) = s.strip_suffix('Z') {
        return (b, Some("Z"));
    }
    if s.len() > 6 {
        let (b, z) = s.split_at(s.len() - 6);
        if (z.starts_with('+') || z.starts_with('-')) && z.as_bytes()[3] == b':' {
            return (b, Some(z));
        }
    }
    (s, None)
}

fn date_time(s: &str) -> bool {
    let Some((d, t)) = s.split_once('T') else { return false };
    let (t, _) = split_zone(t);
    let (hms, frac) = t.split_once('.').unwrap_or((t, "0"));
    let parts: Vec<&str> = hms.split(':').collect();
    date(d)
        && digits(frac)
        && matches!(parts.as_slice(), [h, m, sec] if two(h, 0, 24) && two(m, 0, 59) && two(sec, 0, 60))
}

/// Whether a literal's lexical form is valid for its datatype. Datatypes outside the ones
/// checked here (strings, IRIs, language strings, custom types) are valid by form.
pub fn well_formed(datatype: &str, value: &str) -> bool {
    let Some(local) = datatype.strip_prefix(XSD) else { return true };
    if let Some((_, lo, hi)) = INTEGERS.iter().find(|(l, _, _)| *l == local) {
        if !integer(value) {
            return false;
        }
        return match value.trim_start_matches('+').parse::<i128>() {
            Ok(v) => lo.is_none_or(|lo| v >= lo) && hi.is_none_or(|hi| v <= hi),
            // Longer than i128: only the unbounded types take it.
            Err(_) => lo.is_none() && hi.is_none(),
        };
    }
    match local {
        "decimal" => decimal(value),
        "double" | "float" => floating(value),
        "boolean" => matches!(value, "true" | "false" | "1" | "0"),
        "date" => date(value),
        "dateTime" | "dateTimeStamp" => date_time(value),
        _ => true,
    }
}

/// What a literal orders by: a number, or text within its datatype.
#[derive(Debug, Clone, PartialEq)]
pub enum Ordered {
    /// Numeric datatypes, by value.
    Number(f64),
    /// Dates and date-times (same datatype and zone form: by text), and plain strings.
    Text(String, String),
}

/// The value a literal orders by, or `None` when it has no order SHACL's range components use.
pub fn number_or_ordered(t: &Term) -> Option<Ordered> {
    let Term::Literal(l) = t else { return None };
    let dt = l.datatype();
    let local = dt.as_str().strip_prefix(XSD)?;
    if !well_formed(dt.as_str(), l.value()) {
        return None;
    }
    let numeric = INTEGERS.iter().any(|(n, _, _)| *n == local) || matches!(local, "decimal" | "double" | "float");
    if numeric {
        let v = match l.value() {
            "INF" | "+INF" => f64::INFINITY,
            "-INF" => f64::NEG_INFINITY,
            other => other.parse::<f64>().ok()?,
        };
        return (!v.is_nan()).then_some(Ordered::Number(v));
    }
    matches!(local, "date" | "dateTime" | "dateTimeStamp" | "string")
        .then(|| Ordered::Text(local.to_owned(), l.value().to_owned()))
}

/// How `value` compares with `bound`; `None` when they are not comparable (which a range
/// constraint reports as a violation).
pub fn compare(value: &Term, bound: &Term) -> Option<Ordering> {
    match (number_or_ordered(value)?, number_or_ordered(bound)?) {
        (Ordered::Number(a), Ordered::Number(b)) => a.partial_cmp(&b),
        (Ordered::Text(ta, a), Ordered::Text(tb, b)) if ta == tb => Some(a.cmp(&b)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lexical_forms_by_datatype() {
        let cases = [
            ("integer", "42", true),
            ("integer", "-0", true),
            ("integer", "4.2", false),
            ("integer", "", false),
            ("nonNegativeInteger", "-1", false),
            ("byte", "128", false),
            ("decimal", "12.50", true),
            ("decimal", ".5", true),
            ("decimal", "1e3", false),
            ("decimal", "abc", false),
            ("double", "1e39", true),
            ("double", "INF", true),
            ("double", "inf", false),
            ("boolean", "yes", false),
            ("date", "2024-02-30", true),
            ("date", "2024-13-01", false),
            ("dateTime", "2024-05-01T10:00:00Z", true),
            ("dateTime", "2024-05-01T10:00:00.123+02:00", true),
            ("dateTime", "2024-05-01 10:00", false),
            ("string", "anything", true),
        ];
        for (dt, v, ok) in cases {
            assert_eq!(well_formed(&format!("{XSD}{dt}"), v), ok, "{dt} {v:?}");
        }
    }
}
