//! Escaping, number formatting and the page's stylesheet.

use wflo_core::money::{Nanos, format_usd};

/// Escapes text for HTML (and SVG) text AND double- or single-quoted attribute values.
/// Control characters other than tab and newlines become U+FFFD.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if c.is_control() => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// At most `max` characters of `s`, with an ellipsis when cut (escape the result afterwards).
pub fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
    t.push('…');
    t
}

/// An exact USD amount: `$0.000075`, `$2.00`.
pub fn usd(nanos: Nanos) -> String {
    format!("${}", format_usd(nanos))
}

/// An integer with thousands separators: `12,345`.
pub fn int(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A duration in milliseconds for people: `850 ms`, `2.3 s`, `4 min 12 s`, `1 h 3 min`.
pub fn duration(ms: u64) -> String {
    match ms {
        0..1_000 => format!("{ms} ms"),
        1_000..60_000 => format!("{:.1} s", ms as f64 / 1000.0),
        60_000..3_600_000 => format!("{} min {} s", ms / 60_000, (ms / 1000) % 60),
        _ => format!("{} h {} min", ms / 3_600_000, (ms / 60_000) % 60),
    }
}

/// `HH:MM:SS.mmm` of a Unix time in milliseconds (UTC).
pub fn clock_ms(ms: u64) -> String {
    let secs = (ms / 1000) % 86_400;
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        secs / 3600,
        (secs / 60) % 60,
        secs % 60,
        ms % 1000
    )
}

/// A byte count for people.
pub fn bytes(n: u64) -> String {
    match n {
        0..1024 => format!("{n} B"),
        1024..1_048_576 => format!("{:.1} KiB", n as f64 / 1024.0),
        _ => format!("{:.1} MiB", n as f64 / 1_048_576.0),
    }
}

/// The stylesheet. Everything is inline: the page loads nothing.
pub const CSS: &str = r#"
:root {
  --bg: #f5f6f8; --panel: #fff; --ink: #1f2933; --muted: #66717f; --line: #e3e6ea;
  --soft: #f0f2f5; --blue: #2563eb; --blue-soft: rgba(37, 99, 235, .12); --red: #dc2626;
  --red-soft: #fdecec; --amber: #d97706; --grey: #9aa3ae; --violet: #7c3aed;
  --violet-soft: #b9a2f0; --orange: #ea580c; --green: #15803d;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #111418; --panel: #1a1e24; --ink: #e6e9ed; --muted: #98a2ae; --line: #2c323a;
    --soft: #222830; --blue: #60a5fa; --blue-soft: rgba(96, 165, 250, .16); --red: #f87171;
    --red-soft: #3a1d1f; --amber: #fbbf24; --grey: #6b7480; --violet: #a78bfa;
    --violet-soft: #6d5a9e; --orange: #fb923c; --green: #4ade80;
  }
}
* { box-sizing: border-box; }
body {
  margin: 0; background: var(--bg); color: var(--ink);
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  -webkit-text-size-adjust: 100%;
}
main { max-width: 1180px; margin: 0 auto; padding: 28px 24px 40px; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "DejaVu Sans Mono", monospace; font-size: .92em; }
header .eyebrow { color: var(--muted); font-size: 13px; letter-spacing: .06em; text-transform: uppercase; margin: 0; }
header h1 { font-size: 28px; line-height: 1.2; margin: 2px 0 6px; word-break: break-word; }
header h1 .pill { font-size: 13px; vertical-align: middle; margin-left: 8px; }
header .meta { color: var(--muted); font-size: 14px; margin: 0 0 18px; word-break: break-word; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: 12px; }
.card { background: var(--panel); border: 1px solid var(--line); border-radius: 10px; padding: 12px 14px; min-width: 0; }
.card .k { color: var(--muted); font-size: 12px; letter-spacing: .05em; text-transform: uppercase; }
.card .v { font-size: 22px; font-weight: 650; font-variant-numeric: tabular-nums; overflow-wrap: anywhere; }
.card .s { color: var(--muted); font-size: 12.5px; }
.card.alert { border-color: var(--red); }
.card.alert .v { color: var(--red); }
.meter { height: 6px; background: var(--soft); border-radius: 3px; overflow: hidden; margin-top: 6px; }
.meter > span { display: block; height: 100%; background: var(--blue); border-radius: 3px; }
.meter.over > span { background: var(--red); }
.panel { background: var(--panel); border: 1px solid var(--line); border-radius: 12px; padding: 18px 20px; margin-top: 18px; min-width: 0; }
.panel h2 { font-size: 17px; margin: 0; }
.panel .sub { color: var(--muted); font-size: 13.5px; margin: 2px 0 12px; }
.grid2 { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(420px, 100%), 1fr)); gap: 0 18px; align-items: start; }
.grid2 > .panel { margin-top: 18px; }
svg { display: block; width: 100%; height: auto; overflow: visible; }
.scroll > svg.burn-down { min-width: 620px; }
.scroll > svg.bars { min-width: 420px; }
svg text { fill: var(--ink); font-family: inherit; }
.empty { color: var(--muted); font-style: italic; margin: 8px 0; }
.legend { display: flex; flex-wrap: wrap; gap: 6px 18px; margin: 10px 0 0; padding: 0; list-style: none; color: var(--muted); font-size: 13px; }
.legend li { display: flex; align-items: center; gap: 6px; }
.legend svg { width: 18px; height: 14px; display: inline-block; }
/* burn-down chart */
.gridline { stroke: var(--line); stroke-width: 1; }
.axis { stroke: var(--grey); stroke-width: 1; }
.tick { fill: var(--muted) !important; font-size: 12px; font-variant-numeric: tabular-nums; }
.axis-title { fill: var(--muted) !important; font-size: 12px; }
.spend-area { fill: var(--blue-soft); }
.spend-line { fill: none; stroke: var(--blue); stroke-width: 2; stroke-linejoin: round; }
.over-budget { fill: var(--red-soft); }
.budget-line { stroke: var(--red); stroke-width: 1.5; stroke-dasharray: 7 5; }
.budget-label { fill: var(--red) !important; font-size: 12px; font-weight: 600; paint-order: stroke; stroke: var(--panel); stroke-width: 4px; stroke-linejoin: round; }
.no-budget { fill: var(--muted) !important; font-size: 12px; font-style: italic; paint-order: stroke; stroke: var(--panel); stroke-width: 4px; }
.call-mark { fill: var(--blue); stroke: var(--panel); stroke-width: 1; }
.call-mark[data-estimated="true"] { fill: var(--panel); stroke: var(--blue); stroke-width: 1.5; }
.call-mark[data-status="error"] { fill: var(--amber); }
.call-mark[data-status="aborted"] { fill: var(--grey); }
.call-mark[data-status="unsettled"] { fill: var(--panel); stroke: var(--amber); stroke-width: 2; stroke-dasharray: 2 1.5; }
.call-mark[data-status="refused"] { fill: none; stroke: var(--red); stroke-width: 2.6; stroke-linecap: round; }
.call-mark:hover { stroke: var(--ink); stroke-width: 2; }
.call-mark[data-status="refused"]:hover { stroke: var(--ink); stroke-width: 3.2; }
.refused-ask { stroke: var(--red); stroke-width: 1.5; stroke-dasharray: 3 3; fill: none; }
.refused-ask-tip { fill: var(--red); }
.checkpoint-mark .rule { stroke: var(--violet); stroke-width: 1.2; stroke-opacity: .55; }
.checkpoint-mark .glyph { fill: var(--violet); stroke: var(--panel); stroke-width: 1; }
.checkpoint-mark[data-superseded="true"] .rule { stroke: var(--violet-soft); stroke-opacity: 1; stroke-dasharray: 3 4; }
.checkpoint-mark[data-superseded="true"] .glyph { fill: var(--panel); stroke: var(--violet-soft); stroke-width: 1.5; }
.checkpoint-mark .label { fill: var(--violet) !important; }
.checkpoint-mark[data-superseded="true"] .label { fill: var(--muted) !important; font-style: italic; }
.rollback-mark .rule { stroke: var(--orange); stroke-width: 1.6; stroke-opacity: .8; }
.rollback-mark .glyph { fill: var(--orange); }
.rollback-mark .glyph-text { fill: #fff !important; font-size: 11px; font-weight: 700; }
.rollback-mark .arc { fill: none; stroke: var(--orange); stroke-width: 1.5; }
.rollback-mark .label { fill: var(--orange) !important; }
.arrowhead { fill: var(--orange); }
.label { font-size: 11px; paint-order: stroke; stroke: var(--panel); stroke-width: 3px; stroke-linejoin: round; }
/* bar charts */
.bar-label { font-size: 13px; }
.bar-note { fill: var(--muted) !important; font-size: 11px; }
.bar-value { font-size: 12.5px; font-weight: 600; font-variant-numeric: tabular-nums; }
.bar-track { fill: var(--soft); }
.bar-limit { stroke: var(--red); stroke-width: 2; }
.c0 { fill: #2563eb; } .c1 { fill: #0d9488; } .c2 { fill: #7c3aed; } .c3 { fill: #db2777; }
.c4 { fill: #ca8a04; } .c5 { fill: #0891b2; } .c6 { fill: #65a30d; } .c7 { fill: #9333ea; }
/* tables */
.scroll { overflow-x: auto; -webkit-overflow-scrolling: touch; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th { text-align: left; font-weight: 600; color: var(--muted); font-size: 12px; letter-spacing: .03em; text-transform: uppercase; border-bottom: 1px solid var(--line); padding: 6px 8px; white-space: nowrap; }
td { padding: 6px 8px; border-bottom: 1px solid var(--soft); vertical-align: top; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.time { white-space: nowrap; font-variant-numeric: tabular-nums; color: var(--muted); }
td.wrap { overflow-wrap: anywhere; min-width: 10ch; }
td.nowrap { white-space: nowrap; }
td.note { color: var(--muted); overflow-wrap: break-word; min-width: 22ch; font-size: 12.5px; }
tr.refused td { background: var(--red-soft); }
tr.rollback td { background: rgba(234, 88, 12, .07); }
tr.superseded td.name { text-decoration: line-through; color: var(--muted); }
.dim { color: var(--muted); }
.pill { display: inline-block; padding: 0 8px; border-radius: 999px; font-size: 12px; font-weight: 600; line-height: 1.7; white-space: nowrap; background: var(--soft); color: var(--muted); }
.pill.ok, .pill.completed, .pill.live { background: #dcfce7; color: #166534; }
.pill.refused, .pill.failed, .pill.budget_exceeded { background: #fee2e2; color: #991b1b; }
.pill.error { background: #ffedd5; color: #9a3412; }
.pill.unsettled { background: #fef3c7; color: #92400e; }
.pill.running { background: #dbeafe; color: #1e40af; }
.pill.rollback { background: #ffedd5; color: #9a3412; }
.pill.checkpoint { background: #ede9fe; color: #5b21b6; }
.pill.open { background: #fee2e2; color: #991b1b; }
.pill.half_open { background: #fef9c3; color: #854d0e; }
.pill.closed { background: #dcfce7; color: #166534; }
footer { color: var(--muted); font-size: 12.5px; margin-top: 22px; text-align: center; }
@media (max-width: 640px) {
  main { padding: 18px 12px 32px; }
  header h1 { font-size: 22px; }
  .card .v { font-size: 18px; }
  .panel { padding: 14px 12px; }
  .grid2 { grid-template-columns: 1fr; }
}
@media print {
  body { background: #fff; }
  .panel, .card { break-inside: avoid; }
}
"#;
