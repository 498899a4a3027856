//! Bounded, printable excerpts of input for error messages: a file of binary garbage must not
//! flood the terminal or write control characters to it.

/// How many characters of a file's content an error message repeats.
pub const CONTENT_CHARS: usize = 80;

/// How long an error message may grow in all (its prose and what it repeats of the input).
pub const MESSAGE_CHARS: usize = 400;

/// `text` with control characters (NUL, escape sequences, newlines) written as escapes
/// (`\u{0}`, `\n`), cut so that it takes at most `max_chars` characters (plus a `...` that marks
/// the cut): a run of escapes is bounded like any other text.
pub fn excerpt(text: &str, max_chars: usize) -> String {
    let mut out = String::new();
    let mut len = 0;
    for c in text.chars() {
        let piece: String = if c.is_control() {
            c.escape_default().collect()
        } else {
            c.to_string()
        };
        let n = piece.chars().count();
        if len + n > max_chars {
            out.push_str("...");
            break;
        }
        out.push_str(&piece);
        len += n;
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
        // 16 escapes of 5 characters, then the mark.
        assert_eq!(e, format!("{}...", "\\u{0}".repeat(16)));
        assert_eq!(excerpt("héllo wörld", 5), "héllo...");
        assert_eq!(excerpt("héllo", 5), "héllo");
        assert_eq!(quoted("x\ty"), "\"x\\ty\"");
    }
}
