"""Performance benchmarks: each case times trainlens against its baseline side by side, in one
run, and reports the ratio against a target. Run with ``python -m benchmarks``."""
