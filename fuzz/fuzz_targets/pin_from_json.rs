//! `Pin::from_json` on any JSON value: never panics, and an accepted PIN is
//! always exactly six ASCII digits.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wa_twostep::domain::pin::Pin;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    if let Ok(pin) = Pin::from_json(&value) {
        let digits = pin.expose();
        assert_eq!(digits.len(), 6, "accepted {value}");
        assert!(digits.bytes().all(|b| b.is_ascii_digit()), "accepted {value}");
    }
});
