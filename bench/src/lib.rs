//! unitel-bench: criterion benchmarks and the overhead driver. Not implemented yet (see the project's issues).
