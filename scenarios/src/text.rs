//! Checks on the scenario text before and around TOML deserialisation, so that every problem has a
//! place: bytes that are not UTF-8, nesting deeper than any scenario needs (the TOML parser's own
//! recursion limit has no position), numbers that are not finite (`nan`, `inf`, `1e400`), and
//! the mapping from an offset inside a decoded TOML string back to the file (gates are parsed
//! from their decoded text, but errors point into the file).

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::error::{Located, ScenarioError};

/// Arrays and inline tables nested deeper than this are refused (a scenario needs 3).
pub const MAX_NESTING: usize = 32;

/// The text of a scenario file, or an error at the first byte that is not UTF-8.
pub fn utf8<'a>(bytes: &'a [u8], file: &str) -> Result<&'a str, ScenarioError> {
    std::str::from_utf8(bytes).map_err(|e| {
        let good = e.valid_up_to();
        // The valid prefix locates the error; the rest is shown lossily.
        let text = String::from_utf8_lossy(bytes);
        let prefix = std::str::from_utf8(&bytes[..good]).unwrap_or("");
        let at = prefix.len();
        let bad = bytes[good];
        ScenarioError::Invalid(Box::new(Located::at(
            file,
            &text,
            Some(at..at + 1),
            format!("byte 0x{bad:02X} is not UTF-8: a scenario file is UTF-8 text"),
        )))
    })
}

/// The first place where arrays and inline tables nest deeper than [`MAX_NESTING`], if any.
/// Strings and comments are skipped; table headers (`[a]`, `[[a]]`) open and close on their line.
pub fn too_deep(text: &str) -> Option<usize> {
    let b = text.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'#' => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            q @ (b'"' | b'\'') => {
                let triple = b[i..].starts_with(if q == b'"' { b"\"\"\"" } else { b"'''" });
                i += if triple { 3 } else { 1 };
                while i < b.len() {
                    if q == b'"' && b[i] == b'\\' {
                        i += 2;
                        continue;
                    }
                    if b[i] == q && (!triple || b[i..].starts_with(&[q, q, q])) {
                        i += if triple { 3 } else { 1 };
                        // A closing `"""` may be followed by up to two more quotes of content.
                        while triple && i < b.len() && b[i] == q {
                            i += 1;
                        }
                        break;
                    }
                    if !triple && b[i] == b'\n' {
                        break;
                    }
                    i += 1;
                }
                continue;
            }
            b'[' | b'{' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Some(i);
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    None
}

/// Where a float that is not finite sits in the document, if anywhere.
pub fn non_finite(doc: &Spanned<DeTable<'_>>) -> Option<(std::ops::Range<usize>, String)> {
    fn walk(v: &Spanned<DeValue<'_>>) -> Option<(std::ops::Range<usize>, String)> {
        match v.get_ref() {
            DeValue::Float(f) => {
                let s = f.as_str();
                let finite = s
                    .replace('_', "")
                    .parse::<f64>()
                    .is_ok_and(|x| x.is_finite());
                (!finite).then(|| (v.span(), s.to_string()))
            }
            DeValue::Array(a) => a.iter().find_map(walk),
            DeValue::Table(t) => t.values().find_map(walk),
            _ => None,
        }
    }
    doc.get_ref().values().find_map(walk)
}

/// The byte offset in the file of byte `offset` of the decoded value of the TOML string whose
/// span (quotes included) is `span`. Handles the four string forms and escapes.
pub fn string_offset(text: &str, span: std::ops::Range<usize>, offset: usize) -> usize {
    let raw = &text[span.clone()];
    let (quote, open) = if raw.starts_with("\"\"\"") {
        ('"', 3)
    } else if raw.starts_with("'''") {
        ('\'', 3)
    } else if raw.starts_with('\'') {
        ('\'', 1)
    } else {
        ('"', 1)
    };
    let multi = open == 3;
    let mut i = open;
    // A newline right after the opening delimiter of a multi-line string is not content.
    if multi {
        if raw[i..].starts_with("\r\n") {
            i += 2;
        } else if raw[i..].starts_with('\n') {
            i += 1;
        }
    }
    let mut decoded = 0usize;
    let bytes = raw.as_bytes();
    while i < raw.len() && decoded < offset {
        let c = raw[i..].chars().next().unwrap_or(' ');
        if quote == '"' && c == '\\' {
            let next = bytes.get(i + 1).copied().unwrap_or(b' ');
            let (raw_len, out_len) = match next {
                b'u' => (6, hex_char_len(&raw[i + 2..], 4)),
                b'U' => (10, hex_char_len(&raw[i + 2..], 8)),
                b'x' => (4, hex_char_len(&raw[i + 2..], 2)),
                b' ' | b'\t' | b'\r' | b'\n' if multi => {
                    // Line-ending backslash: skip all whitespace and newlines after it.
                    let mut j = i + 1;
                    while j < raw.len() && matches!(bytes[j], b' ' | b'\t' | b'\r' | b'\n') {
                        j += 1;
                    }
                    (j - i, 0)
                }
                _ => (2, 1),
            };
            i += raw_len;
            decoded += out_len;
            continue;
        }
        i += c.len_utf8();
        decoded += c.len_utf8();
    }
    (span.start + i).min(span.end.saturating_sub(1).max(span.start))
}

/// UTF-8 length of the character a `\u`/`\U`/`\x` escape of `digits` hex digits encodes.
fn hex_char_len(s: &str, digits: usize) -> usize {
    s.get(..digits)
        .and_then(|h| u32::from_str_radix(h, 16).ok())
        .and_then(char::from_u32)
        .map_or(1, char::len_utf8)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `offset` bytes into the decoded string `decoded`, the file text at the mapped offset
    /// starts with what the decoded text has there.
    fn check(text: &str, decoded: &str) {
        let start = text.find(['"', '\'']).unwrap();
        let span = start..text.len();
        for (off, ch) in decoded.char_indices() {
            let at = string_offset(text, span.clone(), off);
            assert!(text.is_char_boundary(at), "{text:?} @{off}");
            let raw = &text[at..];
            if !raw.starts_with('\\') {
                assert!(raw.starts_with(ch), "{text:?} @{off}: {raw:?} vs {ch:?}");
            }
        }
    }

    #[test]
    fn offsets_map_back_through_every_string_form() {
        check("g = \"a€b >= x\"", "a€b >= x");
        check("g = 'a€b >= x'", "a€b >= x");
        check("g = \"\"\"\n€ab >= x\"\"\"", "€ab >= x");
        check("g = '''\n€ab >= x'''", "€ab >= x");
        check("g = \"\\u20AC€ \\t>= x\"", "€€ \t>= x");
        check("g = \"\"\"€ \\\n   more\"\"\"", "€ more");
    }

    #[test]
    fn nesting_is_found_where_it_exceeds_the_limit() {
        let deep = format!("x = {}1{}", "[".repeat(40), "]".repeat(40));
        assert_eq!(too_deep(&deep), Some(4 + MAX_NESTING));
        assert_eq!(too_deep("x = \"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\""), None);
        assert_eq!(too_deep("# [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\n"), None);
    }
}
