/* Retries, circuit breakers, resources and approval gates through the C ABI: a breaker opens
 * after its threshold and refuses with WFLO_STATUS_CIRCUIT_OPEN (its last error JSON naming
 * it), recovers after its timeout, and is one per name; a shared breaker is one breaker for
 * two engines on one SQLite file, and the store lists it and every change of state of every
 * breaker; a retrier returns the engine's
 * decisions, and re-words a budget refusal of a retry; a busy lock refuses with
 * WFLO_STATUS_RESOURCE_BUSY naming its holders, frees on release or when a lease ends, and
 * counts it all; an approval is one per gate, and a denial or a timeout is
 * WFLO_STATUS_APPROVAL_DENIED with who and why; on an engine that returns pending approvals, a
 * call over an execution's approval threshold is WFLO_STATUS_APPROVAL_PENDING (a refusal)
 * naming its approval, and goes through once approved; bad arguments are a status and a
 * message, never a crash. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

static void expect_not_in(const char *what, const char *text, const char *needle) {
    if (text == NULL || strstr(text, needle) != NULL) {
        fprintf(stderr, "FAIL %s: '%s' has '%s'\n", what, text ? text : "(null)", needle);
        failures++;
    }
}

/* How many times needle occurs in text. */
static int occurrences(const char *text, const char *needle) {
    int n = 0;
    for (const char *p = text; p != NULL && (p = strstr(p, needle)) != NULL; p += strlen(needle)) n++;
    return n;
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

/* What the store knows of breakers (name NULL: all), as a new string (NULL on failure). */
static char *on_store(const char *what, const wflo_engine *engine, const char *name, uint32_t limit) {
    char *json = NULL;
    expect(what, wflo_engine_breakers_on_store_json(engine, name, name ? strlen(name) : 0, limit, &json),
           WFLO_STATUS_OK);
    return json;
}

/* Two engines on one SQLite file (in a temporary directory): a breaker made with
 * {"shared": true} is one breaker for both. */
static void shared_breakers(void) {
    char dir[] = "/tmp/wflo-c-breakers.XXXXXX";
    if (mkdtemp(dir) == NULL) {
        fprintf(stderr, "FAIL mkdtemp\n");
        failures++;
        return;
    }
    char db[64];
    snprintf(db, sizeof db, "%s/wflo.db", dir);
    wflo_engine *a = NULL, *b = NULL;
    expect("open a", wflo_engine_open(db, strlen(db), &a), WFLO_STATUS_OK);
    expect("open b", wflo_engine_open(db, strlen(db), &b), WFLO_STATUS_OK);
    if (a == NULL || b == NULL) return;
    const char *config = "{\"failure_threshold\": 2, \"recovery_timeout_ms\": 3600000, \"success_threshold\": 1, "
                         "\"shared\": true}";
    wflo_breaker *via_a = NULL, *via_b = NULL, *local_a = NULL, *local_b = NULL;
    expect("shared breaker a", wflo_engine_breaker(a, S("c-shared"), S(config), &via_a), WFLO_STATUS_OK);
    expect("shared breaker b", wflo_engine_breaker(b, S("c-shared"), S(config), &via_b), WFLO_STATUS_OK);
    expect_status("shared in the status", via_a, "\"shared\":true");

    /* One failure through each engine: together they reach the threshold. */
    expect("check a", wflo_breaker_check(via_a), WFLO_STATUS_OK);
    expect("failure a", wflo_breaker_record(via_a, false), WFLO_STATUS_OK);
    expect_status("one failure of two", via_b, "\"state\":\"closed\"");
    expect("check b", wflo_breaker_check(via_b), WFLO_STATUS_OK);
    expect("failure b", wflo_breaker_record(via_b, false), WFLO_STATUS_OK);
    const wflo_breaker *both[] = {via_a, via_b};
    for (int i = 0; i < 2; i++) {
        expect("either engine fails fast", wflo_breaker_check(both[i]), WFLO_STATUS_CIRCUIT_OPEN);
        expect_in("fails fast: name", wflo_last_error_json(), "\"name\":\"c-shared\"");
        expect_in("fails fast: failures", wflo_last_error_json(), "\"failures\":2");
        expect_status("open for either engine", both[i], "\"state\":\"open\"");
    }

    /* The other engine reads it from the store: open, opened once, by the second failure. */
    char *json = on_store("breakers on store", b, NULL, 50);
    expect_in("on store: the shared breaker", json, "\"name\":\"c-shared\",\"shared\":true,\"state\":\"open\"");
    expect_in("on store: failures", json, "\"failure_count\":2");
    expect_in("on store: the change", json,
              "\"breaker\":\"c-shared\",\"shared\":true,\"from\":\"closed\",\"to\":\"open\"");
    expect_in("on store: why", json, "\"reason\":\"2 consecutive failures\"");
    expect_in("on store: who", json, "\"holder\":\"");
    /* One change of state, listed twice: in the breaker's status and in the store's list. */
    expect_true("on store: one change of state", occurrences(json, "\"to\":\"open\"") == 2 &&
                                                     occurrences(json, "\"from\":") == 2);
    wflo_string_free(json);

    /* A reset through one engine closes it for the other. */
    expect("reset through b", wflo_breaker_reset(via_b), WFLO_STATUS_OK);
    expect_status("closed for a", via_a, "\"state\":\"closed\"");
    expect("a may call again", wflo_breaker_check(via_a), WFLO_STATUS_OK);
    json = on_store("breakers on store, by name", a, "c-shared", 50);
    expect_in("reset recorded", json, "\"from\":\"open\",\"to\":\"closed\",\"at_ms\":");
    expect_in("reset reason", json, "\"reason\":\"reset\"");
    wflo_string_free(json);

    /* A breaker of one engine: its change of state is recorded in the store, its state is not. */
    expect("local breaker a", wflo_engine_breaker(a, S("c-local"), S("{\"failure_threshold\": 1}"), &local_a),
           WFLO_STATUS_OK);
    expect("local failure", wflo_breaker_record(local_a, false), WFLO_STATUS_OK);
    expect("local breaker open", wflo_breaker_check(local_a), WFLO_STATUS_CIRCUIT_OPEN);
    expect("local breaker b", wflo_engine_breaker(b, S("c-local"), S("{\"failure_threshold\": 1}"), &local_b),
           WFLO_STATUS_OK);
    expect("not shared: b has its own", wflo_breaker_check(local_b), WFLO_STATUS_OK);
    json = on_store("breakers on store, all", b, NULL, 50);
    expect_in("the local change is listed", json,
              "\"breaker\":\"c-local\",\"shared\":false,\"from\":\"closed\",\"to\":\"open\"");
    expect_not_in("the local state is not", json, "\"name\":\"c-local\"");
    wflo_string_free(json);
    json = on_store("breakers on store, the latest", b, NULL, 1);
    /* The store's list is the last key, after the shared breakers' own transitions. */
    const char *latest = json;
    for (const char *p = json; p != NULL && (p = strstr(p, "\"transitions\":")) != NULL; p++) latest = p;
    expect_true("limit 1: the latest change only", occurrences(latest, "\"from\":") == 1 &&
                                                        strstr(latest ? latest : "", "\"breaker\":\"c-local\"") != NULL);
    wflo_string_free(json);
    json = on_store("breakers on store, nobody", b, "c-nobody", 50);
    expect_true("no such breaker", json != NULL && strcmp(json, "{\"shared\":[],\"transitions\":[]}") == 0);
    wflo_string_free(json);

    /* Bad arguments. */
    json = NULL;
    expect("on store NULL engine", wflo_engine_breakers_on_store_json(NULL, NULL, 0, 50, &json),
           WFLO_STATUS_INVALID_ARGUMENT);
    expect("on store NULL out", wflo_engine_breakers_on_store_json(a, NULL, 0, 50, NULL), WFLO_STATUS_INVALID_ARGUMENT);
    expect_true("out not written on failure", json == NULL);

    wflo_breaker_free(via_a);
    wflo_breaker_free(via_b);
    wflo_breaker_free(local_a);
    wflo_breaker_free(local_b);
    wflo_engine_free(a);
    wflo_engine_free(b);
    const char *suffixes[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; i < sizeof suffixes / sizeof *suffixes; i++) {
        char file[80];
        snprintf(file, sizeof file, "%s%s", db, suffixes[i]);
        unlink(file);
    }
    expect_true("temporary directory removed", rmdir(dir) == 0);
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

/* The resource's statistics JSON contains needle. */
static void expect_stats(const char *what, const wflo_resource *r, const char *needle) {
    char *json = NULL;
    expect(what, wflo_resource_stats_json(r, &json), WFLO_STATUS_OK);
    expect_in(what, json, needle);
    wflo_string_free(json);
}

static void resources(wflo_engine *engine) {
    wflo_resource *lock = NULL;
    expect("resource", wflo_engine_resource(engine, S("c-lock"), S("{\"contention_threshold_ms\": 600000}"), &lock),
           WFLO_STATUS_OK);
    wflo_permit *a = NULL, *b = NULL, *c = NULL;
    expect("acquire free lock", wflo_resource_acquire(lock, S("wf-a"), 0, &a), WFLO_STATUS_OK);
    expect("acquire held lock", wflo_resource_acquire(lock, S("wf-b"), 0, &b), WFLO_STATUS_RESOURCE_BUSY);
    expect_in("busy message", wflo_last_error_message(), "c-lock");
    expect_in("busy json code", wflo_last_error_json(), "\"code\":\"RESOURCE_BUSY\"");
    expect_in("busy json resource", wflo_last_error_json(), "\"resource\":\"c-lock\"");
    expect_in("busy json holders", wflo_last_error_json(), "\"holders\":[\"wf-a (");
    expect_in("busy json waited_ms", wflo_last_error_json(), "\"waited_ms\":");
    expect_true("out not written on failure", b == NULL);
    expect_stats("stats while held", lock, "\"acquisitions\":1,\"contentions\":0,\"timeouts\":1");
    expect_stats("stats holder", lock, "\"workflow_id\":\"wf-a\"");
    bool held = false;
    expect("renew", wflo_permit_renew(a, &held), WFLO_STATUS_OK);
    expect_true("renewed while held", held);
    expect("release", wflo_permit_release(a), WFLO_STATUS_OK);
    expect("release twice", wflo_permit_release(a), WFLO_STATUS_OK);
    expect("renew released", wflo_permit_renew(a, &held), WFLO_STATUS_OK);
    expect_true("a released hold is not renewed", !held);
    expect("acquire after release", wflo_resource_acquire(lock, S("wf-b"), 0, &b), WFLO_STATUS_OK);
    expect_true("no wait", wflo_permit_waited_ms(b) == 0);
    wflo_permit_free(b); /* releases */
    expect("acquire after free", wflo_resource_acquire(lock, S("wf-c"), -1, &c), WFLO_STATUS_OK);
    expect_stats("stats add up", lock, "\"acquisitions\":3,\"contentions\":0,\"timeouts\":1");
    expect("reset stats", wflo_resource_reset_stats(lock), WFLO_STATUS_OK);
    expect_stats("stats after reset", lock, "\"acquisitions\":0,\"contentions\":0,\"timeouts\":0");
    expect_stats("holds stay after reset", lock, "\"workflow_id\":\"wf-c\"");
    wflo_permit_free(a);
    wflo_permit_free(c);
    expect_stats("no holder once freed", lock, "\"holders\":[]");

    /* A hold whose lease ends frees its slot: a waiter gets it (generous timeout: valgrind). */
    wflo_resource *sem = NULL;
    expect("semaphore", wflo_engine_resource(engine, S("c-sem"), S("{\"max_concurrent\": 2, \"lease_ms\": 60}"), &sem),
           WFLO_STATUS_OK);
    wflo_permit *s1 = NULL, *s2 = NULL, *s3 = NULL;
    expect("slot 1", wflo_resource_acquire(sem, S("wf-1"), 0, &s1), WFLO_STATUS_OK);
    expect("slot 2", wflo_resource_acquire(sem, S("wf-2"), 0, &s2), WFLO_STATUS_OK);
    expect("no slot 3", wflo_resource_acquire(sem, S("wf-3"), 0, &s3), WFLO_STATUS_RESOURCE_BUSY);
    expect_in("both holders", wflo_last_error_json(), "\"wf-2 (");
    expect("slot 3 once a lease ends", wflo_resource_acquire(sem, S("wf-3"), 10000, &s3), WFLO_STATUS_OK);
    expect_true("it waited", wflo_permit_waited_ms(s3) > 0);
    wflo_permit_free(s1);
    wflo_permit_free(s2);
    wflo_permit_free(s3);
    wflo_resource_free(sem);

    /* Bad arguments. */
    wflo_resource *bad = NULL;
    expect("empty name", wflo_engine_resource(engine, S(""), NULL, 0, &bad), WFLO_STATUS_INVALID_ARGUMENT);
    expect("unknown config key", wflo_engine_resource(engine, S("x"), S("{\"slots\": 1}"), &bad),
           WFLO_STATUS_INVALID_ARGUMENT);
    expect("zero slots", wflo_engine_resource(engine, S("x"), S("{\"max_concurrent\": 0}"), &bad),
           WFLO_STATUS_INVALID_ARGUMENT);
    expect_true("out not written on failure", bad == NULL);
    expect("NULL out", wflo_engine_resource(engine, S("x"), NULL, 0, NULL), WFLO_STATUS_INVALID_ARGUMENT);
    wflo_permit *p = NULL;
    expect("acquire NULL", wflo_resource_acquire(NULL, S("w"), 0, &p), WFLO_STATUS_INVALID_ARGUMENT);
    expect("acquire NULL out", wflo_resource_acquire(lock, S("w"), 0, NULL), WFLO_STATUS_INVALID_ARGUMENT);
    expect("stats NULL", wflo_resource_stats_json(NULL, NULL), WFLO_STATUS_INVALID_ARGUMENT);
    expect("renew NULL", wflo_permit_renew(NULL, &held), WFLO_STATUS_INVALID_ARGUMENT);
    expect("release NULL", wflo_permit_release(NULL), WFLO_STATUS_INVALID_ARGUMENT);
    expect_true("waited of NULL is 0", wflo_permit_waited_ms(NULL) == 0);
    wflo_permit_free(NULL);
    wflo_resource_free(NULL);
    wflo_resource_free(lock);
}

/* Copies the string value of "key" in a JSON object (first occurrence) into out. */
static void json_field(const char *json, const char *key, char *out, size_t size) {
    char pattern[64];
    snprintf(pattern, sizeof pattern, "\"%s\":\"", key);
    out[0] = '\0';
    const char *at = json ? strstr(json, pattern) : NULL;
    if (!at) return;
    at += strlen(pattern);
    size_t n = strcspn(at, "\"");
    if (n >= size) n = size - 1;
    memcpy(out, at, n);
    out[n] = '\0';
}

/* Asks for an approval; returns its id in id (the approval JSON must contain needle). */
static void request(const char *what, const wflo_execution *x, const char *req, char *id, const char *needle) {
    char *json = NULL;
    expect(what, wflo_execution_request_approval(x, S(req), &json), WFLO_STATUS_OK);
    expect_in(what, json, needle);
    json_field(json, "id", id, 64);
    wflo_string_free(json);
}

/* Approves or denies id; the decided approval's JSON must contain needle. */
static void decide(const char *what, const wflo_engine *engine, const char *id, bool approve, const char *by,
                   const char *note, wflo_status want, const char *needle) {
    char *json = NULL;
    expect(what, wflo_engine_decide_approval(engine, S(id), approve, by, by ? strlen(by) : 0, note,
                                             note ? strlen(note) : 0, &json),
           want);
    if (needle) expect_in(what, json, needle);
    wflo_string_free(json);
}

static void approvals(wflo_engine *engine) {
    wflo_execution *x = NULL;
    expect("start", wflo_execution_start(engine, S("c-approvals"), -1, NULL, 0, &x), WFLO_STATUS_OK);
    char id[64], again[64], denied[64], late[64];
    request("request", x, "{\"gate\": \"publish\", \"why\": \"emails customers\", \"worst_case_nanos\": 250000000}",
            id, "\"status\":\"pending\"");
    expect_true("an id", strncmp(id, "appr-", 5) == 0);
    request("same gate", x, "{\"gate\": \"publish\"}", again, "\"why\":\"emails customers\"");
    expect_true("same gate, same approval", strcmp(id, again) == 0);
    char *json = NULL;
    expect("a look", wflo_execution_wait_for_approval(x, S(id), 0, &json), WFLO_STATUS_OK);
    expect_in("still pending", json, "\"status\":\"pending\"");
    wflo_string_free(json);
    expect("pending list", wflo_engine_approvals_json(engine, true, &json), WFLO_STATUS_OK);
    expect_in("pending list", json, id);
    wflo_string_free(json);
    decide("approve", engine, id, true, "ana", "checked the copy", WFLO_STATUS_OK, "\"decided_by\":\"ana\"");
    decide("decide twice", engine, id, false, NULL, NULL, WFLO_STATUS_CONFLICT, NULL);
    json = NULL;
    expect("wait approved", wflo_execution_wait_for_approval(x, S(id), -1, &json), WFLO_STATUS_OK);
    expect_in("approved", json, "\"status\":\"approved\"");
    expect_in("approved note", json, "\"note\":\"checked the copy\"");
    wflo_string_free(json);

    request("request to deny", x, "{\"gate\": \"delete-index\"}", denied, "\"what\":\"run delete-index\"");
    decide("deny", engine, denied, false, "bo", "not on a Friday", WFLO_STATUS_OK, "\"status\":\"denied\"");
    json = NULL;
    expect("wait denied", wflo_execution_wait_for_approval(x, S(denied), -1, &json), WFLO_STATUS_APPROVAL_DENIED);
    expect_true("out not written on failure", json == NULL);
    expect_in("denied message", wflo_last_error_message(), "denied by bo: not on a Friday");
    expect_in("denied json code", wflo_last_error_json(), "\"code\":\"APPROVAL_DENIED\"");
    expect_in("denied json gate", wflo_last_error_json(), "\"gate\":\"delete-index\"");
    expect_in("denied json by", wflo_last_error_json(), "\"by\":\"bo\"");
    expect_in("denied json note", wflo_last_error_json(), "\"note\":\"not on a Friday\"");
    expect_in("denied json timed_out", wflo_last_error_json(), "\"timed_out\":false");
    expect_in("denied json id", wflo_last_error_json(), denied);

    /* Nobody answers: the timeout denies it. */
    request("request with a timeout", x, "{\"gate\": \"deploy\", \"timeout_ms\": 100}", late, "\"on_timeout\":\"deny\"");
    expect("wait timed out", wflo_execution_wait_for_approval(x, S(late), -1, &json), WFLO_STATUS_APPROVAL_DENIED);
    expect_in("timed out json", wflo_last_error_json(), "\"timed_out\":true");
    expect_in("timed out message", wflo_last_error_message(), "not given in time");

    /* Bad arguments. */
    json = NULL;
    expect("no gate", wflo_execution_request_approval(x, S("{}"), &json), WFLO_STATUS_INVALID_ARGUMENT);
    expect("unknown key", wflo_execution_request_approval(x, S("{\"gate\": \"g\", \"who\": 1}"), &json),
           WFLO_STATUS_INVALID_ARGUMENT);
    expect("bad on_timeout", wflo_execution_request_approval(x, S("{\"gate\": \"g\", \"on_timeout\": \"shrug\"}"), &json),
           WFLO_STATUS_INVALID_ARGUMENT);
    expect_true("out not written on failure", json == NULL);
    decide("unknown id", engine, "appr-nosuchthing", true, NULL, NULL, WFLO_STATUS_NOT_FOUND, NULL);
    expect("wait unknown id", wflo_execution_wait_for_approval(x, S("appr-nosuchthing"), 0, &json),
           WFLO_STATUS_NOT_FOUND);
    expect("request NULL", wflo_execution_request_approval(NULL, S("{\"gate\": \"g\"}"), &json),
           WFLO_STATUS_INVALID_ARGUMENT);
    expect("wait NULL out", wflo_execution_wait_for_approval(x, S(id), 0, NULL), WFLO_STATUS_INVALID_ARGUMENT);
    expect("list NULL", wflo_engine_approvals_json(NULL, false, &json), WFLO_STATUS_INVALID_ARGUMENT);
    wflo_execution_free(x);
}

/* An execution with an approval threshold on an engine that returns pending approvals
 * (wflo_engine_set_approval_wait): a costly call is WFLO_STATUS_APPROVAL_PENDING with the
 * approval's id, nothing reserved; approved, reserving again goes through; the next costly
 * call has a gate of its own, and denied it is WFLO_STATUS_APPROVAL_DENIED. */
static void approval_threshold(void) {
    wflo_engine *engine = NULL;
    expect("open", wflo_engine_open(S("memory://"), &engine), WFLO_STATUS_OK);
    expect("return pending", wflo_engine_set_approval_wait(engine, true), WFLO_STATUS_OK);
    expect("set wait NULL", wflo_engine_set_approval_wait(NULL, true), WFLO_STATUS_INVALID_ARGUMENT);
    expect_true("pending is a refusal", wflo_status_is_refusal(WFLO_STATUS_APPROVAL_PENDING));
    expect_true("its name", strcmp(wflo_status_name(WFLO_STATUS_APPROVAL_PENDING), "APPROVAL_PENDING") == 0);
    wflo_execution *x = NULL;
    const char *options = "{\"approval_above_nanos\": 1000000}"; /* $0.001 */
    expect("start", wflo_execution_start(engine, S("c-threshold"), 1000000000, S(options), &x), WFLO_STATUS_OK);
    wflo_call_request big = {0};
    big.model = "gpt-4o";
    big.model_len = strlen(big.model);
    big.input_tokens = 1000;
    big.max_output_tokens = 4000; /* up to ~$0.04 */
    wflo_reservation *r = NULL;
    expect("costly call", wflo_reserve(x, NULL, &big, &r), WFLO_STATUS_APPROVAL_PENDING);
    expect_true("nothing reserved", r == NULL);
    char id[64], pending[64];
    const char *err = wflo_last_error_json();
    expect_in("pending json code", err, "\"code\":\"APPROVAL_PENDING\"");
    expect_in("pending json gate", err, "\"gate\":\"call #1 over $0.001\"");
    expect_in("pending json what", err, "\"what\":\"a gpt-4o call that may cost up to");
    json_field(err, "id", id, sizeof id);
    expect_true("an approval id", strncmp(id, "appr-", 5) == 0);
    char *json = NULL;
    expect("approval by id", wflo_engine_approval_json(engine, S(id), &json), WFLO_STATUS_OK);
    expect_in("found pending", json, "\"status\":\"pending\"");
    expect_in("found gate", json, "\"gate\":\"call #1 over $0.001\"");
    wflo_string_free(json);
    json = NULL;
    expect("unknown approval", wflo_engine_approval_json(engine, S("appr-nosuchthing"), &json), WFLO_STATUS_NOT_FOUND);
    expect_true("out not written on failure", json == NULL);
    expect("approval NULL out", wflo_engine_approval_json(engine, S(id), NULL), WFLO_STATUS_INVALID_ARGUMENT);
    /* Asked again before anyone decided: the same approval. */
    expect("again", wflo_reserve(x, NULL, &big, &r), WFLO_STATUS_APPROVAL_PENDING);
    json_field(wflo_last_error_json(), "id", pending, sizeof pending);
    expect_true("same approval", strcmp(id, pending) == 0);
    expect("breakdown", wflo_execution_breakdown_json(x, &json), WFLO_STATUS_OK);
    expect_in("nothing held", json, "\"reserved_nanos\":0");
    wflo_string_free(json);

    decide("approve gate 1", engine, id, true, "ana", NULL, WFLO_STATUS_OK, "\"status\":\"approved\"");
    expect("approved call", wflo_reserve(x, NULL, &big, &r), WFLO_STATUS_OK);
    expect_true("a reservation", r != NULL && wflo_reservation_amount_nanos(r) > 1000000);
    expect("release", wflo_reservation_release(r, S("aborted"), NULL, 0), WFLO_STATUS_OK);
    wflo_reservation_free(r);
    r = NULL;

    /* The next costly call: gate 2, denied. */
    expect("gate 2", wflo_reserve(x, NULL, &big, &r), WFLO_STATUS_APPROVAL_PENDING);
    expect_in("gate 2 json", wflo_last_error_json(), "\"gate\":\"call #2 over $0.001\"");
    json_field(wflo_last_error_json(), "id", id, sizeof id);
    expect_true("a new approval", strcmp(id, pending) != 0);
    decide("deny gate 2", engine, id, false, "bo", "too big", WFLO_STATUS_OK, "\"status\":\"denied\"");
    expect("denied call", wflo_reserve(x, NULL, &big, &r), WFLO_STATUS_APPROVAL_DENIED);
    expect_true("nothing reserved when denied", r == NULL);
    expect_in("denied json by", wflo_last_error_json(), "\"by\":\"bo\"");
    wflo_execution_free(x);
    wflo_engine_free(engine);
}

int main(void) {
    wflo_engine *engine = NULL;
    expect("open", wflo_engine_open(S("memory://"), &engine), WFLO_STATUS_OK);
    if (engine == NULL) return 1;
    breakers(engine);
    shared_breakers();
    retriers(engine);
    resources(engine);
    approvals(engine);
    wflo_engine_free(engine);
    approval_threshold();
    if (failures) {
        fprintf(stderr, "resilience: %d failure(s)\n", failures);
        return 1;
    }
    printf("resilience: all passed\n");
    return 0;
}
