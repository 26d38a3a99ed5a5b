//! Execution ids: `exec-` followed by 12 lowercase hex digits (48 random bits).

use crate::error::{Error, Result};

/// A fresh random execution id.
pub fn new_execution_id() -> String {
    let mut bytes = [0u8; 6];
    // The OS generator only fails on broken systems; the id is then still unique enough within
    // one process by mixing in the time and a counter.
    if getrandom::fill(&mut bytes).is_err() {
        use std::sync::atomic::{AtomicU64, Ordering};
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        let mixed = t ^ COUNTER.fetch_add(1, Ordering::Relaxed).rotate_left(40);
        bytes.copy_from_slice(&mixed.to_le_bytes()[..6]);
    }
    let mut id = String::with_capacity(17);
    id.push_str("exec-");
    for b in bytes {
        id.push_str(&format!("{b:02x}"));
    }
    id
}

/// Checks that `id` has the form of an execution id.
pub fn check_execution_id(id: &str) -> Result<()> {
    let ok = id.len() == 17
        && id.starts_with("exec-")
        && id[5..]
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "'{id}' is not an execution id (expected 'exec-' followed by 12 lowercase hex digits)"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_the_documented_form() {
        let a = new_execution_id();
        check_execution_id(&a).unwrap();
        assert_ne!(a, new_execution_id());
        assert!(check_execution_id("exec-ABCDEF123456").is_err());
        assert!(check_execution_id("exec-12345").is_err());
        assert!(check_execution_id("job-a1b2c3d4e5f6").is_err());
    }
}
