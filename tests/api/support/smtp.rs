//! A minimal SMTP server on 127.0.0.1 for the email tests: it accepts every
//! command and hands each message (envelope recipient and data) to the test.

use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// One message received.
#[derive(Debug, Clone)]
pub struct Mail {
    /// The `RCPT TO` address.
    pub rcpt: String,
    /// The data, without the final dot line.
    pub data: String,
}

/// A running server.
pub struct SmtpServer {
    /// `smtp://127.0.0.1:PORT`.
    pub url: String,
    /// Messages as they arrive.
    pub mails: mpsc::UnboundedReceiver<Mail>,
}

impl SmtpServer {
    /// Starts the server.
    pub async fn start() -> SmtpServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("smtp://{}", listener.local_addr().unwrap());
        let (tx, mails) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let tx = tx.clone();
                tokio::spawn(async move {
                    let (read, mut write) = stream.into_split();
                    let mut reader = BufReader::new(read);
                    let _ = write.write_all(b"220 test ESMTP\r\n").await;
                    let mut rcpt = String::new();
                    let mut line = String::new();
                    while reader.read_line(&mut line).await.unwrap_or(0) > 0 {
                        let upper = line.to_ascii_uppercase();
                        let reply: &[u8] = if upper.starts_with("EHLO") {
                            b"250-test\r\n250 8BITMIME\r\n"
                        } else if upper.starts_with("RCPT TO:") {
                            rcpt = line[8..].trim().trim_matches(['<', '>']).to_owned();
                            b"250 ok\r\n"
                        } else if upper.starts_with("DATA") {
                            let _ = write.write_all(b"354 go on\r\n").await;
                            let mut data = String::new();
                            let mut l = String::new();
                            while reader.read_line(&mut l).await.unwrap_or(0) > 0 {
                                if l == ".\r\n" {
                                    break;
                                }
                                data.push_str(&l);
                                l.clear();
                            }
                            let _ = tx.send(Mail {
                                rcpt: rcpt.clone(),
                                data,
                            });
                            b"250 queued\r\n"
                        } else if upper.starts_with("QUIT") {
                            let _ = write.write_all(b"221 bye\r\n").await;
                            break;
                        } else {
                            b"250 ok\r\n"
                        };
                        let _ = write.write_all(reply).await;
                        line.clear();
                    }
                });
            }
        });
        SmtpServer { url, mails }
    }

    /// The next message, within 10 seconds.
    pub async fn next(&mut self) -> Mail {
        tokio::time::timeout(Duration::from_secs(10), self.mails.recv())
            .await
            .expect("a mail within 10 s")
            .expect("server running")
    }
}
