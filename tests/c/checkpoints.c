/* Binary checkpoint states through the C ABI: bytes with NUL and 0xff in them come back byte for
 * byte from wflo_checkpoint_state_any, wflo_checkpoint_latest_any and
 * wflo_checkpoint_rollback_any; the JSON-only calls refuse a binary state with
 * WFLO_STATUS_INVALID_ARGUMENT (the rollback before anything changes); a bad content type is
 * refused; every buffer is freed (run.sh runs this under ASan and valgrind). */
#include <stdint.h>
#include <stdlib.h>

#include "check.h"

/* The id a checkpoint's info JSON names (0 when it names none). */
static uint64_t info_id(const char *info) {
    const char *at = info ? strstr(info, "\"id\":") : NULL;
    return at ? strtoull(at + 5, NULL, 10) : 0;
}

/* Checks a state of either kind returned by a *_any call against what was saved (content
 * type NULL: JSON), then frees it. */
static void expect_state(const char *what, char *content_type, uint8_t *state, size_t len, const char *want_type,
                         const uint8_t *want, size_t want_len) {
    int type_ok = want_type ? content_type != NULL && strcmp(content_type, want_type) == 0 : content_type == NULL;
    int bytes_ok = len == want_len && (len == 0 ? state == NULL : memcmp(state, want, len) == 0);
    if (!type_ok || !bytes_ok) {
        fprintf(stderr, "FAIL %s: content type %s (want %s), %zu bytes (want %zu)%s\n", what,
                content_type ? content_type : "NULL", want_type ? want_type : "NULL", len, want_len,
                bytes_ok ? "" : ", bytes differ");
        failures++;
    }
    wflo_string_free(content_type);
    wflo_bytes_free(state, len);
}

int main(void) {
    /* Every byte value, then NUL and 0xff again: what a C string or a JSON detour would cut. */
    uint8_t bytes[260];
    for (size_t i = 0; i < 256; i++) bytes[i] = (uint8_t)i;
    bytes[256] = 0x00;
    bytes[257] = 0xff;
    bytes[258] = 0x00;
    bytes[259] = 0xff;
    const char after_json[] = "[1,2]";

    wflo_engine *engine = NULL;
    wflo_execution *exec = NULL;
    expect("open", wflo_engine_open(S("memory://"), &engine), WFLO_STATUS_OK);
    expect("start", wflo_execution_start(engine, S("binary-states"), -1, NULL, 0, &exec), WFLO_STATUS_OK);

    char *info = NULL;
    expect("save binary", wflo_checkpoint_save_binary(exec, S("graph"), S("application/msgpack"), bytes, sizeof bytes, &info),
           WFLO_STATUS_OK);
    expect_in("info names the content type", info, "\"content_type\":\"application/msgpack\"");
    expect_in("info counts the bytes", info, "\"state_bytes\":260");
    uint64_t graph_id = info_id(info);
    wflo_string_free(info);
    info = NULL;
    expect("save json", wflo_checkpoint_save(exec, S("after"), S(after_json), &info), WFLO_STATUS_OK);
    expect_true("a JSON state's info has no content type", info != NULL && strstr(info, "content_type") == NULL);
    wflo_string_free(info);

    /* Read back by id, and the latest (the JSON one: content type NULL, its text as bytes). */
    char *content_type = NULL;
    uint8_t *state = NULL;
    size_t len = 0;
    expect("state_any by id", wflo_checkpoint_state_any(exec, graph_id, &content_type, &state, &len), WFLO_STATUS_OK);
    expect_state("state_any by id", content_type, state, len, "application/msgpack", bytes, sizeof bytes);
    expect("latest_any (json)", wflo_checkpoint_latest_any(exec, &content_type, &state, &len), WFLO_STATUS_OK);
    expect_state("latest_any (json)", content_type, state, len, NULL, (const uint8_t *)after_json, strlen(after_json));
    expect("state_any unknown id", wflo_checkpoint_state_any(exec, graph_id + 1000, &content_type, &state, &len),
           WFLO_STATUS_NOT_FOUND);

    /* The JSON-only rollback refuses the binary state, naming its content type, and changes
     * nothing: the same checkpoints, none superseded, the latest still the JSON one. */
    char *before = NULL, *after = NULL, *json = NULL;
    expect("list before", wflo_checkpoint_list_json(exec, &before), WFLO_STATUS_OK);
    expect("json-only rollback of a binary state", wflo_checkpoint_rollback(exec, S("graph"), &json),
           WFLO_STATUS_INVALID_ARGUMENT);
    expect_in("the refusal names the content type", wflo_last_error_message(), "application/msgpack");
    expect_true("nothing written to state_out", json == NULL);
    expect("list after", wflo_checkpoint_list_json(exec, &after), WFLO_STATUS_OK);
    expect_true("the refused rollback changed nothing", before && after && strcmp(before, after) == 0);
    expect_true("nothing superseded", after && strstr(after, "\"superseded\":true") == NULL);
    wflo_string_free(before);
    wflo_string_free(after);
    expect("json-only latest", wflo_checkpoint_latest(exec, &json), WFLO_STATUS_OK);
    expect_true("latest still the JSON state", json && strcmp(json, after_json) == 0);
    wflo_string_free(json);
    json = NULL;
    expect("json-only state of a binary one", wflo_checkpoint_state(exec, graph_id, &json),
           WFLO_STATUS_INVALID_ARGUMENT);

    /* The rollback of either kind gives the bytes back; then the latest is binary, which the
     * JSON-only latest refuses. */
    expect("rollback_any", wflo_checkpoint_rollback_any(exec, S("graph"), &content_type, &state, &len),
           WFLO_STATUS_OK);
    expect_state("rollback_any", content_type, state, len, "application/msgpack", bytes, sizeof bytes);
    expect("latest_any (binary)", wflo_checkpoint_latest_any(exec, &content_type, &state, &len), WFLO_STATUS_OK);
    expect_state("latest_any (binary)", content_type, state, len, "application/msgpack", bytes, sizeof bytes);
    expect("json-only latest of a binary state", wflo_checkpoint_latest(exec, &json), WFLO_STATUS_INVALID_ARGUMENT);

    /* An empty binary state is (NULL, 0) with its content type. */
    expect("save empty", wflo_checkpoint_save_binary(exec, S("empty"), S("application/octet-stream"), NULL, 0, NULL),
           WFLO_STATUS_OK);
    expect("latest_any (empty)", wflo_checkpoint_latest_any(exec, &content_type, &state, &len), WFLO_STATUS_OK);
    expect_state("latest_any (empty)", content_type, state, len, "application/octet-stream", NULL, 0);

    /* The checkpoints saved after a sequence, and the number of rollbacks (one so far). */
    char *since = NULL;
    uint64_t rollbacks = 99;
    expect("list after 0", wflo_checkpoint_list_after_json(exec, 0, &since, &rollbacks), WFLO_STATUS_OK);
    uint64_t total = 0;
    for (const char *at = since; at && (at = strstr(at, "\"sequence\":")); at++) total++;
    wflo_string_free(since);
    since = NULL;
    expect("list after the last but one", wflo_checkpoint_list_after_json(exec, total - 1, &since, NULL), WFLO_STATUS_OK);
    if (rollbacks != 1 || total < 2 || !since || !strstr(since, "\"name\":\"empty\"") || strstr(since, "graph")) {
        fprintf(stderr, "FAIL list after: %llu rollbacks, %llu checkpoints, %s\n", (unsigned long long)rollbacks,
                (unsigned long long)total, since ? since : "NULL");
        failures++;
    }
    wflo_string_free(since);
    expect("list after, NULL out", wflo_checkpoint_list_after_json(exec, 0, NULL, NULL), WFLO_STATUS_INVALID_ARGUMENT);

    /* Refusals: a bad content type (nothing saved), NULL handles and out-parameters. */
    expect("content type with a space",
           wflo_checkpoint_save_binary(exec, S("bad"), S("application/ms pack"), bytes, 4, NULL),
           WFLO_STATUS_INVALID_ARGUMENT);
    expect("empty content type", wflo_checkpoint_save_binary(exec, S("bad"), S(""), bytes, 4, NULL),
           WFLO_STATUS_INVALID_ARGUMENT);
    expect("content type NULL with a length", wflo_checkpoint_save_binary(exec, S("bad"), NULL, 3, bytes, 4, NULL),
           WFLO_STATUS_INVALID_ARGUMENT);
    expect("rollback to the refused save", wflo_checkpoint_rollback_any(exec, S("bad"), &content_type, &state, &len),
           WFLO_STATUS_NOT_FOUND);
    expect("state with length, no pointer", wflo_checkpoint_save_binary(exec, S("bad"), S("a/b"), NULL, 4, NULL),
           WFLO_STATUS_INVALID_ARGUMENT);
    expect("save_binary NULL exec", wflo_checkpoint_save_binary(NULL, S("x"), S("a/b"), bytes, 4, NULL),
           WFLO_STATUS_INVALID_ARGUMENT);
    expect("latest_any NULL len out", wflo_checkpoint_latest_any(exec, &content_type, &state, NULL),
           WFLO_STATUS_INVALID_ARGUMENT);
    expect("rollback_any NULL content type out", wflo_checkpoint_rollback_any(exec, S("graph"), NULL, &state, &len),
           WFLO_STATUS_INVALID_ARGUMENT);
    wflo_bytes_free(NULL, 0); /* a no-op */

    /* No content type (NULL): the engine names the bytes application/octet-stream. */
    char *untyped = NULL;
    expect("save without a content type", wflo_checkpoint_save_binary(exec, S("untyped"), NULL, 0, bytes, 4, &untyped),
           WFLO_STATUS_OK);
    expect_true("its info names the default",
                untyped && strstr(untyped, "\"content_type\":\"application/octet-stream\"") != NULL);
    wflo_string_free(untyped);
    expect("latest_any (untyped)", wflo_checkpoint_latest_any(exec, &content_type, &state, &len), WFLO_STATUS_OK);
    expect_state("latest_any (untyped)", content_type, state, len, "application/octet-stream", bytes, 4);

    wflo_execution_free(exec);
    expect("close", wflo_engine_close(engine), WFLO_STATUS_OK);
    wflo_engine_free(engine);
    if (failures) {
        fprintf(stderr, "%d failure(s)\n", failures);
        return 1;
    }
    printf("checkpoints.c: binary states came back byte for byte\n");
    return 0;
}
