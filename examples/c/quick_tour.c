/* The quick tour from C: start an execution, track calls, hit the budget, checkpoint, roll
 * back, print the breakdown. Built and run by tests/c/run.sh (dynamic and static linking,
 * AddressSanitizer + UBSan, valgrind); the README's C snippet is the part between the tour
 * markers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wflo.h"

#define S(text) text, strlen(text) /* a string argument: pointer and length */
#define CHECK(call)                                                                    \
    do {                                                                               \
        wflo_status status_ = (call);                                                  \
        if (status_ != WFLO_STATUS_OK) {                                               \
            fprintf(stderr, "%s failed: %s: %s\n", #call, wflo_status_name(status_),    \
                    wflo_last_error_message());                                        \
            exit(1);                                                                   \
        }                                                                              \
    } while (0)

int main(void) {
    if (wflo_version_number() != WFLO_VERSION_NUMBER) {
        fprintf(stderr, "header %d, library %u\n", WFLO_VERSION_NUMBER, wflo_version_number());
        return 1;
    }
    // tour:start
    wflo_engine *engine = NULL;
    CHECK(wflo_engine_open(S("memory://"), &engine));

    uint64_t budget = 0;
    CHECK(wflo_parse_usd(S("0.01"), &budget)); /* $0.01 in nano-USD */
    wflo_execution *exec = NULL;
    CHECK(wflo_execution_start(engine, S("research-agent"), (int64_t)budget, NULL, 0, &exec));
    wflo_scope *search = NULL;
    CHECK(wflo_execution_scope(exec, S("search"), -1, &search));

    /* Count the prompt and reserve the worst case BEFORE the request leaves the process. */
    const char *messages = "[{\"role\":\"user\",\"content\":\"Find three papers on BPE.\"}]";
    uint64_t prompt = 0;
    bool estimated = false;
    CHECK(wflo_count_chat_tokens(engine, S("gpt-4o-mini"), S(messages), &prompt, &estimated));
    wflo_call_request req = {0};
    req.model = "gpt-4o-mini";
    req.model_len = strlen(req.model);
    req.input_tokens = prompt;
    req.max_output_tokens = 400;
    wflo_reservation *call = NULL;
    CHECK(wflo_reserve(exec, search, &req, &call));

    /* ... send the request, then settle with the usage the provider reported. */
    const char *body = "{\"usage\":{\"prompt_tokens\":19,\"completion_tokens\":180}}";
    wflo_settled settled;
    CHECK(wflo_reservation_settle_json(call, S("openai_chat"), S(body), &settled));
    printf("call #%llu cost %llu nano-USD\n", (unsigned long long)settled.seq,
           (unsigned long long)settled.cost_nanos);
    wflo_reservation_free(call);
    CHECK(wflo_checkpoint_save(exec, S("searched"), S("{\"papers\":[\"a\",\"b\",\"c\"]}"), NULL));

    /* A call that could overspend is refused before anything is sent. */
    wflo_call_request big = {0};
    big.model = "gpt-4o";
    big.model_len = strlen(big.model);
    big.input_tokens = 3000;
    big.max_output_tokens = 4000;
    wflo_reservation *refused = NULL;
    wflo_status status = wflo_reserve(exec, NULL, &big, &refused);
    if (status != WFLO_STATUS_BUDGET_EXCEEDED || refused != NULL) return 1;
    printf("refused: %s\n", wflo_last_error_json());

    /* Roll back to the last good state and look at where the money went. */
    char *state = NULL, *breakdown = NULL;
    CHECK(wflo_checkpoint_rollback(exec, S("searched"), &state));
    CHECK(wflo_execution_breakdown_json(exec, &breakdown));
    printf("rolled back to %s\nbreakdown: %s\n", state, breakdown);
    wflo_string_free(state);
    wflo_string_free(breakdown);

    wflo_scope_free(search);
    wflo_execution_free(exec);
    CHECK(wflo_engine_close(engine));
    wflo_engine_free(engine);
    // tour:end
    return 0;
}
