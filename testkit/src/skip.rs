//! Skipping a test so that it shows: the one place every skip of the workspace goes through.
//!
//! libtest has no "skipped" outcome for a test that decides at run time, and it swallows what a
//! passing test prints. So a skip here
//!
//! 1. panics under `UNITEL_REQUIRE_SERVICES=1` (the test fails), and otherwise
//! 2. writes a banner straight to the process' standard error, past libtest's capture (which
//!    only takes `print!`/`eprint!`), so `cargo test` shows it even though the test passes, and
//! 3. appends one line to the file named by [`SKIP_LOG_ENV`] (`UNITEL_SKIP_LOG`), if set:
//!    `binary<TAB>test<TAB>what<TAB>why`. `scripts/test.sh` sets it, prints the count and every
//!    skipped test at the end, and fails when `CI` or `UNITEL_REQUIRE_SERVICES` is set.
//!
//! A test that skips more than one check for the same reason is recorded once.

use std::collections::HashSet;
use std::io::Write as _;
use std::sync::Mutex;

use crate::services::services_required;

/// The environment variable naming the file every skip is appended to, one line each:
/// `binary<TAB>test<TAB>what<TAB>why` (tabs and line breaks in the parts become spaces).
pub const SKIP_LOG_ENV: &str = "UNITEL_SKIP_LOG";

/// Skips (the rest of) the running test because `what` is unavailable, for the reason `why`:
/// panics under `UNITEL_REQUIRE_SERVICES=1`; otherwise writes a banner straight to standard
/// error (past libtest's capture, so `cargo test` shows it for a passing test) and appends
/// `binary<TAB>test<TAB>what<TAB>why` to the file named by [`SKIP_LOG_ENV`]
/// (`UNITEL_SKIP_LOG`), once per test and `what`. The caller then returns from the test (or
/// leaves out the check). `scripts/test.sh` counts and lists the recorded skips at the end.
///
/// Every service of this crate calls it when it cannot provide the service; a test calls it
/// for anything else it needs and cannot have (a tool, a compiler version, ...).
///
/// ```no_run
/// if std::process::Command::new("docker-compose").arg("version").output().is_err() {
///     unitel_testkit::skip_test("docker-compose", "it is not installed");
///     return;
/// }
/// ```
#[allow(clippy::panic)] // Deliberate: UNITEL_REQUIRE_SERVICES=1 turns a skip into a failure.
pub fn skip_test(what: &str, why: &str) {
    let test = current_test();
    if services_required() {
        panic!(
            "unitel-testkit: test `{test}` needs {what}, which is required \
             (UNITEL_REQUIRE_SERVICES=1) but unavailable: {why}"
        );
    }
    static RECORDED: Mutex<Option<HashSet<(String, String)>>> = Mutex::new(None);
    let first = RECORDED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .get_or_insert_with(HashSet::new)
        .insert((test.clone(), what.to_owned()));
    if !first {
        return;
    }
    let banner = format!(
        "\n\
         ************************************************************************\n\
         ** unitel-testkit: SKIPPING test `{test}`\n\
         ** {what} is unavailable: {why}\n\
         ** Set UNITEL_REQUIRE_SERVICES=1 to turn this skip into a failure.\n\
         ************************************************************************\n"
    );
    // Straight to file descriptor 2 (not `eprintln!`), so libtest's capture does not hide it.
    let _ = std::io::stderr().lock().write_all(banner.as_bytes());
    if let Some(path) = std::env::var_os(SKIP_LOG_ENV).filter(|p| !p.is_empty()) {
        let line = format!(
            "{}\t{}\t{}\t{}\n",
            one_line(&test_binary()),
            one_line(&test),
            one_line(what),
            one_line(why)
        );
        // One `write` of a short line to a file opened for appending: lines of tests running
        // at the same time do not interleave.
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut file| file.write_all(line.as_bytes()));
        if let Err(e) = written {
            let _ = writeln!(
                std::io::stderr().lock(),
                "unitel-testkit: cannot record the skip in {SKIP_LOG_ENV}={}: {e}",
                std::path::Path::new(&path).display()
            );
        }
    }
}

/// [`skip_test`], then `None`: what a service function returns when it cannot provide one.
pub(crate) fn skipped<T>(what: &str, why: &str) -> Option<T> {
    skip_test(what, why);
    None
}

/// The running test's name: libtest runs each test on a thread named after it.
fn current_test() -> String {
    std::thread::current()
        .name()
        .unwrap_or("<unnamed thread>")
        .to_owned()
}

/// The test binary's name without cargo's `-<hash>` suffix (`fault_database`, `unitel`, ...).
fn test_binary() -> String {
    let exe = std::env::current_exe().unwrap_or_default();
    let stem = exe
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    match stem.rsplit_once('-') {
        Some((name, hash)) if hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()) => {
            name.to_owned()
        }
        _ => stem,
    }
}

/// `text` on one line, at most 400 characters: the log has one skip per line.
fn one_line(text: &str) -> String {
    let joined = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match joined.char_indices().nth(400) {
        Some((end, _)) => format!("{}...", &joined[..end]),
        None => joined,
    }
}
