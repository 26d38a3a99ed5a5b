//! Budget alerts for the generated faces: the `Alert` record and the callback interface an
//! engine calls with each one (core's `telemetry`: the rule of what fires, and when, is
//! there). The engine's metrics text is on `NativeEngine`, the trace id on `NativeExecution`.

use wflo_core::telemetry::Alert as CoreAlert;

use super::error::{Result, WfloError};

/// A budget alert: spend on a scope reached a threshold of its limit, or its soft budget.
/// Carries ids, names and amounts only.
#[derive(Debug, Clone, PartialEq, uniffi::Record)]
pub struct Alert {
    /// The execution whose spend crossed ("" for a shared scope).
    pub execution_id: String,
    /// That execution's workflow name ("" for a shared scope).
    pub workflow: String,
    /// "" for the execution's own budget, a step label, or a shared scope's name.
    pub scope: String,
    /// "threshold" (a percent of the scope's limit) or "soft_budget".
    pub kind: String,
    /// The threshold in percent of `limit_nanos` (100 for a soft budget).
    pub percent: u32,
    /// The limit the threshold is a part of (the soft budget itself for "soft_budget").
    pub limit_nanos: u64,
    pub limit_usd: f64,
    pub spent_nanos: u64,
    pub spent_usd: f64,
    /// When it fired, milliseconds since the Unix epoch.
    pub at_ms: u64,
    /// One line for a person: "budget 80% reached on research/planner: $0.0810 of $0.1000".
    pub summary: String,
}

impl From<&CoreAlert> for Alert {
    fn from(a: &CoreAlert) -> Self {
        Alert {
            execution_id: a.execution_id.clone(),
            workflow: a.workflow.clone(),
            scope: a.scope.clone(),
            kind: a.kind.as_str().to_owned(),
            percent: a.percent,
            limit_nanos: a.limit_nanos,
            limit_usd: a.limit_usd,
            spent_nanos: a.spent_nanos,
            spent_usd: a.spent_usd,
            at_ms: a.at_ms,
            summary: a.summary(),
        }
    }
}

/// Receives an engine's budget alerts (`NativeEngine::add_alert_listener`). Called on the
/// thread that settled the call, after the engine's locks are released; whatever it throws is
/// caught and dropped (it never reaches the call that settled).
#[uniffi::export(callback_interface)]
pub trait AlertListener: Send + Sync {
    fn on_alert(&self, alert: Alert) -> Result<()>;
}

/// A foreign callback that threw something other than a `WfloError` (UniFFI reports it as an
/// unexpected error; mapped here instead of panicking in the library).
impl From<uniffi::UnexpectedUniFFICallbackError> for WfloError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        WfloError::Internal {
            message: format!("a foreign callback failed: {}", e.reason),
        }
    }
}

/// The listener as core takes it: errors from the foreign side are dropped.
pub(crate) fn listener(l: Box<dyn AlertListener>) -> impl Fn(&CoreAlert) + Send + Sync + 'static {
    move |alert| {
        let _ = l.on_alert(Alert::from(alert));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use parking_lot::Mutex;

    use super::*;
    use crate::uni::engine::NativeEngine;
    use crate::uni::types::{CallRequest, StartOptions, Usage};

    /// A listener that records what it got and then fails, as a foreign one that threw.
    struct Failing(Arc<Mutex<Vec<(String, u32)>>>);

    impl AlertListener for Failing {
        fn on_alert(&self, alert: Alert) -> Result<()> {
            self.0.lock().push((alert.kind, alert.percent));
            Err(WfloError::from(uniffi::UnexpectedUniFFICallbackError::new(
                "RuntimeException: the listener's own bug",
            )))
        }
    }

    #[test]
    fn a_failing_listener_hears_every_alert_and_the_calls_go_on() {
        let engine = NativeEngine::open(Some("memory://".into())).unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let id = engine.add_alert_listener(Box::new(Failing(seen.clone())));
        let options = StartOptions {
            traceparent: Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into()),
            alert_thresholds: Some(vec![50]),
            soft_budget_nanos: Some(4_000_000),
            ..Default::default()
        };
        let exec = engine
            .start_execution("alerts".into(), Some(10_000_000), options)
            .unwrap();
        assert_eq!(exec.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
        for _ in 0..3 {
            let call = exec
                .reserve(CallRequest {
                    model: "gpt-4o".into(),
                    provider: None,
                    input_tokens: 100,
                    input_estimated: None,
                    max_output_tokens: Some(200),
                    cache_write: None,
                    stream: false,
                    clamp_max_tokens: false,
                })
                .unwrap();
            call.settle(Usage {
                input: 100,
                output: 200,
                ..Default::default()
            })
            .unwrap();
        }
        assert_eq!(
            *seen.lock(),
            vec![
                ("soft_budget".to_owned(), 100),
                ("threshold".to_owned(), 50)
            ]
        );
        assert!(
            engine
                .metrics_text()
                .contains("wflo_calls_total{model=\"gpt-4o\",provider=\"openai\",status=\"ok\"} 3")
        );
        assert!(engine.remove_alert_listener(id));
        assert!(!engine.remove_alert_listener(id));
    }

    #[test]
    fn an_unknown_log_level_is_refused() {
        struct Nowhere;
        impl crate::uni::events::LogSink for Nowhere {
            fn log(&self, _: crate::uni::events::LogLevel, _: String) -> Result<()> {
                Ok(())
            }
        }
        let e =
            crate::uni::events::set_log_sink(Some("loud".into()), Box::new(Nowhere)).unwrap_err();
        assert_eq!(e.code(), "INVALID_ARGUMENT");
    }
}
