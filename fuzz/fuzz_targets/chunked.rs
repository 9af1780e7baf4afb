#![no_main]
//! Invariants checked in `grove_http::fuzzing::chunked` (shared with the corpus replay test).

libfuzzer_sys::fuzz_target!(|data: &[u8]| grove_http::fuzzing::chunked(data));
