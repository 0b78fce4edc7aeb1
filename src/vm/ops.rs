//! The arithmetic and conversions of the VM, with mtail's (Go's) semantics and error messages.

use crate::syntax::ast::BinOp;

/// Go's `int64(math.Pow(float64(a), float64(b)))`: `**` on Int.
pub fn int_pow(a: i64, b: i64) -> i64 {
    let f = (a as f64).powf(b as f64);
    if f.is_nan() {
        i64::MIN
    } else {
        f as i64
    }
}

/// An Int operator; `Err` is the runtime error.
#[inline]
pub fn int_op(op: BinOp, a: i64, b: i64) -> Result<i64, String> {
    Ok(match op {
        BinOp::Add => a.wrapping_add(b),
        BinOp::Sub => a.wrapping_sub(b),
        BinOp::Mul => a.wrapping_mul(b),
        BinOp::Div if b == 0 => return Err("divide by zero".into()),
        BinOp::Div => a.wrapping_div(b),
        BinOp::Mod if b == 0 => return Err("mod by zero".into()),
        BinOp::Mod => a.wrapping_rem(b),
        BinOp::Pow => int_pow(a, b),
        BinOp::Shl | BinOp::Shr if b < 0 => return Err(format!("negative shift amount: {b}")),
        BinOp::Shl if b >= 64 => 0,
        BinOp::Shl => a << b,
        BinOp::Shr if b >= 64 => a >> 63,
        BinOp::Shr => a >> b,
        BinOp::BitAnd => a & b,
        BinOp::BitOr => a | b,
        BinOp::BitXor => a ^ b,
        other => return Err(format!("invalid Int operator {}", other.as_str())),
    })
}

/// A Float operator.
#[inline]
pub fn float_op(op: BinOp, a: f64, b: f64) -> Result<f64, String> {
    Ok(match op {
        BinOp::Add => a + b,
        BinOp::Sub => a - b,
        BinOp::Mul => a * b,
        BinOp::Div => a / b,
        BinOp::Mod => a % b,
        BinOp::Pow => a.powf(b),
        other => return Err(format!("invalid Float operator {}", other.as_str())),
    })
}

/// A comparison's result from an ordering.
#[inline]
pub fn compare<T: PartialOrd + ?Sized>(op: BinOp, a: &T, b: &T) -> bool {
    match op {
        BinOp::Lt => a < b,
        BinOp::Gt => a > b,
        BinOp::Le => a <= b,
        BinOp::Ge => a >= b,
        BinOp::Eq => a == b,
        BinOp::Ne => a != b,
        _ => false,
    }
}

/// Go's `strconv.ParseInt(s, base, 64)` for bases 2..=36.
pub fn parse_int(s: &[u8], base: i64) -> Result<i64, String> {
    let text = String::from_utf8_lossy(s);
    if !(2..=36).contains(&base) {
        return Err(format!(
            "strconv.ParseInt: parsing {text:?}: invalid base {base}"
        ));
    }
    let digits = s
        .strip_prefix(b"+")
        .or_else(|| s.strip_prefix(b"-"))
        .unwrap_or(s);
    if digits.is_empty() || !digits.iter().all(|&c| (c as char).is_digit(base as u32)) {
        return Err(format!(
            "strconv.ParseInt: parsing {text:?}: invalid syntax"
        ));
    }
    let t = std::str::from_utf8(s)
        .map_err(|_| format!("strconv.ParseInt: parsing {text:?}: invalid syntax"))?;
    i64::from_str_radix(t, base as u32)
        .map_err(|_| format!("strconv.ParseInt: parsing {text:?}: value out of range"))
}

/// Go's `strconv.ParseFloat(s, 64)`.
pub fn parse_float(s: &[u8]) -> Result<f64, String> {
    let bad = || {
        format!(
            "strconv.ParseFloat: parsing {:?}: invalid syntax",
            String::from_utf8_lossy(s)
        )
    };
    let t = std::str::from_utf8(s).map_err(|_| bad())?;
    // Rust accepts a few spellings Go does not ("infinity" is fine in both; "in" is not).
    if t.is_empty() || t.bytes().any(|b| b.is_ascii_whitespace()) {
        return Err(bad());
    }
    let v: f64 = t.parse().map_err(|_| bad())?;
    if v.is_infinite() && !t.to_ascii_lowercase().contains("inf") {
        return Err(format!(
            "strconv.ParseFloat: parsing {t:?}: value out of range"
        ));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int_ops_follow_go() {
        assert_eq!(int_op(BinOp::Div, 7, 2), Ok(3));
        assert_eq!(int_op(BinOp::Mod, -7, 2), Ok(-1));
        assert_eq!(int_op(BinOp::Pow, 2, 5), Ok(32));
        assert_eq!(int_op(BinOp::Shr, 0x1234, 11), Ok(2));
        assert!(int_op(BinOp::Div, 1, 0).is_err());
        assert!(int_op(BinOp::Shl, 1, -1).is_err());
        assert_eq!(int_op(BinOp::Shl, 1, 64), Ok(0));
        assert_eq!(int_op(BinOp::Div, i64::MIN, -1), Ok(i64::MIN));
    }

    #[test]
    fn parse_int_like_go() {
        assert_eq!(parse_int(b"ff", 16), Ok(255));
        assert_eq!(parse_int(b"0777", 8), Ok(511));
        assert_eq!(parse_int(b"zz", 36), Ok(1295));
        assert_eq!(parse_int(b"-12", 10), Ok(-12));
        assert!(parse_int(b"", 10).unwrap_err().contains("invalid syntax"));
        assert!(parse_int(b"99999999999999999999", 10)
            .unwrap_err()
            .contains("out of range"));
        assert!(parse_int(b"12", 0).is_err());
        assert!(parse_int(b" 1", 10).is_err());
    }

    #[test]
    fn parse_float_like_go() {
        assert_eq!(parse_float(b"1.5"), Ok(1.5));
        assert_eq!(parse_float(b".5"), Ok(0.5));
        assert_eq!(parse_float(b"1e3"), Ok(1000.0));
        assert!(parse_float(b"").is_err());
        assert!(parse_float(b"1.2.3").is_err());
    }
}
