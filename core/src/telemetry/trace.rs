//! W3C trace context: the `traceparent` a face passes down so wflo's spans join the host
//! application's trace, and the ids wflo draws when there is none.

use crate::error::{Error, Result};

/// Where an execution sits in a distributed trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceContext {
    pub trace_id: [u8; 16],
    /// The host's span that parents the execution's span (`None`: wflo started the trace).
    pub parent_span_id: Option<[u8; 8]>,
    /// The host's sampling decision (`true` when wflo started the trace).
    pub sampled: bool,
}

impl TraceContext {
    /// A new trace with a random id.
    pub fn fresh() -> Result<TraceContext> {
        let mut trace_id = [0u8; 16];
        while trace_id == [0; 16] {
            getrandom::fill(&mut trace_id)
                .map_err(|e| Error::Internal(format!("no randomness: {e}")))?;
        }
        Ok(TraceContext {
            trace_id,
            parent_span_id: None,
            sampled: true,
        })
    }

    /// Reads a `traceparent` header value (`00-<32 hex>-<16 hex>-<2 hex>`). Anything else —
    /// another length, upper-case hex, all-zero ids, version `ff` — is `INVALID_ARGUMENT`:
    /// a face passes what its OpenTelemetry API formatted, so a bad value is a bug to report,
    /// not a trace to silently restart.
    pub fn from_traceparent(text: &str) -> Result<TraceContext> {
        let bad = || {
            Error::invalid(format!(
                "traceparent must be 00-<32 hex trace id>-<16 hex span id>-<2 hex flags>, not {:?}",
                text.chars().take(80).collect::<String>()
            ))
        };
        let parts: Vec<&str> = text.trim().split('-').collect();
        if parts.len() < 4 {
            return Err(bad());
        }
        let (version, trace, span, flags) = (parts[0], parts[1], parts[2], parts[3]);
        // Version 00 has exactly four fields; later versions may append more.
        if version.len() != 2 || version == "ff" || (version == "00" && parts.len() != 4) {
            return Err(bad());
        }
        let trace_id: [u8; 16] = hex_bytes(trace).ok_or_else(bad)?;
        let span_id: [u8; 8] = hex_bytes(span).ok_or_else(bad)?;
        let flags: [u8; 1] = hex_bytes(flags).ok_or_else(bad)?;
        hex_bytes::<1>(version).ok_or_else(bad)?;
        if trace_id == [0; 16] || span_id == [0; 8] {
            return Err(bad());
        }
        Ok(TraceContext {
            trace_id,
            parent_span_id: Some(span_id),
            sampled: flags[0] & 1 == 1,
        })
    }

    /// The trace id as 32 lower-case hex digits.
    pub fn trace_id_hex(&self) -> String {
        hex(&self.trace_id)
    }
}

/// Lower-case hex of some bytes.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hex_bytes<const N: usize>(text: &str) -> Option<[u8; N]> {
    if text.len() != 2 * N
        || !text
            .bytes()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
    {
        return None;
    }
    let mut out = [0u8; N];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_traceparent_and_refuses_bad_ones() {
        let t = TraceContext::from_traceparent(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )
        .unwrap();
        assert_eq!(t.trace_id_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(
            t.parent_span_id.map(|s| hex(&s)).as_deref(),
            Some("00f067aa0ba902b7")
        );
        assert!(t.sampled);
        let unsampled = TraceContext::from_traceparent(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
        )
        .unwrap();
        assert!(!unsampled.sampled);
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
        ] {
            let e = TraceContext::from_traceparent(bad).unwrap_err();
            assert_eq!(e.code(), crate::ErrorCode::InvalidArgument, "{bad}");
        }
    }

    #[test]
    fn fresh_traces_differ() {
        assert_ne!(
            TraceContext::fresh().unwrap().trace_id,
            TraceContext::fresh().unwrap().trace_id
        );
    }
}
