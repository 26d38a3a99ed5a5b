//! The wflo checkpoint names of LangGraph's records: `langgraph/<thread>/<ns>/<id>` for a
//! checkpoint, `langgraph-writes/<thread>/<ns>/<id>` for a task's writes and
//! `langgraph-delete/<thread>` for a tombstone. Each part is percent-encoded (every byte but
//! `A-Z a-z 0-9 - . _ ~`), so a "/" in a thread id cannot split a name; any percent-encoding
//! is read back (older JS savers left `! * ' ( )` as they were).

/// The three kinds of record, by the first part of their names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Kind {
    Checkpoint,
    Writes,
    Delete,
}

impl Kind {
    fn prefix(self) -> &'static str {
        match self {
            Kind::Checkpoint => "langgraph",
            Kind::Writes => "langgraph-writes",
            Kind::Delete => "langgraph-delete",
        }
    }
}

/// The wflo checkpoint name of a LangGraph checkpoint: what `rollback_to_checkpoint` takes.
pub fn checkpoint_name(thread: &str, ns: &str, checkpoint_id: &str) -> String {
    name(Kind::Checkpoint, &[thread, ns, checkpoint_id])
}

pub(crate) fn name(kind: Kind, parts: &[&str]) -> String {
    let mut out = String::with_capacity(
        kind.prefix().len() + parts.iter().map(|p| p.len() + 1).sum::<usize>(),
    );
    out.push_str(kind.prefix());
    for part in parts {
        out.push('/');
        encode(part, &mut out);
    }
    out
}

/// The name prefixes of every record of `thread` (a store may match a few others' too:
/// `langgraph-delete/ab` starts with thread `a`'s), in each way a saver has spelled the thread:
/// percent-encoded as [`encode`] does (and Python's earlier saver, `quote(…, safe="")`), and,
/// when it holds one of `! * ' ( )`, as earlier JS savers did (`encodeURIComponent` leaves
/// those as they are).
pub(crate) fn thread_prefixes(thread: &str) -> Vec<String> {
    let mut spellings = vec![String::with_capacity(thread.len())];
    encode(thread, &mut spellings[0]);
    if thread.contains(['!', '*', '\'', '(', ')']) {
        let mut js = String::with_capacity(thread.len());
        for c in thread.chars() {
            match c {
                '!' | '*' | '\'' | '(' | ')' => js.push(c),
                _ => encode(c.encode_utf8(&mut [0; 4]), &mut js),
            }
        }
        spellings.push(js);
    }
    spellings
        .iter()
        .flat_map(|t| {
            [
                format!("{}/{t}/", Kind::Checkpoint.prefix()),
                format!("{}/{t}/", Kind::Writes.prefix()),
                format!("{}/{t}", Kind::Delete.prefix()),
            ]
        })
        .collect()
}

fn encode(part: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in part.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[(b >> 4) as usize] as char);
            out.push(HEX[(b & 15) as usize] as char);
        }
    }
}

fn decode(part: &str) -> Option<String> {
    if !part.contains('%') {
        return Some(part.to_owned());
    }
    let bytes = part.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// A parsed record name: its kind, thread, and (not for a tombstone) namespace and checkpoint id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Parsed {
    pub kind: Kind,
    pub thread: String,
    pub ns: String,
    pub checkpoint_id: String,
}

/// The record a wflo checkpoint name stands for, or `None` when it is not one of the saver's.
pub(crate) fn parse(name: &str) -> Option<Parsed> {
    let mut parts = name.split('/');
    let kind = match parts.next()? {
        "langgraph" => Kind::Checkpoint,
        "langgraph-writes" => Kind::Writes,
        "langgraph-delete" => Kind::Delete,
        _ => return None,
    };
    let rest: Vec<&str> = parts.collect();
    match (kind, rest.as_slice()) {
        (Kind::Delete, [thread]) => Some(Parsed {
            kind,
            thread: decode(thread)?,
            ns: String::new(),
            checkpoint_id: String::new(),
        }),
        (Kind::Checkpoint | Kind::Writes, [thread, ns, id]) => Some(Parsed {
            kind,
            thread: decode(thread)?,
            ns: decode(ns)?,
            checkpoint_id: decode(id)?,
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_whatever_the_ids_hold() {
        for (thread, ns, id) in [
            ("t", "", "1"),
            ("a/b", "ns|x:y", "é €"),
            ("100%", "(x)!*'", "~._-"),
        ] {
            let n = checkpoint_name(thread, ns, id);
            assert_eq!(n.matches('/').count(), 3, "{n}");
            let p = parse(&n).unwrap();
            assert_eq!(
                (
                    p.kind,
                    p.thread.as_str(),
                    p.ns.as_str(),
                    p.checkpoint_id.as_str()
                ),
                (Kind::Checkpoint, thread, ns, id)
            );
        }
        assert_eq!(checkpoint_name("a/b", "", "x y"), "langgraph/a%2Fb//x%20y");
        // What Python's quote(safe='') and JS's encodeURIComponent wrote both read back.
        assert_eq!(parse("langgraph-writes/(a)!/%2F/1").unwrap().thread, "(a)!");
        assert_eq!(
            parse("langgraph-delete/t%2F1").unwrap(),
            Parsed {
                kind: Kind::Delete,
                thread: "t/1".into(),
                ns: "".into(),
                checkpoint_id: "".into()
            }
        );
    }

    #[test]
    fn a_thread_is_prefixed_in_each_spelling_savers_wrote() {
        assert_eq!(
            thread_prefixes("t-1"),
            [
                "langgraph/t-1/",
                "langgraph-writes/t-1/",
                "langgraph-delete/t-1"
            ]
        );
        assert_eq!(
            thread_prefixes("a:b"),
            [
                "langgraph/a%3Ab/",
                "langgraph-writes/a%3Ab/",
                "langgraph-delete/a%3Ab"
            ]
        );
        // Earlier JS savers left ! * ' ( ) as they were; every other byte alike.
        let both = thread_prefixes("(é)!");
        assert_eq!(both.len(), 6);
        assert_eq!(both[0], "langgraph/%28%C3%A9%29%21/");
        assert_eq!(both[3], "langgraph/(%C3%A9)!/");
        for p in &both[..3] {
            assert!(parse(&format!("{p}{}", if p.ends_with('/') { "/c" } else { "" })).is_some());
        }
    }

    #[test]
    fn other_names_are_not_records() {
        for n in [
            "step-1",
            "langgraph/t/ns",
            "langgraph/t/ns/id/x",
            "langgraph-delete/t/x",
            "langgraph/t/%zz/1",
            "langgraph/t/%ff/1",
        ] {
            assert_eq!(parse(n), None, "{n}");
        }
    }
}
