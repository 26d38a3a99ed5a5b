/* Retries and circuit breakers through the C ABI: a breaker opens after its threshold and
 * refuses with WFLO_STATUS_CIRCUIT_OPEN (its last error JSON naming it), recovers after its
 * timeout, and is one per name; a retrier returns the engine's decisions, and re-words a
 * budget refusal of a retry; bad arguments are a status and a message, never a crash. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wflo.h"

#define S(text) text, strlen(text)

static int failures = 0;

static void expect(const char *what, wflo_status got, wflo_status want) {
    if (got != want) {
        fprintf(stderr, "FAIL %s: got %s, want %s (%s)\n", what, wflo_status_name(got), wflo_status_name(want),
                wflo_last_error_message());
        failures++;
    }
}

static void expect_in(const char *what, const char *text, const char *needle) {
    if (text == NULL || strstr(text, needle) == NULL) {
        fprintf(stderr, "FAIL %s: '%s' lacks '%s'\n", what, text ? text : "(null)", needle);
        failures++;
    }
}

static void expect_true(const char *what, int ok) {
    if (!ok) {
        fprintf(stderr, "FAIL %s\n", what);
        failures++;
    }
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* The breaker's status JSON contains needle. */
static void expect_status(const char *what, const wflo_breaker *b, const char *needle) {
    char *json = NULL;
    expect(what, wflo_breaker_status_json(b, &json), WFLO_STATUS_OK);
    expect_in(what, json, needle);
    wflo_string_free(json);
}

/* Asks the retrier about a failure; the decision JSON must contain needle. */
static void expect_decision(const char *what, const wflo_retrier *r, const char *failure, const char *needle) {
    char *decision = NULL;
    expect(what, wflo_retrier_next(r, S(failure), &decision), WFLO_STATUS_OK);
    expect_in(what, decision, needle);
    wflo_string_free(decision);
}

static void breakers(wflo_engine *engine) {
    const char *config = "{\"failure_threshold\": 2, \"recovery_timeout_ms\": 1000, \"success_threshold\": 1}";
    wflo_breaker *b = NULL, *same = NULL, *other = NULL;
    expect("breaker", wflo_engine_breaker(engine, S("c-provider"), S(config), &b), WFLO_STATUS_OK);
    expect("check closed", wflo_breaker_check(b), WFLO_STATUS_OK);
    expect("record failure", wflo_breaker_record(b, false), WFLO_STATUS_OK);
    expect("check after one failure", wflo_breaker_check(b), WFLO_STATUS_OK);
    expect("record failure", wflo_breaker_record(b, false), WFLO_STATUS_OK);
    expect("check open", wflo_breaker_check(b), WFLO_STATUS_CIRCUIT_OPEN);
    expect_in("open message", wflo_last_error_message(), "circuit breaker 'c-provider' is open");
    expect_in("open json name", wflo_last_error_json(), "\"name\":\"c-provider\"");
    expect_in("open json failures", wflo_last_error_json(), "\"failures\":2");
    expect_in("open json retry_in_ms", wflo_last_error_json(), "\"retry_in_ms\":");
    expect_in("open json code", wflo_last_error_json(), "CIRCUIT_OPEN");
    expect_status("status open", b, "\"state\":\"open\"");

    /* One breaker per name: the second config is ignored, the state is shared. */
    expect("same name", wflo_engine_breaker(engine, S("c-provider"), S("{\"failure_threshold\": 9}"), &same),
           WFLO_STATUS_OK);
    expect("same name is open", wflo_breaker_check(same), WFLO_STATUS_CIRCUIT_OPEN);
    expect("other name", wflo_engine_breaker(engine, S("c-other"), NULL, 0, &other), WFLO_STATUS_OK);
    expect("other name is closed", wflo_breaker_check(other), WFLO_STATUS_OK);
    char *all = NULL;
    expect("breakers json", wflo_engine_breakers_json(engine, &all), WFLO_STATUS_OK);
    expect_in("breakers json", all, "\"name\":\"c-other\"");
    expect_in("breakers json", all, "\"name\":\"c-provider\"");
    wflo_string_free(all);

    /* Recovery: after the timeout a trial call goes through; its success closes it. */
    sleep_ms(1100);
    expect("check after the recovery timeout", wflo_breaker_check(b), WFLO_STATUS_OK);
    expect_status("status half-open", b, "\"state\":\"half_open\"");
    expect("record success", wflo_breaker_record(b, true), WFLO_STATUS_OK);
    expect_status("status closed", same, "\"state\":\"closed\"");

    /* Reset closes an open breaker. */
    wflo_breaker_record(other, false);
    wflo_breaker_record(other, false);
    wflo_breaker_record(other, false);
    wflo_breaker_record(other, false);
    wflo_breaker_record(other, false);
    expect("default threshold 5 opens", wflo_breaker_check(other), WFLO_STATUS_CIRCUIT_OPEN);
    expect("reset", wflo_breaker_reset(other), WFLO_STATUS_OK);
    expect("check after reset", wflo_breaker_check(other), WFLO_STATUS_OK);

    /* Bad arguments. */
    wflo_breaker *bad = NULL;
    expect("empty name", wflo_engine_breaker(engine, S(""), NULL, 0, &bad), WFLO_STATUS_INVALID_ARGUMENT);
    expect("unknown config key", wflo_engine_breaker(engine, S("x"), S("{\"threshold\": 1}"), &bad),
           WFLO_STATUS_INVALID_ARGUMENT);
    expect("zero threshold", wflo_engine_breaker(engine, S("x"), S("{\"failure_threshold\": 0}"), &bad),
           WFLO_STATUS_INVALID_ARGUMENT);
    expect_true("out not written on failure", bad == NULL);
    expect("NULL out", wflo_engine_breaker(engine, S("x"), NULL, 0, NULL), WFLO_STATUS_INVALID_ARGUMENT);
    expect("check NULL", wflo_breaker_check(NULL), WFLO_STATUS_INVALID_ARGUMENT);
    expect("record NULL", wflo_breaker_record(NULL, true), WFLO_STATUS_INVALID_ARGUMENT);
    wflo_breaker_free(NULL);
    wflo_breaker_free(b);
    wflo_breaker_free(same);
    wflo_breaker_free(other);
}

static void retriers(wflo_engine *engine) {
    wflo_retrier *r = NULL;
    const char *fixed = "{\"backoff\": \"fixed\", \"max_retries\": 1, \"base_delay_ms\": 5, \"max_delay_ms\": 5, "
                        "\"jitter\": 0}";
    expect("retrier", wflo_engine_retrier(engine, S(fixed), &r), WFLO_STATUS_OK);
    expect_true("first attempt is 1", wflo_retrier_attempt(r) == 1);
    expect_decision("503 is retried", r, "{\"kind\": \"http\", \"status\": 503, \"message\": \"503 Service Unavailable\"}",
                    "\"decision\":\"retry\",\"attempt\":2,\"delay_ms\":5");
    expect_true("second attempt is 2", wflo_retrier_attempt(r) == 2);
    expect_decision("gives up after max_retries", r, "{\"kind\": \"http\", \"status\": 503}", "gave up after 2 attempts");
    wflo_retrier_free(r);

    r = NULL;
    expect("default retrier", wflo_engine_retrier(engine, NULL, 0, &r), WFLO_STATUS_OK);
    expect_decision("400 is not retried", r, "{\"kind\": \"http\", \"status\": 400, \"message\": \"400 Bad Request\"}",
                    "\"decision\":\"give_up\"");
    wflo_retrier_free(r);

    r = NULL;
    const char *linear = "{\"backoff\": \"linear\", \"base_delay_ms\": 2, \"max_delay_ms\": 100, \"jitter\": 0}";
    expect("linear retrier", wflo_engine_retrier(engine, S(linear), &r), WFLO_STATUS_OK);
    expect_decision("linear 1", r, "{\"kind\": \"timeout\"}", "\"delay_ms\":2");
    expect_decision("linear 2", r, "{\"kind\": \"connection\"}", "\"delay_ms\":4");
    expect_decision("retry-after wins", r,
                    "{\"kind\": \"http\", \"status\": 429, \"headers\": [[\"Retry-After\", \"1\"]]}",
                    "\"delay_ms\":1000");
    expect_decision("refused is never retried", r, "{\"kind\": \"refused\"}", "\"decision\":\"give_up\"");
    char *out = NULL;
    expect("bad failure kind", wflo_retrier_next(r, S("{\"kind\": \"boom\"}"), &out), WFLO_STATUS_INVALID_ARGUMENT);
    expect("failure not JSON", wflo_retrier_next(r, S("nope"), &out), WFLO_STATUS_INVALID_ARGUMENT);
    expect_true("out not written on failure", out == NULL);
    wflo_retrier_free(r);

    /* A retry the budget refuses says which attempt was not sent and what failed before it. */
    wflo_execution *exec = NULL;
    expect("start", wflo_execution_start(engine, S("retry-refused"), 0, NULL, 0, &exec), WFLO_STATUS_OK);
    r = NULL;
    expect("retrier", wflo_engine_retrier(engine, S(fixed), &r), WFLO_STATUS_OK);
    expect("refused with no error", wflo_retrier_refused(r), WFLO_STATUS_OK);
    expect_decision("connection reset is retried", r, "{\"kind\": \"connection\", \"message\": \"connection reset\"}",
                    "\"decision\":\"retry\"");
    const char *request = "{\"model\": \"gpt-4o-mini\", \"max_tokens\": 10, \"messages\": [{\"role\": \"user\", "
                          "\"content\": \"hi\"}]}";
    wflo_reservation *res = NULL;
    char *body = NULL;
    wflo_status st = wflo_reserve_request(exec, NULL, S("openai_chat"), S(request), NULL, 0, &res, &body);
    expect("a zero budget refuses", st, WFLO_STATUS_BUDGET_EXCEEDED);
    expect("refused keeps the status", wflo_retrier_refused(r), WFLO_STATUS_BUDGET_EXCEEDED);
    expect_in("refusal names the attempt", wflo_last_error_message(),
              "(attempt 2 not sent: attempt 1 failed: connection reset)");
    expect_in("refusal json has the note", wflo_last_error_json(), "\"retry_note\":");
    wflo_retrier_free(r);
    wflo_execution_free(exec);

    /* Bad arguments. */
    r = NULL;
    expect("unknown policy key", wflo_engine_retrier(engine, S("{\"retries\": 3}"), &r), WFLO_STATUS_INVALID_ARGUMENT);
    expect("jitter above 1", wflo_engine_retrier(engine, S("{\"jitter\": 2}"), &r), WFLO_STATUS_INVALID_ARGUMENT);
    expect_true("out not written on failure", r == NULL);
    expect("NULL engine", wflo_engine_retrier(NULL, NULL, 0, &r), WFLO_STATUS_INVALID_ARGUMENT);
    expect("next NULL", wflo_retrier_next(NULL, S("{\"kind\": \"other\"}"), &out), WFLO_STATUS_INVALID_ARGUMENT);
    expect_true("attempt of NULL is 0", wflo_retrier_attempt(NULL) == 0);
    wflo_retrier_free(NULL);
}

int main(void) {
    wflo_engine *engine = NULL;
    expect("open", wflo_engine_open(S("memory://"), &engine), WFLO_STATUS_OK);
    if (engine == NULL) return 1;
    breakers(engine);
    retriers(engine);
    wflo_engine_free(engine);
    if (failures) {
        fprintf(stderr, "resilience: %d failure(s)\n", failures);
        return 1;
    }
    printf("resilience: all passed\n");
    return 0;
}
