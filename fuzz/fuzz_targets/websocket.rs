//! Fuzz target: see `solo_server::fuzzing::websocket` for the properties checked.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| solo_server::fuzzing::websocket(data));
