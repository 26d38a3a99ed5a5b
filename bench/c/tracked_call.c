#define _POSIX_C_SOURCE 199309L
/* One tracked call through the C ABI (reserve + settle + record), in a loop: prints the
 * nanoseconds per call. Used by bench/tracked_call.sh beside the Rust and Go figures, and by
 * `make bench` (bench/run.py).
 *
 *   tracked_call_c [N] [tracked|cost]
 *
 * `cost` times wflo_cost instead (gpt-4o, 1,000 in + 200 out, as every face in `make bench`).
 * With WFLO_BENCH_JSON set it prints {"calls": N, "ns_per_call": X}. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wflo.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e9 + t.tv_nsec;
}

static int tracked(wflo_engine *engine, long n, double *total) {
    wflo_call_request req = {0};
    req.model = "gpt-4o-mini";
    req.model_len = strlen(req.model);
    req.input_tokens = 1200;
    req.max_output_tokens = 400;
    wflo_usage usage = {.input = 1000, .cache_read = 200, .output = 350};
    wflo_execution *exec = NULL;
    for (long i = 0; i < n; i++) {
        if (i % 10000 == 0) { /* a fresh execution every 10,000 calls, as the Rust bench */
            wflo_execution_free(exec);
            if (wflo_execution_start(engine, "bench", 5, 1000000000000000LL, NULL, 0, &exec) != WFLO_STATUS_OK) return 1;
        }
        double t = now();
        wflo_reservation *r = NULL;
        if (wflo_reserve(exec, NULL, &req, &r) != WFLO_STATUS_OK) return 1;
        if (wflo_reservation_settle(r, &usage, NULL) != WFLO_STATUS_OK) return 1;
        wflo_reservation_free(r);
        *total += now() - t;
    }
    wflo_execution_free(exec);
    return 0;
}

static int cost(wflo_engine *engine, long n, double *total) {
    const char *model = "gpt-4o";
    size_t model_len = strlen(model);
    wflo_usage usage = {.input = 1000, .output = 200};
    uint64_t nanos = 0;
    double t = now();
    for (long i = 0; i < n; i++) {
        if (wflo_cost(engine, model, model_len, &usage, &nanos) != WFLO_STATUS_OK) return 1;
    }
    *total = now() - t;
    return nanos == 0;
}

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 200000;
    int cost_mode = argc > 2 && strcmp(argv[2], "cost") == 0;
    wflo_engine *engine = NULL;
    if (wflo_engine_open("memory://", 9, &engine) != WFLO_STATUS_OK) return 1;
    double total = 0;
    if ((cost_mode ? cost : tracked)(engine, n, &total) != 0) return 1;
    if (getenv("WFLO_BENCH_JSON"))
        printf("{\"calls\": %ld, \"ns_per_call\": %.1f}\n", n, total / n);
    else
        printf("%.0f\n", total / n);
    wflo_engine_free(engine);
    return 0;
}
