//! Store conformance tests. They run on SQLite (a fresh file per test) and, when
//! `SOLO_TEST_POSTGRES_URL` is set, on PostgreSQL too (a fresh schema per test);
//! and, with PostgreSQL, a check that both dialects' migrations build the same schema.

#[macro_use]
mod conformance;
mod batches;
mod inbox_state;
mod mission_rules;
mod schema;
mod supersede;
mod upgrades;
mod workspace_config;
