//! Budget alerts POSTed to a URL the operator gives (`--webhook`): the alert as JSON (what
//! every face's `on_threshold` callback receives), or with `--webhook-format slack` a
//! Slack-compatible `{"text": …}`. Sending happens on one background thread behind a bounded
//! queue, in the order the alerts fired; a failed POST (no connection, or any status other
//! than 2xx) is retried after 0.5, 1, 2, 4 and 8 s, then dropped and counted. Nothing here
//! ever waits on the store poll, and the poll never waits on a slow receiver.
//!
//! The URL is never printed or logged: a Slack webhook URL is a secret.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::time::Duration;

use wflo_core::telemetry::Alert;

use crate::exit::{self, CliError};
use crate::terminal::escape;

/// The body a webhook receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// The alert as a JSON object (`execution_id`, `workflow`, `scope`, `kind`, `percent`,
    /// `limit_nanos`, `spent_nanos`, …).
    Json,
    /// `{"text": "budget 80% reached on …"}`, as Slack's incoming webhooks take it.
    Slack,
}

/// The waits before each retry of a failed POST; after the last one the alert is dropped.
pub const BACKOFF_MS: [u64; 5] = [500, 1_000, 2_000, 4_000, 8_000];

/// Alerts waiting to be sent at most; beyond it new alerts are dropped and counted.
pub const QUEUE: usize = 1_000;

/// What became of the alerts handed to the webhook.
#[derive(Debug, Default)]
pub struct Counters {
    pub sent: AtomicU64,
    pub retries: AtomicU64,
    /// Given up after every retry failed, or refused because the queue was full.
    pub dropped: AtomicU64,
}

/// A running webhook sender.
pub struct Webhook {
    queue: SyncSender<Alert>,
    pub counters: Arc<Counters>,
}

/// The body of `alert` in `format`.
pub fn body(alert: &Alert, format: Format) -> String {
    match format {
        Format::Json => alert.to_json(),
        Format::Slack => serde_json::json!({ "text": alert.summary() }).to_string(),
    }
}

impl Webhook {
    /// Starts the sender thread for `url` (http:// or https://).
    pub fn start(url: &str, format: Format) -> Result<Webhook, CliError> {
        let lower = url.to_ascii_lowercase();
        if !(lower.starts_with("http://") || lower.starts_with("https://")) {
            return Err(CliError {
                exit: exit::USAGE,
                message: "--webhook must be an http:// or https:// URL".into(),
            });
        }
        let (queue, rx) = sync_channel(QUEUE);
        let counters = Arc::new(Counters::default());
        let c = counters.clone();
        let url = url.to_owned();
        std::thread::Builder::new()
            .name("wflo-serve-webhook".into())
            .spawn(move || send_all(&url, format, &rx, &c))
            .map_err(|e| format!("cannot start the webhook thread: {e}"))?;
        Ok(Webhook { queue, counters })
    }

    /// Queues `alert`; never blocks (a full queue drops it, counted).
    pub fn send(&self, alert: Alert) {
        if let Err(TrySendError::Full(a) | TrySendError::Disconnected(a)) =
            self.queue.try_send(alert)
        {
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
            eprintln!(
                "wflo serve: webhook queue full, alert dropped: {}",
                escape(&a.summary())
            );
        }
    }

    /// The counters in the Prometheus text format, appended to `/metrics`.
    pub fn metrics_text(&self) -> String {
        let c = &self.counters;
        format!(
            "# HELP wflo_serve_webhook_alerts_total Budget alerts given to the webhook, by outcome: sent (a 2xx answer) or dropped (every retry failed, or the queue was full).\n\
             # TYPE wflo_serve_webhook_alerts_total counter\n\
             wflo_serve_webhook_alerts_total{{outcome=\"sent\"}} {}\n\
             wflo_serve_webhook_alerts_total{{outcome=\"dropped\"}} {}\n\
             # HELP wflo_serve_webhook_retries_total Webhook POSTs repeated after a failure.\n\
             # TYPE wflo_serve_webhook_retries_total counter\n\
             wflo_serve_webhook_retries_total {}\n",
            c.sent.load(Ordering::Relaxed),
            c.dropped.load(Ordering::Relaxed),
            c.retries.load(Ordering::Relaxed),
        )
    }
}

fn send_all(url: &str, format: Format, rx: &Receiver<Alert>, counters: &Counters) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    for alert in rx {
        let body = body(&alert, format);
        let mut attempt = 0;
        loop {
            match post(&agent, url, &body) {
                Ok(()) => {
                    counters.sent.fetch_add(1, Ordering::Relaxed);
                    break;
                }
                Err(why) if attempt == BACKOFF_MS.len() => {
                    counters.dropped.fetch_add(1, Ordering::Relaxed);
                    eprintln!(
                        "wflo serve: webhook failed {} times ({why}), alert dropped: {}",
                        attempt + 1,
                        escape(&alert.summary())
                    );
                    break;
                }
                Err(_) => {
                    std::thread::sleep(Duration::from_millis(BACKOFF_MS[attempt]));
                    attempt += 1;
                    counters.retries.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
}

/// One POST; `Err` says why it failed without the URL.
fn post(agent: &ureq::Agent, url: &str, body: &str) -> Result<(), String> {
    match agent
        .post(url)
        .header("content-type", "application/json")
        .header(
            "user-agent",
            concat!("wflo-serve/", env!("CARGO_PKG_VERSION")),
        )
        .send(body)
    {
        Ok(response) if response.status().is_success() => Ok(()),
        Ok(response) => Err(format!("HTTP {}", response.status().as_u16())),
        Err(e) => Err(match e {
            ureq::Error::Io(e) => format!("{:?}", e.kind()),
            ureq::Error::Timeout(_) => "timed out".into(),
            ureq::Error::HostNotFound => "host not found".into(),
            ureq::Error::ConnectionFailed => "connection failed".into(),
            _ => "request failed".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wflo_core::telemetry::AlertKind;

    fn alert() -> Alert {
        Alert {
            execution_id: String::new(),
            workflow: String::new(),
            scope: "team:<b>".into(),
            kind: AlertKind::Threshold,
            percent: 80,
            limit_nanos: 1_000_000_000,
            limit_usd: 1.0,
            spent_nanos: 810_000_000,
            spent_usd: 0.81,
            at_ms: 1,
        }
    }

    #[test]
    fn bodies_are_the_alert_or_slack_text() {
        let a = alert();
        let json: serde_json::Value = serde_json::from_str(&body(&a, Format::Json)).unwrap();
        assert_eq!(json["scope"], "team:<b>");
        assert_eq!(json["execution_id"], "");
        assert_eq!(json["percent"], 80);
        assert_eq!(json["spent_nanos"], 810_000_000);
        let slack: serde_json::Value = serde_json::from_str(&body(&a, Format::Slack)).unwrap();
        assert_eq!(
            slack,
            serde_json::json!({"text": "budget 80% reached on team:<b>: $0.8100 of $1.0000"})
        );
    }

    #[test]
    fn only_http_urls_are_taken() {
        assert_eq!(
            Webhook::start("ftp://x", Format::Json).err().unwrap().exit,
            exit::USAGE
        );
    }
}
