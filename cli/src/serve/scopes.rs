//! `/scopes`: the watched shared scopes (`--scope NAME`) — each one's current period with its
//! limit, spent, reserved and overrun, the calls it refused in the period, and a burn-down of
//! the spend serve has seen (inline SVG). The page re-renders itself when the figures move.

use std::fmt::Write;
use std::hash::{Hash, Hasher};

use serde_json::{Value, json};
use wflo_core::clock::format_utc;

use super::pages::{Nav, REFRESH_JS, Shell, live_badge, nav, page};
use super::watch::{ScopeState, Snapshot};
use crate::report::html::{clock_ms, esc, int, usd};
use crate::report::svg::nice_axis;

/// The key of the scopes' figures: the page renders again when it changes.
pub fn key(scopes: &[ScopeState]) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    serde_json::to_string(scopes)
        .unwrap_or_default()
        .hash(&mut h);
    format!("{:016x}", h.finish())
}

/// The scopes as `/api/scopes` gives them.
pub fn json(snap: &Snapshot) -> Value {
    json!({
        "at_ms": snap.at_ms,
        "scopes": snap.scopes,
        "error": snap.error,
    })
}

fn card(p: &mut String, key: &str, value: &str, sub: &str) {
    let _ = write!(
        p,
        r#"<div class="card"><div class="k">{key}</div><div class="v">{value}</div><div class="s">{sub}</div></div>"#
    );
}

/// The page.
pub fn render(shell: &Shell, snap: &Snapshot) -> String {
    let mut body = String::from(
        r#"<header><p class="eyebrow">wflo serve</p><h1>Shared scopes</h1><p class="meta">Budgets that executions in every process share (a tenant's month, a team's day), in their current period.</p></header>"#,
    );
    if let Some(e) = &snap.error {
        let _ = write!(
            body,
            r#"<div class="error-box">The store could not be read: {}</div>"#,
            esc(e)
        );
    }
    if snap.scopes.is_empty() {
        body.push_str(r#"<section class="panel"><p class="empty">No shared scope is watched. Start serve with <code>--scope NAME</code> (once per scope) to see its figures here, in /metrics and in alerts.</p></section>"#);
    }
    for s in &snap.scopes {
        scope(&mut body, s);
    }
    let live = live_badge("/events?view=scopes", &key(&snap.scopes));
    page(
        shell,
        "Shared scopes",
        &nav(Nav::Scopes, &live),
        &body,
        REFRESH_JS,
    )
}

fn scope(p: &mut String, s: &ScopeState) {
    let _ = write!(
        p,
        r#"<section class="panel scope"><h2>{}</h2>"#,
        esc(&s.name)
    );
    let Some(f) = &s.figures else {
        let _ = write!(
            p,
            r#"<div class="error-box">{}</div></section>"#,
            esc(s.error.as_deref().unwrap_or("no figures"))
        );
        return;
    };
    let _ = write!(
        p,
        r#"<p class="sub">Period: {} · row <span class="mono">{}</span>{}</p><div class="cards">"#,
        esc(match f.period.as_str() {
            "none" => "the scope's whole life",
            "day" => "this UTC day",
            _ => "this UTC month",
        }),
        esc(&f.key),
        if f.refusing {
            " · <strong>refusing calls</strong> (an overrun used up the limit)"
        } else {
            ""
        }
    );
    match f.limit_nanos {
        Some(limit) => {
            let pct = if limit == 0 {
                100.0
            } else {
                f.spent_nanos as f64 / limit as f64 * 100.0
            };
            let sub = format!(
                r#"{pct:.1}% of the limit<div class="meter{}"><span style="width:{:.1}%"></span></div>"#,
                if f.spent_nanos > limit { " over" } else { "" },
                pct.min(100.0)
            );
            card(p, "Spent", &esc(&usd(f.spent_nanos)), &sub);
            card(p, "Limit", &esc(&usd(limit)), "for the period");
            card(
                p,
                "Remaining",
                &esc(&usd(limit.saturating_sub(f.spent_nanos + f.reserved_nanos))),
                "after what is reserved",
            );
        }
        None => {
            card(p, "Spent", &esc(&usd(f.spent_nanos)), "no limit set");
            card(p, "Limit", "no limit", "spending is only counted");
        }
    }
    card(
        p,
        "Reserved",
        &esc(&usd(f.reserved_nanos)),
        "held by calls in flight",
    );
    card(
        p,
        "Refused",
        &int(s.refusals),
        "calls this limit stopped in the period",
    );
    if f.overrun_nanos > 0 {
        card(
            p,
            "Overrun",
            &esc(&usd(f.overrun_nanos)),
            "spent beyond reservations",
        );
    }
    p.push_str("</div>");
    let _ = write!(
        p,
        r#"<h2 style="margin-top:16px">Burn-down</h2><p class="sub">Spend in this period as serve has seen it{}: one point per change.</p><div class="scroll">{}</div></section>"#,
        s.samples
            .first()
            .map(|x| format!(" since {}", format_utc(x.at_ms)))
            .unwrap_or_default(),
        burn_down(s, f.limit_nanos)
    );
}

/// Spend (and spend + reserved) over time against the limit, on the report's axis and scale.
fn burn_down(s: &ScopeState, limit: Option<u64>) -> String {
    const W: f64 = 1000.0;
    const H: f64 = 260.0;
    const L: f64 = 84.0;
    const R: f64 = 20.0;
    const T: f64 = 20.0;
    const B: f64 = 34.0;
    let samples = &s.samples;
    let top = samples
        .iter()
        .map(|x| x.spent_nanos.saturating_add(x.reserved_nanos))
        .chain(limit)
        .max()
        .unwrap_or(0);
    let (ymax, ystep) = nice_axis(top);
    let (t0, t1) = match (samples.first(), samples.last()) {
        (Some(a), Some(b)) => (a.at_ms, b.at_ms.max(a.at_ms + 1)),
        _ => (0, 1),
    };
    let x = |t: u64| L + (t - t0) as f64 / (t1 - t0) as f64 * (W - L - R);
    let y = |v: u64| T + (1.0 - v.min(ymax) as f64 / ymax as f64) * (H - T - B);
    let mut svg = format!(
        r#"<svg class="scope-burn" viewBox="0 0 {W} {H}" role="img" aria-label="spend of {} over time">"#,
        esc(&s.name)
    );
    let mut v = 0;
    while v <= ymax {
        let _ = write!(
            svg,
            r#"<line class="gridline" x1="{L}" x2="{}" y1="{y:.1}" y2="{y:.1}"/><text class="tick" x="{}" y="{:.1}" text-anchor="end">{}</text>"#,
            W - R,
            L - 8.0,
            y(v) + 4.0,
            esc(&usd(v)),
            y = y(v),
        );
        v += ystep.max(1);
    }
    if let Some(limit) = limit {
        let _ = write!(
            svg,
            r#"<line class="budget-line" x1="{L}" x2="{}" y1="{y:.1}" y2="{y:.1}"/><text class="budget-label" x="{}" y="{:.1}" text-anchor="end">limit {}</text>"#,
            W - R,
            W - R,
            y(limit) - 6.0,
            esc(&usd(limit)),
            y = y(limit),
        );
    }
    if samples.is_empty() {
        let _ = write!(
            svg,
            r#"<text class="no-budget" x="{}" y="{}" text-anchor="middle">no figures yet</text></svg>"#,
            W / 2.0,
            H / 2.0
        );
        return svg;
    }
    let mut spent = String::new();
    let mut held = String::new();
    let mut last: Option<(f64, f64, f64)> = None;
    for p in samples {
        let (px, py, ph) = (
            x(p.at_ms),
            y(p.spent_nanos),
            y(p.spent_nanos.saturating_add(p.reserved_nanos)),
        );
        // Steps: a figure holds until the next change.
        if let Some((_, ly, lh)) = last {
            let _ = write!(spent, " {px:.1},{ly:.1}");
            let _ = write!(held, " {px:.1},{lh:.1}");
        }
        let _ = write!(spent, " {px:.1},{py:.1}");
        let _ = write!(held, " {px:.1},{ph:.1}");
        last = Some((px, py, ph));
    }
    let base = y(0);
    let first_x = x(t0);
    let last_x = last.map_or(first_x, |(lx, _, _)| lx);
    let _ = write!(
        svg,
        r#"<polygon class="burn-area" points="{first_x:.1},{base:.1}{spent} {last_x:.1},{base:.1}"/><polyline class="burn-reserved" points="{held}"/><polyline class="burn-spent" points="{spent}"/><line class="axis" x1="{L}" x2="{}" y1="{base:.1}" y2="{base:.1}"/><text class="tick" x="{L}" y="{}">{}</text><text class="tick" x="{}" y="{}" text-anchor="end">{}</text></svg>"#,
        W - R,
        H - 8.0,
        esc(&clock_ms(t0)),
        W - R,
        H - 8.0,
        esc(&clock_ms(t1)),
    );
    svg
}
