//! Clients and sinks that misbehave, against the real binary: pipelining clients
//! that never read their responses, and a stderr nobody reads. Health probes and
//! requests must keep being answered.

use std::io::Read;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpSocket;

use crate::support::*;

/// `GET /__sandbox/health` on a fresh connection with a short timeout:
/// `Some(status)` if it answered.
async fn probe(addr: SocketAddr) -> Option<u16> {
    let client = client_builder()
        .timeout(Duration::from_secs(2))
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let resp = client
        .get(format!("http://{addr}/__sandbox/health"))
        .send()
        .await
        .ok()?;
    Some(resp.status().as_u16())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_that_never_read_are_cut_off_and_health_answers_again_while_they_hold_their_sockets(
) {
    // 256 descriptors, and more non-reading clients than that.
    let app = TestApp::with()
        .shell_prefix("ulimit -n 256 &&")
        .env("WA_TWOSTEP_SERVER__WRITE_TIMEOUT_SECS", "2")
        .start()
        .await;
    let pipelined = "GET /nope HTTP/1.1\r\nHost: t\r\n\r\n".repeat(3000);
    let mut clients = Vec::new();
    for _ in 0..300 {
        let socket = TcpSocket::new_v4().unwrap();
        // A 4 KiB receive buffer that is never read: the server's writes stall.
        socket.set_recv_buffer_size(4096).unwrap();
        let Ok(mut stream) = socket.connect(app.addr).await else {
            continue;
        };
        let requests = pipelined.clone();
        clients.push(tokio::spawn(async move {
            let _ = stream.write_all(requests.as_bytes()).await;
            // Hold the socket, unread, until the test ends.
            std::future::pending::<()>().await;
            drop(stream);
        }));
    }
    assert!(
        clients.len() >= 280,
        "only {} clients connected",
        clients.len()
    );
    // The documented bound is the write timeout (2 s here) once a client's 32 KiB
    // send buffer is full; the slack is for a loaded machine.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut answered = None;
    while answered.is_none() && Instant::now() < deadline {
        answered = probe(app.addr).await;
    }
    assert_eq!(
        answered,
        Some(200),
        "health never answered while non-reading clients held their sockets"
    );
    for c in &clients {
        assert!(
            !c.is_finished(),
            "a client task ended: the test lost its socket"
        );
    }
    for c in clients {
        c.abort();
    }
}

/// Sends `count` pipelined health requests (a multiple of 500) on one connection
/// and counts the `200` answers that arrive before `deadline`.
async fn pipelined_health(addr: SocketAddr, count: usize, deadline: Instant) -> usize {
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let (mut rd, mut wr) = stream.into_split();
    let writer = tokio::spawn(async move {
        let batch = "GET /__sandbox/health HTTP/1.1\r\nHost: t\r\n\r\n".repeat(500);
        for _ in 0..count / 500 {
            if wr.write_all(batch.as_bytes()).await.is_err() {
                break;
            }
        }
        wr
    });
    let needle = b"HTTP/1.1 200";
    let (mut seen, mut carry, mut buf) = (0usize, Vec::new(), vec![0u8; 64 * 1024]);
    while seen < count {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, rd.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => {
                carry.extend_from_slice(&buf[..n]);
                seen += carry.windows(needle.len()).filter(|w| w == needle).count();
                // Keep a tail that may hold the start of a split status line.
                let keep = carry.len().saturating_sub(needle.len() - 1);
                carry.drain(..keep);
            }
            _ => break,
        }
    }
    writer.abort();
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stderr_nobody_reads_never_stalls_requests_and_the_drops_are_counted_and_reported() {
    let mut app = TestApp::with().stderr_unread().start().await;
    // Nobody reads the pipe: its 64 KiB fill after a few hundred lines, and the
    // log queue (64 Ki lines) after about 66,000 requests.
    let mut stderr = app.take_stderr();
    let deadline = Instant::now() + Duration::from_secs(240);
    let per_connection = 50_000;
    let connections: Vec<_> = (0..4)
        .map(|_| tokio::spawn(pipelined_health(app.addr, per_connection, deadline)))
        .collect();
    let mut answered = 0;
    for c in connections {
        answered += c.await.expect("join");
    }
    assert_eq!(
        answered,
        4 * per_connection,
        "requests hung behind the stuck log"
    );
    let metrics = app.get("/metrics").await.text().await.unwrap();
    let dropped: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("wa_twostep_log_lines_dropped_total "))
        .expect("the drop counter is in /metrics")
        .parse()
        .unwrap();
    assert!(dropped > 0.0, "no line was dropped: {dropped}");
    // The sink recovers: once it is read again, one line reports the drops.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let (mut buf, mut text) = (vec![0u8; 64 * 1024], Vec::new());
        while let Ok(n) = stderr.read(&mut buf) {
            if n == 0 {
                break;
            }
            text.extend_from_slice(&buf[..n]);
            let seen = String::from_utf8_lossy(&text);
            if let Some(line) = seen.lines().find(|l| l.contains("lines were dropped")) {
                let _ = tx.send(line.to_owned());
                break;
            }
        }
    });
    let line = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("no report of the dropped lines once stderr was read again");
    assert!(line.contains("dropped_lines="), "{line}");
}
