//! Black-box tests of the server: each test starts a real server on port 0 with
//! a fresh SQLite database and talks to it over HTTP.

mod support;
mod ws;

mod api_auth;
mod api_input;
mod authz;
mod cluster;
mod explain;
mod fuzz_corpus;
mod limits;
mod mission_rules;
mod notifications;
mod outbox;
mod pages;
mod presence;
mod protobuf;
mod realtime;
mod server_api;
mod slow_clients;
mod snooze;
mod storage_faults;
mod streams;
mod subscription_tokens;
mod workspace_config;
