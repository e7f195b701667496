//! WhatsApp Manager: Change PIN and Set PIN with their form rules and the shared
//! PIN-guess budget, Turn off by emailed one-time link, and the outbox; the
//! HTML pages, their login and CSRF tokens; the `security` webhook; SMTP delivery.

mod login;
mod pages;
mod pin;
mod reset;
mod smtp;
mod webhooks;
