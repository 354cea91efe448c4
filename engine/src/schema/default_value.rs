//! Column defaults by meaning: the one place that knows how each backend spells a default.
//!
//! The entities spell a default one way (`'unknown'`, `3`, `true`), and each database reports
//! it its own way: PostgreSQL adds casts and parentheses (`'unknown'::character varying`,
//! `'-1'::integer`, `(0)::double precision`), MariaDB quotes or introduces strings
//! (`'unknown'`, `_utf8mb4'unknown'`) and writes booleans as `1`/`0`, MySQL 8 reports string
//! defaults unquoted, SQLite keeps the text as written (`'unknown'`, `1.0`, `TRUE`, `0`).
//! [`DefaultValue::parse`] reads any of these (with [`sqlparser`] where it is an expression)
//! into one value, so that drift and autogenerate compare defaults by what they mean.

use sqlparser::ast::{CastKind, Expr, FunctionArguments, UnaryOperator, Value};
use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;

/// What a column default means, whatever backend spelled it.
#[derive(Debug, Clone, PartialEq)]
pub enum DefaultValue {
    /// `NULL` (the same as no default).
    Null,
    /// A string literal (unquoted, unescaped).
    Text(String),
    /// A number (compared by value: `1`, `1.0` and `'1'::integer` are one number).
    Number(f64),
    /// A boolean (`true`/`false`, `TRUE`, `1`/`0` on boolean columns).
    Bool(bool),
    /// The current date and time (`CURRENT_TIMESTAMP`, `now()`, `current_timestamp()`,
    /// SQLite's `datetime('now')`).
    CurrentTimestamp,
    /// Any other expression, as lowercase text with whitespace collapsed.
    Expr(String),
}

/// The family of a column's native type, which decides how a bare default reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Boolean,
    Numeric,
    Textual,
    Other,
}

fn family(data_type: &str) -> Family {
    let t = data_type.trim().to_ascii_lowercase();
    if matches!(t.as_str(), "boolean" | "bool" | "tinyint(1)") {
        return Family::Boolean;
    }
    let numeric = [
        "int",
        "integer",
        "bigint",
        "smallint",
        "mediumint",
        "tinyint",
        "real",
        "float",
        "double",
        "double precision",
        "numeric",
        "decimal",
    ];
    let base = t.split('(').next().unwrap_or("").trim();
    let base = base.trim_end_matches(" unsigned");
    if numeric.contains(&base) {
        return Family::Numeric;
    }
    if ["character varying", "varchar", "char", "character", "text"].contains(&base)
        || base.ends_with("text")
    {
        return Family::Textual;
    }
    Family::Other
}

/// Drops a MySQL character-set introducer (`_utf8mb4'x'` is `'x'`).
fn strip_introducer(s: &str) -> &str {
    if let Some(rest) = s.strip_prefix('_') {
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        if end > 0 && rest[end..].starts_with('\'') {
            return &rest[end..];
        }
    }
    s
}

fn collapse(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_ascii_lowercase()
}

fn is_now(name: &str) -> bool {
    matches!(
        name,
        "now" | "current_timestamp" | "localtimestamp" | "transaction_timestamp"
    )
}

/// Reads a parsed expression; `None` when it is not one of the known literal forms.
fn from_expr(expr: &Expr) -> Option<DefaultValue> {
    match expr {
        Expr::Nested(inner) => from_expr(inner),
        Expr::Cast {
            kind: CastKind::DoubleColon | CastKind::Cast,
            expr,
            ..
        } => from_expr(expr),
        Expr::Value(v) => match &v.value {
            Value::Null => Some(DefaultValue::Null),
            Value::Boolean(b) => Some(DefaultValue::Bool(*b)),
            Value::Number(n, _) => n.parse::<f64>().ok().map(DefaultValue::Number),
            Value::SingleQuotedString(s)
            | Value::EscapedStringLiteral(s)
            | Value::DoubleQuotedString(s) => Some(DefaultValue::Text(s.clone())),
            _ => None,
        },
        Expr::UnaryOp { op, expr } => match (op, from_expr(expr)?) {
            (UnaryOperator::Minus, DefaultValue::Number(n)) => Some(DefaultValue::Number(-n)),
            (UnaryOperator::Plus, DefaultValue::Number(n)) => Some(DefaultValue::Number(n)),
            _ => None,
        },
        Expr::Function(f) => {
            let name = f.name.to_string().to_ascii_lowercase();
            let no_args = match &f.args {
                FunctionArguments::None => true,
                FunctionArguments::List(l) => l.args.is_empty(),
                FunctionArguments::Subquery(_) => false,
            };
            if is_now(&name) {
                return Some(DefaultValue::CurrentTimestamp);
            }
            if name == "datetime" && !no_args && collapse(&f.args.to_string()) == "('now')" {
                return Some(DefaultValue::CurrentTimestamp);
            }
            None
        }
        Expr::Identifier(id) if is_now(&id.value.to_ascii_lowercase()) => {
            Some(DefaultValue::CurrentTimestamp)
        }
        _ => None,
    }
}

impl DefaultValue {
    /// Reads `raw`, a default as a backend or the entities spell it, for a column of native
    /// type `data_type` (which decides what `1` means on a boolean column, or an unquoted word
    /// on a text column, as MySQL 8 reports string defaults).
    pub fn parse(raw: &str, data_type: &str) -> DefaultValue {
        let text = strip_introducer(raw.trim());
        let fam = family(data_type);
        let parsed = Parser::new(&PostgreSqlDialect {})
            .try_with_sql(text)
            .and_then(|mut p| {
                let e = p.parse_expr()?;
                // Trailing tokens mean the text was not one expression.
                p.expect_token(&sqlparser::tokenizer::Token::EOF)?;
                Ok(e)
            })
            .ok()
            .and_then(|e| from_expr(&e));
        let value = match parsed {
            Some(v) => v,
            None if text.is_empty() || text.eq_ignore_ascii_case("null") => DefaultValue::Null,
            // MySQL 8 reports a string default without quotes.
            None if fam == Family::Textual && !text.contains('(') => {
                DefaultValue::Text(text.to_string())
            }
            None => DefaultValue::Expr(collapse(text)),
        };
        value.typed(fam)
    }

    /// Reinterprets a value for the column's type family: `1`/`'t'` on a boolean column is
    /// `true`, `'3'` on a numeric column is `3`.
    fn typed(self, fam: Family) -> DefaultValue {
        match (fam, self) {
            (Family::Boolean, DefaultValue::Number(n)) if n == 0.0 || n == 1.0 => {
                DefaultValue::Bool(n == 1.0)
            }
            (Family::Boolean, DefaultValue::Text(s)) => {
                match s.trim().to_ascii_lowercase().as_str() {
                    "1" | "t" | "true" | "y" | "yes" | "on" => DefaultValue::Bool(true),
                    "0" | "f" | "false" | "n" | "no" | "off" => DefaultValue::Bool(false),
                    _ => DefaultValue::Text(s),
                }
            }
            (Family::Boolean, DefaultValue::Expr(e)) if e == "b'1'" || e == "b'0'" => {
                DefaultValue::Bool(e == "b'1'")
            }
            (Family::Numeric, DefaultValue::Text(s)) => match s.trim().parse::<f64>() {
                Ok(n) => DefaultValue::Number(n),
                Err(_) => DefaultValue::Text(s),
            },
            (Family::Numeric, DefaultValue::Bool(b)) => {
                DefaultValue::Number(if b { 1.0 } else { 0.0 })
            }
            (_, v) => v,
        }
    }

    /// Reads an optional default; no default is [`DefaultValue::Null`].
    pub fn of(raw: Option<&str>, data_type: &str) -> DefaultValue {
        raw.map_or(DefaultValue::Null, |r| Self::parse(r, data_type))
    }

    /// Whether two optional defaults of a column of type `data_type` mean the same.
    pub fn same(a: Option<&str>, b: Option<&str>, data_type: &str) -> bool {
        Self::of(a, data_type) == Self::of(b, data_type)
    }

    /// The value as a Rust expression for SeaQuery's `.default(..)` (a string, number or
    /// boolean literal); `None` for NULL, the current time and other expressions.
    pub fn rust_literal(&self) -> Option<String> {
        match self {
            DefaultValue::Text(s) => Some(format!("{s:?}")),
            DefaultValue::Bool(b) => Some(b.to_string()),
            DefaultValue::Number(n) if n.fract() == 0.0 && n.abs() < 9.0e15 => {
                Some(format!("{}", *n as i64))
            }
            DefaultValue::Number(n) if n.is_finite() => Some(format!("{n:?}")),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::DefaultValue as D;

    fn same(a: &str, b: &str, ty: &str) -> bool {
        D::same(Some(a), Some(b), ty)
    }

    #[test]
    fn strings_in_every_spelling() {
        for live in [
            "'unknown'::character varying",
            "('unknown'::character varying)",
            "'unknown'",
            "_utf8mb4'unknown'",
            "unknown",
            "('unknown')",
        ] {
            assert!(same("'unknown'", live, "character varying(32)"), "{live}");
            assert!(same("'unknown'", live, "varchar(32)"), "{live}");
        }
        assert!(!same("'unknown'", "'known'::character varying", "text"));
        assert!(same("'it''s'", "'it''s'::text", "text"));
        assert_eq!(
            D::parse("'unknown'::character varying", "text").rust_literal(),
            Some("\"unknown\"".into())
        );
    }

    #[test]
    fn numbers_by_value() {
        assert!(same("3", "3", "integer"));
        assert!(same("-1", "'-1'::integer", "integer"));
        assert!(same("0", "(0)::double precision", "double precision"));
        assert!(same("1.5", "1.50", "double"));
        assert!(same("1", "1.0", "real"));
        assert!(same("3", "'3'", "int(11)"));
        assert!(!same("3", "4", "integer"));
        assert_eq!(
            D::parse("'-1'::integer", "integer").rust_literal(),
            Some("-1".into())
        );
        assert_eq!(D::parse("1.5", "double").rust_literal(), Some("1.5".into()));
    }

    #[test]
    fn booleans_in_every_spelling() {
        for t in ["true", "TRUE", "1", "'1'", "'t'", "b'1'"] {
            assert!(same("true", t, "boolean"), "{t}");
        }
        for f in ["false", "FALSE", "0", "'0'", "'f'", "b'0'"] {
            assert!(same("false", f, "tinyint(1)"), "{f}");
        }
        assert!(!same("true", "0", "boolean"));
    }

    #[test]
    fn current_time_and_null() {
        for now in [
            "CURRENT_TIMESTAMP",
            "now()",
            "current_timestamp()",
            "current_timestamp(6)",
            "datetime('now')",
            "(CURRENT_TIMESTAMP)",
        ] {
            assert!(same("CURRENT_TIMESTAMP", now, "timestamp"), "{now}");
        }
        assert!(D::same(None, Some("NULL"), "integer"));
        assert!(D::same(None, Some("NULL::character varying"), "text"));
        assert!(!D::same(None, Some("0"), "integer"));
        assert!(same("gen_random_uuid()", "gen_random_uuid()", "uuid"));
        assert!(!same("now()", "'now'", "text"));
    }
}
