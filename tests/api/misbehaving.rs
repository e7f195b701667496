//! Clients and sinks that misbehave: clients that never read their responses, and
//! a stderr nobody reads. The server must keep answering health probes and
//! requests, against the real binary.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpSocket;

use super::helpers::*;

/// Starts the binary through `sh` (so a `ulimit` can apply first), memory only,
/// with `env` on top of cheap argon2; stderr goes where `stderr` says. Returns the
/// child and the address of its ready line.
fn start(shell_prefix: &str, env: &[(&str, &str)], stderr: Stdio) -> (Child, SocketAddr) {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!("{shell_prefix} exec \"$0\" \"$@\""))
        .arg(binary())
        .args(["--listen", "127.0.0.1:0", "--ephemeral"]);
    for (k, _) in std::env::vars() {
        if k.starts_with("WA_TWOSTEP_") || k == "RUST_LOG" {
            cmd.env_remove(k);
        }
    }
    for (k, v) in CHEAP_ARGON2.iter().chain(env) {
        cmd.env(k, v);
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(stderr);
    let mut child = cmd.spawn().expect("spawn wa-twostep");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    stdout.read_line(&mut line).expect("ready line");
    let addr = line
        .trim_end()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("no ready line: {line:?}"))
        .parse()
        .expect("HOST:PORT");
    (child, addr)
}

/// `GET /__sandbox/health` with a short timeout: Some(status) if it answered.
async fn health(addr: SocketAddr) -> Option<u16> {
    let client = reqwest::Client::builder()
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
    let (mut server, addr) = start(
        "ulimit -n 256 &&",
        &[("WA_TWOSTEP_SERVER__WRITE_TIMEOUT_SECS", "2")],
        Stdio::null(),
    );
    let pipelined = "GET /nope HTTP/1.1\r\nHost: t\r\n\r\n".repeat(3000);
    let mut clients = Vec::new();
    for _ in 0..300 {
        let socket = TcpSocket::new_v4().unwrap();
        // A 4 KiB receive buffer that is never read: the server's writes stall.
        socket.set_recv_buffer_size(4096).unwrap();
        let Ok(mut stream) = socket.connect(addr).await else {
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
    // The documented bound: the write timeout (2 s here) frees every stuck
    // connection; allow generous slack for a loaded machine.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut answered = None;
    while Instant::now() < deadline {
        answered = health(addr).await;
        if answered.is_some() {
            break;
        }
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
    let _ = server.kill();
    let _ = server.wait();
}

/// Sends `count` pipelined health requests on one connection and counts the
/// `200` answers, within `deadline`.
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
    while seen < count / 500 * 500 {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, rd.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => {
                carry.extend_from_slice(&buf[..n]);
                let mut last = 0;
                for i in 0..carry.len().saturating_sub(needle.len() - 1) {
                    if &carry[i..i + needle.len()] == needle {
                        seen += 1;
                        last = i + needle.len();
                    }
                }
                let keep = last.max(carry.len().saturating_sub(needle.len() - 1));
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
    let (mut server, addr) = start("", &[], Stdio::piped());
    // Nobody reads the pipe: its 64 KiB fill after a few hundred lines, and the
    // log queue (64 Ki lines) after about 66,000 requests.
    let mut stderr = server.stderr.take().expect("stderr");
    let deadline = Instant::now() + Duration::from_secs(240);
    let per_connection = 50_000;
    let connections: Vec<_> = (0..4)
        .map(|_| tokio::spawn(pipelined_health(addr, per_connection, deadline)))
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
    let client = reqwest::Client::new();
    let metrics = client
        .get(format!("http://{addr}/metrics"))
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .expect("metrics answer while the log is stuck")
        .text()
        .await
        .unwrap();
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
        let mut buf = vec![0u8; 64 * 1024];
        let mut text = Vec::new();
        while let Ok(n) = stderr.read(&mut buf) {
            if n == 0 {
                break;
            }
            text.extend_from_slice(&buf[..n]);
            if String::from_utf8_lossy(&text).contains("lines were dropped") {
                let _ = tx.send(String::from_utf8_lossy(&text).into_owned());
                break;
            }
        }
    });
    let report = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("no report of the dropped lines once stderr was read again");
    let line = report
        .lines()
        .find(|l| l.contains("lines were dropped"))
        .unwrap();
    assert!(line.contains("dropped_lines"), "{line}");
    let _ = server.kill();
    let _ = server.wait();
}
