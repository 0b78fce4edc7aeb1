//! Durations as Go's `time.ParseDuration` reads them (`90s`, `1h30m`, `1.5h`): the `after` of `del`.

/// Parse a duration into nanoseconds; the error is Go's message.
pub fn parse(text: &str) -> Result<i64, String> {
    let err = || format!("time: invalid duration {text:?}");
    let mut s = text;
    let neg = if let Some(rest) = s.strip_prefix('-') {
        s = rest;
        true
    } else {
        s = s.strip_prefix('+').unwrap_or(s);
        false
    };
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(err());
    }
    let mut total: f64 = 0.0;
    while !s.is_empty() {
        let num_end = s
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(s.len());
        let num = &s[..num_end];
        if num.is_empty() || num == "." {
            return Err(err());
        }
        let value: f64 = num.parse().map_err(|_| err())?;
        s = &s[num_end..];
        let unit_end = s
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(s.len());
        let unit = &s[..unit_end];
        s = &s[unit_end..];
        let scale: f64 = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "" => return Err(format!("time: missing unit in duration {text:?}")),
            other => return Err(format!("time: unknown unit {other:?} in duration {text:?}")),
        };
        total += value * scale;
    }
    if total > i64::MAX as f64 {
        return Err(err());
    }
    let ns = total.round() as i64;
    Ok(if neg { -ns } else { ns })
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
        assert!(parse("1d").unwrap_err().contains("unknown unit \"d\""));
        assert!(parse("5").is_err());
        assert!(parse("").is_err());
    }
}
