//! Keeping phone numbers out of free text: error messages, log lines, dead-letter headers,
//! input names.
//!
//! Structured fields never hold a number (the caller's is pseudonymised on arrival), but free
//! text can quote one: a file or staging URI named after the caller, a serde error echoing a
//! metadata value, a broken metadata header kept for a dead letter. Everything callscore writes
//! as free text passes through [`redact`] (or [`redact_known`], when the recording's own numbers
//! are known), which masks what looks like a number:
//!
//! - `+` followed by at least [`MIN_PLUS_DIGITS`] digits, with spaces, dashes, dots or brackets
//!   between them (E.164 as people write it);
//! - any run of at least [`MIN_BARE_DIGITS`] digits (a national or international number
//!   without `+`; dates, times and sizes have shorter runs);
//! - any formatting of a number the caller of [`redact_known`] knows, matched digit by digit
//!   on its last eight digits (fewer, down to six, for a number short enough that its
//!   subscriber part may have fewer), so that its national and international forms are found
//!   alike.

use std::borrow::Cow;

/// What a masked number becomes.
pub const MASK: &str = "[number]";
/// Digits after a `+` that make a number: the shortest E.164 numbers have 7, minus the `+`
/// and a country code of one digit leaves 6.
pub const MIN_PLUS_DIGITS: usize = 6;
/// A bare run of digits this long is treated as a number. National numbers with their trunk
/// prefix (NL 0201234567, US 2025550123) have 10 digits; shorter runs (dates, ports, counts)
/// stay readable.
pub const MIN_BARE_DIGITS: usize = 10;
/// Digits a known number needs before it is searched for: fewer would mask unrelated text.
const MIN_KNOWN_DIGITS: usize = 6;
/// A known number is searched for by its last eight digits: the subscriber part, which every
/// way of writing it shares, whatever prefix (`+31`, `0031`, the trunk `0`) comes before.
const KNOWN_TAIL_DIGITS: usize = 8;
/// The longest country code: the digits after a `+` or an international prefix that another
/// way of writing the number may lack.
const LONGEST_COUNTRY_CODE: usize = 3;

/// The digits a known number is searched for by: its last [`KNOWN_TAIL_DIGITS`], or fewer
/// (not under [`MIN_KNOWN_DIGITS`]) where what is left of it once the longest prefix its way of
/// writing may carry is taken off is shorter: a country of seven-digit numbers (Iceland's
/// `+354 555 1234`, written `555 1234` at home) would otherwise be searched for with a digit of
/// its country code or trunk prefix that the other forms lack. `None` for too few digits.
fn known_tail(number: &str) -> Option<String> {
    let digits: String = number.chars().filter(char::is_ascii_digit).collect();
    if digits.len() < MIN_KNOWN_DIGITS {
        return None;
    }
    let prefix = if number.trim_start().starts_with('+') {
        LONGEST_COUNTRY_CODE
    } else if digits.starts_with("011") {
        // North America's international prefix (or a trunk 0 and a national 11…)
        3 + LONGEST_COUNTRY_CODE
    } else if digits.starts_with("00") {
        2 + LONGEST_COUNTRY_CODE
    } else if digits.starts_with('0') {
        // a trunk prefix
        1
    } else {
        // international without `+`, or national without its trunk prefix
        LONGEST_COUNTRY_CODE
    };
    let tail = digits
        .len()
        .saturating_sub(prefix)
        .clamp(MIN_KNOWN_DIGITS, KNOWN_TAIL_DIGITS);
    Some(digits[digits.len() - tail..].to_string())
}

fn is_separator(c: char) -> bool {
    matches!(c, ' ' | '-' | '.' | '(' | ')' | '/')
}

/// A stretch of text made of digits and separators, starting and ending with a digit (or a
/// leading `+`).
struct Span {
    start: usize,
    end: usize,
    plus: bool,
    digits: String,
    longest_run: usize,
}

fn spans(text: &str) -> Vec<Span> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let (start, c) = chars[i];
        let plus = c == '+' && chars.get(i + 1).is_some_and(|(_, n)| n.is_ascii_digit());
        if !(c.is_ascii_digit() || plus) {
            i += 1;
            continue;
        }
        let mut digits = String::new();
        let (mut run, mut longest_run) = (0, 0);
        let mut end = start + c.len_utf8();
        let mut j = if plus { i + 1 } else { i };
        while j < chars.len() {
            let (at, c) = chars[j];
            if c.is_ascii_digit() {
                digits.push(c);
                run += 1;
                longest_run = longest_run.max(run);
                end = at + 1;
            } else if is_separator(c) && chars.get(j + 1).is_some_and(|(_, n)| n.is_ascii_digit()) {
                run = 0;
            } else {
                break;
            }
            j += 1;
        }
        out.push(Span {
            start,
            end,
            plus,
            digits,
            longest_run,
        });
        i = j.max(i + 1);
    }
    out
}

/// `text` with everything that looks like a phone number masked.
pub fn redact(text: &str) -> Cow<'_, str> {
    redact_known(text, &[])
}

/// `text` with everything that looks like a phone number masked, and every formatting of the
/// `known` numbers too (the recording's caller and called numbers, say).
pub fn redact_known<'a>(text: &'a str, known: &[&str]) -> Cow<'a, str> {
    let known: Vec<String> = known.iter().filter_map(|n| known_tail(n)).collect();
    let masked: Vec<Span> = spans(text)
        .into_iter()
        .filter(|span| {
            (span.plus && span.digits.len() >= MIN_PLUS_DIGITS)
                || span.longest_run >= MIN_BARE_DIGITS
                || known.iter().any(|k| span.digits.contains(k.as_str()))
        })
        .collect();
    if masked.is_empty() {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for span in masked {
        out.push_str(&text[at..span.start]);
        out.push_str(MASK);
        at = span.end;
    }
    out.push_str(&text[at..]);
    Cow::Owned(out)
}

/// `text` with every group of digits holding at least `MIN_BARE_DIGITS - 1` digits masked,
/// separators or not: for raw input that could not be parsed (a broken metadata header),
/// where nothing says which digits are a number. Dates and times keep their shape.
pub fn redact_raw(text: &str) -> Cow<'_, str> {
    let masked: Vec<Span> = spans(text)
        .into_iter()
        .filter(|span| {
            (span.plus && span.digits.len() >= MIN_PLUS_DIGITS)
                || span.digits.len() >= MIN_BARE_DIGITS - 1
        })
        .collect();
    if masked.is_empty() {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for span in masked {
        out.push_str(&text[at..span.start]);
        out.push_str(MASK);
        at = span.end;
    }
    out.push_str(&text[at..]);
    Cow::Owned(out)
}

/// A parser's message with every quoted or back-quoted value left out: serde echoes the value
/// it could not accept (`invalid type: integer `31205550001``), and a metadata value must never
/// reach a log or a dead letter. Field names stay (they are what the reader needs), numbers in
/// them masked.
pub fn without_values(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut quote: Option<char> = None;
    let mut field = false;
    for (i, c) in message.char_indices() {
        match quote {
            Some(q) if c == q => {
                quote = None;
                out.push(c);
            }
            Some(_) if field => out.push(c),
            Some(_) => {}
            None if c == '"' || c == '`' => {
                // field names are named after "field " (unknown field `x`, missing field `y`)
                field = message[..i].ends_with("field ");
                if !field {
                    out.push_str(&format!("{c}…"));
                } else {
                    out.push(c);
                }
                quote = Some(c);
            }
            None => out.push(c),
        }
    }
    redact(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_as_people_write_them_are_masked_and_the_rest_kept() {
        for (text, expected) in [
            ("s3://staging/+31205550001.wav", "s3://staging/[number].wav"),
            ("/in/+31 20 555-0001.wav", "/in/[number].wav"),
            ("/in/0205550001.wav", "/in/[number].wav"),
            ("caller 31205550001 said", "caller [number] said"),
            ("rec-20261102-000123", "rec-20261102-000123"),
            ("2026-11-02T09:05:00Z", "2026-11-02T09:05:00Z"),
            (
                "over the limit of 268435456 bytes",
                "over the limit of 268435456 bytes",
            ),
            ("line 3 column 20", "line 3 column 20"),
            ("a + 1", "a + 1"),
        ] {
            assert_eq!(redact(text), expected, "{text}");
        }
    }

    #[test]
    fn a_known_number_is_masked_in_any_formatting() {
        let known = ["+31 20 555 0001"];
        assert_eq!(
            redact_known("call from 31-20-555-0001 ended", &known),
            "call from [number] ended"
        );
        assert_eq!(redact_known("nothing here", &known), "nothing here");
        // written nationally, or from abroad, with the prefixes the known form lacks
        for text in [
            "call-020-555-0001",
            "call 020 555 0001",
            "0031-20-555-0001",
            "(0)20 5550001",
        ] {
            assert!(
                redact_known(text, &known).contains(MASK),
                "{text}: {}",
                redact_known(text, &known)
            );
        }
        // a national known number found in its international form
        assert_eq!(
            redact_known("from +31 20-555-0001", &["020 555 0001"]),
            "from [number]"
        );
        // too short to search for without masking unrelated text
        assert_eq!(redact_known("room 123", &["123"]), "room 123");
        // a country of short numbers (Iceland: +354 and seven digits, no trunk prefix; and one
        // with a trunk prefix): the last eight digits of one form hold a digit of the country
        // code or the trunk prefix, which the others lack
        for (known, text) in [
            ("+354 555 1234", "agent note: 555-1234 called back"),
            ("00354 5551234", "agent note: 555-1234 called back"),
            ("0555 1234", "agent note: 99-555-1234 called back"),
            ("+99 555 1234", "agent note: 0555 1234 called back"),
        ] {
            assert!(
                redact_known(text, &[known]).contains(MASK),
                "{known} in {text}: {}",
                redact_known(text, &[known])
            );
        }
        // a long number is still searched for by eight digits: seven of them are not it
        assert_eq!(
            redact_known("ticket 5550001", &["+31 20 555 0001"]),
            "ticket 5550001"
        );
    }

    #[test]
    fn raw_text_loses_every_long_digit_group_but_keeps_dates() {
        let raw = r#"{"caller_number": "020 555 0001", "call_started_at": "2026-11-02T09:05:00Z"#;
        let masked = redact_raw(raw);
        assert!(!masked.contains("555"), "{masked}");
        assert!(masked.contains("2026-11-02T09:05:00Z"), "{masked}");
    }

    #[test]
    fn parser_messages_lose_the_values_they_quote() {
        let message = "invalid type: integer `31205550001`, expected a string at line 6 column 32";
        assert_eq!(
            without_values(message),
            "invalid type: integer `…`, expected a string at line 6 column 32"
        );
        let message = "invalid type: string \"0612345678\", expected u16";
        assert_eq!(
            without_values(message),
            "invalid type: string \"…\", expected u16"
        );
        assert_eq!(
            without_values("unknown field `callr_number`, expected one of ..."),
            "unknown field `callr_number`, expected one of ..."
        );
        assert_eq!(
            without_values("unknown field `+31205550001`"),
            "unknown field `[number]`"
        );
    }
}
