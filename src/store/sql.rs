//! The store's SQL, written once for both backends (docs/postgres.md, "One interface, two
//! implementations"): statements are SQLite text with numbered placeholders (`?1`, `?2`),
//! rewritten here for PostgreSQL (`$1`, `$2`), and rows are read through [`SqlRow`], so the
//! functions that turn a row into a record do not know which backend produced it.

use std::borrow::Cow;

/// The PostgreSQL text of a statement written for SQLite: every numbered placeholder `?N`
/// outside quoted text becomes `$N`. Quoted literals ('...') and identifiers ("...") are
/// copied untouched, so a `?` inside them stays a character. A bare `?` (SQLite's unnumbered
/// placeholder) is not used by the store; it is copied as it is, and PostgreSQL then rejects
/// the statement, rather than this function guess its number.
pub fn postgres_text(sqlite: &str) -> String {
    let mut out = String::with_capacity(sqlite.len());
    let mut chars = sqlite.chars().peekable();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        match quote {
            Some(q) => {
                // A doubled quote inside quoted text is an escaped quote: the text goes on,
                // and both characters are copied by this and the next turn.
                if c == q {
                    quote = None;
                }
                out.push(c);
            }
            None if c == '\'' || c == '"' => {
                quote = Some(c);
                out.push(c);
            }
            None if c == '?' && chars.peek().is_some_and(char::is_ascii_digit) => out.push('$'),
            None => out.push(c),
        }
    }
    out
}

/// A statement the two dialects write differently, both texts side by side so that a change to
/// one is seen to need the other. The PostgreSQL text is written with SQLite's numbered
/// placeholders too, and rewritten by [`postgres_text`] like every other.
#[derive(Debug, Clone, Copy)]
pub struct Twin {
    pub sqlite: &'static str,
    pub postgres: &'static str,
}

/// A result row of either backend, read by column index. The store's row-mapping functions
/// take this rather than a backend's row type, so that each is written once. Integers are
/// 64-bit on both (SQLite's `INTEGER`, PostgreSQL's `BIGINT`), and booleans are stored as 0/1
/// integers on both.
pub trait SqlRow {
    type Error;
    fn i64(&self, column: usize) -> Result<i64, Self::Error>;
    fn opt_i64(&self, column: usize) -> Result<Option<i64>, Self::Error>;
    fn text(&self, column: usize) -> Result<String, Self::Error>;
    fn opt_text(&self, column: usize) -> Result<Option<String>, Self::Error>;
    fn opt_blob(&self, column: usize) -> Result<Option<Vec<u8>>, Self::Error>;
    fn f64(&self, column: usize) -> Result<f64, Self::Error>;

    /// A 0/1 column as a boolean; any non-zero value is true, as rusqlite reads it.
    fn flag(&self, column: usize) -> Result<bool, Self::Error> {
        Ok(self.i64(column)? != 0)
    }
}

impl SqlRow for rusqlite::Row<'_> {
    type Error = rusqlite::Error;
    fn i64(&self, column: usize) -> rusqlite::Result<i64> {
        self.get(column)
    }
    fn opt_i64(&self, column: usize) -> rusqlite::Result<Option<i64>> {
        self.get(column)
    }
    fn text(&self, column: usize) -> rusqlite::Result<String> {
        self.get(column)
    }
    fn opt_text(&self, column: usize) -> rusqlite::Result<Option<String>> {
        self.get(column)
    }
    fn f64(&self, column: usize) -> rusqlite::Result<f64> {
        self.get(column)
    }
    fn opt_blob(&self, column: usize) -> rusqlite::Result<Option<Vec<u8>>> {
        self.get(column)
    }
}

impl SqlRow for postgres::Row {
    type Error = postgres::Error;
    fn i64(&self, column: usize) -> Result<i64, postgres::Error> {
        self.try_get(column)
    }
    fn opt_i64(&self, column: usize) -> Result<Option<i64>, postgres::Error> {
        self.try_get(column)
    }
    fn text(&self, column: usize) -> Result<String, postgres::Error> {
        self.try_get(column)
    }
    fn opt_text(&self, column: usize) -> Result<Option<String>, postgres::Error> {
        self.try_get(column)
    }
    fn f64(&self, column: usize) -> Result<f64, postgres::Error> {
        self.try_get(column)
    }
    fn opt_blob(&self, column: usize) -> Result<Option<Vec<u8>>, postgres::Error> {
        self.try_get(column)
    }
}

/// A value read from one column of either backend's row, for [`FromRow`].
pub trait Column: Sized {
    fn column<R: SqlRow>(row: &R, index: usize) -> Result<Self, R::Error>;
}

impl Column for i64 {
    fn column<R: SqlRow>(row: &R, index: usize) -> Result<i64, R::Error> {
        row.i64(index)
    }
}

impl Column for Option<i64> {
    fn column<R: SqlRow>(row: &R, index: usize) -> Result<Option<i64>, R::Error> {
        row.opt_i64(index)
    }
}

impl Column for Option<String> {
    fn column<R: SqlRow>(row: &R, index: usize) -> Result<Option<String>, R::Error> {
        row.opt_text(index)
    }
}

impl Column for String {
    fn column<R: SqlRow>(row: &R, index: usize) -> Result<String, R::Error> {
        row.text(index)
    }
}

/// A whole row read into a Rust value, on either backend: a single column, or a tuple of
/// columns in the statement's order. What the statements written once for both backends (the
/// corrections, `WriteTx::query_one`) read rows into, so that their callers are written once.
pub trait FromRow: Sized {
    fn from_row<R: SqlRow>(row: &R) -> Result<Self, R::Error>;
}

impl FromRow for i64 {
    fn from_row<R: SqlRow>(row: &R) -> Result<i64, R::Error> {
        row.i64(0)
    }
}

impl FromRow for String {
    fn from_row<R: SqlRow>(row: &R) -> Result<String, R::Error> {
        row.text(0)
    }
}

impl<A: Column, B: Column> FromRow for (A, B) {
    fn from_row<R: SqlRow>(row: &R) -> Result<(A, B), R::Error> {
        Ok((A::column(row, 0)?, B::column(row, 1)?))
    }
}

impl<A: Column, B: Column, C: Column> FromRow for (A, B, C) {
    fn from_row<R: SqlRow>(row: &R) -> Result<(A, B, C), R::Error> {
        Ok((A::column(row, 0)?, B::column(row, 1)?, C::column(row, 2)?))
    }
}

impl<A: Column, B: Column, C: Column, D: Column> FromRow for (A, B, C, D) {
    fn from_row<R: SqlRow>(row: &R) -> Result<(A, B, C, D), R::Error> {
        Ok((
            A::column(row, 0)?,
            B::column(row, 1)?,
            C::column(row, 2)?,
            D::column(row, 3)?,
        ))
    }
}

/// A statement parameter for either backend. The store's values are few: 64-bit integers
/// (counts, ids, 0/1 flags), reals (scores), text (names, URLs, RFC 3339 timestamps) and
/// blobs (digests), each possibly NULL. A parameter list built once as `Value`s is bound by
/// both backends, so each write's parameters are written once. Text and blobs borrow where the
/// caller has them, so that SQLite's hot path copies no more than it did with `params!`.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    Null,
    Int(i64),
    Real(f64),
    Text(Cow<'a, str>),
    Blob(Cow<'a, [u8]>),
}

impl From<i64> for Value<'_> {
    fn from(value: i64) -> Self {
        Value::Int(value)
    }
}

impl From<u32> for Value<'_> {
    fn from(value: u32) -> Self {
        Value::Int(i64::from(value))
    }
}

/// Flags are stored as 0/1 integers on both backends, as rusqlite binds a `bool`.
impl From<bool> for Value<'_> {
    fn from(value: bool) -> Self {
        Value::Int(i64::from(value))
    }
}

impl From<f64> for Value<'_> {
    fn from(value: f64) -> Self {
        Value::Real(value)
    }
}

impl From<String> for Value<'_> {
    fn from(value: String) -> Self {
        Value::Text(Cow::Owned(value))
    }
}

impl<'a> From<&'a str> for Value<'a> {
    fn from(value: &'a str) -> Self {
        Value::Text(Cow::Borrowed(value))
    }
}

impl From<Vec<u8>> for Value<'_> {
    fn from(value: Vec<u8>) -> Self {
        Value::Blob(Cow::Owned(value))
    }
}

impl<'a, T: Into<Value<'a>>> From<Option<T>> for Value<'a> {
    fn from(value: Option<T>) -> Self {
        value.map_or(Value::Null, Into::into)
    }
}

impl rusqlite::ToSql for Value<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match self {
            Value::Null => ValueRef::Null,
            Value::Int(v) => ValueRef::Integer(*v),
            Value::Real(v) => ValueRef::Real(*v),
            Value::Text(v) => ValueRef::Text(v.as_bytes()),
            Value::Blob(v) => ValueRef::Blob(v),
        }))
    }
}

/// Every PostgreSQL type is accepted here and each variant checks the parameter's type itself
/// (`to_sql_checked`), so that a NULL binds to a parameter of any type and a value of the
/// wrong type is still an error, not bytes the server misreads.
impl postgres::types::ToSql for Value<'_> {
    fn to_sql(
        &self,
        ty: &postgres::types::Type,
        out: &mut bytes::BytesMut,
    ) -> Result<postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Value::Null => Ok(postgres::types::IsNull::Yes),
            Value::Int(v) => v.to_sql_checked(ty, out),
            Value::Real(v) => v.to_sql_checked(ty, out),
            Value::Text(v) => v.as_ref().to_sql_checked(ty, out),
            Value::Blob(v) => v.as_ref().to_sql_checked(ty, out),
        }
    }

    fn accepts(_: &postgres::types::Type) -> bool {
        true
    }

    postgres::types::to_sql_checked!();
}

/// A parameter list as the `postgres` client takes it.
pub fn postgres_params<'v>(
    values: &'v [Value<'_>],
) -> Vec<&'v (dyn postgres::types::ToSql + Sync)> {
    values
        .iter()
        .map(|v| v as &(dyn postgres::types::ToSql + Sync))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::postgres_text;

    #[test]
    fn numbered_placeholders_become_dollars() {
        assert_eq!(
            postgres_text("UPDATE t SET a = ?2, b = ?10 WHERE id = ?1"),
            "UPDATE t SET a = $2, b = $10 WHERE id = $1"
        );
    }

    #[test]
    fn quoted_question_marks_stay() {
        assert_eq!(
            postgres_text(r#"SELECT '?1', 'it''s ?2', "col?3" FROM t WHERE x = ?4"#),
            r#"SELECT '?1', 'it''s ?2', "col?3" FROM t WHERE x = $4"#
        );
    }

    #[test]
    fn bare_question_mark_is_not_numbered() {
        assert_eq!(postgres_text("SELECT ? + ?1"), "SELECT ? + $1");
    }
}
