//! Numbers printed as Go prints them: `strconv.FormatFloat(v, 'g', -1, 64)` (shortest digits,
//! exponent form when the decimal exponent is < -4 or ≥ 6), used for label values made from
//! floats (`%g`) and for every sample value in the Prometheus text format.

/// Append `v` formatted like Go's `%g` / `FormatFloat(v, 'g', -1, 64)`.
pub fn push_go_float(out: &mut Vec<u8>, v: f64) {
    if v.is_nan() {
        out.extend_from_slice(b"NaN");
        return;
    }
    if v.is_infinite() {
        out.extend_from_slice(if v > 0.0 { b"+Inf" } else { b"-Inf" });
        return;
    }
    if v == 0.0 {
        if v.is_sign_negative() {
            out.push(b'-');
        }
        out.push(b'0');
        return;
    }
    // Rust's `{:e}` gives the shortest round-trip digits: "-6.2793673e7".
    let mut buf = [0u8; 40];
    let s = {
        use std::io::Write;
        let mut cur = std::io::Cursor::new(&mut buf[..]);
        let _ = write!(cur, "{v:e}");
        let n = cur.position() as usize;
        &buf[..n]
    };
    let (neg, s) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, s),
    };
    let e_at = s.iter().position(|&b| b == b'e').unwrap_or(s.len());
    let (mantissa, exp_text) = s.split_at(e_at);
    let exp: i32 = std::str::from_utf8(exp_text.get(1..).unwrap_or(b"0"))
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    let mut digits = [0u8; 24];
    let mut nd = 0;
    for &b in mantissa {
        if b.is_ascii_digit() && nd < digits.len() {
            digits[nd] = b;
            nd += 1;
        }
    }
    let digits = &digits[..nd.max(1)];
    if neg {
        out.push(b'-');
    }
    if !(-4..6).contains(&exp) {
        out.push(digits[0]);
        if digits.len() > 1 {
            out.push(b'.');
            out.extend_from_slice(&digits[1..]);
        }
        out.push(b'e');
        out.push(if exp < 0 { b'-' } else { b'+' });
        let a = exp.unsigned_abs();
        if a < 10 {
            out.push(b'0');
        }
        push_u64(out, a as u64);
    } else if exp >= 0 {
        let int_len = exp as usize + 1;
        for i in 0..int_len {
            out.push(*digits.get(i).unwrap_or(&b'0'));
        }
        if digits.len() > int_len {
            out.push(b'.');
            out.extend_from_slice(&digits[int_len..]);
        }
    } else {
        out.extend_from_slice(b"0.");
        for _ in 0..(-exp - 1) {
            out.push(b'0');
        }
        out.extend_from_slice(digits);
    }
}

/// `v` as Go prints it, as a `String`.
pub fn go_float(v: f64) -> String {
    let mut out = Vec::new();
    push_go_float(&mut out, v);
    String::from_utf8(out).unwrap_or_default()
}

/// Append a decimal integer.
pub fn push_i64(out: &mut Vec<u8>, v: i64) {
    if v < 0 {
        out.push(b'-');
    }
    push_u64(out, v.unsigned_abs());
}

fn push_u64(out: &mut Vec<u8>, mut v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_go_g_shortest() {
        let cases: &[(f64, &str)] = &[
            (62793673.0, "6.2793673e+07"),
            (975017.0, "975017"),
            (1181011.0, "1.181011e+06"),
            (1e6, "1e+06"),
            (1.25e-6, "1.25e-06"),
            (0.0009, "0.0009"),
            (0.00001, "1e-05"),
            (1234567.5, "1.2345675e+06"),
            (12.8, "12.8"),
            (0.002345, "0.002345"),
            (-3.5, "-3.5"),
            (100000.0, "100000"),
            (1.0, "1"),
            (0.0, "0"),
            (1e21, "1e+21"),
            (123.456e-300, "1.23456e-298"),
            (f64::INFINITY, "+Inf"),
            (f64::NAN, "NaN"),
        ];
        for &(v, want) in cases {
            assert_eq!(go_float(v), want, "{v}");
        }
    }

    #[test]
    fn integers() {
        let mut out = Vec::new();
        push_i64(&mut out, i64::MIN);
        out.push(b' ');
        push_i64(&mut out, 0);
        out.push(b' ');
        push_i64(&mut out, 42);
        assert_eq!(out, b"-9223372036854775808 0 42");
    }
}
