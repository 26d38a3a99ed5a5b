/* Every error path of the C ABI: NULL handles, NULL out-parameters, wrong lengths, invalid
 * UTF-8, malformed JSON, unknown models, settling twice, closing twice — each a status and a
 * message, never a crash, and the engine stays usable afterwards. And the engine's rule for
 * which statuses are refusals (wflo_status_is_refusal), for every status. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wflo.h"

#define S(text) text, strlen(text)

static int failures = 0;

static void expect(const char *what, wflo_status got, wflo_status want) {
    if (got != want) {
        fprintf(stderr, "FAIL %s: got %s, want %s (%s)\n", what, wflo_status_name(got),
                wflo_status_name(want), wflo_last_error_message());
        failures++;
    } else if (want != WFLO_STATUS_OK && wflo_last_error_message()[0] == '\0') {
        fprintf(stderr, "FAIL %s: no error message\n", what);
        failures++;
    }
}

static void expect_message(const char *what, const char *needle) {
    if (strstr(wflo_last_error_message(), needle) == NULL) {
        fprintf(stderr, "FAIL %s: message '%s' lacks '%s'\n", what, wflo_last_error_message(), needle);
        failures++;
    }
}

int main(void) {
    const char bad_utf8[] = {'g', 'p', 't', (char)0xC3, (char)0x28};
    wflo_engine *engine = NULL;
    uint64_t n = 0;
    bool est = false;
    char *json = NULL;

    /* Opening. */
    expect("open with NULL out", wflo_engine_open(S("memory://"), NULL), WFLO_STATUS_INVALID_ARGUMENT);
    expect("open bad scheme", wflo_engine_open(S("mysql://x/y"), &engine), WFLO_STATUS_INVALID_ARGUMENT);
    if (engine != NULL) { fprintf(stderr, "FAIL out written on failure\n"); failures++; }
    expect("open unreachable postgres", wflo_engine_open(S("postgres://nobody@127.0.0.1:1/x"), &engine), WFLO_STATUS_STORAGE);
    expect("open NULL url with length", wflo_engine_open(NULL, 5, &engine), WFLO_STATUS_INVALID_ARGUMENT);
    expect("open", wflo_engine_open(S("memory://"), &engine), WFLO_STATUS_OK);
    if (wflo_last_error_message()[0] != '\0') { fprintf(stderr, "FAIL error not cleared\n"); failures++; }

    /* NULL handles and out-parameters. */
    expect("count NULL engine", wflo_count_tokens(NULL, S("gpt-4o"), S("hi"), &n, &est), WFLO_STATUS_INVALID_ARGUMENT);
    expect_message("count NULL engine", "engine is NULL");
    expect("count NULL out", wflo_count_tokens(engine, S("gpt-4o"), S("hi"), NULL, &est), WFLO_STATUS_INVALID_ARGUMENT);
    expect("cost NULL usage", wflo_cost(engine, S("gpt-4o"), NULL, &n), WFLO_STATUS_INVALID_ARGUMENT);
    expect("start NULL engine", wflo_execution_start(NULL, S("x"), -1, NULL, 0, NULL), WFLO_STATUS_INVALID_ARGUMENT);
    expect("breakdown NULL exec", wflo_execution_breakdown_json(NULL, &json), WFLO_STATUS_INVALID_ARGUMENT);
    expect("reserve NULL exec", wflo_reserve(NULL, NULL, NULL, NULL), WFLO_STATUS_INVALID_ARGUMENT);
    expect("settle NULL reservation", wflo_reservation_settle(NULL, NULL, NULL), WFLO_STATUS_INVALID_ARGUMENT);
    expect("checkpoint NULL exec", wflo_checkpoint_save(NULL, S("a"), S("{}"), NULL), WFLO_STATUS_INVALID_ARGUMENT);
    if (wflo_execution_id(NULL) != NULL) { fprintf(stderr, "FAIL id of NULL\n"); failures++; }
    if (wflo_reservation_amount_nanos(NULL) != 0) { fprintf(stderr, "FAIL amount of NULL\n"); failures++; }
    wflo_engine_free(NULL);
    wflo_execution_free(NULL);
    wflo_scope_free(NULL);
    wflo_reservation_free(NULL);
    wflo_stream_free(NULL);
    wflo_string_free(NULL);

    /* Invalid UTF-8, wrong lengths, bad JSON, unknown models. */
    expect("count invalid utf-8", wflo_count_tokens(engine, bad_utf8, sizeof bad_utf8, S("hi"), &n, &est), WFLO_STATUS_INVALID_ARGUMENT);
    expect_message("count invalid utf-8", "not valid UTF-8");
    expect("count NULL text with length", wflo_count_tokens(engine, S("gpt-4o"), NULL, 3, &n, &est), WFLO_STATUS_INVALID_ARGUMENT);
    expect("count empty text", wflo_count_tokens(engine, S("gpt-4o"), NULL, 0, &n, &est), WFLO_STATUS_OK);
    expect("chat bad json", wflo_count_chat_tokens(engine, S("gpt-4o"), S("[{"), &n, &est), WFLO_STATUS_INVALID_ARGUMENT);
    expect("prices bad json", wflo_engine_set_prices(engine, S("{nope")), WFLO_STATUS_INVALID_ARGUMENT);
    expect("prices unknown field", wflo_engine_set_prices(engine, S("{\"models\":[{\"name\":\"m\",\"inptu\":1}]}")), WFLO_STATUS_INVALID_ARGUMENT);
    wflo_usage usage = {.input = 10, .output = 5};
    expect("cost unknown model", wflo_cost(engine, S("gpt-4o-mimi"), &usage, &n), WFLO_STATUS_UNKNOWN_MODEL);
    expect_message("cost unknown model", "did you mean gpt-4o-mini");
    expect("cost_packed NULL args", wflo_cost_packed(NULL), WFLO_STATUS_INVALID_ARGUMENT);
    wflo_cost_args packed = {.engine = engine, .model = "gpt-4o", .model_len = 6, .usage = usage};
    expect("cost_packed", wflo_cost_packed(&packed), WFLO_STATUS_OK);
    expect("cost", wflo_cost(engine, S("gpt-4o"), &usage, &n), WFLO_STATUS_OK);
    if (packed.nanos != n || n == 0) { fprintf(stderr, "FAIL cost_packed %llu != %llu\n", (unsigned long long)packed.nanos, (unsigned long long)n); failures++; }
    packed.model = "gpt-4o-mimi"; packed.model_len = 11;
    expect("cost_packed unknown model", wflo_cost_packed(&packed), WFLO_STATUS_UNKNOWN_MODEL);
    if (strstr(wflo_last_error_json(), "\"suggestions\"") == NULL) { fprintf(stderr, "FAIL suggestions json\n"); failures++; }
    expect("parse usage bad format", wflo_parse_usage(S("nope"), S("{}"), &usage), WFLO_STATUS_INVALID_ARGUMENT);
    expect("parse usage negative", wflo_parse_usage(S("openai_chat"), S("{\"usage\":{\"prompt_tokens\":-1}}"), &usage), WFLO_STATUS_INVALID_ARGUMENT);
    if (usage.input != 10) { fprintf(stderr, "FAIL usage written on failure\n"); failures++; }
    expect("usd NaN", wflo_usd_to_nanos(0.0 / 0.0, &n), WFLO_STATUS_INVALID_ARGUMENT);
    expect("usd negative", wflo_usd_to_nanos(-1.0, &n), WFLO_STATUS_INVALID_ARGUMENT);
    expect("usd text", wflo_parse_usd(S("two dollars"), &n), WFLO_STATUS_INVALID_ARGUMENT);

    /* Executions, reservations, checkpoints. */
    wflo_execution *exec = NULL;
    expect("start bad options", wflo_execution_start(engine, S("x"), 1000000, S("{\"idd\":1}"), &exec), WFLO_STATUS_INVALID_ARGUMENT);
    expect("start bad id", wflo_execution_start(engine, S("x"), 1000000, S("{\"id\":\"nope\"}"), &exec), WFLO_STATUS_INVALID_ARGUMENT);
    expect("start unknown shared scope", wflo_execution_start(engine, S("x"), -1, S("{\"shared_scopes\":[\"nobody\"]}"), &exec), WFLO_STATUS_NOT_FOUND);
    /* A shared scope's allowances: -1 keep, 0 off, 1 on; anything else is refused. */
    expect("define scope allowances off", wflo_engine_define_shared_scope_allowances(engine, S("fleet"), 1000000, S("day"), 0), WFLO_STATUS_OK);
    expect("define scope allowances kept", wflo_engine_define_shared_scope_allowances(engine, S("fleet"), 2000000, S("day"), -1), WFLO_STATUS_OK);
    expect("define scope allowances 2", wflo_engine_define_shared_scope_allowances(engine, S("fleet"), 1000000, S("day"), 2), WFLO_STATUS_INVALID_ARGUMENT);
    {
        char *figures = NULL;
        expect("scope figures", wflo_engine_shared_scope_json(engine, S("fleet"), &figures), WFLO_STATUS_OK);
        if (figures == NULL || strstr(figures, "\"allowances\":false") == NULL || strstr(figures, "\"limit_nanos\":2000000") == NULL) {
            fprintf(stderr, "FAIL allowances kept off: %s\n", figures ? figures : "(null)");
            failures++;
        }
        wflo_string_free(figures);
    }
    expect("start", wflo_execution_start(engine, S("errors"), 1000000, NULL, 0, &exec), WFLO_STATUS_OK);
    wflo_call_request req = {0};
    wflo_reservation *r = NULL;
    expect("reserve NULL model", wflo_reserve(exec, NULL, &req, &r), WFLO_STATUS_INVALID_ARGUMENT);
    req.model = "gpt-4o-mini";
    req.model_len = strlen(req.model);
    req.cache_write = 7;
    expect("reserve bad cache_write", wflo_reserve(exec, NULL, &req, &r), WFLO_STATUS_INVALID_ARGUMENT);
    req.cache_write = WFLO_CACHE_WRITE_NONE;
    req.input_tokens = UINT64_MAX;
    expect("reserve absurd tokens", wflo_reserve(exec, NULL, &req, &r), WFLO_STATUS_INVALID_ARGUMENT);
    req.input_tokens = 100;
    req.model = "no-such-model";
    req.model_len = strlen(req.model);
    expect("reserve unknown model with budget", wflo_reserve(exec, NULL, &req, &r), WFLO_STATUS_UNKNOWN_MODEL);
    req.model = "gpt-4o-mini";
    req.model_len = strlen(req.model);
    req.max_output_tokens = 100;
    expect("reserve", wflo_reserve(exec, NULL, &req, &r), WFLO_STATUS_OK);
    expect("settle bad json", wflo_reservation_settle_json(r, S("openai_chat"), S("{nope"), NULL), WFLO_STATUS_INVALID_ARGUMENT);
    expect("settle after bad json", wflo_reservation_settle_json(r, S("openai_chat"), S("{\"usage\":{\"prompt_tokens\":100,\"completion_tokens\":50}}"), NULL), WFLO_STATUS_OK);
    expect("settle twice", wflo_reservation_settle(r, &usage, NULL), WFLO_STATUS_CONFLICT);
    expect("release after settle", wflo_reservation_release(r, S("error"), NULL, 0), WFLO_STATUS_CONFLICT);
    expect("release bad status", wflo_reservation_release(r, S("maybe"), NULL, 0), WFLO_STATUS_INVALID_ARGUMENT);
    wflo_reservation_free(r);
    req.max_output_tokens = 1000000;
    expect("reserve over budget", wflo_reserve(exec, NULL, &req, &r), WFLO_STATUS_BUDGET_EXCEEDED);
    if (strstr(wflo_last_error_json(), "\"limit_nanos\":1000000") == NULL) { fprintf(stderr, "FAIL budget json: %s\n", wflo_last_error_json()); failures++; }

    wflo_stream *stream = NULL;
    expect("stream bad format", wflo_stream_new(S("wflo"), &stream), WFLO_STATUS_INVALID_ARGUMENT);
    expect("stream", wflo_stream_new(S("openai_chat"), &stream), WFLO_STATUS_OK);
    expect("stream push bad json", wflo_stream_push(stream, S("{nope")), WFLO_STATUS_INVALID_ARGUMENT);
    expect("stream no usage yet", wflo_stream_usage(stream, &usage), WFLO_STATUS_NOT_FOUND);
    expect("stream push", wflo_stream_push(stream, S("{\"choices\":[{\"delta\":{\"content\":\"Hello there\"}}]}")), WFLO_STATUS_OK);
    req.max_output_tokens = 100;
    expect("reserve for stream", wflo_reserve(exec, NULL, &req, &r), WFLO_STATUS_OK);
    wflo_settled settled = {0};
    expect("settle stream without usage", wflo_reservation_settle_stream(r, stream, NULL, 0, &settled), WFLO_STATUS_OK);
    if (!settled.usage_missing || !settled.estimated || settled.usage.output == 0 || settled.cost_nanos == 0) {
        fprintf(stderr, "FAIL stream record: missing %d estimated %d output %llu\n", settled.usage_missing,
                settled.estimated, (unsigned long long)settled.usage.output);
        failures++;
    }
    expect("settle stream twice", wflo_reservation_settle_stream(r, stream, NULL, 0, NULL), WFLO_STATUS_CONFLICT);
    wflo_reservation_free(r);
    wflo_stream_free(stream);

    expect("checkpoint bad json", wflo_checkpoint_save(exec, S("a"), S("{nope"), NULL), WFLO_STATUS_INVALID_ARGUMENT);
    expect("checkpoint empty name", wflo_checkpoint_save(exec, NULL, 0, S("{}"), NULL), WFLO_STATUS_INVALID_ARGUMENT);
    expect("latest without checkpoints", wflo_checkpoint_latest(exec, &json), WFLO_STATUS_NOT_FOUND);
    expect("rollback unknown name", wflo_checkpoint_rollback(exec, S("never"), &json), WFLO_STATUS_NOT_FOUND);
    expect("checkpoint", wflo_checkpoint_save(exec, S("a"), S("{\"ok\":1}"), &json), WFLO_STATUS_OK);
    /* The checkpoint's state by the id its info names; an id it does not have is NOT_FOUND. */
    const char *id_at = strstr(json, "\"id\":");
    unsigned long long cp_id = id_at ? strtoull(id_at + 5, NULL, 10) : 0;
    wflo_string_free(json);
    expect("state by id", wflo_checkpoint_state(exec, cp_id, &json), WFLO_STATUS_OK);
    if (strcmp(json, "{\"ok\":1}") != 0) { fprintf(stderr, "FAIL state by id: %s\n", json); failures++; }
    wflo_string_free(json);
    expect("state by unknown id", wflo_checkpoint_state(exec, cp_id + 1000, &json), WFLO_STATUS_NOT_FOUND);
    expect("state without out", wflo_checkpoint_state(exec, cp_id, NULL), WFLO_STATUS_INVALID_ARGUMENT);
    expect("finish bad status", wflo_execution_finish(exec, S("done-ish")), WFLO_STATUS_INVALID_ARGUMENT);
    expect("resume bad id", wflo_execution_resume(engine, S("exec-nope"), NULL), WFLO_STATUS_INVALID_ARGUMENT);
    wflo_execution *missing = NULL;
    expect("resume unknown", wflo_execution_resume(engine, S("exec-ffffffffffff"), &missing), WFLO_STATUS_NOT_FOUND);
    expect("scope empty label", wflo_execution_scope(exec, NULL, 0, -1, NULL), WFLO_STATUS_INVALID_ARGUMENT);

    /* The engine is still usable after all of that. */
    expect("count after errors", wflo_count_tokens(engine, S("gpt-4o"), S("Hello, world!"), &n, &est), WFLO_STATUS_OK);
    if (n != 4) { fprintf(stderr, "FAIL count %llu\n", (unsigned long long)n); failures++; }
    expect("breakdown", wflo_execution_breakdown_json(exec, &json), WFLO_STATUS_OK);
    if (strstr(json, "\"refused_calls\":2") == NULL) { fprintf(stderr, "FAIL breakdown %s\n", json); failures++; }
    wflo_string_free(json);

    /* Close twice, then everything says CLOSED. */
    expect("close", wflo_engine_close(engine), WFLO_STATUS_OK);
    expect("close again", wflo_engine_close(engine), WFLO_STATUS_OK);
    expect("reserve after close", wflo_reserve(exec, NULL, &req, &r), WFLO_STATUS_CLOSED);
    expect("start after close", wflo_execution_start(engine, S("x"), -1, NULL, 0, &exec), WFLO_STATUS_CLOSED);
    wflo_execution_free(exec);
    wflo_engine_free(engine);

    if (strcmp(wflo_status_name(3), "BUDGET_EXCEEDED") != 0 || strcmp(wflo_status_name(99), "UNKNOWN") != 0) {
        fprintf(stderr, "FAIL status names\n");
        failures++;
    }

    /* Which statuses are wflo's own refusals (never a breaker's failure, never retried): the
     * engine's rule, for every status; OK and values that are no status are none. */
    static const struct {
        int32_t status;
        bool refusal;
    } refusals[] = {
        {WFLO_STATUS_OK, false},
        {WFLO_STATUS_INVALID_ARGUMENT, false},
        {WFLO_STATUS_UNKNOWN_MODEL, false},
        {WFLO_STATUS_BUDGET_EXCEEDED, true},
        {WFLO_STATUS_NOT_FOUND, false},
        {WFLO_STATUS_CONFLICT, false},
        {WFLO_STATUS_STORAGE, false},
        {WFLO_STATUS_CLOSED, false},
        {WFLO_STATUS_INTERNAL, false},
        {WFLO_STATUS_CIRCUIT_OPEN, true},
        {WFLO_STATUS_RESOURCE_BUSY, true},
        {WFLO_STATUS_APPROVAL_DENIED, true},
        {WFLO_STATUS_APPROVAL_PENDING, true},
        {WFLO_STATUS_CALL_LIMIT, true},
        {14, false},
        {99, false},
        {-1, false},
        {INT32_MIN, false},
        {INT32_MAX, false},
    };
    for (size_t i = 0; i < sizeof refusals / sizeof refusals[0]; i++) {
        if (wflo_status_is_refusal(refusals[i].status) != refusals[i].refusal) {
            fprintf(stderr, "FAIL wflo_status_is_refusal(%d) (%s): want %s\n", (int)refusals[i].status,
                    wflo_status_name(refusals[i].status), refusals[i].refusal ? "true" : "false");
            failures++;
        }
    }
    if (failures) {
        fprintf(stderr, "%d failure(s)\n", failures);
        return 1;
    }
    printf("errors.c: every error path returned its status\n");
    return 0;
}
