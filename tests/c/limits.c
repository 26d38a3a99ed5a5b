/* Execution limits through the C ABI (the original SDK's max_iterations and per_agent_budgets):
 * an execution started with `max_calls` refuses the call after its last with
 * WFLO_STATUS_CALL_LIMIT (a refusal; its error JSON naming the execution and the cap), nothing
 * reserved, and a call refused for another reason does not use up the cap; an execution
 * started with `agent_budgets` charges a call made with request option `agent` to the agent's
 * scope `agent:<name>`, so the agent over its share is refused while another goes on. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

/* gpt-4o-mini, one short message, `max_tokens` of output. */
static char *chat(unsigned max_tokens) {
    static char body[256];
    snprintf(body, sizeof body,
             "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":%u}",
             max_tokens);
    return body;
}

/* Reserves `body` with `options` (NULL: none) and, when it is reserved, settles it with
 * 10 input and `output` output tokens (below what the reservation holds: settling above it
 * is an overrun, after which a limited scope refuses every call). Returns the status. */
static wflo_status call(wflo_execution *x, const char *body, const char *options, uint64_t output) {
    wflo_reservation *r = NULL;
    char *sent = NULL;
    wflo_status st = wflo_reserve_request(x, NULL, S("openai_chat"), S(body), options, options ? strlen(options) : 0,
                                          &r, &sent);
    if (st != WFLO_STATUS_OK) {
        expect_true("nothing written on a refusal", r == NULL && sent == NULL);
        return st;
    }
    wflo_usage usage = {0};
    usage.input = 10;
    usage.output = output;
    wflo_settled settled;
    expect("settle", wflo_reservation_settle(r, &usage, &settled), WFLO_STATUS_OK);
    wflo_reservation_free(r);
    wflo_string_free(sent);
    return WFLO_STATUS_OK;
}

static void expect_json(const char *what, wflo_status (*get)(const wflo_execution *, char **),
                        const wflo_execution *x, const char *needle) {
    char *json = NULL;
    expect(what, get(x, &json), WFLO_STATUS_OK);
    expect_in(what, json, needle);
    wflo_string_free(json);
}

static void call_cap(wflo_engine *engine) {
    wflo_execution *x = NULL;
    expect("start capped", wflo_execution_start(engine, S("c-capped"), 1000000000, S("{\"max_calls\": 2}"), &x),
           WFLO_STATUS_OK);
    expect("call 1", call(x, chat(50), NULL, 5), WFLO_STATUS_OK);
    /* Refused by the budget ($1 against gpt-4o's 16k output is fine; 200k max_tokens is not). */
    expect("over budget", call(x, "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
                                  "\"max_tokens\":200000}", NULL, 0),
           WFLO_STATUS_BUDGET_EXCEEDED);
    expect("call 2: the refusal did not use up the cap", call(x, chat(50), NULL, 5), WFLO_STATUS_OK);
    expect("call 3", call(x, chat(50), NULL, 5), WFLO_STATUS_CALL_LIMIT);
    const char *err = wflo_last_error_json();
    expect_in("code", err, "\"code\":\"CALL_LIMIT\"");
    expect_in("cap", err, "\"max_calls\":2");
    expect_in("execution", err, "\"execution\":\"exec-");
    expect_in("execution id", err, wflo_execution_id(x));
    expect_true("a refusal", wflo_status_is_refusal(WFLO_STATUS_CALL_LIMIT));
    expect_true("its name", strcmp(wflo_status_name(WFLO_STATUS_CALL_LIMIT), "CALL_LIMIT") == 0);
    wflo_call_request req = {0};
    req.model = "gpt-4o-mini";
    req.model_len = strlen(req.model);
    req.max_output_tokens = 10;
    wflo_reservation *r = NULL;
    expect("wflo_reserve is capped too", wflo_reserve(x, NULL, &req, &r), WFLO_STATUS_CALL_LIMIT);
    expect_true("no reservation", r == NULL);
    expect_json("nothing held", wflo_execution_breakdown_json, x, "\"reserved_nanos\":0");
    const char *status = NULL;
    expect("end", wflo_execution_end(x, S("[\"CALL_LIMIT\"]"), &status), WFLO_STATUS_OK);
    expect_true("ends failed", status != NULL && strcmp(status, "failed") == 0);
    wflo_execution_free(x);

    expect("a cap that is not a count", wflo_execution_start(engine, S("c-bad"), -1, S("{\"max_calls\": -1}"), &x),
           WFLO_STATUS_INVALID_ARGUMENT);
}

static void agent_budgets(wflo_engine *engine) {
    wflo_execution *x = NULL;
    /* The researcher's share: $0.001; gpt-4o-mini's output is $0.60 per million tokens. */
    expect("start agents",
           wflo_execution_start(engine, S("c-agents"), 1000000000, S("{\"agent_budgets\": {\"researcher\": 1000000}}"),
                                &x),
           WFLO_STATUS_OK);
    const char *researcher = "{\"agent\": \"researcher\"}";
    const char *writer = "{\"agent\": \"writer\"}";
    expect("researcher 1", call(x, chat(1000), researcher, 900), WFLO_STATUS_OK); /* $0.0005415 */
    expect("researcher 2", call(x, chat(1000), researcher, 900), WFLO_STATUS_BUDGET_EXCEEDED);
    expect_in("the agent's scope refused", wflo_last_error_json(), "\"scope\":\"agent:researcher\"");
    expect_in("its share", wflo_last_error_json(), "\"limit_nanos\":1000000");
    for (int i = 0; i < 3; i++) expect("writer", call(x, chat(1000), writer, 900), WFLO_STATUS_OK);
    expect_json("steps", wflo_execution_breakdown_json, x, "\"step\":\"agent:writer\"");
    expect_json("calls", wflo_execution_calls_json, x, "\"step\":\"agent:researcher\"");
    expect_json("nothing held", wflo_execution_breakdown_json, x, "\"reserved_nanos\":0");
    expect("an empty agent name", call(x, chat(10), "{\"agent\": \"\"}", 1), WFLO_STATUS_INVALID_ARGUMENT);
    wflo_execution_free(x);
}

int main(void) {
    wflo_engine *engine = NULL;
    expect("open", wflo_engine_open(S("memory://"), &engine), WFLO_STATUS_OK);
    if (engine == NULL) return 1;
    call_cap(engine);
    agent_budgets(engine);
    wflo_engine_free(engine);
    if (failures) {
        fprintf(stderr, "%d failure(s)\n", failures);
        return 1;
    }
    printf("limits.c: the call cap and the agents' budgets refused what they should\n");
    return 0;
}
