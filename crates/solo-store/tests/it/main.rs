//! Store conformance tests. They run on SQLite (a fresh file per test) and, when
//! `SOLO_TEST_POSTGRES_URL` is set, on PostgreSQL too (a fresh schema per test).

mod conformance;
