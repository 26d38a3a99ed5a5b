//! `/prices?model=NAME`: how a model name resolves and every price it has (what `wflo price`
//! prints), and what a call of a given size costs on it — all answered by the engine
//! (`resolve_model`, `cost`, `price_table`), with the price file the engine loaded.

use std::fmt::Write;

use serde_json::{Value, json};
use wflo_core::{Engine, Usage};

use super::pages::{Nav, Shell, nav, page};
use crate::report::html::{esc, int, usd};

/// `/api/prices/{model}`: the same document as `wflo price MODEL --json`.
pub fn json(engine: &Engine, model: &str) -> wflo_core::Result<Value> {
    let resolved = engine.resolve_model(model)?;
    let p = &resolved.price;
    Ok(json!({
        "requested": model, "resolved": p.name, "resolution": resolved.resolution,
        "units": "pico-USD per token", "price": p, "source": engine.prices().source(),
        "price_table": engine.price_table()
    }))
}

/// USD per million tokens of a price in pico-USD per token (1 pico-USD per token is exactly
/// 1,000 nano-USD per million tokens).
fn per_million(picos: u64) -> String {
    usd(picos.saturating_mul(1_000))
}

/// The page: a form, and for a model its resolution, prices and the cost of `usage`.
/// Returns the status to answer with (404 for an unknown model) and the page.
pub fn render(shell: &Shell, engine: &Engine, model: Option<&str>, usage: &Usage) -> (u16, String) {
    let model = model.map(str::trim).filter(|m| !m.is_empty());
    let mut body = format!(
        r#"<header><p class="eyebrow">wflo serve</p><h1>Prices</h1><p class="meta">{}</p></header><section class="panel"><form class="price" method="get" action="/prices"><input type="text" name="model" placeholder="a model name, e.g. gpt-4o or anthropic/claude-sonnet-4-6" value="{}" aria-label="model name" autofocus><input type="hidden" name="input" value="{}"><input type="hidden" name="output" value="{}"><button type="submit">Look up</button></form>"#,
        esc(&engine.price_table().label()),
        esc(model.unwrap_or("")),
        usage.input,
        usage.output,
    );
    let mut status = 200;
    match model.map(|m| (m, engine.resolve_model(m))) {
        None => body.push_str(r#"<p class="empty">Names resolve as the engine resolves them: exact, without a provider prefix, a dated snapshot to its base model.</p>"#),
        Some((_, Err(e))) => {
            status = if e.code() == wflo_core::ErrorCode::InvalidArgument { 400 } else { 404 };
            let _ = write!(body, r#"<div class="error-box">{}</div>"#, esc(&e.to_string()));
        }
        Some((m, Ok(resolved))) => {
            let p = &resolved.price;
            let _ = write!(
                body,
                r#"<h2>{}</h2><p class="sub">asked as <span class="mono">{}</span> · matched {} · provider {} · mode {}{}</p>"#,
                esc(&p.name),
                esc(m),
                esc(&format!("{:?}", resolved.resolution).to_lowercase()),
                esc(&p.provider),
                esc(&p.mode),
                if p.deprecated { " · deprecated (last known price)" } else { "" }
            );
            body.push_str(r#"<div class="scroll"><table><thead><tr><th>Tokens</th><th class="num">USD per 1M tokens</th><th class="num">pico-USD per token</th></tr></thead><tbody>"#);
            let mut row = |label: &str, v: Option<u64>| {
                if let Some(v) = v {
                    let _ = write!(
                        body,
                        r#"<tr><td>{label}</td><td class="num">{}</td><td class="num">{}</td></tr>"#,
                        esc(&per_million(v)),
                        int(v)
                    );
                }
            };
            row("input", Some(p.input));
            row("output", Some(p.output));
            row("cache read", p.cache_read);
            row("cache write (5 min)", p.cache_write_5m);
            row("cache write (1 h)", p.cache_write_1h);
            row("reasoning", p.reasoning);
            body.push_str("</tbody></table></div>");
            for tier in &p.tiers {
                let parts: Vec<String> = tier
                    .named_rates()
                    .iter()
                .filter_map(|(k, v)| v.map(|v| format!("{k} {} per 1M", per_million(v))))
                .collect();
                let _ = write!(
                    body,
                    r#"<p class="sub">Prompts above {} tokens: all tokens at {}.</p>"#,
                    int(tier.above),
                    esc(&parts.join(", "))
                );
            }
            let limit = |v: Option<u64>| v.map_or("–".to_owned(), int);
            let _ = write!(
                body,
                r#"<dl class="facts"><dt>max input</dt><dd>{} tokens</dd><dt>max output</dt><dd>{} tokens</dd>{}</dl>"#,
                limit(p.max_input),
                limit(p.max_output),
                p.deprecation_date
                    .as_ref()
                    .map(|d| format!("<dt>retires</dt><dd>{}</dd>", esc(d)))
                    .unwrap_or_default()
            );
            match engine.cost(m, usage) {
                Ok(q) => {
                    let _ = write!(
                        body,
                        r#"<h2 style="margin-top:16px">A call of {} input and {} output tokens</h2><p class="sub">costs <strong>{}</strong> ({} nano-USD, rounded up). Change the sizes in the address: <span class="mono">&amp;input=N&amp;output=N</span>.</p>"#,
                        int(usage.input),
                        int(usage.output),
                        esc(&usd(q.cost_nanos)),
                        int(q.cost_nanos)
                    );
                }
                Err(e) => {
                    let _ = write!(body, r#"<div class="error-box">{}</div>"#, esc(&e.to_string()));
                }
            }
        }
    }
    body.push_str("</section>");
    (
        status,
        page(shell, "Prices", &nav(Nav::Prices, ""), &body, ""),
    )
}
