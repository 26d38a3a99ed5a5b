/* Telemetry through the C ABI: budget alerts reach the callback once each, in order, inside
 * the call that crossed them, and stop when the listener is removed (even from inside
 * itself) or its engine freed; the metrics text has the cost, refusal and alert lines; an
 * execution started with a traceparent joins that trace; the log callback receives the
 * engine's lines at their levels — a refusal among them — and never a prompt's text. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wflo.h"

#define S(text) text, strlen(text)
#define SECRET "sk-SECRET-PLANTED"
#define TRACE_ID "4bf92f3577b34da6a3ce929d0e0e4736"
#define TRACEPARENT "00-" TRACE_ID "-00f067aa0ba902b7-01"

static int failures = 0;

static void fail(const char *what) {
    fprintf(stderr, "FAIL %s (%s)\n", what, wflo_last_error_message());
    failures++;
}

static void expect(const char *what, wflo_status got, wflo_status want) {
    if (got != want) {
        fprintf(stderr, "FAIL %s: got %s, want %s (%s)\n", what, wflo_status_name(got), wflo_status_name(want),
                wflo_last_error_message());
        failures++;
    }
}

static void expect_in(const char *what, const char *text, const char *needle) {
    if (text == NULL || strstr(text, needle) == NULL) {
        fprintf(stderr, "FAIL %s: lacks '%s' in:\n%.4000s\n", what, needle, text ? text : "(null)");
        failures++;
    }
}

/* What the alert callback received. The callbacks run inside the calls below, on this
 * thread, so no lock is needed. */
#define MAX_ALERTS 8
struct alerts {
    int n;
    char json[MAX_ALERTS][512];
};

static void on_alert(void *user_data, const char *json, size_t len) {
    struct alerts *a = user_data;
    if (strlen(json) != len) fail("alert length");
    if (a->n < MAX_ALERTS && len < sizeof a->json[0]) memcpy(a->json[a->n], json, len + 1);
    a->n++;
}

/* A listener that removes itself on its first alert. */
struct once {
    const wflo_engine *engine;
    uint64_t id;
    int calls;
};

static void remove_itself(void *user_data, const char *json, size_t len) {
    (void)json;
    (void)len;
    struct once *o = user_data;
    o->calls++;
    expect("remove from inside the callback", wflo_engine_remove_alert_listener(o->engine, o->id), WFLO_STATUS_OK);
}

/* What the log callback received. */
struct logs {
    int lines, refused, alerts, settled, secret, bad;
};

static void on_log(void *user_data, int level, const char *line, size_t len) {
    struct logs *l = user_data;
    l->lines++;
    if (getenv("WFLO_TEST_SHOW_LOG")) fprintf(stderr, "log %d: %s\n", level, line);
    if (strlen(line) != len || level < WFLO_LOG_ERROR || level > WFLO_LOG_TRACE) l->bad++;
    if (strstr(line, SECRET) != NULL || strstr(line, "Summarise") != NULL) l->secret++;
    if (strncmp(line, "info refused: ", 14) == 0 && level == WFLO_LOG_INFO) l->refused++;
    if (strncmp(line, "warn alert: ", 12) == 0 && level == WFLO_LOG_WARN) l->alerts++;
    if (strncmp(line, "debug settled: ", 15) == 0 && level == WFLO_LOG_DEBUG) l->settled++;
}

static void record(wflo_execution *exec, uint64_t input, uint64_t output) {
    wflo_usage usage = {0};
    usage.input = input;
    usage.output = output;
    expect("record_call", wflo_record_call(exec, NULL, S("gpt-4o"), &usage, NULL), WFLO_STATUS_OK);
}

/* A request whose prompt holds a planted secret, reserved and (when it fits) settled. */
static wflo_status call_with_secret(wflo_execution *exec, int max_tokens, int completion) {
    char request[256], result[256];
    snprintf(request, sizeof request,
             "{\"model\":\"gpt-4o\",\"max_tokens\":%d,\"messages\":[{\"role\":\"user\",\"content\":"
             "\"Summarise with key " SECRET "\"}]}",
             max_tokens);
    wflo_reservation *res = NULL;
    char *body = NULL;
    wflo_status st = wflo_reserve_request(exec, NULL, S("openai_chat"), S(request), NULL, 0, &res, &body);
    if (st != WFLO_STATUS_OK) return st;
    snprintf(result, sizeof result,
             "{\"choices\":[{\"message\":{\"role\":\"assistant\",\"content\":\"ok\"}}],"
             "\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":%d,\"total_tokens\":%d}}",
             completion, completion + 10);
    expect("settle_result", wflo_reservation_settle_result(res, S("openai_chat"), S(result), NULL, 0, NULL),
           WFLO_STATUS_OK);
    wflo_reservation_free(res);
    wflo_string_free(body);
    return WFLO_STATUS_OK;
}

int main(void) {
    struct logs logs = {0};
    struct alerts alerts = {0};
    wflo_engine *engine = NULL;
    wflo_execution *exec = NULL;
    char *text = NULL;
    uint64_t id = 0;

    /* The log route: a bad level is refused and changes nothing; WFLO_LOG is read when the
     * level is NULL. */
    expect("log_to bad level", wflo_log_to(S("loud"), on_log, &logs), WFLO_STATUS_INVALID_ARGUMENT);
    expect_in("bad level message", wflo_last_error_message(), "WFLO_LOG");
    setenv("WFLO_LOG", "chatty", 1);
    expect("log_to bad WFLO_LOG", wflo_log_to(NULL, 0, on_log, &logs), WFLO_STATUS_INVALID_ARGUMENT);
    setenv("WFLO_LOG", "debug", 1);
    expect("log_to WFLO_LOG=debug", wflo_log_to(NULL, 0, on_log, &logs), WFLO_STATUS_OK);

    expect("open", wflo_engine_open(S("memory://"), &engine), WFLO_STATUS_OK);
    expect("listener NULL callback", wflo_engine_add_alert_listener(engine, NULL, NULL, &id),
           WFLO_STATUS_INVALID_ARGUMENT);
    expect("listener NULL id_out", wflo_engine_add_alert_listener(engine, on_alert, &alerts, NULL),
           WFLO_STATUS_INVALID_ARGUMENT);
    expect("add listener", wflo_engine_add_alert_listener(engine, on_alert, &alerts, &id), WFLO_STATUS_OK);
    struct once once = {engine, 0, 0};
    expect("add self-removing listener", wflo_engine_add_alert_listener(engine, remove_itself, &once, &once.id),
           WFLO_STATUS_OK);

    /* $0.10 budget, thresholds 50 and 80%, a soft budget of $0.06, in a host's trace. */
    const char *options = "{\"traceparent\":\"" TRACEPARENT "\",\"alert_thresholds\":[50,80],"
                          "\"soft_budget_nanos\":60000000}";
    expect("start with a bad traceparent",
           wflo_execution_start(engine, S("telemetry"), 100000000, S("{\"traceparent\":\"00-zz\"}"), &exec),
           WFLO_STATUS_INVALID_ARGUMENT);
    expect("start with thresholds out of order",
           wflo_execution_start(engine, S("telemetry"), 100000000, S("{\"alert_thresholds\":[80,50]}"), &exec),
           WFLO_STATUS_INVALID_ARGUMENT);
    expect("start", wflo_execution_start(engine, S("telemetry"), 100000000, S(options), &exec), WFLO_STATUS_OK);
    expect("trace id NULL out", wflo_execution_trace_id(exec, NULL), WFLO_STATUS_INVALID_ARGUMENT);
    expect("trace id", wflo_execution_trace_id(exec, &text), WFLO_STATUS_OK);
    if (text == NULL || strcmp(text, TRACE_ID) != 0) fail("the trace id is the traceparent's");
    wflo_string_free(text);

    /* 45%: nothing; 56%: the 50% threshold, inside the settling call; 76%: the soft budget;
     * 86%: 80%. */
    record(exec, 10, 4500);
    if (alerts.n != 0) fail("an alert below every threshold");
    expect("call with a secret", call_with_secret(exec, 1200, 1100), WFLO_STATUS_OK);
    if (alerts.n != 1) fail("the 50% alert was not delivered inside the call that crossed it");
    if (once.calls != 1) fail("the self-removing listener was not called once");
    record(exec, 0, 2000);
    if (alerts.n != 2) fail("the soft budget alert");
    record(exec, 0, 1000);
    if (alerts.n != 3) fail("the 80% alert");
    if (once.calls != 1) fail("the self-removing listener was called after removing itself");
    /* A worst case of 16000 output tokens ($0.16) cannot fit: refused, and logged. */
    expect("refused call with a secret", call_with_secret(exec, 16000, 1), WFLO_STATUS_BUDGET_EXCEEDED);
    record(exec, 0, 100);
    if (alerts.n != 3) {
        fprintf(stderr, "FAIL %d alerts, want 3\n", alerts.n);
        failures++;
    }
    const char *exec_id = wflo_execution_id(exec);
    for (int i = 0; i < 3 && i < alerts.n; i++) {
        expect_in("alert execution", alerts.json[i], exec_id);
        expect_in("alert workflow", alerts.json[i], "\"workflow\":\"telemetry\"");
        expect_in("alert scope", alerts.json[i], "\"scope\":\"\"");
    }
    expect_in("first alert", alerts.json[0], "\"kind\":\"threshold\",\"percent\":50,\"limit_nanos\":100000000");
    expect_in("second alert", alerts.json[1], "\"kind\":\"soft_budget\",\"percent\":100,\"limit_nanos\":60000000");
    expect_in("third alert", alerts.json[2], "\"kind\":\"threshold\",\"percent\":80,\"limit_nanos\":100000000");
    expect_in("third alert spent", alerts.json[2], "\"spent_nanos\":86050000");

    /* The metrics text. */
    expect("metrics NULL engine", wflo_engine_metrics_text(NULL, &text), WFLO_STATUS_INVALID_ARGUMENT);
    expect("metrics", wflo_engine_metrics_text(engine, &text), WFLO_STATUS_OK);
    expect_in("metrics cost", text, "# TYPE wflo_cost_usd_total counter");
    expect_in("metrics cost", text,
              "wflo_cost_usd_total{model=\"gpt-4o\",provider=\"openai\",scope=\"(execution)\"} 0.087050000\n");
    expect_in("metrics refusals", text,
              "wflo_refusals_total{model=\"gpt-4o\",provider=\"openai\",scope=\"(execution)\"} 1\n");
    expect_in("metrics alerts", text,
              "wflo_alerts_total{scope_kind=\"execution\",scope=\"telemetry\",kind=\"threshold\"} 2\n");
    expect_in("metrics alerts", text,
              "wflo_alerts_total{scope_kind=\"execution\",scope=\"telemetry\",kind=\"soft_budget\"} 1\n");
    if (strstr(text, exec_id) != NULL) fail("an execution id is a metric label");
    wflo_string_free(text);

    /* Removed: no more alerts, even past thresholds; removing twice is NOT_FOUND. */
    expect("remove", wflo_engine_remove_alert_listener(engine, id), WFLO_STATUS_OK);
    expect("remove twice", wflo_engine_remove_alert_listener(engine, id), WFLO_STATUS_NOT_FOUND);
    expect("remove the self-removed", wflo_engine_remove_alert_listener(engine, once.id), WFLO_STATUS_NOT_FOUND);
    expect("remove NULL engine", wflo_engine_remove_alert_listener(NULL, id), WFLO_STATUS_INVALID_ARGUMENT);
    wflo_execution *second = NULL;
    expect("start a second", wflo_execution_start(engine, S("second"), 10000000, NULL, 0, &second), WFLO_STATUS_OK);
    record(second, 0, 1000);
    if (alerts.n != 3) fail("a removed listener was called");
    expect("trace id of the second", wflo_execution_trace_id(second, &text), WFLO_STATUS_OK);
    if (text == NULL || strlen(text) != 32 || strcmp(text, TRACE_ID) == 0) fail("a fresh trace id");
    wflo_string_free(text);

    /* What the log received: the refusal at INFO, alerts at WARN, a settlement at DEBUG —
     * and never the prompt. */
    if (logs.refused != 1) fail("one refused line at info");
    if (logs.alerts < 3) fail("alert lines at warn");
    if (logs.settled != 1) fail("the reserved call's settled line at debug");
    if (logs.secret != 0) fail("a prompt reached the log");
    if (logs.bad != 0) fail("a line with a bad level or length");

    /* "info": no debug lines; then silenced by a NULL callback, then by "off". */
    expect("log_to info", wflo_log_to(S("INFO"), on_log, &logs), WFLO_STATUS_OK);
    int settled = logs.settled;
    expect("a call at info", call_with_secret(exec, 100, 50), WFLO_STATUS_OK);
    if (logs.settled != settled) fail("a debug line at level info");
    expect("refused at info", call_with_secret(second, 16000, 1), WFLO_STATUS_BUDGET_EXCEEDED);
    if (logs.refused != 2) fail("the second refusal at info");
    expect("log_to NULL callback", wflo_log_to(S("info"), NULL, NULL), WFLO_STATUS_OK);
    int lines = logs.lines;
    expect("refused, silenced", call_with_secret(second, 16000, 1), WFLO_STATUS_BUDGET_EXCEEDED);
    expect("log_to again", wflo_log_to(S("info"), on_log, &logs), WFLO_STATUS_OK);
    expect("log_to off", wflo_log_to(S("off"), on_log, &logs), WFLO_STATUS_OK);
    expect("refused, off", call_with_secret(second, 16000, 1), WFLO_STATUS_BUDGET_EXCEEDED);
    if (logs.lines != lines) fail("a line after the log was silenced");

    /* A listener still registered when its engine is freed is removed with it. */
    expect("add a listener left to free", wflo_engine_add_alert_listener(engine, on_alert, &alerts, &id),
           WFLO_STATUS_OK);
    wflo_execution_free(second);
    wflo_execution_free(exec);
    wflo_engine_free(engine);

    if (failures) {
        fprintf(stderr, "telemetry: %d failures\n", failures);
        return 1;
    }
    printf("telemetry: alerts in order, metrics, trace id, log route: ok\n");
    return 0;
}
