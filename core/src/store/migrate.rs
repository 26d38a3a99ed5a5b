//! The numbered schema migrations in `migrations/{sqlite,postgres}/`, compiled in.
//!
//! Each store applies the ones its database has not seen yet, in order, inside one
//! transaction that also records them in `schema_version`; concurrent openers serialise on a
//! lock (SQLite's write lock, PostgreSQL's advisory lock) so a migration runs exactly once.
//! Each applied migration's checksum is recorded too, and checked on every open: a migration
//! edited after databases applied it would leave them different from what this build expects,
//! so such a database is refused with the file's name instead of failing later in odd ways.

#![cfg_attr(not(any(feature = "sqlite", feature = "postgres")), allow(dead_code))]

use crate::error::{Error, Result};

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
    migration!("sqlite", 3, "0003_call_attempts.sql"),
    migration!("sqlite", 4, "0004_resources.sql"),
    migration!("sqlite", 5, "0005_approvals.sql"),
    migration!("sqlite", 6, "0006_breakers.sql"),
    migration!("sqlite", 7, "0007_execution_limits.sql"),
    migration!("sqlite", 8, "0008_budget_credits.sql"),
    migration!("sqlite", 9, "0009_history_indexes.sql"),
    migration!("sqlite", 10, "0010_allowances.sql"),
    migration!("sqlite", 11, "0011_checkpoint_save.sql"),
    migration!("sqlite", 12, "0012_binary_states.sql"),
    migration!("sqlite", 13, "0013_live_checkpoints_index.sql"),
    migration!("sqlite", 14, "0014_checkpoint_save_without_fk.sql"),
    migration!("sqlite", 15, "0015_checkpoint_state_last.sql"),
    migration!("sqlite", 16, "0016_langgraph_names_index.sql"),
    migration!("sqlite", 17, "0017_drop_live_checkpoints_index.sql"),
    migration!("sqlite", 18, "0018_langgraph_names_covering.sql"),
];

/// PostgreSQL migrations, in order.
pub const MIGRATIONS_POSTGRES: &[Migration] = &[
    migration!("postgres", 1, "0001_init.sql"),
    migration!("postgres", 2, "0002_budgets_rollbacks_compression.sql"),
    migration!("postgres", 3, "0003_call_attempts.sql"),
    migration!("postgres", 4, "0004_resources.sql"),
    migration!("postgres", 5, "0005_approvals.sql"),
    migration!("postgres", 6, "0006_breakers.sql"),
    migration!("postgres", 7, "0007_execution_limits.sql"),
    migration!("postgres", 8, "0008_budget_credits.sql"),
    migration!("postgres", 9, "0009_history_indexes.sql"),
    migration!("postgres", 10, "0010_allowances.sql"),
    migration!("postgres", 11, "0011_checkpoint_save.sql"),
    migration!("postgres", 12, "0012_binary_states.sql"),
    migration!("postgres", 13, "0013_live_checkpoints_index.sql"),
    migration!("postgres", 14, "0014_checkpoint_save_without_fk.sql"),
    migration!("postgres", 15, "0015_checkpoint_state_last.sql"),
    migration!("postgres", 16, "0016_langgraph_names_index.sql"),
    migration!("postgres", 17, "0017_drop_live_checkpoints_index.sql"),
    migration!("postgres", 18, "0018_langgraph_names_covering.sql"),
];

/// The schema version this build creates and expects.
pub const SCHEMA_VERSION: u32 = 18;

/// The table that records applied migrations (created by the store before migrating).
pub(crate) const SCHEMA_VERSION_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at_ms BIGINT NOT NULL, checksum TEXT)";

/// A migration's checksum: 64-bit FNV-1a of its SQL, as 16 hex digits. Not a defence against
/// someone who can write the database — a check that the SQL that made a schema is the SQL
/// this build carries.
pub fn checksum(sql: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in sql.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// Checks what a database recorded as applied, `(version, checksum)`, against this build's
/// `list`: a recorded checksum that differs is an edited migration (STORAGE, naming the file).
/// Returns the versions recorded without a checksum (applied by a wflo that did not record
/// them): the store fills theirs in.
pub(crate) fn check_applied(
    list: &[Migration],
    applied: &[(u32, Option<String>)],
) -> Result<Vec<u32>> {
    let mut unrecorded = Vec::new();
    for (version, recorded) in applied {
        let Some(m) = list.iter().find(|m| m.version == *version) else {
            continue; // newer than this build: refused by the version check
        };
        match recorded {
            None => unrecorded.push(*version),
            Some(sum) if *sum == checksum(m.sql) => {}
            Some(sum) => {
                return Err(Error::Storage(format!(
                    "migration {} was edited after this database applied it (recorded checksum {sum}, this build's {}): \
                     restore the released file and put the change in a new numbered migration",
                    m.name,
                    checksum(m.sql)
                )));
            }
        }
    }
    Ok(unrecorded)
}

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

    #[test]
    fn checksums_find_an_edited_migration() {
        // FNV-1a's published test value for "a".
        assert_eq!(checksum("a"), "af63dc4c8601ec8c");
        let m = MIGRATIONS_SQLITE[0];
        let ok = (1, Some(checksum(m.sql)));
        assert_eq!(
            check_applied(MIGRATIONS_SQLITE, &[ok.clone(), (2, None)]).unwrap(),
            vec![2]
        );
        let edited = (1, Some(checksum(&format!("{} -- edited", m.sql))));
        let e = check_applied(MIGRATIONS_SQLITE, &[edited]).unwrap_err();
        assert_eq!(e.code(), crate::ErrorCode::Storage);
        assert!(e.to_string().contains(m.name), "{e}");
        // A version this build does not know is left to the version check.
        assert!(
            check_applied(MIGRATIONS_SQLITE, &[ok, (999, Some("x".into()))])
                .unwrap()
                .is_empty()
        );
    }
}
