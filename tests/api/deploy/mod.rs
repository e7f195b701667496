//! Deployment as a team's sandbox: behind a real nginx with TLS and a path prefix
//! (`nginx`), health that load balancers can trust (`draining`), and the base of
//! absolute links (`public_url`).

mod draining;
mod nginx;
mod public_url;
