//! The bounded queue between a reply stream's producer and its response body ([`Driven`]):
//! one sender, one receiver.
//!
//! The producer runs inside the body's own polls, so both ends are nearly always used by the
//! same task, one after the other. A queue under one lock (a lock and an unlock per message on
//! each side, and a waker woken only when the other side waits) costs less than tokio's channel
//! (a semaphore, a block list and an atomic waker: about ten locked instructions per message),
//! measured on batched bidi calls.
//!
//! [`Driven`]: super::stream::Driven

use std::{
    collections::VecDeque,
    future::Future,
    pin::Pin,
    sync::{Arc, Mutex, MutexGuard},
    task::{Context, Poll, Waker},
};

/// A queue of at most `capacity` items.
pub(crate) fn queue<T>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            items: VecDeque::with_capacity(capacity.min(64)),
            sender: true,
            receiver: true,
            rx_waker: None,
            tx_waker: None,
        }),
        capacity: capacity.max(1),
    });
    (
        Sender {
            shared: shared.clone(),
        },
        Receiver { shared },
    )
}

struct Shared<T> {
    state: Mutex<State<T>>,
    capacity: usize,
}

struct State<T> {
    items: VecDeque<T>,
    /// Whether the sender (or the receiver) is still there.
    sender: bool,
    receiver: bool,
    /// Who waits for an item (the receiver) or for room (the sender).
    rx_waker: Option<Waker>,
    tx_waker: Option<Waker>,
}

impl<T> Shared<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Keeps `waker` in `slot`, cloning only when it would wake another task.
fn park(slot: &mut Option<Waker>, waker: &Waker) {
    match slot {
        Some(parked) if parked.will_wake(waker) => {}
        _ => *slot = Some(waker.clone()),
    }
}

/// The producer's end.
pub(crate) struct Sender<T> {
    shared: Arc<Shared<T>>,
}

impl<T: Unpin> Sender<T> {
    /// Queues `item`, waiting for room; gives it back when the receiver is gone.
    pub(crate) fn send(&self, item: T) -> Sending<'_, T> {
        Sending {
            sender: self,
            item: Some(item),
        }
    }
}

impl<T> Sender<T> {
    /// Whether items wait in the queue.
    pub(crate) fn is_pending(&self) -> bool {
        !self.shared.lock().items.is_empty()
    }

    /// Whether the receiver is gone.
    pub(crate) fn is_closed(&self) -> bool {
        !self.shared.lock().receiver
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let waker = {
            let mut state = self.shared.lock();
            state.sender = false;
            state.rx_waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

/// The future of [`Sender::send`].
pub(crate) struct Sending<'a, T> {
    sender: &'a Sender<T>,
    item: Option<T>,
}

impl<T: Unpin> Future for Sending<'_, T> {
    type Output = Result<(), T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), T>> {
        let Some(item) = self.item.take() else {
            return Poll::Ready(Ok(()));
        };
        let shared = &self.sender.shared;
        let mut state = shared.lock();
        if !state.receiver {
            return Poll::Ready(Err(item));
        }
        if state.items.len() >= shared.capacity {
            park(&mut state.tx_waker, cx.waker());
            drop(state);
            self.item = Some(item);
            return Poll::Pending;
        }
        state.items.push_back(item);
        let waker = state.rx_waker.take();
        drop(state);
        if let Some(waker) = waker {
            waker.wake();
        }
        Poll::Ready(Ok(()))
    }
}

/// The body's end.
pub(crate) struct Receiver<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Receiver<T> {
    /// The next item; `None` once the sender is gone and the queue is empty.
    pub(crate) fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let mut state = self.shared.lock();
        if let Some(item) = state.items.pop_front() {
            let waker = state.tx_waker.take();
            drop(state);
            if let Some(waker) = waker {
                waker.wake();
            }
            return Poll::Ready(Some(item));
        }
        if !state.sender {
            return Poll::Ready(None);
        }
        park(&mut state.rx_waker, cx.waker());
        Poll::Pending
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let (items, waker) = {
            let mut state = self.shared.lock();
            state.receiver = false;
            (std::mem::take(&mut state.items), state.tx_waker.take())
        };
        // Dropped outside the lock.
        drop(items);
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recv<T>(rx: &mut Receiver<T>) -> Poll<Option<T>> {
        rx.poll_recv(&mut Context::from_waker(Waker::noop()))
    }

    /// Items come out in order; a full queue makes the sender wait until the receiver takes
    /// one, and the receiver sees the end only after the last item.
    #[tokio::test]
    async fn items_come_out_in_order_and_a_full_queue_waits_for_room() {
        let (tx, mut rx) = queue::<u32>(2);
        tx.send(1).await.unwrap();
        tx.send(2).await.unwrap();
        let mut third = std::pin::pin!(tx.send(3));
        let mut cx = Context::from_waker(Waker::noop());
        assert!(
            third.as_mut().poll(&mut cx).is_pending(),
            "the queue is full"
        );
        assert!(tx.is_pending());
        assert_eq!(recv(&mut rx), Poll::Ready(Some(1)));
        assert_eq!(third.as_mut().poll(&mut cx), Poll::Ready(Ok(())));
        assert_eq!(recv(&mut rx), Poll::Ready(Some(2)));
        assert_eq!(recv(&mut rx), Poll::Ready(Some(3)));
        assert_eq!(recv(&mut rx), Poll::Pending, "the sender is still there");
        drop(tx);
        assert_eq!(recv(&mut rx), Poll::Ready(None));
    }

    /// A sender whose receiver went away gets its item back, waiting or not.
    #[tokio::test]
    async fn a_gone_receiver_hands_the_item_back() {
        let (tx, rx) = queue::<u32>(1);
        tx.send(1).await.unwrap();
        let mut waiting = std::pin::pin!(tx.send(2));
        let mut cx = Context::from_waker(Waker::noop());
        assert!(waiting.as_mut().poll(&mut cx).is_pending());
        assert!(!tx.is_closed());
        drop(rx);
        assert_eq!(waiting.as_mut().poll(&mut cx), Poll::Ready(Err(2)));
        assert!(tx.is_closed());
        assert!(
            !tx.is_pending(),
            "the receiver's items were dropped with it"
        );
        assert_eq!(tx.send(3).await, Err(3));
    }

    /// Each side wakes the other only when it waits: a receiver parked on an empty queue is
    /// woken by the next item and by the sender going away.
    #[tokio::test]
    async fn a_waiting_receiver_is_woken() {
        let (tx, mut rx) = queue::<u32>(4);
        let woken = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        struct Count(Arc<std::sync::atomic::AtomicUsize>);
        impl std::task::Wake for Count {
            fn wake(self: Arc<Self>) {
                self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
        }
        let waker = Waker::from(Arc::new(Count(woken.clone())));
        let mut cx = Context::from_waker(&waker);
        assert_eq!(rx.poll_recv(&mut cx), Poll::Pending);
        tx.send(7).await.unwrap();
        assert_eq!(woken.load(std::sync::atomic::Ordering::SeqCst), 1);
        tx.send(8).await.unwrap();
        assert_eq!(
            woken.load(std::sync::atomic::Ordering::SeqCst),
            1,
            "not waiting"
        );
        assert_eq!(rx.poll_recv(&mut cx), Poll::Ready(Some(7)));
        assert_eq!(rx.poll_recv(&mut cx), Poll::Ready(Some(8)));
        assert_eq!(rx.poll_recv(&mut cx), Poll::Pending);
        drop(tx);
        assert_eq!(woken.load(std::sync::atomic::Ordering::SeqCst), 2);
        assert_eq!(rx.poll_recv(&mut cx), Poll::Ready(None));
    }
}
