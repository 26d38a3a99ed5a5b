//! Resource contention: named limits on concurrent holders — a lock (`max_concurrent` 1) or a
//! semaphore — across threads and processes, through the store. A hold lives under a lease,
//! so a crashed holder's slot frees itself when the lease ends; waits longer than a threshold
//! are counted as contention, with who held the resource, and every process sees the same
//! statistics.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::engine::EngineInner;
use crate::error::{Error, Result};
use crate::store::{Acquire, ResourceFigures};

/// A resource's settings. The defaults are the original Python SDK's `ResourceLock()`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LockConfig {
    /// How many may hold it at once (1: a lock).
    pub max_concurrent: u32,
    /// How long an acquisition waits before it fails with `RESOURCE_BUSY`.
    pub timeout_ms: u64,
    /// A wait longer than this is contention (counted, and logged with who held it).
    pub contention_threshold_ms: u64,
    /// The lease of a hold (`None`: the engine's lease); a holder that keeps it longer must
    /// renew, and one that dies frees its slot when the lease ends.
    pub lease_ms: Option<u64>,
}

impl Default for LockConfig {
    fn default() -> Self {
        LockConfig {
            max_concurrent: 1,
            timeout_ms: 30_000,
            contention_threshold_ms: 5_000,
            lease_ms: None,
        }
    }
}

impl LockConfig {
    /// Settings from JSON (absent keys keep their defaults, unknown keys are an error), checked.
    pub fn from_json(json: &str) -> Result<LockConfig> {
        let json = if json.trim().is_empty() { "{}" } else { json };
        let c: LockConfig = serde_json::from_str(json)
            .map_err(|e| Error::invalid(format!("resource lock settings: {e}")))?;
        c.check()?;
        Ok(c)
    }

    pub fn check(&self) -> Result<()> {
        if !(1..=10_000).contains(&self.max_concurrent) {
            return Err(Error::invalid(format!(
                "resource lock: max_concurrent must be 1 to 10000, not {}",
                self.max_concurrent
            )));
        }
        if self.lease_ms == Some(0) {
            return Err(Error::invalid("resource lock: lease_ms must be at least 1"));
        }
        Ok(())
    }
}

/// A named resource of an engine's store. Cheap to make: its state is in the store.
#[derive(Clone)]
pub struct ResourceLock {
    engine: Arc<EngineInner>,
    name: Arc<str>,
    config: LockConfig,
}

impl std::fmt::Debug for ResourceLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResourceLock")
            .field("name", &self.name)
            .field("config", &self.config)
            .finish()
    }
}

/// A slot of a resource, held until released (or dropped) or until its lease ends.
pub struct Permit {
    engine: Arc<EngineInner>,
    resource: Arc<str>,
    hold_id: String,
    lease_ms: u64,
    waited_ms: u64,
    released: bool,
}

impl ResourceLock {
    pub(crate) fn new(engine: Arc<EngineInner>, name: &str, config: LockConfig) -> Result<Self> {
        config.check()?;
        crate::text::check("a resource name", name)?;
        if name.is_empty() || name.len() > 200 {
            return Err(Error::invalid("a resource name is 1 to 200 bytes"));
        }
        Ok(ResourceLock {
            engine,
            name: name.into(),
            config,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn config(&self) -> &LockConfig {
        &self.config
    }

    /// Takes a slot for `workflow_id`, waiting up to `timeout_ms` (`None`: the configured
    /// timeout; 0: do not wait). Fails with `RESOURCE_BUSY` (who holds it, how long it waited)
    /// when no slot freed in time.
    pub fn acquire(&self, workflow_id: &str, timeout_ms: Option<u64>) -> Result<Permit> {
        crate::text::check("a workflow id", workflow_id)?;
        self.engine.check_open()?;
        let timeout = timeout_ms.unwrap_or(self.config.timeout_ms);
        let lease_ms = self.config.lease_ms.unwrap_or(self.engine.lease_ms);
        let hold_id = crate::ids::new_reservation_id()?;
        let start = self.engine.now_ms();
        let mut pause = 5u64;
        let mut first_try = true;
        loop {
            // The first try has waited for no one, by definition: reading the clock again
            // could cross a millisecond boundary and report a wait that never happened.
            let now = if first_try {
                start
            } else {
                self.engine.now_ms()
            };
            first_try = false;
            let waited = now.saturating_sub(start);
            let contended = waited > self.config.contention_threshold_ms;
            let busy = self.engine.store.try_acquire(&Acquire {
                resource: &self.name,
                max_concurrent: self.config.max_concurrent,
                hold_id: &hold_id,
                holder: &self.engine.holder,
                workflow_id,
                now_ms: now,
                lease_until_ms: now.saturating_add(lease_ms),
                waited_ms: waited,
                contended,
            })?;
            let Some(holders) = busy else {
                if contended {
                    crate::events::contention(&self.name, waited, self.config.max_concurrent);
                }
                return Ok(Permit {
                    engine: self.engine.clone(),
                    resource: self.name.clone(),
                    hold_id,
                    lease_ms,
                    waited_ms: waited,
                    released: false,
                });
            };
            if waited >= timeout {
                self.engine
                    .store
                    .record_resource_timeout(&self.name, contended)?;
                crate::events::contention(&self.name, waited, self.config.max_concurrent);
                return Err(Error::ResourceBusy {
                    resource: self.name.to_string(),
                    waited_ms: waited,
                    holders: holders
                        .iter()
                        .map(|h| format!("{} ({})", h.workflow_id, h.holder))
                        .collect(),
                });
            }
            // Poll with a growing pause (5 ms to 100 ms), never past the deadline.
            let left = timeout - waited;
            std::thread::sleep(Duration::from_millis(pause.min(left).max(1)));
            pause = (pause * 2).min(100);
        }
    }

    /// The resource's statistics and current holders, as every process sees them.
    pub fn stats(&self) -> Result<ResourceFigures> {
        self.engine
            .store
            .resource_figures(&self.name, self.engine.now_ms())
    }

    /// Zeroes the statistics (holds stay).
    pub fn reset_stats(&self) -> Result<()> {
        self.engine.store.reset_resource_stats(&self.name)
    }
}

impl std::fmt::Debug for Permit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Permit")
            .field("resource", &self.resource)
            .field("hold_id", &self.hold_id)
            .field("released", &self.released)
            .finish()
    }
}

impl Permit {
    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// How long the acquisition waited, ms.
    pub fn waited_ms(&self) -> u64 {
        self.waited_ms
    }

    /// Extends the hold's lease by the configured lease from now; false when the lease had
    /// already ended and the slot may have been taken (stop working on the resource then).
    pub fn renew(&self) -> Result<bool> {
        let until = self.engine.now_ms().saturating_add(self.lease_ms);
        self.engine.store.renew_resource(&self.hold_id, until)
    }

    /// Gives the slot back. Releasing twice is fine.
    pub fn release(&mut self) -> Result<()> {
        if self.released {
            return Ok(());
        }
        self.released = true;
        self.engine.store.release_resource(&self.hold_id).map(drop)
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        // A store failure here leaves the hold to expire with its lease.
        let _ = self.release();
    }
}

#[cfg(test)]
mod tests;
