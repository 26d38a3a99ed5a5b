//! `wflo scopes`: the shared budget scopes of a store as the fleet on it sees them — limit,
//! spend, what is reserved, who holds reservations now — and an operator's credits back. A
//! reservation whose holder died is charged in full (its request may have been billed); when
//! an operator knows better, `wflo scopes credit` gives the money back and records who and why.

use serde::Serialize;
use wflo_core::clock::format_utc;
use wflo_core::money::{Nanos, format_usd, parse_usd};
use wflo_core::store::SharedCredit;

use crate::inspect::{CliResult, engine, print_json};
use crate::table::Table;
use crate::terminal::escape;
use crate::{Db, Output};

/// The arguments of `wflo scopes` (no subcommand: the list).
#[derive(clap::Args)]
#[command(after_help = "Examples:\n  \
    wflo scopes\n  \
    wflo scopes --json\n  \
    wflo scopes credit tenant-acme 0.42 --by ops@acme --reason 'worker crashed before sending'\n  \
    wflo scopes credits tenant-acme")]
pub struct ScopesArgs {
    #[command(subcommand)]
    command: Option<ScopesCommand>,
    /// The store (a SQLite path, sqlite://…, postgres://…, memory://); default:
    /// WFLO_DATABASE_URL, DATABASE_URL, then the default SQLite file.
    #[arg(long, global = true, value_name = "URL")]
    db: Option<String>,
    #[command(flatten)]
    out: Output,
}

#[derive(clap::Subcommand)]
enum ScopesCommand {
    /// Give back part of a shared scope's spend in its current period (a charged `unsettled`
    /// call that cost less, or nothing), recording who, why and when.
    #[command(after_help = "Examples:\n  \
        wflo scopes credit tenant-acme 0.42 --by ops@acme --reason 'worker crashed before sending'")]
    Credit {
        /// The shared scope's name.
        scope: String,
        /// How much, in USD (e.g. 0.42).
        #[arg(value_name = "AMOUNT_USD")]
        amount_usd: String,
        /// Who gives the credit (recorded).
        #[arg(long, value_name = "WHO")]
        by: String,
        /// Why (recorded).
        #[arg(long, value_name = "WHY")]
        reason: String,
    },
    /// List a shared scope's credits, oldest first.
    #[command(after_help = "Examples:\n  \
        wflo scopes credits tenant-acme --json")]
    Credits {
        /// The shared scope's name.
        scope: String,
    },
}

/// One shared scope as listed.
#[derive(Serialize)]
struct ScopeRow {
    name: String,
    /// The current period's row (`name`, `name@YYYY-MM-DD`, `name@YYYY-MM`).
    key: String,
    period: &'static str,
    limit_nanos: Option<Nanos>,
    spent_nanos: Nanos,
    reserved_nanos: Nanos,
    overrun_nanos: Nanos,
    refusing: bool,
    /// Budget leased out to processes as local allowances (none are leased yet: always 0).
    allowances_out_nanos: Nanos,
    /// Distinct holders (`host:pid`) of unexpired reservations.
    holders: Vec<String>,
}

pub fn run(args: ScopesArgs) -> CliResult {
    let db = Db { db: args.db };
    match args.command {
        None => list(&db, &args.out),
        Some(ScopesCommand::Credit {
            scope,
            amount_usd,
            by,
            reason,
        }) => credit(&db, &scope, &amount_usd, &by, &reason, &args.out),
        Some(ScopesCommand::Credits { scope }) => credits(&db, &scope, &args.out),
    }
}

fn usd(nanos: Nanos) -> String {
    format!("${}", format_usd(nanos))
}

fn list(db: &Db, out: &Output) -> CliResult {
    let engine = engine(db)?;
    let mut rows = Vec::new();
    for name in engine.shared_scope_names()? {
        let f = engine.shared_scope(&name)?;
        rows.push(ScopeRow {
            holders: engine.shared_scope_holders(&name)?,
            name,
            key: f.key,
            period: f.period.as_str(),
            limit_nanos: f.limit_nanos,
            spent_nanos: f.spent_nanos,
            reserved_nanos: f.reserved_nanos,
            overrun_nanos: f.overrun_nanos,
            refusing: f.refusing,
            allowances_out_nanos: 0,
        });
    }
    if out.json {
        return print_json(&rows);
    }
    if rows.is_empty() {
        println!("no shared scopes defined");
        return Ok(());
    }
    let mut t = Table::new(&[
        "SCOPE",
        "PERIOD",
        "LIMIT",
        "SPENT",
        "RESERVED",
        "ALLOWANCES OUT",
        "HOLDERS",
        "STATE",
    ]);
    for r in &rows {
        t.row(vec![
            r.key.clone(),
            r.period.into(),
            r.limit_nanos.map_or("-".into(), usd),
            usd(r.spent_nanos),
            usd(r.reserved_nanos),
            usd(r.allowances_out_nanos),
            r.holders.len().to_string(),
            if r.refusing {
                format!("refusing (overrun {})", usd(r.overrun_nanos))
            } else {
                "ok".into()
            },
        ]);
    }
    print!("{}", t.render());
    Ok(())
}

fn credit(db: &Db, scope: &str, amount: &str, by: &str, reason: &str, out: &Output) -> CliResult {
    let amount = parse_usd(amount)?;
    let engine = engine(db)?;
    let done = engine.credit_shared_scope(scope, amount, by, reason)?;
    if out.json {
        return print_json(&done);
    }
    let after = engine.shared_scope(scope)?;
    println!(
        "credited {} to {} (spent now {}), by {}: {}",
        usd(done.amount_nanos),
        escape(&done.key),
        usd(after.spent_nanos),
        escape(&done.by),
        escape(&done.reason)
    );
    Ok(())
}

fn credits(db: &Db, scope: &str, out: &Output) -> CliResult {
    let list: Vec<SharedCredit> = engine(db)?.shared_scope_credits(scope)?;
    if out.json {
        return print_json(&list);
    }
    if list.is_empty() {
        println!("no credits to {}", escape(scope));
        return Ok(());
    }
    let mut t = Table::new(&["ID", "AT", "PERIOD", "AMOUNT", "BY", "REASON"]);
    for c in &list {
        t.row(vec![
            c.id.to_string(),
            format_utc(c.at_ms),
            c.key.clone(),
            usd(c.amount_nanos),
            c.by.clone(),
            c.reason.clone(),
        ]);
    }
    print!("{}", t.render());
    Ok(())
}
