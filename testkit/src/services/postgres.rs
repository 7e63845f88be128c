//! PostgreSQL for tests.

use std::fmt;
use std::fs;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use testcontainers::core::wait::LogWaitStrategy;
use testcontainers::core::{IntoContainerPort as _, WaitFor};
use testcontainers::runners::AsyncRunner as _;
use testcontainers::{ContainerAsync, GenericImage, ImageExt as _};

use super::{
    Backend, ChildGuard, blocking, docker_available, env_nonempty, find_binary, free_port,
    log_tail, run_checked, running_as_root, tcp_accepts, temp_dir,
};
use crate::Error;
use crate::skip::skipped;

/// Docker image used when a Docker engine is available.
const IMAGE: (&str, &str) = ("postgres", "16-alpine");
/// Superuser created by `initdb` / the Docker image.
const SUPERUSER: &str = "postgres";

/// A PostgreSQL database for one test. Dropping it releases the server (see [`postgres()`]).
pub struct PostgresService {
    url: String,
    database: String,
    backend: Backend,
    psql: Option<PathBuf>,
    _handle: Handle,
}

enum Handle {
    None,
    /// Held only for its `Drop` (removes the container).
    Container {
        _container: Box<ContainerAsync<GenericImage>>,
    },
    /// Stops the shared server with the last handle on `Drop`.
    Local {
        server: Arc<LocalPostgres>,
    },
}

impl fmt::Debug for PostgresService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresService")
            .field("url", &self.url)
            .field("database", &self.database)
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

impl PostgresService {
    /// Connection URL, e.g. `postgres://postgres@127.0.0.1:PORT/unitel_1234_1` (trust auth, no
    /// password) — or exactly `UNITEL_TEST_DATABASE_URL` when that is set.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Name of the database in [`url`](Self::url) (empty if it cannot be parsed from an
    /// external URL).
    pub fn database(&self) -> &str {
        &self.database
    }

    /// Where this server comes from.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Stops the PostgreSQL **server** behind this database with a "fast" shutdown (SIGINT):
    /// open sessions are terminated with SQLSTATE `57P01`, then the port refuses connections
    /// until [`start_server`](Self::start_server). For fault-injection tests.
    ///
    /// Only for the locally started server ([`Backend::Local`]); it is shared by every
    /// `PostgresService` of the process, so they all lose their database meanwhile. Errors for
    /// Docker and external servers: for an outage on any backend, put a [`crate::TcpProxy`]
    /// in front of the server (as the reference server's `fault_database` test does).
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), unitel_testkit::Error> {
    /// let Some(pg) = unitel_testkit::postgres().await else { return Ok(()) };
    /// pg.stop_server().await?;
    /// // ... the application under test loses its database ...
    /// pg.start_server().await?;
    /// # Ok(()) }
    /// ```
    pub async fn stop_server(&self) -> Result<(), Error> {
        let server = self.local_server()?;
        blocking(move || {
            let child = server.lock_child().take();
            if let Some(mut child) = child
                && !child.stop_with("INT", Duration::from_secs(20))
            {
                return Err(Error::new(
                    "postgres did not stop within 20 s; it was killed",
                ));
            }
            Ok(())
        })
        .await
    }

    /// Starts the server stopped by [`stop_server`](Self::stop_server) again, on the same port
    /// with the same data, and waits until it accepts connections. A no-op when it runs.
    pub async fn start_server(&self) -> Result<(), Error> {
        let server = self.local_server()?;
        blocking(move || {
            let mut child = server.lock_child();
            if child.is_none() {
                *child = Some(spawn_server(
                    &server.bin_dir,
                    server.dir.path(),
                    server.port,
                    server.owner,
                )?);
            }
            Ok(())
        })
        .await
    }

    fn local_server(&self) -> Result<Arc<LocalPostgres>, Error> {
        match &self._handle {
            Handle::Local { server } => Ok(Arc::clone(server)),
            _ => Err(Error::new(
                "stopping and starting the server needs the locally started PostgreSQL \
                 (Backend::Local); this one is managed elsewhere",
            )),
        }
    }

    /// Runs `sql` with the real `psql` client (`psql URL -XAtq -v ON_ERROR_STOP=1 -c SQL`) and
    /// returns its stdout (unaligned, tuples only). Blocking; meant for short setup/check
    /// statements.
    pub fn psql(&self, sql: &str) -> Result<String, Error> {
        let psql = self.psql.as_ref().ok_or_else(|| {
            Error::new("psql binary not found (install the PostgreSQL client or set UNITEL_TEST_PG_BIN_DIR)")
        })?;
        run_checked(
            Command::new(psql)
                .arg(&self.url)
                .args(["-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql])
                .stdin(Stdio::null()),
        )
    }
}

/// Starts or finds a PostgreSQL server and returns a database on it, or `None` (skip).
///
/// Lookup order:
///
/// 1. `UNITEL_TEST_DATABASE_URL`: used as is (no fresh database is created, so tests sharing
///    it should use unique table names or schemas).
/// 2. Docker: a fresh `postgres:16-alpine` container per call (trust auth, database
///    `postgres`), removed on drop. If it fails to start, the local fallback is tried.
/// 3. Local binaries (`initdb`, `postgres` from `UNITEL_TEST_PG_BIN_DIR`, the newest
///    `/usr/lib/postgresql/*/bin`, or `PATH`): one server **shared by every live
///    `PostgresService` of the process** (started on first use in a temp dir, on a free
///    loopback port with trust auth, `fsync` off, and its Unix socket in the temp dir; stopped
///    with an immediate shutdown and deleted when the last handle is dropped). **Each call
///    creates a fresh database** (`unitel_<pid>_<n>`), so tests are isolated but pay the
///    ~1 s server start-up only once while they overlap. When running as root (PostgreSQL
///    refuses root), `initdb` and `postgres` run as the unprivileged user `nobody`; the temp
///    dir (under `std::env::temp_dir()`, which must be traversable by `nobody`) is chowned to
///    it.
/// 4. Otherwise: skip ([`crate::skip_test`]), or panic under `UNITEL_REQUIRE_SERVICES=1`.
pub async fn postgres() -> Option<PostgresService> {
    if let Some(url) = env_nonempty("UNITEL_TEST_DATABASE_URL") {
        let database = url
            .split_once("://")
            .and_then(|(_, rest)| rest.split_once('/'))
            .and_then(|(_, path)| path.split('?').next())
            .unwrap_or_default()
            .to_owned();
        return Some(PostgresService {
            url,
            database,
            backend: Backend::External,
            psql: find_binary("psql", None),
            _handle: Handle::None,
        });
    }
    if docker_available().await {
        match start_container().await {
            Ok(service) => return Some(service),
            Err(e) => eprintln!(
                "unitel-testkit: PostgreSQL container failed ({e}); trying local binaries"
            ),
        }
    }
    let Some(bin_dir) = find_bin_dir() else {
        return skipped(
            "PostgreSQL",
            "UNITEL_TEST_DATABASE_URL is not set, no Docker engine answered, and no \
             initdb/postgres binaries were found (set UNITEL_TEST_PG_BIN_DIR)",
        );
    };
    match local_database(bin_dir).await {
        Ok(service) => Some(service),
        Err(e) => skipped("PostgreSQL", &format!("the local server failed: {e}")),
    }
}

async fn start_container() -> Result<PostgresService, Error> {
    let container = GenericImage::new(IMAGE.0, IMAGE.1)
        .with_exposed_port(5432.tcp())
        .with_wait_for(WaitFor::log(LogWaitStrategy::stderr(
            "database system is ready to accept connections",
        )))
        .with_wait_for(WaitFor::log(LogWaitStrategy::stdout(
            "database system is ready to accept connections",
        )))
        .with_env_var("POSTGRES_HOST_AUTH_METHOD", "trust")
        .with_startup_timeout(Duration::from_secs(120))
        .start()
        .await
        .map_err(|e| Error::new(format!("starting {}:{}: {e}", IMAGE.0, IMAGE.1)))?;
    let host = container
        .get_host()
        .await
        .map_err(|e| Error::new(format!("container host: {e}")))?;
    let port = container
        .get_host_port_ipv4(5432.tcp())
        .await
        .map_err(|e| Error::new(format!("container port: {e}")))?;
    Ok(PostgresService {
        url: format!("postgres://{SUPERUSER}@{host}:{port}/postgres"),
        database: "postgres".to_owned(),
        backend: Backend::Docker,
        psql: find_binary("psql", None),
        _handle: Handle::Container {
            _container: Box::new(container),
        },
    })
}

/// Directory holding `initdb` and `postgres`.
fn find_bin_dir() -> Option<PathBuf> {
    let has_tools = |dir: &Path| {
        ["initdb", "postgres"]
            .iter()
            .all(|tool| super::is_executable(&dir.join(tool)))
    };
    if let Some(dir) = env_nonempty("UNITEL_TEST_PG_BIN_DIR") {
        let dir = PathBuf::from(dir);
        return has_tools(&dir).then_some(dir);
    }
    // Debian/Ubuntu layout, newest major version first.
    let mut versions: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            Some((version, entry.path().join("bin")))
        })
        .filter(|(_, dir)| has_tools(dir))
        .collect();
    versions.sort_by_key(|(version, _)| std::cmp::Reverse(*version));
    if let Some((_, dir)) = versions.into_iter().next() {
        return Some(dir);
    }
    // `initdb` on PATH (possibly a symlink into the real bin directory).
    let initdb = find_binary("initdb", None)?;
    let real = fs::canonicalize(&initdb).unwrap_or(initdb);
    let dir = real.parent()?.to_path_buf();
    has_tools(&dir).then_some(dir)
}

/// A locally started server shared by all live [`PostgresService`]s of the process.
struct LocalPostgres {
    // Field order matters: the process is stopped before the directory is removed.
    /// `None` while stopped by [`PostgresService::stop_server`].
    child: Mutex<Option<ChildGuard>>,
    port: u16,
    bin_dir: PathBuf,
    owner: Option<(u32, u32)>,
    dir: tempfile::TempDir,
}

impl LocalPostgres {
    fn lock_child(&self) -> std::sync::MutexGuard<'_, Option<ChildGuard>> {
        self.child
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

static LOCAL: tokio::sync::Mutex<Weak<LocalPostgres>> = tokio::sync::Mutex::const_new(Weak::new());
static DATABASE_COUNTER: AtomicU32 = AtomicU32::new(0);

async fn local_database(bin_dir: PathBuf) -> Result<PostgresService, Error> {
    let server = {
        let mut shared = LOCAL.lock().await;
        match shared.upgrade() {
            Some(server) => server,
            None => {
                let server = Arc::new(blocking(move || start_local(&bin_dir)).await?);
                *shared = Arc::downgrade(&server);
                server
            }
        }
    };
    let database = format!(
        "unitel_{}_{}",
        std::process::id(),
        DATABASE_COUNTER.fetch_add(1, Ordering::SeqCst)
    );
    let port = server.port;
    let bin = server.bin_dir.clone();
    let db = database.clone();
    blocking(move || create_database(&bin, port, &db)).await?;
    let psql = Some(server.bin_dir.join("psql"))
        .filter(|p| super::is_executable(p))
        .or_else(|| find_binary("psql", None));
    Ok(PostgresService {
        url: format!("postgres://{SUPERUSER}@127.0.0.1:{port}/{database}"),
        database,
        backend: Backend::Local,
        psql,
        _handle: Handle::Local { server },
    })
}

/// `(uid, gid)` of the user `nobody` (from `/etc/passwd`, default 65534).
fn unprivileged_user() -> (u32, u32) {
    let passwd = fs::read_to_string("/etc/passwd").unwrap_or_default();
    passwd
        .lines()
        .filter_map(|line| {
            let mut fields = line.split(':');
            let name = fields.next()?;
            let uid = fields.nth(1)?.parse().ok()?;
            let gid = fields.next()?.parse().ok()?;
            (name == "nobody").then_some((uid, gid))
        })
        .next()
        .unwrap_or((65_534, 65_534))
}

fn start_local(bin_dir: &Path) -> Result<LocalPostgres, Error> {
    let dir = temp_dir("unitel-pg-").map_err(|e| Error::new(format!("temp dir: {e}")))?;
    let owner = running_as_root().then(unprivileged_user);
    if let Some((uid, gid)) = owner {
        std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid))
            .map_err(|e| Error::new(format!("chown {}: {e}", dir.path().display())))?;
    }
    let as_owner = |command: &mut Command| {
        command.current_dir(dir.path()).env("LC_ALL", "C");
        if let Some((uid, gid)) = owner {
            command.uid(uid).gid(gid);
        }
    };
    let data = dir.path().join("data");
    let mut initdb = Command::new(bin_dir.join("initdb"));
    initdb
        .arg("-D")
        .arg(&data)
        .args([
            "-U",
            SUPERUSER,
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        ])
        .stdin(Stdio::null());
    as_owner(&mut initdb);
    run_checked(&mut initdb)?;

    let mut last_error = Error::new("not started");
    for _attempt in 0..3 {
        let port = free_port();
        match spawn_server(bin_dir, dir.path(), port, owner) {
            Ok(child) => {
                return Ok(LocalPostgres {
                    child: Mutex::new(Some(child)),
                    port,
                    bin_dir: bin_dir.to_path_buf(),
                    owner,
                    dir,
                });
            }
            Err(e) => last_error = e,
        }
    }
    Err(last_error)
}

/// Starts `postgres` on the cluster in `dir/data` on `port` and waits until it is ready.
fn spawn_server(
    bin_dir: &Path,
    dir: &Path,
    port: u16,
    owner: Option<(u32, u32)>,
) -> Result<ChildGuard, Error> {
    let log_path = dir.join(format!("postgres-{port}.log"));
    let log = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|e| Error::new(format!("log file: {e}")))?;
    let log_err = log
        .try_clone()
        .map_err(|e| Error::new(format!("log file: {e}")))?;
    let mut command = Command::new(bin_dir.join("postgres"));
    command
        .arg("-D")
        .arg(dir.join("data"))
        .args(["-p", &port.to_string(), "-h", "127.0.0.1", "-k"])
        .arg(dir)
        .args([
            "-F",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
        ])
        .args(["-c", "max_connections=200"])
        .current_dir(dir)
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err);
    if let Some((uid, gid)) = owner {
        command.uid(uid).gid(gid);
    }
    let child = command
        .spawn()
        .map_err(|e| Error::new(format!("spawning postgres: {e}")))?;
    // SIGQUIT = immediate shutdown: fast, and still releases shared memory.
    let mut child = ChildGuard::new(child, Some("QUIT"));
    wait_ready(&mut child, bin_dir, port, &log_path)?;
    Ok(child)
}

fn wait_ready(child: &mut ChildGuard, bin_dir: &Path, port: u16, log: &Path) -> Result<(), Error> {
    let pg_isready = Some(bin_dir.join("pg_isready"))
        .filter(|p| super::is_executable(p))
        .or_else(|| find_binary("pg_isready", None));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.exited() {
            return Err(Error::new(format!(
                "postgres exited ({status}):\n{}",
                log_tail(log)
            )));
        }
        if tcp_accepts(port) {
            let ready = match &pg_isready {
                None => true,
                Some(pg_isready) => Command::new(pg_isready)
                    .args(["-q", "-h", "127.0.0.1", "-p", &port.to_string()])
                    .args(["-U", SUPERUSER, "-d", "postgres"])
                    .stdin(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success()),
            };
            if ready {
                return Ok(());
            }
        }
        if Instant::now() >= deadline {
            return Err(Error::new(format!(
                "postgres did not accept connections on 127.0.0.1:{port} within 30 s:\n{}",
                log_tail(log)
            )));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn create_database(bin_dir: &Path, port: u16, name: &str) -> Result<(), Error> {
    let port = port.to_string();
    let createdb = bin_dir.join("createdb");
    if super::is_executable(&createdb) {
        run_checked(
            Command::new(createdb)
                .args(["-h", "127.0.0.1", "-p", &port, "-U", SUPERUSER, name])
                .stdin(Stdio::null()),
        )?;
        return Ok(());
    }
    let psql = Some(bin_dir.join("psql"))
        .filter(|p| super::is_executable(p))
        .or_else(|| find_binary("psql", None))
        .ok_or_else(|| Error::new("neither createdb nor psql found to create the database"))?;
    run_checked(
        Command::new(psql)
            .args([
                "-X",
                "-q",
                "-h",
                "127.0.0.1",
                "-p",
                &port,
                "-U",
                SUPERUSER,
                "-d",
                "postgres",
            ])
            .args(["-c", &format!("CREATE DATABASE \"{name}\"")])
            .stdin(Stdio::null()),
    )?;
    Ok(())
}
