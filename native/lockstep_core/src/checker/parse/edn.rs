//! A small EDN reader: enough of EDN for Jepsen histories, with line numbers in every error.
//!
//! Supported: `nil`, `true`/`false`, integers (optional sign, optional `N` suffix), strings with the
//! usual escapes, characters (`\a`, read as one-character strings), keywords, vectors, lists, sets
//! (read as vectors), maps, `;` comments, commas as whitespace, `#_` discard and tagged literals
//! (`#inst "..."`: the tag is dropped, the value kept). Other symbols are read as keywords. Floats are
//! rejected (the value type has none). Nesting deeper than [`MAX_DEPTH`] is an error, not a stack
//! overflow.

use crate::checker::error::CheckError;
use crate::checker::value::Value;

/// The op map around a history value is a level of its own.
pub const MAX_DEPTH: usize = crate::checker::value::MAX_DEPTH + 1;

/// A collection being read, or a prefix waiting for the form it applies to.
enum Pending {
    Coll {
        kind: Kind,
        close: u8,
        /// Where it was opened, for "unclosed" errors.
        line: usize,
        items: Vec<Value>,
    },
    /// `#_`: the next form is read and dropped.
    Discard,
    /// `#tag`: the next form is kept, the tag dropped.
    Tag,
}

enum Kind {
    Map,
    List,
    Set,
}

impl Pending {
    fn coll(kind: Kind, close: u8, line: usize) -> Pending {
        Pending::Coll {
            kind,
            close,
            line,
            items: Vec::new(),
        }
    }
}

pub struct Reader<'a> {
    src: &'a [u8],
    pos: usize,
    line: usize,
}

fn is_delim(b: u8) -> bool {
    b.is_ascii_whitespace()
        || matches!(
            b,
            b',' | b'{' | b'}' | b'[' | b']' | b'(' | b')' | b'"' | b';'
        )
}

impl<'a> Reader<'a> {
    pub fn new(text: &'a str) -> Self {
        Self::with_line(text, 1)
    }

    /// A reader whose first line is numbered `line` (for reading one line of a larger file).
    pub fn with_line(text: &'a str, line: usize) -> Self {
        Reader {
            src: text.as_bytes(),
            pos: 0,
            line,
        }
    }

    pub fn line(&self) -> usize {
        self.line
    }

    fn err(&self, msg: impl Into<String>) -> CheckError {
        CheckError::parse(self.line, msg)
    }

    fn peek(&self) -> Option<u8> {
        self.src.get(self.pos).copied()
    }

    fn bump(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.pos += 1;
        if b == b'\n' {
            self.line += 1;
        }
        Some(b)
    }

    /// Skips whitespace, commas and comments; true if input remains.
    pub fn skip_ws(&mut self) -> bool {
        while let Some(b) = self.peek() {
            if b.is_ascii_whitespace() || b == b',' {
                self.bump();
            } else if b == b';' {
                while let Some(c) = self.bump() {
                    if c == b'\n' {
                        break;
                    }
                }
            } else {
                return true;
            }
        }
        false
    }

    /// Reads the next form, or `None` at the end of input.
    pub fn next_value(&mut self) -> Result<Option<Value>, CheckError> {
        if !self.skip_ws() {
            return Ok(None);
        }
        self.read().map(Some)
    }

    fn token(&mut self) -> &'a str {
        let start = self.pos;
        while let Some(b) = self.peek() {
            if is_delim(b) {
                break;
            }
            self.pos += 1;
        }
        std::str::from_utf8(&self.src[start..self.pos]).unwrap_or("")
    }

    /// Reads one form. Iterative: collections being read and pending `#_`/`#tag` prefixes
    /// are kept on an explicit stack of at most [`MAX_DEPTH`] entries, so no input, however
    /// deeply nested, can exhaust the thread's stack.
    fn read(&mut self) -> Result<Value, CheckError> {
        let mut stack: Vec<Pending> = Vec::new();
        loop {
            if !self.skip_ws() {
                return Err(match stack.last() {
                    Some(Pending::Coll { close, line, .. }) => CheckError::parse(
                        *line,
                        format!("unclosed collection (expected '{}')", *close as char),
                    ),
                    _ => self.err("unexpected end of input"),
                });
            }
            let Some(b) = self.peek() else {
                return Err(self.err("unexpected end of input"));
            };
            let closes = matches!(stack.last(), Some(Pending::Coll { close, .. }) if *close == b);
            let mut value = if closes {
                self.bump();
                match stack.pop() {
                    Some(Pending::Coll { kind, items, .. }) => self.finish(kind, items)?,
                    _ => return Err(self.err("unexpected end of a collection")),
                }
            } else {
                let opened = match b {
                    b'{' => Some(Pending::coll(Kind::Map, b'}', self.line)),
                    b'[' => Some(Pending::coll(Kind::List, b']', self.line)),
                    b'(' => Some(Pending::coll(Kind::List, b')', self.line)),
                    b'#' => {
                        self.bump();
                        match self.peek() {
                            Some(b'{') => Some(Pending::coll(Kind::Set, b'}', self.line)),
                            Some(b'_') => Some(Pending::Discard),
                            _ => {
                                if self.token().is_empty() {
                                    return Err(self.err(
                                        "'#' must start a set, a discard or a tagged literal",
                                    ));
                                }
                                Some(Pending::Tag)
                            }
                        }
                    }
                    _ => None,
                };
                if let Some(p) = opened {
                    if stack.len() >= MAX_DEPTH {
                        return Err(self.err(format!(
                            "nesting deeper than {MAX_DEPTH} levels (a history value may nest {} levels)",
                            MAX_DEPTH - 1
                        )));
                    }
                    if !matches!(p, Pending::Tag) {
                        self.bump();
                    }
                    stack.push(p);
                    continue;
                }
                self.scalar(b)?
            };
            // Hand the form to what is waiting for it.
            loop {
                match stack.pop() {
                    None => return Ok(value),
                    Some(Pending::Tag) => {}
                    // The discarded form is dropped; the next one takes its place.
                    Some(Pending::Discard) => break,
                    Some(Pending::Coll {
                        kind,
                        close,
                        line,
                        mut items,
                    }) => {
                        items.push(std::mem::replace(&mut value, Value::Nil));
                        stack.push(Pending::Coll {
                            kind,
                            close,
                            line,
                            items,
                        });
                        break;
                    }
                }
            }
        }
    }

    fn finish(&self, kind: Kind, mut items: Vec<Value>) -> Result<Value, CheckError> {
        Ok(match kind {
            Kind::List => Value::List(items),
            Kind::Set => {
                items.sort();
                items.dedup();
                Value::List(items)
            }
            Kind::Map => {
                if !items.len().is_multiple_of(2) {
                    return Err(self.err("map literal with an odd number of forms"));
                }
                let mut it = items.into_iter();
                let mut entries = Vec::new();
                while let (Some(k), Some(v)) = (it.next(), it.next()) {
                    entries.push((k, v));
                }
                Value::Map(entries)
            }
        })
    }

    /// A form that is not a collection, starting with `b`.
    fn scalar(&mut self, b: u8) -> Result<Value, CheckError> {
        match b {
            b'}' | b']' | b')' => Err(self.err(format!("unexpected '{}'", b as char))),
            b'"' => {
                self.bump();
                self.read_string()
            }
            b'\\' => {
                self.bump();
                let start = self.pos;
                // A character literal is at least one character, even a delimiter.
                if self.bump().is_none() {
                    return Err(self.err("character literal at end of input"));
                }
                while self.peek().is_some_and(|c| !is_delim(c)) {
                    self.pos += 1;
                }
                let tok = std::str::from_utf8(&self.src[start..self.pos]).unwrap_or("");
                let c = match tok {
                    "newline" => "\n".to_string(),
                    "space" => " ".to_string(),
                    "tab" => "\t".to_string(),
                    "return" => "\r".to_string(),
                    t => t.to_string(),
                };
                Ok(Value::Str(c))
            }
            b':' => {
                self.bump();
                let name = self.token();
                if name.is_empty() {
                    return Err(self.err("empty keyword"));
                }
                Ok(Value::Keyword(name.to_string()))
            }
            _ => {
                let tok = self.token();
                if tok.is_empty() {
                    return Err(self.err(format!("unexpected character {:?}", b as char)));
                }
                self.atom(tok)
            }
        }
    }

    fn atom(&self, tok: &str) -> Result<Value, CheckError> {
        match tok {
            "nil" => return Ok(Value::Nil),
            "true" => return Ok(Value::Bool(true)),
            "false" => return Ok(Value::Bool(false)),
            _ => {}
        }
        let bytes = tok.as_bytes();
        let digits_from = usize::from(matches!(bytes.first(), Some(b'+' | b'-')));
        if bytes.get(digits_from).is_some_and(|b| b.is_ascii_digit()) {
            let t = tok.strip_suffix('N').unwrap_or(tok);
            return t.parse::<i64>().map(Value::Int).map_err(|_| {
                self.err(format!(
                    "unsupported number {} (integers that fit 64 bits only)",
                    crate::excerpt::quoted(tok)
                ))
            });
        }
        Ok(Value::Keyword(tok.to_string()))
    }

    fn read_string(&mut self) -> Result<Value, CheckError> {
        let open_line = self.line;
        let mut out: Vec<u8> = Vec::new();
        loop {
            let Some(b) = self.bump() else {
                return Err(CheckError::parse(open_line, "unterminated string"));
            };
            match b {
                b'"' => break,
                b'\\' => {
                    let Some(e) = self.bump() else {
                        return Err(CheckError::parse(open_line, "unterminated string"));
                    };
                    match e {
                        b'n' => out.push(b'\n'),
                        b't' => out.push(b'\t'),
                        b'r' => out.push(b'\r'),
                        b'"' => out.push(b'"'),
                        b'\\' => out.push(b'\\'),
                        b'u' => {
                            let hex = self.src.get(self.pos..self.pos + 4).unwrap_or(&[]);
                            let code = std::str::from_utf8(hex)
                                .ok()
                                .and_then(|h| u32::from_str_radix(h, 16).ok())
                                .and_then(char::from_u32)
                                .ok_or_else(|| self.err("bad \\u escape"))?;
                            self.pos += 4;
                            let mut buf = [0u8; 4];
                            out.extend_from_slice(code.encode_utf8(&mut buf).as_bytes());
                        }
                        other => {
                            return Err(self.err(format!(
                                "unknown escape \\{}",
                                (other as char).escape_default()
                            )))
                        }
                    }
                }
                _ => out.push(b),
            }
        }
        String::from_utf8(out)
            .map(Value::Str)
            .map_err(|_| CheckError::parse(open_line, "string is not valid UTF-8"))
    }
}

/// Reads every top-level form of `text`, with the line each form starts on.
pub fn read_all(text: &str) -> Result<Vec<(usize, Value)>, CheckError> {
    let mut r = Reader::new(text);
    let mut out = Vec::new();
    loop {
        if !r.skip_ws() {
            return Ok(out);
        }
        let line = r.line();
        match r.next_value()? {
            Some(v) => out.push((line, v)),
            None => return Ok(out),
        }
    }
}

/// Reads a text that is one top-level vector (or list) as its items, each with the line it
/// starts on; `None` when the text is not a single collection, or a form follows it.
pub fn read_items(text: &str) -> Result<Option<Vec<(usize, Value)>>, CheckError> {
    let mut r = Reader::new(text);
    if !r.skip_ws() {
        return Ok(None);
    }
    let close = match r.peek() {
        Some(b'[') => b']',
        Some(b'(') => b')',
        _ => return Ok(None),
    };
    let open_line = r.line();
    r.bump();
    let mut items = Vec::new();
    loop {
        if !r.skip_ws() {
            return Err(CheckError::parse(
                open_line,
                format!("unclosed collection (expected '{}')", close as char),
            ));
        }
        if r.peek() == Some(close) {
            r.bump();
            break;
        }
        let line = r.line();
        match r.next_value()? {
            Some(v) => items.push((line, v)),
            None => break,
        }
    }
    if r.skip_ws() {
        return Ok(None);
    }
    Ok(Some(items))
}

/// Parses exactly one form from `text` (trailing whitespace allowed).
pub fn read_one(text: &str, line: usize) -> Result<Value, CheckError> {
    let mut r = Reader::with_line(text, line);
    let v = r
        .next_value()?
        .ok_or_else(|| CheckError::parse(line, "expected a value"))?;
    if r.skip_ws() {
        return Err(CheckError::parse(
            r.line(),
            "unexpected text after the value",
        ));
    }
    Ok(v)
}
