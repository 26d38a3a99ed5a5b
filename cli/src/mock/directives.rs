//! How a test asks the mock for a particular behaviour. Directives are `key=value` pairs,
//! comma-separated, given either in an `x-mock` request header or in the URL path:
//! `http://127.0.0.1:PORT/mock/reply=5,cached=100/v1/chat/completions` — the path form works
//! with every client library (point its base URL there) and every framework above it.
//!
//! | key | effect |
//! | --- | --- |
//! | `reply=N` | the reply has about N tokens (default 24; `max_tokens` caps it) |
//! | `reasoning=N` | N reasoning tokens (OpenAI `reasoning_tokens`; an Anthropic thinking block) |
//! | `cached=N` | N prompt tokens read from cache |
//! | `cache_write=N`, `cache_write_1h=N` | Anthropic cache writes (5-minute, 1-hour) |
//! | `tool=NAME` | answer with a call of tool NAME |
//! | `status=CODE` | answer with this HTTP error (429, 500, …) |
//! | `latency=MS` | wait before answering |
//! | `cut=usage` | end a stream cleanly but without its usage |
//! | `reset=N` | reset the connection after N streamed content events |
//! | `fail=N` | only the first N requests with the same directives fail (with `status`, default 503); later ones succeed — a provider that recovers, for retry tests |
//! | `fail_rate=PCT` | that percentage of the requests with the same directives fail (with `status`, default 500), evenly spread |
//! | `key=NAME` | no effect but to keep the `fail`/`fail_rate` counts of different tests apart |
//! | `retry_after=S`, `retry_after_ms=MS` | the `retry-after` / `retry-after-ms` header of an error answer (instead of the defaults: OpenAI `retry-after-ms: 10`, Anthropic `retry-after: 0`) |

use std::time::Duration;

/// The parsed directives of one request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Directives {
    pub reply: Option<u64>,
    pub reasoning: u64,
    pub cached: u64,
    pub cache_write: u64,
    pub cache_write_1h: u64,
    pub tool: Option<String>,
    pub status: Option<u16>,
    pub latency: Option<Duration>,
    pub cut_usage: bool,
    pub reset_after: Option<u64>,
    pub fail: Option<u64>,
    pub fail_rate: Option<u64>,
    pub retry_after: Option<u64>,
    pub retry_after_ms: Option<u64>,
    /// The directive text as given: what `fail` and `fail_rate` count requests by.
    pub text: String,
}

impl Directives {
    /// Parses `k=v,k=v`; unknown keys are an error (a typo must not silently do nothing).
    pub fn parse(text: &str) -> Result<Directives, String> {
        let mut d = Directives::default();
        for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (k, v) = pair
                .split_once('=')
                .ok_or_else(|| format!("mock directive '{pair}' is not key=value"))?;
            let num = || {
                v.parse::<u64>()
                    .map_err(|_| format!("mock directive {k} needs a number, got '{v}'"))
            };
            match k {
                "reply" => d.reply = Some(num()?),
                "reasoning" => d.reasoning = num()?,
                "cached" => d.cached = num()?,
                "cache_write" => d.cache_write = num()?,
                "cache_write_1h" => d.cache_write_1h = num()?,
                "tool" => d.tool = Some(v.to_owned()),
                "status" => d.status = Some(v.parse().map_err(|_| format!("bad status '{v}'"))?),
                "latency" => d.latency = Some(Duration::from_millis(num()?)),
                "cut" if v == "usage" => d.cut_usage = true,
                "reset" => d.reset_after = Some(num()?),
                "fail" => d.fail = Some(num()?),
                "fail_rate" => match num()? {
                    p @ 0..=100 => d.fail_rate = Some(p),
                    p => return Err(format!("mock directive fail_rate is a percent, not {p}")),
                },
                "key" => {}
                "retry_after" => d.retry_after = Some(num()?),
                "retry_after_ms" => d.retry_after_ms = Some(num()?),
                _ => return Err(format!("unknown mock directive '{pair}'")),
            }
        }
        d.text = text.to_owned();
        Ok(d)
    }

    /// Whether the `n`-th request (from 1) with these directives fails, and with which status.
    pub fn failure(&self, n: u64) -> Option<u16> {
        if let Some(f) = self.fail {
            return (n <= f).then_some(self.status.unwrap_or(503));
        }
        if let Some(p) = self.fail_rate {
            // Evenly spread: request n fails when it takes the running count past a multiple.
            return (n * p / 100 > (n - 1) * p / 100).then_some(self.status.unwrap_or(500));
        }
        self.status
    }

    /// Whether answers depend on how many requests came before (`fail`, `fail_rate`).
    pub fn counted(&self) -> bool {
        self.fail.is_some() || self.fail_rate.is_some()
    }

    /// The retry headers of an error answer, when the directives set them.
    pub fn retry_headers(&self) -> Option<Vec<(&'static str, String)>> {
        let mut h = Vec::new();
        if let Some(ms) = self.retry_after_ms {
            h.push(("retry-after-ms", ms.to_string()));
        }
        if let Some(s) = self.retry_after {
            h.push(("retry-after", s.to_string()));
        }
        (!h.is_empty()).then_some(h)
    }

    /// Merges the path form and the header form (the header wins).
    pub fn from_request(
        path_part: Option<&str>,
        header: Option<&str>,
    ) -> Result<Directives, String> {
        let mut text = String::new();
        for part in [path_part, header].into_iter().flatten() {
            if !text.is_empty() {
                text.push(',');
            }
            text.push_str(part);
        }
        Directives::parse(&text)
    }
}

/// Splits `/mock/<directives>/v1/...` into (directives, `/v1/...`).
pub fn split_path(path: &str) -> (Option<&str>, &str) {
    if let Some(rest) = path.strip_prefix("/mock/") {
        if let Some(i) = rest.find('/') {
            return (Some(&rest[..i]), &rest[i..]);
        }
    }
    (None, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_forms() {
        let (d, p) = split_path("/mock/reply=5,cached=100/v1/chat/completions");
        assert_eq!(p, "/v1/chat/completions");
        let d = Directives::from_request(d, Some("status=429")).unwrap();
        assert_eq!((d.reply, d.cached, d.status), (Some(5), 100, Some(429)));
        assert!(Directives::parse("bogus=1").is_err());
        assert_eq!(split_path("/v1/models"), (None, "/v1/models"));
    }

    #[test]
    fn fail_counts_and_rates() {
        let d = Directives::parse("status=429,fail=2,key=t1").unwrap();
        let got: Vec<_> = (1..=4).map(|n| d.failure(n)).collect();
        assert_eq!(got, [Some(429), Some(429), None, None]);
        let d = Directives::parse("fail_rate=25").unwrap();
        let failed = (1..=100).filter(|n| d.failure(*n) == Some(500)).count();
        assert_eq!(failed, 25);
        assert_eq!(d.failure(4), Some(500));
        assert_eq!(d.failure(1), None);
        assert!(Directives::parse("fail_rate=101").is_err());
        let d = Directives::parse("retry_after=3").unwrap();
        assert_eq!(
            d.retry_headers(),
            Some(vec![("retry-after", "3".to_owned())])
        );
    }
}
