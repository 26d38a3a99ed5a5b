"""Retries and circuit breakers from Python: a flaky tool retried with backoff, and a breaker
that fails fast once its service is down. The rules (which failures are retried, the delays,
the breaker's states) are the engine's. The README's snippet is the part between the tour
markers; the Python tests run this file.

Run: python examples/python/resilience.py
"""
# tour:start
import wflo
from wflo.resilience import CircuitBreaker, CircuitBreakerOpenError, RetryManager


def main():
    engine = wflo.Engine.open("memory://")  # breakers live in an engine (default: the default one)
    manager = RetryManager(max_retries=3, base_delay=0.01, jitter=False)  # seconds: 10, 20, 40 ms
    answers = iter([ConnectionError("connection reset"), TimeoutError("slow"), "42"])

    def flaky_tool():
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def on_retry(attempt, error, delay):
        print(f"attempt {attempt} failed ({error}); retry in {delay}s")

    print(f"result {manager.execute_sync(flaky_tool, on_retry=on_retry)}")

    breaker = CircuitBreaker("search-api", failure_threshold=2, recovery_timeout=30, engine=engine)

    def search_api():
        raise ConnectionError("search is down")

    for _ in range(3):
        try:
            breaker.call_sync(search_api)
        except CircuitBreakerOpenError as e:  # also a wflo.CircuitOpenError
            print(f"refused without calling: {e.name} after {e.failures} failures")
        except ConnectionError as e:
            print(f"failed: {e}")
    print(f"breaker {breaker.state.value}")
    # tour:end
    engine.close()


if __name__ == "__main__":
    main()
