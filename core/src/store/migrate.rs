//! The numbered schema migrations in `migrations/{sqlite,postgres}/`, compiled in.
//!
//! Each store applies the ones its database has not seen yet, in order, inside one
//! transaction that also records them in `schema_version`; concurrent openers serialise on a
//! lock (SQLite's write lock, PostgreSQL's advisory lock) so a migration runs exactly once.

/// One migration: its number, file name and SQL.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub version: u32,
    pub name: &'static str,
    pub sql: &'static str,
}

/// Which database a migration list is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

macro_rules! migration {
    ($dialect:literal, $version:literal, $file:literal) => {
        Migration {
            version: $version,
            name: $file,
            sql: include_str!(concat!("../../../migrations/", $dialect, "/", $file)),
        }
    };
}

/// SQLite migrations, in order.
pub const MIGRATIONS_SQLITE: &[Migration] = &[
    migration!("sqlite", 1, "0001_init.sql"),
    migration!("sqlite", 2, "0002_budgets_rollbacks_compression.sql"),
];

/// PostgreSQL migrations, in order.
pub const MIGRATIONS_POSTGRES: &[Migration] = &[
    migration!("postgres", 1, "0001_init.sql"),
    migration!("postgres", 2, "0002_budgets_rollbacks_compression.sql"),
];

/// The schema version this build creates and expects.
pub const SCHEMA_VERSION: u32 = 2;

/// The table that records applied migrations (created by the store before migrating).
pub(crate) const SCHEMA_VERSION_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at_ms BIGINT NOT NULL)";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_numbered_without_gaps_and_match_across_dialects() {
        for list in [MIGRATIONS_SQLITE, MIGRATIONS_POSTGRES] {
            for (i, m) in list.iter().enumerate() {
                assert_eq!(m.version as usize, i + 1);
                assert!(m.name.starts_with(&format!("{:04}_", m.version)));
            }
            assert_eq!(list.last().unwrap().version, SCHEMA_VERSION);
        }
        let names = |l: &[Migration]| l.iter().map(|m| m.name).collect::<Vec<_>>();
        assert_eq!(names(MIGRATIONS_SQLITE), names(MIGRATIONS_POSTGRES));
    }
}
