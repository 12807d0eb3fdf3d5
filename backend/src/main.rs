//! The `tracemap` command: `trace` a host from the terminal, `locate` addresses, or `serve` the web app; `data`,
//! `config`, `completions` and `man` describe the installation. Only wiring lives here: the configuration files
//! become the flags' defaults before the command line is parsed.

mod cli;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(name = "tracemap", version, about = "A traceroute you open in a browser tab", after_long_help = FILES)]
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
    /// Be a vantage point: take traces from a server over NATS and run them from here.
    Agent(Box<cli::agent::AgentArgs>),
    /// Print what tracemap knows about addresses: kind, name, location, AS, and which source said so.
    Locate(cli::locate::LocateArgs),
    /// Print which data files are in use, their versions and ages, and where tracemap looked for them.
    Data(cli::data::DataArgs),
    /// Print the effective settings and where each came from (default, file:line, environment, flag).
    Config(cli::config::ConfigArgs),
    /// Print a shell completion script: `tracemap completions bash > /etc/bash_completion.d/tracemap`.
    Completions(cli::docs::CompletionsArgs),
    /// Write the man pages into a folder (for packaging).
    #[command(hide = true)]
    Man(cli::docs::ManArgs),
}

/// The files section of `--help` and the man page.
const FILES: &str = "Settings: /etc/tracemap/config.toml, then $XDG_CONFIG_HOME/tracemap/config.toml \
(~/.config/tracemap/config.toml): a table per subcommand ([serve], [trace], ...) whose keys are its long flag \
names; TRACEMAP_* variables and flags override them. `tracemap config` prints the effective settings.

Data: --data-dir, then $XDG_DATA_HOME/tracemap (~/.local/share/tracemap), /usr/local/share/tracemap, \
/usr/share/tracemap and ./data, each holding geoip/, asn/, ...; the first holding a set wins. `tracemap data` \
prints what is in use, its versions and ages.";

/// A command, ready to run on the async runtime.
enum Job {
    Trace(cli::trace::TraceArgs),
    Serve(Box<cli::serve::Prepared>),
    Agent(Box<cli::agent::Prepared>),
    Locate(cli::locate::LocateArgs),
}

fn main() -> ExitCode {
    let files = cli::config::standard_files();
    let settings = match cli::config::load(&Cli::command(), &files) {
        Ok(settings) => settings,
        Err(err) => {
            eprintln!("tracemap: {err}");
            return ExitCode::from(2);
        }
    };
    let command = cli::config::apply(Cli::command(), &settings);
    let cli = match Cli::from_arg_matches(&command.clone().get_matches()) {
        Ok(cli) => cli,
        Err(err) => err.exit(),
    };
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
        Command::Agent(args) => match cli::agent::prepare(*args) {
            Ok(prepared) => Job::Agent(Box::new(prepared)),
            Err(err) => {
                eprintln!("tracemap: {err:#}");
                return ExitCode::FAILURE;
            }
        },
        Command::Trace(args) => Job::Trace(args),
        Command::Locate(args) => Job::Locate(args),
        // The commands that only describe the installation need no runtime.
        Command::Data(args) => return report(cli::data::run(args)),
        Command::Config(args) => return report(cli::config::run(args, &command, &settings, &files)),
        Command::Completions(args) => return report(cli::docs::completions(args, Cli::command())),
        Command::Man(args) => return report(cli::docs::man(args, Cli::command())),
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
            Job::Agent(prepared) => cli::agent::run(*prepared).await,
            Job::Locate(args) => cli::locate::run(args).await,
        }
    });
    report(result)
}

fn report(result: anyhow::Result<ExitCode>) -> ExitCode {
    match result {
        Ok(code) => code,
        // `tracemap data | head`: the reader has what it wanted.
        Err(err)
            if err.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe) =>
        {
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("tracemap: {err:#}");
            ExitCode::FAILURE
        }
    }
}
