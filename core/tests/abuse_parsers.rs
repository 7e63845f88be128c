//! Property tests with arbitrary input for everything that parses text from outside the
//! process: the W3C `traceparent`/`tracestate`/`baggage` headers, label values and help texts in
//! the exposition (which must still pass `promtool check metrics` and read back unchanged),
//! every configuration variable, and SQL text (operation extraction). Nothing panics; oversized
//! and adversarial inputs complete (their time is printed, not asserted: speed is measured in
//! benchmarks).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::time::Instant;

use http::{HeaderMap, HeaderValue};
use proptest::collection::vec;
use proptest::prelude::*;
use unitel::db::{DbOperation, StatementInfo};
use unitel::{MetricDefinition, MetricKind, Registry, TelemetryConfig};

/// `cases` cases; failures are reported with their minimal input, not saved to a file.
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// --- W3C trace context -------------------------------------------------------------------------

/// The W3C rules for `traceparent` (version 00 exactly; later versions may append fields).
fn w3c_valid(value: &str) -> bool {
    let b = value.trim().as_bytes();
    let hex = |r: std::ops::Range<usize>| {
        b[r].iter()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c))
    };
    let zero = |r: std::ops::Range<usize>| b[r].iter().all(|c| *c == b'0');
    b.len() >= 55
        && hex(0..2)
        && &b[0..2] != b"ff"
        && b[2] == b'-'
        && hex(3..35)
        && !zero(3..35)
        && b[35] == b'-'
        && hex(36..52)
        && !zero(36..52)
        && b[52] == b'-'
        && hex(53..55)
        && (if &b[0..2] == b"00" {
            b.len() == 55
        } else {
            b.len() == 55 || b[55] == b'-'
        })
}

fn headers(pairs: &[(&'static str, &[u8])]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        if let Ok(v) = HeaderValue::from_bytes(value) {
            map.insert(*name, v);
        }
    }
    map
}

/// Traceparent-shaped text: the right separators with arbitrary pieces, and near misses.
fn traceparent_like() -> impl Strategy<Value = String> {
    let hex = |n: usize| proptest::string::string_regex(&format!("[0-9a-fA-F+ -]{{{n}}}")).unwrap();
    (
        prop_oneof![
            Just("00".to_owned()),
            Just("01".to_owned()),
            Just("ff".to_owned()),
            hex(2)
        ],
        prop_oneof![
            proptest::string::string_regex("[0-9a-f]{32}").unwrap(),
            Just("0".repeat(32)),
            proptest::string::string_regex("[0-9a-f]{1,31}").unwrap(),
            hex(32),
        ],
        prop_oneof![
            proptest::string::string_regex("[0-9a-f]{16}").unwrap(),
            Just("0".repeat(16)),
            proptest::string::string_regex("[0-9a-f]{1,15}").unwrap(),
            hex(16),
        ],
        prop_oneof![
            Just("01".to_owned()),
            Just("00".to_owned()),
            hex(2),
            proptest::string::string_regex("[0-9a-f]{1,3}").unwrap(),
        ],
        prop_oneof![
            Just(String::new()),
            Just("-extra".to_owned()),
            Just("-".to_owned()),
            Just(" ".to_owned()),
        ],
    )
        .prop_map(|(v, t, p, f, tail)| format!("{v}-{t}-{p}-{f}{tail}"))
}

proptest! {
    #![proptest_config(config(1024))]

    #[test]
    fn arbitrary_header_bytes_never_panic(
        traceparent in vec(any::<u8>(), 0..200),
        tracestate in vec(any::<u8>(), 0..600),
        baggage in vec(any::<u8>(), 0..3000),
    ) {
        let map = headers(&[
            ("traceparent", &traceparent),
            ("tracestate", &tracestate),
            ("baggage", &baggage),
        ]);
        let remote = unitel::extract_context(&map);
        if let Some(id) = remote.trace_id() {
            prop_assert_eq!(id.len(), 32);
        }
        remote.set_parent_of(&tracing::Span::none());
    }

    #[test]
    fn traceparent_is_accepted_exactly_when_w3c_says_so(value in traceparent_like()) {
        let map = headers(&[("traceparent", value.as_bytes())]);
        if map.is_empty() {
            return Ok(());
        }
        let remote = unitel::extract_context(&map);
        if !unitel::OTEL_AVAILABLE {
            prop_assert!(remote.trace_id().is_none());
            return Ok(());
        }
        let valid = w3c_valid(map["traceparent"].to_str().unwrap());
        prop_assert_eq!(remote.is_valid(), valid, "{:?}", value);
        if valid {
            let trace_id = remote.trace_id().unwrap();
            prop_assert_eq!(trace_id.as_str(), &value.trim()[3..35]);
        }
    }

    #[test]
    fn traceparent_alone_parses_as_the_sdk_propagator_does(value in traceparent_like()) {
        // `traceparent` alone takes unitel's own parser; with a `tracestate` it goes through
        // the SDK's propagator. Both must agree on validity, ids and the sampled flag.
        let alone = headers(&[("traceparent", value.as_bytes())]);
        if alone.is_empty() {
            return Ok(());
        }
        let with_state = headers(&[("traceparent", value.as_bytes()), ("tracestate", b"k=v")]);
        let fast = unitel::extract_context(&alone);
        let sdk = unitel::extract_context(&with_state);
        prop_assert_eq!(fast.is_valid(), sdk.is_valid(), "{:?}", value);
        prop_assert_eq!(fast.trace_id(), sdk.trace_id());
        prop_assert_eq!(fast.span_id(), sdk.span_id());
        prop_assert_eq!(fast.is_sampled(), sdk.is_sampled(), "{:?}", value);
    }

    #[test]
    fn baggage_of_any_shape_never_panics(
        entries in vec(("[ -~]{0,40}", "[ -~]{0,80}", "[ -~;=]{0,20}"), 0..200),
    ) {
        let header: String = entries
            .iter()
            .map(|(k, v, p)| format!("{k}={v};{p}"))
            .collect::<Vec<_>>()
            .join(",");
        let map = headers(&[
            ("traceparent", b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
            ("baggage", header.as_bytes()),
        ]);
        let remote = unitel::extract_context(&map);
        remote.set_parent_of(&tracing::Span::none());
    }
}

#[test]
fn near_misses_found_by_the_properties_start_a_new_trace() {
    for value in [
        "A0-a-a0000aa0aaa000aa-01",
        "00-1-1-01",
        "00-+bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
    ] {
        let remote = unitel::extract_context(&headers(&[("traceparent", value.as_bytes())]));
        assert!(!remote.is_valid(), "{value} was accepted");
    }
    for value in [
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-future",
    ] {
        let remote = unitel::extract_context(&headers(&[("traceparent", value.as_bytes())]));
        assert_eq!(remote.is_valid(), unitel::OTEL_AVAILABLE, "{value}");
    }
}

#[test]
fn oversized_headers_complete() {
    let started = Instant::now();
    let huge_baggage = "k=v,".repeat(50_000);
    let many_dashes = "-".repeat(100_000);
    let long_state = (0..10_000)
        .map(|i| format!("v{i}=x"))
        .collect::<Vec<_>>()
        .join(",");
    for (tp, ts, bg) in [
        (
            many_dashes.as_str(),
            long_state.as_str(),
            huge_baggage.as_str(),
        ),
        (
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            long_state.as_str(),
            huge_baggage.as_str(),
        ),
    ] {
        let map = headers(&[
            ("traceparent", tp.as_bytes()),
            ("tracestate", ts.as_bytes()),
            ("baggage", bg.as_bytes()),
        ]);
        for _ in 0..20 {
            let _ = unitel::extract_context(&map);
        }
    }
    println!(
        "40 extractions of 100-200 KiB headers: {:?}",
        started.elapsed()
    );
}

// --- exposition --------------------------------------------------------------------------------

/// Parses `name{k="v",...} value` lines back into (label values, value), undoing the escapes.
fn read_back(text: &str, name: &str) -> Vec<Vec<(String, String)>> {
    let mut out = Vec::new();
    // A series whose values are all empty has no braces at all.
    if text.lines().any(|l| l.starts_with(&format!("{name} "))) {
        out.push(Vec::new());
    }
    for line in text.lines().filter(|l| l.starts_with(&format!("{name}{{"))) {
        let mut labels = Vec::new();
        let mut chars = line[name.len() + 1..].chars();
        let mut key = String::new();
        loop {
            match chars.next() {
                None | Some('}') => break,
                Some(',') => {}
                Some('=') => {
                    assert_eq!(chars.next(), Some('"'));
                    let mut value = String::new();
                    loop {
                        match chars.next() {
                            Some('\\') => match chars.next() {
                                Some('n') => value.push('\n'),
                                Some(c @ ('\\' | '"')) => value.push(c),
                                other => panic!("bad escape {other:?} in {line:?}"),
                            },
                            Some('"') => break,
                            Some(c) => value.push(c),
                            None => panic!("unterminated value in {line:?}"),
                        }
                    }
                    labels.push((std::mem::take(&mut key), value));
                }
                Some(c) => key.push(c),
            }
        }
        out.push(labels);
    }
    out
}

fn truncated(v: &str) -> &str {
    let mut end = v.len().min(256);
    while !v.is_char_boundary(end) {
        end -= 1;
    }
    &v[..end]
}

/// Label values: printable text with every character the format escapes, controls, and any
/// Unicode.
fn label_value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[\"\\\\\n\r\t a-z{}=,#]{0,20}",
        vec(any::<char>(), 0..300).prop_map(|c| c.into_iter().collect()),
    ]
}

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn any_label_value_and_help_text_round_trips_and_passes_promtool(
        values in vec((label_value(), label_value()), 1..40),
        help in prop_oneof![any::<String>(), Just(String::new()), "[ \t\n\r]{1,4}"],
    ) {
        let registry = Registry::new();
        registry
            .register(MetricDefinition {
                name: "abuse_events_total".into(),
                kind: MetricKind::Counter,
                description: help,
                unit: String::new(),
                labels: vec!["a".into(), "b.c".into()],
                buckets: Vec::new(),
            })
            .unwrap();
        let family = registry.counter_family("abuse_events_total").unwrap();
        let mut expected: HashMap<(String, String), u64> = HashMap::new();
        for (a, b) in &values {
            family.with_labels(&[a, b]).inc();
            *expected
                .entry((truncated(a).to_owned(), truncated(b).to_owned()))
                .or_default() += 1;
        }
        let text = unitel::prometheus::render_registry(&registry);
        // Every series reads back with its exact (truncated) label values; empty values are
        // left out of the exposition, as Prometheus treats them as absent.
        let read = read_back(&text, "abuse_events_total");
        prop_assert_eq!(read.len(), expected.len(), "{}", text);
        for labels in &read {
            let get = |k: &str| labels.iter().find(|(key, _)| key == k).map_or("", |(_, v)| v.as_str()).to_owned();
            prop_assert!(expected.contains_key(&(get("a"), get("b_c"))), "{:?}", labels);
        }
        if let Some(result) = unitel_testkit::promtool_check_metrics(&text) {
            prop_assert!(result.is_ok(), "promtool: {:?}\n{}", result, text);
        }
    }
}

// --- configuration -----------------------------------------------------------------------------

proptest! {
    #![proptest_config(config(2048))]

    #[test]
    fn any_configuration_value_is_accepted_or_names_its_variable(
        values in vec((0..unitel::config::ENV_VARIABLES.len(), any::<String>()), 0..8),
        token in "[!-~]{1,40}",
    ) {
        let secret = format!("TOKEN-{token}");
        let mut env: HashMap<&str, String> = values
            .into_iter()
            .map(|(i, v)| (unitel::config::ENV_VARIABLES[i], v))
            .filter(|(_, v)| !v.contains("TOKEN-"))
            .collect();
        env.insert("UNITEL_METRICS_TOKEN", secret.clone());
        match TelemetryConfig::from_lookup(|k| env.get(k).cloned()) {
            Ok(config) => {
                let printed = format!("{config:?}");
                prop_assert!(!printed.contains(&secret));
            }
            Err(e) => {
                prop_assert!(unitel::config::ENV_VARIABLES.contains(&e.variable()), "{}", e);
                prop_assert!(e.to_string().contains(e.variable()));
                prop_assert!(!e.to_string().contains(&secret), "{}", e);
                let printed = format!("{e:?}");
                prop_assert!(!printed.contains(&secret), "{}", printed);
            }
        }
    }

    #[test]
    fn numbers_and_lists_of_any_shape_are_parsed_or_refused(
        number in prop_oneof![any::<String>(), "[-+ 0-9.eE_x]{0,25}"],
        list in "[a-zA-Z, ]{0,40}",
    ) {
        for variable in [
            "OTEL_EXPORTER_OTLP_TIMEOUT", "METRICS_EXPORT_INTERVAL_MS", "TRACES_EXPORT_BATCH_SIZE",
            "OTEL_BSP_MAX_QUEUE_SIZE", "OTEL_BSP_SCHEDULE_DELAY", "UNITEL_MAX_SERIES_PER_FAMILY",
            "METRICS_SAMPLE_RATE", "PROMETHEUS_PORT", "UNITEL_SYSTEM_METRICS_INTERVAL_MS",
        ] {
            let _ = TelemetryConfig::from_lookup(|k| (k == variable).then(|| number.clone()));
        }
        for variable in ["OTEL_METRICS_EXPORTER", "OTEL_TRACES_EXPORTER", "OTEL_RESOURCE_ATTRIBUTES", "RUST_LOG"] {
            let _ = TelemetryConfig::from_lookup(|k| (k == variable).then(|| list.clone()));
        }
    }
}

// --- SQL ---------------------------------------------------------------------------------------

/// Every keyword that names an operation, with its label: the oracle of the test below, written
/// from the documented label set (`START` begins, `END` commits, `ABORT` rolls back, `ANALYSE`
/// is `ANALYZE`), not taken from the parser.
const OPERATION_KEYWORDS: &[(&str, &str)] = &[
    ("SELECT", "SELECT"),
    ("INSERT", "INSERT"),
    ("UPDATE", "UPDATE"),
    ("DELETE", "DELETE"),
    ("MERGE", "MERGE"),
    ("REPLACE", "REPLACE"),
    ("WITH", "WITH"),
    ("VALUES", "VALUES"),
    ("BEGIN", "BEGIN"),
    ("START", "BEGIN"),
    ("COMMIT", "COMMIT"),
    ("END", "COMMIT"),
    ("ROLLBACK", "ROLLBACK"),
    ("ABORT", "ROLLBACK"),
    ("SAVEPOINT", "SAVEPOINT"),
    ("RELEASE", "RELEASE"),
    ("CREATE", "CREATE"),
    ("ALTER", "ALTER"),
    ("DROP", "DROP"),
    ("TRUNCATE", "TRUNCATE"),
    ("COPY", "COPY"),
    ("CALL", "CALL"),
    ("EXPLAIN", "EXPLAIN"),
    ("SET", "SET"),
    ("SHOW", "SHOW"),
    ("PRAGMA", "PRAGMA"),
    ("VACUUM", "VACUUM"),
    ("ANALYZE", "ANALYZE"),
    ("ANALYSE", "ANALYZE"),
    ("GRANT", "GRANT"),
    ("REVOKE", "REVOKE"),
    ("LOCK", "LOCK"),
    ("LISTEN", "LISTEN"),
    ("NOTIFY", "NOTIFY"),
];

/// Words that are no operation (near misses included): the label is `OTHER`.
const OTHER_WORDS: &[&str] = &[
    "FROM",
    "WHERE",
    "TABLE",
    "SELEC",
    "SELECTS",
    "INSERTING",
    "ENDS",
    "BEGINNING",
    "SHOWN",
    "UPSERT",
    "DO",
    "FETCH",
    "PREPARE",
    "EXECUTE",
    "DECLARE",
    "frobnicate",
    "_select",
    "s",
];

/// What may stand before the first keyword without changing the operation: whitespace, line
/// comments, block comments (nested too, as PostgreSQL allows) and opening parentheses.
fn ignorable() -> impl Strategy<Value = String> {
    // Comment text never holds `*/` or `/*` (no `*` or `/` in it), so each comment ends where
    // it was meant to; a line comment runs to its newline, whatever it holds.
    let text = "[a-zA-Z0-9 \t'\";,.()=$-]{0,12}";
    prop_oneof![
        "[ \t\r\n\x0b\x0c]{1,4}",
        "[ -~]{0,16}".prop_map(|t| format!("--{t}\n")),
        text.prop_map(|t| format!("/*{t}*/")),
        (text, text, text).prop_map(|(a, b, c)| format!("/*{a}/*{b}*/{c}*/")),
        Just("(".to_owned()),
    ]
}

/// What may follow the keyword without joining it: a byte that cannot continue a word, then
/// anything (or nothing at all).
fn after_keyword() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        ("[ \t\n(;*,'\"=.+<>-]", any::<String>()).prop_map(|(end, rest)| format!("{end}{rest}")),
    ]
}

/// `word` with each ASCII letter in the case `upper` says.
fn with_case(word: &str, upper: &[bool]) -> String {
    word.chars()
        .zip(upper.iter().cycle())
        .map(|(c, up)| {
            if *up {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect()
}

/// A statement and the label it must get, known from how it was built: what comes first
/// decides, after the ignorable prefix.
fn statement() -> impl Strategy<Value = (String, &'static str)> {
    let keyword = (0..OPERATION_KEYWORDS.len()).prop_map(|i| OPERATION_KEYWORDS[i]);
    let other = (0..OTHER_WORDS.len()).prop_map(|i| (OTHER_WORDS[i], "OTHER"));
    let first = prop_oneof![
        // An operation keyword, in any case, on its own.
        3 => (keyword.clone(), vec(any::<bool>(), 1..8), after_keyword())
            .prop_map(|((word, label), upper, after)| (format!("{}{after}", with_case(word, &upper)), label)),
        // A keyword glued to more word characters is another word.
        1 => (keyword, "[a-zA-Z0-9_$é]", any::<String>())
            .prop_map(|((word, _), glued, rest)| (format!("{word}{glued} {rest}"), "OTHER")),
        // A word that is no operation.
        1 => (other, vec(any::<bool>(), 1..8), after_keyword())
            .prop_map(|((word, label), upper, after)| (format!("{}{after}", with_case(word, &upper)), label)),
        // Not a word first: a literal, a quoted name, a parameter, punctuation, a lone `-`.
        1 => (
            prop_oneof![
                Just("'SELECT'"), Just("\"SELECT\""), Just("`SELECT`"), Just("42 "),
                Just("$1 "), Just("? "), Just("; "), Just(")"), Just("- "), Just("/ "),
                Just("$$SELECT$$ "), Just("E'x' "),
            ],
            any::<String>(),
        )
            .prop_map(|(lead, rest)| (format!("{lead}SELECT {rest}"), "OTHER")),
        // Nothing at all.
        1 => Just((String::new(), "OTHER")),
    ];
    (vec(ignorable(), 0..5), first)
        .prop_map(|(prefix, (rest, label))| (format!("{}{rest}", prefix.concat()), label))
}

proptest! {
    #![proptest_config(config(2048))]

    /// The parser against statements whose operation is known by construction.
    #[test]
    fn the_operation_is_the_first_keyword_after_comments_and_parentheses(
        (sql, label) in statement(),
    ) {
        let info = StatementInfo::parse(&sql);
        prop_assert_eq!(info.operation.as_str(), label, "{:?}", sql);
        prop_assert_eq!(DbOperation::of(&sql).as_str(), label, "{:?}", sql);
    }

    #[test]
    fn any_text_gets_an_operation_and_a_span_name(sql in any::<String>(), prefix in "[ \t\n(/*-]{0,6}") {
        let text = format!("{prefix}{sql}");
        let info = StatementInfo::parse(&text);
        let name = info.span_name();
        prop_assert!(name.starts_with(info.operation.as_str()), "{:?}: {:?}", text, name);
    }
}

#[test]
fn adversarial_sql_completes() {
    let started = Instant::now();
    let inputs = [
        "'".repeat(200_000),
        "/*".repeat(100_000),
        "--\n".repeat(70_000),
        "$a$".repeat(70_000),
        format!("SELECT {}", "(".repeat(200_000)),
        "E'\\'".repeat(50_000),
    ];
    for sql in &inputs {
        let _ = unitel::db::sanitize_query(sql);
        let _ = StatementInfo::parse(sql).span_name();
    }
    println!(
        "6 adversarial statements of 200 KiB sanitized: {:?}",
        started.elapsed()
    );
}
