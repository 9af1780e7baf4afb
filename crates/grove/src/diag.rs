//! Where the library's own diagnostics go: panics nobody joined, panicking callbacks, poll
//! failures. Reporting must never itself panic (`eprintln!` does when stderr is closed or
//! full), since it runs at points where a panic would escape a greenlet's base or the hub.

use std::any::Any;
use std::io::Write;

/// Writes `grove: <message>` to stderr, ignoring write errors.
pub(crate) fn report(args: std::fmt::Arguments<'_>) {
    let _ = writeln!(std::io::stderr().lock(), "grove: {args}");
}

/// The message of a panic payload, for reports.
pub(crate) fn panic_message(p: &(dyn Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else if p.is::<crate::GreenletExit>() {
        "GreenletExit".into()
    } else {
        "Box<dyn Any>".into()
    }
}
