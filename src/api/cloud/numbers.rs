//! The phone-number node (docs/behaviour.md#cloud-endpoints): `POST
//! /{version}/{PHONE_NUMBER_ID}` sets or replaces its PIN (no old PIN needed,
//! docs/cloud.md#setting-the-pin), `GET` reads its fields, and `GET
//! /{version}/{WABA_ID}/phone_numbers` lists the WABA's numbers
//! (docs/cloud.md#reading-a-phone-number).

use axum::response::Response;
use base64::Engine;
use serde_json::Value;

use super::envelope::{Ctx, GraphError};
use super::params::Params;
use super::OpError;
use crate::api::AppState;
use crate::domain::numbers::{Number, PhoneNumberId};

/// The fields a number answers with when `fields` is not given, in the order of
/// Meta's documented answer.
const DEFAULT_FIELDS: [&str; 5] = [
    "code_verification_status",
    "display_phone_number",
    "id",
    "quality_rating",
    "verified_name",
];

/// A field's value, borrowed from the number or fixed.
enum FieldValue<'a> {
    /// A JSON string.
    Text(&'a str),
    /// A JSON boolean.
    Flag(bool),
    /// JSON written as it is.
    Raw(&'static str),
}

/// A field's value on `number`; `None` for a field the node does not have.
fn field<'a>(number: &'a Number, name: &str) -> Option<FieldValue<'a>> {
    use FieldValue::{Flag, Raw, Text};
    let registered = number.registered;
    let pick = |yes: &'static str, no: &'static str| Text(if registered { yes } else { no });
    Some(match name {
        "id" => Text(number.id.as_str()),
        "display_phone_number" => Text(&number.display_phone_number),
        "verified_name" => Text(&number.verified_name),
        "code_verification_status" => pick("VERIFIED", "NOT_VERIFIED"),
        "quality_rating" => Text("GREEN"),
        "is_pin_enabled" => Flag(number.two_step_enabled),
        "status" => pick("CONNECTED", "DISCONNECTED"),
        "platform_type" => pick("CLOUD_API", "NOT_APPLICABLE"),
        "account_mode" => Text("SANDBOX"),
        "name_status" => Text("AVAILABLE_WITHOUT_REVIEW"),
        "throughput" => Raw(r#"{"level":"STANDARD"}"#),
        "messaging_limit_tier" => Text("TIER_250"),
        "is_official_business_account" | "is_on_biz_app" | "is_preverified_number" => Flag(false),
        _ => return None,
    })
}

/// The fields asked for by `?fields=a,b` (in that order, `id` last unless named),
/// or the default fields.
fn selected(params: Params<'_>) -> Result<Vec<String>, GraphError> {
    let Some(list) = params.text("fields") else {
        return Ok(Vec::new());
    };
    let mut out: Vec<String> = Vec::new();
    for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        if field_known(name) {
            if !out.iter().any(|seen| seen == name) {
                out.push(name.to_owned());
            }
        } else {
            return Err(GraphError::nonexisting_field(name));
        }
    }
    if !out.iter().any(|f| f == "id") {
        out.push("id".to_owned());
    }
    Ok(out)
}

/// Fields of the real node that a sandbox number has no value for: asked for,
/// they are left out of the answer, as the Graph API leaves out a field without a
/// value, rather than refused (clients such as pywa ask for all of them).
const VALUELESS: [&str; 13] = [
    "conversational_automation",
    "quality_score",
    "webhook_configuration",
    "new_name_status",
    "search_visibility",
    "eligibility_for_api_business_global_search",
    "health_status",
    "certificate",
    "new_certificate",
    "last_onboarded_time",
    "country_code",
    "country_dial_code",
    "whatsapp_business_manager_messaging_limit",
];

fn field_known(name: &str) -> bool {
    const ALL: [&str; 15] = [
        "id",
        "display_phone_number",
        "verified_name",
        "code_verification_status",
        "quality_rating",
        "is_pin_enabled",
        "status",
        "platform_type",
        "account_mode",
        "name_status",
        "throughput",
        "messaging_limit_tier",
        "is_official_business_account",
        "is_on_biz_app",
        "is_preverified_number",
    ];
    ALL.contains(&name) || VALUELESS.contains(&name)
}

/// `number` with `fields` (none: the default fields), as a JSON object in that
/// order. Written straight into the output: the same object built as a
/// `serde_json::Value` first cost more than the rest of the request.
fn object(number: &Number, fields: &[String]) -> String {
    let mut out = String::with_capacity(192);
    out.push('{');
    let mut member = |name: &str| {
        let Some(value) = field(number, name) else {
            return;
        };
        if out.len() > 1 {
            out.push(',');
        }
        // A field name is one of ours (`field` knows it): nothing to escape.
        out.push('"');
        out.push_str(name);
        out.push_str("\":");
        match value {
            FieldValue::Text(text) => push_json_str(&mut out, text),
            FieldValue::Flag(flag) => out.push_str(if flag { "true" } else { "false" }),
            FieldValue::Raw(json) => out.push_str(json),
        }
    };
    if fields.is_empty() {
        DEFAULT_FIELDS.iter().for_each(|name| member(name));
    } else {
        fields.iter().for_each(|name| member(name));
    }
    out.push('}');
    out
}

/// `text` as a JSON string, escaped as serde_json escapes it.
fn push_json_str(out: &mut String, text: &str) {
    if text.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push('"');
        out.push_str(text);
        out.push('"');
    } else {
        // Serializing a `&str` cannot fail.
        out.push_str(&serde_json::to_string(text).unwrap_or_default());
    }
}

/// `POST /{version}/{PHONE_NUMBER_ID}` `{"pin"}`: two-step on with that PIN.
pub async fn set_pin(
    state: &AppState,
    ctx: &Ctx,
    number: &PhoneNumberId,
    params: Params<'_>,
) -> Result<Response, OpError> {
    let pin = params.pin()?;
    state.two_step.enable(number, pin).await?;
    Ok(ctx.success())
}

/// `GET /{version}/{PHONE_NUMBER_ID}?fields=…`.
pub fn read(
    state: &AppState,
    ctx: &Ctx,
    number: &PhoneNumberId,
    params: Params<'_>,
) -> Result<Response, GraphError> {
    let fields = selected(params)?;
    let number = state
        .numbers
        .get(number.as_str())
        .ok_or_else(|| GraphError::unsupported("get", Some(number.as_str())))?;
    Ok(ctx.ok(object(&number, &fields).into_bytes()))
}

/// An opaque paging cursor for the number at `id`.
fn cursor(id: &PhoneNumberId) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(id.as_str())
}

/// `GET /{version}/{WABA_ID}/phone_numbers`: every number on one page.
pub fn list(state: &AppState, ctx: &Ctx, params: Params<'_>) -> Result<Response, GraphError> {
    let fields = selected(params)?;
    let numbers = state.numbers.list();
    let data: Vec<String> = numbers.iter().map(|n| object(n, &fields)).collect();
    let (before, after) = match (numbers.first(), numbers.last()) {
        (Some(first), Some(last)) => (cursor(&first.id), cursor(&last.id)),
        _ => (String::new(), String::new()),
    };
    let body = format!(
        "{{\"data\":[{}],\"paging\":{{\"cursors\":{{\"before\":{},\"after\":{}}}}}}}",
        data.join(","),
        Value::from(before),
        Value::from(after)
    );
    Ok(ctx.ok(body.into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn number() -> Number {
        Number {
            id: PhoneNumberId::parse("42").unwrap(),
            display_phone_number: "+1 5550100".into(),
            verified_name: "Shop \"A\"".into(),
            registered: true,
            two_step_enabled: false,
            two_step_updated_at_ms: None,
        }
    }

    #[test]
    fn fields_render_in_the_order_asked_with_id_last() {
        let text = object(
            &number(),
            &["status".into(), "is_pin_enabled".into(), "id".into()],
        );
        assert_eq!(
            text,
            r#"{"status":"CONNECTED","is_pin_enabled":false,"id":"42"}"#
        );
        let text = object(&number(), &["verified_name".into()]);
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["verified_name"], "Shop \"A\"");
        for f in DEFAULT_FIELDS {
            assert!(field_known(f) && field(&number(), f).is_some(), "{f}");
        }
        for f in VALUELESS {
            assert!(field_known(f) && field(&number(), f).is_none(), "{f}");
        }
        let text = object(&number(), &["certificate".into(), "id".into()]);
        assert_eq!(text, r#"{"id":"42"}"#);
        // No `fields`: the default fields in Meta's order, escaped as serde_json does.
        let text = object(&number(), &[]);
        assert_eq!(
            text,
            r#"{"code_verification_status":"VERIFIED","display_phone_number":"+1 5550100","id":"42","quality_rating":"GREEN","verified_name":"Shop \"A\""}"#
        );
        let odd = "tab\there \u{1} \\ é \u{7f}";
        let mut out = String::new();
        push_json_str(&mut out, odd);
        assert_eq!(out, serde_json::to_string(odd).unwrap());
    }
}
