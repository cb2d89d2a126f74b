"""`make bench`: the production stack on loopback, measured with wrk (docs/BENCHMARKS.md)."""
