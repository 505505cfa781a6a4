"""Load tests and dialogue benchmarks (`make bench`)."""
