"""The `make bench` driver's parts (bench/run.py is the entry point)."""
