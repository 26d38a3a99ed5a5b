//! Budget-aware retries: when a failed LLM call may be sent again, and after how long.
//!
//! The rule lives here once; a face runs the loop (it owns the request and the sleeping, in
//! its own language's idiom) and asks a [`Retrier`] after each failure. Every attempt is a new
//! call: the face reserves it like any other, so a retry the budget cannot cover is refused
//! before anything is sent, and [`Retrier::refused`] makes the error say both what failed and
//! why no retry was made.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// How the delay grows from one attempt to the next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Backoff {
    /// `base × multiplier^(n−1)` before retry `n`.
    #[default]
    Exponential,
    /// `base × n` before retry `n`.
    Linear,
    /// `base` before every retry.
    Fixed,
}

impl Backoff {
    pub fn as_str(self) -> &'static str {
        match self {
            Backoff::Exponential => "exponential",
            Backoff::Linear => "linear",
            Backoff::Fixed => "fixed",
        }
    }
}

/// A retry policy. The defaults are the original Python SDK's `RetryManager()`: 3 retries,
/// 1 s base, 60 s cap, ×2, jitter ±10%.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetryPolicy {
    pub backoff: Backoff,
    /// Retries after the first attempt (so at most `max_retries + 1` attempts).
    pub max_retries: u32,
    pub base_delay_ms: u64,
    /// The cap on a computed delay (a server's `Retry-After` may ask for longer; see
    /// [`Retrier::next`]).
    pub max_delay_ms: u64,
    pub multiplier: f64,
    /// Spread each delay uniformly by ± this fraction (0: none; at most 1).
    pub jitter: f64,
    /// No retry whose wait would end later than this many ms after the first attempt began.
    pub deadline_ms: Option<u64>,
    /// HTTP statuses worth retrying (default 408, 429 and every 5xx). Any other status —
    /// a 400, a 401, a 404 — is the caller's to fix and is never retried.
    pub retry_statuses: Option<Vec<u16>>,
    pub retry_timeouts: bool,
    pub retry_connection_errors: bool,
    /// Seeds the jitter (tests and the parity suite); unseeded jitter draws from the OS.
    pub seed: Option<u64>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            backoff: Backoff::Exponential,
            max_retries: 3,
            base_delay_ms: 1_000,
            max_delay_ms: 60_000,
            multiplier: 2.0,
            jitter: 0.1,
            deadline_ms: None,
            retry_statuses: None,
            retry_timeouts: true,
            retry_connection_errors: true,
            seed: None,
        }
    }
}

impl RetryPolicy {
    /// A policy from JSON (`{"max_retries": 5, "backoff": "linear", ...}`; absent keys keep
    /// their defaults, unknown keys are an error), checked.
    pub fn from_json(json: &str) -> Result<RetryPolicy> {
        let json = if json.trim().is_empty() { "{}" } else { json };
        let policy: RetryPolicy =
            serde_json::from_str(json).map_err(|e| Error::invalid(format!("retry policy: {e}")))?;
        policy.check()?;
        Ok(policy)
    }

    /// Rejects a policy that cannot mean anything.
    pub fn check(&self) -> Result<()> {
        if self.max_retries > 100 {
            return Err(Error::invalid("retry policy: at most 100 retries"));
        }
        if !(self.multiplier.is_finite() && self.multiplier >= 1.0 && self.multiplier <= 100.0) {
            return Err(Error::invalid(format!(
                "retry policy: multiplier must be from 1 to 100, not {}",
                self.multiplier
            )));
        }
        if !(self.jitter.is_finite() && (0.0..=1.0).contains(&self.jitter)) {
            return Err(Error::invalid(format!(
                "retry policy: jitter is a fraction from 0 to 1, not {}",
                self.jitter
            )));
        }
        if self.max_delay_ms < self.base_delay_ms {
            return Err(Error::invalid(format!(
                "retry policy: max_delay_ms ({}) is below base_delay_ms ({})",
                self.max_delay_ms, self.base_delay_ms
            )));
        }
        if let Some(s) = self
            .retry_statuses
            .iter()
            .flatten()
            .find(|s| !(100..=599).contains(*s))
        {
            return Err(Error::invalid(format!(
                "retry policy: {s} is not an HTTP status"
            )));
        }
        Ok(())
    }

    /// The delay before retry `n` (1 = the first retry) before jitter, capped.
    pub fn base_delay(&self, n: u32) -> u64 {
        let base = self.base_delay_ms as f64;
        let d = match self.backoff {
            Backoff::Exponential => base * self.multiplier.powi(n.saturating_sub(1) as i32),
            Backoff::Linear => base * f64::from(n.max(1)),
            Backoff::Fixed => base,
        };
        (d.min(self.max_delay_ms as f64)) as u64
    }

    /// Whether a failure of this kind may be retried under this policy.
    pub fn retryable(&self, failure: &Failure) -> bool {
        match failure.kind {
            FailureKind::Timeout => self.retry_timeouts,
            FailureKind::Connection => self.retry_connection_errors,
            FailureKind::Transient => true,
            FailureKind::Refused | FailureKind::Other => false,
            FailureKind::Http => match failure.status {
                Some(s) => match &self.retry_statuses {
                    Some(list) => list.contains(&s),
                    None => s == 408 || s == 429 || (500..=599).contains(&s),
                },
                None => false,
            },
        }
    }
}

/// What kind of failure an attempt ended in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// The provider answered with an HTTP error status.
    Http,
    /// No answer in time.
    Timeout,
    /// The connection failed or was reset.
    Connection,
    /// The caller declared this error retryable (a flaky tool's own exception, listed in the
    /// face's `retryable_exceptions`): retried whatever its type.
    Transient,
    /// wflo refused the call (a budget, an open breaker): never retried.
    Refused,
    /// Anything else (a bug, a bad request built by the caller): never retried.
    Other,
}

impl FailureKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::Http => "http",
            FailureKind::Timeout => "timeout",
            FailureKind::Connection => "connection",
            FailureKind::Transient => "transient",
            FailureKind::Refused => "refused",
            FailureKind::Other => "other",
        }
    }
}

/// One failed attempt as a face saw it: ids, statuses and header values only — never a
/// prompt or a reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    pub kind: FailureKind,
    pub status: Option<u16>,
    /// The response's headers (names in any case); only the retry and rate-limit ones are read.
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    /// A short description (`429 Too Many Requests`, `connection reset`).
    #[serde(default)]
    pub message: String,
}

impl Failure {
    /// A one-line description: the message, else the kind and status.
    pub fn describe(&self) -> String {
        match (self.message.is_empty(), self.status) {
            (false, _) => self.message.clone(),
            (true, Some(s)) => format!("HTTP {s}"),
            (true, None) => self.kind.as_str().to_owned(),
        }
    }
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    /// Wait `delay_ms`, then make attempt number `attempt` (reserving it first).
    Retry {
        attempt: u32,
        delay_ms: u64,
        /// Why this retry: the failure, and where the delay came from.
        reason: String,
    },
    /// Give up: the last failure stands.
    GiveUp {
        /// Why, as a rule: `not_retryable` (raise the failure as it is), `exhausted` or
        /// `deadline` (raise a retries-exhausted error carrying it).
        why: GiveUpWhy,
        reason: String,
    },
}

/// Why a retrier gave up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GiveUpWhy {
    NotRetryable,
    Exhausted,
    Deadline,
}

/// The retry state of one logical call: how many attempts were made, since when.
#[derive(Debug, Clone)]
pub struct Retrier {
    policy: RetryPolicy,
    /// Attempts made so far (the first counts).
    attempts: u32,
    started_ms: u64,
    rng: u64,
    last_failure: Option<String>,
}

impl Retrier {
    /// A retrier for a call whose first attempt begins at `now_ms`.
    pub fn new(policy: RetryPolicy, now_ms: u64) -> Result<Retrier> {
        policy.check()?;
        let seed = match policy.seed {
            Some(s) => s,
            None => {
                let mut b = [0u8; 8];
                getrandom::fill(&mut b).map_err(|e| Error::Internal(e.to_string()))?;
                u64::from_le_bytes(b)
            }
        };
        Ok(Retrier {
            policy,
            attempts: 1,
            started_ms: now_ms,
            // splitmix64 of the seed, so small seeds still give well-spread draws.
            rng: splitmix(seed),
            last_failure: None,
        })
    }

    /// The attempt being made now (1 for the first).
    pub fn attempt(&self) -> u32 {
        self.attempts
    }

    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
    }

    /// The attempt just made failed at `now_ms`: retry (after how long) or give up.
    pub fn next(&mut self, failure: &Failure, now_ms: u64) -> Decision {
        let what = failure.describe();
        self.last_failure = Some(format!("attempt {} failed: {what}", self.attempts));
        if !self.policy.retryable(failure) {
            return Decision::GiveUp {
                why: GiveUpWhy::NotRetryable,
                reason: format!("{what} is not retryable"),
            };
        }
        if self.attempts > self.policy.max_retries {
            return Decision::GiveUp {
                why: GiveUpWhy::Exhausted,
                reason: format!(
                    "{what}; gave up after {} attempt{} (max_retries {})",
                    self.attempts,
                    if self.attempts == 1 { "" } else { "s" },
                    self.policy.max_retries
                ),
            };
        }
        let n = self.attempts; // this is retry number n
        let computed = self.jittered(self.policy.base_delay(n));
        let asked = retry_after_ms(&failure.headers, now_ms);
        let (delay, source) = match asked {
            Some(a) if a >= computed => (a, "the server's retry-after"),
            _ => (computed, self.policy.backoff.as_str()),
        };
        if let Some(deadline) = self.policy.deadline_ms {
            let ends = now_ms.saturating_add(delay);
            if ends > self.started_ms.saturating_add(deadline) {
                return Decision::GiveUp {
                    why: GiveUpWhy::Deadline,
                    reason: format!(
                        "{what}; a retry in {delay} ms would pass the {deadline} ms deadline"
                    ),
                };
            }
        }
        self.attempts += 1;
        Decision::Retry {
            attempt: self.attempts,
            delay_ms: delay,
            reason: format!("{what}; retry {n} after {delay} ms ({source})"),
        }
    }

    /// The retry this retrier is about to make, when the last attempt failed: `attempt 2 not
    /// sent: attempt 1 failed: 429 Too Many Requests` (what a refusal of it must say).
    pub fn refusal_note(&self) -> Option<String> {
        let last = self.last_failure.as_ref()?;
        Some(format!("attempt {} not sent: {last}", self.attempts))
    }

    /// A refusal's message with [`Retrier::refusal_note`] added as [`Error`]'s display adds
    /// it (for faces whose refusal was raised as their own exception).
    pub fn refused_message(&self, message: &str) -> String {
        match self.refusal_note() {
            Some(note) if !message.contains(&note) => format!("{message} ({note})"),
            _ => message.to_owned(),
        }
    }

    /// The jittered delay before retry `n` by the policy alone (no server hint): the original
    /// SDK's `calculate_delay`. Draws jitter from this retrier.
    pub fn delay_ms(&mut self, n: u32) -> u64 {
        let d = self.policy.base_delay(n);
        self.jittered(d)
    }

    /// The error for a retry the budget (or a breaker) refused: the refusal, saying which
    /// attempt was not made and what failed before it. Unchanged for a first attempt.
    pub fn refused(&self, error: Error) -> Error {
        let Some(note) = self.refusal_note() else {
            return error;
        };
        match error {
            Error::BudgetExceeded(mut b) => {
                b.retry_note = Some(note);
                Error::BudgetExceeded(b)
            }
            other => other,
        }
    }

    /// Draws the jittered delay: `d × (1 + u × jitter)` with `u` uniform in [−1, 1).
    fn jittered(&mut self, d: u64) -> u64 {
        if self.policy.jitter == 0.0 || d == 0 {
            return d;
        }
        self.rng = splitmix(self.rng);
        let u = (self.rng >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0;
        (d as f64 * (1.0 + u * self.policy.jitter)).round().max(0.0) as u64
    }
}

fn splitmix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// How long a response asks the caller to wait, in ms, from its headers: `retry-after-ms`
/// (OpenAI), `retry-after` (seconds or an HTTP date), else the latest rate-limit reset among
/// OpenAI's `x-ratelimit-reset-requests`/`-tokens` (`1s`, `6m0s`, `20ms`) and Anthropic's
/// `anthropic-ratelimit-*-reset` (an RFC 3339 time). `None` when none is readable.
pub fn retry_after_ms(headers: &[(String, String)], now_ms: u64) -> Option<u64> {
    let get = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
    };
    if let Some(ms) = get("retry-after-ms").and_then(|v| v.parse::<f64>().ok())
        && ms.is_finite()
        && ms >= 0.0
    {
        return Some(ms.round() as u64);
    }
    if let Some(v) = get("retry-after") {
        if let Ok(s) = v.parse::<f64>()
            && s.is_finite()
            && s >= 0.0
        {
            return Some((s * 1000.0).round() as u64);
        }
        if let Some(at) = parse_http_date(v) {
            return Some(at.saturating_sub(now_ms));
        }
    }
    let mut latest: Option<u64> = None;
    for (k, v) in headers {
        let k = k.to_ascii_lowercase();
        let wait = if k.starts_with("x-ratelimit-reset") {
            parse_go_duration(v.trim())
        } else if k.starts_with("anthropic-ratelimit-") && k.ends_with("-reset") {
            parse_rfc3339(v.trim()).map(|at| at.saturating_sub(now_ms))
        } else {
            None
        };
        if let Some(w) = wait {
            latest = Some(latest.map_or(w, |l| l.max(w)));
        }
    }
    latest
}

/// `6m0s`, `1.5s`, `20ms`, `1h2m` (OpenAI's reset headers) in ms.
fn parse_go_duration(s: &str) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    let (mut total, mut rest) = (0f64, s);
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let n: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let ms = match &rest[..unit_len] {
            "h" => 3_600_000.0,
            "m" => 60_000.0,
            "s" => 1_000.0,
            "ms" => 1.0,
            _ => return None,
        };
        total += n * ms;
        rest = &rest[unit_len..];
    }
    Some(total.round() as u64)
}

/// `2026-12-02T19:28:45Z` / `…+00:00` / with fractional seconds, as Unix ms.
fn parse_rfc3339(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<u64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut rest = &s[19..];
    let mut frac_ms = 0;
    if let Some(r) = rest.strip_prefix('.') {
        let digits = r.find(|c: char| !c.is_ascii_digit()).unwrap_or(r.len());
        let f = &r[..digits];
        frac_ms = format!("{f:0<3}")[..3].parse().ok()?;
        rest = &r[digits..];
    }
    let offset_s: i64 = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let oh: i64 = rest.get(1..3)?.parse().ok()?;
            let om: i64 = rest.get(4..6)?.parse().ok()?;
            sign * (oh * 3600 + om * 60)
        }
    };
    let secs = days_from_civil(y as i64, mo as u32, d as u32)? * 86_400
        + (h * 3600 + mi * 60 + sec) as i64
        - offset_s;
    u64::try_from(secs).ok().map(|s| s * 1000 + frac_ms)
}

/// `Wed, 21 Oct 2015 07:28:00 GMT` (the HTTP date `Retry-After` may carry) as Unix ms.
fn parse_http_date(s: &str) -> Option<u64> {
    let parts: Vec<&str> = s.split_whitespace().collect();
    if parts.len() != 6 || parts[5] != "GMT" {
        return None;
    }
    let d: u32 = parts[1].parse().ok()?;
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let mo = MONTHS.iter().position(|m| *m == parts[2])? as u32 + 1;
    let y: i64 = parts[3].parse().ok()?;
    let t: Vec<u64> = parts[4]
        .split(':')
        .map(|x| x.parse().ok())
        .collect::<Option<_>>()?;
    if t.len() != 3 {
        return None;
    }
    let secs = days_from_civil(y, mo, d)? * 86_400 + (t[0] * 3600 + t[1] * 60 + t[2]) as i64;
    u64::try_from(secs).ok().map(|s| s * 1000)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (the inverse of
/// [`crate::clock::civil_date`]).
fn days_from_civil(y: i64, m: u32, d: u32) -> Option<i64> {
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if m > 2 { m - 3 } else { m + 9 } as i64;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

#[cfg(test)]
mod tests;
