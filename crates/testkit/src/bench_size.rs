//! Sizing a benchmark: the full figure under `cargo bench`, a smoke size under `cargo test`.
//!
//! `cargo bench` passes `--bench` to bench targets; `cargo test --all-targets` runs the same
//! targets without it. There a bench runs at a small size so it still exercises its code paths
//! (and fails if they break) without taking minutes; its figures then mean nothing.

/// `full` when run by `cargo bench`, `smoke` otherwise.
///
/// ```
/// let services = rkube_testkit::bench_size(10_000, 50);
/// assert_eq!(services, 50); // doc tests run without `--bench`
/// ```
pub fn bench_size<T>(full: T, smoke: T) -> T {
    if std::env::args().any(|arg| arg == "--bench") {
        full
    } else {
        smoke
    }
}
