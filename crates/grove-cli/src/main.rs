//! The `grove` command-line tool.
//!
//! ```text
//! grove demo            the seed scenarios, on loopback, explained
//! grove bench [--quick] headline micro-benchmarks, grove next to tokio in the same run
//! ```

mod bench;
mod demo;

use std::process::ExitCode;

const USAGE: &str = "usage: grove <command>

commands:
  demo              run the seed scenarios on loopback and explain what happens
  bench [--quick]   headline micro-benchmarks, grove next to tokio (same run)
  help              this text";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let r = match args.first().map(String::as_str) {
        Some("demo") => demo::run(),
        Some("bench") => bench::run(args.iter().any(|a| a == "--quick")),
        Some("help" | "-h" | "--help") | None => {
            println!("{USAGE}");
            Ok(())
        }
        Some(other) => Err(format!("unknown command '{other}'\n\n{USAGE}")),
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("grove: {e}");
            ExitCode::FAILURE
        }
    }
}
