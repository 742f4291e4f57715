//! The statements of a write transaction, run by whichever engine holds it.
//!
//! A write on SQLite runs on the writer's own connection (`writer.rs`), driven
//! directly by the request that holds the write lock: each statement is a
//! function call, not a message to a driver's worker thread and a wake-up back.
//! On PostgreSQL the same statement goes through sqlx. The write code is written
//! once against [`Exec`]: a statement is a [`Query`] (SQL in the common subset,
//! `$N` parameters) with its arguments, and comes back as [`Row`]s whose
//! columns are read by name.

use std::borrow::Cow;

use async_trait::async_trait;
use sqlx::any::AnyRow;
use sqlx::{Any, AnyConnection, Row as _};

use crate::{StoreError, StoreResult};

/// A bound argument. A null keeps the type of the value it stands for:
/// PostgreSQL is told each parameter's type, and an integer null where a text
/// is expected is an error there.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Arg<'a> {
    Int(i64),
    Text(Cow<'a, str>),
    NullInt,
    NullText,
}

impl From<i64> for Arg<'_> {
    fn from(value: i64) -> Self {
        Arg::Int(value)
    }
}

impl From<bool> for Arg<'_> {
    fn from(value: bool) -> Self {
        Arg::Int(i64::from(value))
    }
}

impl<'a> From<&'a str> for Arg<'a> {
    fn from(value: &'a str) -> Self {
        Arg::Text(Cow::Borrowed(value))
    }
}

impl<'a> From<&'a String> for Arg<'a> {
    fn from(value: &'a String) -> Self {
        Arg::Text(Cow::Borrowed(value.as_str()))
    }
}

impl From<String> for Arg<'_> {
    fn from(value: String) -> Self {
        Arg::Text(Cow::Owned(value))
    }
}

impl From<Option<i64>> for Arg<'_> {
    fn from(value: Option<i64>) -> Self {
        value.map_or(Arg::NullInt, Arg::Int)
    }
}

impl<'a> From<Option<&'a str>> for Arg<'a> {
    fn from(value: Option<&'a str>) -> Self {
        value.map_or(Arg::NullText, Into::into)
    }
}

impl<'a> From<Option<&'a String>> for Arg<'a> {
    fn from(value: Option<&'a String>) -> Self {
        value.map_or(Arg::NullText, Into::into)
    }
}

impl From<Option<String>> for Arg<'_> {
    fn from(value: Option<String>) -> Self {
        value.map_or(Arg::NullText, Into::into)
    }
}

/// One statement and its arguments, in `$1, $2, …` order.
#[derive(Debug)]
pub(crate) struct Query<'a> {
    pub(crate) sql: Cow<'a, str>,
    pub(crate) args: Vec<Arg<'a>>,
}

/// A statement to run with [`Exec`]; arguments follow with [`Query::bind`].
pub(crate) fn query<'a>(sql: impl Into<Cow<'a, str>>) -> Query<'a> {
    Query { sql: sql.into(), args: Vec::new() }
}

impl<'a> Query<'a> {
    pub(crate) fn bind(mut self, value: impl Into<Arg<'a>>) -> Self {
        self.args.push(value.into());
        self
    }

    /// The same statement through sqlx (PostgreSQL, and SQLite's read pool).
    fn to_sqlx(&self) -> sqlx::query::Query<'_, Any, sqlx::any::AnyArguments<'_>> {
        let mut query = sqlx::query(&self.sql);
        for arg in &self.args {
            query = match arg {
                Arg::Int(n) => query.bind(*n),
                Arg::Text(text) => query.bind(text.as_ref()),
                Arg::NullInt => query.bind(None::<i64>),
                Arg::NullText => query.bind(None::<&str>),
            };
        }
        query
    }
}

/// A column's value as the SQLite writer read it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

/// A row of a statement's result.
pub(crate) enum Row {
    /// From sqlx: decoded by sqlx, as every read is.
    Any(AnyRow),
    /// From the SQLite writer: its column names and values.
    Lite { columns: std::sync::Arc<[String]>, values: Vec<Value> },
}

impl Row {
    /// The column `name`, decoded as `T`.
    pub(crate) fn try_get<T: FromColumn>(&self, name: &str) -> StoreResult<T> {
        match self {
            Row::Any(row) => Ok(T::from_any(row, name)?),
            Row::Lite { columns, values } => {
                let at = columns
                    .iter()
                    .position(|c| c == name)
                    .ok_or_else(|| StoreError::Database(sqlx::Error::ColumnNotFound(name.to_owned())))?;
                T::from_lite(&values[at])
                    .ok_or_else(|| StoreError::Corrupt(format!("column {name} holds {:?}", values[at])))
            }
        }
    }
}

impl std::fmt::Debug for Row {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Row::Any(_) => f.write_str("Row::Any(..)"),
            Row::Lite { columns, values } => f.debug_map().entries(columns.iter().zip(values)).finish(),
        }
    }
}

/// A type a column can be read as, from either engine.
pub(crate) trait FromColumn: Sized {
    fn from_lite(value: &Value) -> Option<Self>;
    fn from_any(row: &AnyRow, name: &str) -> Result<Self, sqlx::Error>;
}

impl FromColumn for i64 {
    fn from_lite(value: &Value) -> Option<Self> {
        match value {
            Value::Int(n) => Some(*n),
            _ => None,
        }
    }

    fn from_any(row: &AnyRow, name: &str) -> Result<Self, sqlx::Error> {
        row.try_get(name)
    }
}

impl FromColumn for f64 {
    fn from_lite(value: &Value) -> Option<Self> {
        match value {
            Value::Real(x) => Some(*x),
            // SQLite stores a REAL with no fractional part as an integer.
            Value::Int(n) => Some(*n as f64),
            _ => None,
        }
    }

    fn from_any(row: &AnyRow, name: &str) -> Result<Self, sqlx::Error> {
        row.try_get(name)
    }
}

impl FromColumn for String {
    fn from_lite(value: &Value) -> Option<Self> {
        match value {
            Value::Text(text) => Some(text.clone()),
            _ => None,
        }
    }

    fn from_any(row: &AnyRow, name: &str) -> Result<Self, sqlx::Error> {
        row.try_get(name)
    }
}

impl<T: FromColumn> FromColumn for Option<T>
where
    for<'r> Option<T>: sqlx::Decode<'r, Any> + sqlx::Type<Any>,
{
    fn from_lite(value: &Value) -> Option<Self> {
        match value {
            Value::Null => Some(None),
            other => T::from_lite(other).map(Some),
        }
    }

    fn from_any(row: &AnyRow, name: &str) -> Result<Self, sqlx::Error> {
        row.try_get(name)
    }
}

/// Runs statements inside whatever holds them (a write transaction, a pooled
/// read connection).
#[async_trait]
pub(crate) trait Exec: Send {
    /// Every row the statement returns.
    async fn fetch_all(&mut self, query: Query<'_>) -> StoreResult<Vec<Row>>;

    /// Runs a statement for its effect; the number of rows it changed.
    async fn execute(&mut self, query: Query<'_>) -> StoreResult<u64>;

    /// The first row, if any.
    async fn fetch_optional(&mut self, query: Query<'_>) -> StoreResult<Option<Row>> {
        Ok(self.fetch_all(query).await?.into_iter().next())
    }

    /// The one row the statement must return.
    async fn fetch_one(&mut self, query: Query<'_>) -> StoreResult<Row> {
        self.fetch_optional(query).await?.ok_or(StoreError::Database(sqlx::Error::RowNotFound))
    }
}

#[async_trait]
impl Exec for AnyConnection {
    async fn fetch_all(&mut self, query: Query<'_>) -> StoreResult<Vec<Row>> {
        let rows = query.to_sqlx().fetch_all(&mut *self).await?;
        Ok(rows.into_iter().map(Row::Any).collect())
    }

    async fn execute(&mut self, query: Query<'_>) -> StoreResult<u64> {
        Ok(query.to_sqlx().execute(&mut *self).await?.rows_affected())
    }

    async fn fetch_optional(&mut self, query: Query<'_>) -> StoreResult<Option<Row>> {
        Ok(query.to_sqlx().fetch_optional(&mut *self).await?.map(Row::Any))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_bind_null_or_their_value() {
        assert_eq!(Arg::from(None::<String>), Arg::NullText);
        assert_eq!(Arg::from(None::<i64>), Arg::NullInt);
        assert_eq!(Arg::from(Some(3_i64)), Arg::Int(3));
        assert_eq!(Arg::from(true), Arg::Int(1));
        let row = Row::Lite {
            columns: vec!["a".to_owned(), "b".to_owned()].into(),
            values: vec![Value::Null, Value::Text("x".to_owned())],
        };
        assert_eq!(row.try_get::<Option<String>>("a").ok(), Some(None));
        assert_eq!(row.try_get::<String>("b").ok(), Some("x".to_owned()));
        assert!(matches!(row.try_get::<i64>("b"), Err(StoreError::Corrupt(_))), "a text is not an integer");
        assert!(row.try_get::<i64>("c").is_err(), "no such column");
    }
}
