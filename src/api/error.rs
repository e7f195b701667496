//! Errors at the HTTP edge: the one table of WhatsApp error codes ([`Code`]: each
//! code's title and default status, docs/on-premises.md#error-codes), the edge's error type
//! [`ApiError`], and how each domain error becomes one (the `From` impls, so
//! handlers use `?`). The envelope around an error is rendered by `envelope`.

use std::borrow::Cow;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::envelope::Render;
use crate::domain::pin::PinError;
use crate::domain::registration::RegistrationError;
use crate::domain::two_step::TwoStepError;
use crate::domain::users::UserError;
use crate::domain::Unavailable;

/// A WhatsApp error code the server emits. Injected faults may carry any other
/// number; those render with the title "Generic error".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u16)]
pub enum Code {
    /// 1004, 409.
    ResourceExists = 1004,
    /// 1005, 401 (403 when authenticated but not allowed).
    AccessDenied = 1005,
    /// 1006, 404.
    NotFound = 1006,
    /// 1008, 400.
    MissingParameter = 1008,
    /// 1009, 400 (413 for a body over the limit).
    InvalidParameter = 1009,
    /// 1010, 400.
    UnexpectedParameter = 1010,
    /// 1014, 500 (405 for a wrong method, 408 for a timeout).
    Internal = 1014,
    /// 1015, 429.
    TooManyRequests = 1015,
    /// 1016, 503.
    Overloaded = 1016,
    /// 1024, 401.
    PasswordChangeRequired = 1024,
    /// 1025, 400.
    InvalidRequest = 1025,
}

impl Code {
    /// Every code, in numeric order.
    pub const ALL: [Code; 11] = [
        Code::ResourceExists,
        Code::AccessDenied,
        Code::NotFound,
        Code::MissingParameter,
        Code::InvalidParameter,
        Code::UnexpectedParameter,
        Code::Internal,
        Code::TooManyRequests,
        Code::Overloaded,
        Code::PasswordChangeRequired,
        Code::InvalidRequest,
    ];

    /// The table: the default status (docs/behaviour.md#error-codes-and-statuses) and the fixed title of each code.
    const fn entry(self) -> (StatusCode, &'static str) {
        match self {
            Code::ResourceExists => (StatusCode::CONFLICT, "Resource already exists"),
            Code::AccessDenied => (StatusCode::UNAUTHORIZED, "Access denied"),
            Code::NotFound => (StatusCode::NOT_FOUND, "Resource not found"),
            Code::MissingParameter => (StatusCode::BAD_REQUEST, "Required parameter is missing"),
            Code::InvalidParameter => (StatusCode::BAD_REQUEST, "Parameter value is not valid"),
            Code::UnexpectedParameter => (StatusCode::BAD_REQUEST, "Parameter is not required"),
            Code::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "Internal error"),
            Code::TooManyRequests => (StatusCode::TOO_MANY_REQUESTS, "Too many requests"),
            Code::Overloaded => (StatusCode::SERVICE_UNAVAILABLE, "System overloaded"),
            Code::PasswordChangeRequired => (StatusCode::UNAUTHORIZED, "Password change required"),
            Code::InvalidRequest => (StatusCode::BAD_REQUEST, "Request is not valid"),
        }
    }

    /// The number on the wire.
    pub const fn number(self) -> u16 {
        self as u16
    }

    /// The code with this number, if the server knows it.
    pub fn from_number(number: u16) -> Option<Code> {
        Code::ALL.into_iter().find(|c| c.number() == number)
    }

    /// The status the server answers this code with, unless a case says otherwise.
    pub const fn status(self) -> StatusCode {
        self.entry().0
    }

    /// The fixed title.
    pub const fn title(self) -> &'static str {
        self.entry().1
    }

    /// The code the server pairs with `status` (an injected fault that names only
    /// a status gets it): the one the server uses with that status (docs/behaviour.md#wire-conventions
    /// table), else 1014.
    pub fn for_status(status: u16) -> Code {
        match status {
            400 | 413 => Code::InvalidParameter,
            401 | 403 => Code::AccessDenied,
            404 => Code::NotFound,
            409 => Code::ResourceExists,
            429 => Code::TooManyRequests,
            503 => Code::Overloaded,
            _ => Code::Internal,
        }
    }
}

/// The title of code `number`; "Generic error" for a number the server does not know.
pub fn title(number: u16) -> &'static str {
    Code::from_number(number).map_or("Generic error", Code::title)
}

/// The default status of code `number`; 500 for a number the server does not know.
pub fn default_status(number: u16) -> StatusCode {
    Code::from_number(number).map_or(StatusCode::INTERNAL_SERVER_ERROR, Code::status)
}

/// The one error type of the HTTP edge: a status, a WhatsApp code and optional details.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// WhatsApp error code (a number: injected faults may carry any).
    pub code: u16,
    /// Details, omitted from the body when `None`.
    pub details: Option<Cow<'static, str>>,
}

impl ApiError {
    /// `code` with its default status and the given details.
    pub fn new(code: Code, details: impl Into<Cow<'static, str>>) -> Self {
        ApiError {
            status: code.status(),
            code: code.number(),
            details: Some(details.into()),
        }
    }

    /// The same error with another status (the table's default does not fit).
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    /// 400 / 1008 for a missing parameter.
    pub fn missing(param: &str) -> Self {
        Self::new(
            Code::MissingParameter,
            format!("Missing mandatory parameter '{param}'"),
        )
    }

    /// 400 / 1009 with the given details.
    pub fn invalid(details: impl Into<Cow<'static, str>>) -> Self {
        Self::new(Code::InvalidParameter, details)
    }

    /// 401 / 1005: no, malformed, unknown, expired or revoked credentials.
    pub fn unauthenticated() -> Self {
        Self::new(
            Code::AccessDenied,
            "Missing or invalid authentication credentials",
        )
    }

    /// 403 / 1005 with the given details.
    pub fn forbidden(details: &'static str) -> Self {
        Self::new(Code::AccessDenied, details).with_status(StatusCode::FORBIDDEN)
    }

    /// 404 / 1006 for a path no route serves.
    pub fn path_not_found() -> Self {
        Self::new(Code::NotFound, "URL path not found")
    }

    /// 503 / 1016: the shared state's database cannot be reached right now (the
    /// reason is logged and shown by `/__sandbox/health`, not sent here).
    pub fn state_unreachable() -> ApiError {
        ApiError::new(
            Code::Overloaded,
            "The sandbox's state database is unreachable; retry later",
        )
    }

    /// 500 / 1014 without details: the cause is logged, never sent.
    pub fn internal() -> Self {
        ApiError {
            status: Code::Internal.status(),
            code: Code::Internal.number(),
            details: None,
        }
    }

    /// 408 / 1014 when the request outlived `server.request_timeout_secs`.
    pub fn timed_out() -> Self {
        Self::new(Code::Internal, "Request timed out").with_status(StatusCode::REQUEST_TIMEOUT)
    }

    /// 413 / 1009 for a body over the limit.
    pub fn too_large(limit: u64) -> Self {
        Self::new(
            Code::InvalidParameter,
            format!("Request body exceeds {limit} bytes"),
        )
        .with_status(StatusCode::PAYLOAD_TOO_LARGE)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut resp = self.status.into_response();
        resp.extensions_mut().insert(Render::Error {
            code: self.code,
            details: self.details,
        });
        resp
    }
}

impl From<Unavailable> for ApiError {
    fn from(e: Unavailable) -> Self {
        match e {
            Unavailable::Overloaded => ApiError::new(
                Code::Overloaded,
                "Too many requests are waiting for password hashing; retry later",
            ),
            // The one place the shared state's outage becomes a wire error: 503 /
            // 1016 for the On-Premises flavor. The Cloud edge maps the same
            // `Unavailable::StateUnreachable` to 503 / 133004 in its own `From`.
            Unavailable::StateUnreachable(why) => {
                tracing::warn!(reason = %why, "state backend unreachable");
                ApiError::state_unreachable()
            }
            other => {
                tracing::error!(error = %other, "request failed");
                ApiError::internal()
            }
        }
    }
}

impl From<UserError> for ApiError {
    fn from(e: UserError) -> Self {
        match e {
            // `login` answers this with the real server's empty-bodied 401 instead.
            UserError::BadCredentials => ApiError::unauthenticated(),
            UserError::RateLimited => ApiError::new(
                Code::TooManyRequests,
                "Rate limiting exceeded on bad login attempts",
            ),
            UserError::PasswordChangeRequired => {
                ApiError::new(Code::PasswordChangeRequired, "Password must be changed")
            }
            UserError::WeakPassword(w) => ApiError::invalid(w.to_string()),
            UserError::BadUsername(b) => ApiError::invalid(b.to_string()),
            UserError::UserExists => ApiError::new(Code::ResourceExists, "User already exists"),
            UserError::UserNotFound => ApiError::new(Code::NotFound, "User does not exist"),
            UserError::AdminUndeletable => ApiError::invalid("Admin user cannot be deleted"),
            UserError::Unavailable(u) => u.into(),
        }
    }
}

impl From<RegistrationError> for ApiError {
    fn from(e: RegistrationError) -> Self {
        match e {
            RegistrationError::PinMissing => ApiError::missing("pin"),
            RegistrationError::PinFormat(p) => p.into(),
            RegistrationError::PinMismatch | RegistrationError::BadCode => {
                ApiError::invalid(e.to_string())
            }
            RegistrationError::TooManyGuesses { .. } => {
                ApiError::new(Code::TooManyRequests, e.to_string())
            }
            RegistrationError::Unavailable(u) => u.into(),
            // The On-Premises API acts on the first number only, which always exists
            // and has no register/deregister budget.
            RegistrationError::UnknownNumber | RegistrationError::TooManyRegistrations => {
                tracing::error!(error = %e, "unexpected registration error");
                ApiError::internal()
            }
        }
    }
}

impl From<TwoStepError> for ApiError {
    fn from(e: TwoStepError) -> Self {
        match e {
            TwoStepError::Unavailable(u) => u.into(),
            // The first number always exists.
            TwoStepError::UnknownNumber => {
                tracing::error!("the first number is missing");
                ApiError::internal()
            }
        }
    }
}

impl From<PinError> for ApiError {
    fn from(e: PinError) -> Self {
        ApiError::invalid(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_round_trip_and_unknown_codes_are_generic() {
        for code in Code::ALL {
            assert_eq!(Code::from_number(code.number()), Some(code));
        }
        assert_eq!(title(1014), "Internal error");
        assert_eq!(title(7), "Generic error");
        assert_eq!(default_status(7), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(default_status(1024), StatusCode::UNAUTHORIZED);
    }

    #[test]
    fn the_code_for_a_status_has_that_status() {
        for code in Code::ALL {
            let status = code.status();
            assert_eq!(
                Code::for_status(status.as_u16()).status(),
                status,
                "{code:?}"
            );
        }
        assert_eq!(Code::for_status(403), Code::AccessDenied);
        assert_eq!(Code::for_status(413), Code::InvalidParameter);
        assert_eq!(Code::for_status(502), Code::Internal);
    }
}
