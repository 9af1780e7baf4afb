#![no_main]
//! Invariants checked in `grove_http::fuzzing::request_head` (shared with the corpus replay test).

libfuzzer_sys::fuzz_target!(|data: &[u8]| grove_http::fuzzing::request_head(data));
