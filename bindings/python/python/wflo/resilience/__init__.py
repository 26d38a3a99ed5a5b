"""Resilience: retries with backoff and circuit breakers, with the original SDK's module layout
(``wflo.resilience.retry``, ``wflo.resilience.circuit_breaker``) and names. Every rule is the
engine's (``core/src/resilience``); these modules run it in Python's idiom.

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
from .retry import Retrier, RetryExhaustedError, RetryManager, RetryStrategy, failure_of, retry_with_backoff

__all__ = [
    "CircuitBreaker", "CircuitBreakerOpenError", "CircuitState", "Retrier", "RetryExhaustedError", "RetryManager",
    "RetryStrategy", "circuit_breaker", "failure_of", "get_circuit_breaker", "retry_with_backoff",
]
