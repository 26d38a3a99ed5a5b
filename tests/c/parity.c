/* The C face of the parity suite: replays tests/vectors/scenarios.json through the C ABI
 * exactly as tests/vectors/README-scenarios.md says, and writes the ledger that
 * tests/parity/compare.py compares with Rust's. JSON is read and written with jansson
 * (Debian's libjansson-dev); every decision — what a request reserves, what a result without
 * usage costs, how the execution ends, when a budget alert fires — is libwflo's.
 *
 *     parity SCENARIOS.json LEDGER.json
 */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wflo.h"

#define MAX_SCOPES 16

static void die(const char *what, wflo_status st) {
    fprintf(stderr, "parity: %s failed: %s (%s)\n", what, wflo_status_name(st), wflo_last_error_message());
    exit(1);
}

#define CHECK(call, what)                 \
    do {                                  \
        wflo_status st_ = (call);         \
        if (st_ != WFLO_STATUS_OK) die(what, st_); \
    } while (0)

/* A decimal USD string as nano-USD; JSON null is no limit (-1). */
static int64_t budget(json_t *usd) {
    if (!json_is_string(usd)) return -1;
    uint64_t nanos = 0;
    const char *text = json_string_value(usd);
    CHECK(wflo_parse_usd(text, strlen(text), &nanos), "wflo_parse_usd");
    return (int64_t)nanos;
}

/* Compact JSON text of a value; the caller frees it. */
static char *dump(const json_t *v) {
    return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

/* Parses a string libwflo returned and frees it. */
static json_t *take_json(char *text) {
    json_error_t err;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &err);
    if (!v) {
        fprintf(stderr, "parity: libwflo returned invalid JSON: %s\n", err.text);
        exit(1);
    }
    wflo_string_free(text);
    return v;
}

struct scopes {
    const char *labels[MAX_SCOPES];
    wflo_scope *handles[MAX_SCOPES];
    size_t n;
};

static wflo_scope *scope_named(const struct scopes *s, const char *label) {
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->labels[i], label) == 0) return s->handles[i];
    fprintf(stderr, "parity: no scope '%s'\n", label);
    exit(1);
}

/* Settles a reservation as the call's outcome says. */
static void settle(wflo_reservation *res, const char *format, json_t *outcome) {
    json_t *v;
    const char *status = json_string_value(json_object_get(outcome, "status"));
    if ((v = json_object_get(outcome, "result"))) {
        char *text = dump(v);
        CHECK(wflo_reservation_settle_result(res, format, strlen(format), text, strlen(text), status,
                                             status ? strlen(status) : 0, NULL),
              "settle_result");
        free(text);
    } else if ((v = json_object_get(outcome, "stream"))) {
        wflo_stream *stream = NULL;
        CHECK(wflo_stream_new(format, strlen(format), &stream), "wflo_stream_new");
        size_t i;
        json_t *event;
        json_array_foreach(v, i, event) {
            char *text = dump(event);
            CHECK(wflo_stream_push(stream, text, strlen(text)), "wflo_stream_push");
            free(text);
        }
        CHECK(wflo_reservation_settle_stream(res, stream, status, strlen(status), NULL), "settle_stream");
        wflo_stream_free(stream);
    } else if ((v = json_object_get(outcome, "error"))) {
        const char *msg = json_string_value(v);
        CHECK(wflo_reservation_release(res, "error", 5, msg, strlen(msg)), "release");
    } else if ((v = json_object_get(outcome, "text"))) {
        const char *text = json_string_value(v);
        CHECK(wflo_reservation_settle_text(res, text, strlen(text), status, strlen(status), NULL), "settle_text");
    } else {
        fprintf(stderr, "parity: unknown outcome\n");
        exit(1);
    }
}

/* A breaker's state now ("closed", "open", "half_open"), as a new JSON string. */
static json_t *breaker_state(const wflo_breaker *breaker) {
    char *text = NULL;
    CHECK(wflo_breaker_status_json(breaker, &text), "wflo_breaker_status_json");
    json_t *status = take_json(text);
    json_t *state = json_incref(json_object_get(status, "state"));
    json_decref(status);
    return state;
}

/* The engine's breaker `name`, made with `config` (NULL: none given) the first time. The C ABI
 * takes the engine's JSON, so the scenario's config goes as it is, "shared" included. */
static wflo_breaker *breaker_named(wflo_engine *engine, const char *name, json_t *config) {
    char *cfg = config ? dump(config) : NULL;
    wflo_breaker *breaker = NULL;
    CHECK(wflo_engine_breaker(engine, name, strlen(name), cfg, cfg ? strlen(cfg) : 0, &breaker), "wflo_engine_breaker");
    free(cfg);
    return breaker;
}

/* A `breaker` step: one event per action, with the state after it. */
static void replay_breaker(wflo_engine *engine, json_t *step, json_t *events) {
    wflo_breaker *breaker = breaker_named(engine, json_string_value(json_object_get(step, "name")),
                                          json_object_get(step, "config"));
    size_t i;
    json_t *a;
    json_array_foreach(json_object_get(step, "actions"), i, a) {
        const char *action = json_string_value(a);
        json_t *error = json_null();
        if (strcmp(action, "check") == 0) {
            wflo_status st = wflo_breaker_check(breaker);
            if (st != WFLO_STATUS_OK) {
                json_decref(error);
                error = json_string(wflo_status_name(st));
            }
        } else if (strcmp(action, "failure") == 0) {
            CHECK(wflo_breaker_record(breaker, false), "wflo_breaker_record");
        } else if (strcmp(action, "success") == 0) {
            CHECK(wflo_breaker_record(breaker, true), "wflo_breaker_record");
        } else if (strcmp(action, "reset") == 0) {
            CHECK(wflo_breaker_reset(breaker), "wflo_breaker_reset");
        } else {
            fprintf(stderr, "parity: unknown breaker action %s\n", action);
            exit(1);
        }
        json_array_append_new(events, json_pack("{s:s, s:s, s:o, s:o}", "op", "breaker", "action", action, "state",
                                                breaker_state(breaker), "error", error));
    }
    wflo_breaker_free(breaker);
}

/* The status a wflo code name stands for ("STORAGE" -> WFLO_STATUS_STORAGE). */
static wflo_status status_named(const char *code) {
    for (int32_t s = WFLO_STATUS_INVALID_ARGUMENT; s <= WFLO_STATUS_CALL_LIMIT; s++)
        if (strcmp(wflo_status_name(s), code) == 0) return (wflo_status)s;
    fprintf(stderr, "parity: %s is not a wflo code\n", code);
    exit(1);
}

/* A `breaker_call` step: C has no wrapper of its own, so this is the one every C caller writes
 * — check; call (here: it ends as `raise` says); record a success, or a failure unless the
 * status is one of wflo's refusals (wflo_status_is_refusal); a foreign error is a failure. */
static void replay_breaker_call(wflo_engine *engine, json_t *step, json_t *events) {
    wflo_breaker *breaker = breaker_named(engine, json_string_value(json_object_get(step, "name")),
                                          json_object_get(step, "config"));
    json_t *raise = json_object_get(step, "raise");
    const char *code = json_string_value(raise); /* NULL: the call returns */
    json_t *error;
    int called = 0;
    wflo_status st = wflo_breaker_check(breaker);
    if (st != WFLO_STATUS_OK) {
        error = json_string(wflo_status_name(st));
    } else {
        called = 1;
        if (!code)
            CHECK(wflo_breaker_record(breaker, true), "wflo_breaker_record");
        else if (strcmp(code, "foreign") == 0 || !wflo_status_is_refusal(status_named(code)))
            CHECK(wflo_breaker_record(breaker, false), "wflo_breaker_record");
        error = code ? json_string(code) : json_null();
    }
    json_array_append_new(events, json_pack("{s:s, s:O, s:o, s:b, s:o}", "op", "breaker_call", "raise",
                                            raise ? raise : json_null(), "error", error, "called", called, "state",
                                            breaker_state(breaker)));
    wflo_breaker_free(breaker);
}

/* A `breakers` step: the breakers on the store (every one, up to 100 changes), without times
 * or holders. */
static void replay_breakers(wflo_engine *engine, json_t *events) {
    char *text = NULL;
    CHECK(wflo_engine_breakers_on_store_json(engine, NULL, 0, 100, &text), "wflo_engine_breakers_on_store_json");
    json_t *on = take_json(text);
    json_t *shared = json_array();
    json_t *transitions = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(on, "shared"), i, v)
        json_array_append_new(shared, json_pack("{s:O, s:O, s:O}", "name", json_object_get(v, "name"), "state",
                                                json_object_get(v, "state"), "failure_count",
                                                json_object_get(v, "failure_count")));
    json_array_foreach(json_object_get(on, "transitions"), i, v)
        json_array_append_new(transitions,
                              json_pack("{s:O, s:O, s:O, s:O, s:O}", "breaker", json_object_get(v, "breaker"), "shared",
                                        json_object_get(v, "shared"), "from", json_object_get(v, "from"), "to",
                                        json_object_get(v, "to"), "reason", json_object_get(v, "reason")));
    json_decref(on);
    json_array_append_new(events, json_pack("{s:s, s:o, s:o}", "op", "breakers", "shared", shared, "transitions",
                                            transitions));
}

/* A `retry_call` step: each attempt reserved (a refusal re-worded by the retrier right after
 * the failed reservation), settled or released as the scenario says, and the retrier asked
 * after each failure. Nothing sleeps. */
static void replay_retry(wflo_engine *engine, wflo_execution *exec, json_t *step, json_t *events) {
    const char *format = json_string_value(json_object_get(step, "format"));
    char *policy = dump(json_object_get(step, "policy"));
    wflo_retrier *retrier = NULL;
    CHECK(wflo_engine_retrier(engine, policy, strlen(policy), &retrier), "wflo_engine_retrier");
    free(policy);
    char *request = dump(json_object_get(step, "request"));
    size_t i;
    json_t *attempt;
    json_array_foreach(json_object_get(step, "attempts"), i, attempt) {
        json_int_t n = wflo_retrier_attempt(retrier);
        wflo_reservation *res = NULL;
        char *body = NULL;
        wflo_status st = wflo_reserve_request(exec, NULL, format, strlen(format), request, strlen(request), NULL, 0,
                                              &res, &body);
        if (st != WFLO_STATUS_OK) {
            st = wflo_retrier_refused(retrier);
            json_array_append_new(events, json_pack("{s:s, s:I, s:s, s:s}", "op", "attempt", "attempt", n, "error",
                                                    wflo_status_name(st), "message", wflo_last_error_message()));
            break;
        }
        wflo_string_free(body);
        json_array_append_new(events, json_pack("{s:s, s:I, s:n}", "op", "attempt", "attempt", n, "error"));
        json_t *v;
        if ((v = json_object_get(attempt, "result"))) {
            char *text = dump(v);
            CHECK(wflo_reservation_settle_result(res, format, strlen(format), text, strlen(text), "ok", 2, NULL),
                  "settle_result");
            free(text);
            wflo_reservation_free(res);
            break;
        }
        json_t *failure = json_object_get(attempt, "failure");
        if ((v = json_object_get(attempt, "text"))) { /* failed after its output was billed */
            const char *text = json_string_value(v);
            CHECK(wflo_reservation_settle_text(res, text, strlen(text), "error", 5, NULL), "settle_text");
        } else {
            const char *msg = json_string_value(json_object_get(failure, "message"));
            CHECK(wflo_reservation_release(res, "error", 5, msg, strlen(msg)), "release");
        }
        wflo_reservation_free(res);
        char *failure_text = dump(failure);
        char *decision_text = NULL;
        CHECK(wflo_retrier_next(retrier, failure_text, strlen(failure_text), &decision_text), "wflo_retrier_next");
        free(failure_text);
        json_t *decision = take_json(decision_text);
        json_object_set_new(decision, "op", json_string("retry"));
        int give_up = strcmp(json_string_value(json_object_get(decision, "decision")), "give_up") == 0;
        json_array_append_new(events, decision);
        if (give_up) break;
    }
    free(request);
    wflo_retrier_free(retrier);
}

#define MAX_PERMITS 16

/* A `resource` step: the resource made with the scenario's config; each action an acquisition
 * (its permit kept by workflow), a release or the statistics. */
static void replay_resource(wflo_engine *engine, json_t *step, json_t *events) {
    const char *name = json_string_value(json_object_get(step, "name"));
    char *config = dump(json_object_get(step, "config"));
    wflo_resource *resource = NULL;
    CHECK(wflo_engine_resource(engine, name, strlen(name), config, strlen(config), &resource), "wflo_engine_resource");
    free(config);
    const char *workflows[MAX_PERMITS];
    wflo_permit *permits[MAX_PERMITS];
    size_t held = 0;
    size_t i;
    json_t *a, *v;
    json_array_foreach(json_object_get(step, "actions"), i, a) {
        if ((v = json_object_get(a, "acquire"))) {
            const char *w = json_string_value(v);
            json_t *t = json_object_get(a, "timeout_ms");
            wflo_permit *permit = NULL;
            wflo_status st = wflo_resource_acquire(resource, w, strlen(w), t ? (int64_t)json_integer_value(t) : -1,
                                                   &permit);
            json_t *error = json_null();
            if (st == WFLO_STATUS_OK) {
                if (held == MAX_PERMITS) die("too many permits", WFLO_STATUS_INVALID_ARGUMENT);
                workflows[held] = w;
                permits[held++] = permit;
            } else {
                json_decref(error);
                error = json_string(wflo_status_name(st));
            }
            json_array_append_new(events, json_pack("{s:s, s:s, s:s, s:o}", "op", "resource", "action", "acquire",
                                                    "workflow", w, "error", error));
        } else if ((v = json_object_get(a, "release"))) {
            const char *w = json_string_value(v);
            size_t k = 0;
            while (k < held && strcmp(workflows[k], w) != 0) k++;
            if (k == held) die("release of a permit not held", WFLO_STATUS_INVALID_ARGUMENT);
            CHECK(wflo_permit_release(permits[k]), "wflo_permit_release");
            wflo_permit_free(permits[k]);
            workflows[k] = workflows[--held];
            permits[k] = permits[held];
            json_array_append_new(events, json_pack("{s:s, s:s, s:s}", "op", "resource", "action", "release",
                                                    "workflow", w));
        } else {
            char *text = NULL;
            CHECK(wflo_resource_stats_json(resource, &text), "wflo_resource_stats_json");
            json_t *stats = take_json(text);
            json_t *holders = json_array();
            size_t h;
            json_t *holder;
            json_array_foreach(json_object_get(stats, "holders"), h, holder)
                json_array_append(holders, json_object_get(holder, "workflow_id"));
            json_array_append_new(events, json_pack("{s:s, s:s, s:O, s:O, s:O, s:o}", "op", "resource", "action",
                                                    "stats", "acquisitions", json_object_get(stats, "acquisitions"),
                                                    "contentions", json_object_get(stats, "contentions"), "timeouts",
                                                    json_object_get(stats, "timeouts"), "holders", holders));
            json_decref(stats);
        }
    }
    for (size_t k = 0; k < held; k++) wflo_permit_free(permits[k]);
    wflo_resource_free(resource);
}

/* An `approval` step: asked without waiting, decided when the scenario says, then waited for
 * with a zero wait. */
static void replay_approval(wflo_engine *engine, wflo_execution *exec, json_t *step, json_t *events) {
    json_t *request = json_object_get(step, "request");
    char *text = dump(request);
    char *out = NULL;
    CHECK(wflo_execution_request_approval(exec, text, strlen(text), &out), "wflo_execution_request_approval");
    free(text);
    json_t *asked = take_json(out);
    const char *id = json_string_value(json_object_get(asked, "id"));
    json_t *decide = json_object_get(step, "decide");
    if (decide) {
        const char *by = json_string_value(json_object_get(decide, "by"));
        const char *note = json_string_value(json_object_get(decide, "note"));
        CHECK(wflo_engine_decide_approval(engine, id, strlen(id), json_is_true(json_object_get(decide, "approve")), by,
                                          by ? strlen(by) : 0, note, note ? strlen(note) : 0, &out),
              "wflo_engine_decide_approval");
        wflo_string_free(out);
    }
    json_t *event;
    wflo_status st = wflo_execution_wait_for_approval(exec, id, strlen(id), 0, &out);
    if (st == WFLO_STATUS_OK) {
        json_t *a = take_json(out);
        event = json_pack("{s:O, s:O, s:O, s:n, s:n}", "status", json_object_get(a, "status"), "decided_by",
                          json_object_get(a, "decided_by"), "note", json_object_get(a, "note"), "error", "timed_out");
        json_decref(a);
    } else if (st == WFLO_STATUS_APPROVAL_DENIED) {
        json_error_t err;
        json_t *e = json_loads(wflo_last_error_json(), 0, &err);
        if (!e) die("wflo_last_error_json is not JSON", st);
        event = json_pack("{s:n, s:O, s:O, s:s, s:O}", "status", "decided_by", json_object_get(e, "by"), "note",
                          json_object_get(e, "note"), "error", wflo_status_name(st), "timed_out",
                          json_object_get(e, "timed_out"));
        json_decref(e);
    } else {
        die("wflo_execution_wait_for_approval", st);
    }
    if (!event) die("an approval event", WFLO_STATUS_INTERNAL);
    json_object_set_new(event, "op", json_string("approval"));
    json_object_set(event, "gate", json_object_get(request, "gate"));
    json_object_set(event, "asked", json_object_get(asked, "status"));
    json_array_append_new(events, event);
    json_decref(asked);
}

/* A scenario's price file, loaded before the execution starts; what the ledger records of it:
 * the names it added, changed and skipped (null without a file). */
static json_t *load_prices(wflo_engine *engine, const char *vectors, json_t *scenario) {
    const char *file = json_string_value(json_object_get(scenario, "prices_file"));
    if (!file) return json_null();
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", vectors, file);
    char *text = NULL;
    wflo_status st = wflo_engine_load_prices(engine, path, strlen(path), &text);
    if (st != WFLO_STATUS_OK) return json_pack("{s:s}", "error", wflo_status_name(st));
    json_t *changes = take_json(text);
    json_t *changed = json_array(), *skipped = json_array();
    size_t i;
    json_t *item;
    json_array_foreach(json_object_get(changes, "changed"), i, item)
        json_array_append(changed, json_object_get(item, "name"));
    json_array_foreach(json_object_get(changes, "skipped"), i, item)
        json_array_append(skipped, json_object_get(item, "name"));
    json_t *out = json_pack("{s:O, s:o, s:o}", "added", json_object_get(changes, "added"), "changed", changed,
                            "skipped", skipped);
    json_decref(changes);
    return out;
}

/* The alert callback: each alert as the ledger keeps it, appended to the array in user_data. */
static void on_alert(void *user_data, const char *alert_json, size_t len) {
    json_error_t err;
    json_t *alert = json_loadb(alert_json, len, 0, &err);
    if (!alert) {
        fprintf(stderr, "parity: an alert is not JSON: %s\n", err.text);
        exit(1);
    }
    json_array_append_new(user_data, json_pack("{s:O, s:O, s:O, s:O, s:O}", "scope", json_object_get(alert, "scope"),
                                               "kind", json_object_get(alert, "kind"), "percent",
                                               json_object_get(alert, "percent"), "limit_nanos",
                                               json_object_get(alert, "limit_nanos"), "spent_nanos",
                                               json_object_get(alert, "spent_nanos")));
    json_decref(alert);
}

/* The lines of the engine's metrics text every face must agree on (money, calls, refusals,
 * alerts, budgets remaining), in order. */
static json_t *metric_lines(wflo_engine *engine) {
    static const char *kept[] = {"wflo_cost_usd_total{", "wflo_calls_total{", "wflo_refusals_total{",
                                 "wflo_alerts_total{", "wflo_budget_remaining_usd{"};
    char *text = NULL;
    CHECK(wflo_engine_metrics_text(engine, &text), "wflo_engine_metrics_text");
    json_t *lines = json_array();
    for (char *line = text; *line;) {
        char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        for (size_t k = 0; k < sizeof kept / sizeof kept[0]; k++)
            if (strncmp(line, kept[k], strlen(kept[k])) == 0) {
                json_array_append_new(lines, json_stringn(line, len));
                break;
            }
        line += len + (end ? 1 : 0);
    }
    wflo_string_free(text);
    return lines;
}

/* Defines the scenario's shared scopes in order (allowances absent: -1, the scope keeps its
 * setting); the names the execution starts with, each once. */
static json_t *define_shared_scopes(wflo_engine *engine, json_t *scenario) {
    json_t *names = json_array();
    size_t i;
    json_t *def;
    json_array_foreach(json_object_get(scenario, "shared_scopes"), i, def) {
        const char *name = json_string_value(json_object_get(def, "name"));
        const char *period = json_string_value(json_object_get(def, "period"));
        if (!period) period = "none";
        json_t *allowances = json_object_get(def, "allowances");
        int32_t on = allowances ? (json_is_true(allowances) ? 1 : 0) : -1;
        CHECK(wflo_engine_define_shared_scope_allowances(engine, name, strlen(name),
                                                         budget(json_object_get(def, "limit_usd")), period,
                                                         strlen(period), on),
              "wflo_engine_define_shared_scope_allowances");
        int seen = 0;
        size_t j;
        json_t *n;
        json_array_foreach(names, j, n) seen |= strcmp(json_string_value(n), name) == 0;
        if (!seen) json_array_append_new(names, json_string(name));
    }
    return names;
}

/* A shared scope's figures, the fields the ledger keeps. */
static void replay_shared(wflo_engine *engine, json_t *step, json_t *events) {
    const char *name = json_string_value(json_object_get(step, "name"));
    char *text = NULL;
    CHECK(wflo_engine_shared_scope_json(engine, name, strlen(name), &text), "wflo_engine_shared_scope_json");
    json_t *figures = take_json(text);
    static const char *const kept[] = {"name", "limit_nanos", "spent_nanos", "reserved_nanos", "overrun_nanos",
                                       "refusing", "allowances", "allowance_nanos", "allowance_holders"};
    json_t *event = json_pack("{s:s}", "op", "shared");
    for (size_t k = 0; k < sizeof kept / sizeof kept[0]; k++) {
        json_t *v = json_object_get(figures, kept[k]);
        if (!v) die(kept[k], WFLO_STATUS_INTERNAL);
        json_object_set(event, kept[k], v);
    }
    json_decref(figures);
    json_array_append_new(events, event);
}

/* The bytes of a `checkpoint_binary` step: its lowercase `hex`, repeated `repeat` times
 * (absent: once). The caller frees them; NULL for none. */
static uint8_t *scenario_bytes(json_t *step, size_t *len_out) {
    const char *hex = json_string_value(json_object_get(step, "hex"));
    json_t *r = json_object_get(step, "repeat");
    size_t once = strlen(hex) / 2, repeat = r ? (size_t)json_integer_value(r) : 1;
    *len_out = once * repeat;
    if (*len_out == 0) return NULL;
    uint8_t *bytes = malloc(*len_out);
    if (!bytes) die("malloc", WFLO_STATUS_INTERNAL);
    for (size_t k = 0; k < once; k++) {
        unsigned int b = 0;
        if (sscanf(hex + 2 * k, "%2x", &b) != 1) die("a scenario's hex", WFLO_STATUS_INVALID_ARGUMENT);
        bytes[k] = (uint8_t)b;
    }
    for (size_t k = 1; k < repeat; k++) memcpy(bytes + k * once, bytes, once);
    return bytes;
}

/* The event of a state a `*_any` call returned — parsed JSON under "state" (content type
 * NULL), or the content type and the bytes as lowercase hex under "binary" — and frees it. */
static json_t *state_event(const char *op, char *content_type, uint8_t *state, size_t len) {
    json_t *event;
    if (!content_type) {
        json_error_t err;
        json_t *v = json_loadb((const char *)state, len, JSON_DECODE_ANY, &err);
        if (!v) {
            fprintf(stderr, "parity: a JSON state is not JSON: %s\n", err.text);
            exit(1);
        }
        event = json_pack("{s:s, s:o}", "op", op, "state", v);
    } else {
        char *hex = malloc(2 * len + 1);
        if (!hex) die("malloc", WFLO_STATUS_INTERNAL);
        for (size_t k = 0; k < len; k++) snprintf(hex + 2 * k, 3, "%02x", state[k]);
        hex[2 * len] = '\0';
        event = json_pack("{s:s, s:{s:s, s:s}}", "op", op, "binary", "content_type", content_type, "hex", hex);
        free(hex);
        wflo_string_free(content_type);
    }
    wflo_bytes_free(state, len);
    return event;
}

/* The event of a `langgraph` step: its request (the step's, `"values"` added as [[type, byte
 * length]] and their bytes given one after another) run through `saver` on `exec`; the answer's
 * JSON with its `"values"` (when it has them) as [[type, lowercase hex]] of the bytes returned,
 * or the error's code. */
static json_t *replay_langgraph(wflo_langgraph *saver, wflo_execution *exec, json_t *step) {
    json_t *request = json_deep_copy(json_object_get(step, "request"));
    json_t *values = json_object_get(step, "values");
    uint8_t *bytes = NULL;
    size_t len = 0;
    if (json_is_array(values)) {
        json_t *listed = json_array();
        size_t k;
        json_t *v;
        json_array_foreach(values, k, v) {
            json_t *hex = json_pack("{s:O}", "hex", json_array_get(v, 1));
            size_t n = 0;
            uint8_t *data = scenario_bytes(hex, &n);
            json_decref(hex);
            json_array_append_new(listed, json_pack("[O, I]", json_array_get(v, 0), (json_int_t)n));
            if (n > 0) {
                uint8_t *grown = realloc(bytes, len + n);
                if (!grown) die("realloc", WFLO_STATUS_INTERNAL);
                bytes = grown;
                memcpy(bytes + len, data, n);
                len += n;
            }
            free(data);
        }
        json_object_set_new(request, "values", listed);
    }
    char *text = dump(request);
    json_decref(request);
    char *answer = NULL;
    uint8_t *out = NULL;
    size_t out_len = 0;
    wflo_status st = wflo_langgraph_call(saver, exec, text, strlen(text), bytes, len, &answer, &out, &out_len);
    free(text);
    free(bytes);
    if (st != WFLO_STATUS_OK) return json_pack("{s:s, s:s}", "op", "langgraph", "error", wflo_status_name(st));
    json_t *parsed = take_json(answer);
    json_t *listed = json_is_object(parsed) ? json_object_get(parsed, "values") : NULL;
    if (listed) {
        json_t *typed = json_array();
        size_t at = 0, k;
        json_t *v;
        json_array_foreach(listed, k, v) {
            size_t n = (size_t)json_integer_value(json_array_get(v, 1));
            if (n > out_len - at) die("a LangGraph answer's values", WFLO_STATUS_INTERNAL);
            char *hex = malloc(2 * n + 1);
            if (!hex) die("malloc", WFLO_STATUS_INTERNAL);
            for (size_t b = 0; b < n; b++) snprintf(hex + 2 * b, 3, "%02x", out[at + b]);
            hex[2 * n] = '\0';
            at += n;
            json_array_append_new(typed, json_pack("[O, s]", json_array_get(v, 0), hex));
            free(hex);
        }
        if (at != out_len) die("a LangGraph answer's values", WFLO_STATUS_INTERNAL);
        json_object_set_new(parsed, "values", typed);
    }
    wflo_bytes_free(out, out_len);
    return json_pack("{s:s, s:o}", "op", "langgraph", "answer", parsed);
}

/* Adds what a checkpoints-since call returned to `event` — the names, sequences and superseded
 * flags of the checkpoints listed in `text` (freed), in order, and the rollback count. */
static json_t *since_event(json_t *event, char *text, uint64_t rollbacks) {
    json_t *list = take_json(text);
    json_t *names = json_array(), *sequences = json_array(), *superseded = json_array();
    size_t k;
    json_t *c;
    json_array_foreach(list, k, c) {
        json_array_append(names, json_object_get(c, "name"));
        json_array_append(sequences, json_object_get(c, "sequence"));
        json_array_append(superseded, json_object_get(c, "superseded"));
    }
    json_decref(list);
    json_object_set_new(event, "names", names);
    json_object_set_new(event, "sequences", sequences);
    json_object_set_new(event, "superseded", superseded);
    json_object_set_new(event, "rollbacks", json_integer((json_int_t)rollbacks));
    return event;
}

/* The start options: the scenario's id, traceparent, alert thresholds, soft budget, approval
 * threshold, call cap and agents' budgets ({name: dollars} to {name: nano-USD}). */
static char *start_options(size_t index, json_t *scenario, json_t *shared_scopes) {
    char id[32];
    snprintf(id, sizeof id, "exec-%012zx", index + 1);
    json_t *options = json_pack("{s:s}", "id", id);
    json_t *v;
    if ((v = json_object_get(scenario, "traceparent"))) json_object_set(options, "traceparent", v);
    if ((v = json_object_get(scenario, "alert_thresholds"))) json_object_set(options, "alert_thresholds", v);
    if ((v = json_object_get(scenario, "soft_budget_usd")))
        json_object_set_new(options, "soft_budget_nanos", json_integer(budget(v)));
    if ((v = json_object_get(scenario, "approval_above_usd")))
        json_object_set_new(options, "approval_above_nanos", json_integer(budget(v)));
    if ((v = json_object_get(scenario, "max_calls"))) json_object_set(options, "max_calls", v);
    if ((v = json_object_get(scenario, "agent_budgets_usd"))) {
        json_t *agents = json_object();
        const char *agent;
        json_t *usd;
        json_object_foreach(v, agent, usd) json_object_set_new(agents, agent, json_integer(budget(usd)));
        json_object_set_new(options, "agent_budgets", agents);
    }
    if (json_array_size(shared_scopes) > 0) json_object_set(options, "shared_scopes", shared_scopes);
    char *text = dump(options);
    json_decref(options);
    return text;
}

static json_t *replay(const char *vectors, size_t index, json_t *scenario) {
    const char *name = json_string_value(json_object_get(scenario, "name"));
    /* A fresh in-memory engine per scenario (the memory store, as Rust's replay and every other
     * face's): a price file loaded by one stays out of the next. */
    wflo_engine *engine = NULL;
    CHECK(wflo_engine_open("memory://", 9, &engine), "wflo_engine_open");
    json_t *prices = load_prices(engine, vectors, scenario);
    json_t *alerts = json_array();
    uint64_t listener = 0;
    CHECK(wflo_engine_add_alert_listener(engine, on_alert, alerts, &listener), "wflo_engine_add_alert_listener");
    json_t *shared_scopes = define_shared_scopes(engine, scenario);
    char *options = start_options(index, scenario, shared_scopes);
    json_decref(shared_scopes);
    wflo_execution *exec = NULL;
    CHECK(wflo_execution_start(engine, name, strlen(name), budget(json_object_get(scenario, "budget_usd")),
                               options, strlen(options), &exec),
          "wflo_execution_start");
    free(options);
    struct scopes scopes = {0};
    /* The scenario's LangGraph checkpointer, made at its first `langgraph` step. */
    wflo_langgraph *saver = NULL;
    json_t *events = json_array();
    size_t i;
    json_t *step;
    json_array_foreach(json_object_get(scenario, "steps"), i, step) {
        const char *op = json_string_value(json_object_get(step, "op"));
        if (strcmp(op, "scope") == 0) {
            const char *label = json_string_value(json_object_get(step, "label"));
            if (scopes.n == MAX_SCOPES) die("too many scopes", WFLO_STATUS_INVALID_ARGUMENT);
            json_t *parent = json_object_get(step, "parent");
            if (parent)
                CHECK(wflo_scope_child(scope_named(&scopes, json_string_value(parent)), label, strlen(label),
                                       budget(json_object_get(step, "budget_usd")), &scopes.handles[scopes.n]),
                      "wflo_scope_child");
            else
                CHECK(wflo_execution_scope(exec, label, strlen(label), budget(json_object_get(step, "budget_usd")),
                                           &scopes.handles[scopes.n]),
                      "wflo_execution_scope");
            scopes.labels[scopes.n++] = label;
            json_array_append_new(events, json_pack("{s:s, s:s}", "op", "scope", "label", label));
        } else if (strcmp(op, "breaker") == 0) {
            replay_breaker(engine, step, events);
        } else if (strcmp(op, "breaker_call") == 0) {
            replay_breaker_call(engine, step, events);
        } else if (strcmp(op, "breakers") == 0) {
            replay_breakers(engine, events);
        } else if (strcmp(op, "retry_call") == 0) {
            replay_retry(engine, exec, step, events);
        } else if (strcmp(op, "resource") == 0) {
            replay_resource(engine, step, events);
        } else if (strcmp(op, "approval") == 0) {
            replay_approval(engine, exec, step, events);
        } else if (strcmp(op, "shared") == 0) {
            replay_shared(engine, step, events);
        } else if (strcmp(op, "call") == 0) {
            /* A call through a breaker is refused before anything is reserved while it is open. */
            const char *breaker_name = json_string_value(json_object_get(step, "breaker"));
            wflo_breaker *breaker = breaker_name ? breaker_named(engine, breaker_name, NULL) : NULL;
            if (breaker) {
                wflo_status st = wflo_breaker_check(breaker);
                if (st != WFLO_STATUS_OK) {
                    json_array_append_new(events, json_pack("{s:s, s:n, s:s}", "op", "call", "body", "error",
                                                            wflo_status_name(st)));
                    wflo_breaker_free(breaker);
                    continue;
                }
            }
            const char *format = json_string_value(json_object_get(step, "format"));
            json_t *label = json_object_get(step, "scope");
            wflo_scope *scope = label ? scope_named(&scopes, json_string_value(label)) : NULL;
            char *request = dump(json_object_get(step, "request"));
            json_t *opts = json_object_get(step, "options");
            char *opts_text = opts ? dump(opts) : NULL;
            wflo_reservation *res = NULL;
            char *body = NULL;
            wflo_status st = wflo_reserve_request(exec, scope, format, strlen(format), request, strlen(request),
                                                  opts_text, opts_text ? strlen(opts_text) : 0, &res, &body);
            free(request);
            free(opts_text);
            if (st != WFLO_STATUS_OK) {
                json_array_append_new(events, json_pack("{s:s, s:n, s:s}", "op", "call", "body", "error",
                                                        wflo_status_name(st)));
                wflo_breaker_free(breaker);
                continue;
            }
            json_array_append_new(events, json_pack("{s:s, s:o, s:n}", "op", "call", "body", take_json(body), "error"));
            json_t *outcome = json_object_get(step, "outcome");
            settle(res, format, outcome);
            wflo_reservation_free(res);
            if (breaker) {
                CHECK(wflo_breaker_record(breaker, json_object_get(outcome, "error") == NULL), "wflo_breaker_record");
                wflo_breaker_free(breaker);
            }
        } else if (strcmp(op, "checkpoint") == 0) {
            const char *cp = json_string_value(json_object_get(step, "name"));
            char *state = dump(json_object_get(step, "state"));
            char *info = NULL;
            CHECK(wflo_checkpoint_save(exec, cp, strlen(cp), state, strlen(state), &info), "wflo_checkpoint_save");
            wflo_string_free(info);
            free(state);
            json_array_append_new(events, json_pack("{s:s, s:s}", "op", "checkpoint", "name", cp));
        } else if (strcmp(op, "checkpoint_binary") == 0) {
            const char *cp = json_string_value(json_object_get(step, "name"));
            /* No content_type: NULL, none given (the engine names the bytes). */
            const char *content_type = json_string_value(json_object_get(step, "content_type"));
            size_t len = 0;
            uint8_t *bytes = scenario_bytes(step, &len);
            char *text = NULL;
            wflo_status st = wflo_checkpoint_save_binary(exec, cp, strlen(cp), content_type,
                                                         content_type ? strlen(content_type) : 0, bytes, len, &text);
            free(bytes);
            if (st != WFLO_STATUS_OK) {
                json_array_append_new(events, json_pack("{s:s, s:s, s:s}", "op", "checkpoint_binary", "name", cp,
                                                        "error", wflo_status_name(st)));
                continue;
            }
            json_t *info = take_json(text);
            json_array_append_new(events, json_pack("{s:s, s:s, s:O, s:O}", "op", "checkpoint_binary", "name", cp,
                                                    "content_type", json_object_get(info, "content_type"),
                                                    "state_bytes", json_object_get(info, "state_bytes")));
            json_decref(info);
        } else if (strcmp(op, "checkpoints_since") == 0) {
            char *text = NULL;
            uint64_t rollbacks = 0;
            CHECK(wflo_checkpoint_list_after_json(exec, (uint64_t)json_integer_value(json_object_get(step, "after")),
                                                  &text, &rollbacks),
                  "wflo_checkpoint_list_after_json");
            json_array_append_new(events,
                                  since_event(json_pack("{s:s}", "op", "checkpoints_since"), text, rollbacks));
        } else if (strcmp(op, "checkpoints_since_with_state") == 0) {
            char *text = NULL, *content_type = NULL;
            uint64_t rollbacks = 0;
            uint8_t *state = NULL;
            size_t len = 0;
            wflo_status st = wflo_checkpoint_since_with_state(
                exec, (uint64_t)json_integer_value(json_object_get(step, "after")),
                (uint64_t)json_integer_value(json_object_get(step, "id")), &text, &rollbacks, &content_type, &state,
                &len);
            if (st != WFLO_STATUS_OK) {
                json_array_append_new(events, json_pack("{s:s, s:s}", "op", "checkpoints_since_with_state", "error",
                                                        wflo_status_name(st)));
                continue;
            }
            json_array_append_new(
                events, since_event(state_event("checkpoints_since_with_state", content_type, state, len), text,
                                    rollbacks));
        } else if (strcmp(op, "langgraph") == 0) {
            if (!saver && !(saver = wflo_langgraph_new())) die("wflo_langgraph_new", WFLO_STATUS_INTERNAL);
            json_array_append_new(events, replay_langgraph(saver, exec, step));
        } else if (strcmp(op, "rollback") == 0) {
            const char *cp = json_string_value(json_object_get(step, "name"));
            char *content_type = NULL;
            uint8_t *state = NULL;
            size_t len = 0;
            CHECK(wflo_checkpoint_rollback_any(exec, cp, strlen(cp), &content_type, &state, &len),
                  "wflo_checkpoint_rollback_any");
            json_array_append_new(events, state_event("rollback", content_type, state, len));
        } else if (strcmp(op, "latest") == 0) {
            char *content_type = NULL;
            uint8_t *state = NULL;
            size_t len = 0;
            wflo_status st = wflo_checkpoint_latest_any(exec, &content_type, &state, &len);
            if (st == WFLO_STATUS_NOT_FOUND)
                json_array_append_new(events, json_pack("{s:s, s:n}", "op", "latest", "state"));
            else if (st != WFLO_STATUS_OK)
                die("wflo_checkpoint_latest_any", st);
            else
                json_array_append_new(events, state_event("latest", content_type, state, len));
        } else {
            fprintf(stderr, "parity: unknown op %s\n", op);
            exit(1);
        }
    }
    json_t *end = json_object_get(scenario, "end");
    char *raised = json_is_array(end) ? dump(end) : NULL;
    const char *status = NULL;
    CHECK(wflo_execution_end(exec, raised, raised ? strlen(raised) : 0, &status), "wflo_execution_end");
    free(raised);
    char *text = NULL;
    CHECK(wflo_execution_calls_json(exec, &text), "wflo_execution_calls_json");
    json_t *calls = take_json(text);
    CHECK(wflo_execution_breakdown_json(exec, &text), "wflo_execution_breakdown_json");
    json_t *breakdown = take_json(text);
    json_t *trace_id = json_null();
    if (json_object_get(scenario, "traceparent")) {
        CHECK(wflo_execution_trace_id(exec, &text), "wflo_execution_trace_id");
        json_decref(trace_id);
        trace_id = json_string(text);
        wflo_string_free(text);
    }
    CHECK(wflo_engine_remove_alert_listener(engine, listener), "wflo_engine_remove_alert_listener");
    json_t *ledger = json_pack("{s:s, s:o, s:s, s:o, s:O, s:O, s:o, s:O, s:o, s:o, s:o}", "name", name, "events",
                               events, "status", status, "calls", calls, "spent_nanos",
                               json_object_get(breakdown, "total_nanos"), "reserved_nanos",
                               json_object_get(breakdown, "reserved_nanos"), "prices", prices, "price_table",
                               json_object_get(breakdown, "price_table"), "alerts", alerts, "trace_id", trace_id,
                               "metrics", metric_lines(engine));
    json_decref(breakdown);
    for (size_t s = 0; s < scopes.n; s++) wflo_scope_free(scopes.handles[s]);
    wflo_langgraph_free(saver);
    wflo_execution_free(exec);
    wflo_engine_free(engine);
    return ledger;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: parity SCENARIOS.json LEDGER.json\n");
        return 2;
    }
    json_error_t err;
    json_t *file = json_load_file(argv[1], 0, &err);
    if (!file) {
        fprintf(stderr, "parity: %s: %s\n", argv[1], err.text);
        return 1;
    }
    /* Price files are named relative to the folder of SCENARIOS.json. */
    char vectors[4096];
    snprintf(vectors, sizeof vectors, "%s", argv[1]);
    char *slash = strrchr(vectors, '/');
    if (slash) *slash = '\0'; else snprintf(vectors, sizeof vectors, ".");
    json_t *ledgers = json_array();
    size_t i;
    json_t *scenario;
    json_array_foreach(json_object_get(file, "scenarios"), i, scenario) {
        json_array_append_new(ledgers, replay(vectors, i, scenario));
    }
    json_t *out = json_pack("{s:s, s:o}", "face", "c", "scenarios", ledgers);
    if (json_dump_file(out, argv[2], JSON_INDENT(1)) != 0) {
        fprintf(stderr, "parity: cannot write %s\n", argv[2]);
        return 1;
    }
    printf("parity: %zu scenarios replayed, ledger written to %s\n", json_array_size(ledgers), argv[2]);
    json_decref(out);
    json_decref(file);
    return 0;
}
