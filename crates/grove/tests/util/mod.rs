//! Shared test helpers.
#![allow(dead_code)]

use std::process::{Command, Output};

/// Environment variable telling a re-executed test binary which child scenario to run.
pub(crate) const CHILD_ENV: &str = "GROVE_TEST_CHILD";

/// Re-runs this test binary with only `test_name`, with `CHILD_ENV` set to `scenario`, and
/// returns its output. The test function checks [`child_scenario`] first and, in the child,
/// runs the scenario instead of the parent side.
pub(crate) fn run_child(test_name: &str, scenario: &str) -> Output {
    let exe = std::env::current_exe().expect("test binary path");
    Command::new(exe)
        .args([test_name, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, scenario)
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("re-run test binary")
}

/// The scenario this process was started for, if it is a child.
pub(crate) fn child_scenario() -> Option<String> {
    std::env::var(CHILD_ENV).ok()
}
