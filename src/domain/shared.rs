//! Several servers, one state (docs/behaviour.md#several-replicas): the handle the
//! HTTP edge uses, once per request, to make sure this server has applied every
//! change any server acknowledged before the request arrived. With the file
//! backend nothing is shared and the check is skipped without a call.

use std::sync::Arc;

use super::Unavailable;
use crate::store::Store;

/// Freshness of the state this server reads.
#[derive(Debug, Clone)]
pub struct SharedState {
    /// Durable state.
    store: Arc<Store>,
    /// Fixed at start: whether other servers share the state.
    shared: bool,
}

impl SharedState {
    /// The handle over `store`.
    pub fn new(store: Arc<Store>) -> SharedState {
        let shared = store.is_shared();
        SharedState { store, shared }
    }

    /// True when other servers may change the state (a database backend).
    pub fn is_shared(&self) -> bool {
        self.shared
    }

    /// Applies every change committed by any server before this call. Err (503 /
    /// 1016 at the edge): the database cannot be reached.
    pub async fn catch_up(&self) -> Result<(), Unavailable> {
        if !self.shared {
            return Ok(());
        }
        // Boxed: the database client's futures are large, and inline they would
        // make every request's future (file backend included) that large to move.
        Box::pin(self.store.refresh())
            .await
            .map_err(Unavailable::StateUnreachable)
    }
}
