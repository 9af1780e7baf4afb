//! The command line, declared with clap's derive API: every subcommand, option, default and
//! the Examples section that `--help` prints.
//!
//! Option names follow the tools people already know where they overlap: `serve --bind`,
//! `--workers` as in gunicorn; `load -c -n -d --timeout` as in wrk and ab.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

const EXAMPLES: &str = "\
Examples:
  grove demo                                    the seed scenarios, explained
  grove serve --bind 127.0.0.1:8080             hello world over HTTP/1.1
  grove serve --dir ./public --list --workers 2 static files, two worker processes
  grove load http://127.0.0.1:8080/ -c 50 -d 10s
  grove bench --quick

Run `grove <command> --help` for a command's options and examples.";

/// gevent-style green threads for Rust: demos, an HTTP server, a load generator, benchmarks.
#[derive(Debug, Parser)]
#[command(name = "grove", version, propagate_version = true, after_help = EXAMPLES)]
#[command(arg_required_else_help = true)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run the seed scenarios on loopback and explain what each shows.
    #[command(after_help = DEMO_EXAMPLES)]
    Demo(DemoArgs),
    /// Serve HTTP/1.1: hello world, or static files beneath a directory.
    #[command(after_help = SERVE_EXAMPLES)]
    Serve(ServeArgs),
    /// HTTP load generator: one greenlet per connection; throughput and latency histogram.
    #[command(after_help = LOAD_EXAMPLES)]
    Load(LoadArgs),
    /// Headline micro-benchmarks, grove next to tokio measured in the same run.
    #[command(after_help = BENCH_EXAMPLES)]
    Bench(BenchArgs),
}

const DEMO_EXAMPLES: &str = "\
Scenarios: concurrent fetches with spawn/joinall, Pool(2).map, greenlet switching,
a generator producer/consumer, unmodified std code made cooperative by grove-patch
(in a child process), future callbacks on the hub, several hubs on several cores.
Everything runs on 127.0.0.1 and ends by itself in a few seconds.

Examples:
  grove demo
  cargo run --release -p grove-cli -- demo";

/// `grove demo`.
#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// Internal: run only the grove-patch scenario, with the hooks enabled (`grove demo`
    /// starts itself this way, so the rest of the demo runs unpatched).
    #[arg(long, hide = true)]
    pub(crate) patched_child: bool,
}

const SERVE_EXAMPLES: &str = "\
Examples:
  grove serve                                   hello world on 127.0.0.1:8080
  grove serve -b 0.0.0.0:8000 --hubs 2          two hubs (threads) in one process
  grove serve --workers 4                       four processes sharing the port (SO_REUSEPORT)
  grove serve --dir ./public --list --log       static files, directory listings, access log
  grove serve --bind 127.0.0.1:0                any free port (printed on stderr)

Every connection is a greenlet; handlers are plain blocking code. Stop with Ctrl-C.";

/// `grove serve`.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Address to listen on, HOST:PORT (port 0: any free port).
    #[arg(
        short = 'b',
        long,
        visible_alias = "addr",
        value_name = "ADDR",
        default_value = "127.0.0.1:8080"
    )]
    pub(crate) bind: String,
    /// Worker processes, each accepting on its own SO_REUSEPORT listener for the same port
    /// (gunicorn's --workers); the first process only supervises them.
    #[arg(short = 'w', long, value_name = "N", default_value_t = 1, value_parser = at_least_one)]
    pub(crate) workers: usize,
    /// Hubs (OS threads) per process, each with its own SO_REUSEPORT listener.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = at_least_one)]
    pub(crate) hubs: usize,
    /// Serve the files beneath DIR instead of hello world.
    #[arg(long, value_name = "DIR")]
    pub(crate) dir: Option<PathBuf>,
    /// With --dir: list a directory that has no index.html instead of answering 404.
    #[arg(long, requires = "dir")]
    pub(crate) list: bool,
    /// Write an access log line per request to stderr.
    #[arg(long, visible_alias = "access-log")]
    pub(crate) log: bool,
}

const LOAD_EXAMPLES: &str = "\
Examples:
  grove load http://127.0.0.1:8080/                   1000 requests over 10 connections
  grove load http://127.0.0.1:8080/ -c 100 -d 30s     100 connections for 30 seconds
  grove load http://127.0.0.1:8080/big -n 500 --timeout 2s

Stops at -n requests or after -d, whichever comes first (-n 1000 when neither is given).
A request that takes longer than --timeout counts as an error; the command fails when
every request failed. The progress bar is drawn only when stderr is a terminal.";

/// `grove load`.
#[derive(Debug, Args)]
pub(crate) struct LoadArgs {
    /// The URL to request with GET.
    #[arg(value_name = "URL")]
    pub(crate) url: String,
    /// Connections kept open at once, one greenlet each.
    #[arg(
        short = 'c',
        long,
        value_name = "N",
        default_value_t = 10,
        value_parser = at_least_one
    )]
    pub(crate) connections: usize,
    /// Total number of requests.
    #[arg(short = 'n', long, value_name = "N")]
    pub(crate) requests: Option<u64>,
    /// How long to run, e.g. 500ms, 10s, 2m.
    #[arg(short = 'd', long, value_name = "DURATION", value_parser = duration)]
    pub(crate) duration: Option<Duration>,
    /// Time limit for each request (connect, send, receive), e.g. 500ms, 2s.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = duration)]
    pub(crate) timeout: Duration,
    /// No progress bar, even on a terminal.
    #[arg(short = 'q', long)]
    pub(crate) quiet: bool,
}

const BENCH_EXAMPLES: &str = "\
Examples:
  grove bench                                   best of 10 runs each (about a minute)
  grove bench --quick                           best of 3, smaller rounds
  cargo run --release -p grove-cli -- bench     build optimised first: debug numbers mean little";

/// `grove bench`.
#[derive(Debug, Args)]
pub(crate) struct BenchArgs {
    /// Fewer and shorter runs: a quick look, not a measurement.
    #[arg(long)]
    pub(crate) quick: bool,
}

fn at_least_one(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

/// Parses durations like `500ms`, `10s`, `1.5s`, `2m`, `1h` (a bare number is seconds).
pub(crate) fn duration(s: &str) -> Result<Duration, String> {
    let (num, unit) =
        s.split_at(s.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(s.len()));
    let n: f64 =
        num.parse().map_err(|_| format!("invalid duration '{s}' (e.g. 500ms, 10s, 2m)"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" | "" => n,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(format!("invalid duration unit in '{s}' (ms, s, m, h)")),
    };
    Duration::try_from_secs_f64(secs).map_err(|e| format!("invalid duration '{s}': {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_declaration_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn durations() {
        assert_eq!(duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(duration("2"), Ok(Duration::from_secs(2)));
        assert_eq!(duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(duration("1h"), Ok(Duration::from_secs(3600)));
        assert!(duration("10x").is_err());
        assert!(duration("s").is_err());
        assert!(duration("").is_err());
    }

    #[test]
    fn old_option_names_still_parse() {
        let cli = Cli::try_parse_from(["grove", "serve", "--addr", "127.0.0.1:0"]).unwrap();
        let Command::Serve(a) = cli.command else { panic!("not serve") };
        assert_eq!(a.bind, "127.0.0.1:0");
        let cli =
            Cli::try_parse_from(["grove", "load", "http://x/", "-c", "3", "-n", "7"]).unwrap();
        let Command::Load(a) = cli.command else { panic!("not load") };
        assert_eq!((a.connections, a.requests), (3, Some(7)));
    }

    #[test]
    fn zero_workers_hubs_or_connections_are_refused() {
        for args in [
            &["grove", "serve", "--workers", "0"][..],
            &["grove", "serve", "--hubs", "0"],
            &["grove", "load", "http://x/", "-c", "0"],
        ] {
            assert!(Cli::try_parse_from(args).is_err(), "{args:?}");
        }
    }
}
