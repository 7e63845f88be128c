//! The real `promtool` for exposition-format and rule checks.
//!
//! All functions are blocking (they run a short-lived process) and return
//! `Option<Result<(), String>>`: `None` means `promtool` is not installed and the check is
//! skipped ([`crate::skip_test`]: shown and recorded; a panic under
//! `UNITEL_REQUIRE_SERVICES=1`), `Some(Err(..))` carries promtool's exit status and output.
//!
//! ```no_run
//! let Some(result) = unitel_testkit::promtool_check_metrics("# TYPE x gauge\nx 1\n") else {
//!     return;
//! };
//! assert_eq!(result, Ok(()));
//! ```

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use super::find_binary;
use crate::skip::skipped;

fn promtool() -> Option<PathBuf> {
    let found = find_binary("promtool", Some("UNITEL_TEST_PROMTOOL_BIN"));
    if found.is_none() {
        return skipped(
            "promtool",
            "no `promtool` binary found on PATH (install Prometheus or set UNITEL_TEST_PROMTOOL_BIN)",
        );
    }
    found
}

fn describe(command: &str, output: &Output) -> String {
    format!(
        "`promtool {command}` exited with {}:\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Runs `promtool check metrics` on `text` (stdin). `Ok` only if promtool exits 0 **and**
/// prints nothing at all — lint problems (e.g. a counter without `_total`, missing `HELP`)
/// are reported as output and make it `Err`.
pub fn promtool_check_metrics(text: &str) -> Option<Result<(), String>> {
    let promtool = promtool()?;
    let run = || -> std::io::Result<Output> {
        let mut child = Command::new(&promtool)
            .args(["check", "metrics"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        // Feed stdin from another thread so a chatty promtool cannot deadlock us.
        let writer = child.stdin.take().map(|mut stdin| {
            let text = text.to_owned();
            std::thread::spawn(move || stdin.write_all(text.as_bytes()))
        });
        let output = child.wait_with_output()?;
        if let Some(writer) = writer {
            // A write error (promtool exited early) shows up in its status/output anyway.
            let _ = writer.join();
        }
        Ok(output)
    };
    Some(match run() {
        Err(e) => Err(format!("cannot run {}: {e}", promtool.display())),
        Ok(output)
            if output.status.success() && output.stdout.is_empty() && output.stderr.is_empty() =>
        {
            Ok(())
        }
        Ok(output) => Err(describe("check metrics", &output)),
    })
}

fn run_on_file(args: &[&str], path: &Path) -> Option<Result<(), String>> {
    let promtool = promtool()?;
    let command = format!("{} {}", args.join(" "), path.display());
    Some(
        match Command::new(&promtool)
            .args(args)
            .arg(path)
            .stdin(Stdio::null())
            .output()
        {
            Err(e) => Err(format!("cannot run {}: {e}", promtool.display())),
            Ok(output) if output.status.success() => Ok(()),
            Ok(output) => Err(describe(&command, &output)),
        },
    )
}

/// Runs `promtool check rules --lint-fatal PATH`: `Ok` if the rule file is valid and has no
/// lint problems (exit status 0; promtool's `SUCCESS` output is ignored).
pub fn promtool_check_rules(path: impl AsRef<Path>) -> Option<Result<(), String>> {
    run_on_file(&["check", "rules", "--lint-fatal"], path.as_ref())
}

/// Runs `promtool test rules PATH` (rule unit tests): `Ok` if every test passes.
pub fn promtool_test_rules(path: impl AsRef<Path>) -> Option<Result<(), String>> {
    run_on_file(&["test", "rules"], path.as_ref())
}
