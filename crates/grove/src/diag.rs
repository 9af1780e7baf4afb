//! Where the library's own diagnostics go: panics nobody joined, panicking callbacks, poll
//! failures. Reporting must never itself panic (`eprintln!` does when stderr is closed or
//! full), since it runs at points where a panic would escape a greenlet's base or the hub.

use std::io::Write;

/// Writes `grove: <message>` to stderr, ignoring write errors.
pub(crate) fn report(args: std::fmt::Arguments<'_>) {
    let _ = writeln!(std::io::stderr().lock(), "grove: {args}");
}
