//! Bounded, printable excerpts of input for error messages: a file of binary garbage must not
//! flood the terminal or write control characters to it.

/// How many characters of a file's content an error message repeats.
pub const CONTENT_CHARS: usize = 80;

/// How long an error message may grow in all (its prose and what it repeats of the input).
pub const MESSAGE_CHARS: usize = 400;

/// `text` cut after `max_chars` characters (marked with `...`), with control characters
/// (NUL, escape sequences, newlines) written as escapes (`\u{0}`, `\n`).
pub fn excerpt(text: &str, max_chars: usize) -> String {
    let mut out = String::new();
    for (i, c) in text.chars().enumerate() {
        if i == max_chars {
            out.push_str("...");
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// [`excerpt`] of a piece of input, quoted: `"abc"`.
pub fn quoted(text: &str) -> String {
    format!("\"{}\"", excerpt(text, CONTENT_CHARS))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_and_escaped() {
        assert_eq!(excerpt("abc", 80), "abc");
        assert_eq!(excerpt("a\0b\n\u{1b}[2J", 80), "a\\u{0}b\\n\\u{1b}[2J");
        let nuls = "\0".repeat(4096);
        let e = excerpt(&nuls, 80);
        assert!(!e.contains('\0'));
        assert!(e.ends_with("...") && e.len() == 80 * "\\u{0}".len() + 3);
        assert_eq!(excerpt("héllo wörld", 5), "héllo...");
        assert_eq!(quoted("x\ty"), "\"x\\ty\"");
    }
}
