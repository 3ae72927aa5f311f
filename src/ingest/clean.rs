//! Cleaning rules for tabular rows: normalisation, typed parsing, rejects with a reason.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use unicode_normalization::UnicodeNormalization;

/// NFC, trimmed, inner whitespace runs collapsed to one space. Returns whether anything changed.
pub fn normalise_text(s: &str) -> (String, bool) {
    let nfc: String = s.nfc().collect();
    let mut out = String::with_capacity(nfc.len());
    for word in nfc.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    let changed = out != s;
    (out, changed)
}

/// Why a row was rejected; the names are the report's rule names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reject {
    /// A required field is empty or absent.
    MissingRequired(&'static str),
    /// A rating that is not a number.
    RatingNotANumber(String),
    /// A rating outside the mapping's scale.
    RatingOutOfScale(String),
    /// A price that is not a number.
    PriceNotANumber(String),
    /// A negative price.
    NegativePrice(String),
    /// A timestamp in no known format.
    BadTimestamp(String),
    /// An event type shopgraph does not know.
    UnknownEvent(String),
    /// A negative, non-numeric or out-of-range weight or value.
    BadNumber(&'static str, String),
    /// The same id was seen before with different content.
    ConflictingDuplicateId(String),
    /// The line is not valid CSV/JSON or not UTF-8.
    Malformed(String),
}

impl Reject {
    /// Rule name used in the report.
    pub fn rule(&self) -> String {
        match self {
            Self::MissingRequired(f) => format!("rejected:missing_{f}"),
            Self::RatingNotANumber(_) => "rejected:rating_not_a_number".into(),
            Self::RatingOutOfScale(_) => "rejected:rating_out_of_scale".into(),
            Self::PriceNotANumber(_) => "rejected:price_not_a_number".into(),
            Self::NegativePrice(_) => "rejected:negative_price".into(),
            Self::BadTimestamp(_) => "rejected:bad_timestamp".into(),
            Self::UnknownEvent(_) => "rejected:unknown_event".into(),
            Self::BadNumber(f, _) => format!("rejected:bad_{f}"),
            Self::ConflictingDuplicateId(_) => "rejected:conflicting_duplicate_id".into(),
            Self::Malformed(_) => "rejected:malformed_row".into(),
        }
    }

    /// Human reason written to the rejects file.
    pub fn reason(&self) -> String {
        match self {
            Self::MissingRequired(f) => format!("required field {f} is empty"),
            Self::RatingNotANumber(v) => format!("rating {v:?} is not a number"),
            Self::RatingOutOfScale(v) => format!("rating {v} is outside the scale"),
            Self::PriceNotANumber(v) => format!("price {v:?} is not a number"),
            Self::NegativePrice(v) => format!("price {v} is negative"),
            Self::BadTimestamp(v) => {
                format!("timestamp {v:?} is not RFC 3339, `YYYY-MM-DD[ HH:MM:SS]` or Unix seconds")
            }
            Self::UnknownEvent(v) => {
                format!("event type {v:?} is not view, click, add_to_cart, purchase or rating")
            }
            Self::BadNumber(f, v) => {
                format!("{f} {v:?} is not a number in the accepted range (0 to 1e4 for weights, 1e9 for values)")
            }
            Self::ConflictingDuplicateId(id) => {
                format!("id {id} appeared before with different content")
            }
            Self::Malformed(m) => format!("malformed row: {m}"),
        }
    }
}

/// Parses a timestamp: RFC 3339, `YYYY-MM-DD HH:MM:SS` or `YYYY-MM-DDTHH:MM:SS` (UTC),
/// `YYYY-MM-DD`, or Unix seconds.
pub fn parse_timestamp(s: &str) -> Result<DateTime<Utc>, Reject> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    for f in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return Ok(t.and_utc());
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d")
        && let Some(t) = d.and_hms_opt(0, 0, 0)
    {
        return Ok(t.and_utc());
    }
    // Unix seconds; nonsense epochs (before 1990 or after 2100) are rejected, not stored.
    if let Ok(secs) = s.parse::<i64>()
        && (631_152_000..4_102_444_800).contains(&secs)
        && let Some(t) = DateTime::from_timestamp(secs, 0)
    {
        return Ok(t);
    }
    Err(Reject::BadTimestamp(s.into()))
}

/// Canonical event type name from the many ways shops spell them.
pub fn parse_event(s: &str) -> Result<&'static str, Reject> {
    let k: String = s.to_ascii_lowercase().chars().filter(|c| c.is_ascii_alphanumeric()).collect();
    Ok(match k.as_str() {
        "view" | "pageview" | "detailview" => "view",
        "click" => "click",
        "addtocart" | "cart" | "addtobasket" => "add_to_cart",
        "purchase" | "buy" | "order" | "transaction" => "purchase",
        "rating" | "rate" | "rated" => "rating",
        _ => return Err(Reject::UnknownEvent(s.into())),
    })
}

/// A finite number.
/// Largest interaction weight accepted at ingest and read back for training. ALS works in
/// f32 and squares confidences; far above this they overflow to infinity and every score of
/// every user becomes NaN.
pub const MAX_WEIGHT: f64 = 1.0e4;

/// Largest event value (a rating, a price paid, a quantity) accepted.
pub const MAX_VALUE: f64 = 1.0e9;

pub fn parse_number(s: &str) -> Option<f64> {
    s.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// Interprets yes/no style flags.
pub fn parse_bool(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "y" => Some(true),
        "0" | "false" | "no" | "n" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalise_collapses_whitespace_and_composes() {
        let (s, changed) = normalise_text("  Love\u{0301}  this\n dress ");
        assert_eq!(s, "Lové this dress");
        assert!(changed);
        assert!(!normalise_text("plain").1);
    }

    #[test]
    fn timestamps_in_common_shapes_parse_and_junk_does_not() {
        for ok in ["2024-03-01T10:00:00Z", "2024-03-01 10:00:00", "2024-03-01", "1709287200"] {
            assert!(parse_timestamp(ok).is_ok(), "{ok}");
        }
        for bad in ["yesterday", "2024-13-01", "12", ""] {
            assert!(parse_timestamp(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn events_normalise() {
        assert_eq!(parse_event("Add-To-Cart").unwrap(), "add_to_cart");
        assert!(parse_event("wishlist").is_err());
    }
}
