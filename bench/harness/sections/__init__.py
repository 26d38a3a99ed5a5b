"""One module per section of bench/RESULTS.md; each has run(env, rounds) -> Section."""
