//! Changes as data. Every state change is a short list of `Op`s: they are applied
//! to memory and appended to the change log, so a change costs what it touches,
//! not the size of the state. Every op sets or deletes an absolute value, so
//! replaying a log record twice leaves the same state.

use serde::{Deserialize, Serialize};

use super::state::{AccountRecord, State, TokenRecord, TwoStepRecord, UserRecord};

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
        /// Hex SHA-256 of the token.
        digest: String,
        /// Owner and expiry.
        token: TokenRecord,
    },
    /// Revokes a token.
    DeleteToken {
        /// Hex SHA-256 of the token.
        digest: String,
    },
    /// Sets two-step verification.
    SetTwoStep {
        /// New value.
        two_step: TwoStepRecord,
    },
    /// Sets the registration status.
    SetAccount {
        /// New value.
        account: AccountRecord,
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
            Op::SetTwoStep { two_step } => self.two_step = two_step.clone(),
            Op::SetAccount { account } => self.account = account.clone(),
            Op::Replace { state } => {
                let seq = self.seq;
                *self = (**state).clone();
                self.seq = seq;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;
    use crate::store::state::Role;

    #[test]
    fn deleting_a_user_revokes_their_tokens_and_replaying_is_harmless() {
        let mut s = State::seed(Secret::new("h"), false, true);
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
    fn ops_round_trip_through_json() {
        let op = Op::SetTwoStep {
            two_step: TwoStepRecord {
                enabled: true,
                pin_hash: Some(Secret::new("$argon2id$x")),
                updated_at_ms: Some(1),
            },
        };
        let text = serde_json::to_string(&op).unwrap();
        assert!(text.starts_with("{\"op\":\"set_two_step\""));
        assert_eq!(serde_json::from_str::<Op>(&text).unwrap(), op);
    }
}
