//! The `security` webhook (docs/behaviour.md#security-webhooks): `PIN_CHANGED`,
//! `PIN_RESET_REQUEST` and `PIN_RESET_SUCCESS` POSTed to `cloud.webhook_url` in the
//! Cloud webhook envelope, signed with `X-Hub-Signature-256: sha256=<hex
//! HMAC-SHA256(body, cloud.app_secret)>` (docs/cloud.md#whatsapp-manager-and-the-security-webhook).
//!
//! Off the request path: [`Webhooks::emit`] only puts the delivery on a bounded
//! queue (full: the delivery is listed as dropped) and returns; one background
//! task delivers in order, each with a timeout, retrying a failure with backoff a
//! bounded number of times. The last [`KEPT`] deliveries are listed at
//! `GET /__sandbox/webhooks`.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::Json;
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::api::auth::ControlCaller;
use crate::api::timestamps::rfc3339_ms;
use crate::api::AppState;
use crate::clock::{now_ms, now_secs};
use crate::domain::manager::{SecurityEvent, SecuritySink};
use crate::secret::Secret;

/// Deliveries waiting at most.
pub const QUEUE: usize = 256;
/// Deliveries listed at most.
pub const KEPT: usize = 100;
/// Attempts per delivery.
pub const MAX_ATTEMPTS: u32 = 3;
/// The wait before the second attempt; doubled before each further one.
pub const FIRST_BACKOFF: Duration = Duration::from_millis(200);
/// Time one attempt may take (connect, send, first line of the answer).
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);

/// One delivery as listed.
#[derive(Debug, Clone, Serialize)]
pub struct DeliveryView {
    /// Sequence number.
    pub id: u64,
    /// `PIN_CHANGED`, `PIN_RESET_REQUEST` or `PIN_RESET_SUCCESS`.
    pub event: &'static str,
    /// `pending`, `delivered`, `failed` (attempts used up) or `dropped` (queue full).
    pub status: &'static str,
    /// Attempts made.
    pub attempts: u32,
    /// The receiver's last HTTP status, if it answered.
    pub last_status: Option<u16>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When the event happened, RFC 3339 UTC with milliseconds.
    pub created_at: String,
}

/// `GET /__sandbox/webhooks` body.
#[derive(Debug, Serialize)]
pub struct DeliveriesView {
    /// Oldest first.
    pub deliveries: Vec<DeliveryView>,
}

/// One queued delivery.
#[derive(Debug)]
struct Job {
    /// Its listing's id.
    id: u64,
    /// The signed body.
    body: String,
}

/// Where to POST: `host:port` and the path.
#[derive(Debug, Clone)]
struct Target {
    /// `host:port`.
    authority: String,
    /// Path and query, at least `/`.
    path: String,
}

impl Target {
    /// Parses `http://host[:port][/path]`.
    fn parse(url: &str) -> Option<Target> {
        let rest = url.strip_prefix("http://")?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if authority.is_empty() || authority.contains('@') {
            return None;
        }
        let authority = if authority
            .rsplit_once(':')
            .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
        {
            authority.to_owned()
        } else {
            format!("{authority}:80")
        };
        Some(Target {
            authority,
            path: path.to_owned(),
        })
    }
}

/// The webhook sender.
#[derive(Debug)]
pub struct Webhooks {
    /// `None`: no `cloud.webhook_url`, nothing is sent or listed.
    queue: Option<mpsc::Sender<Job>>,
    /// The listing.
    deliveries: Arc<Mutex<VecDeque<DeliveryView>>>,
    /// Next id.
    next: Mutex<u64>,
    /// `cloud.waba_id`.
    waba_id: String,
}

/// Updates delivery `id` in the listing.
fn update(list: &Mutex<VecDeque<DeliveryView>>, id: u64, f: impl FnOnce(&mut DeliveryView)) {
    let mut list = list.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(d) = list.iter_mut().find(|d| d.id == id) {
        f(d);
    }
}

impl Webhooks {
    /// The sender for `webhook_url` signed with `app_secret`; starts its task
    /// (needs a tokio runtime) when a URL is set.
    pub fn new(webhook_url: &str, app_secret: &Secret, waba_id: &str) -> Arc<Webhooks> {
        let deliveries = Arc::new(Mutex::new(VecDeque::new()));
        let queue = Target::parse(webhook_url).map(|target| {
            let (tx, rx) = mpsc::channel(QUEUE);
            tokio::spawn(deliver_all(
                rx,
                target,
                app_secret.clone(),
                deliveries.clone(),
            ));
            tx
        });
        Arc::new(Webhooks {
            queue,
            deliveries,
            next: Mutex::new(0),
            waba_id: waba_id.to_owned(),
        })
    }

    /// The deliveries, oldest first.
    pub fn list(&self) -> Vec<DeliveryView> {
        let list = self.deliveries.lock().unwrap_or_else(|e| e.into_inner());
        list.iter().cloned().collect()
    }

    /// The Cloud envelope of one event.
    fn body(&self, event: SecurityEvent, display: &str, requester: Option<&str>) -> String {
        let mut value =
            serde_json::json!({"display_phone_number": display, "event": event.as_str()});
        if let Some(r) = requester {
            value["requester"] = r.into();
        }
        serde_json::json!({
            "object": "whatsapp_business_account",
            "entry": [{
                "id": self.waba_id,
                "time": now_secs(),
                "changes": [{"field": "security", "value": value}],
            }],
        })
        .to_string()
    }
}

impl SecuritySink for Webhooks {
    fn emit(&self, event: SecurityEvent, display: &str, requester: Option<&str>) {
        let Some(queue) = &self.queue else { return };
        let id = {
            let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
            *next += 1;
            *next
        };
        {
            let mut list = self.deliveries.lock().unwrap_or_else(|e| e.into_inner());
            while list.len() >= KEPT {
                list.pop_front();
            }
            list.push_back(DeliveryView {
                id,
                event: event.as_str(),
                status: "pending",
                attempts: 0,
                last_status: None,
                last_error: None,
                created_at: rfc3339_ms(now_ms()),
            });
        }
        let job = Job {
            id,
            body: self.body(event, display, requester),
        };
        if queue.try_send(job).is_err() {
            tracing::warn!(
                event = event.as_str(),
                "webhook queue full: delivery dropped"
            );
            update(&self.deliveries, id, |d| d.status = "dropped");
        }
    }
}

/// The background task: each job in turn, with retries.
async fn deliver_all(
    mut rx: mpsc::Receiver<Job>,
    target: Target,
    secret: Secret,
    list: Arc<Mutex<VecDeque<DeliveryView>>>,
) {
    while let Some(job) = rx.recv().await {
        let signature = sign(&secret, &job.body);
        let mut backoff = FIRST_BACKOFF;
        for attempt in 1..=MAX_ATTEMPTS {
            let outcome =
                tokio::time::timeout(ATTEMPT_TIMEOUT, post(&target, &job.body, &signature))
                    .await
                    .unwrap_or_else(|_| Err("timed out".to_owned()));
            let done = matches!(outcome, Ok(status) if (200..300).contains(&status));
            update(&list, job.id, |d| {
                d.attempts = attempt;
                match &outcome {
                    Ok(status) => {
                        d.last_status = Some(*status);
                        d.last_error = (!done).then(|| format!("HTTP {status}"));
                    }
                    Err(e) => d.last_error = Some(e.clone()),
                }
                d.status = if done {
                    "delivered"
                } else if attempt == MAX_ATTEMPTS {
                    "failed"
                } else {
                    "pending"
                };
            });
            if done {
                break;
            }
            if attempt == MAX_ATTEMPTS {
                tracing::warn!(attempts = attempt, "webhook delivery failed");
                break;
            }
            tokio::time::sleep(backoff).await;
            backoff *= 2;
        }
    }
}

/// `sha256=<hex HMAC-SHA256(body)>`.
pub fn sign(secret: &Secret, body: &str) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.expose().as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(body.as_bytes());
    let tag = mac.finalize().into_bytes();
    let hex: String = tag.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

/// One POST over a fresh connection (HTTP/1.1, `Connection: close`); the answer's status.
async fn post(target: &Target, body: &str, signature: &str) -> Result<u16, String> {
    let mut stream = tokio::net::TcpStream::connect(&target.authority)
        .await
        .map_err(|e| format!("connect {}: {e}", target.authority))?;
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         X-Hub-Signature-256: {signature}\r\nUser-Agent: wa-twostep\r\nConnection: close\r\n\r\n",
        target.path,
        target.authority,
        body.len()
    );
    stream
        .write_all(format!("{head}{body}").as_bytes())
        .await
        .map_err(|e| format!("send: {e}"))?;
    let mut buf = Vec::with_capacity(256);
    let mut chunk = [0u8; 256];
    while !buf.windows(2).any(|w| w == b"\r\n") && buf.len() < 4096 {
        let n = stream
            .read(&mut chunk)
            .await
            .map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let line = String::from_utf8_lossy(&buf);
    line.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| "no HTTP status in the answer".to_owned())
}

/// `GET /__sandbox/webhooks`.
pub async fn list(State(state): State<AppState>, _c: ControlCaller) -> Json<DeliveriesView> {
    Json(DeliveriesView {
        deliveries: state.webhooks.list(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_and_signatures() {
        let t = Target::parse("http://127.0.0.1:9/hook?x=1").unwrap();
        assert_eq!(
            (t.authority.as_str(), t.path.as_str()),
            ("127.0.0.1:9", "/hook?x=1")
        );
        assert_eq!(
            Target::parse("http://example.com").unwrap().authority,
            "example.com:80"
        );
        assert!(Target::parse("https://x").is_none() && Target::parse("").is_none());
        // RFC 4231 test case 2.
        assert_eq!(
            sign(&Secret::new("Jefe"), "what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
