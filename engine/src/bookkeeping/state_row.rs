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
pub(crate) fn parse_each<'a, const N: usize, T, E>(
    text: &'a str,
    capacity: usize,
    mut each: impl FnMut(Row<'a, N>) -> Result<T, E>,
) -> Result<Vec<T>, Failed<E>> {
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
        let mut seen = Vec::new();
        let refused = parse_each::<2, (), &str>(text, 8, |Row([n, _])| {
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

    #[test]
    fn unescaped_strings_are_borrowed() {
        let rows = parse::<2>(r#"[["plain", "esc\naped"]]"#).unwrap();
        assert!(matches!(rows[0].0[0], Scalar::Str(Cow::Borrowed("plain"))));
        assert!(matches!(&rows[0].0[1], Scalar::Str(Cow::Owned(s)) if s == "esc\naped"));
    }
}
