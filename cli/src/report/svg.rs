//! The inline SVG charts: the budget burn-down over the calls and horizontal cost bars.
//! Coordinates are in viewBox units; the SVGs scale to the width of their panel.

use std::fmt::Write;

use wflo_core::CallStatus;
use wflo_core::money::Nanos;

use super::ReportData;
use super::html::{esc, int, truncate, usd};
use super::timeline::Timeline;

/// A coordinate with at most one decimal (keeps the page small with hundreds of calls).
fn n(v: f64) -> String {
    let r = (v * 10.0).round() / 10.0;
    if r == r.trunc() {
        format!("{}", r as i64)
    } else {
        format!("{r:.1}")
    }
}

/// A "nice" axis for values up to `top`: `(axis maximum, tick step)`, with at most 5 steps
/// and about 8% headroom (nothing spent: up to $0.001).
pub fn nice_axis(top: Nanos) -> (Nanos, Nanos) {
    let target = if top == 0 {
        1_000_000
    } else {
        top.saturating_add(top / 12)
    };
    let mut pow: u64 = 1;
    loop {
        for m in [10, 20, 25, 50] {
            let Some(step) = pow.checked_mul(m).map(|s| s / 10).filter(|&s| s > 0) else {
                return (target, target);
            };
            let steps = target.div_ceil(step);
            if steps <= 5 {
                return (steps.checked_mul(step).unwrap_or(target), step);
            }
        }
        match pow.checked_mul(10) {
            Some(p) => pow = p,
            None => return (target, target),
        }
    }
}

/// A tick step for `count` calls: 1, 2, 5, 10, 20, 50… giving at most about 12 ticks.
fn call_tick_step(count: usize) -> usize {
    let mut pow = 1;
    loop {
        for m in [1, 2, 5] {
            if count.div_ceil(m * pow) <= 12 {
                return m * pow;
            }
        }
        pow *= 10;
    }
}

fn call_title(c: &wflo_core::CallRecord, cum: Nanos) -> String {
    let step = if c.step.is_empty() {
        "(execution)"
    } else {
        &c.step
    };
    let model = c.model.as_deref().unwrap_or(&c.requested_model);
    let mut t = format!("#{} · {} · {}\n", c.seq, step, model);
    match c.status {
        CallStatus::Refused => {
            let _ = write!(
                t,
                "REFUSED before sending: needed up to {}",
                usd(c.reserved_nanos)
            );
        }
        status => {
            let _ = write!(
                t,
                "{}{} · cost {}\ntokens: {} in · {} out",
                status.as_str(),
                if c.estimated {
                    " (estimated usage)"
                } else {
                    ""
                },
                usd(c.cost_nanos),
                int(c.usage.prompt_total()),
                int(c.usage.completion_total())
            );
            if c.usage.cache_read > 0 {
                let _ = write!(t, " · {} cached", int(c.usage.cache_read));
            }
            if c.usage.reasoning > 0 {
                let _ = write!(t, " · {} reasoning", int(c.usage.reasoning));
            }
        }
    }
    let _ = write!(t, "\nspent so far {}", usd(cum));
    if let Some(e) = &c.error {
        let _ = write!(t, "\n{}", truncate(e, 300));
    }
    t
}

/// An event on the timeline (a checkpoint or a rollback) placed in a gap between calls.
struct Event {
    gap: usize,
    at_ms: u64,
    kind: Kind,
}

enum Kind {
    Checkpoint(usize),
    Rollback(usize),
}

/// The burn-down: cumulative spend after each call, the budget, one mark per call, and the
/// checkpoints and rollbacks as vertical markers on the same axis.
pub fn burn_down(data: &ReportData, tl: &Timeline) -> String {
    const W: f64 = 1000.0;
    const H: f64 = 400.0;
    const LEFT: f64 = 84.0;
    const RIGHT: f64 = 20.0;
    const TOP: f64 = 58.0;
    const BOTTOM: f64 = 44.0;
    let (pw, ph) = (W - LEFT - RIGHT, H - TOP - BOTTOM);
    let count = data.calls.len();
    let slots = count as f64 + 1.0;
    let xs = |pos: f64| LEFT + pos / slots * pw;
    let budget = data.execution.budget_nanos;
    let top = [
        budget.unwrap_or(0),
        tl.spend_after(count),
        data.execution.spent_nanos,
        data.checkpoints
            .iter()
            .map(|c| c.spent_nanos)
            .max()
            .unwrap_or(0),
        data.rollbacks
            .iter()
            .map(|r| r.spent_nanos)
            .max()
            .unwrap_or(0),
    ]
    .into_iter()
    .max()
    .unwrap_or(0);
    let (ymax, ystep) = nice_axis(top);
    let ys = |v: Nanos| TOP + ph - (v.min(ymax) as f64 / ymax as f64) * ph;
    let bottom = TOP + ph;

    let mut s = String::with_capacity(4096 + count * 400);
    let _ = write!(
        s,
        r#"<svg class="burn-down" viewBox="0 0 {W} {H}" role="img" aria-labelledby="burn-title"><title id="burn-title">Cumulative spend after each of {count} call(s){}</title>"#,
        match budget {
            Some(b) => format!(" against a budget of {}", usd(b)),
            None => " (no budget)".into(),
        }
    );
    s.push_str(
        r#"<defs><marker id="wflo-arrow" viewBox="0 0 10 10" refX="8" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path class="arrowhead" d="M0,0 L10,5 L0,10 z"/></marker></defs>"#,
    );

    // Over-budget zone, grid and axes.
    if let Some(b) = budget {
        let yb = ys(b);
        if yb > TOP {
            let _ = write!(
                s,
                r#"<rect class="over-budget" x="{}" y="{}" width="{}" height="{}"/>"#,
                n(LEFT),
                n(TOP),
                n(pw),
                n(yb - TOP)
            );
        }
    }
    let mut tick = 0;
    while tick <= ymax {
        let y = ys(tick);
        let _ = write!(
            s,
            r#"<line class="gridline" x1="{}" y1="{y}" x2="{}" y2="{y}"/><text class="tick" x="{}" y="{}" text-anchor="end">{}</text>"#,
            n(LEFT),
            n(LEFT + pw),
            n(LEFT - 8.0),
            n(y + 4.0),
            esc(&usd(tick)),
            y = n(y)
        );
        tick += ystep;
    }
    let _ = write!(
        s,
        r#"<line class="axis" x1="{l}" y1="{b}" x2="{r}" y2="{b}"/><line class="axis" x1="{l}" y1="{t}" x2="{l}" y2="{b}"/>"#,
        l = n(LEFT),
        r = n(LEFT + pw),
        t = n(TOP),
        b = n(bottom)
    );
    if count > 0 {
        let step = call_tick_step(count);
        let mut i = step;
        if step > 1 {
            // Always label the first call.
            let _ = write!(
                s,
                r#"<text class="tick" x="{}" y="{}" text-anchor="middle">1</text>"#,
                n(xs(1.0)),
                n(bottom + 17.0)
            );
        }
        while i <= count {
            let x = xs(i as f64);
            let _ = write!(
                s,
                r#"<line class="axis" x1="{x}" y1="{}" x2="{x}" y2="{}"/><text class="tick" x="{x}" y="{}" text-anchor="middle">{i}</text>"#,
                n(bottom),
                n(bottom + 4.0),
                n(bottom + 17.0),
                x = n(x)
            );
            i += step;
        }
    }
    let _ = write!(
        s,
        r#"<text class="axis-title" x="{}" y="{}" text-anchor="end">call, in order →</text><text class="axis-title" x="{}" y="{}" text-anchor="start">cumulative spend (USD)</text>"#,
        n(LEFT + pw),
        n(H - 4.0),
        n(LEFT),
        n(TOP - 44.0),
    );

    // Spend: area and line through the spend after each call.
    let mut points = format!("{},{}", n(xs(0.0)), n(ys(0)));
    for (i, cum) in tl.cum.iter().enumerate() {
        let _ = write!(points, " {},{}", n(xs(i as f64 + 1.0)), n(ys(*cum)));
    }
    if count > 0 {
        let _ = write!(
            s,
            r#"<polygon class="spend-area" points="{points} {},{} {},{}"/><polyline class="spend-line" points="{points}"/>"#,
            n(xs(count as f64)),
            n(bottom),
            n(xs(0.0)),
            n(bottom)
        );
    } else {
        let _ = write!(
            s,
            r#"<text class="no-budget" x="{}" y="{}" text-anchor="middle">no calls yet</text>"#,
            n(LEFT + pw / 2.0),
            n(TOP + ph / 2.0)
        );
    }

    // Budget line (over the area, under the marks); its label is placed once the markers are.
    if let Some(b) = budget {
        let _ = write!(
            s,
            r#"<line class="budget-line" x1="{}" y1="{y}" x2="{}" y2="{y}"/>"#,
            n(LEFT),
            n(LEFT + pw),
            y = n(ys(b))
        );
    }

    // Checkpoints and rollbacks, spread within their gap.
    let mut events: Vec<Event> = Vec::new();
    for (i, c) in data.checkpoints.iter().enumerate() {
        events.push(Event {
            gap: tl.checkpoint_gap[i],
            at_ms: c.created_at_ms,
            kind: Kind::Checkpoint(i),
        });
    }
    for (i, r) in data.rollbacks.iter().enumerate() {
        events.push(Event {
            gap: tl.rollback_gap[i],
            at_ms: r.at_ms,
            kind: Kind::Rollback(i),
        });
    }
    events.sort_by_key(|e| (e.gap, e.at_ms));
    let mut xpos = vec![0.0; events.len()];
    let mut i = 0;
    while i < events.len() {
        let j = events[i..]
            .iter()
            .take_while(|e| e.gap == events[i].gap)
            .count();
        for k in 0..j {
            xpos[i + k] = xs(events[i].gap as f64 + (k as f64 + 1.0) / (j as f64 + 1.0));
        }
        i += j;
    }
    let min_spacing = xpos
        .windows(2)
        .map(|w| w[1] - w[0])
        .fold(f64::INFINITY, f64::min);
    let labels = events.len() <= 40 && min_spacing >= 13.0;
    let checkpoint_x = |idx: usize| {
        events
            .iter()
            .position(|e| matches!(e.kind, Kind::Checkpoint(c) if c == idx))
            .map(|p| xpos[p])
    };
    for (e, &x) in events.iter().zip(&xpos) {
        let xn = n(x);
        match e.kind {
            Kind::Checkpoint(idx) => {
                let c = &data.checkpoints[idx];
                let title = format!(
                    "checkpoint #{} '{}'{}\nsaved {} after {} call(s)\nspent then {}",
                    c.sequence,
                    c.name,
                    if c.superseded {
                        " (superseded by a rollback)"
                    } else {
                        ""
                    },
                    wflo_core::clock::format_utc(c.created_at_ms),
                    e.gap,
                    usd(c.spent_nanos)
                );
                let gy = TOP - 10.0;
                let _ = write!(
                    s,
                    r#"<g class="checkpoint-mark" data-sequence="{}" data-superseded="{}"><title>{}</title><line class="rule" x1="{xn}" y1="{}" x2="{xn}" y2="{}"/><path class="glyph" d="M{xn},{} l6,6 l-6,6 l-6,-6 z"/>"#,
                    c.sequence,
                    c.superseded,
                    esc(&title),
                    n(gy),
                    n(bottom),
                    n(gy - 6.0),
                );
                if labels {
                    label(&mut s, x, TOP, &truncate(&c.name, 28));
                }
                s.push_str("</g>");
            }
            Kind::Rollback(idx) => {
                let r = &data.rollbacks[idx];
                let target = data
                    .checkpoints
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| match r.checkpoint_id {
                        Some(id) => c.id == id,
                        None => c.name == r.checkpoint_name && c.created_at_ms <= r.at_ms,
                    })
                    .map(|(i, _)| i)
                    .next_back();
                let title = format!(
                    "rollback to checkpoint '{}'\nat {} after {} call(s)\n{} later checkpoint(s) superseded · spent then {}",
                    r.checkpoint_name,
                    wflo_core::clock::format_utc(r.at_ms),
                    e.gap,
                    r.superseded,
                    usd(r.spent_nanos)
                );
                let gy = TOP - 10.0;
                let _ = write!(
                    s,
                    r#"<g class="rollback-mark" data-checkpoint="{}"><title>{}</title><line class="rule" x1="{xn}" y1="{}" x2="{xn}" y2="{}"/>"#,
                    esc(&r.checkpoint_name),
                    esc(&title),
                    n(gy),
                    n(bottom),
                );
                if let Some(tx) = target.and_then(checkpoint_x) {
                    let lift = (14.0 + (x - tx).abs() * 0.08).min(TOP - 30.0);
                    let _ = write!(
                        s,
                        r#"<path class="arc" d="M{xn},{} C{xn},{} {t},{} {t},{}" marker-end="url(#wflo-arrow)"/>"#,
                        n(gy - 7.0),
                        n(gy - 7.0 - lift),
                        n(gy - 12.0 - lift),
                        n(gy - 8.0),
                        t = n(tx),
                    );
                }
                let _ = write!(
                    s,
                    r#"<circle class="glyph" cx="{xn}" cy="{}" r="7"/><text class="glyph-text" x="{xn}" y="{}" text-anchor="middle">↺</text>"#,
                    n(gy),
                    n(gy + 4.0),
                );
                if labels {
                    label(
                        &mut s,
                        x,
                        TOP,
                        &format!("rollback → {}", truncate(&r.checkpoint_name, 24)),
                    );
                }
                s.push_str("</g>");
            }
        }
    }

    // What each refused call asked for: a dashed stalk from the spend where it was refused.
    for (i, c) in data.calls.iter().enumerate() {
        if c.status != CallStatus::Refused || c.reserved_nanos == 0 {
            continue;
        }
        let from = tl.spend_after(i + 1);
        let to = from.saturating_add(c.reserved_nanos);
        let x = n(xs(i as f64 + 1.0));
        let _ = write!(
            s,
            r#"<g class="refused-ask-group"><title>call #{} was refused: it needed up to {}, which would have brought the spend to {}</title><line class="refused-ask" x1="{x}" y1="{}" x2="{x}" y2="{}"/>"#,
            c.seq,
            esc(&usd(c.reserved_nanos)),
            esc(&usd(to)),
            n(ys(from)),
            n(ys(to)),
        );
        if to > ymax {
            // Off the chart: an arrow at the top edge.
            let _ = write!(
                s,
                r#"<path class="refused-ask-tip" d="M{x},{} l-4,7 l8,0 z"/>"#,
                n(TOP - 2.0)
            );
        } else {
            let _ = write!(
                s,
                r#"<line class="refused-ask" x1="{}" y1="{y}" x2="{}" y2="{y}"/>"#,
                n(xs(i as f64 + 1.0) - 4.0),
                n(xs(i as f64 + 1.0) + 4.0),
                y = n(ys(to))
            );
        }
        s.push_str("</g>");
    }

    // The budget's label, in the rightmost stretch free of markers and their labels.
    let (text, y, class) = match budget {
        Some(b) => (format!("budget {}", usd(b)), ys(b) - 6.0, "budget-label"),
        None => ("no budget".to_owned(), TOP + 14.0, "no-budget"),
    };
    let width = text.chars().count() as f64 * 7.0 + 8.0;
    let mut edges: Vec<f64> = vec![LEFT];
    edges.extend(xpos.iter().copied());
    edges.push(LEFT + pw + 20.0);
    let end = edges
        .windows(2)
        .rev()
        .map(|w| (w[0] + 4.0, w[1] - 20.0))
        .find(|(a, b)| b - a >= width)
        .map_or(LEFT + pw - 4.0, |(_, b)| b);
    let _ = write!(
        s,
        r#"<text class="{class}" x="{}" y="{}" text-anchor="end">{}</text>"#,
        n(end),
        n(y),
        esc(&text)
    );

    // One mark per call, drawn last so they sit on top.
    let spacing = pw / slots;
    let r = (spacing * 0.32).clamp(1.6, 5.5);
    for (i, c) in data.calls.iter().enumerate() {
        let (x, y) = (xs(i as f64 + 1.0), ys(tl.cum[i]));
        let title = esc(&call_title(c, tl.cum[i]));
        let status = c.status.as_str();
        if c.status == CallStatus::Refused {
            let d = (r * 1.15).max(2.5);
            let _ = write!(
                s,
                r#"<path class="call-mark" data-seq="{}" data-status="{status}" d="M{},{} L{},{} M{},{} L{},{}"><title>{title}</title></path>"#,
                c.seq,
                n(x - d),
                n(y - d),
                n(x + d),
                n(y + d),
                n(x + d),
                n(y - d),
                n(x - d),
                n(y + d),
            );
        } else {
            let _ = write!(
                s,
                r#"<circle class="call-mark" data-seq="{}" data-status="{status}" data-estimated="{}" cx="{}" cy="{}" r="{}"><title>{title}</title></circle>"#,
                c.seq,
                c.estimated,
                n(x),
                n(y),
                n(r)
            );
        }
    }
    s.push_str("</svg>");
    s
}

/// A marker's name, written upward along its rule, just left of it.
fn label(s: &mut String, x: f64, top: f64, text: &str) {
    let (lx, ly) = (n(x - 4.0), n(top + 4.0));
    let _ = write!(
        s,
        r#"<text class="label" x="{lx}" y="{ly}" text-anchor="end" transform="rotate(-90 {lx} {ly})">{}</text>"#,
        esc(text)
    );
}

/// One bar of a bar chart.
pub struct Bar {
    pub label: String,
    pub nanos: Nanos,
    /// Smaller text under the label ("3 calls · 1 refused").
    pub note: String,
    /// A limit drawn as a tick on the bar's track (a step's own budget).
    pub limit: Option<Nanos>,
}

/// Horizontal bars, longest first as given, with exact USD amounts.
pub fn bars(class: &str, bars: &[Bar]) -> String {
    const W: f64 = 560.0;
    const LABEL_W: f64 = 150.0;
    const VALUE_W: f64 = 108.0;
    const ROW: f64 = 40.0;
    let track = W - LABEL_W - VALUE_W - 12.0;
    let h = ROW * bars.len() as f64 + 4.0;
    let max = bars
        .iter()
        .map(|b| b.nanos.max(b.limit.unwrap_or(0)))
        .max()
        .unwrap_or(0)
        .max(1);
    let mut s = format!(
        r#"<svg class="bars {}" viewBox="0 0 {W} {}" role="img">"#,
        esc(class),
        n(h)
    );
    for (i, b) in bars.iter().enumerate() {
        let y = 4.0 + ROW * i as f64;
        let w = (b.nanos as f64 / max as f64 * track).max(if b.nanos > 0 { 2.0 } else { 0.0 });
        let x0 = LABEL_W + 10.0;
        let _ = write!(
            s,
            r#"<g class="bar"><title>{}: {} · {}</title><text class="bar-label" x="{}" y="{}" text-anchor="end">{}</text><text class="bar-note" x="{}" y="{}" text-anchor="end">{}</text><rect class="bar-track" x="{}" y="{}" width="{}" height="18" rx="4"/><rect class="c{}" x="{}" y="{}" width="{}" height="18" rx="4"/>"#,
            esc(&b.label),
            esc(&usd(b.nanos)),
            esc(&b.note),
            n(LABEL_W),
            n(y + 14.0),
            esc(&truncate(&b.label, 20)),
            n(LABEL_W),
            n(y + 29.0),
            esc(&b.note),
            n(x0),
            n(y + 2.0),
            n(track),
            i % 8,
            n(x0),
            n(y + 2.0),
            n(w),
        );
        if let Some(limit) = b.limit {
            let lx = n(x0 + limit as f64 / max as f64 * track);
            let _ = write!(
                s,
                r#"<line class="bar-limit" x1="{lx}" y1="{}" x2="{lx}" y2="{}"><title>limit {}</title></line>"#,
                n(y - 1.0),
                n(y + 23.0),
                esc(&usd(limit))
            );
        }
        let _ = write!(
            s,
            r#"<text class="bar-value" x="{}" y="{}">{}</text></g>"#,
            n(x0 + track + 8.0),
            n(y + 15.0),
            esc(&usd(b.nanos))
        );
    }
    s.push_str("</svg>");
    s
}

/// Small legend glyphs (plain shapes: no chart classes, so they are never counted as marks).
pub fn legend() -> String {
    let item = |svg: &str, text: &str| {
        format!(r#"<li><svg viewBox="0 0 18 14" aria-hidden="true">{svg}</svg>{text}</li>"#)
    };
    [
        item(r#"<circle cx="9" cy="7" r="4.5" style="fill:var(--blue)"/>"#, "call"),
        item(
            r#"<circle cx="9" cy="7" r="4" stroke-width="1.5" style="fill:var(--panel);stroke:var(--blue)"/>"#,
            "estimated usage",
        ),
        item(r#"<circle cx="9" cy="7" r="4.5" style="fill:var(--amber)"/>"#, "provider error"),
        item(r#"<circle cx="9" cy="7" r="4.5" style="fill:var(--grey)"/>"#, "aborted"),
        item(
            r#"<circle cx="9" cy="7" r="4" stroke-width="2" stroke-dasharray="2 1.5" style="fill:var(--panel);stroke:var(--amber)"/>"#,
            "unsettled: its process died, charged in full",
        ),
        item(
            r#"<path d="M5,3 L13,11 M13,3 L5,11" style="stroke:var(--red)" stroke-width="2.4" stroke-linecap="round"/>"#,
            "refused by the budget (dashed: what it asked for)",
        ),
        item(r#"<line x1="0" y1="7" x2="18" y2="7" style="stroke:var(--red)" stroke-width="1.5" stroke-dasharray="4 3"/>"#, "budget"),
        item(r#"<path d="M9,1 l6,6 l-6,6 l-6,-6 z" style="fill:var(--violet)"/>"#, "checkpoint"),
        item(
            r#"<path d="M9,2 l5,5 l-5,5 l-5,-5 z" stroke-width="1.5" style="fill:var(--panel);stroke:var(--violet-soft)"/>"#,
            "superseded checkpoint",
        ),
        item(
            r#"<circle cx="9" cy="7" r="6" style="fill:var(--orange)"/><text x="9" y="10.5" text-anchor="middle" font-size="9" font-weight="700" style="fill:#fff">↺</text>"#,
            "rollback",
        ),
    ]
    .concat()
}
