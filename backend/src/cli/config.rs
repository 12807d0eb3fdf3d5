//! Configuration files: `/etc/tracemap/config.toml`, then `$XDG_CONFIG_HOME/tracemap/config.toml` (else
//! `~/.config/tracemap/config.toml`), the later file winning. Each holds a table per subcommand (`[serve]`,
//! `[trace]`, ...) whose keys are that subcommand's long flag names. Nothing here names a flag: it walks the clap
//! definitions, checks each value with the flag's own parser and makes it the flag's default, so the environment
//! (`TRACEMAP_*`) and the command line still win and a flag added later is configurable without more code.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::builder::ArgAction;
use clap::error::ErrorKind;
use clap::parser::ValueSource;
use clap::{Arg, ArgMatches, Args, Command};
use toml::de::{DeTable, DeValue};

/// The files read, in order; missing ones are skipped.
pub fn standard_files() -> Vec<PathBuf> {
    let mut files = vec![PathBuf::from("/etc/tracemap/config.toml")];
    let xdg = std::env::var_os("XDG_CONFIG_HOME").map(PathBuf::from).filter(|p| p.is_absolute());
    let home = std::env::var_os("HOME").map(PathBuf::from).filter(|p| p.is_absolute());
    if let Some(dir) = xdg.or_else(|| home.map(|h| h.join(".config"))) {
        files.push(dir.join("tracemap/config.toml"));
    }
    files
}

/// A value a file gave one flag, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    /// The values (several for a repeatable flag), as they would be written after the flag.
    pub values: Vec<String>,
    /// The file that set it.
    pub file: PathBuf,
    /// Its line in that file (1-based).
    pub line: usize,
}

/// Every value the files set, by subcommand and clap argument id; a later file replaces an earlier one's value.
#[derive(Debug, Clone, Default)]
pub struct FileSettings {
    settings: BTreeMap<(String, String), Setting>,
    /// The files that existed and were read.
    pub read: Vec<PathBuf>,
    /// Files whose folder this user may not enter, and why.
    pub unreadable: Vec<(PathBuf, String)>,
}

impl FileSettings {
    /// What the files set for `id` in `[section]`.
    pub fn get(&self, section: &str, id: &str) -> Option<&Setting> {
        self.settings.get(&(section.to_owned(), id.to_owned()))
    }
}

/// A configuration file that cannot be used; the message names the file and, when it can, the line.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {}: {source}", file.display())]
    Read { file: PathBuf, source: std::io::Error },
    #[error("{}:{line}: {message}", file.display())]
    Invalid { file: PathBuf, line: usize, message: String },
}

/// The key a flag has in a file: its long name.
pub fn key(arg: &Arg) -> String {
    arg.get_long().map_or_else(|| arg.get_id().to_string(), str::to_owned)
}

/// The flags of a subcommand that a file may set: options and switches with a long name, not positionals, help or
/// version. A short-only flag is the short form of a long one (`-4` of `--family 4`): a file sets the long one, and
/// the short one on the command line beats it.
pub fn configurable(sub: &Command) -> impl Iterator<Item = &Arg> {
    sub.get_arguments().filter(|a| {
        a.get_long().is_some()
            && !a.is_positional()
            && !matches!(
                a.get_action(),
                ArgAction::Help | ArgAction::HelpShort | ArgAction::HelpLong | ArgAction::Version
            )
    })
}

/// Sections a file may have: the subcommands with something to configure (and not `config` itself).
fn sections(cmd: &Command) -> impl Iterator<Item = &Command> {
    cmd.get_subcommands().filter(|s| s.get_name() != "config" && configurable(s).next().is_some())
}

/// Reads every file of `files` that exists, in order, checking it against `cmd`'s flags.
pub fn load(cmd: &Command, files: &[PathBuf]) -> Result<FileSettings, ConfigError> {
    let mut settings = FileSettings::default();
    for file in files {
        // A file in a folder this user may not enter (root's ~/.config, seen by a server that switched user but
        // kept HOME) cannot be known to exist: it is skipped, and `tracemap config` says so. One that exists
        // must be readable.
        match file.try_exists() {
            Ok(true) => {}
            Ok(false) => continue,
            Err(error) => {
                settings.unreadable.push((file.clone(), error.to_string()));
                continue;
            }
        }
        let text = std::fs::read_to_string(file).map_err(|source| ConfigError::Read { file: file.clone(), source })?;
        parse(cmd, file, &text, &mut settings)?;
        settings.read.push(file.clone());
    }
    Ok(settings)
}

/// Checks one file's text against `cmd`'s flags and adds its values to `into`.
pub fn parse(cmd: &Command, file: &Path, text: &str, into: &mut FileSettings) -> Result<(), ConfigError> {
    let line_of = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
    let invalid = |offset: usize, message: String| ConfigError::Invalid {
        file: file.to_path_buf(),
        line: line_of(offset),
        message,
    };
    let root = DeTable::parse(text).map_err(|error| {
        let offset = error.span().map_or(0, |span| span.start);
        invalid(offset, format!("not valid TOML: {}", error.message()))
    })?;
    let names: Vec<&str> = sections(cmd).map(Command::get_name).collect();
    for (section, table) in root.get_ref().iter() {
        let name = section.get_ref().as_ref();
        let Some(sub) = sections(cmd).find(|s| s.get_name() == name) else {
            return Err(invalid(
                section.span().start,
                format!("unknown table or key \"{name}\": expected one of the tables [{}]", names.join("], [")),
            ));
        };
        let Some(table) = table.get_ref().as_table() else {
            return Err(invalid(section.span().start, format!("\"{name}\" must be a table: [{name}]")));
        };
        for (flag, value) in table.iter() {
            let flag_name = flag.get_ref().as_ref();
            let Some(arg) = configurable(sub).find(|a| key(a) == flag_name) else {
                let known: Vec<String> = configurable(sub).map(key).collect();
                return Err(invalid(
                    flag.span().start,
                    format!("unknown key \"{flag_name}\" in [{name}]; known keys: {}", known.join(", ")),
                ));
            };
            let values = values_for(sub, arg, value.get_ref())
                .map_err(|message| invalid(value.span().start, format!("[{name}] {flag_name}: {message}")))?;
            let setting = Setting { values, file: file.to_path_buf(), line: line_of(flag.span().start) };
            into.settings.insert((name.to_owned(), arg.get_id().to_string()), setting);
        }
    }
    Ok(())
}

/// The flag's values from a TOML value: a boolean for a switch, a string or number for an option, an array of
/// those for a repeatable option; each checked by the flag's own parser.
fn values_for(sub: &Command, arg: &Arg, value: &DeValue<'_>) -> Result<Vec<String>, String> {
    if !arg.get_action().takes_values() {
        return match value.as_bool() {
            Some(b) => Ok(vec![b.to_string()]),
            None => Err(format!("expected true or false, found {}", value.type_str())),
        };
    }
    let scalar = |value: &DeValue<'_>| -> Result<String, String> {
        match value {
            DeValue::String(s) => Ok(s.to_string()),
            DeValue::Integer(i) if i.radix() == 10 => Ok(i.as_str().replace('_', "")),
            DeValue::Float(f) => Ok(f.as_str().replace('_', "")),
            other => Err(format!("expected a string or a number, found {}", other.type_str())),
        }
    };
    let values = match value {
        DeValue::Array(items) if matches!(arg.get_action(), ArgAction::Append) => {
            items.iter().map(|item| scalar(item.get_ref())).collect::<Result<Vec<_>, _>>()?
        }
        DeValue::Array(_) => return Err("takes one value, not an array".to_owned()),
        other => vec![scalar(other)?],
    };
    for value in &values {
        check(sub, arg, value)?;
    }
    Ok(values)
}

/// Runs `value` through the flag's own parser by parsing `--flag=value` with a copy of the subcommand that
/// requires nothing and reads no environment, keeping only the errors about this value.
fn check(sub: &Command, arg: &Arg, value: &str) -> Result<(), String> {
    let Some(long) = arg.get_long() else { return Ok(()) };
    let probe = permissive(sub.clone()).mut_args(|a| a.env(None));
    match probe.try_get_matches_from([sub.get_name().to_owned(), format!("--{long}={value}")]) {
        Err(error) if matches!(error.kind(), ErrorKind::ValueValidation | ErrorKind::InvalidValue) => {
            let text = error.render().to_string();
            let first = text.lines().next().unwrap_or_default().trim_start_matches("error: ").to_owned();
            Err(first)
        }
        _ => Ok(()),
    }
}

/// A subcommand whose positionals and requirements are all optional, to read flags without a full command line.
fn permissive(sub: Command) -> Command {
    // `Reset` clears a `required_unless_present` condition too (`locate ADDRESS` unless `--hostname`).
    sub.mut_args(|a| {
        if a.is_positional() { a.required(false) } else { a }.required_unless_present(clap::builder::Resettable::Reset)
    })
    .subcommand_required(false)
    .arg_required_else_help(false)
}

/// `cmd` with the files' values as the flags' defaults (below the environment and the command line).
pub fn apply(cmd: Command, settings: &FileSettings) -> Command {
    let mut cmd = cmd;
    for ((section, id), setting) in &settings.settings {
        let values: Vec<clap::builder::OsStr> = setting.values.iter().map(|v| v.clone().into()).collect();
        cmd = cmd.mut_subcommand(section, |sub| sub.mut_arg(id, |arg| arg.default_values(values)));
    }
    cmd
}

#[derive(Args, Debug)]
pub struct ConfigArgs {
    /// Show one subcommand, with flags after it to see their effect: `tracemap config serve --listen 0.0.0.0:80`.
    #[arg(value_name = "SUBCOMMAND [FLAGS]", trailing_var_arg = true, allow_hyphen_values = true)]
    rest: Vec<OsString>,
}

/// `tracemap config`: every setting of every configurable subcommand, with where its value came from.
pub fn run(args: ConfigArgs, cmd: &Command, settings: &FileSettings, files: &[PathBuf]) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "# Files, later wins (then TRACEMAP_* variables, then flags):")?;
    for file in files {
        let state = match settings.unreadable.iter().find(|(f, _)| f == file) {
            Some((_, why)) => format!("skipped: {why}"),
            None if settings.read.contains(file) => "read".to_owned(),
            None => "not present".to_owned(),
        };
        writeln!(out, "#   {} ({state})", file.display())?;
    }
    let wanted = args.rest.first().map(|s| s.to_string_lossy().into_owned());
    if let Some(name) = &wanted {
        anyhow::ensure!(sections(cmd).any(|s| s.get_name() == name), "nothing to configure for \"{name}\"");
    }
    for sub in sections(cmd).filter(|s| wanted.as_ref().is_none_or(|w| w == s.get_name())) {
        let name = sub.get_name();
        let mut argv = vec![OsString::from(name)];
        if wanted.is_some() {
            argv.extend(args.rest.iter().skip(1).cloned());
        }
        let matches = permissive(sub.clone()).try_get_matches_from(argv)?;
        writeln!(out, "\n[{name}]")?;
        for arg in configurable(sub) {
            let (line, origin) = describe(name, arg, &matches, settings);
            writeln!(out, "{line:<48} # {origin}")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// One `key = value` line as a file would hold it, and where the value came from.
fn describe(section: &str, arg: &Arg, matches: &ArgMatches, settings: &FileSettings) -> (String, String) {
    let id = arg.get_id().as_str();
    let key = key(arg);
    let values: Vec<String> =
        matches.get_raw(id).map(|raw| raw.map(|v| v.to_string_lossy().into_owned()).collect()).unwrap_or_default();
    let origin = match matches.value_source(id) {
        Some(ValueSource::CommandLine) => "flag".to_owned(),
        Some(ValueSource::EnvVariable) => {
            format!("env {}", arg.get_env().map(|e| e.to_string_lossy().into_owned()).unwrap_or_default())
        }
        Some(ValueSource::DefaultValue) => match settings.get(section, id) {
            Some(setting) => format!("{}:{}", setting.file.display(), setting.line),
            None => "default".to_owned(),
        },
        _ => "not set".to_owned(),
    };
    let toml_value = |v: &String| {
        if !arg.get_action().takes_values() || v.parse::<f64>().is_ok_and(f64::is_finite) {
            v.clone()
        } else {
            toml::Value::String(v.clone()).to_string()
        }
    };
    let line = match values.as_slice() {
        [] if matches!(arg.get_action(), ArgAction::Append) => format!("{key} = []"),
        [] => format!("# {key} ="),
        [one] if !matches!(arg.get_action(), ArgAction::Append) => format!("{key} = {}", toml_value(one)),
        many => format!("{key} = [{}]", many.iter().map(toml_value).collect::<Vec<_>>().join(", ")),
    };
    (line, origin)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cli() -> Command {
        Command::new("tool")
            .subcommand(
                Command::new("serve")
                    .arg(Arg::new("listen").long("listen").default_value("127.0.0.1:8080").env("TOOL_TEST_LISTEN"))
                    .arg(Arg::new("burst").long("rate-burst").value_parser(clap::value_parser!(u32)).default_value("5"))
                    .arg(Arg::new("origin").long("allow-origin").action(ArgAction::Append))
                    .arg(Arg::new("private").long("allow-private").action(ArgAction::SetTrue)),
            )
            .subcommand(
                Command::new("trace")
                    .arg(Arg::new("host").required(true))
                    .arg(Arg::new("max_hops").long("max-hops").value_parser(clap::value_parser!(u8).range(1..=255))),
            )
    }

    fn parsed(text: &str) -> Result<FileSettings, ConfigError> {
        let mut settings = FileSettings::default();
        parse(&cli(), Path::new("/etc/t.toml"), text, &mut settings).map(|()| settings)
    }

    fn error(text: &str) -> String {
        parsed(text).expect_err("must be refused").to_string()
    }

    #[test]
    fn flags_are_read_without_the_positionals_a_subcommand_requires() {
        let locate = Command::new("locate")
            .arg(Arg::new("addresses").required_unless_present("hostname").action(ArgAction::Append))
            .arg(Arg::new("hostname").long("hostname").action(ArgAction::Append))
            .arg(Arg::new("json").long("json").action(ArgAction::SetTrue));
        assert!(locate.clone().try_get_matches_from(["locate", "--json"]).is_err(), "the real command requires one");
        let matches = permissive(locate).try_get_matches_from(["locate", "--json"]).expect("flags alone");
        assert!(matches.get_flag("json"));
        let trace = cli().find_subcommand("trace").cloned().expect("trace");
        assert!(permissive(trace).try_get_matches_from(["trace"]).is_ok());
    }

    #[test]
    fn keys_are_long_flag_names_and_values_become_defaults() {
        let text = "[serve]\nlisten = \"0.0.0.0:80\"\nrate-burst = 9\nallow-origin = [\"https://a\", \"https://b\"]\nallow-private = true\n\n[trace]\nmax-hops = 12\n";
        let settings = parsed(text).expect("valid");
        let listen = settings.get("serve", "listen").expect("listen");
        assert_eq!((listen.values.as_slice(), listen.line), (&["0.0.0.0:80".to_owned()][..], 2));
        assert_eq!(settings.get("serve", "origin").expect("origin").values, ["https://a", "https://b"]);
        assert_eq!(settings.get("trace", "max_hops").expect("hops").line, 8);
        let matches = apply(cli(), &settings).try_get_matches_from(["tool", "serve"]).expect("parse");
        let (_, serve) = matches.subcommand().expect("serve");
        assert_eq!(serve.get_one::<u32>("burst"), Some(&9));
        assert!(serve.get_flag("private"));
        assert_eq!(serve.get_many::<String>("origin").expect("origins").count(), 2);
    }

    #[test]
    fn a_flag_beats_the_file_and_the_later_file_beats_the_earlier() {
        let mut settings = FileSettings::default();
        parse(&cli(), Path::new("/etc/a.toml"), "[serve]\nrate-burst = 9\nlisten = \"1.1.1.1:1\"", &mut settings)
            .expect("a");
        parse(&cli(), Path::new("/home/b.toml"), "[serve]\nrate-burst = 7", &mut settings).expect("b");
        let cmd = apply(cli(), &settings);
        let matches = cmd.clone().try_get_matches_from(["tool", "serve", "--listen", "2.2.2.2:2"]).expect("parse");
        let (_, serve) = matches.subcommand().expect("serve");
        assert_eq!(serve.get_one::<u32>("burst"), Some(&7));
        assert_eq!(serve.get_one::<String>("listen").map(String::as_str), Some("2.2.2.2:2"));
        let (line, origin) = describe(
            "serve",
            cmd.find_subcommand("serve").and_then(|s| s.get_arguments().find(|a| a.get_id() == "burst")).expect("arg"),
            serve,
            &settings,
        );
        assert_eq!((line.as_str(), origin.as_str()), ("rate-burst = 7", "/home/b.toml:2"));
    }

    #[test]
    fn the_packaged_config_parses_with_every_example_turned_on() {
        let shipped = include_str!("../../../packaging/config.toml");
        let on: String = shipped
            .lines()
            .map(|line| match line.strip_prefix("# ") {
                Some(rest)
                    if rest
                        .split_once(" = ")
                        .is_some_and(|(k, _)| k.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')) =>
                {
                    rest
                }
                _ => line,
            })
            .map(|line| format!("{line}\n"))
            .collect();
        assert!(on.contains("\nlisten = "), "{on}");
        let cmd = <crate::Cli as clap::CommandFactory>::command();
        let mut settings = FileSettings::default();
        parse(&cmd, Path::new("config.toml"), &on, &mut settings).expect("the shipped examples are valid");
        assert!(settings.get("serve", "allow_origin").is_some() && settings.get("trace", "max_hops").is_some());
    }

    #[test]
    fn unknown_keys_and_tables_are_errors_with_their_line() {
        let message = error("[serve]\nlisten = \"0.0.0.0:80\"\nlisen = \"x\"\n");
        assert!(message.starts_with("/etc/t.toml:3: unknown key \"lisen\" in [serve]"), "{message}");
        assert!(message.contains("listen, rate-burst, allow-origin, allow-private"), "{message}");
        assert!(error("\n[serv]\nlisten = 1").starts_with("/etc/t.toml:2: unknown table or key \"serv\""));
        assert!(error("listen = 1").starts_with("/etc/t.toml:1: unknown table or key \"listen\""));
        // Positionals (the traced host) are not settings.
        assert!(error("[trace]\nhost = \"example.net\"").starts_with("/etc/t.toml:2: unknown key \"host\""));
        assert!(error("[serve\nlisten = 1").starts_with("/etc/t.toml:1: not valid TOML"));
    }

    #[test]
    fn values_of_the_wrong_type_are_errors_with_their_line() {
        let message = error("[serve]\n\nrate-burst = \"many\"");
        assert!(message.starts_with("/etc/t.toml:3: [serve] rate-burst: invalid value 'many'"), "{message}");
        assert!(
            error("[serve]\nallow-private = \"yes\"")
                .contains(":2: [serve] allow-private: expected true or false, found string")
        );
        assert!(
            error("[serve]\nlisten = true")
                .contains(":2: [serve] listen: expected a string or a number, found boolean")
        );
        assert!(error("[serve]\nlisten = [\"a\"]").contains("takes one value, not an array"));
        assert!(error("[trace]\nmax-hops = 300").starts_with("/etc/t.toml:2: [trace] max-hops: invalid value '300'"));
        assert!(error("[serve]\nallow-origin = [1, {a = 1}]").contains("found table"));
    }
}
