#![no_main]
//! Whole connections against a real grove-http server; see `grove_http::fuzzing::server_conn`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| grove_http::fuzzing::server_conn(data));
