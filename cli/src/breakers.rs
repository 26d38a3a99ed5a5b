//! `wflo breakers`: circuit breakers as the store knows them — every shared breaker's state
//! (whichever process stepped it last) and the latest changes of state of every breaker, shared
//! or one process's.

use wflo_core::clock::format_utc;
use wflo_core::resilience::{BreakerStatus, Transition};

use crate::inspect::{CliResult, engine, print_json};
use crate::table::Table;
use crate::{Db, Output};

/// Lists shared breakers and the latest `limit` changes of state (of `name` only, if given).
pub fn list(db: &Db, name: Option<&str>, limit: usize, out: &Output) -> CliResult {
    let on_store = engine(db)?.breakers_on_store(name, limit)?;
    if out.json {
        return print_json(&on_store);
    }
    let (shared, changes) = (on_store.shared, on_store.transitions);
    if shared.is_empty() && changes.is_empty() {
        println!("no circuit breaker has changed state yet");
        return Ok(());
    }
    if !shared.is_empty() {
        println!("shared breakers");
        print!("{}", shared_table(&shared).render());
    }
    if !changes.is_empty() {
        if !shared.is_empty() {
            println!();
        }
        println!("changes of state");
        print!("{}", transitions_table(&changes).render());
    }
    Ok(())
}

fn shared_table(list: &[BreakerStatus]) -> Table {
    let mut t = Table::new(&[
        "NAME",
        "STATE",
        "FAILURES",
        "CALLS",
        "FAILED",
        "REFUSED",
        "TRIAL CALLS IN",
    ]);
    for b in list {
        t.row(vec![
            b.name.clone(),
            b.state.as_str().into(),
            b.failure_count.to_string(),
            b.total_calls.to_string(),
            b.total_failures.to_string(),
            b.rejected.to_string(),
            b.retry_in_ms
                .map(|ms| format!("{:.1} s", ms as f64 / 1000.0))
                .unwrap_or_else(|| "-".into()),
        ]);
    }
    t
}

/// The changes of state as a table (also `wflo show`'s, for the ones while an execution ran).
pub fn transitions_table(list: &[Transition]) -> Table {
    let mut t = Table::new(&["AT", "BREAKER", "FROM", "TO", "WHY", "BY"]);
    for c in list {
        t.row(vec![
            format_utc(c.at_ms),
            format!("{}{}", c.breaker, if c.shared { " (shared)" } else { "" }),
            c.from.as_str().into(),
            c.to.as_str().into(),
            c.reason.clone(),
            c.holder.clone(),
        ]);
    }
    t
}
