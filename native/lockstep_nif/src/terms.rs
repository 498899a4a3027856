//! Readers of plain Elixir data shared by the modules that turn it into engine values (history
//! values in `checker`, schedule JSON in `schedule`), so that both name bad input alike.

use rustler::types::map::MapIterator;
use rustler::types::ListIterator;
use rustler::Term;
use std::os::raw::{c_char, c_int};

/// At most this many elements (list cells, tuple and map members, binary bytes, characters of
/// a string) of a term are shown in a message, and at most `SHOWN_BYTES` bytes.
const SHOWN_ELEMENTS: c_int = 40;
const SHOWN_BYTES: usize = 240;

/// A term as an error message shows it: its start, as the VM prints it, never more than
/// [`SHOWN_BYTES`] bytes however deep or large the term (`...` marks the cut). rustler's
/// `{:?}` prints the whole term, so a message about a term of a million elements would be
/// megabytes long.
pub fn show(term: Term<'_>) -> String {
    let mut buf = [0u8; SHOWN_BYTES + 1];
    // SAFETY: `buf` is writable for `buf.len()` bytes and enif_snprintf never writes more
    // (terminator included); the format is a C string and `%.*T` takes a C int precision
    // (the VM's printer stops after that many elements; it walks terms with an explicit
    // stack, so depth does not matter) followed by the term, valid in the caller's env.
    let written = unsafe {
        rustler::sys::enif_snprintf!(
            buf.as_mut_ptr() as *mut c_char,
            buf.len(),
            c"%.*T".as_ptr(),
            SHOWN_ELEMENTS,
            term.as_c_arg()
        )
    };
    let len = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    let mut text = String::from_utf8_lossy(&buf[..len]).into_owned();
    let cut = written < 0 || written as usize >= SHOWN_BYTES || text.ends_with("... ");
    if cut {
        text.truncate(text.trim_end_matches("... ").len());
        text.push_str("...");
    }
    text
}

/// The name of an atom.
pub fn atom_text(term: Term<'_>) -> Result<String, String> {
    term.atom_to_string()
        .map_err(|_| "an atom that is not valid UTF-8".to_string())
}

/// The contents of a binary that holds UTF-8 text.
pub fn utf8_binary(term: Term<'_>) -> Result<String, String> {
    let bin = term
        .decode_as_binary()
        .map_err(|_| format!("unreadable binary {term}", term = show(term)))?;
    std::str::from_utf8(bin.as_slice())
        .map(str::to_string)
        .map_err(|_| format!("the binary {term} is not UTF-8 text", term = show(term)))
}

/// The items of a proper list. An improper list is refused here, before iterating: rustler's
/// list iterator panics when it reaches an improper tail, while the length of such a list is
/// an error.
pub fn list_items(term: Term<'_>) -> Result<ListIterator<'_>, String> {
    term.list_length()
        .and_then(|_| term.into_list_iterator())
        .map_err(|_| format!("improper list {term}", term = show(term)))
}

/// A proper list decoded item by item. rustler's own `Vec<T>` decoder panics on an improper
/// list; this refuses it with an error instead (`None`: not a proper list, or an item that does
/// not decode as `T`).
pub fn decode_list<'a, T: rustler::Decoder<'a>>(term: Term<'a>) -> Option<Vec<T>> {
    list_items(term)
        .ok()?
        .map(|item| item.decode::<T>().ok())
        .collect()
}

/// The key-value pairs of a map.
pub fn map_items(term: Term<'_>) -> Result<MapIterator<'_>, String> {
    MapIterator::new(term).ok_or_else(|| format!("unreadable map {term}", term = show(term)))
}
