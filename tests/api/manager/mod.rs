//! WhatsApp Manager: Change PIN and Set PIN with their form rules and the shared
//! PIN-guess budget, Turn off by emailed one-time link, and the outbox.

mod pin;
mod reset;
