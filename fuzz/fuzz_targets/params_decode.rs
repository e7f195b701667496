//! `params::decode` on arbitrary bytes: never panics, and every error is 400 / 1025.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wa_twostep::api::params::{decode, BodyKind};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let kind = [BodyKind::Json, BodyKind::Form, BodyKind::Other][usize::from(selector % 3)];
    if let Err(e) = decode(kind, body) {
        assert_eq!(e.code, 1025);
        assert_eq!(e.status.as_u16(), 400);
    }
});
