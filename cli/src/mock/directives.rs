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
                _ => return Err(format!("unknown mock directive '{pair}'")),
            }
        }
        Ok(d)
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
}
