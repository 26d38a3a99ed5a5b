//! `wflo prices diff`: what a price file would change, shown before it applies.

use serde_json::Value;

use crate::Output;
use crate::inspect::{CliResult, pricing_engine, print_json};
use crate::table::Table;
use crate::terminal::escape;

pub fn diff(path: &str, out: &Output) -> CliResult {
    let engine = pricing_engine()?;
    let changes = engine.diff_prices(path)?;
    if out.json {
        return print_json(&changes);
    }
    println!(
        "{} ({} schema): {} price entries over {}",
        escape(path),
        changes.format.as_str(),
        changes.models,
        escape(&engine.price_table().label())
    );
    println!(
        "{} added · {} changed · {} unchanged · {} not per-token prices (skipped)",
        changes.added.len(),
        changes.changed.len(),
        changes.unchanged,
        changes.skipped.len()
    );
    if !changes.added.is_empty() {
        println!("\nadded");
        for name in &changes.added {
            println!("  + {}", escape(name));
        }
    }
    if !changes.changed.is_empty() {
        println!("\nchanged");
        let mut t = Table::new(&["MODEL", "FIELD", "BEFORE", "AFTER"]);
        for c in &changes.changed {
            for f in &c.fields {
                t.row(vec![
                    c.name.clone(),
                    f.field.clone(),
                    show(&f.before),
                    show(&f.after),
                ]);
            }
        }
        print!("{}", t.render());
    }
    Ok(())
}

/// A field's value as people read it: absent is "-", prices stay in pico-USD per token.
fn show(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
