//! Model name → price entry, in the order DESIGN.md §3 fixes: exact name → without the
//! provider prefix → dated snapshot to its base → `UNKNOWN_MODEL` with suggestions.

/// Splits a dated snapshot suffix off a model name (`gpt-4o-2024-08-06` → `gpt-4o`,
/// `claude-sonnet-4-5-20250929` → `claude-sonnet-4-5`, `gemini-1.5-pro@20240514`,
/// `gpt-4-0613` → `gpt-4`). Returns `None` when the name has no such suffix.
pub(crate) fn strip_snapshot(name: &str) -> Option<&str> {
    let bytes = name.as_bytes();
    let digits = |s: &[u8]| s.iter().all(u8::is_ascii_digit);
    let n = bytes.len();
    // -YYYY-MM-DD
    if n > 11 {
        let tail = &bytes[n - 11..];
        if tail[0] == b'-'
            && digits(&tail[1..5])
            && tail[5] == b'-'
            && digits(&tail[6..8])
            && tail[8] == b'-'
            && digits(&tail[9..11])
            && plausible_year(&tail[1..5])
        {
            return Some(&name[..n - 11]);
        }
    }
    // -YYYYMMDD or @YYYYMMDD
    if n > 9 {
        let tail = &bytes[n - 9..];
        if (tail[0] == b'-' || tail[0] == b'@')
            && digits(&tail[1..9])
            && plausible_year(&tail[1..5])
        {
            return Some(&name[..n - 9]);
        }
    }
    // -MMDD (gpt-4-0613, gpt-3.5-turbo-0125)
    if n > 5 {
        let tail = &bytes[n - 5..];
        if tail[0] == b'-' && digits(&tail[1..5]) {
            let month = u32::from(tail[1] - b'0') * 10 + u32::from(tail[2] - b'0');
            let day = u32::from(tail[3] - b'0') * 10 + u32::from(tail[4] - b'0');
            if (1..=12).contains(&month) && (1..=31).contains(&day) {
                return Some(&name[..n - 5]);
            }
        }
    }
    None
}

fn plausible_year(y: &[u8]) -> bool {
    y.starts_with(b"20")
}

/// Names without their leading provider segments, shortest last:
/// `bedrock/us/anthropic.claude` → [`us/anthropic.claude`, `anthropic.claude`].
pub(crate) fn without_prefixes(name: &str) -> impl Iterator<Item = &str> {
    let mut rest = name;
    std::iter::from_fn(move || {
        let (_, tail) = rest.split_once('/')?;
        rest = tail;
        (!tail.is_empty()).then_some(tail)
    })
}

/// Up to `limit` names similar to `wanted`, most similar first.
pub(crate) fn suggestions<'a>(
    wanted: &str,
    names: impl Iterator<Item = &'a str>,
    limit: usize,
) -> Vec<String> {
    let wanted = wanted.to_lowercase();
    let mut scored: Vec<(f64, &str)> = names
        .map(|n| (strsim::jaro_winkler(&wanted, &n.to_lowercase()), n))
        .filter(|(score, _)| *score >= 0.75)
        .collect();
    scored.sort_by(|a, b| {
        b.0.total_cmp(&a.0)
            .then(a.1.len().cmp(&b.1.len()))
            .then(a.1.cmp(b.1))
    });
    scored.dedup_by(|a, b| a.1 == b.1);
    scored
        .into_iter()
        .take(limit)
        .map(|(_, n)| n.to_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshots_strip() {
        assert_eq!(strip_snapshot("gpt-4o-2024-08-06"), Some("gpt-4o"));
        assert_eq!(
            strip_snapshot("claude-sonnet-4-5-20250929"),
            Some("claude-sonnet-4-5")
        );
        assert_eq!(
            strip_snapshot("gemini-1.5-pro@20240514"),
            Some("gemini-1.5-pro")
        );
        assert_eq!(strip_snapshot("gpt-4-0613"), Some("gpt-4"));
        assert_eq!(strip_snapshot("gpt-4o"), None);
        assert_eq!(strip_snapshot("llama-3-70b-8192"), None);
    }

    #[test]
    fn prefixes_strip() {
        let v: Vec<_> = without_prefixes("openrouter/openai/gpt-4o").collect();
        assert_eq!(v, ["openai/gpt-4o", "gpt-4o"]);
        assert_eq!(without_prefixes("gpt-4o").count(), 0);
    }
}
