//! The approval rule every store applies: only a pending approval can be decided, once.

use crate::error::{Error, Result};
use crate::records::{ApprovalRecord, ApprovalStatus};
use crate::store::ApprovalDecision;

/// Applies `decision` to `a`, or says why it cannot be.
pub(crate) fn decide(a: &mut ApprovalRecord, decision: &ApprovalDecision<'_>) -> Result<()> {
    if decision.status == ApprovalStatus::Pending {
        return Err(Error::invalid("a decision approves, denies or expires"));
    }
    if a.status != ApprovalStatus::Pending {
        return Err(Error::Conflict(format!(
            "approval {} was already {}{}",
            a.id,
            a.status.as_str(),
            a.decided_by
                .as_deref()
                .map(|b| format!(" by {b}"))
                .unwrap_or_default()
        )));
    }
    a.status = decision.status;
    a.decided_by = Some(decision.by.to_owned());
    a.note = decision.note.map(str::to_owned);
    a.decided_at_ms = Some(decision.at_ms);
    Ok(())
}
