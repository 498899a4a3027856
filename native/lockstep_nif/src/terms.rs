//! Readers of plain Elixir data shared by the modules that turn it into engine values (history
//! values in `checker`, schedule JSON in `schedule`), so that both name bad input alike.

use rustler::types::map::MapIterator;
use rustler::types::ListIterator;
use rustler::Term;

/// The name of an atom.
pub fn atom_text(term: Term<'_>) -> Result<String, String> {
    term.atom_to_string()
        .map_err(|_| "an atom that is not valid UTF-8".to_string())
}

/// The contents of a binary that holds UTF-8 text.
pub fn utf8_binary(term: Term<'_>) -> Result<String, String> {
    let bin = term
        .decode_as_binary()
        .map_err(|_| format!("unreadable binary {term:?}"))?;
    std::str::from_utf8(bin.as_slice())
        .map(str::to_string)
        .map_err(|_| format!("the binary {term:?} is not UTF-8 text"))
}

/// The items of a proper list. An improper list is refused here, before iterating: rustler's
/// list iterator panics when it reaches an improper tail, while the length of such a list is
/// an error.
pub fn list_items(term: Term<'_>) -> Result<ListIterator<'_>, String> {
    term.list_length()
        .and_then(|_| term.into_list_iterator())
        .map_err(|_| format!("improper list {term:?}"))
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
    MapIterator::new(term).ok_or_else(|| format!("unreadable map {term:?}"))
}
