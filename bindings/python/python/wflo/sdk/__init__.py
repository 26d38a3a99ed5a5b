"""The seed SDK's import paths (``wflo.sdk.workflow``, ``wflo.sdk.decorators.*``), kept so its
documented examples run unchanged. New code can import everything from ``wflo``."""
