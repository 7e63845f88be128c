//! The export thread: a small tokio runtime of its own that runs the `/metrics` listener, OTLP
//! exporters and collectors, so nothing unitel does in the background can stall the
//! application's runtime, whatever runtime (or none) the application uses.

use std::cell::Cell;
use std::future::Future;
use std::time::{Duration, Instant};

thread_local! {
    static IN_EXPORT_THREAD: Cell<bool> = const { Cell::new(false) };
}

/// Whether the calling thread is unitel's export thread. Spans and events from it (tonic, hyper,
/// h2 internals) are kept out of the trace pipeline so exporting never feeds itself.
#[cfg_attr(not(feature = "otel"), allow(dead_code))]
pub(crate) fn in_export_thread() -> bool {
    IN_EXPORT_THREAD.with(Cell::get)
}

/// Handle to the export thread; stops it on drop.
#[derive(Debug)]
pub(crate) struct ExportRuntime {
    handle: tokio::runtime::Handle,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ExportRuntime {
    pub(crate) fn start() -> std::io::Result<Self> {
        let (handle_tx, handle_rx) = std::sync::mpsc::sync_channel(1);
        let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("unitel-export".to_owned())
            .spawn(move || {
                IN_EXPORT_THREAD.with(|c| c.set(true));
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = handle_tx.send(Err(e));
                        return;
                    }
                };
                let _ = handle_tx.send(Ok(runtime.handle().clone()));
                runtime.block_on(async {
                    let _ = stop_rx.await;
                });
                runtime.shutdown_timeout(Duration::from_secs(1));
            })?;
        let handle = handle_rx
            .recv()
            .map_err(|_| std::io::Error::other("the export thread exited during start-up"))??;
        Ok(Self {
            handle,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    pub(crate) fn handle(&self) -> &tokio::runtime::Handle {
        &self.handle
    }

    /// Runs `fut` on the export thread and waits (blocking the caller) up to `timeout`.
    pub(crate) fn run<F>(&self, timeout: Duration, fut: F) -> Option<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.handle.spawn(async move {
            let _ = tx.send(fut.await);
        });
        rx.recv_timeout(timeout).ok()
    }

    /// Stops the thread, waiting for it up to `timeout`.
    pub(crate) fn stop(&mut self, timeout: Duration) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let deadline = Instant::now() + timeout;
            while !thread.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(2));
            }
            if thread.is_finished() {
                let _ = thread.join();
            }
        }
    }
}

impl Drop for ExportRuntime {
    fn drop(&mut self) {
        self.stop(Duration::from_secs(2));
    }
}

#[cfg_attr(not(feature = "otel"), allow(dead_code))]
/// Waits for a oneshot reply without needing any async runtime, up to `timeout`.
pub(crate) fn wait_reply<T>(
    mut rx: tokio::sync::oneshot::Receiver<T>,
    timeout: Duration,
) -> Result<Option<T>, Duration> {
    // A reply channel dropped unanswered means the other side already stopped: not a timeout.
    let deadline = Instant::now() + timeout;
    loop {
        match rx.try_recv() {
            Ok(v) => return Ok(Some(v)),
            Err(tokio::sync::oneshot::error::TryRecvError::Closed) => return Ok(None),
            Err(tokio::sync::oneshot::error::TryRecvError::Empty) => {
                if Instant::now() >= deadline {
                    return Err(timeout);
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        }
    }
}
