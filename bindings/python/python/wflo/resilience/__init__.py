"""Resilience: retries with backoff, circuit breakers and resource locks, with the original
SDK's module layout (``wflo.resilience.retry``, ``wflo.resilience.circuit_breaker``,
``wflo.resilience.contention``) and names. Every rule is the engine's (``core/src/resilience``);
these modules run it in Python's idiom.

    from wflo.resilience import RetryManager, circuit_breaker

    manager = RetryManager(max_retries=3, base_delay=0.5)
    reply = await manager.execute(client.chat.completions.create, model="gpt-4o-mini", messages=msgs)
"""
from .circuit_breaker import (
    CircuitBreaker,
    CircuitBreakerOpenError,
    CircuitState,
    circuit_breaker,
    get_circuit_breaker,
)
from .contention import ContentionDetectedError, Permit, ResourceLock, detect_contention, get_resource_lock
from .retry import Retrier, RetryExhaustedError, RetryManager, RetryStrategy, failure_of, retry_with_backoff

__all__ = [
    "CircuitBreaker", "CircuitBreakerOpenError", "CircuitState", "ContentionDetectedError", "Permit", "ResourceLock",
    "Retrier", "RetryExhaustedError", "RetryManager", "RetryStrategy", "circuit_breaker", "detect_contention",
    "failure_of", "get_circuit_breaker", "get_resource_lock", "retry_with_backoff",
]
