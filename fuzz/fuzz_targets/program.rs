//! Program text through parse, check and compile: any bytes, never a panic, and both the
//! compiled program's dump and a failed program's diagnostics render.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let src = String::from_utf8_lossy(data);
    match logmill::compile::compile("fuzz.mtail", &src) {
        Ok(prog) => {
            let _ = prog.dump();
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
