//! CPU time of a process from `/proc/<pid>/stat` (user + system, all threads).

use std::time::Duration;

/// Clock ticks per second of `/proc` times (`getconf CLK_TCK`, 100 when it cannot be asked).
#[must_use]
pub fn clock_ticks_per_second() -> u64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .filter(|t| *t > 0)
        .unwrap_or(100)
}

/// Parses `utime + stime` (in clock ticks) from the text of `/proc/<pid>/stat`.
///
/// ```
/// let stat = "4242 (bench-server) S 1 2 3 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 3 0 1 2 3";
/// assert_eq!(unitel_bench::cpu::parse_stat_ticks(stat), Some(300));
/// ```
#[must_use]
pub fn parse_stat_ticks(stat: &str) -> Option<u64> {
    // The command name may contain spaces and parentheses: fields restart after the last `)`.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    // After `)`: state(3) ppid(4) pgrp(5) session(6) tty_nr(7) tpgid(8) flags(9) minflt(10)
    // cminflt(11) majflt(12) cmajflt(13) utime(14) stime(15).
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// User + system CPU time `pid` has used so far.
#[must_use]
pub fn process_cpu(pid: u32, ticks_per_second: u64) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let ticks = parse_stat_ticks(&stat)?;
    Some(Duration::from_micros(
        ticks.saturating_mul(1_000_000) / ticks_per_second.max(1),
    ))
}
