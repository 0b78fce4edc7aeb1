//! Label sets as one byte string: each value length-prefixed, so a set is hashed and compared
//! as borrowed bytes on the hot path and only copied when a new series is created.

/// Append one label value to an encoded label set.
#[inline]
pub fn push(key: &mut Vec<u8>, value: &[u8]) {
    key.extend_from_slice(&(value.len() as u32).to_le_bytes());
    key.extend_from_slice(value);
}

/// The values of an encoded label set, in order.
pub fn values(key: &[u8]) -> Values<'_> {
    Values { rest: key }
}

pub struct Values<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Values<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let (len, rest) = self.rest.split_first_chunk::<4>()?;
        let len = (u32::from_le_bytes(*len) as usize).min(rest.len());
        let (value, rest) = rest.split_at(len);
        self.rest = rest;
        Some(value)
    }
}

/// The values as (lossy) UTF-8 strings, for export.
pub fn strings(key: &[u8]) -> Vec<String> {
    values(key)
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_empty_and_odd_values() {
        let mut key = Vec::new();
        for v in [&b""[..], b"a,b=c", b"\xff\x00", b"GET"] {
            push(&mut key, v);
        }
        let got: Vec<&[u8]> = values(&key).collect();
        assert_eq!(got, vec![&b""[..], b"a,b=c", b"\xff\x00", b"GET"]);
    }

    #[test]
    fn distinct_sets_encode_differently() {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        push(&mut a, b"ab");
        push(&mut a, b"c");
        push(&mut b, b"a");
        push(&mut b, b"bc");
        assert_ne!(a, b);
    }
}
