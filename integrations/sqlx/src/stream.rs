//! A stream driven by an async block that yields items: lets an instrumented stream own the
//! pooled connection its inner stream borrows (the same technique as sqlx's own `try_stream!`,
//! in safe code).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use futures_util::Stream;
use futures_util::future::BoxFuture;

/// Hands items from the generating future to the stream.
pub(crate) struct Yielder<T> {
    slot: Arc<Mutex<Option<T>>>,
}

impl<T> Yielder<T> {
    /// Makes `item` the stream's next item and suspends the generating future until the
    /// consumer polls again.
    pub(crate) async fn send(&self, item: T) {
        *self.slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(item);
        SuspendOnce { suspended: false }.await;
    }
}

/// Returns `Pending` once without registering a wake-up: the stream sees the filled slot and
/// returns the item at once, and its next poll resumes the future.
struct SuspendOnce {
    suspended: bool,
}

impl Future for SuspendOnce {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        if self.suspended {
            Poll::Ready(())
        } else {
            self.suspended = true;
            Poll::Pending
        }
    }
}

/// The stream of what a future sends through its [`Yielder`].
pub(crate) struct Generated<'a, T> {
    slot: Arc<Mutex<Option<T>>>,
    future: Option<BoxFuture<'a, ()>>,
}

impl<T> std::fmt::Debug for Generated<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Generated")
            .field("done", &self.future.is_none())
            .finish_non_exhaustive()
    }
}

/// Runs `body` as a stream.
pub(crate) fn generate<'a, T, F, Fut>(body: F) -> Generated<'a, T>
where
    F: FnOnce(Yielder<T>) -> Fut,
    Fut: Future<Output = ()> + Send + 'a,
    T: Send + 'a,
{
    let slot = Arc::new(Mutex::new(None));
    let future = body(Yielder {
        slot: Arc::clone(&slot),
    });
    Generated {
        slot,
        future: Some(Box::pin(future)),
    }
}

impl<T> Generated<'_, T> {
    fn take(&self) -> Option<T> {
        self.slot
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }
}

impl<T> Stream for Generated<'_, T> {
    type Item = T;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let this = self.get_mut();
        let Some(future) = this.future.as_mut() else {
            return Poll::Ready(None);
        };
        let finished = future.as_mut().poll(cx).is_ready();
        if finished {
            this.future = None;
        }
        match this.take() {
            Some(item) => Poll::Ready(Some(item)),
            None if finished => Poll::Ready(None),
            None => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use futures_util::StreamExt as _;

    use super::*;

    #[tokio::test]
    async fn yields_in_order_then_ends() {
        let stream = generate(|y| async move {
            for i in 0..3 {
                y.send(i).await;
                tokio::task::yield_now().await;
            }
        });
        assert_eq!(stream.collect::<Vec<_>>().await, vec![0, 1, 2]);
    }

    #[tokio::test]
    async fn dropping_the_stream_drops_the_future() {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let mut stream = generate(move |y| async move {
            let _guard = tx;
            y.send(1).await;
            y.send(2).await;
        });
        assert_eq!(stream.next().await, Some(1));
        drop(stream);
        assert!(rx.await.is_err(), "the future (and what it owned) is gone");
    }
}
