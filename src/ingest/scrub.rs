//! Desensitisation of free text at ingest: e-mail addresses, payment-card numbers, phone
//! numbers and street addresses in reviews and descriptions are replaced by a placeholder
//! before anything is stored; the cleaning report counts each kind.
//!
//! Patterns, not a model: they find the common written forms and miss unusual ones. Card
//! numbers must pass the Luhn check and phone numbers need 9+ digits, so sizes, measurements,
//! dates and prices in reviews ("size 10-12", "34-26-36", "2019-05-12") are left alone.

use regex::Regex;
use std::sync::LazyLock;

/// What was found in one text: the report's rule names, one per replacement.
pub type Found = Vec<&'static str>;

static EMAIL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}").unwrap());
static CARD: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\b(?:\d[ -]?){12,18}\d\b").unwrap());
static PHONE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?:\+\d{1,3}[\s.-]?)?\(?\b\d{2,4}\)?[\s.-]?\d{3,4}[\s.-]?\d{3,4}\b").unwrap());
static ADDRESS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"\b\d{1,5}\s+(?:[A-Z][a-z]+\s+){1,3}(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Way|Place|Pl|Terrace|Close)\b\.?",
    )
    .unwrap()
});

fn luhn(digits: &[u32]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| if i % 2 == 1 { if d * 2 > 9 { d * 2 - 9 } else { d * 2 } } else { d })
        .sum();
    sum.is_multiple_of(10)
}

/// The text with personal data replaced, and what was replaced.
pub fn scrub(text: &str) -> (String, Found) {
    let mut found = Found::new();
    let mut out = EMAIL
        .replace_all(text, |_: &regex::Captures| {
            found.push("fixed:scrubbed_email");
            "[email]"
        })
        .into_owned();
    out = CARD
        .replace_all(&out, |c: &regex::Captures| {
            let digits: Vec<u32> = c[0].chars().filter_map(|ch| ch.to_digit(10)).collect();
            if (13..=19).contains(&digits.len()) && luhn(&digits) {
                found.push("fixed:scrubbed_card_number");
                "[card number]".to_owned()
            } else {
                c[0].to_owned()
            }
        })
        .into_owned();
    let input = out;
    // A run of digit groups longer than a phone number (an order or tracking number) is kept:
    // the match must not continue into more digits on either side.
    let more_digits = |m: regex::Match| {
        let after = input[m.end()..].trim_start_matches([' ', '.', '-']);
        let before = input[..m.start()].trim_end_matches([' ', '.', '-']);
        after.starts_with(|c: char| c.is_ascii_digit()) || before.ends_with(|c: char| c.is_ascii_digit())
    };
    out = PHONE
        .replace_all(&input, |c: &regex::Captures| {
            let m = c.get(0).expect("group 0 always matches");
            if c[0].chars().filter(char::is_ascii_digit).count() >= 9 && !more_digits(m) {
                found.push("fixed:scrubbed_phone");
                "[phone]".to_owned()
            } else {
                c[0].to_owned()
            }
        })
        .into_owned();
    out = ADDRESS
        .replace_all(&out, |_: &regex::Captures| {
            found.push("fixed:scrubbed_address");
            "[address]"
        })
        .into_owned();
    (out, found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn personal_data_is_replaced_and_review_numbers_are_not() {
        let cases: &[(&str, &str, &[&str])] = &[
            (
                "Email me at jane.doe+shop@mail.example.com please",
                "Email me at [email] please",
                &["fixed:scrubbed_email"],
            ),
            (
                "My card 4111 1111 1111 1111 was charged twice",
                "My card [card number] was charged twice",
                &["fixed:scrubbed_card_number"],
            ),
            (
                "Call 555-123-4567 or +44 20 7946 0958",
                "Call [phone] or [phone]",
                &["fixed:scrubbed_phone", "fixed:scrubbed_phone"],
            ),
            ("Ring (555) 123-4567 after 5", "Ring [phone] after 5", &["fixed:scrubbed_phone"]),
            ("Send it to 221 Baker Street, London", "Send it to [address], London", &["fixed:scrubbed_address"]),
            ("I'm 5'4\" and 34-26-36, size 10-12 fits", "I'm 5'4\" and 34-26-36, size 10-12 fits", &[]),
            (
                "Bought on 2019-05-12 for $1,299.99, order 1234567",
                "Bought on 2019-05-12 for $1,299.99, order 1234567",
                &[],
            ),
            // 16 digits that fail the Luhn check: an order number, kept.
            ("Order 1234 5678 9012 3456 arrived", "Order 1234 5678 9012 3456 arrived", &[]),
        ];
        for (input, want, rules) in cases {
            let (got, found) = scrub(input);
            assert_eq!(got, *want, "{input}");
            assert_eq!(found, rules.to_vec(), "{input}");
        }
    }
}
