//! Benchmarks of toolgrad; see benches/ and the scripts beside them.
