//! `wflo approvals`, `wflo approve`, `wflo deny`: the people's side of approval gates. A
//! workflow waiting at a gate (in any process, on the same store) goes on or fails as soon as
//! its approval is decided here.

use wflo_core::clock::format_utc;
use wflo_core::money::format_usd;
use wflo_core::records::ApprovalRecord;

use crate::inspect::{CliResult, engine, print_json};
use crate::table::Table;
use crate::{Db, Output};

/// Lists approvals, pending only unless `all`.
pub fn list(db: &Db, all: bool, limit: usize, out: &Output) -> CliResult {
    let engine = engine(db)?;
    let list = engine.approvals(!all, limit)?;
    if out.json {
        return print_json(&list);
    }
    if list.is_empty() {
        println!(
            "{}",
            if all {
                "no approvals yet"
            } else {
                "no approvals pending"
            }
        );
        return Ok(());
    }
    let mut t = Table::new(&[
        "ID",
        "STATUS",
        "EXECUTION",
        "GATE",
        "WHAT",
        "WHY",
        "WORST CASE",
        "ASKED BY",
        "ASKED",
        "DECIDED BY",
    ]);
    for a in &list {
        t.row(vec![
            a.id.clone(),
            a.status.as_str().into(),
            a.execution_id.clone(),
            a.gate.clone(),
            a.what.clone(),
            a.why.clone(),
            a.worst_case_nanos
                .map(|n| format!("${}", format_usd(n)))
                .unwrap_or_else(|| "-".into()),
            a.requested_by.clone(),
            format_utc(a.created_at_ms),
            a.decided_by.clone().unwrap_or_else(|| "-".into()),
        ]);
    }
    print!("{}", t.render());
    Ok(())
}

/// Approves or denies one pending approval.
pub fn decide(
    db: &Db,
    id: &str,
    approve: bool,
    by: Option<&str>,
    note: Option<&str>,
    out: &Output,
) -> CliResult {
    let engine = engine(db)?;
    let a: ApprovalRecord = engine.decide_approval(id, approve, by, note)?;
    if out.json {
        return print_json(&a);
    }
    println!(
        "{} {} ({} of execution {}) by {}",
        a.status.as_str(),
        a.id,
        a.gate,
        a.execution_id,
        a.decided_by.as_deref().unwrap_or("-")
    );
    Ok(())
}
