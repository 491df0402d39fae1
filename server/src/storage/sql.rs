//! One connection for the storage module's statements, on SQLite or on PostgreSQL.
//!
//! Every statement of this module is written once, in the SQL both databases accept (`?N`
//! placeholders, turned into `$N` for PostgreSQL by `postgres::placeholders`), and run through a
//! `Conn`: rusqlite's surface as this module uses it (`execute`, `query_row`, `prepare` then
//! `query_map`), so the statements and the use cases' closures do not know which database
//! answers. Values cross in SQLite's terms: parameters are rusqlite `ToSql` values, bound on
//! PostgreSQL as the type the server inferred for each placeholder (int8, int4, bool, text,
//! bytea: `tests/tests/postgres_schema.rs` holds every statement to these); columns are read
//! back as the SQLite value they would have been (a bool as 0/1), then converted by rusqlite's
//! own `FromSql`, so a row reads the same from either.
use std::cell::RefCell;
use std::collections::HashMap;
use std::error::Error;

use bytes::BytesMut;
use postgres::types::{IsNull, Type, to_sql_checked};
use rusqlite::types::{FromSql, FromSqlError, ToSql, ToSqlOutput, Value, ValueRef};

use super::StorageError;

/// A transaction (or a read-only connection) of either database.
pub enum Conn<'c> {
    Sqlite(&'c rusqlite::Connection),
    Postgres(PgTx<'c>),
}

/// A PostgreSQL transaction with its connection's prepared statements (prepared once per
/// connection, as rusqlite's `prepare_cached` does, so a statement costs one round trip).
pub struct PgTx<'c> {
    tx: RefCell<postgres::Transaction<'c>>,
    statements: RefCell<&'c mut HashMap<String, postgres::Statement>>,
}

/// Statements kept per connection before the cache is emptied (the queue's filters are built at
/// run time, so the set of texts is not fixed).
const STATEMENT_CACHE: usize = 512;

impl<'c> PgTx<'c> {
    pub fn new(
        tx: postgres::Transaction<'c>,
        statements: &'c mut HashMap<String, postgres::Statement>,
    ) -> PgTx<'c> {
        PgTx {
            tx: RefCell::new(tx),
            statements: RefCell::new(statements),
        }
    }

    pub fn commit(self) -> Result<(), StorageError> {
        Ok(self.tx.into_inner().commit()?)
    }

    fn statement(&self, sql: &str) -> Result<postgres::Statement, StorageError> {
        if let Some(s) = self.statements.borrow().get(sql) {
            return Ok(s.clone());
        }
        let prepared = self
            .tx
            .borrow_mut()
            .prepare(&super::postgres::placeholders(sql))?;
        let mut cache = self.statements.borrow_mut();
        if cache.len() >= STATEMENT_CACHE {
            cache.clear();
        }
        cache.insert(sql.to_string(), prepared.clone());
        Ok(prepared)
    }

    fn bound(params: &[&dyn ToSql]) -> Result<Vec<PgValue>, StorageError> {
        params
            .iter()
            .map(|p| {
                Ok(PgValue(match p.to_sql()? {
                    ToSqlOutput::Borrowed(v) => Value::from(v),
                    ToSqlOutput::Owned(v) => v,
                    _ => return Err(StorageError::Malformed("an unsupported parameter".into())),
                }))
            })
            .collect()
    }

    fn execute(&self, sql: &str, params: &[&dyn ToSql]) -> Result<usize, StorageError> {
        let statement = self.statement(sql)?;
        let values = Self::bound(params)?;
        let refs: Vec<&(dyn postgres::types::ToSql + Sync)> =
            values.iter().map(|v| v as _).collect();
        Ok(self.tx.borrow_mut().execute(&statement, &refs)? as usize)
    }

    fn query(&self, sql: &str, params: &[&dyn ToSql]) -> Result<Vec<postgres::Row>, StorageError> {
        let statement = self.statement(sql)?;
        let values = Self::bound(params)?;
        let refs: Vec<&(dyn postgres::types::ToSql + Sync)> =
            values.iter().map(|v| v as _).collect();
        Ok(self.tx.borrow_mut().query(&statement, &refs)?)
    }
}

impl PgTx<'_> {
    fn for_each(
        &self,
        sql: &str,
        params: &[&dyn ToSql],
        mut f: impl FnMut(&postgres::Row) -> Result<bool, StorageError>,
    ) -> Result<(), StorageError> {
        use postgres::fallible_iterator::FallibleIterator;
        let statement = self.statement(sql)?;
        let values = Self::bound(params)?;
        let mut tx = self.tx.borrow_mut();
        let mut rows = tx.query_raw(&statement, values.iter())?;
        while let Some(row) = rows.next()? {
            if !f(&row)? {
                break;
            }
        }
        Ok(())
    }
}

impl<'c> Conn<'c> {
    pub fn is_postgres(&self) -> bool {
        matches!(self, Conn::Postgres(_))
    }

    /// Run a statement; the number of rows it changed.
    pub fn execute<P: Params>(&self, sql: &str, params: P) -> Result<usize, StorageError> {
        params.with(|values| match self {
            Conn::Sqlite(c) => Ok(c.prepare_cached(sql)?.execute(values)?),
            Conn::Postgres(pg) => pg.execute(sql, values),
        })
    }

    /// The first row, read by `f`; `StorageError::NotFound` when there is none.
    pub fn query_row<T, P, F>(&self, sql: &str, params: P, f: F) -> Result<T, StorageError>
    where
        P: Params,
        F: FnOnce(&Row<'_>) -> rusqlite::Result<T>,
    {
        params.with(|values| match self {
            Conn::Sqlite(c) => match c
                .prepare_cached(sql)?
                .query_row(values, |r| f(&Row::Sqlite(r)))
            {
                Err(rusqlite::Error::QueryReturnedNoRows) => Err(StorageError::NotFound),
                other => Ok(other?),
            },
            Conn::Postgres(pg) => match pg.query(sql, values)?.first() {
                Some(row) => Ok(f(&Row::Postgres(row))?),
                None => Err(StorageError::NotFound),
            },
        })
    }

    /// Statements separated by `;`, without parameters (a migration, a test's damage).
    pub fn execute_batch(&self, sql: &str) -> Result<(), StorageError> {
        match self {
            Conn::Sqlite(c) => Ok(c.execute_batch(sql)?),
            Conn::Postgres(pg) => Ok(pg.tx.borrow_mut().batch_execute(sql)?),
        }
    }

    /// A table's columns, in order (PostgreSQL's own row numbers, which SQLite keeps hidden as
    /// `rowid`, left out).
    pub fn columns(&self, table: &str) -> Result<Vec<String>, StorageError> {
        let rows = match self {
            Conn::Sqlite(_) => {
                self.query_map(&format!("PRAGMA table_info(\"{table}\")"), [], |r| r.get(1))?
            }
            Conn::Postgres(_) => self.query_map(
                "SELECT column_name::text FROM information_schema.columns
                 WHERE table_schema = current_schema() AND table_name = ?1
                   AND NOT (is_identity = 'YES' AND identity_generation = 'ALWAYS')
                 ORDER BY ordinal_position",
                [table],
                |r| r.get(0),
            )?,
        };
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// A statement to run (several times, or for many rows). Prepared on first use and kept.
    pub fn prepare<'a>(&'a self, sql: &str) -> Result<Statement<'a, 'c>, StorageError> {
        Ok(Statement {
            conn: self,
            sql: sql.to_string(),
        })
    }

    /// The same as `prepare` (every statement is kept once prepared); rusqlite's name.
    pub fn prepare_cached<'a>(&'a self, sql: &str) -> Result<Statement<'a, 'c>, StorageError> {
        self.prepare(sql)
    }

    /// Every row, each read by `f`. Read in full before returning (the rows of these queries
    /// are bounded: a page of the queue, a candidate's images).
    pub fn query_map<T, P, F>(
        &self,
        sql: &str,
        params: P,
        mut f: F,
    ) -> Result<std::vec::IntoIter<rusqlite::Result<T>>, StorageError>
    where
        P: Params,
        F: FnMut(&Row<'_>) -> rusqlite::Result<T>,
    {
        params.with(|values| match self {
            Conn::Sqlite(c) => {
                let mut statement = c.prepare_cached(sql)?;
                let rows = statement.query_map(values, |r| f(&Row::Sqlite(r)))?;
                Ok(rows.collect::<Vec<_>>().into_iter())
            }
            Conn::Postgres(pg) => Ok(pg
                .query(sql, values)?
                .iter()
                .map(|r| f(&Row::Postgres(r)))
                .collect::<Vec<_>>()
                .into_iter()),
        })
    }

    /// Read rows one at a time (a table too long to hold, such as the audit chain), until `f`
    /// answers `false`.
    pub fn for_each<P, F>(&self, sql: &str, params: P, mut f: F) -> Result<(), StorageError>
    where
        P: Params,
        F: FnMut(&Row<'_>) -> Result<bool, StorageError>,
    {
        params.with(|values| match self {
            Conn::Sqlite(c) => {
                let mut statement = c.prepare_cached(sql)?;
                let mut rows = statement.query(values)?;
                while let Some(row) = rows.next()? {
                    if !f(&Row::Sqlite(row))? {
                        break;
                    }
                }
                Ok(())
            }
            Conn::Postgres(pg) => pg.for_each(sql, values, |row| f(&Row::Postgres(row))),
        })
    }

    /// End the transaction, keeping what it wrote.
    pub fn commit(self) -> Result<(), StorageError> {
        match self {
            Conn::Sqlite(_) => Ok(()),
            Conn::Postgres(pg) => pg.commit(),
        }
    }
}

/// A statement and the connection it runs on.
pub struct Statement<'a, 'c> {
    conn: &'a Conn<'c>,
    sql: String,
}

impl Statement<'_, '_> {
    pub fn execute<P: Params>(&mut self, params: P) -> Result<usize, StorageError> {
        self.conn.execute(&self.sql, params)
    }

    pub fn query_row<T, P, F>(&mut self, params: P, f: F) -> Result<T, StorageError>
    where
        P: Params,
        F: FnOnce(&Row<'_>) -> rusqlite::Result<T>,
    {
        self.conn.query_row(&self.sql, params, f)
    }

    pub fn query_map<T, P, F>(
        &mut self,
        params: P,
        f: F,
    ) -> Result<std::vec::IntoIter<rusqlite::Result<T>>, StorageError>
    where
        P: Params,
        F: FnMut(&Row<'_>) -> rusqlite::Result<T>,
    {
        self.conn.query_map(&self.sql, params, f)
    }
}

/// A row of either database, its columns read as SQLite values.
pub enum Row<'r> {
    Sqlite(&'r rusqlite::Row<'r>),
    Postgres(&'r postgres::Row),
}

/// A column's position (the only index these statements use).
pub trait ColumnIndex {
    fn position(&self) -> usize;
}

impl ColumnIndex for usize {
    fn position(&self) -> usize {
        *self
    }
}

impl Row<'_> {
    pub fn get<I: ColumnIndex, T: FromSql>(&self, index: I) -> rusqlite::Result<T> {
        let i = index.position();
        match self {
            Row::Sqlite(r) => r.get(i),
            Row::Postgres(r) => {
                let value = sqlite_value(r, i)?;
                T::column_result(ValueRef::from(&value)).map_err(|e| match e {
                    FromSqlError::InvalidType => rusqlite::Error::InvalidColumnType(
                        i,
                        r.columns()[i].name().to_string(),
                        value.data_type(),
                    ),
                    FromSqlError::OutOfRange(n) => rusqlite::Error::IntegralValueOutOfRange(i, n),
                    other => rusqlite::Error::FromSqlConversionFailure(
                        i,
                        value.data_type(),
                        Box::new(other),
                    ),
                })
            }
        }
    }
}

/// A PostgreSQL column as the value SQLite would have stored.
fn sqlite_value(row: &postgres::Row, i: usize) -> rusqlite::Result<Value> {
    let Some(column) = row.columns().get(i) else {
        return Err(rusqlite::Error::InvalidColumnIndex(i));
    };
    let failed = |e: postgres::Error| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Null, Box::new(e))
    };
    Ok(match *column.type_() {
        Type::INT8 => row
            .try_get::<_, Option<i64>>(i)
            .map_err(failed)?
            .map(Value::Integer),
        Type::INT4 => row
            .try_get::<_, Option<i32>>(i)
            .map_err(failed)?
            .map(|v| Value::Integer(v.into())),
        Type::INT2 => row
            .try_get::<_, Option<i16>>(i)
            .map_err(failed)?
            .map(|v| Value::Integer(v.into())),
        Type::BOOL => row
            .try_get::<_, Option<bool>>(i)
            .map_err(failed)?
            .map(|v| Value::Integer(v.into())),
        Type::FLOAT8 => row
            .try_get::<_, Option<f64>>(i)
            .map_err(failed)?
            .map(Value::Real),
        Type::BYTEA => row
            .try_get::<_, Option<Vec<u8>>>(i)
            .map_err(failed)?
            .map(Value::Blob),
        _ => row
            .try_get::<_, Option<String>>(i)
            .map_err(failed)?
            .map(Value::Text),
    }
    .unwrap_or(Value::Null))
}

/// A statement's parameters: `params![…]`, an array of one type, or a slice.
pub trait Params {
    fn with<R>(self, f: impl FnOnce(&[&dyn ToSql]) -> R) -> R;
}

impl Params for [&(dyn ToSql + Send + Sync); 0] {
    fn with<R>(self, f: impl FnOnce(&[&dyn ToSql]) -> R) -> R {
        f(&[])
    }
}

impl<const N: usize> Params for &[&dyn ToSql; N] {
    fn with<R>(self, f: impl FnOnce(&[&dyn ToSql]) -> R) -> R {
        f(self)
    }
}

impl Params for &[&dyn ToSql] {
    fn with<R>(self, f: impl FnOnce(&[&dyn ToSql]) -> R) -> R {
        f(self)
    }
}

impl Params for &[Value] {
    fn with<R>(self, f: impl FnOnce(&[&dyn ToSql]) -> R) -> R {
        let refs: Vec<&dyn ToSql> = self.iter().map(|v| v as &dyn ToSql).collect();
        f(&refs)
    }
}

macro_rules! array_params {
    ($($n:literal)*) => {$(
        impl<T: ToSql> Params for [T; $n] {
            fn with<R>(self, f: impl FnOnce(&[&dyn ToSql]) -> R) -> R {
                let refs: Vec<&dyn ToSql> = self.iter().map(|v| v as &dyn ToSql).collect();
                f(&refs)
            }
        }
    )*};
}
array_params!(1 2 3 4 5 6);

/// A SQLite value bound to a PostgreSQL parameter of the type the server inferred for it.
#[derive(Debug)]
struct PgValue(Value);

impl postgres::types::ToSql for PgValue {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        match (&self.0, ty) {
            (Value::Null, _) => Ok(IsNull::Yes),
            (Value::Integer(v), &Type::INT8) => postgres::types::ToSql::to_sql(v, ty, out),
            (Value::Integer(v), &Type::INT4) => {
                postgres::types::ToSql::to_sql(&i32::try_from(*v)?, ty, out)
            }
            (Value::Integer(v), &Type::INT2) => {
                postgres::types::ToSql::to_sql(&i16::try_from(*v)?, ty, out)
            }
            (Value::Integer(v), &Type::BOOL) => postgres::types::ToSql::to_sql(&(*v != 0), ty, out),
            (Value::Real(v), &Type::FLOAT8) => postgres::types::ToSql::to_sql(v, ty, out),
            (Value::Text(v), &Type::TEXT | &Type::VARCHAR | &Type::NAME) => {
                postgres::types::ToSql::to_sql(v, ty, out)
            }
            (Value::Blob(v), &Type::BYTEA) => postgres::types::ToSql::to_sql(v, ty, out),
            (value, ty) => Err(format!("cannot bind {:?} as {ty}", value.data_type()).into()),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}
