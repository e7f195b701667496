//! The request timeout, with the one exception that keeps answers truthful: once
//! a change has been handed to the state writer, the request waits for the
//! writer's verdict instead of answering 408. A 408 for a change that was applied
//! anyway would break "non-2xx means not applied"; dropping the request's future
//! does not take the change back out of the writer's queue.
//!
//! The store marks the request ([`mark_queued`]) from inside the request's own
//! future; a task-local carries the mark, so no layer needs to pass it along.
//!
//! The timer is armed only when the request first has to wait: most requests
//! answer on their first poll, and a timer per request (a timer-wheel entry made
//! and removed) was a measurable share of a cheap request.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::task::futures::TaskLocalFuture;
use tokio::time::{Instant, Sleep};

tokio::task_local! {
    /// Set once the request has queued a change with the state writer.
    static QUEUED: Cell<bool>;
}

/// Runs `request` with a `timeout` counted from now: resolves to `None` when the
/// time ran out before the request queued any change (answer 408); otherwise to
/// the request's own answer, however long the writer took.
pub fn bound<F: Future>(timeout: Duration, request: F) -> Bounded<F> {
    QUEUED.scope(
        Cell::new(false),
        Timed {
            request,
            deadline: Instant::now() + timeout,
            timer: None,
            waiting_for_verdict: false,
        },
    )
}

/// The future [`bound`] returns.
pub type Bounded<F> = TaskLocalFuture<Cell<bool>, Timed<F>>;

pin_project_lite::pin_project! {
    /// A request and its deadline; polled inside the `QUEUED` scope.
    pub struct Timed<F> {
        #[pin]
        request: F,
        deadline: Instant,
        // Boxed so that a request that never waits never builds one.
        timer: Option<Pin<Box<Sleep>>>,
        waiting_for_verdict: bool,
    }
}

impl<F: Future> Future for Timed<F> {
    type Output = Option<F::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(out) = this.request.poll(cx) {
            return Poll::Ready(Some(out));
        }
        if *this.waiting_for_verdict {
            return Poll::Pending;
        }
        let deadline = *this.deadline;
        let timer = this
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if timer.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        if QUEUED.with(Cell::get) {
            *this.waiting_for_verdict = true;
            Poll::Pending
        } else {
            Poll::Ready(None)
        }
    }
}

/// Marks the current request as having queued a change: from now on its timeout
/// no longer applies. Outside a request (start-up, background work) it does nothing.
pub fn mark_queued() {
    let _ = QUEUED.try_with(|q| q.set(true));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_request_that_queued_a_change_outlives_its_timeout() {
        let answer = bound(Duration::from_millis(10), async {
            mark_queued();
            tokio::time::sleep(Duration::from_millis(50)).await;
            "applied"
        })
        .await;
        assert_eq!(answer, Some("applied"));
    }

    #[tokio::test]
    async fn a_request_that_queued_nothing_times_out() {
        let answer = bound(Duration::from_millis(10), async {
            tokio::time::sleep(Duration::from_secs(5)).await;
        })
        .await;
        assert_eq!(answer, None);
    }

    #[tokio::test]
    async fn the_timeout_counts_from_the_start_not_from_the_first_wait() {
        let request = bound(Duration::from_millis(30), async {
            tokio::time::sleep(Duration::from_secs(5)).await;
        });
        // The request sits unpolled past its deadline: its first wait must end at once.
        tokio::time::sleep(Duration::from_millis(60)).await;
        let started = std::time::Instant::now();
        assert_eq!(request.await, None);
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    #[tokio::test]
    async fn a_request_that_answers_at_once_answers_even_past_its_deadline() {
        let request = bound(Duration::from_millis(1), async { "fast" });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(request.await, Some("fast"));
    }
}
