//! Checkpoints as people read and type them.
//!
//! The store's checkpoint id is an internal number (on SQLite the row id shifted left 32 bits
//! and or-ed with the sequence: `4294967297`). People see a checkpoint's sequence within its
//! execution instead — `#3`, or `exec-…#3` where it must stand alone — and may name one by
//! `#3`, `3`, its name, or the internal id; `--json` keeps the internal id and adds the
//! sequence.

use serde_json::{Value, json};
use wflo_core::CheckpointInfo;

use crate::exit::CliError;

/// How a checkpoint is shown in a table: `#3`.
pub fn short(sequence: u64) -> String {
    format!("#{sequence}")
}

/// How a checkpoint is shown where it must stand alone: `exec-0123456789ab#3`.
pub fn full(execution_id: &str, sequence: u64) -> String {
    format!("{execution_id}#{sequence}")
}

/// Splits `exec-…#3` into the execution id and the checkpoint (`#3`; after the `#` a name is
/// taken too: `exec-…#after-plan`); any other text is an execution id alone.
pub fn split(arg: &str) -> (&str, Option<String>) {
    match arg.split_once('#') {
        Some((exec, rest)) if arg.starts_with("exec-") => {
            let wanted = if !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()) {
                format!("#{rest}")
            } else {
                rest.to_owned()
            };
            (exec, Some(wanted))
        }
        _ => (arg, None),
    }
}

/// The sequence of the checkpoint with internal id `id`, if it is still in `list`. Both stores
/// list an execution's checkpoints in id order, so this is a binary search (called for every
/// row of a 100 k-checkpoint table, a scan made it quadratic); a list in another order is
/// still searched whole.
pub fn sequence_of(list: &[CheckpointInfo], id: u64) -> Option<u64> {
    match list.binary_search_by_key(&id, |c| c.id) {
        Ok(i) => Some(list[i].sequence),
        Err(_) => list.iter().find(|c| c.id == id).map(|c| c.sequence),
    }
}

/// The checkpoint `wanted` names among `list` (one execution's checkpoints):
///
/// 1. `#N`: the checkpoint with sequence N;
/// 2. a name: the latest live checkpoint of that name, else the latest of that name;
/// 3. a number `N`: the checkpoint with sequence N, else the one with internal id N.
pub fn resolve<'a>(
    list: &'a [CheckpointInfo],
    execution_id: &str,
    wanted: &str,
) -> Result<&'a CheckpointInfo, CliError> {
    let wanted_trimmed = wanted.trim();
    let by_sequence = |n: u64| list.iter().find(|c| c.sequence == n);
    let found = if let Some(n) = wanted_trimmed.strip_prefix('#') {
        let n: u64 = n.parse().map_err(|_| {
            CliError::other(format!(
                "'{wanted}' is not a checkpoint sequence (expected # followed by a number, e.g. #3)"
            ))
        })?;
        by_sequence(n)
    } else {
        let named = || list.iter().rev().filter(|c| c.name == wanted);
        named()
            .find(|c| !c.superseded)
            .or_else(|| named().next())
            .or_else(|| {
                let n: u64 = wanted_trimmed.parse().ok()?;
                by_sequence(n).or_else(|| list.iter().find(|c| c.id == n))
            })
    };
    found.ok_or_else(|| {
        let known = match (list.first(), list.last()) {
            (Some(first), Some(last)) if first.sequence == last.sequence => {
                format!("it has {}", short(first.sequence))
            }
            (Some(first), Some(last)) => {
                format!("it has {} to {}", short(first.sequence), short(last.sequence))
            }
            _ => "it has none".to_owned(),
        };
        wflo_core::Error::NotFound(format!(
            "checkpoint '{wanted}' in execution {execution_id} ({known}; see wflo checkpoints {execution_id})"
        ))
        .into()
    })
}

/// A checkpoint as JSON: every stored field, the internal `id` exact, plus `ref`
/// (`exec-…#3`) and `parent_sequence` (null when there is no parent or it was pruned).
pub fn to_json(list: &[CheckpointInfo], c: &CheckpointInfo) -> Value {
    let mut v = serde_json::to_value(c).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut v {
        map.insert("ref".into(), json!(full(&c.execution_id, c.sequence)));
        map.insert(
            "parent_sequence".into(),
            json!(c.parent_id.and_then(|p| sequence_of(list, p))),
        );
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cp(id: u64, sequence: u64, name: &str, superseded: bool) -> CheckpointInfo {
        CheckpointInfo {
            id,
            execution_id: "exec-0123456789ab".into(),
            name: name.into(),
            sequence,
            parent_id: None,
            spent_nanos: 0,
            created_at_ms: 0,
            superseded,
            state_bytes: 2,
            content_type: None,
        }
    }

    fn list() -> Vec<CheckpointInfo> {
        vec![
            cp(4294967297, 1, "plan", false),
            cp(4294967298, 2, "write", true),
            cp(4294967299, 3, "7", false),
            cp(4294967300, 4, "write", false),
            cp(4294967301, 5, "draft", true),
            cp(4294967302, 6, "draft", true),
        ]
    }

    #[test]
    fn sequences_names_and_ids_resolve() {
        let l = list();
        let r = |w: &str| resolve(&l, "exec-0123456789ab", w).map(|c| c.id);
        assert_eq!(r("#2"), Ok(4294967298));
        assert_eq!(r("2"), Ok(4294967298));
        assert_eq!(r("plan"), Ok(4294967297));
        // The live one of a repeated name, else the latest.
        assert_eq!(r("write"), Ok(4294967300));
        assert_eq!(r("draft"), Ok(4294967302));
        // A name wins over a sequence; `#N` is always the sequence.
        assert_eq!(r("7"), Ok(4294967299));
        assert_eq!(r("#3"), Ok(4294967299));
        assert_eq!(r("4294967297"), Ok(4294967297));
        let missing = r("#9").unwrap_err();
        assert_eq!(missing.exit, crate::exit::NOT_FOUND);
        assert!(missing.message.contains("#1 to #6"), "{}", missing.message);
        assert_eq!(r("nope").unwrap_err().exit, crate::exit::NOT_FOUND);
        assert_eq!(r("#x").unwrap_err().exit, crate::exit::FAILURE);
    }

    #[test]
    fn sequences_are_found_in_order_or_not() {
        let l = list();
        assert_eq!(sequence_of(&l, 4294967300), Some(4));
        assert_eq!(sequence_of(&l, 4294967303), None);
        let mut shuffled = l.clone();
        shuffled.reverse();
        assert_eq!(sequence_of(&shuffled, 4294967298), Some(2));
    }

    #[test]
    fn standalone_refs_split() {
        assert_eq!(
            split("exec-0123456789ab#3"),
            ("exec-0123456789ab", Some("#3".into()))
        );
        assert_eq!(
            split("exec-0123456789ab#plan"),
            ("exec-0123456789ab", Some("plan".into()))
        );
        assert_eq!(split("exec-0123456789ab"), ("exec-0123456789ab", None));
        assert_eq!(full("exec-0123456789ab", 3), "exec-0123456789ab#3");
    }
}
