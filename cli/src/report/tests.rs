use std::sync::Arc;

use wflo_core::records::{ModelCost, RollbackRecord, StepCost};
use wflo_core::{
    Breakdown, CallRecord, CallStatus, CheckpointInfo, ExecutionRecord, ExecutionStatus, Usage,
};

use super::html::{esc, int, truncate};
use super::svg::nice_axis;
use super::timeline::Timeline;
use super::{ReportData, render};

const T0: u64 = 1_717_000_000_000;

fn call(seq: u64, step: &str, model: &str, status: CallStatus, cost: u64, at: u64) -> CallRecord {
    let refused = status == CallStatus::Refused;
    CallRecord {
        execution_id: Arc::from("exec-test"),
        seq,
        step: Arc::from(step),
        provider: Arc::from("openai"),
        requested_model: Arc::from(model),
        model: if refused {
            None
        } else {
            Some(Arc::from(model))
        },
        usage: if refused {
            Usage::default()
        } else {
            Usage {
                input: 100,
                output: 20,
                ..Default::default()
            }
        },
        cost_nanos: cost,
        reserved_nanos: if refused { 50_000_000 } else { cost * 2 },
        overrun_nanos: 0,
        estimated: false,
        usage_missing: false,
        stream: false,
        status,
        error: refused.then(|| "budget exceeded: <needs> more".to_owned()),
        latency_ms: if refused { 0 } else { 5 },
        started_at_ms: if refused { at } else { at - 5 },
        finished_at_ms: at,
        attempt: 1,
        retry_reason: None,
    }
}

fn checkpoint(sequence: u64, name: &str, spent: u64, at: u64, superseded: bool) -> CheckpointInfo {
    CheckpointInfo {
        id: sequence,
        execution_id: "exec-test".into(),
        name: name.into(),
        sequence,
        parent_id: None,
        spent_nanos: spent,
        created_at_ms: at,
        superseded,
        state_bytes: 42,
        content_type: None,
    }
}

fn data(name: &str, budget: Option<u64>, calls: Vec<CallRecord>) -> ReportData {
    let total: u64 = calls.iter().map(|c| c.cost_nanos).sum();
    let refused = calls
        .iter()
        .filter(|c| c.status == CallStatus::Refused)
        .count() as u64;
    let mut by_step: Vec<StepCost> = Vec::new();
    let mut by_model: Vec<ModelCost> = Vec::new();
    for c in &calls {
        match by_step.iter_mut().find(|s| s.step == *c.step) {
            Some(s) => s.cost_nanos += c.cost_nanos,
            None => by_step.push(StepCost {
                step: c.step.to_string(),
                calls: 1,
                refused: 0,
                cost_nanos: c.cost_nanos,
                cost_usd: 0.0,
                budget_nanos: None,
            }),
        }
        if c.status != CallStatus::Refused
            && !by_model.iter().any(|m| m.model == *c.requested_model)
        {
            by_model.push(ModelCost {
                model: c.requested_model.to_string(),
                calls: 1,
                cost_nanos: c.cost_nanos,
                cost_usd: 0.0,
                usage: c.usage,
            });
        }
    }
    ReportData {
        execution: ExecutionRecord {
            id: "exec-test".into(),
            name: name.into(),
            status: ExecutionStatus::Completed,
            budget_nanos: budget,
            spent_nanos: total,
            overrun_nanos: 0,
            calls: calls.len() as u64 - refused,
            created_at_ms: T0,
            updated_at_ms: T0 + 10_000,
            finished_at_ms: Some(T0 + 10_000),
            approval_above_nanos: None,
            max_calls: None,
            agent_budgets: Default::default(),
        },
        breakdown: Breakdown {
            execution_id: "exec-test".into(),
            name: name.into(),
            status: ExecutionStatus::Completed,
            total_nanos: total,
            budget_nanos: budget,
            reserved_nanos: 0,
            remaining_nanos: budget.map(|b| b.saturating_sub(total)),
            overrun_nanos: 0,
            total_usd: 0.0,
            budget_usd: None,
            reserved_usd: 0.0,
            remaining_usd: None,
            calls: calls.len() as u64 - refused,
            refused_calls: refused,
            estimated_calls: 0,
            usage: Usage::default(),
            by_model,
            by_step,
            price_table: "LiteLLM table 1.110.2 (2026-11-27) + <ours>.json (wflo, 2026-12-01)"
                .into(),
        },
        calls,
        checkpoints: Vec::new(),
        rollbacks: Vec::new(),
        breaker_changes: Vec::new(),
    }
}

/// Occurrences of `needle` in the page's body (the stylesheet's selectors name the same
/// attributes).
fn count(page: &str, needle: &str) -> usize {
    let body = page.split_once("</style>").map_or(page, |(_, b)| b);
    body.matches(needle).count()
}

#[test]
fn escapes_text_and_attributes() {
    assert_eq!(
        esc("<script>alert(1)</script>"),
        "&lt;script&gt;alert(1)&lt;/script&gt;"
    );
    assert_eq!(
        esc(r#""><img src=x onerror=alert(1)>"#),
        "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"
    );
    assert_eq!(esc("a & 'b'"), "a &amp; &#39;b&#39;");
    assert_eq!(esc("tab\tnul\0bell\u{7}"), "tab\tnul\u{FFFD}bell\u{FFFD}");
    assert_eq!(esc("naïve → ok"), "naïve → ok");
    // Truncation happens before escaping, so an entity is never cut in half.
    assert_eq!(esc(&truncate("<<<<<<", 3)), "&lt;&lt;…");
    assert_eq!(int(1_234_567), "1,234,567");
    assert_eq!(int(999), "999");
}

#[test]
fn hostile_strings_render_as_text() {
    let script = "<script>alert(1)</script>";
    let img = r#""><img src=x onerror=alert(1)>"#;
    let mut d = data(
        img,
        Some(100_000_000),
        vec![
            call(
                1,
                script,
                "gpt-<b>4o</b>",
                CallStatus::Ok,
                1_000_000,
                T0 + 100,
            ),
            call(
                2,
                "it's \"quoted\"",
                img,
                CallStatus::Ok,
                2_000_000,
                T0 + 200,
            ),
            call(3, script, "gpt-4o", CallStatus::Refused, 0, T0 + 300),
        ],
    );
    d.execution.id = format!("exec-{img}");
    d.checkpoints.push(checkpoint(
        1,
        "<svg onload=alert(1)>",
        3_000_000,
        T0 + 250,
        false,
    ));
    d.rollbacks.push(RollbackRecord {
        execution_id: d.execution.id.clone(),
        checkpoint_id: Some(1),
        checkpoint_name: "</title><script>alert(2)</script>".into(),
        superseded: 0,
        spent_nanos: 3_000_000,
        at_ms: T0 + 400,
    });
    d.calls[2].error = Some("</td></tr><script>alert(3)</script>".into());
    let page = render(&d);
    for bad in [
        "<script",
        "<img",
        "<svg onload",
        "<b>",
        "</b>",
        "onerror=alert(1)>",
    ] {
        assert!(!page.contains(bad), "the page contains {bad:?}");
    }
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(page.contains("&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"));
    assert!(page.contains("&lt;svg onload=alert(1)&gt;"));
    assert!(page.contains("it&#39;s &quot;quoted&quot;"));
    // Every `<` in the page opens a tag the renderer wrote itself.
    for (i, _) in page.match_indices('<') {
        let rest = &page[i + 1..];
        let tag: String = rest
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        assert!(
            rest.starts_with("!doctype")
                || [
                    "html", "head", "meta", "title", "style", "body", "main", "header", "p", "h1",
                    "h2", "span", "div", "section", "svg", "defs", "marker", "path", "rect",
                    "line", "text", "polygon", "polyline", "circle", "g", "ul", "li", "table",
                    "thead", "tbody", "tr", "th", "td", "footer",
                ]
                .contains(&tag.as_str()),
            "unexpected tag <{tag} at {i}: {}",
            &page[i..(i + 60).min(page.len())]
        );
    }
}

#[test]
fn one_mark_per_call() {
    for n in [0usize, 1, 3, 250, 600] {
        let calls = (1..=n as u64)
            .map(|i| {
                let status = if i % 97 == 0 {
                    CallStatus::Refused
                } else {
                    CallStatus::Ok
                };
                let cost = if status == CallStatus::Refused {
                    0
                } else {
                    7_500 * i
                };
                call(
                    i,
                    &format!("step-{}", i % 5),
                    "gpt-4o-mini",
                    status,
                    cost,
                    T0 + i * 10,
                )
            })
            .collect();
        let page = render(&data("many", Some(1_000_000_000), calls));
        assert_eq!(count(&page, r#"class="call-mark""#), n, "{n} calls");
        assert_eq!(
            count(&page, r#"data-status="refused""#),
            n / 97,
            "{n} calls"
        );
        assert!(!page.contains("<script"));
        assert!(page.contains(r#"class="budget-line""#));
        if n == 0 {
            assert!(page.contains("no calls yet"));
        }
    }
}

#[test]
fn checkpoints_and_rollbacks_are_marked() {
    // Three steps; a refusal in the same millisecond as the checkpoint before it and the
    // rollback after it; then one more call.
    let mut d = data(
        "cp",
        Some(10_000_000),
        vec![
            call(1, "a", "m", CallStatus::Ok, 2_000_000, T0 + 10),
            call(2, "b", "m", CallStatus::Ok, 3_000_000, T0 + 20),
            call(3, "c", "m", CallStatus::Refused, 0, T0 + 30),
            call(4, "c", "m", CallStatus::Ok, 1_000_000, T0 + 40),
        ],
    );
    d.checkpoints = vec![
        checkpoint(1, "after-a", 2_000_000, T0 + 10, false),
        checkpoint(2, "after-b", 5_000_000, T0 + 30, true),
        checkpoint(3, "after-c", 6_000_000, T0 + 41, false),
    ];
    d.rollbacks = vec![RollbackRecord {
        execution_id: "exec-test".into(),
        checkpoint_id: Some(1),
        checkpoint_name: "after-a".into(),
        superseded: 1,
        spent_nanos: 5_000_000,
        at_ms: T0 + 30,
    }];
    let tl = Timeline::new(&d);
    assert_eq!(tl.cum, vec![2_000_000, 5_000_000, 5_000_000, 6_000_000]);
    assert_eq!(tl.checkpoint_gap, vec![1, 2, 4]);
    assert_eq!(tl.rollback_gap, vec![3]);
    let page = render(&d);
    assert_eq!(count(&page, r#"class="checkpoint-mark""#), 3);
    assert_eq!(count(&page, r#"data-superseded="true""#), 1);
    assert_eq!(count(&page, r#"class="rollback-mark""#), 1);
    assert_eq!(count(&page, r#"class="call-mark""#), 4);
    assert!(page.contains("after call #2"));
    assert!(page.contains("marker-end=\"url(#wflo-arrow)\""));
}

#[test]
fn the_footer_names_the_prices() {
    let page = render(&data("run", None, vec![]));
    assert!(
        page.contains(r#"prices: <span class="prices">LiteLLM table 1.110.2 (2026-11-27) + &lt;ours&gt;.json (wflo, 2026-12-01)</span>"#),
        "the report names the price table, escaped"
    );
}

#[test]
fn no_budget_and_exact_amounts() {
    let page = render(&data(
        "free",
        None,
        vec![call(1, "", "gpt-4o-mini", CallStatus::Ok, 75, T0 + 10)],
    ));
    assert!(page.contains("no budget"));
    assert!(!page.contains(r#"class="budget-line""#));
    assert!(page.contains("$0.000000075"));
    assert_eq!(count(&page, r#"class="call-mark""#), 1);
    assert!(page.contains("(execution)"));
}

#[test]
fn the_page_loads_nothing() {
    let mut d = data(
        "x",
        Some(5),
        vec![call(1, "s", "m", CallStatus::Ok, 3, T0 + 1)],
    );
    d.checkpoints.push(checkpoint(1, "c", 3, T0 + 2, false));
    let page = render(&d);
    for needle in [
        "src=", "href=", "<link", "@import", "url(http", "http://", "https://", "<script",
    ] {
        assert!(!page.contains(needle), "found {needle:?}");
    }
    assert!(page.contains("Content-Security-Policy"));
}

#[test]
fn axes_are_nice() {
    assert_eq!(nice_axis(10_000_000), (12_500_000, 2_500_000));
    assert_eq!(nice_axis(0), (1_000_000, 200_000));
    assert_eq!(nice_axis(1), (1, 1));
    let (max, step) = nice_axis(987_654_321);
    assert!(max >= 987_654_321 && max / step <= 5);
    for top in [u64::MAX / 2, u64::MAX - 1, u64::MAX] {
        let (max, step) = nice_axis(top);
        assert!(max >= top / 2 && step > 0);
    }
}

#[test]
fn bar_charts_are_capped() {
    let calls = (1..=30u64)
        .map(|i| {
            call(
                i,
                &format!("item-{i}"),
                "gpt-4o-mini",
                CallStatus::Ok,
                1_000 * i,
                T0 + i,
            )
        })
        .collect();
    let page = render(&data("wide", Some(1_000_000_000), calls));
    // 12 step bars (11 + "19 others") and 1 model bar.
    assert_eq!(count(&page, r#"<g class="bar">"#), 13);
    assert!(page.contains("19 others"));
    assert_eq!(count(&page, r#"class="call-mark""#), 30);
}

#[test]
fn breakers_that_changed_state_while_it_ran_get_a_panel_with_their_names_as_text() {
    use wflo_core::resilience::{BreakerState, Transition};
    let calls = vec![call(1, "plan", "gpt-4o", CallStatus::Ok, 1_000, T0 + 100)];
    let quiet = render(&data("quiet", None, calls.clone()));
    assert_eq!(
        count(&quiet, r#"id="breakers""#),
        0,
        "no panel when none changed"
    );
    let mut d = data("tripped", None, calls);
    let hostile = "<img src=x onerror=alert(1)>";
    d.breaker_changes = vec![
        Transition {
            breaker: hostile.into(),
            shared: true,
            from: BreakerState::Closed,
            to: BreakerState::Open,
            at_ms: T0 + 200,
            reason: "5 consecutive failures".into(),
            holder: "worker-3:4242".into(),
        },
        Transition {
            breaker: "tool:search".into(),
            shared: false,
            from: BreakerState::Open,
            to: BreakerState::HalfOpen,
            at_ms: T0 + 300,
            reason: "recovery timeout passed".into(),
            holder: "worker-1:17".into(),
        },
    ];
    let page = render(&d);
    assert_eq!(count(&page, r#"id="breakers""#), 1);
    assert!(!page.contains(hostile), "a breaker's name is text");
    assert!(
        page.contains("&lt;img src=x onerror=alert(1)&gt; <span class=\"dim\">(shared)</span>")
    );
    assert!(page.contains(r#"<span class="pill open">open</span>"#));
    assert!(page.contains(r#"<span class="pill half_open">half_open</span>"#));
    assert!(page.contains("5 consecutive failures") && page.contains("worker-1:17"));
}
