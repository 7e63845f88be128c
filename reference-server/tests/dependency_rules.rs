//! The architecture, checked rather than only described: the dependencies every workspace crate
//! declares (normal, dev and build), as `cargo metadata --no-deps` reports them, against three
//! rules.
//!
//! - **(a)** An integration crate (every member under `integrations/`: `unitel-axum`,
//!   `unitel-actix`, `unitel-sqlx`, `unitel-reqwest`) depends on no crate of ours but `unitel` and
//!   `unitel-testkit`. Integrations stay independent of each other; what they share lives in
//!   `unitel`, or for tests in `unitel-testkit`.
//! - **(b)** The core (`unitel`, `unitel-macros`) depends on no web framework and no database
//!   driver ([`WEB_FRAMEWORKS`], [`DATABASE_DRIVERS`]), dev-dependencies included (a core test
//!   that needs a framework is an integration's test), and on no crate of ours but `unitel`,
//!   `unitel-macros` and `unitel-testkit`.
//! - **(c)** `unitel-testkit` depends on no crate of ours: every crate's tests use it, so through
//!   it an integration would reach the others' tests, around rule (a).
//!
//! Why here: the reference server is the one crate whose job is to combine the integrations
//! (tests that cross them, such as `trace_continuity.rs`, live next to this file), it already
//! has `serde` and `serde_json`, and CI's `cargo test --workspace` runs its tests. The checks
//! themselves are a pure function over the metadata JSON, tested below on small hand-made
//! workspaces, so the test is shown to fail when a forbidden dependency is added.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::fmt;
use std::path::PathBuf;
use std::process::Command;

use serde::Deserialize;
use serde_json::json;

/// Web frameworks (a trailing `*` matches any suffix). Framework code belongs in an integration
/// crate. Not listed, on purpose: `hyper` (the core serves its own `/metrics` endpoint with it,
/// and every framework is built on it), `tonic` (the OTLP/gRPC exporter's client), `reqwest`
/// (an HTTP client: the OTLP/HTTP exporter, and the core's tests), `tower` and `tower-http`
/// (framework-neutral middleware plumbing).
const WEB_FRAMEWORKS: &[&str] = &[
    "axum",
    "axum-*",
    "actix",
    "actix-*",
    "warp",
    "rocket",
    "rocket_*",
    "poem",
    "poem-*",
    "salvo",
    "salvo-*",
    "salvo_*",
    "tide",
    "gotham",
    "rouille",
    "ntex",
    "ntex-*",
    "viz",
    "trillium",
    "trillium-*",
    "pavex",
    "loco-rs",
];

/// Database drivers, ORMs and their pools (a trailing `*` matches any suffix). Database code
/// belongs in an integration crate (`unitel-sqlx`, or a new one).
const DATABASE_DRIVERS: &[&str] = &[
    "sqlx",
    "sqlx-*",
    "postgres",
    "postgres-*",
    "tokio-postgres",
    "deadpool-postgres",
    "bb8-postgres",
    "r2d2_postgres",
    "diesel",
    "diesel-*",
    "diesel_*",
    "sea-orm",
    "sea-orm-*",
    "sea-query",
    "rusqlite",
    "libsqlite3-sys",
    "sqlite",
    "libsql",
    "duckdb",
    "mysql",
    "mysql_async",
    "mysql_common",
    "tiberius",
    "oracle",
    "odbc-api",
    "mongodb",
    "redis",
    "deadpool-redis",
    "bb8-redis",
    "fred",
    "scylla",
    "surrealdb",
];

/// The directory, under the workspace root, whose members are integration crates.
const INTEGRATIONS_DIR: &str = "integrations";
/// Our crates an integration crate may depend on (rule a).
const INTEGRATION_MAY_USE: &[&str] = &["unitel", "unitel-testkit"];
/// The core crates (rule b).
const CORE: &[&str] = &["unitel", "unitel-macros"];
/// Our crates the core may depend on (rule b).
const CORE_MAY_USE: &[&str] = &["unitel", "unitel-macros", "unitel-testkit"];
/// The test kit (rule c).
const TESTKIT: &str = "unitel-testkit";

/// The part of `cargo metadata --format-version 1` the rules read.
#[derive(Debug, Deserialize)]
struct Metadata {
    packages: Vec<Package>,
    workspace_members: Vec<String>,
    workspace_root: PathBuf,
}

#[derive(Debug, Deserialize)]
struct Package {
    name: String,
    id: String,
    manifest_path: PathBuf,
    dependencies: Vec<Dependency>,
}

#[derive(Debug, Deserialize)]
struct Dependency {
    /// The package name, even when the manifest renames it.
    name: String,
    /// `null` (normal), `"dev"` or `"build"`.
    kind: Option<String>,
    /// A `cfg(...)` or target triple when the dependency is platform-specific.
    target: Option<String>,
}

/// One broken rule: `krate` declares `dependency` as a `kind` dependency.
#[derive(Debug, PartialEq, Eq)]
struct Violation {
    krate: String,
    dependency: String,
    kind: String,
    why: &'static str,
    instead: &'static str,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` has a {} on `{}`: {}\n    instead: {}",
            self.krate, self.kind, self.dependency, self.why, self.instead
        )
    }
}

/// Whether `name` is in `patterns` (a pattern ending in `*` matches any suffix).
fn listed(patterns: &[&str], name: &str) -> bool {
    patterns.iter().any(|p| match p.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => name == *p,
    })
}

/// Parses `cargo metadata --format-version 1` output and returns every broken rule.
fn violations(metadata_json: &str) -> Vec<Violation> {
    let metadata: Metadata = serde_json::from_str(metadata_json).expect("cargo metadata JSON");
    let members: BTreeSet<&str> = metadata
        .workspace_members
        .iter()
        .map(String::as_str)
        .collect();
    let workspace: Vec<&Package> = metadata
        .packages
        .iter()
        .filter(|p| members.contains(p.id.as_str()))
        .collect();
    let ours: BTreeSet<&str> = workspace.iter().map(|p| p.name.as_str()).collect();
    let integrations_dir = metadata.workspace_root.join(INTEGRATIONS_DIR);

    let mut found = Vec::new();
    for package in &workspace {
        let integration = package.manifest_path.starts_with(&integrations_dir);
        let core = CORE.contains(&package.name.as_str());
        let testkit = package.name == TESTKIT;
        for dep in &package.dependencies {
            let name = dep.name.as_str();
            let is_ours = ours.contains(name) || name.starts_with("unitel");
            let broken: Option<(&'static str, &'static str)> = if integration
                && is_ours
                && !INTEGRATION_MAY_USE.contains(&name)
            {
                Some((
                    "an integration crate may depend on `unitel` and `unitel-testkit` only \
                     (rule a)",
                    "put what the integrations share in `unitel` (or, for tests, in \
                     `unitel-testkit`); move a test that combines integrations to \
                     reference-server/tests/ (like trace_continuity.rs)",
                ))
            } else if core && listed(WEB_FRAMEWORKS, name) {
                Some((
                    "the core must not depend on a web framework (rule b)",
                    "put framework-specific code and its tests in that framework's integration \
                     crate under integrations/ (or a new one); tests combining several crates \
                     go to reference-server/tests/",
                ))
            } else if core && listed(DATABASE_DRIVERS, name) {
                Some((
                    "the core must not depend on a database driver (rule b)",
                    "put database code and its tests in an integration crate under \
                     integrations/ (`unitel-sqlx`, or a new one); tests combining several \
                     crates go to reference-server/tests/",
                ))
            } else if core && is_ours && !CORE_MAY_USE.contains(&name) {
                Some((
                    "of our crates, the core may depend on `unitel-macros` and `unitel-testkit` \
                     only (rule b)",
                    "move the code or test that needs an integration crate into that crate or \
                     into reference-server/tests/",
                ))
            } else if testkit && is_ours {
                Some((
                    "`unitel-testkit` must not depend on our crates (rule c): every crate's \
                     tests use it, so it would carry that crate into all of them",
                    "keep the test kit to services and receivers; code that needs one of our \
                     crates belongs in that crate's tests or in reference-server/tests/",
                ))
            } else {
                None
            };
            if let Some((why, instead)) = broken {
                let kind = match dep.kind.as_deref() {
                    None | Some("normal") => "normal dependency".to_owned(),
                    Some(other) => format!("{other}-dependency"),
                };
                let kind = match &dep.target {
                    Some(target) => format!("{kind} (for `{target}`)"),
                    None => kind,
                };
                found.push(Violation {
                    krate: package.name.clone(),
                    dependency: dep.name.clone(),
                    kind,
                    why,
                    instead,
                });
            }
        }
    }
    found
}

/// `cargo metadata --format-version 1 --no-deps` for this workspace.
fn cargo_metadata() -> String {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    // A member's manifest names the whole workspace: cargo walks up to its root, so the
    // packages listed are every member's, with their declared dependencies.
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    let output = Command::new(&cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--manifest-path",
        ])
        .arg(&manifest)
        .output()
        .unwrap_or_else(|e| panic!("running {cargo:?} metadata: {e}"));
    assert!(
        output.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("cargo metadata output is UTF-8")
}

#[test]
fn workspace_crates_depend_only_on_what_the_architecture_allows() {
    let metadata = cargo_metadata();

    // The rules name crates and a directory; if those moved, the rules would check nothing.
    let parsed: Metadata = serde_json::from_str(&metadata).unwrap();
    let integrations_dir = parsed.workspace_root.join(INTEGRATIONS_DIR);
    let integrations: BTreeSet<&str> = parsed
        .packages
        .iter()
        .filter(|p| p.manifest_path.starts_with(&integrations_dir))
        .map(|p| p.name.as_str())
        .collect();
    for expected in [
        "unitel-axum",
        "unitel-actix",
        "unitel-sqlx",
        "unitel-reqwest",
    ] {
        assert!(
            integrations.contains(expected),
            "`{expected}` is not under {}: update the rules in {}",
            integrations_dir.display(),
            file!()
        );
    }
    let names: BTreeSet<&str> = parsed.packages.iter().map(|p| p.name.as_str()).collect();
    for expected in CORE.iter().chain([&TESTKIT]) {
        assert!(
            names.contains(expected),
            "no workspace crate `{expected}`: update the rules in {}",
            file!()
        );
    }

    let found = violations(&metadata);
    assert!(
        found.is_empty(),
        "{} dependency rule(s) broken (see {}):\n{}",
        found.len(),
        file!(),
        found
            .iter()
            .map(|v| format!("  - {v}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

// --- the rules on hand-made metadata -----------------------------------------------------------

/// A `(name, kind)` dependency: kind `None` is a normal dependency.
type Dep<'a> = (&'a str, Option<&'a str>);

/// `cargo metadata` JSON for a workspace at `/ws` of `(directory, name, dependencies)` members.
fn workspace(members: &[(&str, &str, &[Dep<'_>])]) -> String {
    let packages: Vec<_> = members
        .iter()
        .map(|(dir, name, deps)| {
            json!({
                "name": name,
                "id": format!("path+file:///ws/{dir}#{name}@0.1.0"),
                "manifest_path": format!("/ws/{dir}/Cargo.toml"),
                "dependencies": deps
                    .iter()
                    .map(|(dep, kind)| json!({"name": dep, "kind": kind, "rename": null, "target": null}))
                    .collect::<Vec<_>>(),
            })
        })
        .collect();
    let ids: Vec<_> = packages.iter().map(|p| p["id"].clone()).collect();
    json!({"packages": packages, "workspace_members": ids, "workspace_root": "/ws"}).to_string()
}

/// This workspace's shape: each integration on `unitel`, its framework and the test kit.
fn allowed_workspace(extra: &[(&str, Dep<'_>)]) -> String {
    let mut members: Vec<(&str, &str, Vec<Dep<'_>>)> = vec![
        (
            "core",
            "unitel",
            vec![
                ("unitel-macros", None),
                ("hyper", None),
                ("tonic", None),
                ("reqwest", None),
                ("unitel-testkit", Some("dev")),
                ("reqwest", Some("dev")),
            ],
        ),
        (
            "core/macros",
            "unitel-macros",
            vec![("unitel", Some("dev"))],
        ),
        ("testkit", "unitel-testkit", vec![("tonic", None)]),
        (
            "integrations/axum",
            "unitel-axum",
            vec![
                ("unitel", None),
                ("axum", None),
                ("unitel", Some("dev")),
                ("unitel-testkit", Some("dev")),
            ],
        ),
        (
            "integrations/sqlx",
            "unitel-sqlx",
            vec![("unitel", None), ("sqlx", None), ("sqlx-core", None)],
        ),
        (
            "reference-server",
            "reference-server",
            vec![
                ("unitel-axum", None),
                ("unitel-sqlx", None),
                ("unitel-testkit", Some("dev")),
            ],
        ),
    ];
    for (krate, dep) in extra {
        let member = members.iter_mut().find(|m| m.1 == *krate).unwrap();
        member.2.push(*dep);
    }
    let members: Vec<(&str, &str, &[Dep<'_>])> = members
        .iter()
        .map(|(dir, name, deps)| (*dir, *name, deps.as_slice()))
        .collect();
    workspace(&members)
}

/// The one violation found in `allowed_workspace(extra)`, as `(crate, dependency, kind)`.
fn only_violation(extra: &[(&str, Dep<'_>)]) -> (String, String, String) {
    let found = violations(&allowed_workspace(extra));
    assert_eq!(found.len(), 1, "{found:#?}");
    let v = &found[0];
    (v.krate.clone(), v.dependency.clone(), v.kind.clone())
}

#[test]
fn the_allowed_shape_passes() {
    assert_eq!(violations(&allowed_workspace(&[])), vec![]);
}

#[test]
fn an_integration_dev_dependency_on_another_integration_is_caught() {
    assert_eq!(
        only_violation(&[("unitel-axum", ("unitel-sqlx", Some("dev")))]),
        (
            "unitel-axum".to_owned(),
            "unitel-sqlx".to_owned(),
            "dev-dependency".to_owned()
        )
    );
    let found = violations(&allowed_workspace(&[(
        "unitel-axum",
        ("unitel-sqlx", Some("dev")),
    )]));
    let message = found[0].to_string();
    assert!(message.contains("reference-server/tests/"), "{message}");
}

#[test]
fn an_integration_depending_on_the_reference_server_or_a_build_dependency_is_caught() {
    assert_eq!(
        only_violation(&[("unitel-sqlx", ("reference-server", None))]).1,
        "reference-server"
    );
    assert_eq!(
        only_violation(&[("unitel-sqlx", ("unitel-axum", Some("build")))]).2,
        "build-dependency"
    );
}

#[test]
fn the_core_depending_on_a_web_framework_is_caught() {
    assert_eq!(
        only_violation(&[("unitel", ("axum", None))]),
        (
            "unitel".to_owned(),
            "axum".to_owned(),
            "normal dependency".to_owned()
        )
    );
    assert_eq!(
        only_violation(&[("unitel", ("actix-web", Some("dev")))]).1,
        "actix-web"
    );
    let found = violations(&allowed_workspace(&[("unitel", ("axum", None))]));
    assert!(found[0].why.contains("web framework"), "{}", found[0]);
}

#[test]
fn the_core_depending_on_a_database_driver_is_caught() {
    assert_eq!(
        only_violation(&[("unitel", ("sqlx-postgres", Some("dev")))]),
        (
            "unitel".to_owned(),
            "sqlx-postgres".to_owned(),
            "dev-dependency".to_owned()
        )
    );
    assert_eq!(
        only_violation(&[("unitel-macros", ("tokio-postgres", Some("build")))]).0,
        "unitel-macros"
    );
}

#[test]
fn the_core_depending_on_an_integration_crate_is_caught() {
    assert_eq!(
        only_violation(&[("unitel", ("unitel-reqwest", Some("dev")))]).1,
        "unitel-reqwest"
    );
}

#[test]
fn the_testkit_depending_on_our_crates_is_caught() {
    assert_eq!(
        only_violation(&[("unitel-testkit", ("unitel-axum", None))]),
        (
            "unitel-testkit".to_owned(),
            "unitel-axum".to_owned(),
            "normal dependency".to_owned()
        )
    );
}

#[test]
fn patterns_match_names_and_prefixes_only() {
    assert!(listed(WEB_FRAMEWORKS, "actix-rt"));
    assert!(listed(WEB_FRAMEWORKS, "axum"));
    assert!(!listed(WEB_FRAMEWORKS, "axum_like"));
    assert!(listed(DATABASE_DRIVERS, "sqlx-core"));
    assert!(!listed(DATABASE_DRIVERS, "sqlxx"));
    assert!(!listed(WEB_FRAMEWORKS, "hyper"));
    assert!(!listed(DATABASE_DRIVERS, "tokio"));
}
