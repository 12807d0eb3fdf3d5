//! Shell completions and man pages, both generated from the clap definitions so they never drift from the flags.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Command};
use clap_complete::Shell;

#[derive(Args, Debug)]
pub struct CompletionsArgs {
    /// The shell: bash, zsh, fish, elvish or powershell.
    shell: Shell,
}

/// `tracemap completions SHELL`: the completion script on standard output.
pub fn completions(args: CompletionsArgs, mut cmd: Command) -> anyhow::Result<ExitCode> {
    let name = cmd.get_name().to_owned();
    clap_complete::generate(args.shell, &mut cmd, name, &mut std::io::stdout());
    Ok(ExitCode::SUCCESS)
}

#[derive(Args, Debug)]
pub struct ManArgs {
    /// Folder to write tracemap.1 and one tracemap-SUBCOMMAND.1 per subcommand into.
    dir: PathBuf,
}

/// `tracemap man DIR` (hidden; used when packaging): the man pages.
pub fn man(args: ManArgs, cmd: Command) -> anyhow::Result<ExitCode> {
    write_man_pages(cmd, &args.dir)?;
    Ok(ExitCode::SUCCESS)
}

/// Writes a page for `cmd` and for each visible subcommand into `dir`.
pub fn write_man_pages(cmd: Command, dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    clap_mangen::generate_to(cmd, dir).with_context(|| format!("writing man pages into {}", dir.display()))
}
