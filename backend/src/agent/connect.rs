//! `--nats URL` and its credential flags, turned into a NATS connection.
//!
//! The URL is `nats://HOST[:PORT]` or `tls://HOST[:PORT]` (TLS required; `--nats-ca FILE` adds the CA that signed
//! the broker's certificate); `nats://USER:PASSWORD@HOST` logs in with a user and password, `nats://TOKEN@HOST`
//! with a token (both percent-decoded). `--nats-creds FILE` (a `.creds` file: JWT and nkey seed) or `--nats-nkey
//! FILE` (a seed, `SU...`) are the alternatives. Files are read by [`NatsSettings::load`], before privileges are
//! dropped; the URL shown in logs and `/healthz` never carries the secret.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;

/// What the command line says about reaching NATS.
#[derive(Debug, Clone, Default)]
pub struct NatsSettings {
    /// `--nats`: the broker, possibly with credentials in it.
    pub url: String,
    /// `--nats-creds`: a credentials file (JWT and nkey seed).
    pub creds: Option<PathBuf>,
    /// `--nats-nkey`: a file holding an nkey seed.
    pub nkey: Option<PathBuf>,
    /// `--nats-ca`: a PEM file with the CA that signed the broker's certificate (for `tls://`).
    pub ca: Option<PathBuf>,
}

/// How to log in, with every file already read.
#[derive(Clone, Default)]
enum Login {
    #[default]
    Anonymous,
    UserPassword(String, String),
    Token(String),
    Creds(String),
    Nkey(String),
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print a secret.
        f.write_str(match self {
            Login::Anonymous => "anonymous",
            Login::UserPassword(..) => "user and password",
            Login::Token(_) => "token",
            Login::Creds(_) => "credentials file",
            Login::Nkey(_) => "nkey",
        })
    }
}

/// A broker address and login, ready to connect (files read, secrets out of the URL).
#[derive(Debug, Clone)]
pub struct NatsTarget {
    /// `scheme://host:port`, without credentials: safe to log and show.
    pub shown: String,
    login: Login,
    ca: Option<PathBuf>,
}

/// Splits `scheme://[userinfo@]hostport[/...]` into the URL without credentials and the login it carries.
fn split_url(url: &str) -> Result<(String, Login), String> {
    let url = url.trim();
    let (scheme, rest) = url
        .split_once("://")
        .filter(|(scheme, _)| matches!(*scheme, "nats" | "tls"))
        .ok_or_else(|| "expected a nats:// or tls:// URL, e.g. nats://user:password@broker.example:4222".to_owned())?;
    let authority = rest.split('/').next().unwrap_or_default();
    let (userinfo, hostport) = match authority.rsplit_once('@') {
        Some((userinfo, hostport)) => (Some(userinfo), hostport),
        None => (None, authority),
    };
    if hostport.is_empty() || hostport.contains([' ', '?', '#']) {
        return Err("expected a host in the NATS URL, e.g. nats://broker.example:4222".to_owned());
    }
    let login = match userinfo {
        None => Login::Anonymous,
        Some(info) => match info.split_once(':') {
            Some((user, password)) => Login::UserPassword(decode(user)?, decode(password)?),
            None => Login::Token(decode(info)?),
        },
    };
    Ok((format!("{scheme}://{hostport}"), login))
}

/// Percent-decoding of a URL's user or password.
fn decode(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok());
            out.push(hex.ok_or("a bad %-escape in the NATS URL's credentials")?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "the NATS URL's credentials are not UTF-8".to_owned())
}

impl NatsSettings {
    /// Reads the credential files and parses the URL: call it while the files are still readable (before
    /// privileges are dropped). One way to log in at a time.
    pub fn load(&self) -> anyhow::Result<NatsTarget> {
        let (shown, mut login) = split_url(&self.url).map_err(|e| anyhow::anyhow!("--nats: {e}"))?;
        let files = [self.creds.is_some(), self.nkey.is_some()].iter().filter(|x| **x).count();
        anyhow::ensure!(
            files == 0 || (files == 1 && matches!(login, Login::Anonymous)),
            "--nats: give one way to log in: credentials in the URL, --nats-creds or --nats-nkey"
        );
        if let Some(path) = &self.creds {
            let text =
                std::fs::read_to_string(path).with_context(|| format!("reading --nats-creds {}", path.display()))?;
            login = Login::Creds(text);
        }
        if let Some(path) = &self.nkey {
            let text =
                std::fs::read_to_string(path).with_context(|| format!("reading --nats-nkey {}", path.display()))?;
            let seed = text.lines().map(str::trim).find(|l| l.starts_with('S')).unwrap_or_default().to_owned();
            anyhow::ensure!(!seed.is_empty(), "--nats-nkey {}: no nkey seed (a line starting with S)", path.display());
            login = Login::Nkey(seed);
        }
        if let Some(ca) = &self.ca {
            std::fs::metadata(ca).with_context(|| format!("reading --nats-ca {}", ca.display()))?;
        }
        Ok(NatsTarget { shown, login, ca: self.ca.clone() })
    }
}

impl NatsTarget {
    /// Connection options with this login, named `name` on the broker (shown by its monitoring).
    pub fn options(&self, name: &str) -> anyhow::Result<async_nats::ConnectOptions> {
        let mut options = match &self.login {
            Login::Anonymous => async_nats::ConnectOptions::new(),
            Login::UserPassword(user, password) => {
                async_nats::ConnectOptions::with_user_and_password(user.clone(), password.clone())
            }
            Login::Token(token) => async_nats::ConnectOptions::with_token(token.clone()),
            Login::Creds(text) => {
                async_nats::ConnectOptions::with_credentials(text).context("--nats-creds: not a credentials file")?
            }
            Login::Nkey(seed) => async_nats::ConnectOptions::with_nkey(seed.clone()),
        };
        if let Some(ca) = &self.ca {
            options = options.add_root_certificates(ca.clone()).require_tls(true);
        }
        Ok(options.name(name).connection_timeout(Duration::from_secs(5)).ping_interval(Duration::from_secs(10)))
    }
}

/// The wait before reconnect attempt `attempt` (counted from 1): doubling from a quarter of a second up to 8 s, so a
/// broker that restarts is found again quickly and one that is down is not hammered.
pub fn backoff(attempt: usize) -> Duration {
    let shift = u32::try_from(attempt.saturating_sub(1)).unwrap_or(u32::MAX).min(5);
    Duration::from_millis(250 << shift).min(Duration::from_secs(8))
}

/// A connection error in one line, with the reason NATS gave.
pub fn describe(shown: &str, error: &async_nats::ConnectError) -> String {
    let mut text = format!("cannot connect to NATS at {shown}: {error}");
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text.replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_leave_the_url_and_the_shown_url_has_no_secret() {
        let (shown, login) = split_url("nats://agent:p%40ss@10.0.0.1:4222").expect("user and password");
        assert_eq!(shown, "nats://10.0.0.1:4222");
        assert!(matches!(login, Login::UserPassword(u, p) if u == "agent" && p == "p@ss"));
        let (shown, login) = split_url("tls://s3cret@broker.example").expect("token");
        assert_eq!(shown, "tls://broker.example");
        assert!(matches!(login, Login::Token(t) if t == "s3cret"));
        assert!(matches!(split_url("nats://broker:4222").expect("anonymous").1, Login::Anonymous));
        assert_eq!(format!("{:?}", Login::Token("s3cret".into())), "token");
        for bad in ["", "broker:4222", "http://broker", "nats://", "nats://u:p@", "nats://%zz@broker"] {
            assert!(split_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn reconnects_back_off_to_eight_seconds() {
        assert_eq!(backoff(1), Duration::from_millis(250));
        assert_eq!(backoff(2), Duration::from_millis(500));
        assert_eq!(backoff(6), Duration::from_secs(8));
        assert_eq!(backoff(1000), Duration::from_secs(8));
    }
}
