//! Synthetic tenants for benchmarks and large tests.
