//! The `grove` command-line tool.
//!
//! ```text
//! grove demo                                   the seed scenarios, on loopback, explained
//! grove serve [-b ADDR] [-w N] [--hubs N] [--dir D [--list]] [--log]
//!                                              hello world or static files over HTTP/1.1
//! grove load URL [-c N] [-n REQS] [-d DUR] [--timeout DUR] [-q]
//!                                              HTTP load generator on greenlets
//! grove bench [--quick]                        headline micro-benchmarks next to tokio
//! ```
//!
//! `grove --help` and `grove <command> --help` print the options and examples (see
//! `args.rs`). Usage errors exit with status 2, failures with 1, both with the message on
//! stderr.

mod args;
mod bench;
mod demo;
mod load;
mod serve;

use std::process::ExitCode;

use clap::Parser;

use args::{Cli, Command};

fn main() -> ExitCode {
    // clap prints help and version on stdout (exit 0) and usage errors on stderr (exit 2).
    let cli = Cli::parse();
    let r = match cli.command {
        Command::Demo(a) => demo::run(a),
        Command::Serve(a) => serve::run(a),
        Command::Load(a) => load::run(a),
        Command::Bench(a) => bench::run(a.quick),
    };
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("grove: {e}");
            ExitCode::FAILURE
        }
    }
}
