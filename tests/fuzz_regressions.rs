//! Inputs the fuzz targets (`fuzz/`) found to crash logmill, kept as tests once fixed.

use logmill::compile::compile;

/// Every diagnostic of a program that must fail: its spans lie on the text's character
/// boundaries, and the whole report renders.
fn fails_cleanly(src: &str) -> String {
    let err = match compile("fuzz.mtail", src) {
        Ok(_) => panic!("{src:?} compiled"),
        Err(e) => e,
    };
    for d in &err.diagnostics {
        assert!(
            src.is_char_boundary(d.span.start.min(src.len())),
            "{d:?} starts inside a character of {src:?}"
        );
    }
    err.to_string()
}

/// `program` target: a second syntax error after a line holding multi-byte characters. The
/// error recovery blanked that line with one space per character, shifting later offsets off
/// the original text (a slice inside a character, a panic).
#[test]
fn syntax_errors_after_a_line_with_multibyte_characters() {
    // The fuzzer's input was `/\xff\xff/@\n\xff`, read as lossy UTF-8.
    let report = fails_cleanly("/\u{fffd}\u{fffd}/@\n\u{fffd}");
    assert!(report.contains("fuzz.mtail:2:1"), "{report}");
    let report = fails_cleanly("/é€/ @\n# ok\n\u{fffd}\n");
    assert!(report.contains("fuzz.mtail:3:1"), "{report}");
}
