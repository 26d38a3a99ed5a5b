//! `wflo serve`: a local web app over the store the agents write to — the executions with
//! live spend, one execution's report (live while it runs), shared scopes with their
//! burn-down, the price of any model, a JSON API behind each page, Prometheus metrics, and
//! budget alerts sent to a webhook.
//!
//! Everything it shows is read through the engine's public API: one poll of the store shared
//! by every page, event stream, scrape and alert ([`watch`]). Metrics and the alert rule are
//! core's ([`wflo_core::telemetry`]); the report is `wflo report`'s; escaping is the report's.
//!
//! | path | what |
//! | --- | --- |
//! | `/` | executions, most recent first, spend updated live (Server-Sent Events) |
//! | `/executions/{id}` | the execution's report, re-rendered as it changes |
//! | `/scopes` | watched shared scopes (`--scope`): period, limit, spent, reserved, refusals, burn-down |
//! | `/prices?model=NAME` | how a name resolves, its prices, what a call costs |
//! | `/api/executions`, `/api/executions/{id}`, `/api/scopes`, `/api/prices/{model}` | JSON |
//! | `/events` | the event stream (see [`stream`]) |
//! | `/metrics` | Prometheus text |

mod access;
mod approvals;
mod breakers;
mod pages;
mod prices;
mod scopes;
mod server;
mod stream;
mod watch;
mod webhook;

use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use wflo_core::telemetry::alerts::{DEFAULT_THRESHOLDS, check_thresholds};

use crate::Db;
use crate::exit::{self, CliError};
use crate::terminal::escape;

pub use webhook::Format as WebhookFormat;

/// `wflo serve`'s flags.
#[derive(clap::Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub db: Db,
    /// The port to listen on (0: any free port; the first line printed says which).
    #[arg(long, default_value_t = 8766)]
    pub port: u16,
    /// The IP address to listen on. Anything but loopback needs --allow-remote and --token.
    #[arg(long, default_value = "127.0.0.1", value_name = "IP")]
    pub bind: String,
    /// Serve other machines (a non-loopback --bind); needs --token.
    #[arg(long)]
    pub allow_remote: bool,
    /// Require `Authorization: Bearer TOKEN` on every request (default: WFLO_SERVE_TOKEN).
    #[arg(long, value_name = "TOKEN")]
    pub token: Option<String>,
    /// A shared scope to show on /scopes, in /metrics and in alerts (repeat for more;
    /// default: every shared scope the store defines).
    #[arg(long = "scope", value_name = "NAME")]
    pub scopes: Vec<String>,
    /// POST each budget alert to this URL (retried with backoff; never printed).
    #[arg(long, value_name = "URL")]
    pub webhook: Option<String>,
    /// The webhook's body: the alert as JSON, or Slack's {"text": …}.
    #[arg(long, value_enum, default_value = "json", value_name = "FORMAT")]
    pub webhook_format: WebhookFormat,
    /// Alert thresholds, in percent of an execution's budget or a shared scope's limit.
    #[arg(long, value_delimiter = ',', default_values_t = DEFAULT_THRESHOLDS, value_name = "PCTS")]
    pub thresholds: Vec<u32>,
    /// How often the store is read, in milliseconds.
    #[arg(long, default_value_t = 500, value_name = "MS")]
    pub poll_ms: u64,
}

fn usage(message: String) -> CliError {
    CliError {
        exit: exit::USAGE,
        message,
    }
}

/// Runs the server until the process is stopped.
pub fn run(args: ServeArgs) -> Result<(), CliError> {
    let token = args.token.clone().or_else(|| {
        std::env::var("WFLO_SERVE_TOKEN")
            .ok()
            .filter(|t| !t.is_empty())
    });
    let ip = access::check_bind(&args.bind, args.allow_remote, token.as_deref())?;
    check_thresholds(&args.thresholds).map_err(|e| usage(format!("--thresholds: {e}")))?;
    if !(50..=60_000).contains(&args.poll_ms) {
        return Err(usage("--poll-ms must be from 50 to 60000".into()));
    }
    let webhook = match &args.webhook {
        Some(url) => Some(webhook::Webhook::start(url, args.webhook_format)?),
        None => None,
    };
    let engine = Arc::new(crate::inspect::engine(&args.db)?);
    let store = engine.store().kind();
    let watch = Arc::new(watch::Watch::new(
        engine,
        args.scopes.clone(),
        args.thresholds.clone(),
        webhook,
    ));
    // The first poll primes the alerts before anyone can ask: what is already past a
    // threshold now sends nothing.
    watch.poll();
    let listener = TcpListener::bind((ip, args.port))
        .map_err(|e| format!("cannot listen on {ip}:{}: {e}", args.port))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("cannot read the listening address: {e}"))?;
    let app = Arc::new(server::App {
        watch: watch.clone(),
        access: access::Access { token, ip },
        store,
        connections: AtomicUsize::new(0),
        streams: AtomicUsize::new(0),
    });
    {
        let w = watch.clone();
        let interval = Duration::from_millis(args.poll_ms);
        std::thread::Builder::new()
            .name("wflo-serve-poll".into())
            .spawn(move || w.run(interval))
            .map_err(|e| format!("cannot start the poll thread: {e}"))?;
    }
    let mut banner = format!("wflo serve listening on http://{addr}\n  store: {store}\n");
    if app.access.token.is_some() {
        banner.push_str("  every request needs Authorization: Bearer TOKEN\n");
    }
    if !args.scopes.is_empty() {
        let names: Vec<String> = args.scopes.iter().map(|s| escape(s).into_owned()).collect();
        banner.push_str(&format!("  shared scopes: {}\n", names.join(", ")));
    }
    if args.webhook.is_some() {
        banner.push_str(&format!(
            "  alerts at {:?}% sent to the webhook ({})\n",
            args.thresholds,
            match args.webhook_format {
                WebhookFormat::Json => "json",
                WebhookFormat::Slack => "slack",
            }
        ));
    }
    // One write: a reader that takes the first line and goes away must not meet a second.
    {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(banner.as_bytes()).and_then(|()| out.flush());
    }
    for conn in listener.incoming() {
        let Ok(conn) = conn else { continue };
        let app = app.clone();
        let _ = std::thread::Builder::new()
            .name("wflo-serve-conn".into())
            .spawn(move || server::connection(conn, &app));
    }
    Ok(())
}
