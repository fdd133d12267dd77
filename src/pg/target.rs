//! The `postgres://` URL: parsed once into connection settings, TLS wishes and a redacted form.
//!
//! The URL carries the password, so it is a secret: nothing here prints it, [`PgTarget`]'s
//! `Debug` shows only [`PgTarget::redacted`] (`postgres://user@host:port/db`), and a URL that
//! does not parse is reported by what is wrong with it, never by echoing it. TLS follows libpq's
//! `sslmode` (`disable`, `prefer` — the default —, `require`, `verify-ca`, `verify-full`) and
//! `sslrootcert` (a PEM file of trust anchors, or `system`), which tokio-postgres does not parse
//! itself, so they are taken out of the URL before it sees the rest.

use std::path::PathBuf;
use std::time::Duration;

use tokio_postgres::config::{Host, SslMode};

use super::error::{self, PgError};
use super::tls;
pub use super::tls::{Roots, TlsMode};

/// Gives up connecting after this long when the URL sets no `connect_timeout`.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A parsed `postgres://` URL: what to connect to and how.
#[derive(Clone)]
pub struct PgTarget {
    config: tokio_postgres::Config,
    tls: TlsMode,
    roots: Roots,
    redacted: String,
}

impl std::fmt::Debug for PgTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgTarget")
            .field("url", &self.redacted)
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

impl PgTarget {
    /// Parses `postgres://user:password@host:port/database?sslmode=…`.
    pub fn parse(url: &str) -> Result<PgTarget, PgError> {
        let url = url.trim();
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(PgError::Url {
                reason: "must start with postgres:// (or postgresql://)".into(),
            });
        }
        let (base, query) = url.split_once('?').unwrap_or((url, ""));
        let mut tls = TlsMode::Prefer;
        let mut roots = Roots::Platform;
        let mut kept = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match key {
                "sslmode" => tls = TlsMode::parse(&percent_decode(value))?,
                "sslrootcert" => {
                    let value = percent_decode(value);
                    roots = match value.as_str() {
                        "" => {
                            return Err(PgError::Url {
                                reason: "sslrootcert is empty: name a PEM file or `system`".into(),
                            });
                        }
                        "system" => Roots::Platform,
                        path => Roots::File(PathBuf::from(path)),
                    };
                }
                _ => kept.push(pair),
            }
        }
        let rest = if kept.is_empty() {
            base.to_string()
        } else {
            format!("{base}?{}", kept.join("&"))
        };
        let mut config: tokio_postgres::Config = rest.parse().map_err(|e| PgError::Url {
            reason: error::chain(&e),
        })?;
        config.ssl_mode(match tls {
            TlsMode::Disable => SslMode::Disable,
            TlsMode::Prefer => SslMode::Prefer,
            TlsMode::Require | TlsMode::VerifyCa | TlsMode::VerifyFull => SslMode::Require,
        });
        if config.get_application_name().is_none() {
            config.application_name("yupiao");
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(DEFAULT_CONNECT_TIMEOUT);
        }
        if config.get_hosts().is_empty() {
            return Err(PgError::Url {
                reason: "names no host (postgres://user@HOST:port/database)".into(),
            });
        }
        let redacted = redact(&config);
        Ok(PgTarget {
            config,
            tls,
            roots,
            redacted,
        })
    }

    /// `postgres://user@host:port/database`: what logs and errors may show.
    pub fn redacted(&self) -> &str {
        &self.redacted
    }

    /// The server as errors name it.
    pub fn server(&self) -> error::Server<'_> {
        error::Server {
            redacted: &self.redacted,
            database: self.config.get_dbname().unwrap_or_default(),
        }
    }

    pub fn tls_mode(&self) -> TlsMode {
        self.tls
    }

    pub fn roots(&self) -> &Roots {
        &self.roots
    }

    /// The settings tokio-postgres connects with.
    pub fn config(&self) -> &tokio_postgres::Config {
        &self.config
    }

    /// Overrides how long a connection attempt may take.
    pub fn set_connect_timeout(&mut self, timeout: Duration) {
        self.config.connect_timeout(timeout);
    }

    /// The TLS connector for this target's `sslmode` (never used with `disable`, but one type
    /// for every mode keeps the pool's type simple).
    pub fn connector(&self) -> Result<tokio_postgres_rustls::MakeRustlsConnect, PgError> {
        let config = tls::client_config(self.tls, &self.roots).map_err(|detail| PgError::Tls {
            target: self.redacted.clone(),
            detail,
        })?;
        Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
    }

    /// One connection outside any pool (maintenance, tests); its I/O runs on a spawned task.
    pub async fn connect_once(&self) -> Result<tokio_postgres::Client, PgError> {
        let (client, connection) = self
            .config
            .connect(self.connector()?)
            .await
            .map_err(|e| error::classify(&e, self.server()))?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "PostgreSQL connection ended");
            }
        });
        Ok(client)
    }
}

fn redact(config: &tokio_postgres::Config) -> String {
    let user = config.get_user().unwrap_or("");
    let ports = config.get_ports();
    let hosts = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, host)| {
            let port = ports.get(i).or(ports.first()).copied().unwrap_or(5432);
            match host {
                Host::Tcp(h) if h.contains(':') => format!("[{h}]:{port}"),
                Host::Tcp(h) => format!("{h}:{port}"),
                Host::Unix(path) => path.display().to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join(",");
    let database = config.get_dbname().unwrap_or(user);
    let at = if user.is_empty() { "" } else { "@" };
    format!("postgres://{user}{at}{hosts}/{database}")
}

/// `%XX` escapes decoded (libpq URIs do not turn `+` into a space).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "s3cr3t-Pa55";

    #[test]
    fn the_redacted_form_names_user_host_port_and_database_but_never_the_password() {
        let t = PgTarget::parse(&format!("postgres://yupiao:{SECRET}@db.example:6543/watch")).unwrap();
        assert_eq!(t.redacted(), "postgres://yupiao@db.example:6543/watch");
        assert!(!format!("{t:?}").contains(SECRET));
        let t = PgTarget::parse(&format!("postgresql://u:{SECRET}@::1/d"))
            .unwrap_or_else(|_| PgTarget::parse(&format!("postgresql://u:{SECRET}@[::1]/d")).unwrap());
        assert_eq!(t.redacted(), "postgres://u@[::1]:5432/d");
    }

    #[test]
    fn sslmode_and_sslrootcert_are_ours_and_the_rest_goes_to_tokio_postgres() {
        let t = PgTarget::parse(
            "postgres://u@h/d?sslmode=verify-full&sslrootcert=%2Fetc%2Froot.crt&connect_timeout=3",
        )
        .unwrap();
        assert_eq!(t.tls_mode(), TlsMode::VerifyFull);
        assert_eq!(t.roots(), &Roots::File(PathBuf::from("/etc/root.crt")));
        assert_eq!(t.config().get_ssl_mode(), SslMode::Require);
        assert_eq!(t.config().get_connect_timeout(), Some(&Duration::from_secs(3)));
        let t = PgTarget::parse("postgres://u@h/d").unwrap();
        assert_eq!(t.tls_mode(), TlsMode::Prefer, "libpq's default");
        assert_eq!(t.config().get_application_name(), Some("yupiao"));
        let t = PgTarget::parse("postgres://u@h/d?sslmode=require&sslrootcert=system").unwrap();
        assert_eq!((t.tls_mode(), t.roots()), (TlsMode::Require, &Roots::Platform));
    }

    #[test]
    fn a_bad_url_says_what_is_wrong_without_echoing_the_url() {
        for (url, says) in [
            (format!("mysql://u:{SECRET}@h/d"), "postgres://"),
            (format!("postgres://u:{SECRET}@h/d?sslmode=allow"), "sslmode"),
            (format!("postgres://u:{SECRET}@h/d?bogus={SECRET}"), "bogus"),
            (format!("postgres://u:{SECRET}@h/d?sslrootcert="), "sslrootcert"),
        ] {
            let e = PgTarget::parse(&url).unwrap_err();
            assert!(matches!(e, PgError::Url { .. }), "{url}: {e:?}");
            let text = e.to_string();
            assert!(text.contains(says), "{text}");
            assert!(!text.contains(SECRET), "{text}");
        }
    }
}
