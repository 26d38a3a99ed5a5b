//! Execution ids: `exec-` followed by 12 lowercase hex digits (48 random bits).

use crate::error::{Error, Result};

/// A fresh random execution id. Fails (INTERNAL) rather than make an id without randomness
/// when the OS generator fails: a guessable or repeated id would mix two executions' records.
pub fn new_execution_id() -> Result<String> {
    Ok(format!("exec-{}", random_hex::<6>(getrandom::fill)?))
}

/// A fresh random reservation id for the store's shared-scope bookings (64 bits).
pub fn new_reservation_id() -> Result<String> {
    Ok(format!("r-{}", random_hex::<8>(getrandom::fill)?))
}

/// Runs `create` with `id`; while it answers CONFLICT (the id is taken), draws a fresh id from
/// `fresh` and tries again, at most `retries` times.
pub(crate) fn with_fresh_ids<T>(
    id: &mut String,
    retries: u32,
    mut fresh: impl FnMut() -> Result<String>,
    mut create: impl FnMut(&str) -> Result<T>,
) -> Result<T> {
    let mut left = retries;
    loop {
        match create(id) {
            Err(Error::Conflict(_)) if left > 0 => {
                left -= 1;
                *id = fresh()?;
            }
            other => return other,
        }
    }
}

/// `N` random bytes from `fill` as lowercase hex.
fn random_hex<const N: usize>(
    fill: impl FnOnce(&mut [u8]) -> std::result::Result<(), getrandom::Error>,
) -> Result<String> {
    let mut bytes = [0u8; N];
    fill(&mut bytes).map_err(|e| {
        Error::Internal(format!(
            "the operating system's random generator failed ({e}): no id is made without it"
        ))
    })?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
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
        let a = new_execution_id().unwrap();
        check_execution_id(&a).unwrap();
        assert_ne!(a, new_execution_id().unwrap());
        let r = new_reservation_id().unwrap();
        assert!(r.len() == 18 && r.starts_with("r-"), "{r}");
        assert!(check_execution_id("exec-ABCDEF123456").is_err());
        assert!(check_execution_id("exec-12345").is_err());
        assert!(check_execution_id("job-a1b2c3d4e5f6").is_err());
    }

    #[test]
    fn a_taken_id_is_drawn_again_a_chosen_one_is_not() {
        let taken = ["exec-000000000001", "exec-000000000002"];
        let create = |id: &str| {
            if taken.contains(&id) {
                Err(Error::Conflict(format!("execution {id} already exists")))
            } else {
                Ok(id.to_owned())
            }
        };
        let mut draws = ["exec-000000000003", "exec-000000000002"].into_iter().rev();
        let mut id = "exec-000000000001".to_owned();
        let fresh = || Ok(draws.next().unwrap().to_owned());
        // Taken, then taken again, then free: the third id is used.
        assert_eq!(
            with_fresh_ids(&mut id, 4, fresh, create).unwrap(),
            "exec-000000000003"
        );
        assert_eq!(id, "exec-000000000003");
        // No retries (an id the caller chose): the conflict is the answer.
        let mut mine = "exec-000000000001".to_owned();
        let err = with_fresh_ids(&mut mine, 0, || unreachable!(), create).unwrap_err();
        assert_eq!(err.code(), crate::ErrorCode::Conflict);
    }

    #[test]
    fn a_failing_random_generator_makes_no_id() {
        let failed = random_hex::<6>(|_| Err(getrandom::Error::UNSUPPORTED)).unwrap_err();
        assert_eq!(failed.code(), crate::ErrorCode::Internal);
        assert!(failed.to_string().contains("random generator"), "{failed}");
        assert_eq!(
            random_hex::<2>(|b| {
                b.copy_from_slice(&[0xab, 0x01]);
                Ok(())
            })
            .unwrap(),
            "ab01"
        );
    }
}
