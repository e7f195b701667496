//! The Manager's outbox (docs/behaviour.md#whatsapp-manager): every email the
//! sandbox "sends", kept in memory, newest last, capped at
//! `manager.outbox_capacity` (the oldest go first). Tests read it instead of a
//! mailbox; SMTP delivery, when configured, is recorded on the email.

use std::collections::VecDeque;
use std::sync::Mutex;

/// One email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    /// Recipient (`manager.business_email`).
    pub to: String,
    /// Subject line.
    pub subject: String,
    /// Plain-text body (it contains the link).
    pub text: String,
    /// The reset link, absolute.
    pub link: String,
    /// When it was sent, Unix milliseconds.
    pub sent_at_ms: i64,
    /// SMTP delivery: `None` when no SMTP server is configured.
    pub smtp: Option<SmtpStatus>,
}

/// How SMTP delivery of an email went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SmtpStatus {
    /// Not finished yet.
    Pending,
    /// The server accepted it.
    Delivered,
    /// It failed; the reason names the server, never the email's link.
    Failed(String),
}

/// The bounded list of sent emails.
#[derive(Debug)]
pub struct Outbox {
    /// Emails with their sequence number, oldest first.
    emails: Mutex<VecDeque<(u64, Email)>>,
    /// The cap.
    capacity: usize,
    /// The next sequence number (identifies an email for a later status update).
    next: Mutex<u64>,
}

impl Outbox {
    /// An empty outbox keeping at most `capacity` emails (at least one).
    pub fn new(capacity: usize) -> Outbox {
        Outbox {
            emails: Mutex::new(VecDeque::new()),
            capacity: capacity.max(1),
            next: Mutex::new(0),
        }
    }

    /// Adds `email` as the newest, dropping the oldest over the cap; returns its
    /// sequence number.
    pub fn push(&self, email: Email) -> u64 {
        let id = {
            let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
            *next += 1;
            *next
        };
        let mut emails = self.emails.lock().unwrap_or_else(|e| e.into_inner());
        while emails.len() >= self.capacity {
            emails.pop_front();
        }
        emails.push_back((id, email));
        id
    }

    /// Records the SMTP outcome of email `id`, if it is still kept.
    pub fn set_smtp(&self, id: u64, status: SmtpStatus) {
        let mut emails = self.emails.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, email)) = emails.iter_mut().find(|(i, _)| *i == id) {
            email.smtp = Some(status);
        }
    }

    /// Every kept email, oldest first.
    pub fn list(&self) -> Vec<Email> {
        let emails = self.emails.lock().unwrap_or_else(|e| e.into_inner());
        emails.iter().map(|(_, e)| e.clone()).collect()
    }

    /// Forgets every email.
    pub fn clear(&self) {
        self.emails
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}

impl crate::domain::control::ResetHook for Outbox {
    /// A sandbox reset voids every pending link, so the emails carrying them go too.
    fn reset(&self, _options: crate::domain::control::ResetOptions) {
        self.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email(n: i64) -> Email {
        Email {
            to: "a@b".into(),
            subject: "s".into(),
            text: "t".into(),
            link: "l".into(),
            sent_at_ms: n,
            smtp: None,
        }
    }

    #[test]
    fn keeps_the_newest_up_to_the_cap_newest_last() {
        let outbox = Outbox::new(2);
        outbox.push(email(1));
        let two = outbox.push(email(2));
        outbox.push(email(3));
        let kept: Vec<i64> = outbox.list().iter().map(|e| e.sent_at_ms).collect();
        assert_eq!(kept, vec![2, 3]);
        outbox.set_smtp(two, SmtpStatus::Delivered);
        assert_eq!(outbox.list()[0].smtp, Some(SmtpStatus::Delivered));
        outbox.clear();
        assert!(outbox.list().is_empty());
    }
}
