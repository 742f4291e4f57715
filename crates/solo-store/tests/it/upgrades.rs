//! Rolling upgrades: the previous release runs beside the next one on the
//! same database after the next one migrated it. So a build must start on a
//! schema newer than it knows, and every migration after the first release
//! must only expand the schema (expand/contract; the procedure is in
//! `docs/dev/runbooks/cluster.md`).

use std::path::Path;

use solo_store::sql::SqlOptions;
use solo_store::SqlStore;
use sqlx::{AnyConnection, Connection, Executor};

/// The last migration of v0.1.0, the first release: the ones after it are
/// held to expand/contract.
const LAST_MIGRATION_OF_V0_1_0: i64 = 9;

/// What a newer build's migration leaves in the database: a table of its own,
/// and its row in sqlx's migration history, which this build does not know.
async fn migrate_as_a_newer_build(url: &str, checksum: &str) {
    let mut conn = AnyConnection::connect(url).await.expect("connect");
    conn.execute("CREATE TABLE future_feature (id TEXT PRIMARY KEY)").await.expect("expand");
    let history = format!(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (99990101000000, 'future feature', TRUE, {checksum}, 1)"
    );
    conn.execute(history.as_str()).await.expect("record the migration");
    conn.close().await.expect("close");
}

async fn an_older_build_starts_on_the_newer_schema(url: &str, checksum: &str) {
    SqlStore::connect(url, &SqlOptions::default()).await.expect("first start migrates").close().await;
    migrate_as_a_newer_build(url, checksum).await;
    // Before expand/contract, sqlx refused this (VersionMissing): a node on the
    // previous release could not even restart during an upgrade.
    let store = SqlStore::connect(url, &SqlOptions::default()).await.expect("starts on a newer schema");
    store.close().await;
    let mut conn = AnyConnection::connect(url).await.expect("connect");
    let (rows,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM _sqlx_migrations WHERE version = 99990101000000")
        .fetch_one(&mut conn)
        .await
        .expect("history");
    assert_eq!(rows, 1, "the newer build's migration is left as it is");
}

#[tokio::test]
async fn a_build_starts_on_a_schema_a_newer_build_migrated_sqlite() {
    sqlx::any::install_default_drivers();
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("solo.db").display());
    an_older_build_starts_on_the_newer_schema(&url, "X'00'").await;
}

#[tokio::test]
async fn a_build_starts_on_a_schema_a_newer_build_migrated_postgres() {
    let Some(base) = std::env::var("SOLO_TEST_POSTGRES_URL").ok().filter(|u| !u.is_empty()) else {
        eprintln!("SOLO_TEST_POSTGRES_URL is not set: PostgreSQL not checked");
        return;
    };
    sqlx::any::install_default_drivers();
    let prefix = std::env::var("SOLO_TEST_SCHEMA_PREFIX").unwrap_or_else(|_| "t_".into());
    let schema = format!("{prefix}{}", uuid::Uuid::new_v4().simple());
    let mut admin = AnyConnection::connect(&base).await.expect("PostgreSQL");
    admin.execute(format!("CREATE SCHEMA {schema}").as_str()).await.expect("create schema");
    let separator = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{separator}options=-c%20search_path%3D{schema}");
    an_older_build_starts_on_the_newer_schema(&url, "'\\x00'::bytea").await;
    admin.execute(format!("DROP SCHEMA {schema} CASCADE").as_str()).await.expect("drop schema");
}

/// The statements of `sql` that would break a build of the previous release
/// still running on the schema: removing or renaming what it uses, changing a
/// column's type, or a new required column it would not fill. A migration may
/// contract only what no supported release uses any more, and says so with a
/// `-- contract:` line naming the release that stopped using it.
fn contracting_statements(sql: &str) -> Vec<String> {
    if sql.lines().any(|line| line.trim_start().to_ascii_lowercase().starts_with("-- contract:")) {
        return Vec::new();
    }
    let code: String = sql.lines().map(|line| line.split("--").next().unwrap_or("")).collect::<Vec<_>>().join("\n");
    code.split(';')
        .map(|statement| statement.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|statement| {
            let upper = statement.to_ascii_uppercase();
            let adds_required_column =
                upper.contains("ADD COLUMN") && upper.contains("NOT NULL") && !upper.contains("DEFAULT");
            ["DROP TABLE", "DROP COLUMN", "RENAME", "ALTER COLUMN", "DROP VIEW", "TRUNCATE"]
                .iter()
                .any(|breaking| upper.contains(breaking))
                || adds_required_column
        })
        .collect()
}

#[test]
fn the_contract_check_knows_an_expansion_from_a_contraction() {
    let expand = "CREATE TABLE a (id TEXT PRIMARY KEY);\nALTER TABLE b ADD COLUMN c TEXT;\n\
                  ALTER TABLE b ADD COLUMN d INTEGER NOT NULL DEFAULT 0;\nCREATE INDEX e ON b (c);";
    assert!(contracting_statements(expand).is_empty());
    for contract in [
        "ALTER TABLE b DROP COLUMN c;",
        "ALTER TABLE b RENAME COLUMN c TO d;",
        "DROP TABLE a;",
        "ALTER TABLE b ALTER COLUMN c TYPE BIGINT;",
        "ALTER TABLE b ADD COLUMN d INTEGER NOT NULL;",
    ] {
        assert_eq!(contracting_statements(contract).len(), 1, "{contract}");
    }
    let declared = "-- contract: b.c unused since v0.2.0\nALTER TABLE b DROP COLUMN c;";
    assert!(contracting_statements(declared).is_empty(), "a declared contraction passes");
    assert!(contracting_statements("-- we DROP TABLE nothing here\nSELECT 1;").is_empty(), "comments are not code");
}

#[test]
fn migrations_after_the_first_release_only_expand_the_schema() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let mut checked = 0;
    for dialect in ["sqlite", "postgres"] {
        let mut entries: Vec<_> =
            std::fs::read_dir(root.join(dialect)).expect("migrations").map(|e| e.expect("entry").path()).collect();
        entries.sort();
        for path in entries {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
            let version: i64 = name.split('_').next().and_then(|v| v.parse().ok()).expect("a numbered migration");
            checked += 1;
            if version <= LAST_MIGRATION_OF_V0_1_0 {
                continue;
            }
            let sql = std::fs::read_to_string(&path).expect("read");
            let breaking = contracting_statements(&sql);
            assert!(breaking.is_empty(), "{dialect}/{name} contracts the schema a running release uses: {breaking:?}");
        }
    }
    assert!(checked >= 2 * LAST_MIGRATION_OF_V0_1_0 as usize, "the migrations were found ({checked})");
}
