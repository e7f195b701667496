//! Constants the tests share: passwords, paths, the one cheap argon2 setting,
//! error details the server repeats, and the one code → title table.

/// The seed admin password (`auth.admin_password` default).
pub const SEED_PASSWORD: &str = "secret";
/// The password the helpers set at the admin's first login.
pub const ADMIN_PASSWORD: &str = "Sandbox-Pa55!";
/// A control-plane token for the tests that protect `/__sandbox` and `/metrics`.
pub const CONTROL_TOKEN: &str = "control-secret-123";
/// Path of the two-step endpoint.
pub const TWO_STEP: &str = "/v1/settings/account/two-step";
/// The JSON media type.
pub const JSON: &str = "application/json";
/// The form media type.
pub const FORM: &str = "application/x-www-form-urlencoded";
/// The default `api.version`, shown as `meta.version`.
pub const API_VERSION: &str = "v2.45.1";

/// argon2 memory for every test server (spawned or in-process): cheap, so the
/// suite stays fast. Tests of argon2 itself override it.
pub const CHEAP_ARGON2_MEMORY_KIB: u32 = 64;
/// argon2 iterations for every test server.
pub const CHEAP_ARGON2_ITERATIONS: u32 = 1;

/// Details of a 401 / 1005 on the API and the control plane.
pub const NO_CREDENTIALS: &str = "Missing or invalid authentication credentials";
/// Details of a 403 / 1005 for a caller without the admin role.
pub const NO_PERMISSION: &str = "User doesn't have permission";
/// Details of a 404 / 1006 for an unknown path.
pub const NOT_FOUND: &str = "URL path not found";
/// Details of a 404 / 1006 for an unknown user.
pub const NO_SUCH_USER: &str = "User does not exist";
/// Details of a 403 / 1005 for a non-admin reading another user: the real
/// server's own text, not the generic wrong-role one.
pub const CANNOT_READ_OTHER: &str = "Regular user cannot read other user information";
/// Details of a 403 / 1005 for a non-admin changing another user.
pub const CANNOT_MODIFY_OTHER: &str = "Regular user cannot modify other user";
/// Details of a 401 / 1024 when the seed password must be changed first.
pub const MUST_CHANGE: &str = "Password must be changed";
/// Details of a 429 / 1015 from the failed-login limiter.
pub const LOGIN_LIMITED: &str = "Rate limiting exceeded on bad login attempts";
/// Details of a 400 / 1009 for a password that breaks the complexity rule.
pub const PASSWORD_RULE: &str = "Password doesn't meet complexity requirements: length between 8 and 64 characters, at least 1 each of upper-case character, lower-case character, digit, special character (!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~) are required";
/// Details of a 503 / 1016 when the argon2 queue is full.
pub const ARGON2_BUSY: &str = "Too many requests are waiting for password hashing; retry later";
/// Details of a 400 / 1008 without a PIN.
pub const MISSING_PIN: &str = "Missing mandatory parameter 'pin'";
/// Details of a 400 / 1009 for a falsy PIN.
pub const EMPTY_PIN: &str = "Pin must not be empty";
/// Details of a 400 / 1009 for a PIN that is not six digits.
pub const BAD_PIN: &str = "Pin must be a 6-digit number";
/// How the details of a 400 / 1025 start; a reason follows.
pub const DECODE_PREFIX: &str = "Unable to decode the request: ";

/// The fixed title of every error code the server uses.
pub const TITLES: [(i64, &str); 11] = [
    (1004, "Resource already exists"),
    (1005, "Access denied"),
    (1006, "Resource not found"),
    (1008, "Required parameter is missing"),
    (1009, "Parameter value is not valid"),
    (1010, "Parameter is not required"),
    (1014, "Internal error"),
    (1015, "Too many requests"),
    (1016, "System overloaded"),
    (1024, "Password change required"),
    (1025, "Request is not valid"),
];

/// The fixed title of `code`, if the table knows it.
pub fn title(code: i64) -> Option<&'static str> {
    TITLES.iter().find(|(c, _)| *c == code).map(|(_, t)| *t)
}

/// The fixed title of `code`; panics for a code outside the table.
#[track_caller]
pub fn title_of(code: i64) -> &'static str {
    title(code).unwrap_or_else(|| panic!("no title known for code {code}"))
}
