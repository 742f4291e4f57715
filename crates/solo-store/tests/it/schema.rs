//! The SQLite and PostgreSQL migrations are written twice, once per dialect.
//! This applies both and compares what they built: tables, columns (types
//! mapped to the four storage classes the store uses, nullability), primary
//! keys, indexes (columns, uniqueness, partial or not) and foreign keys (with
//! their `ON DELETE`), so the two cannot drift apart unnoticed.

use std::collections::{BTreeMap, BTreeSet};

use solo_store::sql::SqlOptions;
use solo_store::SqlStore;
use sqlx::{AnyConnection, Connection, Executor, Row};

/// One dialect's schema, in terms both share.
#[derive(Debug, Default, PartialEq, Eq)]
struct Schema {
    /// table → column → (storage class, NOT NULL)
    columns: BTreeMap<String, BTreeMap<String, (&'static str, bool)>>,
    /// table → primary key columns, in order
    primary_keys: BTreeMap<String, Vec<String>>,
    /// Names differ between dialects for constraint-made indexes, so they are left out.
    indexes: BTreeSet<Index>,
    foreign_keys: BTreeSet<ForeignKey>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Index {
    table: String,
    columns: Vec<String>,
    unique: bool,
    partial: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct ForeignKey {
    table: String,
    columns: Vec<String>,
    target: String,
    /// Empty in SQLite when the key refers to the target's primary key.
    target_columns: Vec<String>,
    /// `cascade`, `set null`, `no action`, ...
    on_delete: String,
}

/// The storage class of a declared column type: what the store reads and writes.
fn storage_class(declared: &str) -> &'static str {
    let declared = declared.to_ascii_lowercase();
    if declared.contains("int") || declared == "boolean" {
        "integer"
    } else if declared.contains("char") || declared.contains("text") {
        "text"
    } else if declared.contains("real") || declared.contains("double") || declared.contains("float") {
        "real"
    } else if declared.contains("blob") || declared == "bytea" {
        "blob"
    } else {
        "other"
    }
}

/// What `a` has that `b` has not.
fn only<T: Ord + Clone>(a: &BTreeSet<T>, b: &BTreeSet<T>) -> Vec<T> {
    a.difference(b).cloned().collect()
}

fn columns_of(list: &str) -> Vec<String> {
    list.split(',').filter(|c| !c.is_empty()).map(str::to_owned).collect()
}

async fn sqlite_schema(conn: &mut AnyConnection) -> Schema {
    let mut schema = Schema::default();
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_sqlx%'",
    )
    .fetch_all(&mut *conn)
    .await
    .expect("tables");
    for table in tables {
        let rows = sqlx::query("SELECT name, type, \"notnull\" AS not_null, pk FROM pragma_table_info($1) ORDER BY pk")
            .bind(&table)
            .fetch_all(&mut *conn)
            .await
            .expect("columns");
        let mut primary_key = Vec::new();
        for row in rows {
            let name: String = row.get("name");
            let declared: String = row.get("type");
            let pk: i64 = row.get("pk");
            if pk > 0 {
                primary_key.push(name.clone());
            }
            // SQLite lets a non-integer primary key column hold NULL unless it
            // says NOT NULL; PostgreSQL's never can. The store never writes one.
            let not_null = row.get::<i64, _>("not_null") != 0 || pk > 0;
            schema.columns.entry(table.clone()).or_default().insert(name, (storage_class(&declared), not_null));
        }
        if !primary_key.is_empty() {
            schema.primary_keys.insert(table.clone(), primary_key);
        }

        let indexes = sqlx::query("SELECT name, \"unique\" AS uniq, origin, partial FROM pragma_index_list($1)")
            .bind(&table)
            .fetch_all(&mut *conn)
            .await
            .expect("indexes");
        for index in indexes {
            let origin: String = index.get("origin");
            if origin == "pk" {
                continue;
            }
            let name: String = index.get("name");
            let columns: Vec<String> = sqlx::query_scalar("SELECT name FROM pragma_index_info($1) ORDER BY seqno")
                .bind(&name)
                .fetch_all(&mut *conn)
                .await
                .expect("index columns");
            let unique = index.get::<i64, _>("uniq") != 0;
            let partial = index.get::<i64, _>("partial") != 0;
            schema.indexes.insert(Index { table: table.clone(), columns, unique, partial });
        }

        let keys = sqlx::query(
            "SELECT id, \"table\" AS target, \"from\" AS source, \"to\" AS column_to, on_delete \
             FROM pragma_foreign_key_list($1) ORDER BY id, seq",
        )
        .bind(&table)
        .fetch_all(&mut *conn)
        .await
        .expect("foreign keys");
        let mut by_id: BTreeMap<i64, ForeignKey> = BTreeMap::new();
        for key in keys {
            let entry = by_id.entry(key.get("id")).or_insert_with(|| ForeignKey {
                table: table.clone(),
                columns: Vec::new(),
                target: key.get("target"),
                target_columns: Vec::new(),
                on_delete: key.get::<String, _>("on_delete").to_ascii_lowercase(),
            });
            entry.columns.push(key.get("source"));
            entry.target_columns.extend(key.get::<Option<String>, _>("column_to"));
        }
        schema.foreign_keys.extend(by_id.into_values());
    }
    // A reference without columns means the referenced table's primary key.
    let primary_keys = schema.primary_keys.clone();
    schema.foreign_keys = std::mem::take(&mut schema.foreign_keys)
        .into_iter()
        .map(|mut key| {
            if key.target_columns.is_empty() {
                key.target_columns = primary_keys.get(&key.target).cloned().unwrap_or_default();
            }
            key
        })
        .collect();
    schema
}

async fn postgres_schema(conn: &mut AnyConnection) -> Schema {
    let mut schema = Schema::default();
    let columns = sqlx::query(
        "SELECT table_name::text AS table_name, column_name::text AS column_name, data_type::text AS data_type, \
         is_nullable::text AS is_nullable FROM information_schema.columns \
         WHERE table_schema = current_schema() AND table_name NOT LIKE '\\_sqlx%'",
    )
    .fetch_all(&mut *conn)
    .await
    .expect("columns");
    for row in columns {
        let declared: String = row.get("data_type");
        let not_null = row.get::<String, _>("is_nullable") == "NO";
        schema
            .columns
            .entry(row.get("table_name"))
            .or_default()
            .insert(row.get("column_name"), (storage_class(&declared), not_null));
    }

    // Column names of an index or constraint, in their order, as one string.
    let names = |relation: &str, keys: &str| {
        format!(
            "array_to_string(array(SELECT a.attname::text FROM unnest({keys}) WITH ORDINALITY k(num, ord) \
             JOIN pg_attribute a ON a.attrelid = {relation} AND a.attnum = k.num ORDER BY k.ord), ',')"
        )
    };
    let indexes = sqlx::query(&format!(
        "SELECT t.relname::text AS table_name, ix.indisunique AS uniq, ix.indisprimary AS pk, \
         (ix.indpred IS NOT NULL) AS partial, {} AS columns \
         FROM pg_index ix JOIN pg_class t ON t.oid = ix.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace \
         WHERE n.nspname = current_schema() AND t.relname NOT LIKE '\\_sqlx%'",
        names("t.oid", "ix.indkey")
    ))
    .fetch_all(&mut *conn)
    .await
    .expect("indexes");
    for row in indexes {
        let table: String = row.get("table_name");
        let columns = columns_of(&row.get::<String, _>("columns"));
        if row.get::<bool, _>("pk") {
            schema.primary_keys.insert(table, columns);
        } else {
            schema.indexes.insert(Index { table, columns, unique: row.get("uniq"), partial: row.get("partial") });
        }
    }

    let keys = sqlx::query(&format!(
        "SELECT cl.relname::text AS table_name, {} AS source, rcl.relname::text AS target, {} AS column_to, \
         con.confdeltype::text AS on_delete \
         FROM pg_constraint con JOIN pg_class cl ON cl.oid = con.conrelid JOIN pg_class rcl ON rcl.oid = con.confrelid \
         JOIN pg_namespace n ON n.oid = con.connamespace \
         WHERE con.contype = 'f' AND n.nspname = current_schema()",
        names("con.conrelid", "con.conkey"),
        names("con.confrelid", "con.confkey")
    ))
    .fetch_all(&mut *conn)
    .await
    .expect("foreign keys");
    for row in keys {
        let on_delete = match row.get::<String, _>("on_delete").as_str() {
            "c" => "cascade",
            "n" => "set null",
            "d" => "set default",
            "r" => "restrict",
            _ => "no action",
        };
        schema.foreign_keys.insert(ForeignKey {
            table: row.get("table_name"),
            columns: columns_of(&row.get::<String, _>("source")),
            target: row.get("target"),
            target_columns: columns_of(&row.get::<String, _>("column_to")),
            on_delete: on_delete.to_owned(),
        });
    }
    schema
}

#[tokio::test]
async fn the_sqlite_and_postgresql_migrations_build_the_same_schema() {
    let Some(base) = std::env::var("SOLO_TEST_POSTGRES_URL").ok().filter(|u| !u.is_empty()) else {
        eprintln!("SOLO_TEST_POSTGRES_URL is not set: the schemas were not compared");
        return;
    };
    sqlx::any::install_default_drivers();

    let dir = tempfile::tempdir().expect("temp dir");
    let sqlite_url = format!("sqlite://{}?mode=rwc", dir.path().join("solo.db").display());
    SqlStore::connect(&sqlite_url, &SqlOptions::default()).await.expect("migrate SQLite").close().await;
    let mut sqlite = AnyConnection::connect(&sqlite_url).await.expect("SQLite");
    let sqlite = sqlite_schema(&mut sqlite).await;

    let prefix = std::env::var("SOLO_TEST_SCHEMA_PREFIX").unwrap_or_else(|_| "t_".into());
    let name = format!("{prefix}{}", uuid::Uuid::new_v4().simple());
    let mut admin = AnyConnection::connect(&base).await.expect("PostgreSQL");
    admin.execute(format!("CREATE SCHEMA {name}").as_str()).await.expect("create schema");
    let separator = if base.contains('?') { '&' } else { '?' };
    let postgres_url = format!("{base}{separator}options=-c%20search_path%3D{name}");
    SqlStore::connect(&postgres_url, &SqlOptions::default()).await.expect("migrate PostgreSQL").close().await;
    let mut postgres = AnyConnection::connect(&postgres_url).await.expect("PostgreSQL");
    let postgres = postgres_schema(&mut postgres).await;

    // Not vacuous: the tables every feature stands on are there.
    for table in ["events", "notifications", "inboxes", "channels", "publications", "missions", "leases"] {
        assert!(sqlite.columns.contains_key(table), "SQLite has no {table} table");
    }
    assert!(sqlite.indexes.len() >= 5 && sqlite.foreign_keys.len() >= 5, "{sqlite:#?}");

    assert_eq!(
        sqlite.columns.keys().collect::<Vec<_>>(),
        postgres.columns.keys().collect::<Vec<_>>(),
        "the same tables"
    );
    for (table, columns) in &sqlite.columns {
        assert_eq!(Some(columns), postgres.columns.get(table), "columns of {table} (SQLite, then PostgreSQL)");
    }
    assert_eq!(sqlite.primary_keys, postgres.primary_keys, "primary keys (SQLite, then PostgreSQL)");
    assert_eq!(
        (only(&sqlite.indexes, &postgres.indexes), only(&postgres.indexes, &sqlite.indexes)),
        (vec![], vec![]),
        "indexes only on SQLite, only on PostgreSQL"
    );
    assert_eq!(
        (only(&sqlite.foreign_keys, &postgres.foreign_keys), only(&postgres.foreign_keys, &sqlite.foreign_keys)),
        (vec![], vec![]),
        "foreign keys only on SQLite, only on PostgreSQL"
    );
    admin.execute(format!("DROP SCHEMA {name} CASCADE").as_str()).await.expect("drop schema");
}
