//! `wflo report`: one self-contained HTML page about an execution.

use crate::Db;

/// Writes the report of execution `id` to `path`; returns the path written.
pub fn write(db: &Db, id: &str, path: &str) -> Result<String, String> {
    let engine = crate::inspect::engine(db)?;
    let data = ReportData::load(&engine, id)?;
    std::fs::write(path, render(&data)).map_err(|e| format!("cannot write {path}: {e}"))?;
    Ok(path.to_owned())
}

/// Everything the page shows, read from the store.
pub struct ReportData {
    pub execution: wflo_core::ExecutionRecord,
    pub breakdown: wflo_core::Breakdown,
    pub calls: Vec<wflo_core::CallRecord>,
    pub checkpoints: Vec<wflo_core::CheckpointInfo>,
    pub rollbacks: Vec<wflo_core::records::RollbackRecord>,
}

impl ReportData {
    pub fn load(engine: &wflo_core::Engine, id: &str) -> Result<ReportData, String> {
        let e = |e: wflo_core::Error| e.to_string();
        Ok(ReportData {
            execution: engine.execution(id).map_err(e)?,
            breakdown: engine.breakdown(id).map_err(e)?,
            calls: engine.calls(id).map_err(e)?,
            checkpoints: engine.checkpoints(id).map_err(e)?,
            rollbacks: engine.rollbacks(id).map_err(e)?,
        })
    }
}

/// The page (placeholder until the report module lands).
pub fn render(data: &ReportData) -> String {
    format!("<!doctype html><title>{}</title>", data.execution.id)
}
