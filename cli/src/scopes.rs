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
    /// Define a shared scope, or change one: its limit, its period, and whether processes
    /// serve it from local allowances (the default: no store round trip per call) or book
    /// every call in the store (strict fairness between processes, slower).
    #[command(after_help = "Examples:\n  \
        wflo scopes define tenant-acme --limit 500 --period month\n  \
        wflo scopes define global-daily --limit 2000 --period day --allowances off")]
    Define {
        /// The shared scope's name.
        scope: String,
        /// The limit per period, in USD (none: no limit, spend is only counted).
        #[arg(long, value_name = "USD")]
        limit: Option<String>,
        /// none (the scope's whole life), day or month (UTC).
        #[arg(long, default_value = "none")]
        period: String,
        /// on: calls draw on local allowances; off: every call is booked in the store. A
        /// scope defined again keeps its setting unless this is given.
        #[arg(long, value_parser = ["on", "off"])]
        allowances: Option<String>,
    },
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
    /// Whether processes serve the scope from local allowances (else each call is booked).
    allowances: bool,
    /// Of `reserved_nanos`, what processes hold as local allowances, and how many hold one.
    allowances_out_nanos: Nanos,
    allowance_holders: u64,
    /// Distinct holders (`host:pid`) of unexpired reservations.
    holders: Vec<String>,
}

pub fn run(args: ScopesArgs) -> CliResult {
    let db = Db { db: args.db };
    match args.command {
        None => list(&db, &args.out),
        Some(ScopesCommand::Define {
            scope,
            limit,
            period,
            allowances,
        }) => define(
            &db,
            &scope,
            limit.as_deref(),
            &period,
            allowances.as_deref(),
            &args.out,
        ),
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
            allowances: f.allowances,
            allowances_out_nanos: f.allowance_nanos,
            allowance_holders: f.allowance_holders,
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
            if r.allowances {
                format!("{} ({})", usd(r.allowances_out_nanos), r.allowance_holders)
            } else {
                "off (per call)".into()
            },
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

fn define(
    db: &Db,
    scope: &str,
    limit: Option<&str>,
    period: &str,
    allowances: Option<&str>,
    out: &Output,
) -> CliResult {
    let limit_nanos = limit.map(parse_usd).transpose()?;
    let period = wflo_core::store::Period::from_name(period)?;
    let engine = engine(db)?;
    engine.define_shared_scope_allowances(
        scope,
        limit_nanos,
        period,
        allowances.map(|a| a == "on"),
    )?;
    let f = engine.shared_scope(scope)?;
    if out.json {
        return print_json(&f);
    }
    println!(
        "{}: limit {} per {}, allowances {}",
        escape(scope),
        f.limit_nanos.map_or("none".into(), usd),
        f.period.as_str(),
        if f.allowances { "on" } else { "off (per call)" }
    );
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
