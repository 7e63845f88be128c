//! Compile-time behaviour of the macros: what compiles (`ui/pass`) and the error messages of
//! misuse (`ui/fail`, with the expected compiler output in `.stderr` files).
//!
//! Compiler messages change between Rust releases, so the expectations hold the output of the
//! release pinned in `rust-toolchain.toml` (1.95), which every cargo run in the workspace uses.
//! On another compiler (a `RUSTC` or toolchain override) the test is skipped through
//! `unitel_testkit::skip_test`: shown, counted by `scripts/test.sh`, and a failure under
//! `UNITEL_REQUIRE_SERVICES=1`. Regenerate with
//! `TRYBUILD=overwrite cargo test -p unitel-macros --test ui`, then review.

#[test]
fn ui() {
    let version =
        std::process::Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into()))
            .arg("--version")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
    if !version.starts_with("rustc 1.95.") {
        unitel_testkit::skip_test(
            "rustc 1.95",
            &format!(
                "the ui expectations hold rustc 1.95's messages (rust-toolchain.toml); this is `{}`",
                version.trim()
            ),
        );
        return;
    }
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/pass/*.rs");
    cases.compile_fail("tests/ui/fail/*.rs");
}
