//! Changes as data. Every state change is a short list of `Op`s: they are applied
//! to memory and appended to the change log, so a change costs what it touches,
//! not the size of the state. Every op sets or deletes an absolute value, so
//! replaying a log record twice leaves the same state. Ops name numbers by ID; an
//! op about a number the state does not hold changes nothing. Ops are never
//! removed: a log written by an earlier release is replayed with them (`migrate`).

use serde::{Deserialize, Serialize};

use super::state::{
    AccountRecord, CloudTokenRecord, ResetLinkRecord, State, TokenRecord, TwoStepRecord, UserRecord,
};

/// One change to the state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    /// Creates or replaces a user.
    PutUser {
        /// Name.
        username: String,
        /// Record.
        user: UserRecord,
    },
    /// Removes a user and every token of theirs.
    DeleteUser {
        /// Name.
        username: String,
    },
    /// Adds a token.
    PutToken {
        /// Digest of the token (see `domain::users::tokens`).
        digest: String,
        /// Owner and expiry.
        token: TokenRecord,
    },
    /// Revokes a token.
    DeleteToken {
        /// Digest of the token (see `domain::users::tokens`).
        digest: String,
    },
    /// Schema 1: sets two-step verification of the (first) number. Read from old
    /// logs only; new changes name the number ([`Op::SetNumberTwoStep`]).
    SetTwoStep {
        /// New value.
        two_step: TwoStepRecord,
    },
    /// Schema 1: sets the registration status of the (first) number. Read from old
    /// logs only; new changes use [`Op::SetNumberRegistered`].
    SetAccount {
        /// New value.
        account: AccountRecord,
    },
    /// Sets a number's two-step verification.
    SetNumberTwoStep {
        /// The phone-number ID.
        number: String,
        /// New value.
        two_step: TwoStepRecord,
    },
    /// Sets a number's registration status.
    SetNumberRegistered {
        /// The phone-number ID.
        number: String,
        /// New value.
        registered: bool,
    },
    /// Adds a Cloud access token.
    PutCloudToken {
        /// Digest of the token (see `domain::users::tokens`).
        digest: String,
        /// Scopes and expiry.
        token: CloudTokenRecord,
    },
    /// Removes a Cloud access token.
    DeleteCloudToken {
        /// Digest of the token (see `domain::users::tokens`).
        digest: String,
    },
    /// Adds a WhatsApp Manager reset link.
    PutResetLink {
        /// Hex SHA-256 of the link's token.
        digest: String,
        /// Its number and expiry.
        link: ResetLinkRecord,
    },
    /// Removes a reset link (used, or expired).
    DeleteResetLink {
        /// Hex SHA-256 of the link's token.
        digest: String,
    },
    /// Replaces everything (sandbox reset).
    Replace {
        /// New state.
        state: Box<State>,
    },
}

impl State {
    /// Applies one op. `seq` is store bookkeeping and is kept as it is.
    pub fn apply(&mut self, op: &Op) {
        match op {
            Op::PutUser { username, user } => {
                self.users.insert(username.clone(), user.clone());
            }
            Op::DeleteUser { username } => {
                self.users.remove(username);
                self.tokens.retain(|_, t| &t.username != username);
            }
            Op::PutToken { digest, token } => {
                self.tokens.insert(digest.clone(), token.clone());
            }
            Op::DeleteToken { digest } => {
                self.tokens.remove(digest);
            }
            Op::SetTwoStep { two_step } => {
                let number = self.numbers[0].id.clone();
                self.set_two_step(&number, two_step);
            }
            Op::SetAccount { account } => self.numbers[0].registered = account.registered,
            Op::SetNumberTwoStep { number, two_step } => self.set_two_step(number, two_step),
            Op::SetNumberRegistered { number, registered } => {
                if let Some(n) = self.number_mut(number) {
                    n.registered = *registered;
                }
            }
            Op::PutCloudToken { digest, token } => {
                self.cloud_tokens.insert(digest.clone(), token.clone());
            }
            Op::DeleteCloudToken { digest } => {
                self.cloud_tokens.remove(digest);
            }
            Op::PutResetLink { digest, link } => {
                self.reset_links.insert(digest.clone(), link.clone());
            }
            Op::DeleteResetLink { digest } => {
                self.reset_links.remove(digest);
            }
            Op::Replace { state } => {
                let seq = self.seq;
                *self = (**state).clone();
                self.seq = seq;
            }
        }
    }
}

impl State {
    /// Sets `number`'s two-step. A change of two-step, through any flavor, voids
    /// the number's pending reset links (docs/behaviour.md#whatsapp-manager): a
    /// link mailed for the old PIN must not turn off the new one. Doing it here
    /// keeps every path that sets a PIN covered, replays included.
    fn set_two_step(&mut self, number: &str, two_step: &TwoStepRecord) {
        if let Some(n) = self.number_mut(number) {
            n.two_step = two_step.clone();
            if two_step.enabled {
                self.reset_links.retain(|_, l| l.number != number);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;
    use crate::store::state::{NumberRecord, Role};

    #[test]
    fn deleting_a_user_revokes_their_tokens_and_replaying_is_harmless() {
        let mut s = crate::store::state::test_state(false);
        let ops = vec![
            Op::PutUser {
                username: "alice".into(),
                user: UserRecord {
                    role: Role::User,
                    password_hash: Secret::new("a"),
                    password_change_required: false,
                },
            },
            Op::PutToken {
                digest: "d1".into(),
                token: TokenRecord {
                    username: "alice".into(),
                    expires_at: 9,
                    issued_ms: 0,
                },
            },
            Op::PutToken {
                digest: "d2".into(),
                token: TokenRecord {
                    username: "admin".into(),
                    expires_at: 9,
                    issued_ms: 0,
                },
            },
            Op::DeleteUser {
                username: "alice".into(),
            },
        ];
        for op in &ops {
            s.apply(op);
        }
        let once = s.clone();
        for op in &ops {
            s.apply(op);
        }
        assert_eq!(s, once);
        assert!(!s.users.contains_key("alice"));
        assert_eq!(s.tokens.keys().collect::<Vec<_>>(), vec!["d2"]);
    }

    #[test]
    fn number_ops_change_only_their_number_and_schema_1_ops_the_first() {
        let mut s = crate::store::state::test_state(false);
        s.numbers.push(NumberRecord::new("2", "+1 2", "Two", false));
        let on = TwoStepRecord {
            enabled: true,
            pin_hash: Some(Secret::new("p")),
            updated_at_ms: Some(1),
        };
        s.apply(&Op::SetNumberTwoStep {
            number: "2".into(),
            two_step: on.clone(),
        });
        s.apply(&Op::SetNumberRegistered {
            number: "2".into(),
            registered: true,
        });
        s.apply(&Op::SetNumberRegistered {
            number: "9".into(),
            registered: false,
        });
        assert_eq!(s.numbers[1].two_step, on);
        assert!(s.numbers[1].registered);
        assert!(!s.numbers[0].two_step.enabled);
        s.apply(&Op::SetTwoStep {
            two_step: on.clone(),
        });
        s.apply(&Op::SetAccount {
            account: AccountRecord { registered: false },
        });
        assert_eq!(s.numbers[0].two_step, on);
        assert!(!s.numbers[0].registered);
    }

    #[test]
    fn a_new_pin_voids_the_numbers_reset_links_only() {
        let mut s = crate::store::state::test_state(false);
        s.numbers.push(NumberRecord::new("2", "+1 2", "Two", false));
        let first = s.numbers[0].id.clone();
        for (digest, number) in [("a", first.as_str()), ("b", "2")] {
            s.apply(&Op::PutResetLink {
                digest: digest.into(),
                link: ResetLinkRecord {
                    number: number.into(),
                    expires_at: 9,
                },
            });
        }
        s.apply(&Op::SetNumberTwoStep {
            number: first.clone(),
            two_step: TwoStepRecord::default(),
        });
        assert_eq!(s.reset_links.len(), 2, "turning off keeps links");
        s.apply(&Op::SetNumberTwoStep {
            number: first,
            two_step: TwoStepRecord {
                enabled: true,
                pin_hash: Some(Secret::new("p")),
                updated_at_ms: Some(1),
            },
        });
        assert_eq!(s.reset_links.keys().collect::<Vec<_>>(), vec!["b"]);
        s.apply(&Op::DeleteResetLink { digest: "b".into() });
        assert!(s.reset_links.is_empty());
    }

    #[test]
    fn ops_round_trip_through_json() {
        let op = Op::SetNumberTwoStep {
            number: "1".into(),
            two_step: TwoStepRecord {
                enabled: true,
                pin_hash: Some(Secret::new("$argon2id$x")),
                updated_at_ms: Some(1),
            },
        };
        let text = serde_json::to_string(&op).unwrap();
        assert!(text.starts_with("{\"op\":\"set_number_two_step\""));
        assert_eq!(serde_json::from_str::<Op>(&text).unwrap(), op);
    }
}
