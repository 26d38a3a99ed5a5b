//! Which store a URL names, and where the default SQLite file lives.
//!
//! - `:memory:` — a private in-memory SQLite database
//! - a plain path, `sqlite://relative/path.db`, `sqlite:///absolute/path.db` — SQLite
//! - `postgres://…`, `postgresql://…`, `postgresql+asyncpg://…` (the old SDK's form) — PostgreSQL
//! - `memory://` — the engine's in-process store (no SQL at all)
//!
//! With no URL: `WFLO_DATABASE_URL`, then `DATABASE_URL`, then [`default_sqlite_path`].

use std::path::PathBuf;
use std::sync::Arc;

use super::{MemoryStore, Store};
use crate::error::{Error, Result};

/// SQLite's `synchronous` setting: what a commit waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Synchronous {
    /// Commits survive a crash of the process; the last ones may be lost if the machine
    /// loses power (SQLite's recommended setting for WAL).
    Normal,
    /// Commits also survive power loss (an fsync per commit).
    Full,
}

/// A parsed store URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreUrl {
    Memory,
    Sqlite {
        path: String,
        synchronous: Synchronous,
    },
    Postgres {
        url: String,
    },
}

impl StoreUrl {
    /// Parses a store URL (see the module documentation). SQLite URLs accept
    /// `?synchronous=full` (default `normal`).
    pub fn parse(url: &str) -> Result<StoreUrl> {
        let url = url.trim();
        if url.is_empty() {
            return Err(Error::invalid("the database URL is empty"));
        }
        if url == "memory://" || url == "memory:" {
            return Ok(StoreUrl::Memory);
        }
        for prefix in ["postgresql+asyncpg://", "postgres+asyncpg://"] {
            if let Some(rest) = url.strip_prefix(prefix) {
                return Ok(StoreUrl::Postgres {
                    url: postgres_query(&format!("postgresql://{rest}"))?,
                });
            }
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(StoreUrl::Postgres {
                url: postgres_query(url)?,
            });
        }
        let (path, query) = match url.strip_prefix("sqlite://") {
            Some(rest) => rest.split_once('?').unwrap_or((rest, "")),
            None => {
                if let Some((scheme, _)) = url.split_once("://") {
                    return Err(Error::invalid(format!(
                        "unsupported database URL scheme '{scheme}://' (use a file path, sqlite://, postgres:// or postgresql://)"
                    )));
                }
                (url, "")
            }
        };
        if path.is_empty() {
            return Err(Error::invalid(format!("'{url}' names no database file")));
        }
        let mut synchronous = Synchronous::Normal;
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("synchronous", v)) if v.eq_ignore_ascii_case("normal") => {
                    synchronous = Synchronous::Normal
                }
                Some(("synchronous", v)) if v.eq_ignore_ascii_case("full") => {
                    synchronous = Synchronous::Full
                }
                _ => {
                    return Err(Error::invalid(format!(
                        "unsupported SQLite URL option '{pair}' (supported: synchronous=normal|full)"
                    )));
                }
            }
        }
        Ok(StoreUrl::Sqlite {
            path: path.to_owned(),
            synchronous,
        })
    }
}

/// The TLS modes libpq spells in `sslmode` (default `prefer`): `require` and stricter never
/// fall back to plaintext; `verify-ca` checks the certificate against `sslrootcert` (else the
/// public roots), `verify-full` also the host name.
const SSL_MODES: [&str; 6] = [
    "disable",
    "allow",
    "prefer",
    "require",
    "verify-ca",
    "verify-full",
];

/// A PostgreSQL URL's query as the driver reads it: asyncpg's and SQLAlchemy's `ssl=…` becomes
/// libpq's `sslmode=…` (the driver would ignore it — a silent fall back to `prefer`), and an
/// `sslmode` no TLS mode is spelled so is refused here rather than weakened.
fn postgres_query(url: &str) -> Result<String> {
    let Some((base, query)) = url.split_once('?') else {
        return Ok(url.to_owned());
    };
    let mut pairs = Vec::new();
    let mut mode: Option<String> = None;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let given = match key {
            "sslmode" | "ssl-mode" => value.to_ascii_lowercase(),
            "ssl" => match value.to_ascii_lowercase().as_str() {
                "true" | "on" | "1" => "require".to_owned(),
                "false" | "off" | "0" => "disable".to_owned(),
                other => other.to_owned(),
            },
            _ => {
                pairs.push(pair.to_owned());
                continue;
            }
        };
        if !SSL_MODES.contains(&given.as_str()) {
            return Err(Error::invalid(format!(
                "unsupported PostgreSQL TLS mode '{key}={value}' (use sslmode=disable, allow, prefer, require, verify-ca or verify-full)"
            )));
        }
        if mode.as_ref().is_some_and(|m| *m != given) {
            return Err(Error::invalid(format!(
                "the PostgreSQL URL names two TLS modes ('{}' and '{given}')",
                mode.unwrap_or_default()
            )));
        }
        mode = Some(given);
    }
    if let Some(mode) = mode {
        pairs.push(format!("sslmode={mode}"));
    }
    Ok(if pairs.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", pairs.join("&"))
    })
}

/// The default database file: `$WFLO_HOME/wflo.db`, else `$XDG_DATA_HOME/wflo/wflo.db`,
/// else `~/.local/share/wflo/wflo.db`, else `./wflo.db`.
pub fn default_sqlite_path() -> PathBuf {
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(home) = env("WFLO_HOME") {
        return home.join("wflo.db");
    }
    if let Some(data) = env("XDG_DATA_HOME") {
        return data.join("wflo").join("wflo.db");
    }
    if let Some(home) = env("HOME") {
        return home
            .join(".local")
            .join("share")
            .join("wflo")
            .join("wflo.db");
    }
    PathBuf::from("wflo.db")
}

/// Opens the store a URL names.
pub fn open_store(url: &str) -> Result<Arc<dyn Store>> {
    Ok(match StoreUrl::parse(url)? {
        StoreUrl::Memory => Arc::new(MemoryStore::new()),
        #[cfg(feature = "sqlite")]
        StoreUrl::Sqlite { path, synchronous } => Arc::new(super::SqliteStore::open(
            &path,
            super::SqliteOptions {
                synchronous,
                ..super::SqliteOptions::default()
            },
        )?),
        #[cfg(feature = "postgres")]
        StoreUrl::Postgres { url } => Arc::new(super::PostgresStore::connect(&url)?),
        #[allow(unreachable_patterns)] // with both stores built in
        _ => return Err(Error::invalid(without(url))),
    })
}

/// Why a URL names a store this build of wflo leaves out (cargo features `sqlite`, `postgres`).
fn without(url: &str) -> String {
    let (store, feature) = if url.starts_with("postgres") {
        ("PostgreSQL", "postgres")
    } else {
        ("SQLite", "sqlite")
    };
    format!(
        "this build of wflo has no {store} store (it was built without the cargo feature `{feature}`)"
    )
}

/// Opens the store named by `WFLO_DATABASE_URL`, else `DATABASE_URL`, else the default SQLite
/// file.
pub fn open_store_from_env() -> Result<Arc<dyn Store>> {
    open_store(&store_url_from_env())
}

/// The store URL an engine opened without one uses: `WFLO_DATABASE_URL`, else `DATABASE_URL`,
/// else the default SQLite file (tools that must know where the data goes ask this).
pub fn store_url_from_env() -> String {
    ["WFLO_DATABASE_URL", "DATABASE_URL"]
        .iter()
        .filter_map(|k| std::env::var(k).ok())
        .find(|v| !v.trim().is_empty())
        .unwrap_or_else(|| default_sqlite_path().to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A lean build (`--no-default-features --features sqlite`, as `make test-rust` builds
    /// it) names what it leaves out instead of failing obscurely.
    #[cfg(not(feature = "postgres"))]
    #[test]
    fn a_build_without_postgres_says_so() {
        let Err(e) = open_store("postgres://wflo@127.0.0.1:1/wflo?sslmode=require") else {
            panic!("a PostgreSQL store opened without the postgres feature");
        };
        assert_eq!(e.code(), crate::ErrorCode::InvalidArgument);
        assert!(e.to_string().contains("cargo feature `postgres`"), "{e}");
        // SQLite and the in-process store are there.
        let dir = std::env::temp_dir().join(format!("wflo-lean-{}.db", std::process::id()));
        open_store(&dir.to_string_lossy()).unwrap().close().unwrap();
        let _ = std::fs::remove_file(&dir);
        open_store("memory://").unwrap();
    }

    #[test]
    fn urls_name_their_store() {
        let sqlite = |p: &str| StoreUrl::Sqlite {
            path: p.into(),
            synchronous: Synchronous::Normal,
        };
        assert_eq!(StoreUrl::parse(":memory:").unwrap(), sqlite(":memory:"));
        assert_eq!(
            StoreUrl::parse("data/wflo.db").unwrap(),
            sqlite("data/wflo.db")
        );
        assert_eq!(
            StoreUrl::parse("sqlite://data/wflo.db").unwrap(),
            sqlite("data/wflo.db")
        );
        assert_eq!(
            StoreUrl::parse("sqlite:///abs/wflo.db").unwrap(),
            sqlite("/abs/wflo.db")
        );
        assert_eq!(
            StoreUrl::parse("sqlite:///abs/wflo.db?synchronous=full").unwrap(),
            StoreUrl::Sqlite {
                path: "/abs/wflo.db".into(),
                synchronous: Synchronous::Full
            }
        );
        assert_eq!(
            StoreUrl::parse("postgresql+asyncpg://u:p@localhost/wflo").unwrap(),
            StoreUrl::Postgres {
                url: "postgresql://u:p@localhost/wflo".into()
            }
        );
        assert_eq!(
            StoreUrl::parse("postgres://h/db").unwrap(),
            StoreUrl::Postgres {
                url: "postgres://h/db".into()
            }
        );
        assert_eq!(StoreUrl::parse("memory://").unwrap(), StoreUrl::Memory);
        // TLS as libpq spells it, and asyncpg's / SQLAlchemy's `ssl=` spelling of the same.
        let pg = |u: &str| match StoreUrl::parse(u).unwrap() {
            StoreUrl::Postgres { url } => url,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            pg("postgres://h/db?sslmode=verify-full&sslrootcert=/ca.pem"),
            "postgres://h/db?sslrootcert=/ca.pem&sslmode=verify-full"
        );
        assert_eq!(
            pg("postgresql+asyncpg://u@h/db?ssl=require"),
            "postgresql://u@h/db?sslmode=require"
        );
        assert_eq!(
            pg("postgres://h/db?ssl=true"),
            "postgres://h/db?sslmode=require"
        );
        assert_eq!(
            pg("postgres://h/db?sslmode=REQUIRE"),
            "postgres://h/db?sslmode=require"
        );
        assert_eq!(
            pg("postgres://h/db?application_name=x"),
            "postgres://h/db?application_name=x"
        );
        for bad in [
            "postgres://h/db?sslmode=sometimes",
            "postgres://h/db?ssl=maybe",
            "postgres://h/db?ssl=disable&sslmode=require",
        ] {
            assert_eq!(
                StoreUrl::parse(bad).unwrap_err().code(),
                crate::ErrorCode::InvalidArgument,
                "{bad}"
            );
        }
        for bad in ["", "mysql://x/y", "sqlite://", "sqlite://x.db?journal=off"] {
            assert_eq!(
                StoreUrl::parse(bad).unwrap_err().code(),
                crate::ErrorCode::InvalidArgument,
                "{bad}"
            );
        }
    }
}
