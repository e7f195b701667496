//! The one raw HTTP/1.1 client over `TcpStream`, for what reqwest cannot do on
//! purpose: exact bytes on the wire, chunked bodies, lying framing, slow clients.
//! Responses come back as a [`Reply`], so the shared assertions apply to them.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::assert::Reply;

/// How long a raw exchange may take before the test fails.
pub const RAW_TIMEOUT: Duration = Duration::from_secs(10);

/// Request head for `method path` to `addr` with `Connection: close` and the given
/// extra header lines (each without CRLF), ending with the blank line.
pub fn head(method: &str, path: &str, addr: SocketAddr, headers: &[String]) -> Vec<u8> {
    let mut text = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for h in headers {
        text.push_str(h);
        text.push_str("\r\n");
    }
    text.push_str("\r\n");
    text.into_bytes()
}

/// Request head for `method path` to `addr` without `Connection: close`: the
/// connection stays open for further requests (HTTP/1.1 keep-alive), as a load
/// balancer's health checks keep one.
pub fn head_keep_alive(method: &str, path: &str, addr: SocketAddr, headers: &[String]) -> Vec<u8> {
    let mut text = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\n");
    for h in headers {
        text.push_str(h);
        text.push_str("\r\n");
    }
    text.push_str("\r\n");
    text.into_bytes()
}

/// Sends `request` on an open connection and reads one response
/// ([`RAW_TIMEOUT`] bound); panics when the server closes without one.
pub async fn exchange_on(stream: &mut TcpStream, request: &[u8]) -> Reply {
    stream.write_all(request).await.expect("write request");
    read_response(stream, RAW_TIMEOUT)
        .await
        .expect("connection closed before a response")
}

/// A chunked request: [`head`] plus `Transfer-Encoding: chunked`, then the parts as chunks.
pub fn chunked_request(
    method: &str,
    path: &str,
    addr: SocketAddr,
    headers: &[String],
    parts: &[&[u8]],
) -> Vec<u8> {
    let mut headers = headers.to_vec();
    headers.push("Transfer-Encoding: chunked".to_owned());
    let mut req = head(method, path, addr, &headers);
    for part in parts {
        req.extend_from_slice(&chunk(part));
    }
    req.extend_from_slice(b"0\r\n\r\n");
    req
}

/// One chunk of a chunked body: size line, data, CRLF.
pub fn chunk(data: &[u8]) -> Vec<u8> {
    let mut out = format!("{:x}\r\n", data.len()).into_bytes();
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
    out
}

/// Decodes a complete chunked body, or `None` if more bytes are needed.
fn decode_chunked(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n")?;
        let size_text = String::from_utf8_lossy(&data[..line_end]);
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16).expect("chunk size");
        data = &data[line_end + 2..];
        if size == 0 {
            // Trailers end with an empty line.
            return data.windows(2).any(|w| w == b"\r\n").then_some(out);
        }
        if data.len() < size + 2 {
            return None;
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

/// Header names (lower case) and raw values.
type Headers = Vec<(String, Vec<u8>)>;

/// The status, headers and where the body starts, once `buf` holds a whole head;
/// `None` before that, or when the status line is not HTTP.
fn parse_head(buf: &[u8]) -> Option<(u16, Headers, usize)> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let mut lines = buf[..end]
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let status_line = String::from_utf8_lossy(lines.next()?).into_owned();
    let status = status_line.split_whitespace().nth(1)?.parse().ok()?;
    let headers = lines
        .filter_map(|l| {
            let colon = l.iter().position(|&b| b == b':')?;
            let name = String::from_utf8_lossy(&l[..colon]).to_ascii_lowercase();
            Some((name, l[colon + 1..].trim_ascii().to_vec()))
        })
        .collect();
    Some((status, headers, end + 4))
}

/// The `Content-Length` of a parsed head, if it has a numeric one.
fn content_length(headers: &Headers) -> Option<usize> {
    headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| std::str::from_utf8(v).ok()?.trim().parse().ok())
}

/// Whether a parsed head declares a chunked body.
fn is_chunked(headers: &Headers) -> bool {
    headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.eq_ignore_ascii_case(b"chunked"))
}

/// Parses one complete response from `buf`, or `None` if it is not complete yet
/// (`eof`: no more bytes come, so a body without framing ends here).
pub fn parse(buf: &[u8], eof: bool) -> Option<Reply> {
    let (status, headers, start) = parse_head(buf)?;
    let rest = &buf[start..];
    let body = if let Some(len) = content_length(&headers) {
        rest.get(..len)?.to_vec()
    } else if is_chunked(&headers) {
        decode_chunked(rest)?
    } else if eof {
        rest.to_vec()
    } else {
        return None;
    };
    Some(Reply {
        status,
        headers,
        body,
    })
}

/// The first response in everything a connection sent before it closed, taking
/// what arrived of its body: a server may close (or reset) a connection it could
/// not frame, and `head_request` answers carry no body whatever they declare.
pub fn parse_first(buf: &[u8], head_request: bool) -> Option<Reply> {
    if let Some(reply) = parse(buf, true).filter(|_| !head_request) {
        return Some(reply);
    }
    let (status, headers, start) = parse_head(buf)?;
    let rest = &buf[start..];
    let body = if head_request {
        Vec::new()
    } else {
        rest[..content_length(&headers)
            .unwrap_or(rest.len())
            .min(rest.len())]
            .to_vec()
    };
    Some(Reply {
        status,
        headers,
        body,
    })
}

/// Reads one response from `stream`; `None` when the peer closed without a byte.
/// Panics on a truncated response, or when nothing conclusive happens within `limit`.
pub async fn read_response(stream: &mut TcpStream, limit: Duration) -> Option<Reply> {
    let read = async {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 8192];
        loop {
            if let Some(reply) = parse(&buf, false) {
                return Some(reply);
            }
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        if buf.is_empty() {
            return None;
        }
        let partial = String::from_utf8_lossy(&buf).into_owned();
        Some(parse(&buf, true).unwrap_or_else(|| panic!("truncated response: {partial}")))
    };
    tokio::time::timeout(limit, read)
        .await
        .unwrap_or_else(|_| panic!("the server neither answered nor closed within {limit:?}"))
}

/// Writes `request` verbatim to a fresh connection and reads one response
/// ([`RAW_TIMEOUT`] bound); panics when the server closes without one.
pub async fn exchange(addr: SocketAddr, request: &[u8]) -> Reply {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request).await.expect("write request");
    read_response(&mut stream, RAW_TIMEOUT)
        .await
        .expect("connection closed before a response")
}

/// Writes `request` to a fresh connection, closes the writing half and returns
/// every byte the server sent until it closed (empty when it closed without a
/// word), or `Err` when it did not close within `limit`. Write errors are
/// ignored: a server may answer and close before reading everything.
pub async fn send_and_read_to_end(
    addr: SocketAddr,
    request: &[u8],
    limit: Duration,
) -> Result<Vec<u8>, tokio::time::error::Elapsed> {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let exchange = async {
        let _ = stream.write_all(request).await;
        let _ = stream.shutdown().await;
        let mut buf = Vec::new();
        let _ = stream.read_to_end(&mut buf).await;
        buf
    };
    tokio::time::timeout(limit, exchange).await
}

/// Waits until the peer closes (read returns 0 or an error), bounded by `limit`;
/// bytes the server sends before closing are ignored.
pub async fn wait_for_close(
    stream: &mut (impl AsyncRead + Unpin),
    limit: Duration,
) -> Result<(), tokio::time::error::Elapsed> {
    let closed = async {
        let mut chunk = [0u8; 1024];
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(_) => continue,
            }
        }
    };
    tokio::time::timeout(limit, closed).await
}
