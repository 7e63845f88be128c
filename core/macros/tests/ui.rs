//! Compile-time behaviour of the macros: what compiles (`ui/pass`) and the error messages of
//! misuse (`ui/fail`, with the expected compiler output in `.stderr` files).
//!
//! Compiler messages change between Rust releases, so the expectations are pinned to the
//! workspace toolchain (1.95); on another toolchain the test says so and checks nothing.
//! Regenerate with `TRYBUILD=overwrite cargo test -p unitel-macros --test ui`, then review.

#[test]
fn ui() {
    let version =
        std::process::Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into()))
            .arg("--version")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
    if !version.starts_with("rustc 1.95.") {
        eprintln!(
            "SKIPPED: the ui expectations are pinned to rustc 1.95; this is `{}`",
            version.trim()
        );
        return;
    }
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/pass/*.rs");
    cases.compile_fail("tests/ui/fail/*.rs");
}
