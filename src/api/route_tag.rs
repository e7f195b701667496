//! A route layer that carries the matched route out on the response, for the log
//! line and the metrics. Written as a plain tower service: as an axum `from_fn`
//! layer it boxed a future and cloned the route per request, about a tenth of a
//! cheap request's instructions in a callgrind profile. The Cloud edge routes its
//! own paths (`api::cloud`) and tags its responses with [`RouteTag::Cloud`].

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::extract::{MatchedPath, Request};
use axum::response::Response;
use tower::{Layer, Service};

/// The matched route of a request, found in the response's extensions.
#[derive(Clone, Debug)]
pub enum RouteTag {
    /// A route of axum's route table.
    Matched(MatchedPath),
    /// A Cloud route template, such as `/{version}/{phone_number_id}/register`.
    Cloud(&'static str),
}

impl RouteTag {
    /// The route template.
    pub fn as_str(&self) -> &str {
        match self {
            RouteTag::Matched(m) => m.as_str(),
            RouteTag::Cloud(route) => route,
        }
    }
}

/// Adds [`RouteTag`] to responses of matched routes.
#[derive(Clone, Copy, Debug, Default)]
pub struct TagRouteLayer;

impl<S> Layer<S> for TagRouteLayer {
    type Service = TagRoute<S>;

    fn layer(&self, inner: S) -> TagRoute<S> {
        TagRoute { inner }
    }
}

/// The service of [`TagRouteLayer`].
#[derive(Clone, Debug)]
pub struct TagRoute<S> {
    /// The route's own service.
    inner: S,
}

impl<S> Service<Request> for TagRoute<S>
where
    S: Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = TagFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let tag = req.extensions().get::<MatchedPath>().cloned();
        TagFuture {
            inner: self.inner.call(req),
            tag,
        }
    }
}

pin_project_lite::pin_project! {
    /// Response future of [`TagRoute`].
    pub struct TagFuture<F> {
        #[pin]
        inner: F,
        tag: Option<MatchedPath>,
    }
}

impl<F, E> Future for TagFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        match this.inner.poll(cx) {
            Poll::Ready(Ok(mut resp)) => {
                if let Some(tag) = this.tag.take() {
                    resp.extensions_mut().insert(RouteTag::Matched(tag));
                }
                Poll::Ready(Ok(resp))
            }
            other => other,
        }
    }
}
