//! Durations as Go's `time.ParseDuration` reads them (`90s`, `1h30m`, `1.5h`): the `after` of `del`.
//!
//! The arithmetic is Go's, step for step: whole numbers are exact unsigned 64-bit nanoseconds,
//! only a fraction goes through a float (as Go does, to stay exact for fractions of hours), and
//! any sum past `i64::MAX` (or past `-i64::MIN` for a negative duration) is an error with Go's
//! message, where mtail rejects the program too.

/// 2^63, the magnitude of `i64::MIN`: Go's bound while accumulating.
const LIMIT: u64 = 1 << 63;

/// Parse a duration into nanoseconds; the error is Go's message.
pub fn parse(text: &str) -> Result<i64, String> {
    let invalid = || format!("time: invalid duration {text:?}");
    let mut s = text.as_bytes();
    let mut neg = false;
    if let Some((&c, rest)) = s.split_first() {
        if c == b'-' || c == b'+' {
            neg = c == b'-';
            s = rest;
        }
    }
    if s == b"0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(invalid());
    }
    let mut total: u64 = 0;
    while !s.is_empty() {
        if !(s[0] == b'.' || s[0].is_ascii_digit()) {
            return Err(invalid());
        }
        let before = s.len();
        let (mut v, rest) = leading_int(s).ok_or_else(invalid)?;
        s = rest;
        let pre = before != s.len();
        let (mut f, mut scale, mut post) = (0u64, 1f64, false);
        if let Some(rest) = s.strip_prefix(b".") {
            let before = rest.len();
            let (x, sc, rest) = leading_fraction(rest);
            (f, scale, post) = (x, sc, before != rest.len());
            s = rest;
        }
        if !pre && !post {
            return Err(invalid());
        }
        let unit_len = s
            .iter()
            .position(|&c| c == b'.' || c.is_ascii_digit())
            .unwrap_or(s.len());
        if unit_len == 0 {
            return Err(format!("time: missing unit in duration {text:?}"));
        }
        let (unit, rest) = s.split_at(unit_len);
        s = rest;
        let unit_ns: u64 = match unit {
            b"ns" => 1,
            b"us" | [0xC2, 0xB5, b's'] | [0xCE, 0xBC, b's'] => 1_000, // us, µs, μs
            b"ms" => 1_000_000,
            b"s" => 1_000_000_000,
            b"m" => 60_000_000_000,
            b"h" => 3_600_000_000_000,
            other => {
                let other = String::from_utf8_lossy(other);
                return Err(format!("time: unknown unit {other:?} in duration {text:?}"));
            }
        };
        if v > LIMIT / unit_ns {
            return Err(invalid());
        }
        v *= unit_ns;
        if f > 0 {
            // At most 3.6e12 (a fraction of an hour): exact in an f64, as in Go.
            v += (f as f64 * (unit_ns as f64 / scale)) as u64;
            if v > LIMIT {
                return Err(invalid());
            }
        }
        total = total.checked_add(v).ok_or_else(invalid)?;
        if total > LIMIT {
            return Err(invalid());
        }
    }
    if neg {
        // total <= 2^63: -2^63 is i64::MIN, which Go accepts.
        return Ok((total as i64).wrapping_neg());
    }
    i64::try_from(total).map_err(|_| invalid())
}

/// The leading `[0-9]*` as a number, or `None` past 2^63 (Go's `leadingInt`).
fn leading_int(s: &[u8]) -> Option<(u64, &[u8])> {
    let n = s.iter().take_while(|c| c.is_ascii_digit()).count();
    let mut x: u64 = 0;
    for &c in &s[..n] {
        if x > LIMIT / 10 {
            return None;
        }
        x = x * 10 + u64::from(c - b'0');
        if x > LIMIT {
            return None;
        }
    }
    Some((x, &s[n..]))
}

/// The leading `[0-9]*` of a fraction: its digits as a number and `10^digits`; digits past what
/// fits are consumed without adding precision (Go's `leadingFraction`).
fn leading_fraction(s: &[u8]) -> (u64, f64, &[u8]) {
    let n = s.iter().take_while(|c| c.is_ascii_digit()).count();
    let (mut x, mut scale, mut overflow) = (0u64, 1f64, false);
    for &c in &s[..n] {
        if overflow {
            continue;
        }
        if x > (LIMIT - 1) / 10 {
            overflow = true;
            continue;
        }
        let y = x * 10 + u64::from(c - b'0');
        if y > LIMIT {
            overflow = true;
            continue;
        }
        x = y;
        scale *= 10.0;
    }
    (x, scale, &s[n..])
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn go_durations() {
        assert_eq!(parse("168h"), Ok(168 * 3600 * 1_000_000_000));
        assert_eq!(parse("1h30m"), Ok(5400 * 1_000_000_000));
        assert_eq!(parse("90s"), Ok(90 * 1_000_000_000));
        assert_eq!(parse("1.5s"), Ok(1_500_000_000));
        assert_eq!(parse("10ms"), Ok(10_000_000));
        assert_eq!(parse("-1.5h"), Ok(-5_400_000_000_000));
        assert_eq!(parse("1µs"), Ok(1_000));
        assert_eq!(parse(".5s"), Ok(500_000_000));
        assert_eq!(parse("1.s"), Ok(1_000_000_000));
        assert!(parse("1d").unwrap_err().contains("unknown unit \"d\""));
        assert!(parse("5").unwrap_err().contains("missing unit"));
        assert!(parse("").is_err());
        assert!(parse(".s").is_err());
        assert!(parse("s").is_err());
    }

    #[test]
    fn exact_in_integer_nanoseconds() {
        // Past 2^53 an f64 sum loses nanoseconds; Go's integers do not.
        assert_eq!(parse("9007199254740993ns"), Ok(9_007_199_254_740_993));
        assert_eq!(parse("2562047h47m16s854775807ns"), Ok(i64::MAX));
        assert_eq!(parse("9223372036854775807ns"), Ok(i64::MAX));
        assert_eq!(parse("-9223372036854775808ns"), Ok(i64::MIN));
        assert_eq!(parse("0.000000001s"), Ok(1));
        assert_eq!(parse("1.0000000000000000000001s"), Ok(1_000_000_000));
    }

    #[test]
    fn overflow_is_go_s_error() {
        let msg = "time: invalid duration \"9223372036854775808ns\"";
        assert_eq!(parse("9223372036854775808ns"), Err(msg.to_string()));
        assert!(parse("2562048h").is_err());
        assert!(parse("2562047h47m16s854775808ns").is_err());
        assert!(parse("99999999999999999999s").is_err());
        assert!(parse("-9223372036854775809ns").is_err());
    }
}
