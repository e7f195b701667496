//! The request timeout, with the one exception that keeps answers truthful: once
//! a change has been handed to the state writer, the request waits for the
//! writer's verdict instead of answering 408. A 408 for a change that was applied
//! anyway would break "non-2xx means not applied"; dropping the request's future
//! does not take the change back out of the writer's queue.
//!
//! The store marks the request ([`mark_queued`]) from inside the request's own
//! future; a task-local carries the mark, so no layer needs to pass it along.

use std::cell::Cell;
use std::future::Future;
use std::time::Duration;

tokio::task_local! {
    /// Set once the request has queued a change with the state writer.
    static QUEUED: Cell<bool>;
}

/// Runs `request` with a `timeout`: `None` when the time ran out before the
/// request queued any change (answer 408); otherwise the request's own answer,
/// however long the writer took.
pub async fn run<F: Future>(timeout: Duration, request: F) -> Option<F::Output> {
    QUEUED
        .scope(Cell::new(false), async move {
            let mut request = std::pin::pin!(request);
            tokio::select! {
                out = &mut request => Some(out),
                () = tokio::time::sleep(timeout) => {
                    if QUEUED.with(Cell::get) {
                        Some(request.await)
                    } else {
                        None
                    }
                }
            }
        })
        .await
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
        let answer = run(Duration::from_millis(10), async {
            mark_queued();
            tokio::time::sleep(Duration::from_millis(50)).await;
            "applied"
        })
        .await;
        assert_eq!(answer, Some("applied"));
    }

    #[tokio::test]
    async fn a_request_that_queued_nothing_times_out() {
        let answer = run(Duration::from_millis(10), async {
            tokio::time::sleep(Duration::from_secs(5)).await;
        })
        .await;
        assert_eq!(answer, None);
    }
}
