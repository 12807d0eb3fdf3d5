//! The `tracemap` command: `trace` a host from the terminal, `locate` addresses, or `serve` the web app. Only
//! wiring lives here.

mod cli;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(name = "tracemap", version, about = "A traceroute you open in a browser tab")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Trace the route to HOST and print it.
    Trace(cli::trace::TraceArgs),
    /// Serve the web app and its API.
    Serve(Box<cli::serve::ServeArgs>),
    /// Print what tracemap knows about addresses: kind, name, location, AS, and which source said so.
    Locate(cli::locate::LocateArgs),
}

/// A command, ready to run on the async runtime.
enum Job {
    Trace(cli::trace::TraceArgs),
    Serve(Box<cli::serve::Prepared>),
    Locate(cli::locate::LocateArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("tracemap=info,tower_http=warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    // The server opens its sockets and drops privileges while the process still has one thread: before the
    // runtime starts its workers.
    let job = match cli.command {
        Command::Serve(args) => match cli::serve::prepare(*args) {
            Ok(prepared) => Job::Serve(Box::new(prepared)),
            Err(err) => {
                eprintln!("tracemap: {err:#}");
                return ExitCode::FAILURE;
            }
        },
        Command::Trace(args) => Job::Trace(args),
        Command::Locate(args) => Job::Locate(args),
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("tracemap: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match job {
            Job::Trace(args) => cli::trace::run(args).await,
            Job::Serve(prepared) => cli::serve::run(*prepared).await,
            Job::Locate(args) => cli::locate::run(args).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("tracemap: {err:#}");
            ExitCode::FAILURE
        }
    }
}
