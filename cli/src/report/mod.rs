//! `wflo report`: one self-contained HTML page about an execution — a header with the money,
//! the budget burn-down over the calls (with checkpoints and rollbacks on the same axis), cost
//! by model and by step, and tables of the calls, checkpoints and rollbacks.
//!
//! The page loads nothing: inline CSS, inline SVG drawn here, no script, and a
//! Content-Security-Policy that forbids every fetch. Every string that comes from the store is
//! escaped with [`html::esc`].

pub(crate) mod html;
pub(crate) mod svg;
mod timeline;

use std::fmt::Write;

use wflo_core::CallStatus;
use wflo_core::clock::format_utc;

use crate::Db;
use crate::exit::CliError;
use html::{bytes, clock_ms, duration, esc, int, usd};
use timeline::Timeline;

/// Writes the report of execution `id` to `path`; returns the path written.
pub fn write(db: &Db, id: &str, path: &str) -> Result<String, CliError> {
    let engine = crate::inspect::engine(db)?;
    let data = ReportData::load(&engine, id)?;
    std::fs::write(path, render(&data)).map_err(|e| format!("cannot write {path}: {e}"))?;
    Ok(path.to_owned())
}

/// Everything the page shows, read from the store.
pub struct ReportData {
    pub execution: wflo_core::ExecutionRecord,
    pub breakdown: wflo_core::Breakdown,
    pub calls: Vec<wflo_core::CallRecord>,
    pub checkpoints: Vec<wflo_core::CheckpointInfo>,
    pub rollbacks: Vec<wflo_core::records::RollbackRecord>,
    /// Breakers of any process on the store that changed state while it ran.
    pub breaker_changes: Vec<wflo_core::resilience::Transition>,
}

impl ReportData {
    pub fn load(engine: &wflo_core::Engine, id: &str) -> Result<ReportData, CliError> {
        let mut data = ReportData {
            execution: engine.execution(id)?,
            breakdown: engine.breakdown(id)?,
            calls: engine.calls(id)?,
            checkpoints: engine.checkpoints(id)?,
            rollbacks: engine.rollbacks(id)?,
            breaker_changes: engine.breaker_changes_during(id)?,
        };
        data.calls.sort_by_key(|c| c.seq);
        data.checkpoints.sort_by_key(|c| c.sequence);
        data.rollbacks.sort_by_key(|r| r.at_ms);
        Ok(data)
    }
}

/// The page.
pub fn render(data: &ReportData) -> String {
    let tl = Timeline::new(data);
    let ex = &data.execution;
    let title = if ex.name.is_empty() {
        ex.id.as_str()
    } else {
        ex.name.as_str()
    };
    let mut p = String::with_capacity(32_768 + data.calls.len() * 1_200);
    let _ = write!(
        p,
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'">
<meta name="referrer" content="no-referrer">
<meta name="generator" content="wflo {version}">
<title>{title} · wflo report</title>
<style>{css}</style>
</head>
<body>
<main>
"#,
        version = env!("CARGO_PKG_VERSION"),
        title = esc(title),
        css = html::CSS,
    );
    header(&mut p, data);
    burn_down_panel(&mut p, data, &tl);
    cost_panels(&mut p, data);
    calls_table(&mut p, data);
    events_table(&mut p, data, &tl);
    breakers_table(&mut p, data);
    let _ = write!(
        p,
        "<footer>wflo {} · report of <span class=\"mono\">{}</span> · amounts in exact USD · times in UTC</footer>\n<footer>prices: <span class=\"prices\">{}</span></footer>\n</main>\n</body>\n</html>\n",
        env!("CARGO_PKG_VERSION"),
        esc(&ex.id),
        esc(&data.breakdown.price_table)
    );
    p
}

fn card(p: &mut String, class: &str, key: &str, value: &str, sub: &str) {
    let _ = write!(
        p,
        r#"<div class="card {class}"><div class="k">{key}</div><div class="v">{value}</div><div class="s">{sub}</div></div>"#
    );
}

fn header(p: &mut String, data: &ReportData) {
    let ex = &data.execution;
    let b = &data.breakdown;
    let status = ex.status.as_str();
    let name = if ex.name.is_empty() {
        "(unnamed execution)"
    } else {
        ex.name.as_str()
    };
    let when = match ex.finished_at_ms {
        Some(f) => format!(
            "started {} · finished {} · took {}",
            format_utc(ex.created_at_ms),
            format_utc(f),
            duration(f.saturating_sub(ex.created_at_ms))
        ),
        None => format!(
            "started {} · last update {}",
            format_utc(ex.created_at_ms),
            format_utc(ex.updated_at_ms)
        ),
    };
    let _ = write!(
        p,
        r#"<header><p class="eyebrow">wflo execution report</p><h1>{}<span class="pill {status}">{}</span></h1><p class="meta"><span class="mono">{}</span> · {}</p><div class="cards">"#,
        esc(name),
        esc(&status.replace('_', " ")),
        esc(&ex.id),
        esc(&when),
    );
    let spent = b.total_nanos.max(ex.spent_nanos);
    match b.budget_nanos.or(ex.budget_nanos) {
        Some(budget) => {
            let pct = if budget == 0 {
                100.0
            } else {
                spent as f64 / budget as f64 * 100.0
            };
            let over = spent > budget;
            let sub = format!(
                r#"{:.1}% of the budget<div class="meter{}"><span style="width:{:.1}%"></span></div>"#,
                pct,
                if over { " over" } else { "" },
                pct.min(100.0)
            );
            card(p, "", "Spent", &esc(&usd(spent)), &sub);
            card(
                p,
                "",
                "Budget",
                &esc(&usd(budget)),
                "for the whole execution",
            );
            let remaining = b.remaining_nanos.unwrap_or(budget.saturating_sub(spent));
            let sub = if b.reserved_nanos > 0 {
                format!(
                    "{} reserved by calls in flight",
                    esc(&usd(b.reserved_nanos))
                )
            } else {
                "left to spend".to_owned()
            };
            card(p, "", "Remaining", &esc(&usd(remaining)), &sub);
        }
        None => {
            card(p, "", "Spent", &esc(&usd(spent)), "no budget set");
            card(p, "", "Budget", "no budget", "spending was not limited");
        }
    }
    card(
        p,
        "",
        "Calls",
        &int(b.calls),
        &if b.estimated_calls > 0 {
            format!("{} with estimated usage", int(b.estimated_calls))
        } else {
            "sent to a provider".to_owned()
        },
    );
    card(
        p,
        if b.refused_calls > 0 { "alert" } else { "" },
        "Refused",
        &int(b.refused_calls),
        "stopped by the budget before sending",
    );
    card(
        p,
        "",
        "Tokens",
        &int(b.usage.total()),
        &format!(
            "{} in · {} out",
            int(b.usage.prompt_total()),
            int(b.usage.completion_total())
        ),
    );
    if b.overrun_nanos > 0 {
        card(
            p,
            "alert",
            "Overrun",
            &esc(&usd(b.overrun_nanos)),
            "spent beyond what calls reserved",
        );
    }
    p.push_str("</div></header>\n");
}

fn burn_down_panel(p: &mut String, data: &ReportData, tl: &Timeline) {
    let sub = match data.execution.budget_nanos {
        Some(b) => format!(
            "Cumulative spend after each call, against the budget of {}. One mark per call — hover a mark for its step, model, cost and tokens. Checkpoints and rollbacks sit between the calls they came between.",
            esc(&usd(b))
        ),
        None => "Cumulative spend after each call (no budget). One mark per call — hover a mark for its step, model, cost and tokens. Checkpoints and rollbacks sit between the calls they came between.".to_owned(),
    };
    let _ = writeln!(
        p,
        r#"<section class="panel" id="burn-down"><h2>Budget burn-down</h2><p class="sub">{sub}</p><div class="scroll">{}</div><ul class="legend">{}</ul></section>"#,
        svg::burn_down(data, tl),
        svg::legend()
    );
}

fn cost_panels(p: &mut String, data: &ReportData) {
    let b = &data.breakdown;
    let plural = |n: u64, one: &str| format!("{} {}{}", int(n), one, if n == 1 { "" } else { "s" });
    let models: Vec<svg::Bar> = b
        .by_model
        .iter()
        .map(|m| svg::Bar {
            label: m.model.clone(),
            nanos: m.cost_nanos,
            note: format!("{} · {} tok", plural(m.calls, "call"), int(m.usage.total())),
            limit: None,
        })
        .collect();
    let steps: Vec<svg::Bar> = b
        .by_step
        .iter()
        .map(|s| svg::Bar {
            label: if s.step.is_empty() {
                "(execution)".to_owned()
            } else {
                s.step.clone()
            },
            nanos: s.cost_nanos,
            note: if s.refused > 0 {
                format!("{} · {} refused", plural(s.calls, "call"), int(s.refused))
            } else {
                plural(s.calls, "call")
            },
            limit: s.budget_nanos,
        })
        .collect();
    let (models, steps) = (capped(models), capped(steps));
    p.push_str(r#"<div class="grid2">"#);
    for (id, heading, sub, bars) in [
        (
            "by-model",
            "Cost by model",
            "What each priced model cost, most expensive first.",
            models,
        ),
        (
            "by-step",
            "Cost by step",
            "What each step (scope) cost; a red tick marks a step's own limit.",
            steps,
        ),
    ] {
        let _ = write!(
            p,
            r#"<section class="panel" id="{id}"><h2>{heading}</h2><p class="sub">{sub}</p>{}</section>"#,
            if bars.is_empty() {
                r#"<p class="empty">No priced calls.</p>"#.to_owned()
            } else {
                format!(r#"<div class="scroll">{}</div>"#, svg::bars(id, &bars))
            }
        );
    }
    p.push_str("</div>\n");
}

/// The most expensive bars, the rest summed into one "N others" bar (bars come sorted).
fn capped(mut bars: Vec<svg::Bar>) -> Vec<svg::Bar> {
    const MAX: usize = 12;
    if bars.len() <= MAX {
        return bars;
    }
    let rest = bars.split_off(MAX - 1);
    bars.push(svg::Bar {
        label: format!("{} others", rest.len()),
        nanos: rest.iter().fold(0u64, |a, b| a.saturating_add(b.nanos)),
        note: "see the calls table".to_owned(),
        limit: None,
    });
    bars
}

fn calls_table(p: &mut String, data: &ReportData) {
    p.push_str(r#"<section class="panel" id="calls"><h2>Calls</h2>"#);
    if data.calls.is_empty() {
        p.push_str(r#"<p class="empty">This execution has made no calls yet.</p></section>"#);
        return;
    }
    let _ = write!(
        p,
        r#"<p class="sub">{} in sequence order. Refused calls cost nothing; their “reserved” column is what the budget would have had to cover.</p>"#,
        match data.calls.len() {
            1 => "One call".to_owned(),
            n => format!("{} calls", int(n as u64)),
        }
    );
    // Cache and reasoning columns only when some call has such tokens.
    let cache_of = |u: &wflo_core::Usage| u.cache_read + u.cache_write_5m + u.cache_write_1h;
    let show_cache = data.calls.iter().any(|c| cache_of(&c.usage) > 0);
    let show_reasoning = data.calls.iter().any(|c| c.usage.reasoning > 0);
    let _ = write!(
        p,
        r#"<div class="scroll"><table><thead><tr><th class="num">#</th><th>Time</th><th>Step</th><th>Model</th><th>Status</th><th class="num">Input</th><th class="num">Output</th>{}{}<th class="num">Cost</th><th class="num">Reserved</th><th class="num">Latency</th><th>Note</th></tr></thead><tbody>"#,
        if show_cache {
            r#"<th class="num">Cached</th>"#
        } else {
            ""
        },
        if show_reasoning {
            r#"<th class="num">Reasoning</th>"#
        } else {
            ""
        },
    );
    let dash = |v: u64| {
        if v == 0 {
            r#"<span class="dim">–</span>"#.to_owned()
        } else {
            int(v)
        }
    };
    for c in &data.calls {
        let u = &c.usage;
        let refused = c.status == CallStatus::Refused;
        let model = match &c.model {
            Some(m) if **m != *c.requested_model => format!(
                r#"{}<div class="dim">asked for {}</div>"#,
                esc(m),
                esc(&c.requested_model)
            ),
            Some(m) => esc(m),
            None if refused => esc(&c.requested_model),
            None => format!(
                r#"{} <span class="dim">(unpriced)</span>"#,
                esc(&c.requested_model)
            ),
        };
        let mut notes: Vec<String> = Vec::new();
        if c.attempt > 1 {
            notes.push(match &c.retry_reason {
                Some(why) => format!("attempt {}: {why}", c.attempt),
                None => format!("attempt {}", c.attempt),
            });
        }
        if c.estimated {
            notes.push("usage estimated by the tokenizer".into());
        }
        if c.usage_missing {
            notes.push("stream ended without usage".into());
        }
        if c.stream {
            notes.push("stream".into());
        }
        if c.overrun_nanos > 0 {
            notes.push(format!(
                "overran its reservation by {}",
                usd(c.overrun_nanos)
            ));
        }
        if let Some(e) = &c.error {
            notes.push(e.clone());
        }
        let cache = cache_of(u);
        let _ = write!(
            p,
            r#"<tr class="{status}"><td class="num">{seq}</td><td class="time" title="{full}">{time}</td><td class="wrap">{step}</td><td class="nowrap">{model}</td><td><span class="pill {status}">{status}</span></td><td class="num">{input}</td><td class="num">{output}</td>"#,
            status = c.status.as_str(),
            seq = c.seq,
            full = esc(&format_utc(c.started_at_ms)),
            time = esc(&clock_ms(c.started_at_ms)),
            step = if c.step.is_empty() {
                r#"<span class="dim">(execution)</span>"#.to_owned()
            } else {
                esc(&c.step)
            },
            input = dash(u.prompt_total() - cache),
            output = dash(u.completion_total() - u.reasoning),
        );
        if show_cache {
            let _ = write!(p, r#"<td class="num">{}</td>"#, dash(cache));
        }
        if show_reasoning {
            let _ = write!(p, r#"<td class="num">{}</td>"#, dash(u.reasoning));
        }
        let _ = write!(
            p,
            r#"<td class="num">{cost}</td><td class="num">{reserved}</td><td class="num">{latency}</td><td class="note">{notes}</td></tr>"#,
            cost = esc(&usd(c.cost_nanos)),
            reserved = esc(&usd(c.reserved_nanos)),
            latency = if refused {
                dash(0)
            } else {
                duration(c.latency_ms)
            },
            notes = esc(&notes.join(" · ")),
        );
    }
    p.push_str("</tbody></table></div></section>\n");
}

fn events_table(p: &mut String, data: &ReportData, tl: &Timeline) {
    p.push_str(
        r#"<section class="panel" id="checkpoints"><h2>Checkpoints and rollbacks</h2><p class="sub">In time order. A rollback restores an earlier checkpoint's state (money already spent stays spent); the checkpoints after it become history.</p>"#,
    );
    if data.checkpoints.is_empty() && data.rollbacks.is_empty() {
        p.push_str(r#"<p class="empty">No checkpoints were saved.</p></section>"#);
        return;
    }
    // (time, place between the calls, checkpoints first, row)
    let mut rows: Vec<(u64, usize, u8, String)> = Vec::new();
    let after = |gap: usize| match gap {
        0 => "before the first call".to_owned(),
        k => format!("after call #{}", data.calls[k - 1].seq),
    };
    for (i, c) in data.checkpoints.iter().enumerate() {
        rows.push((
            c.created_at_ms,
            tl.checkpoint_gap[i],
            0,
            format!(
                r#"<tr class="{cls}"><td class="time" title="{full}">{time}</td><td><span class="pill checkpoint">checkpoint #{seq}</span></td><td class="wrap name">{name}</td><td>{after}</td><td class="num">{spent}</td><td class="num">{size}</td><td><span class="pill {state}">{state}</span></td></tr>"#,
                cls = if c.superseded { "superseded" } else { "" },
                full = esc(&format_utc(c.created_at_ms)),
                time = esc(&clock_ms(c.created_at_ms)),
                seq = c.sequence,
                name = esc(&c.name),
                after = esc(&after(tl.checkpoint_gap[i])),
                spent = esc(&usd(c.spent_nanos)),
                size = esc(&bytes(c.state_bytes)),
                state = if c.superseded { "superseded" } else { "live" },
            ),
        ));
    }
    for (i, r) in data.rollbacks.iter().enumerate() {
        rows.push((
            r.at_ms,
            tl.rollback_gap[i],
            1,
            format!(
                r#"<tr class="rollback"><td class="time" title="{full}">{time}</td><td><span class="pill rollback">↺ rollback</span></td><td class="wrap name">to {name}</td><td>{after}</td><td class="num">{spent}</td><td class="num"><span class="dim">–</span></td><td>{superseded}</td></tr>"#,
                full = esc(&format_utc(r.at_ms)),
                time = esc(&clock_ms(r.at_ms)),
                name = esc(&r.checkpoint_name),
                after = esc(&after(tl.rollback_gap[i])),
                spent = esc(&usd(r.spent_nanos)),
                superseded = match r.superseded {
                    1 => "superseded 1 checkpoint".to_owned(),
                    n => format!("superseded {n} checkpoints"),
                },
            ),
        ));
    }
    rows.sort_by_key(|(at, gap, order, _)| (*at, *gap, *order));
    p.push_str(
        r#"<div class="scroll"><table><thead><tr><th>Time</th><th>Event</th><th>Checkpoint</th><th>Where</th><th class="num">Spent then</th><th class="num">State</th><th>Status</th></tr></thead><tbody>"#,
    );
    for (_, _, _, row) in rows {
        p.push_str(&row);
    }
    p.push_str("</tbody></table></div></section>\n");
}

/// Breakers that changed state while the execution ran; no panel when none did.
fn breakers_table(p: &mut String, data: &ReportData) {
    if data.breaker_changes.is_empty() {
        return;
    }
    p.push_str(
        r#"<section class="panel" id="breakers"><h2>Circuit breakers</h2><p class="sub">Breakers that changed state while this execution ran — of any process on this store, since a breaker is not tied to one execution. An open breaker refuses calls before anything is reserved.</p><div class="scroll"><table><thead><tr><th>Time</th><th>Breaker</th><th>From</th><th>To</th><th>Why</th><th>Process</th></tr></thead><tbody>"#,
    );
    for c in &data.breaker_changes {
        let _ = write!(
            p,
            r#"<tr><td class="time" title="{full}">{time}</td><td class="wrap name">{name}{shared}</td><td>{from}</td><td><span class="pill {to}">{to}</span></td><td class="wrap">{why}</td><td class="mono">{by}</td></tr>"#,
            full = esc(&format_utc(c.at_ms)),
            time = esc(&clock_ms(c.at_ms)),
            name = esc(&c.breaker),
            shared = if c.shared {
                " <span class=\"dim\">(shared)</span>"
            } else {
                ""
            },
            from = c.from.as_str(),
            to = c.to.as_str(),
            why = esc(&c.reason),
            by = esc(&c.holder),
        );
    }
    p.push_str("</tbody></table></div></section>\n");
}

#[cfg(test)]
mod tests;
