//! Budgets: reserve the worst case before a call, settle the actual cost after.

pub mod allowance;
mod ledger;

pub(crate) use ledger::check_amount;
pub use ledger::{Ledger, ReservationId, ScopeId, ScopeSnapshot, Settled};
