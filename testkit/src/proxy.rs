//! A TCP proxy in front of a service, for outages that work the same on every backend.
//!
//! Stopping a service is only possible for the testkit's own local processes; a container or
//! an external server (`UNITEL_TEST_DATABASE_URL`, ...) cannot be stopped by a test. Put a
//! [`TcpProxy`] between the code under test and the service instead: closing the proxy's port
//! and dropping its connections is, seen from the client, what a server going away does
//! (connections refused, open connections closed), and opening the port again is the server
//! coming back, on the same address.
//!
//! The proxy runs on plain threads (one accepting, two per connection), so it works from any
//! test, with or without an async runtime.

use std::fmt;
use std::io;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs as _};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::Error;

/// A TCP proxy on `127.0.0.1` forwarding every connection to an upstream `host:port`.
///
/// ```no_run
/// # fn demo() -> Result<(), unitel_testkit::Error> {
/// let proxy = unitel_testkit::TcpProxy::start("127.0.0.1:5432")?;
/// // ... the code under test connects to proxy.addr() ...
/// proxy.refuse(); // new connections are refused
/// proxy.drop_connections(std::time::Duration::from_secs(1)); // open ones are closed
/// proxy.accept()?; // the same port accepts again
/// # Ok(()) }
/// ```
pub struct TcpProxy {
    port: u16,
    upstream: String,
    shared: Arc<Shared>,
    acceptor: Mutex<Option<Acceptor>>,
}

struct Acceptor {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

#[derive(Default)]
struct Shared {
    /// Open connections: `(id, client side, upstream side)`.
    connections: Mutex<Vec<(u64, TcpStream, TcpStream)>>,
    next_id: AtomicU64,
    /// Connections accepted since the start (for diagnostics).
    accepted: AtomicUsize,
}

impl Shared {
    fn connections(&self) -> MutexGuard<'_, Vec<(u64, TcpStream, TcpStream)>> {
        self.connections
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for TcpProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpProxy")
            .field("port", &self.port)
            .field("upstream", &self.upstream)
            .field("open_connections", &self.open_connections())
            .finish_non_exhaustive()
    }
}

impl TcpProxy {
    /// Listens on a free port of `127.0.0.1` and forwards each connection to `upstream`
    /// (`host:port`, resolved for every connection). A connection whose upstream cannot be
    /// reached within 5 s is closed.
    pub fn start(upstream: impl Into<String>) -> Result<Self, Error> {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .map_err(|e| Error::new(format!("binding the proxy: {e}")))?;
        let port = listener
            .local_addr()
            .map_err(|e| Error::new(format!("the proxy's address: {e}")))?
            .port();
        let proxy = Self {
            port,
            upstream: upstream.into(),
            shared: Arc::default(),
            acceptor: Mutex::new(None),
        };
        proxy.spawn_acceptor(listener)?;
        Ok(proxy)
    }

    /// The proxy's address, `127.0.0.1:PORT` (the same after [`accept`](Self::accept)).
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// The proxy's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The upstream `host:port`.
    pub fn upstream(&self) -> &str {
        &self.upstream
    }

    /// Connections open through the proxy now.
    pub fn open_connections(&self) -> usize {
        self.shared.connections().len()
    }

    /// Connections accepted since the proxy started.
    pub fn accepted_connections(&self) -> usize {
        self.shared.accepted.load(Ordering::SeqCst)
    }

    /// Closes the port: new connections are refused until [`accept`](Self::accept); open ones
    /// go on. Idempotent.
    pub fn refuse(&self) {
        let acceptor = self
            .acceptor
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(acceptor) = acceptor {
            acceptor.stop.store(true, Ordering::SeqCst);
            // The thread drops the listener (closing the port) before it ends.
            let _ = acceptor.thread.join();
        }
    }

    /// Waits up to `grace` for the open connections to end by themselves (e.g. after the
    /// upstream closed them), then closes the rest on both sides. Returns how many had to be
    /// closed.
    pub fn drop_connections(&self, grace: Duration) -> usize {
        let deadline = Instant::now() + grace;
        while self.open_connections() > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        let open = std::mem::take(&mut *self.shared.connections());
        for (_, client, upstream) in &open {
            let _ = client.shutdown(Shutdown::Both);
            let _ = upstream.shutdown(Shutdown::Both);
        }
        open.len()
    }

    /// Opens the port again after [`refuse`](Self::refuse) (the same port; retried for 10 s
    /// if the system still holds it). A no-op while it is open.
    pub fn accept(&self) -> Result<(), Error> {
        if self
            .acceptor
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some()
        {
            return Ok(());
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        let listener = loop {
            match TcpListener::bind(self.addr()) {
                Ok(listener) => break listener,
                Err(e) if Instant::now() >= deadline => {
                    return Err(Error::new(format!("binding {} again: {e}", self.addr())));
                }
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        };
        self.spawn_acceptor(listener)
    }

    fn spawn_acceptor(&self, listener: TcpListener) -> Result<(), Error> {
        listener
            .set_nonblocking(true)
            .map_err(|e| Error::new(format!("proxy listener: {e}")))?;
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = Arc::clone(&stop);
            let shared = Arc::clone(&self.shared);
            let upstream = self.upstream.clone();
            std::thread::Builder::new()
                .name(format!("unitel-testkit-proxy-{}", self.port))
                .spawn(move || accept_loop(&listener, &stop, &shared, &upstream))
                .map_err(|e| Error::new(format!("spawning the proxy thread: {e}")))?
        };
        *self.acceptor.lock().unwrap_or_else(PoisonError::into_inner) =
            Some(Acceptor { stop, thread });
        Ok(())
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.refuse();
        self.drop_connections(Duration::ZERO);
    }
}

fn accept_loop(listener: &TcpListener, stop: &AtomicBool, shared: &Arc<Shared>, upstream: &str) {
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((client, _)) => {
                shared.accepted.fetch_add(1, Ordering::SeqCst);
                let shared = Arc::clone(shared);
                let upstream = upstream.to_owned();
                // Connecting may take a while; the listener keeps accepting meanwhile.
                let _ = std::thread::Builder::new()
                    .name("unitel-testkit-proxy-conn".to_owned())
                    .spawn(move || {
                        let _ = forward(client, &upstream, &shared);
                    });
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(5)),
        }
    }
}

fn connect(upstream: &str) -> io::Result<TcpStream> {
    let mut last = io::Error::new(io::ErrorKind::NotFound, format!("{upstream} not resolved"));
    for addr in upstream.to_socket_addrs()? {
        match TcpStream::connect_timeout(&addr, Duration::from_secs(5)) {
            Ok(stream) => return Ok(stream),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Copies both ways between `client` and `upstream` until both directions end.
fn forward(client: TcpStream, upstream: &str, shared: &Shared) -> io::Result<()> {
    client.set_nonblocking(false)?;
    let upstream = connect(upstream)?;
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    let id = shared.next_id.fetch_add(1, Ordering::SeqCst);
    shared
        .connections()
        .push((id, client.try_clone()?, upstream.try_clone()?));
    let (mut client_read, mut upstream_write) = (client.try_clone()?, upstream.try_clone()?);
    let to_upstream = std::thread::Builder::new()
        .name("unitel-testkit-proxy-up".to_owned())
        .spawn(move || {
            let _ = io::copy(&mut client_read, &mut upstream_write);
            let _ = upstream_write.shutdown(Shutdown::Write);
        });
    let (mut upstream_read, mut client_write) = (upstream, client);
    let _ = io::copy(&mut upstream_read, &mut client_write);
    let _ = client_write.shutdown(Shutdown::Write);
    if let Ok(thread) = to_upstream {
        let _ = thread.join();
    }
    shared.connections().retain(|(other, _, _)| *other != id);
    Ok(())
}
