//! `/events`: Server-Sent Events from the shared poll. A client waits on the snapshot's
//! version (no store access of its own) and is sent only what changed since its last event:
//!
//! | view | events |
//! | --- | --- |
//! | `/events` (the list) | `snapshot` (every listed row, first), then `executions` (changed rows), `totals`, `status` |
//! | `/events?execution=ID` | `key`: the figures' key of that execution, when it changes |
//! | `/events?view=scopes` | `key`: the figures' key of the watched scopes, when it changes |
//!
//! A comment line every 15 s keeps proxies from closing an idle stream; a client that went away
//! is noticed at the next write. `retry: 2000` tells EventSource to reconnect after 2 s.

use std::collections::HashMap;
use std::io;
use std::net::TcpStream;
use std::time::Duration;

use serde_json::{Value, json};

use super::pages::{LISTED, execution_key, row_json, totals_json};
use super::watch::{Snapshot, Watch};
use crate::mock::http::EventStream;

/// How long a stream may stay silent before a comment is sent.
const HEARTBEAT: Duration = Duration::from_secs(15);

/// What a stream follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum View {
    List,
    Execution(String),
    Scopes,
}

impl View {
    /// The view a query string asks for.
    pub fn from_query(query: &[(String, String)]) -> View {
        let get = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        match (get("execution"), get("view")) {
            (Some(id), _) => View::Execution(id.to_owned()),
            (None, Some("scopes")) => View::Scopes,
            _ => View::List,
        }
    }
}

/// What one client was sent last.
#[derive(Default)]
struct Sent {
    rows: HashMap<String, Value>,
    totals: Option<Value>,
    status: Option<Value>,
    key: Option<String>,
}

/// Streams `view` on `conn` until the client goes away.
pub fn serve(
    conn: &mut TcpStream,
    watch: &Watch,
    view: &View,
    headers: &[(&str, String)],
) -> io::Result<()> {
    let mut events = EventStream::start(conn, headers)?;
    events.send_text("retry: 2000\n\n")?;
    let mut sent = Sent::default();
    let mut snap = watch.current();
    let mut first = true;
    loop {
        send_changes(&mut events, &snap, view, &mut sent, first)?;
        first = false;
        match watch.wait_newer(snap.version, HEARTBEAT) {
            Some(next) => snap = next,
            None => events.send_text(": ping\n\n")?,
        }
    }
}

fn send_changes(
    events: &mut EventStream<'_>,
    snap: &Snapshot,
    view: &View,
    sent: &mut Sent,
    first: bool,
) -> io::Result<()> {
    match view {
        View::List => {
            let listed = &snap.executions[..snap.executions.len().min(LISTED)];
            let mut changed = Vec::new();
            for e in listed {
                let row = row_json(e);
                if sent.rows.get(&e.id) != Some(&row) {
                    sent.rows.insert(e.id.clone(), row.clone());
                    changed.push(row);
                }
            }
            if sent.rows.len() > listed.len() {
                let ids: std::collections::HashSet<&str> =
                    listed.iter().map(|e| e.id.as_str()).collect();
                sent.rows.retain(|id, _| ids.contains(id.as_str()));
            }
            if first || !changed.is_empty() {
                // Oldest first, so rows added at the top end in the list's order.
                changed.reverse();
                let name = if first { "snapshot" } else { "executions" };
                events.send(Some(name), &Value::Array(changed).to_string())?;
            }
            let totals = totals_json(&snap.executions);
            if sent.totals.as_ref() != Some(&totals) {
                events.send(Some("totals"), &totals.to_string())?;
                sent.totals = Some(totals);
            }
            let status = json!({ "error": snap.error, "at_ms": snap.at_ms });
            if first || sent.status.as_ref().map(|s| &s["error"]) != Some(&status["error"]) {
                events.send(Some("status"), &status.to_string())?;
                sent.status = Some(status);
            }
        }
        View::Execution(id) => {
            if let Some(e) = snap.executions.iter().find(|e| e.id == *id) {
                send_key(events, sent, execution_key(e))?;
            }
        }
        View::Scopes => send_key(events, sent, super::scopes::key(&snap.scopes))?,
    }
    Ok(())
}

fn send_key(events: &mut EventStream<'_>, sent: &mut Sent, key: String) -> io::Result<()> {
    if sent.key.as_deref() != Some(key.as_str()) {
        events.send(Some("key"), &json!({ "key": key }).to_string())?;
        sent.key = Some(key);
    }
    Ok(())
}
