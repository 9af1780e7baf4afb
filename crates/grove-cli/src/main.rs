//! The `grove` command-line tool.
//!
//! ```text
//! grove demo                         the seed scenarios, on loopback, explained
//! grove serve [--addr A] [--dir D] [--hubs N]   hello world or static files over HTTP/1.1
//! grove load URL -c N (-n REQS | -d DUR)   HTTP load generator on greenlets
//! grove bench [--quick]              headline micro-benchmarks next to tokio
//! ```

mod args;
mod bench;
mod demo;
mod load;
mod serve;

use std::process::ExitCode;

const USAGE: &str = "usage: grove <command>

commands:
  demo                              run the seed scenarios on loopback and explain them
  serve [--addr ADDR] [--dir DIR [--list]] [--hubs N] [--log]
                                    HTTP/1.1 hello world, or static files from DIR
  load URL [-c CONN] [-n REQS | -d DURATION] [--quiet]
                                    HTTP load: throughput and a latency histogram
  bench [--quick]                   headline micro-benchmarks, grove next to tokio
  help              this text";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let r = match args.first().map(String::as_str) {
        Some("demo") => demo::run(),
        Some("bench") => bench::run(args.iter().any(|a| a == "--quick")),
        Some("serve") => serve::run(args::Args::new(args[1..].to_vec())),
        Some("load") => load::run(args::Args::new(args[1..].to_vec())),
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
