//! Delivery of the Manager's emails over SMTP when `manager.smtp_url` is set
//! (docs/behaviour.md#whatsapp-manager): a minimal client over one TCP
//! connection (EHLO, MAIL FROM, RCPT TO, DATA, QUIT; no TLS, no auth: it is for a
//! team's mail catcher). Run off the request path; the outcome is recorded on
//! the email in the outbox and a failure is logged, never answered.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::domain::manager::outbox::{Email, Outbox, SmtpStatus};

/// The whole conversation's time limit.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// The sender address.
pub const FROM: &str = "security@wa-twostep.invalid";

/// Starts delivering email `id` of `outbox` to the SMTP server at `addr` (`host:port`).
pub fn spawn(addr: String, outbox: Arc<Outbox>, id: u64, email: Email) {
    outbox.set_smtp(id, SmtpStatus::Pending);
    tokio::spawn(async move {
        let outcome = tokio::time::timeout(TIMEOUT, send(&addr, &email))
            .await
            .unwrap_or_else(|_| Err("timed out".to_owned()));
        match outcome {
            Ok(()) => outbox.set_smtp(id, SmtpStatus::Delivered),
            Err(why) => {
                let why = format!("smtp {addr}: {why}");
                tracing::warn!(reason = %why, "email not delivered over SMTP");
                outbox.set_smtp(id, SmtpStatus::Failed(why));
            }
        }
    });
}

/// Reads one reply (its last line has a space after the code); checks its class.
async fn expect(
    reader: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
    want: char,
) -> Result<(), String> {
    loop {
        let mut line = String::new();
        let n = reader
            .read_line(&mut line)
            .await
            .map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            return Err("connection closed".to_owned());
        }
        let last = line.as_bytes().get(3) != Some(&b'-');
        if last {
            return if line.starts_with(want) {
                Ok(())
            } else {
                Err(format!("server said {}", line.trim_end()))
            };
        }
    }
}

/// The message: headers, a blank line, the text with dot-stuffing and CRLFs.
fn message(email: &Email) -> String {
    let mut body = String::new();
    for line in email.text.lines() {
        if line.starts_with('.') {
            body.push('.');
        }
        body.push_str(line);
        body.push_str("\r\n");
    }
    format!(
        "From: WhatsApp Manager (sandbox) <{FROM}>\r\nTo: <{}>\r\nSubject: {}\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}.\r\n",
        email.to, email.subject
    )
}

/// One SMTP conversation.
async fn send(addr: &str, email: &Email) -> Result<(), String> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    expect(&mut reader, '2').await?;
    let mut say = async |line: String, want: char| -> Result<(), String> {
        write
            .write_all(line.as_bytes())
            .await
            .map_err(|e| format!("send: {e}"))?;
        expect(&mut reader, want).await
    };
    say("EHLO wa-twostep\r\n".to_owned(), '2').await?;
    say(format!("MAIL FROM:<{FROM}>\r\n"), '2').await?;
    say(format!("RCPT TO:<{}>\r\n", email.to), '2').await?;
    say("DATA\r\n".to_owned(), '3').await?;
    say(message(email), '2').await?;
    // The message is accepted; a failed QUIT changes nothing.
    let _ = say("QUIT\r\n".to_owned(), '2').await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_is_dot_stuffed_with_crlf_line_ends() {
        let email = Email {
            to: "a@b.example".into(),
            subject: "S".into(),
            text: "one\n.two\n".into(),
            link: String::new(),
            sent_at_ms: 0,
            smtp: None,
        };
        let m = message(&email);
        assert!(m.contains("To: <a@b.example>\r\nSubject: S\r\n"));
        assert!(m.ends_with("\r\n\r\none\r\n..two\r\n.\r\n"), "{m:?}");
    }
}
