//! startup.conf parser: any text parses or gives one error naming file:line:col; never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match pwire_config::parse_str("fuzz.conf", text) {
        Ok(c) => {
            // Accepted configs also report their notices without panicking.
            let _ = c.notices();
        }
        Err(e) => {
            let msg = e.to_string();
            assert!(msg.starts_with("fuzz.conf:"), "{msg}");
            assert!(!msg.contains('\n'), "one line: {msg}");
        }
    }
});
