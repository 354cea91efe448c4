//! The rows of the migration state query ([`crate::bookkeeping::history::History::state`]):
//! JSON arrays of scalars, read without building a `serde_json::Value` per field. A no-op `up`
//! reads one such row per applied migration, so this is on its critical path.

use std::borrow::Cow;
use std::fmt;

use serde::de::{
    Deserialize, DeserializeSeed, Deserializer, Error as _, IgnoredAny, MapAccess, SeqAccess,
    Visitor,
};

/// One JSON value of a state row, borrowed from the query's text where it can be.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Scalar<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Cow<'a, str>),
    /// An array or an object: never what a column holds.
    Nested,
}

impl Scalar<'_> {
    /// The value as text: a string as it is, a number or boolean as JSON writes it; `None` for
    /// null. A nested value is no text a column holds: the empty string (it matches nothing).
    pub(crate) fn into_string(self) -> Option<String> {
        match self {
            Scalar::Null => None,
            Scalar::Str(s) => Some(s.into_owned()),
            Scalar::Int(n) => Some(n.to_string()),
            Scalar::Float(f) => Some(f.to_string()),
            Scalar::Bool(b) => Some(b.to_string()),
            Scalar::Nested => Some(String::new()),
        }
    }

    /// The value as text, without copying a string.
    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Scalar::Str(s) => Some(s),
            _ => None,
        }
    }

    /// An integer, or a string holding one (MySQL renders some integers as strings).
    pub(crate) fn as_i64(&self) -> Option<i64> {
        match self {
            Scalar::Int(n) => Some(*n),
            Scalar::Str(s) => s.parse().ok(),
            _ => None,
        }
    }

    /// A boolean, or an integer (SQLite and MySQL store booleans as 0/1).
    pub(crate) fn as_bool(&self) -> Option<bool> {
        match self {
            Scalar::Bool(b) => Some(*b),
            other => other.as_i64().map(|n| n != 0),
        }
    }
}

impl<'de> Deserialize<'de> for Scalar<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ScalarVisitor)
    }
}

struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Scalar<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Scalar::Null)
    }

    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(Scalar::Null)
    }

    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Scalar::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Scalar::Int(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(i64::try_from(v).map_or(Scalar::Float(v as f64), Scalar::Int))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Scalar::Float(v))
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Scalar::Str(Cow::Borrowed(v)))
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Scalar::Str(Cow::Owned(v.to_string())))
    }

    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Scalar::Str(Cow::Owned(v)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Scalar::Nested)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Scalar::Nested)
    }
}

/// A JSON array of `N` scalars: fields past its end read as null, fields beyond `N` are ignored.
#[derive(Debug)]
pub(crate) struct Row<'a, const N: usize>(pub(crate) [Scalar<'a>; N]);

impl<'de, const N: usize> Deserialize<'de> for Row<'de, N> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_seq(RowVisitor::<N>)
    }
}

struct RowVisitor<const N: usize>;

impl<'de, const N: usize> Visitor<'de> for RowVisitor<N> {
    type Value = Row<'de, N>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "an array of {N} values")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut fields = [const { Scalar::Null }; N];
        for field in fields.iter_mut() {
            match seq.next_element()? {
                Some(v) => *field = v,
                None => return Ok(Row(fields)),
            }
        }
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Row(fields))
    }
}

/// Parses `text`, a JSON array of rows of `N` scalars.
#[cfg(test)]
pub(crate) fn parse<const N: usize>(text: &str) -> Result<Vec<Row<'_, N>>, serde_json::Error> {
    serde_json::from_str(text)
}

/// Why [`parse_each`] stopped.
#[derive(Debug)]
pub(crate) enum Failed<E> {
    /// The text is not a JSON array of arrays.
    Json(serde_json::Error),
    /// The callback refused a row.
    Row(E),
}

/// Parses `text`, a JSON array of rows of `N` scalars, handing each row to `each` as soon as it
/// is read and collecting what it returns: no row outlives its conversion (a no-op `up` reads
/// one per applied migration). `capacity` is how many rows the caller expects.
///
/// What the databases write (strings without escapes, integers, `null`, booleans) is read by a
/// plain reader; at anything else it hands the whole text to serde_json, which then hands the
/// rows before that point to `each` a second time: `each` must have no side effects.
pub(crate) fn parse_each<'a, const N: usize, T, E>(
    text: &'a str,
    capacity: usize,
    mut each: impl FnMut(Row<'a, N>) -> Result<T, E>,
) -> Result<Vec<T>, Failed<E>> {
    if let Some(done) = parse_plain(text, capacity, &mut each) {
        return done.map_err(Failed::Row);
    }
    let mut refused = None;
    let mut de = serde_json::Deserializer::from_str(text);
    let rows = Rows::<N, _, E> {
        each: &mut each,
        refused: &mut refused,
        capacity,
    }
    .deserialize(&mut de)
    .and_then(|rows| de.end().map(|()| rows));
    match (rows, refused) {
        (_, Some(e)) => Err(Failed::Row(e)),
        (Ok(rows), None) => Ok(rows),
        (Err(e), None) => Err(Failed::Json(e)),
    }
}

/// The plain reader of [`parse_each`]: arrays of arrays of strings without escapes, integers,
/// `null`, `true` and `false`, with JSON white space, read as serde_json reads them. `None` at
/// the first thing it leaves to serde_json (an escape, a fraction or exponent, `-0`, an integer
/// beyond `i64`, a nested value, malformed text).
fn parse_plain<'a, const N: usize, T, E>(
    text: &'a str,
    capacity: usize,
    each: &mut impl FnMut(Row<'a, N>) -> Result<T, E>,
) -> Option<Result<Vec<T>, E>> {
    let b = text.as_bytes();
    let mut out = Vec::with_capacity(capacity);
    let mut refused = None;
    let mut i = 0;
    skip_space(b, &mut i);
    let read = plain_array(b, &mut i, |i| {
        let mut fields = [const { Scalar::Null }; N];
        let mut n = 0;
        plain_array(b, i, |i| {
            let value = plain_scalar(text, i)?;
            if let Some(field) = fields.get_mut(n) {
                *field = value;
            }
            n += 1;
            Some(())
        })?;
        match each(Row(fields)) {
            Ok(t) => out.push(t),
            Err(e) => refused = Some(e),
        }
        refused.is_none().then_some(())
    });
    if let Some(e) = refused {
        return Some(Err(e));
    }
    read?;
    skip_space(b, &mut i);
    (i == b.len()).then_some(Ok(out))
}

/// JSON white space at `*i`, skipped.
fn skip_space(b: &[u8], i: &mut usize) {
    while b
        .get(*i)
        .is_some_and(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\r'))
    {
        *i += 1;
    }
}

/// An array of [`parse_plain`] at `*i`: `[`, the elements `element` reads (each moving `*i`
/// past itself) separated by commas, `]`, with white space between; moves `*i` past it.
fn plain_array(
    b: &[u8],
    i: &mut usize,
    mut element: impl FnMut(&mut usize) -> Option<()>,
) -> Option<()> {
    if b.get(*i) != Some(&b'[') {
        return None;
    }
    *i += 1;
    skip_space(b, i);
    if b.get(*i) == Some(&b']') {
        *i += 1;
        return Some(());
    }
    loop {
        element(i)?;
        skip_space(b, i);
        match b.get(*i)? {
            b',' => *i += 1,
            b']' => {
                *i += 1;
                return Some(());
            }
            _ => return None,
        }
        skip_space(b, i);
    }
}

/// One scalar of [`parse_plain`] at `*i`, moving `*i` past it.
fn plain_scalar<'a>(text: &'a str, i: &mut usize) -> Option<Scalar<'a>> {
    let b = text.as_bytes();
    let literal = |i: &mut usize, word: &[u8], value: Scalar<'a>| {
        let end = *i + word.len();
        (b.get(*i..end)? == word).then(|| {
            *i = end;
            value
        })
    };
    match *b.get(*i)? {
        b'"' => {
            let start = *i + 1;
            let len = b
                .get(start..)?
                .iter()
                .position(|&c| c == b'"' || c == b'\\' || c < 0x20)?;
            if b.get(start + len) != Some(&b'"') {
                return None;
            }
            *i = start + len + 1;
            Some(Scalar::Str(Cow::Borrowed(text.get(start..start + len)?)))
        }
        b'n' => literal(i, b"null", Scalar::Null),
        b't' => literal(i, b"true", Scalar::Bool(true)),
        b'f' => literal(i, b"false", Scalar::Bool(false)),
        b'-' | b'0'..=b'9' => {
            let start = *i;
            let digits = start + usize::from(b[start] == b'-');
            let mut end = digits;
            while b.get(end).is_some_and(u8::is_ascii_digit) {
                end += 1;
            }
            // No digit, a leading zero, or more than an integer: serde_json's to read.
            if end == digits
                || (b[digits] == b'0' && end - digits > 1)
                || matches!(b.get(end), Some(b'.' | b'e' | b'E'))
            {
                return None;
            }
            let n: i64 = text.get(start..end)?.parse().ok()?;
            // serde_json reads `-0` as a float.
            if n == 0 && digits > start {
                return None;
            }
            *i = end;
            Some(Scalar::Int(n))
        }
        _ => None,
    }
}

/// The outer array of [`parse_each`]: a seed that converts each row as it goes.
struct Rows<'f, const N: usize, F, E> {
    each: &'f mut F,
    refused: &'f mut Option<E>,
    capacity: usize,
}

impl<'de, const N: usize, F, T, E> DeserializeSeed<'de> for Rows<'_, N, F, E>
where
    F: FnMut(Row<'de, N>) -> Result<T, E>,
{
    type Value = Vec<T>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, const N: usize, F, T, E> Visitor<'de> for Rows<'_, N, F, E>
where
    F: FnMut(Row<'de, N>) -> Result<T, E>,
{
    type Value = Vec<T>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "an array of rows of {N} values")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::with_capacity(self.capacity);
        while let Some(row) = seq.next_element::<Row<'de, N>>()? {
            match (self.each)(row) {
                Ok(t) => out.push(t),
                Err(e) => {
                    *self.refused = Some(e);
                    return Err(A::Error::custom("row refused"));
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_read_every_scalar_and_pad_or_cut_to_their_width() {
        let rows = parse::<4>(
            r#"[[1, "a\"b", null, true], [2.5, "x"], [3, 4, 5, 6, 7], [[1], {"k": 2}, -9, "12"]]"#,
        )
        .unwrap();
        assert_eq!(rows.len(), 4);
        assert_eq!(
            rows[0].0,
            [
                Scalar::Int(1),
                Scalar::Str("a\"b".into()),
                Scalar::Null,
                Scalar::Bool(true)
            ]
        );
        assert_eq!(
            rows[1].0,
            [
                Scalar::Float(2.5),
                Scalar::Str("x".into()),
                Scalar::Null,
                Scalar::Null
            ]
        );
        assert_eq!(rows[2].0[3], Scalar::Int(6));
        assert_eq!(rows[3].0[0], Scalar::Nested);
        assert_eq!(rows[3].0[1], Scalar::Nested);
        assert_eq!(rows[3].0[2].as_i64(), Some(-9));
        assert_eq!(rows[3].0[3].as_i64(), Some(12));
        assert_eq!(rows[3].0[3].as_bool(), Some(true));
        assert_eq!(Scalar::Int(0).as_bool(), Some(false));
        assert_eq!(Scalar::Float(1.0).as_i64(), None);
        assert_eq!(Scalar::Int(7).into_string().as_deref(), Some("7"));
        assert_eq!(Scalar::Null.into_string(), None);
        assert!(parse::<2>(r#"[1]"#).is_err());
        assert!(parse::<2>(r#"[[1,"#).is_err());
    }

    #[test]
    fn each_row_is_converted_as_read_and_a_refusal_stops_the_parse() {
        let text = r#"[[1, "a"], [2, "b\"c"], [3]]"#;
        let rows = parse_each::<2, _, ()>(text, 0, |Row([n, s])| Ok((n.as_i64(), s.into_string())))
            .unwrap();
        assert_eq!(
            rows,
            [
                (Some(1), Some("a".to_string())),
                (Some(2), Some("b\"c".to_string())),
                (Some(3), None)
            ]
        );
        // The same rows as the whole-array parse.
        let whole = parse::<2>(text).unwrap();
        assert_eq!(whole.len(), rows.len());
        // A refusal stops the parse (text the plain reader reads whole).
        let plain = r#"[[1, "a"], [2, "b"], [3]]"#;
        let mut seen = Vec::new();
        let refused = parse_each::<2, (), &str>(plain, 8, |Row([n, _])| {
            seen.push(n.as_i64());
            if n.as_i64() == Some(2) {
                Err("two")
            } else {
                Ok(())
            }
        });
        assert!(matches!(refused, Err(Failed::Row("two"))));
        assert_eq!(seen, [Some(1), Some(2)]);
        for bad in [
            r#"[[1, "a"]"#,
            r#"[[1, "a"]] x"#,
            r#"{"a": 1}"#,
            r#"[1]"#,
            "",
        ] {
            assert!(
                matches!(
                    parse_each::<2, (), ()>(bad, 0, |_| Ok(())),
                    Err(Failed::Json(_))
                ),
                "{bad}"
            );
        }
        assert!(
            parse_each::<2, (), ()>("[]", 0, |_| Ok(()))
                .unwrap()
                .is_empty()
        );
    }

    /// The plain reader reads what it reads as serde_json does, and leaves the rest to it.
    #[test]
    fn the_plain_reader_agrees_with_serde_json() {
        let texts = [
            "[]",
            " [ ] ",
            "[[]]",
            r#"[[1,"m1_a","up","abc","succeeded",1,null,null,0,"2026-12-04 18:31:25.9"]]"#,
            r#"[ [ 1 , "a" , null ] ,
               [-7,"",true,false] ]"#,
            r#"[[1, "esc\"aped"], [2, "x"]]"#,
            r#"[[1, "tab\tin"], [2, "\u00e9"]]"#,
            r#"[[-0], [0], [00]]"#,
            r#"[[1.5], [2e3], [-1E-2]]"#,
            r#"[[9223372036854775807], [9223372036854775808], [-9223372036854775808], [-9223372036854775809]]"#,
            r#"[[1, [2, 3]], [{"k": [1]}]]"#,
            r#"[[1, "é ü", "日本"]]"#,
            r#"[[1,2,3,4,5,6,7,8,9,10,11,12]]"#,
            r#"[[1] [2]]"#,
            r#"[[1],]"#,
            r#"[[1,]]"#,
            r#"[[1]] x"#,
            r#"[[nul]]"#,
            r#"[[truex]]"#,
            r#"[["unterminated]]"#,
            "[[\"ctl\u{1}\"]]",
            r#"[[-]]"#,
            r#"[1]"#,
            r#"{"a": 1}"#,
            "",
        ];
        for text in texts {
            let plain = parse_plain::<4, _, ()>(text, 0, &mut |Row(r)| Ok(r));
            let serde =
                parse::<4>(text).map(|rows| rows.into_iter().map(|r| r.0).collect::<Vec<_>>());
            match (plain, serde) {
                (Some(Ok(p)), Ok(s)) => assert_eq!(p, s, "{text}"),
                (Some(Ok(p)), Err(e)) => panic!("{text}: plain read {p:?}, serde_json failed: {e}"),
                (Some(Err(())), _) => unreachable!(),
                (None, _) => {}
            }
            // Through `parse_each`, whichever reads it.
            let each = parse_each::<4, _, ()>(text, 0, |Row(r)| Ok(r));
            match (each, parse::<4>(text)) {
                (Ok(a), Ok(b)) => {
                    assert_eq!(a, b.into_iter().map(|r| r.0).collect::<Vec<_>>(), "{text}")
                }
                (Err(Failed::Json(_)), Err(_)) => {}
                (a, b) => panic!("{text}: {a:?} vs {b:?}"),
            }
        }
        // What the databases write is read by the plain reader, borrowed.
        let rows = parse_plain::<2, _, ()>(r#"[["plain",1]]"#, 0, &mut |Row(r)| Ok(r))
            .unwrap()
            .unwrap();
        assert!(matches!(rows[0][0], Scalar::Str(Cow::Borrowed("plain"))));
        assert!(parse_plain::<2, _, ()>(r#"[["esc\n",1]]"#, 0, &mut |Row(r)| Ok(r)).is_none());
    }

    #[test]
    fn unescaped_strings_are_borrowed() {
        let rows = parse::<2>(r#"[["plain", "esc\naped"]]"#).unwrap();
        assert!(matches!(rows[0].0[0], Scalar::Str(Cow::Borrowed("plain"))));
        assert!(matches!(&rows[0].0[1], Scalar::Str(Cow::Owned(s)) if s == "esc\naped"));
    }
}
