//! `strptime(value, layout)`: Go reference-time layouts, parsed exactly as Go's `time.Parse` does.
//!
//! mtail hands the layout and the value to Go's `time` package, so its behaviour *is* Go's: the
//! layout is an example of the reference time `Mon Jan 2 15:04:05 MST 2006` (`"2006-01-02"`,
//! `"Jan _2 15:04:05"`, …), and every quirk of Go's parser shows up in which lines parse and which
//! instant they give. This module is a line-by-line port of Go's `nextStdChunk` / `parse`
//! (`src/time/format.go`):
//!
//! - [`Layout`] is a layout compiled once into chunks (literal prefix + one element, like
//!   `nextStdChunk`). [`Layout::new`] also applies mtail's compile-time check (the layout must parse
//!   itself with `_` removed and `Z` turned into `+`), whose failure mtail reports as
//!   `invalid time format string`.
//! - [`Layout::parse`] turns a value into a [`ParsedTime`] (Unix seconds and nanoseconds, plus the
//!   UTC offset of the location Go would attach), interpreting values without zone information in
//!   a [`Zone`]: UTC by default, or an IANA zone from `--override_timezone`. It does not allocate
//!   when it succeeds.
//! - [`ParsedTime::with_year`] is Go's `t.AddDate(y - t.Year(), 0, 0)`, which mtail applies to
//!   year-0 results (`--syslog_use_current_year`).
//! - [`StrptimeCache`] is the VM's 64-entry LRU memo keyed by the value string only.

use std::fmt;
use std::hash::BuildHasher;
use std::sync::Arc;

use jiff::tz::TimeZone;
use jiff::Timestamp;

/// Why a layout, a value or a zone name was rejected.
///
/// The parse variants display exactly like Go's `*time.ParseError`, so runtime error messages read
/// like mtail's (`strptime (…) failed: parsing time "…" as "…": cannot parse "…" as "…"`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StrptimeError {
    /// mtail's compile-time check of a literal layout failed (the layout does not parse itself).
    #[error("invalid time format string {layout:?}")]
    InvalidLayout {
        layout: String,
        #[source]
        cause: Box<StrptimeError>,
    },
    /// The value did not match the layout element `layout_elem`; `value_elem` is the rest of
    /// the value from the point where matching failed.
    #[error(
        "parsing time {} as {}: cannot parse {} as {}",
        go_quote(value),
        go_quote(layout.as_bytes()),
        go_quote(value_elem),
        go_quote(layout_elem.as_bytes())
    )]
    CannotParse {
        layout: String,
        value: Vec<u8>,
        layout_elem: String,
        value_elem: Vec<u8>,
    },
    /// A field parsed but its value is impossible: `what` is Go's word for it (`month`, `hour`,
    /// `day`, `day-of-year`, `fractional second`, `time zone offset hour`, …).
    #[error("parsing time {}: {what} out of range", go_quote(value))]
    OutOfRange { value: Vec<u8>, what: &'static str },
    /// The whole layout matched but the value goes on.
    #[error("parsing time {}: extra text: {}", go_quote(value), go_quote(extra))]
    ExtraText { value: Vec<u8>, extra: Vec<u8> },
    /// A day-of-year element disagrees with the month or the day (`field`) also given.
    #[error("parsing time {}: day-of-year does not match {field}", go_quote(value))]
    DayOfYearMismatch { value: Vec<u8>, field: &'static str },
    /// `Zone::from_name` could not load the zone (Go: `time.LoadLocation`).
    #[error("unknown time zone {name}")]
    UnknownZone { name: String, reason: String },
    /// A zone name Go refuses before looking it up (absolute path or `..`).
    #[error("time: invalid location name")]
    InvalidZoneName { name: String },
}

/// Go's `time.quote`: ASCII stays, `"` and `\` get a backslash, every other byte (control
/// characters and all of UTF-8 beyond ASCII) is written `\xNN`.
fn go_quote(s: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for &b in s {
        if !(b' '..0x80).contains(&b) {
            out.push_str("\\x");
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        } else {
            if b == b'"' || b == b'\\' {
                out.push('\\');
            }
            out.push(char::from(b));
        }
    }
    out.push('"');
    out
}

// ---------------------------------------------------------------------------------------------
// Layout compilation (Go: nextStdChunk)
// ---------------------------------------------------------------------------------------------

/// One layout element; the names follow Go's `std*` constants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Std {
    LongMonth,             // "January"
    Month,                 // "Jan"
    NumMonth,              // "1"
    ZeroMonth,             // "01"
    LongWeekDay,           // "Monday"
    WeekDay,               // "Mon"
    Day,                   // "2"
    UnderDay,              // "_2"
    ZeroDay,               // "02"
    UnderYearDay,          // "__2"
    ZeroYearDay,           // "002"
    Hour,                  // "15"
    Hour12,                // "3"
    ZeroHour12,            // "03"
    Minute,                // "4"
    ZeroMinute,            // "04"
    Second,                // "5"
    ZeroSecond,            // "05"
    LongYear,              // "2006"
    Year,                  // "06"
    AmPmUpper,             // "PM"
    AmPmLower,             // "pm"
    ZoneName,              // "MST"
    Iso8601TZ,             // "Z0700"
    Iso8601SecondsTZ,      // "Z070000"
    Iso8601ShortTZ,        // "Z07"
    Iso8601ColonTZ,        // "Z07:00"
    Iso8601ColonSecondsTZ, // "Z07:00:00"
    NumTZ,                 // "-0700"
    NumSecondsTz,          // "-070000"
    NumShortTZ,            // "-07"
    NumColonTZ,            // "-07:00"
    NumColonSecondsTZ,     // "-07:00:00"
    /// ".000" / ",000": exactly this many digits (Go keeps the count modulo 4096).
    FracSecond0(u16),
    /// ".999" / ",999": optional, any number of digits.
    FracSecond9(u16),
}

/// Go's `std0x`: the element for "01" … "06".
const STD_0X: [Std; 6] = [
    Std::ZeroMonth,
    Std::ZeroDay,
    Std::ZeroHour12,
    Std::ZeroMinute,
    Std::ZeroSecond,
    Std::Year,
];

fn starts_with_lower_case(s: &[u8]) -> bool {
    s.first().is_some_and(|c| c.is_ascii_lowercase())
}

fn is_digit(s: &[u8], i: usize) -> bool {
    s.get(i).is_some_and(|c| c.is_ascii_digit())
}

/// Go's `nextStdChunk`: the end of the literal prefix, and the element with the offset where the
/// text after it starts. The element's own text is `layout[prefix_end..suffix_start]`.
fn next_std_chunk(layout: &[u8]) -> (usize, Option<(Std, usize)>) {
    let n = layout.len();
    let at = |i: usize, lit: &[u8]| layout[i..].starts_with(lit);
    for i in 0..n {
        match layout[i] {
            b'J' if at(i, b"Jan") => {
                if at(i, b"January") {
                    return (i, Some((Std::LongMonth, i + 7)));
                }
                if !starts_with_lower_case(&layout[i + 3..]) {
                    return (i, Some((Std::Month, i + 3)));
                }
            }
            b'M' => {
                if at(i, b"Mon") {
                    if at(i, b"Monday") {
                        return (i, Some((Std::LongWeekDay, i + 6)));
                    }
                    if !starts_with_lower_case(&layout[i + 3..]) {
                        return (i, Some((Std::WeekDay, i + 3)));
                    }
                }
                if at(i, b"MST") {
                    return (i, Some((Std::ZoneName, i + 3)));
                }
            }
            b'0' => {
                if n >= i + 2 && (b'1'..=b'6').contains(&layout[i + 1]) {
                    return (i, Some((STD_0X[usize::from(layout[i + 1] - b'1')], i + 2)));
                }
                if n >= i + 3 && layout[i + 1] == b'0' && layout[i + 2] == b'2' {
                    return (i, Some((Std::ZeroYearDay, i + 3)));
                }
            }
            b'1' => {
                if n >= i + 2 && layout[i + 1] == b'5' {
                    return (i, Some((Std::Hour, i + 2)));
                }
                return (i, Some((Std::NumMonth, i + 1)));
            }
            b'2' => {
                if at(i, b"2006") {
                    return (i, Some((Std::LongYear, i + 4)));
                }
                return (i, Some((Std::Day, i + 1)));
            }
            b'_' => {
                if n >= i + 2 && layout[i + 1] == b'2' {
                    // "_2006" is a literal '_' followed by the long year.
                    if at(i + 1, b"2006") {
                        return (i + 1, Some((Std::LongYear, i + 5)));
                    }
                    return (i, Some((Std::UnderDay, i + 2)));
                }
                if n >= i + 3 && layout[i + 1] == b'_' && layout[i + 2] == b'2' {
                    return (i, Some((Std::UnderYearDay, i + 3)));
                }
            }
            b'3' => return (i, Some((Std::Hour12, i + 1))),
            b'4' => return (i, Some((Std::Minute, i + 1))),
            b'5' => return (i, Some((Std::Second, i + 1))),
            b'P' if at(i, b"PM") => return (i, Some((Std::AmPmUpper, i + 2))),
            b'p' if at(i, b"pm") => return (i, Some((Std::AmPmLower, i + 2))),
            b'-' => {
                for (lit, std) in [
                    (&b"-070000"[..], Std::NumSecondsTz),
                    (b"-07:00:00", Std::NumColonSecondsTZ),
                    (b"-0700", Std::NumTZ),
                    (b"-07:00", Std::NumColonTZ),
                    (b"-07", Std::NumShortTZ),
                ] {
                    if at(i, lit) {
                        return (i, Some((std, i + lit.len())));
                    }
                }
            }
            b'Z' => {
                for (lit, std) in [
                    (&b"Z070000"[..], Std::Iso8601SecondsTZ),
                    (b"Z07:00:00", Std::Iso8601ColonSecondsTZ),
                    (b"Z0700", Std::Iso8601TZ),
                    (b"Z07:00", Std::Iso8601ColonTZ),
                    (b"Z07", Std::Iso8601ShortTZ),
                ] {
                    if at(i, lit) {
                        return (i, Some((std, i + lit.len())));
                    }
                }
            }
            b'.' | b',' if i + 1 < n && (layout[i + 1] == b'0' || layout[i + 1] == b'9') => {
                let ch = layout[i + 1];
                let mut j = i + 1;
                while j < n && layout[j] == ch {
                    j += 1;
                }
                // The run of digits must end here: a fractional second is all one digit.
                if !is_digit(layout, j) {
                    // Go packs the count into 12 bits.
                    let digits = ((j - (i + 1)) & 0xfff) as u16;
                    let std = if ch == b'9' {
                        Std::FracSecond9(digits)
                    } else {
                        Std::FracSecond0(digits)
                    };
                    return (i, Some((std, j)));
                }
            }
            _ => {}
        }
    }
    (n, None)
}

/// One step of a compiled layout: literal text to match, then an element (none for the tail).
#[derive(Debug, Clone)]
struct Chunk {
    prefix: (usize, usize),
    std: Option<Std>,
    /// Where the element's text lies in the layout (for error messages).
    std_text: (usize, usize),
}

/// A Go layout string compiled once into literal prefixes and elements.
#[derive(Debug, Clone)]
pub struct Layout {
    text: Box<str>,
    chunks: Box<[Chunk]>,
}

impl Layout {
    /// Compiles `layout` and applies mtail's compile-time check: with every `_` removed and every
    /// `Z` turned into `+`, the layout must parse itself. (So a literal `Z`, as in
    /// `"2006-01-02T15:04:05Z"`, or a literal `_` is rejected, exactly as mtail rejects it.)
    pub fn new(layout: &str) -> Result<Layout, StrptimeError> {
        let compiled = Layout::new_unchecked(layout);
        let probe: Vec<u8> = layout
            .bytes()
            .filter(|&b| b != b'_')
            .map(|b| if b == b'Z' { b'+' } else { b })
            .collect();
        match compiled.parse(&probe, &Zone::utc()) {
            Ok(_) => Ok(compiled),
            Err(cause) => Err(StrptimeError::InvalidLayout {
                layout: layout.to_owned(),
                cause: Box::new(cause),
            }),
        }
    }

    /// Compiles `layout` without mtail's check: any string is a Go layout.
    pub fn new_unchecked(layout: &str) -> Layout {
        let bytes = layout.as_bytes();
        let mut chunks = Vec::new();
        let mut pos = 0;
        loop {
            let (prefix_end, std) = next_std_chunk(&bytes[pos..]);
            match std {
                Some((std, suffix_start)) => {
                    chunks.push(Chunk {
                        prefix: (pos, pos + prefix_end),
                        std: Some(std),
                        std_text: (pos + prefix_end, pos + suffix_start),
                    });
                    pos += suffix_start;
                }
                None => {
                    chunks.push(Chunk {
                        prefix: (pos, bytes.len()),
                        std: None,
                        std_text: (bytes.len(), bytes.len()),
                    });
                    break;
                }
            }
        }
        Layout {
            text: layout.into(),
            chunks: chunks.into_boxed_slice(),
        }
    }

    /// The layout as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Go's `time.ParseInLocation(layout, value, zone)`: the same inputs are accepted, the same
    /// instant results, the same errors are reported. Does not allocate on success.
    pub fn parse(&self, value: &[u8], zone: &Zone) -> Result<ParsedTime, StrptimeError> {
        let layout = self.text.as_bytes();
        let mut v: &[u8] = value;
        let mut am_set = false;
        let mut pm_set = false;

        let mut year: i64 = 0;
        let mut month: i64 = -1;
        let mut day: i64 = -1;
        let mut yday: i64 = -1;
        let mut hour: i64 = 0;
        let mut min: i64 = 0;
        let mut sec: i64 = 0;
        let mut nsec: i64 = 0;
        let mut z_utc = false;
        let mut zone_offset: i64 = -1; // Go's sentinel, quirks included
        let mut zone_name: &[u8] = b"";

        for (ci, chunk) in self.chunks.iter().enumerate() {
            let prefix = &layout[chunk.prefix.0..chunk.prefix.1];
            v = skip(v, prefix).map_err(|rest| self.cannot_parse(value, prefix, rest))?;
            let Some(std) = chunk.std else {
                if !v.is_empty() {
                    return Err(StrptimeError::ExtraText {
                        value: value.to_vec(),
                        extra: v.to_vec(),
                    });
                }
                break;
            };
            let hold = v;
            let mut range_err: Option<&'static str> = None;
            let mut bad = false;
            match std {
                Std::Year => {
                    if v.len() < 2 {
                        bad = true;
                    } else {
                        let p = &v[..2];
                        v = &v[2..];
                        match atoi(p) {
                            Ok(y) => year = if y >= 69 { y + 1900 } else { y + 2000 },
                            Err(()) => bad = true,
                        }
                    }
                }
                Std::LongYear => {
                    if v.len() < 4 || !is_digit(v, 0) {
                        bad = true;
                    } else {
                        let p = &v[..4];
                        v = &v[4..];
                        match atoi(p) {
                            Ok(y) => year = y,
                            Err(()) => bad = true,
                        }
                    }
                }
                Std::Month | Std::LongMonth => {
                    let names = if std == Std::Month {
                        &SHORT_MONTH_NAMES
                    } else {
                        &LONG_MONTH_NAMES
                    };
                    match lookup(names, v) {
                        Some((i, rest)) => {
                            month = i as i64 + 1;
                            v = rest;
                        }
                        None => bad = true,
                    }
                }
                Std::NumMonth | Std::ZeroMonth => match getnum(v, std == Std::ZeroMonth) {
                    Some((m, rest)) => {
                        month = m;
                        v = rest;
                        if month <= 0 || 12 < month {
                            range_err = Some("month");
                        }
                    }
                    None => bad = true,
                },
                Std::WeekDay | Std::LongWeekDay => {
                    // Checked for syntax, otherwise ignored.
                    let names = if std == Std::WeekDay {
                        &SHORT_DAY_NAMES
                    } else {
                        &LONG_DAY_NAMES
                    };
                    match lookup(names, v) {
                        Some((_, rest)) => v = rest,
                        None => bad = true,
                    }
                }
                Std::Day | Std::UnderDay | Std::ZeroDay => {
                    if std == Std::UnderDay && v.first() == Some(&b' ') {
                        v = &v[1..];
                    }
                    // Any one- or two-digit day; checked against the month at the end.
                    match getnum(v, std == Std::ZeroDay) {
                        Some((d, rest)) => {
                            day = d;
                            v = rest;
                        }
                        None => bad = true,
                    }
                }
                Std::UnderYearDay | Std::ZeroYearDay => {
                    for _ in 0..2 {
                        if std == Std::UnderYearDay && v.first() == Some(&b' ') {
                            v = &v[1..];
                        }
                    }
                    match getnum3(v, std == Std::ZeroYearDay) {
                        Some((d, rest)) => {
                            yday = d;
                            v = rest;
                        }
                        None => bad = true,
                    }
                }
                Std::Hour => match getnum(v, false) {
                    Some((h, rest)) => {
                        hour = h;
                        v = rest;
                        if !(0..24).contains(&hour) {
                            range_err = Some("hour");
                        }
                    }
                    None => bad = true,
                },
                Std::Hour12 | Std::ZeroHour12 => match getnum(v, std == Std::ZeroHour12) {
                    Some((h, rest)) => {
                        hour = h;
                        v = rest;
                        if !(0..=12).contains(&hour) {
                            range_err = Some("hour");
                        }
                    }
                    None => bad = true,
                },
                Std::Minute | Std::ZeroMinute => match getnum(v, std == Std::ZeroMinute) {
                    Some((m, rest)) => {
                        min = m;
                        v = rest;
                        if !(0..60).contains(&min) {
                            range_err = Some("minute");
                        }
                    }
                    None => bad = true,
                },
                Std::Second | Std::ZeroSecond => match getnum(v, std == Std::ZeroSecond) {
                    None => bad = true,
                    Some((s, rest)) => {
                        sec = s;
                        v = rest;
                        if !(0..60).contains(&sec) {
                            range_err = Some("second");
                        } else if v.len() >= 2 && comma_or_period(v[0]) && is_digit(v, 1) {
                            // A fractional second in the value that the layout does not ask for
                            // (unless the next element is the fractional second).
                            let next = self.chunks.get(ci + 1).and_then(|c| c.std);
                            if !matches!(next, Some(Std::FracSecond0(_) | Std::FracSecond9(_))) {
                                let mut n = 2;
                                while n < v.len() && is_digit(v, n) {
                                    n += 1;
                                }
                                match parse_nanoseconds(v, n) {
                                    Ok(ns) => nsec = ns,
                                    Err(Some(what)) => range_err = Some(what),
                                    Err(None) => bad = true,
                                }
                                v = &v[n..];
                            }
                        }
                    }
                },
                Std::AmPmUpper | Std::AmPmLower => {
                    if v.len() < 2 {
                        bad = true;
                    } else {
                        let p = &v[..2];
                        v = &v[2..];
                        let (pm, am): (&[u8], &[u8]) = if std == Std::AmPmUpper {
                            (b"PM", b"AM")
                        } else {
                            (b"pm", b"am")
                        };
                        if p == pm {
                            pm_set = true;
                        } else if p == am {
                            am_set = true;
                        } else {
                            bad = true;
                        }
                    }
                }
                Std::Iso8601TZ
                | Std::Iso8601ShortTZ
                | Std::Iso8601ColonTZ
                | Std::Iso8601SecondsTZ
                | Std::Iso8601ColonSecondsTZ
                    if v.first() == Some(&b'Z') =>
                {
                    v = &v[1..];
                    z_utc = true;
                }
                Std::Iso8601TZ
                | Std::Iso8601ShortTZ
                | Std::Iso8601ColonTZ
                | Std::Iso8601SecondsTZ
                | Std::Iso8601ColonSecondsTZ
                | Std::NumTZ
                | Std::NumShortTZ
                | Std::NumColonTZ
                | Std::NumSecondsTz
                | Std::NumColonSecondsTZ => match slice_numeric_zone(std, v) {
                    None => bad = true,
                    Some(NumericZone {
                        sign,
                        hours: hh,
                        minutes: mm,
                        seconds: ss,
                        rest,
                    }) => {
                        v = rest;
                        let mut hr = 0;
                        let mut mi = 0;
                        let mut se = 0;
                        match getnum(hh, true) {
                            None => bad = true,
                            Some((h, _)) => {
                                hr = h;
                                match getnum(mm, true) {
                                    None => bad = true,
                                    Some((m, _)) => {
                                        mi = m;
                                        match getnum(ss, true) {
                                            None => bad = true,
                                            Some((s, _)) => se = s,
                                        }
                                    }
                                }
                            }
                        }
                        // Go tests with > rather than >=: offsets of 24 hours or 60 minutes occur.
                        if hr > 24 {
                            range_err = Some("time zone offset hour");
                        }
                        if mi > 60 {
                            range_err = Some("time zone offset minute");
                        }
                        if se > 60 {
                            range_err = Some("time zone offset second");
                        }
                        zone_offset = (hr * 60 + mi) * 60 + se;
                        match sign {
                            b'+' => {}
                            b'-' => zone_offset = -zone_offset,
                            _ => bad = true,
                        }
                    }
                },
                Std::ZoneName => {
                    if v.starts_with(b"UTC") {
                        z_utc = true;
                        v = &v[3..];
                    } else {
                        match parse_time_zone(v) {
                            Some(n) => {
                                zone_name = &v[..n];
                                v = &v[n..];
                            }
                            None => bad = true,
                        }
                    }
                }
                Std::FracSecond0(digits) => {
                    let ndigit = 1 + usize::from(digits);
                    if v.len() < ndigit {
                        bad = true;
                    } else {
                        match parse_nanoseconds(v, ndigit) {
                            Ok(ns) => nsec = ns,
                            Err(Some(what)) => range_err = Some(what),
                            Err(None) => bad = true,
                        }
                        v = &v[ndigit..];
                    }
                }
                Std::FracSecond9(_) => {
                    if v.len() >= 2 && comma_or_period(v[0]) && v[1].is_ascii_digit() {
                        // Any number of digits, even more than the layout shows.
                        let mut i = 0;
                        while i + 1 < v.len() && v[i + 1].is_ascii_digit() {
                            i += 1;
                        }
                        match parse_nanoseconds(v, 1 + i) {
                            Ok(ns) => nsec = ns,
                            Err(Some(what)) => range_err = Some(what),
                            Err(None) => bad = true,
                        }
                        v = &v[1 + i..];
                    }
                }
            }
            if let Some(what) = range_err {
                return Err(StrptimeError::OutOfRange {
                    value: value.to_vec(),
                    what,
                });
            }
            if bad {
                let elem = &layout[chunk.std_text.0..chunk.std_text.1];
                return Err(self.cannot_parse(value, elem, hold));
            }
        }

        if pm_set && hour < 12 {
            hour += 12;
        } else if am_set && hour == 12 {
            hour = 0;
        }

        // Convert a day of the year into month and day.
        if yday >= 0 {
            let mut d = 0;
            let mut m = 0;
            if is_leap(year) {
                if yday == 31 + 29 {
                    m = 2;
                    d = 29;
                } else if yday > 31 + 29 {
                    yday -= 1;
                }
            }
            if !(1..=365).contains(&yday) {
                return Err(StrptimeError::OutOfRange {
                    value: value.to_vec(),
                    what: "day-of-year",
                });
            }
            if m == 0 {
                m = (yday - 1) / 31 + 1;
                if days_before(m + 1) < yday {
                    m += 1;
                }
                d = yday - days_before(m);
            }
            // A month or day also given must agree.
            if month >= 0 && month != m {
                return Err(StrptimeError::DayOfYearMismatch {
                    value: value.to_vec(),
                    field: "month",
                });
            }
            month = m;
            if day >= 0 && day != d {
                return Err(StrptimeError::DayOfYearMismatch {
                    value: value.to_vec(),
                    field: "day",
                });
            }
            day = d;
        } else {
            if month < 0 {
                month = 1;
            }
            if day < 0 {
                day = 1;
            }
        }

        if day < 1 || day > days_in(month, year) {
            return Err(StrptimeError::OutOfRange {
                value: value.to_vec(),
                what: "day",
            });
        }

        // The civil time read as if it were UTC; every field is in range here.
        let civil = days_from_civil(year, month, day) * SECS_PER_DAY + hour * 3600 + min * 60 + sec;
        let nanos = nsec as u32; // 0 ≤ nsec < 1e9

        if z_utc {
            return Ok(ParsedTime::fixed(civil, nanos, 0));
        }

        if zone_offset != -1 {
            let unix = civil - zone_offset;
            // Go keeps the location when it has this offset (and abbreviation) then.
            let (offset, name_matches) = zone.lookup(unix, zone_name);
            if i64::from(offset) == zone_offset && (zone_name.is_empty() || name_matches) {
                return Ok(ParsedTime::in_zone(unix, nanos, offset));
            }
            return Ok(ParsedTime::fixed(unix, nanos, zone_offset as i32));
        }

        if !zone_name.is_empty() {
            if let Some(offset) = zone.lookup_name(zone_name, civil) {
                let unix = civil - i64::from(offset);
                return Ok(ParsedTime::in_zone(unix, nanos, zone.offset_at(unix)));
            }
            // An unknown abbreviation: Go keeps the instant read as UTC and only labels it with
            // a made-up zone, whose offset is zero except for "GMT+h" / "GMT-h".
            let mut offset = 0;
            if zone_name.len() > 3 && zone_name.starts_with(b"GMT") {
                offset = atoi(&zone_name[3..]).unwrap_or(0) * 3600;
            }
            return Ok(ParsedTime::fixed(civil, nanos, offset as i32));
        }

        let (unix, offset) = zone.resolve_civil(civil);
        Ok(ParsedTime::in_zone(unix, nanos, offset))
    }

    fn cannot_parse(&self, value: &[u8], layout_elem: &[u8], value_elem: &[u8]) -> StrptimeError {
        StrptimeError::CannotParse {
            layout: self.text.to_string(),
            value: value.to_vec(),
            layout_elem: String::from_utf8_lossy(layout_elem).into_owned(),
            value_elem: value_elem.to_vec(),
        }
    }
}

impl fmt::Display for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

// ---------------------------------------------------------------------------------------------
// Go's parsing helpers
// ---------------------------------------------------------------------------------------------

const SHORT_MONTH_NAMES: [&[u8]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];
const LONG_MONTH_NAMES: [&[u8]; 12] = [
    b"January",
    b"February",
    b"March",
    b"April",
    b"May",
    b"June",
    b"July",
    b"August",
    b"September",
    b"October",
    b"November",
    b"December",
];
const SHORT_DAY_NAMES: [&[u8]; 7] = [b"Sun", b"Mon", b"Tue", b"Wed", b"Thu", b"Fri", b"Sat"];
const LONG_DAY_NAMES: [&[u8]; 7] = [
    b"Sunday",
    b"Monday",
    b"Tuesday",
    b"Wednesday",
    b"Thursday",
    b"Friday",
    b"Saturday",
];

/// Go's `match`: equal ignoring ASCII letter case.
fn match_fold(s1: &[u8], s2: &[u8]) -> bool {
    s1.iter().zip(s2).all(|(&c1, &c2)| {
        if c1 == c2 {
            return true;
        }
        let (l1, l2) = (c1 | 0x20, c2 | 0x20);
        l1 == l2 && l1.is_ascii_lowercase()
    })
}

/// Go's `lookup`: the first name that starts `val` (ignoring case), and the rest of `val`.
fn lookup<'v>(names: &[&[u8]], val: &'v [u8]) -> Option<(usize, &'v [u8])> {
    names.iter().enumerate().find_map(|(i, name)| {
        (val.len() >= name.len() && match_fold(&val[..name.len()], name))
            .then(|| (i, &val[name.len()..]))
    })
}

/// Go's `getnum`: one or two digits (`fixed` demands two).
fn getnum(s: &[u8], fixed: bool) -> Option<(i64, &[u8])> {
    if !is_digit(s, 0) {
        return None;
    }
    if !is_digit(s, 1) {
        if fixed {
            return None;
        }
        return Some((i64::from(s[0] - b'0'), &s[1..]));
    }
    Some((
        i64::from(s[0] - b'0') * 10 + i64::from(s[1] - b'0'),
        &s[2..],
    ))
}

/// Go's `getnum3`: one to three digits (`fixed` demands three).
fn getnum3(s: &[u8], fixed: bool) -> Option<(i64, &[u8])> {
    let mut n = 0;
    let mut i = 0;
    while i < 3 && is_digit(s, i) {
        n = n * 10 + i64::from(s[i] - b'0');
        i += 1;
    }
    if i == 0 || (fixed && i != 3) {
        return None;
    }
    Some((n, &s[i..]))
}

/// Go's `skip`: remove `prefix` from `value`, a run of spaces in the prefix matching any run of
/// spaces (at least one, unless the value has ended). On failure, the value from the mismatch.
fn skip<'v>(mut value: &'v [u8], mut prefix: &[u8]) -> Result<&'v [u8], &'v [u8]> {
    while let Some(&p) = prefix.first() {
        if p == b' ' {
            if value.first().is_some_and(|&c| c != b' ') {
                return Err(value);
            }
            prefix = cut_space(prefix);
            value = cut_space(value);
            continue;
        }
        if value.first() != Some(&p) {
            return Err(value);
        }
        prefix = &prefix[1..];
        value = &value[1..];
    }
    Ok(value)
}

fn cut_space(s: &[u8]) -> &[u8] {
    let n = s.iter().take_while(|&&c| c == b' ').count();
    &s[n..]
}

/// Go's `leadingInt`: the leading decimal digits, failing on overflow past 2^63.
fn leading_int(s: &[u8]) -> Result<(u64, &[u8]), ()> {
    let mut x: u64 = 0;
    let mut i = 0;
    while i < s.len() && s[i].is_ascii_digit() {
        if x > (1 << 63) / 10 {
            return Err(());
        }
        x = x * 10 + u64::from(s[i] - b'0');
        if x > 1 << 63 {
            return Err(());
        }
        i += 1;
    }
    Ok((x, &s[i..]))
}

/// Go's `atoi`: optional sign, digits, nothing else. Note that `""`, `"+"` and `"-"` are 0.
fn atoi(s: &[u8]) -> Result<i64, ()> {
    let (neg, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let (q, rem) = leading_int(digits)?;
    if !rem.is_empty() {
        return Err(());
    }
    let x = q as i64; // 2^63 wraps, as Go's int(q) does
    Ok(if neg { x.wrapping_neg() } else { x })
}

fn comma_or_period(b: u8) -> bool {
    b == b'.' || b == b','
}

/// Go's `parseNanoseconds`: `value[0]` is the separator, `value[1..nbytes]` the digits (at most
/// nine are used). `Err(Some(what))` is a range error, `Err(None)` a syntax error.
fn parse_nanoseconds(value: &[u8], nbytes: usize) -> Result<i64, Option<&'static str>> {
    if !value.first().is_some_and(|&c| comma_or_period(c)) {
        return Err(None);
    }
    let nbytes = nbytes.min(10);
    let mut ns = atoi(&value[1..nbytes]).map_err(|()| None)?;
    if ns < 0 {
        return Err(Some("fractional second"));
    }
    for _ in 0..10 - nbytes {
        ns *= 10;
    }
    Ok(ns)
}

/// The pieces of a numeric zone offset in a value, sliced by position as Go does.
struct NumericZone<'v> {
    sign: u8,
    hours: &'v [u8],
    minutes: &'v [u8],
    seconds: &'v [u8],
    rest: &'v [u8],
}

/// Slices a numeric zone offset for `std`, or `None` when the value is too short or lacks a
/// colon. Missing minutes or seconds are "00".
fn slice_numeric_zone(std: Std, v: &[u8]) -> Option<NumericZone<'_>> {
    const ZERO: &[u8] = b"00";
    let zone = |hours, minutes, seconds, rest| NumericZone {
        sign: v[0],
        hours,
        minutes,
        seconds,
        rest,
    };
    match std {
        Std::Iso8601ColonTZ | Std::NumColonTZ => {
            if v.len() < 6 || v[3] != b':' {
                return None;
            }
            Some(zone(&v[1..3], &v[4..6], ZERO, &v[6..]))
        }
        Std::NumShortTZ | Std::Iso8601ShortTZ => {
            if v.len() < 3 {
                return None;
            }
            Some(zone(&v[1..3], ZERO, ZERO, &v[3..]))
        }
        Std::Iso8601ColonSecondsTZ | Std::NumColonSecondsTZ => {
            if v.len() < 9 || v[3] != b':' || v[6] != b':' {
                return None;
            }
            Some(zone(&v[1..3], &v[4..6], &v[7..9], &v[9..]))
        }
        Std::Iso8601SecondsTZ | Std::NumSecondsTz => {
            if v.len() < 7 {
                return None;
            }
            Some(zone(&v[1..3], &v[3..5], &v[5..7], &v[7..]))
        }
        _ => {
            if v.len() < 5 {
                return None;
            }
            Some(zone(&v[1..3], &v[3..5], ZERO, &v[5..]))
        }
    }
}

/// Go's `parseTimeZone`: the length of a zone abbreviation at the start of `value`, if it looks
/// like one (three upper-case letters, four or five ending in `T`, `ChST`, `MeST`, `WITA`,
/// `GMT` with an optional hour offset, or a bare `+hh` / `-hh`).
fn parse_time_zone(value: &[u8]) -> Option<usize> {
    if value.len() < 3 {
        return None;
    }
    if value.starts_with(b"ChST") || value.starts_with(b"MeST") {
        return Some(4);
    }
    if value.starts_with(b"GMT") {
        return Some(3 + parse_signed_offset(&value[3..]));
    }
    if value[0] == b'+' || value[0] == b'-' {
        let n = parse_signed_offset(value);
        return (n > 0).then_some(n);
    }
    let n_upper = value
        .iter()
        .take(6)
        .take_while(|c| c.is_ascii_uppercase())
        .count();
    match n_upper {
        3 => Some(3),
        4 if value[3] == b'T' || value.starts_with(b"WITA") => Some(4),
        5 if value[4] == b'T' => Some(5),
        _ => None,
    }
}

/// Go's `parseSignedOffset`: the length of `+h` / `-hh` (hours ≤ 23), or 0.
fn parse_signed_offset(value: &[u8]) -> usize {
    let Some(&sign) = value.first() else {
        return 0;
    };
    if sign != b'-' && sign != b'+' {
        return 0;
    }
    match leading_int(&value[1..]) {
        Ok((x, rem)) if rem.len() < value.len() - 1 && x <= 23 => value.len() - rem.len(),
        _ => 0,
    }
}

// ---------------------------------------------------------------------------------------------
// Civil calendar (proleptic Gregorian, any year)
// ---------------------------------------------------------------------------------------------

const SECS_PER_DAY: i64 = 86_400;

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

/// Days before `month` (1-based, up to 13) in a non-leap year.
fn days_before(month: i64) -> i64 {
    const TABLE: [i64; 13] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365];
    TABLE[(month.clamp(1, 13) - 1) as usize]
}

fn days_in(month: i64, year: i64) -> i64 {
    if month == 2 && is_leap(year) {
        return 29;
    }
    days_before(month + 1) - days_before(month)
}

/// Days since 1970-01-01 of a civil date; a day past the month's end rolls over, as in Go's
/// `time.Date`. (H. Hinnant's algorithm.)
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date (year, month, day) of a day count since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

// ---------------------------------------------------------------------------------------------
// Zones
// ---------------------------------------------------------------------------------------------

/// The location values are interpreted in: Go's `loc` in `time.ParseInLocation`.
///
/// mtail loads it with `time.LoadLocation(--override_timezone)`, whose default `""` is UTC.
/// Named zones come from the system time zone database (`/usr/share/zoneinfo`).
#[derive(Debug, Clone, Default)]
pub struct Zone {
    tz: Option<Arc<NamedZone>>,
}

#[derive(Debug)]
struct NamedZone {
    name: String,
    tz: TimeZone,
    /// Every (abbreviation, offset) the zone has used, oldest first (Go's `Location.zone`).
    types: Vec<(Box<[u8]>, i32)>,
}

impl Zone {
    /// UTC, Go's `time.UTC`: it has no abbreviations of its own besides "UTC".
    pub fn utc() -> Zone {
        Zone { tz: None }
    }

    /// Go's `time.LoadLocation`: `""` and `"UTC"` are UTC, `"Local"` the system zone, anything
    /// else an IANA name such as `Europe/Berlin`.
    pub fn from_name(name: &str) -> Result<Zone, StrptimeError> {
        if name.is_empty() || name == "UTC" {
            return Ok(Zone::utc());
        }
        if name.starts_with('/') || name.starts_with('\\') || name.split('/').any(|p| p == "..") {
            return Err(StrptimeError::InvalidZoneName {
                name: name.to_owned(),
            });
        }
        let tz = if name == "Local" {
            TimeZone::try_system()
        } else {
            jiff::tz::db().get(name)
        }
        .map_err(|e| StrptimeError::UnknownZone {
            name: name.to_owned(),
            reason: e.to_string(),
        })?;
        let types = zone_types(&tz);
        Ok(Zone {
            tz: Some(Arc::new(NamedZone {
                name: name.to_owned(),
                tz,
                types,
            })),
        })
    }

    /// The name as Go prints the location (`UTC`, `Europe/Berlin`, `Local`).
    pub fn name(&self) -> &str {
        match &self.tz {
            None => "UTC",
            Some(z) => &z.name,
        }
    }

    /// Whether this is plain UTC.
    pub fn is_utc(&self) -> bool {
        self.tz.is_none()
    }

    /// The current year in this zone (mtail: `time.Now().In(loc).Year()`).
    pub fn current_year(&self) -> i64 {
        let now = Timestamp::now();
        let secs = now.as_second() + i64::from(self.offset_at(now.as_second()));
        civil_from_days(secs.div_euclid(SECS_PER_DAY)).0
    }

    /// The UTC offset in seconds in effect at `unix` (Go: `loc.lookup(unix).offset`).
    fn offset_at(&self, unix: i64) -> i32 {
        match &self.tz {
            None => 0,
            Some(z) => z.tz.to_offset(timestamp(unix)).seconds(),
        }
    }

    /// The offset in effect at `unix`, and whether its abbreviation is `name`.
    fn lookup(&self, unix: i64, name: &[u8]) -> (i32, bool) {
        match &self.tz {
            None => (0, name == b"UTC"),
            Some(z) => {
                let info = z.tz.to_offset_info(timestamp(unix));
                (
                    info.offset().seconds(),
                    info.abbreviation().as_bytes() == name,
                )
            }
        }
    }

    /// Go's `Location.lookupName`: the offset of abbreviation `name` around civil time `unix`,
    /// preferring a use of it actually in effect then.
    fn lookup_name(&self, name: &[u8], unix: i64) -> Option<i32> {
        let z = self.tz.as_ref()?;
        for (abbr, offset) in &z.types {
            if **abbr == *name {
                let (in_effect, same) = self.lookup(unix - i64::from(*offset), abbr);
                if same {
                    return Some(in_effect);
                }
            }
        }
        z.types
            .iter()
            .find(|(abbr, _)| **abbr == *name)
            .map(|&(_, offset)| offset)
    }

    /// Go's `time.Date` in this zone for a civil time given as seconds read as UTC: the Unix
    /// seconds, and the offset in effect then. In a gap or an overlap Go's choice is kept: look up
    /// the offset at the civil time read as UTC, then again at the instant that gives. (In a gap
    /// the offset in effect differs from the one used, e.g. 01:30 on a spring-forward day in
    /// London is 01:30 UTC, shown as 02:30 BST.)
    fn resolve_civil(&self, civil: i64) -> (i64, i32) {
        if self.tz.is_none() {
            return (civil, 0);
        }
        let guess = self.offset_at(civil);
        let unix = civil - i64::from(self.offset_at(civil - i64::from(guess)));
        (unix, self.offset_at(unix))
    }
}

/// A jiff timestamp for looking up the offset at Unix seconds `unix`. jiff stops at year 9999;
/// later instants are moved back by whole 400-year Gregorian cycles, which keeps the offset (zone
/// rules repeat by year); earlier ones are clamped (no zone has transitions there).
fn timestamp(unix: i64) -> Timestamp {
    const CYCLE: i64 = 146_097 * SECS_PER_DAY;
    let (min, max) = (Timestamp::MIN.as_second(), Timestamp::MAX.as_second());
    let secs = if unix > max {
        unix - ((unix - max) / CYCLE + 1) * CYCLE
    } else {
        unix.max(min)
    };
    Timestamp::from_second(secs).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// The (abbreviation, offset) pairs a zone has used, in order of first use, up to 2200.
fn zone_types(tz: &TimeZone) -> Vec<(Box<[u8]>, i32)> {
    let mut types: Vec<(Box<[u8]>, i32)> = Vec::new();
    let mut add = |abbr: &str, offset: i32| {
        if !types
            .iter()
            .any(|(a, o)| **a == *abbr.as_bytes() && *o == offset)
        {
            types.push((abbr.as_bytes().into(), offset));
        }
    };
    let first = tz.to_offset_info(Timestamp::MIN);
    add(first.abbreviation(), first.offset().seconds());
    let end = timestamp(days_from_civil(2200, 1, 1) * SECS_PER_DAY);
    for transition in tz.following(Timestamp::MIN).take(10_000) {
        if transition.timestamp() > end {
            break;
        }
        add(transition.abbreviation(), transition.offset().seconds());
    }
    types
}

// ---------------------------------------------------------------------------------------------
// Parsed times
// ---------------------------------------------------------------------------------------------

/// The instant a value denotes, and the UTC offset of the location Go gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ParsedTime {
    /// Seconds since 1970-01-01T00:00:00Z (Go: `t.Unix()`).
    pub unix_seconds: i64,
    /// Nanoseconds within the second, `0..1_000_000_000`.
    pub nanos: u32,
    /// Seconds east of UTC of the time's location at this instant (Go: `t.Zone()`); the civil
    /// time Go shows is `unix_seconds + offset_seconds`.
    pub offset_seconds: i32,
    /// Whether the location is the parse [`Zone`] itself (values without a zone, or whose offset
    /// or abbreviation is the zone's own then) rather than a fixed offset. Civil-time arithmetic
    /// re-resolves the offset in the zone only in that case.
    pub in_zone: bool,
}

impl ParsedTime {
    fn fixed(unix_seconds: i64, nanos: u32, offset_seconds: i32) -> ParsedTime {
        ParsedTime {
            unix_seconds,
            nanos,
            offset_seconds,
            in_zone: false,
        }
    }

    fn in_zone(unix_seconds: i64, nanos: u32, offset_seconds: i32) -> ParsedTime {
        ParsedTime {
            unix_seconds,
            nanos,
            offset_seconds,
            in_zone: true,
        }
    }

    /// A time at Unix seconds in UTC (mtail's `settime`).
    pub fn from_unix(unix_seconds: i64) -> ParsedTime {
        ParsedTime::fixed(unix_seconds, 0, 0)
    }

    /// Go's `t.UnixNano()`: wraps silently outside ±292 years around 1970 (e.g. for year 0).
    pub fn unix_nanos_wrapping(&self) -> i64 {
        self.unix_seconds
            .wrapping_mul(1_000_000_000)
            .wrapping_add(i64::from(self.nanos))
    }

    /// Seconds of the civil time read as UTC.
    fn civil_seconds(&self) -> i64 {
        self.unix_seconds
            .saturating_add(i64::from(self.offset_seconds))
    }

    /// The civil year in the time's location (Go: `t.Year()`).
    pub fn year(&self) -> i64 {
        civil_from_days(self.civil_seconds().div_euclid(SECS_PER_DAY)).0
    }

    /// The same month, day and time of day in `year` (Go: `t.AddDate(year - t.Year(), 0, 0)`,
    /// which mtail applies to year-0 results with the current year). February 29 rolls over to
    /// March 1 in a common year. `zone` must be the zone the time was parsed in; it decides the
    /// offset when the time is [`in_zone`](Self::in_zone). Years are clamped to ±1e9.
    pub fn with_year(&self, year: i64, zone: &Zone) -> ParsedTime {
        let civil = self.civil_seconds();
        let (_, month, day) = civil_from_days(civil.div_euclid(SECS_PER_DAY));
        let time_of_day = civil.rem_euclid(SECS_PER_DAY);
        let year = year.clamp(-1_000_000_000, 1_000_000_000);
        let new_civil = days_from_civil(year, month, day) * SECS_PER_DAY + time_of_day;
        if self.in_zone {
            let (unix, offset) = zone.resolve_civil(new_civil);
            ParsedTime::in_zone(unix, self.nanos, offset)
        } else {
            ParsedTime::fixed(
                new_civil - i64::from(self.offset_seconds),
                self.nanos,
                self.offset_seconds,
            )
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The VM's memo of parse results
// ---------------------------------------------------------------------------------------------

/// How many values [`StrptimeCache`] remembers (mtail: `lru.New(64)`).
pub const STRPTIME_CACHE_ENTRIES: usize = 64;

/// mtail's per-VM memo of `strptime` results: a least-recently-used cache of 64 entries keyed by
/// the value string only (not the layout), where a failed parse is remembered too (mtail stores
/// the zero time, so a repeated bad value is not reported again).
///
/// Lookups and updates do not allocate once a slot's key buffer is large enough; a lookup is a
/// scan of 64 hashes.
#[derive(Debug, Clone)]
pub struct StrptimeCache {
    hashes: [u64; STRPTIME_CACHE_ENTRIES],
    last_used: [u64; STRPTIME_CACHE_ENTRIES],
    results: [Option<ParsedTime>; STRPTIME_CACHE_ENTRIES],
    keys: Vec<Vec<u8>>,
    clock: u64,
    hasher: foldhash::fast::FixedState,
}

impl Default for StrptimeCache {
    fn default() -> Self {
        StrptimeCache::new()
    }
}

impl StrptimeCache {
    pub fn new() -> StrptimeCache {
        StrptimeCache {
            hashes: [0; STRPTIME_CACHE_ENTRIES],
            last_used: [0; STRPTIME_CACHE_ENTRIES],
            results: [None; STRPTIME_CACHE_ENTRIES],
            keys: Vec::with_capacity(STRPTIME_CACHE_ENTRIES),
            clock: 0,
            hasher: foldhash::fast::FixedState::with_seed(0x6d74_6169_6c5f_7374),
        }
    }

    /// The number of values remembered.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    fn find(&self, hash: u64, value: &[u8]) -> Option<usize> {
        let live = &self.hashes[..self.keys.len()];
        live.iter()
            .zip(&self.keys)
            .position(|(&h, key)| h == hash && key.as_slice() == value)
    }

    fn touch(&mut self, slot: usize) {
        self.clock += 1;
        self.last_used[slot] = self.clock;
    }

    /// `None` on a miss; `Some(None)` for a value remembered as failing; `Some(Some(t))` for a
    /// value remembered as parsing to `t`. A hit makes the value the most recently used.
    pub fn get(&mut self, value: &[u8]) -> Option<Option<ParsedTime>> {
        let slot = self.find(self.hasher.hash_one(value), value)?;
        self.touch(slot);
        Some(self.results[slot])
    }

    /// Remembers `result` for `value` (`None` for a failed parse), evicting the least recently
    /// used value when full.
    pub fn put(&mut self, value: &[u8], result: Option<ParsedTime>) {
        let hash = self.hasher.hash_one(value);
        let slot = match self.find(hash, value) {
            Some(slot) => slot,
            None if self.keys.len() < STRPTIME_CACHE_ENTRIES => {
                self.keys.push(value.to_vec());
                self.keys.len() - 1
            }
            None => {
                let oldest = (0..STRPTIME_CACHE_ENTRIES)
                    .min_by_key(|&i| self.last_used[i])
                    .unwrap_or(0);
                let key = &mut self.keys[oldest];
                key.clear();
                key.extend_from_slice(value);
                oldest
            }
        };
        self.hashes[slot] = hash;
        self.results[slot] = result;
        self.touch(slot);
    }
}

#[cfg(test)]
mod tests {
    //! Expected values were cross-checked against Go's `time.ParseInLocation`.
    use super::*;

    fn berlin() -> Zone {
        Zone::from_name("Europe/Berlin").expect("tz database with Europe/Berlin")
    }

    fn parse_in(layout: &str, value: &str, zone: &Zone) -> ParsedTime {
        Layout::new_unchecked(layout)
            .parse(value.as_bytes(), zone)
            .unwrap_or_else(|e| panic!("{layout:?} {value:?}: {e}"))
    }

    fn parse(layout: &str, value: &str) -> ParsedTime {
        parse_in(layout, value, &Zone::utc())
    }

    fn error(layout: &str, value: &str) -> String {
        match Layout::new_unchecked(layout).parse(value.as_bytes(), &Zone::utc()) {
            Ok(t) => panic!("{layout:?} {value:?} parsed to {t:?}"),
            Err(e) => e.to_string(),
        }
    }

    /// 2024-03-05T00:00:00Z
    const MAR5: i64 = 1_709_596_800;

    #[test]
    fn every_layout_element() {
        let h17 = 17 * 3600;
        #[rustfmt::skip]
        let cases: &[(&str, &str, i64, u32)] = &[
            ("2006 January 2", "2024 March 5", MAR5, 0),
            ("2006 Jan 2", "2024 mar 5", MAR5, 0),
            ("2006 1 2", "2024 3 5", MAR5, 0),
            ("2006 01 02", "2024 03 05", MAR5, 0),
            ("Monday 2006-01-02", "Tuesday 2024-03-05", MAR5, 0),
            // Day names are checked for syntax only.
            ("Mon 2006-01-02", "Fri 2024-03-05", MAR5, 0),
            ("2006-01-2", "2024-03-5", MAR5, 0),
            ("2006-01-_2", "2024-03- 5", MAR5, 0),
            ("2006-01-_2", "2024-03-15", MAR5 + 10 * 86_400, 0),
            ("2006-01-02", "2024-03-05", MAR5, 0),
            ("2006 __2", "2024  65", MAR5, 0),
            ("2006 002", "2024 065", MAR5, 0),
            ("2006-01-02 15", "2024-03-05 17", MAR5 + h17, 0),
            ("2006-01-02 3", "2024-03-05 5", MAR5 + 5 * 3600, 0),
            ("2006-01-02 03PM", "2024-03-05 05PM", MAR5 + h17, 0),
            ("2006-01-02 3pm", "2024-03-05 5am", MAR5 + 5 * 3600, 0),
            ("2006-01-02 15:4", "2024-03-05 17:7", MAR5 + h17 + 420, 0),
            ("2006-01-02 15:04", "2024-03-05 17:07", MAR5 + h17 + 420, 0),
            ("2006-01-02 15:04:5", "2024-03-05 17:07:9", MAR5 + h17 + 429, 0),
            ("2006-01-02 15:04:05", "2024-03-05 17:07:09", MAR5 + h17 + 429, 0),
            ("06-01-02", "24-03-05", MAR5, 0),
            ("06-01-02", "69-03-05", -26_092_800, 0),
            ("2006-01-02 15:04 MST", "2024-03-05 17:07 UTC", MAR5 + h17 + 420, 0),
            ("2006-01-02 15:04 Z0700", "2024-03-05 17:07 +0130", 1_709_653_020, 0),
            ("2006-01-02 15:04 Z0700", "2024-03-05 17:07 Z", MAR5 + h17 + 420, 0),
            ("2006-01-02 15:04 Z070000", "2024-03-05 17:07 -013015", 1_709_663_835, 0),
            ("2006-01-02 15:04 Z07", "2024-03-05 17:07 +05", 1_709_640_420, 0),
            ("2006-01-02 15:04 Z07:00", "2024-03-05 17:07 -03:30", 1_709_671_020, 0),
            ("2006-01-02 15:04 Z07:00:00", "2024-03-05 17:07 +01:02:03", 1_709_654_697, 0),
            ("2006-01-02 15:04 -0700", "2024-03-05 17:07 +0130", 1_709_653_020, 0),
            ("2006-01-02 15:04 -070000", "2024-03-05 17:07 -013015", 1_709_663_835, 0),
            ("2006-01-02 15:04 -07", "2024-03-05 17:07 +05", 1_709_640_420, 0),
            ("2006-01-02 15:04 -07:00", "2024-03-05 17:07 -03:30", 1_709_671_020, 0),
            ("2006-01-02 15:04 -07:00:00", "2024-03-05 17:07 +01:02:03", 1_709_654_697, 0),
            ("2006-01-02 15:04:05.000", "2024-03-05 17:07:09.123", MAR5 + h17 + 429, 123_000_000),
            ("2006-01-02 15:04:05.999", "2024-03-05 17:07:09.123456", MAR5 + h17 + 429, 123_456_000),
            ("2006-01-02 15:04:05.999", "2024-03-05 17:07:09", MAR5 + h17 + 429, 0),
            ("2006-01-02 15:04:05,000", "2024-03-05 17:07:09,123", MAR5 + h17 + 429, 123_000_000),
            ("2006-01-02 15:04:05,999", "2024-03-05 17:07:09.5", MAR5 + h17 + 429, 500_000_000),
        ];
        for &(layout, value, unix, nanos) in cases {
            let t = parse(layout, value);
            assert_eq!(
                (t.unix_seconds, t.nanos),
                (unix, nanos),
                "{layout:?} {value:?}"
            );
        }
    }

    #[test]
    fn mtail_example_layouts() {
        let cases: &[(&str, &str, i64)] = &[
            (
                "02/Jan/2006:15:04:05 -0700",
                "10/Oct/2000:13:55:36 -0700",
                971_211_336,
            ),
            ("2006/01/02 15:04:05", "2024/03/05 17:07:09", 1_709_658_429),
            // No year: year 0 (a leap year), before mtail puts in the current year.
            ("Jan _2 15:04:05", "Mar  5 17:07:09", -62_161_627_971),
            ("Jan _2 15:04:05", "Mar 15 17:07:09", -62_160_763_971),
            (
                "Jan _2 15:04:05 2006",
                "Mar  5 17:07:09 2024",
                1_709_658_429,
            ),
            // "03" is the 12-hour clock: 05 at +01:00 is 04:07:09Z.
            (
                "2006-01-02T03:04:05-0700",
                "2024-03-05T05:07:09+0100",
                1_709_611_629,
            ),
            ("2006-01-02 15:04:05", "2024-03-05 17:07:09", 1_709_658_429),
            (
                "2006-01-02T15:04:05Z07:00",
                "2024-03-05T17:07:09Z",
                1_709_658_429,
            ),
            (
                "2006-01-02T15:04:05Z07:00",
                "2024-03-05T17:07:09+05:30",
                1_709_638_629,
            ),
        ];
        for &(layout, value, unix) in cases {
            let compiled = Layout::new(layout).expect("mtail accepts its example layouts");
            let t = compiled.parse(value.as_bytes(), &Zone::utc()).expect(value);
            assert_eq!(t.unix_seconds, unix, "{layout:?} {value:?}");
        }
        assert_eq!(parse("Jan _2 15:04:05", "Mar  5 17:07:09").year(), 0);
    }

    #[test]
    fn year_zero_unix_nanos_wrap_like_go() {
        let t = parse("2006-01-02T15:04:05Z07:00", "0000-08-19T02:16:40Z");
        assert_eq!(t.unix_seconds, -62_147_252_600);
        assert_eq!(t.unix_nanos_wrapping(), -6_807_020_378_871_345_152);
        assert_eq!(t.year(), 0);
        let t = parse("2006-01-02 15:04:05.999", "2024-03-05 17:07:09.5");
        assert_eq!(t.unix_nanos_wrapping(), 1_709_658_429_500_000_000);
    }

    #[test]
    fn fraction_after_seconds_without_layout_element() {
        let t = parse("2006-01-02 15:04:05", "2024-03-05 17:07:09.123456789987");
        // Digits past nanoseconds are dropped.
        assert_eq!((t.unix_seconds, t.nanos), (1_709_658_429, 123_456_789));
        let t = parse("Jan _2 15:04:05", "Mar  5 17:07:09,25");
        assert_eq!(t.nanos, 250_000_000);
        assert!(error("15:04:05", "17:07:09.").contains("extra text: \".\""));
        // A fixed-width fraction demands its digits.
        assert!(error("15:04:05.000", "17:07:09.12").contains("cannot parse \".12\" as \".000\""));
    }

    #[test]
    fn out_of_range_and_syntax_errors_read_like_go() {
        #[rustfmt::skip]
        let cases: &[(&str, &str, &str)] = &[
            ("2006-01-02", "2024-13-01", r#"parsing time "2024-13-01": month out of range"#),
            ("2006-01-02", "2024-02-30", r#"parsing time "2024-02-30": day out of range"#),
            ("2006-01-02", "2023-02-29", r#"parsing time "2023-02-29": day out of range"#),
            ("2006-01-02", "2024-04-31", r#"parsing time "2024-04-31": day out of range"#),
            ("2006-01-02 15:04", "2024-01-01 24:00", r#"parsing time "2024-01-01 24:00": hour out of range"#),
            ("2006-01-02 15:04", "2024-01-01 23:60", r#"parsing time "2024-01-01 23:60": minute out of range"#),
            ("15:04:05", "23:59:60", r#"parsing time "23:59:60": second out of range"#),
            ("03:04", "13:00", r#"parsing time "13:00": hour out of range"#),
            ("2006-002", "2023-366", r#"parsing time "2023-366": day-of-year out of range"#),
            ("2006-01-02 002", "2024-03-01 060", r#"parsing time "2024-03-01 060": day-of-year does not match month"#),
            ("15:04 -0700", "00:00 +2500", r#"parsing time "00:00 +2500": time zone offset hour out of range"#),
            ("15:04:05.000", "00:00:00.-12", r#"parsing time "00:00:00.-12": fractional second out of range"#),
            ("2006-01-02", "2024-01-02 extra", r#"parsing time "2024-01-02 extra": extra text: " extra""#),
            ("2006-01-02", "2024/01/02", r#"parsing time "2024/01/02" as "2006-01-02": cannot parse "/01/02" as "-""#),
            ("2006-01-02", "24-01-02", r#"parsing time "24-01-02" as "2006-01-02": cannot parse "24-01-02" as "2006""#),
            ("Jan _2 15:04:05", "Foo  2 15:04:05", r#"parsing time "Foo  2 15:04:05" as "Jan _2 15:04:05": cannot parse "Foo  2 15:04:05" as "Jan""#),
            ("Mon Jan _2", "Xyz Jan  2", r#"parsing time "Xyz Jan  2" as "Mon Jan _2": cannot parse "Xyz Jan  2" as "Mon""#),
            ("15:04 PM", "01:00 XM", r#"parsing time "01:00 XM" as "15:04 PM": cannot parse "XM" as "PM""#),
            ("15:04 -0700", "17:07 Z", r#"parsing time "17:07 Z" as "15:04 -0700": cannot parse "Z" as "-0700""#),
            ("2006-01-02", "", r#"parsing time "" as "2006-01-02": cannot parse "" as "2006""#),
            ("2006", "2024\u{e9}\"", r#"parsing time "2024\xc3\xa9\"": extra text: "\xc3\xa9\"""#),
        ];
        for &(layout, value, message) in cases {
            assert_eq!(error(layout, value), message, "{layout:?} {value:?}");
        }
        // Invalid UTF-8 is data like any other.
        let err = Layout::new_unchecked("2006")
            .parse(b"2024\xff", &Zone::utc())
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "parsing time \"2024\\xff\": extra text: \"\\xff\""
        );
    }

    #[test]
    fn go_quirks_are_kept() {
        // Two-digit years take a sign: "-5" is -5, i.e. 1995.
        assert_eq!(parse("06", "-5").year(), 1995);
        // Day names are matched ignoring case; months too.
        assert_eq!(
            parse("Monday Jan 2 2006", "FRIDAY mar 5 2024").unix_seconds,
            MAR5
        );
        // A leap day of the year 0 is valid (year 0 is a leap year).
        assert_eq!(parse("Jan _2", "Feb 29").year(), 0);
        // 12 AM is midnight, 12 PM noon, 0 PM noon too.
        assert_eq!(
            parse("3:04PM", "12:00AM").unix_seconds.rem_euclid(86_400),
            0
        );
        assert_eq!(
            parse("3:04PM", "12:00PM").unix_seconds.rem_euclid(86_400),
            12 * 3600
        );
        assert_eq!(
            parse("3:04PM", "0:00PM").unix_seconds.rem_euclid(86_400),
            12 * 3600
        );
        // An offset of exactly -1 s is Go's "no offset" sentinel.
        let t = parse(
            "2006-01-02T15:04:05Z07:00:00",
            "2024-01-01T00:00:00-00:00:01",
        );
        assert_eq!(t.unix_seconds, 1_704_067_200);
        // A space in the layout matches a run of spaces.
        assert_eq!(parse("Jan 2 2006", "Mar   5  2024").unix_seconds, MAR5);
        // "_2006" is a literal underscore and the year; "Janx" is literal text.
        assert_eq!(parse("_2006", "_2024").year(), 2024);
        assert_eq!(parse("Janx 2006", "Janx 2024").year(), 2024);
        // Day of year 60 is Feb 29 in leap years, Mar 1 otherwise.
        assert_eq!(parse("2006-002", "2024-060").unix_seconds, 1_709_164_800);
        assert_eq!(parse("2006-002", "2023-060").unix_seconds, 1_677_628_800);
    }

    #[test]
    fn zone_abbreviations_follow_go() {
        let layout = "2006-01-02 15:04:05 MST";
        // Unknown in UTC: the civil time is read as UTC and only labelled.
        let t = parse(layout, "2024-01-15 12:00:00 PST");
        assert_eq!((t.unix_seconds, t.offset_seconds), (1_705_320_000, 0));
        // "GMT+3": same instant, labelled +03:00.
        let t = parse(layout, "2024-01-15 12:00:00 GMT+3");
        assert_eq!((t.unix_seconds, t.offset_seconds), (1_705_320_000, 10_800));
        let t = parse(layout, "2024-01-15 12:00:00 +03");
        assert_eq!((t.unix_seconds, t.offset_seconds), (1_705_320_000, 0));

        let berlin = berlin();
        // The zone's own abbreviation in effect: its offset.
        let t = parse_in(layout, "2024-07-01 12:00:00 CEST", &berlin);
        assert_eq!(
            (t.unix_seconds, t.offset_seconds, t.in_zone),
            (1_719_828_000, 7200, true)
        );
        let t = parse_in(layout, "2024-01-15 12:00:00 CET", &berlin);
        assert_eq!((t.unix_seconds, t.offset_seconds), (1_705_316_400, 3600));
        // The zone's abbreviation out of season: its offset all the same.
        let t = parse_in(layout, "2024-01-15 12:00:00 CEST", &berlin);
        assert_eq!((t.unix_seconds, t.offset_seconds), (1_705_312_800, 3600));
        // Not one of the zone's: zero offset.
        let t = parse_in(layout, "2024-01-15 12:00:00 EST", &berlin);
        assert_eq!(
            (t.unix_seconds, t.offset_seconds, t.in_zone),
            (1_705_320_000, 0, false)
        );
    }

    #[test]
    fn override_zone_interprets_values_without_offset() {
        let berlin = berlin();
        let layout = "2006-01-02 15:04:05";
        // Summer: CEST (+2), winter: CET (+1).
        let summer = parse_in(layout, "2024-07-01 12:00:00", &berlin);
        assert_eq!(
            (summer.unix_seconds, summer.offset_seconds),
            (1_719_828_000, 7200)
        );
        let winter = parse_in(layout, "2024-01-15 12:00:00", &berlin);
        assert_eq!(
            (winter.unix_seconds, winter.offset_seconds),
            (1_705_316_400, 3600)
        );
        // A numeric offset in the value wins over the zone.
        let t = parse_in(
            "2006-01-02 15:04:05 -0700",
            "2024-07-01 12:00:00 +0000",
            &berlin,
        );
        assert_eq!(
            (t.unix_seconds, t.offset_seconds, t.in_zone),
            (1_719_835_200, 0, false)
        );
        let t = parse_in(
            "2006-01-02 15:04:05 -0700",
            "2024-07-01 12:00:00 +0200",
            &berlin,
        );
        assert_eq!((t.unix_seconds, t.in_zone), (1_719_828_000, true));
        // Go's choices in the spring gap and the autumn overlap.
        let gap = parse_in(layout, "2024-03-31 02:30:00", &berlin);
        assert_eq!(
            (gap.unix_seconds, gap.offset_seconds),
            (1_711_848_600, 7200)
        );
        let overlap = parse_in(layout, "2024-10-27 02:30:00", &berlin);
        assert_eq!(
            (overlap.unix_seconds, overlap.offset_seconds),
            (1_729_992_600, 3600)
        );
        // Year 0 in Berlin is local mean time, +00:53:28.
        let t = parse_in("Jan _2 15:04:05", "Jul  4 12:00:00", &berlin);
        assert_eq!(
            (t.unix_seconds, t.offset_seconds, t.year()),
            (-62_151_195_208, 3208, 0)
        );
    }

    #[test]
    fn with_year_is_go_add_date() {
        let berlin = berlin();
        let layout = "Jan _2 15:04:05";
        // In the zone the offset is that of the new date.
        let t = parse_in(layout, "Jul  4 12:00:00", &berlin).with_year(2026, &berlin);
        assert_eq!(
            (t.unix_seconds, t.offset_seconds, t.year()),
            (1_783_159_200, 7200, 2026)
        );
        let t = parse_in(layout, "Jan  4 12:00:00", &berlin).with_year(2026, &berlin);
        assert_eq!((t.unix_seconds, t.offset_seconds), (1_767_524_400, 3600));
        let utc = Zone::utc();
        let t = parse(layout, "Jul  4 12:00:00").with_year(2026, &utc);
        assert_eq!(t.unix_seconds, 1_783_166_400);
        // Feb 29 of year 0 becomes Mar 1 in a common year.
        let t = parse(layout, "Feb 29 12:00:00").with_year(2026, &utc);
        assert_eq!(t.unix_seconds, 1_772_366_400);
        // A fixed offset stays; the year is the one seen at that offset.
        let t = parse("Jan _2 15:04:05 -0700", "Jan  1 00:30:00 +0100");
        assert_eq!(t.year(), 0);
        let t = t.with_year(2026, &utc);
        assert_eq!((t.unix_seconds, t.offset_seconds), (1_767_223_800, 3600));
        // Nanoseconds survive; absurd years do not panic.
        let t = parse("Jan _2 15:04:05.000", "Jan  1 00:00:00.250").with_year(2026, &utc);
        assert_eq!(t.nanos, 250_000_000);
        let _ = t.with_year(i64::MAX, &berlin).with_year(i64::MIN, &berlin);
    }

    #[test]
    fn layout_new_mirrors_mtail_check() {
        for ok in [
            "",
            "plain text",
            "Jan _2 15:04:05",
            "Mon Jan _2 15:04:05 MST 2006",
            "2006-01-02T15:04:05.999999999Z07:00",
            "2006 __2",
            "3:04pm",
        ] {
            assert!(Layout::new(ok).is_ok(), "{ok:?}");
        }
        // A literal Z or underscore cannot survive mtail's self-parse.
        let err = Layout::new("2006-01-02T15:04:05Z").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid time format string \"2006-01-02T15:04:05Z\""
        );
        match err {
            StrptimeError::InvalidLayout { cause, .. } => assert_eq!(
                cause.to_string(),
                "parsing time \"2006-01-02T15:04:05+\" as \"2006-01-02T15:04:05Z\": cannot parse \"+\" as \"Z\""
            ),
            other => panic!("{other:?}"),
        }
        for bad in ["2006_01_02", "_2006", "Z", "2006-01-02T15:04:05.000Z"] {
            assert!(Layout::new(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            Layout::new("Jan _2").map(|l| l.to_string()).ok().as_deref(),
            Some("Jan _2")
        );
    }

    #[test]
    fn layout_chunks_follow_next_std_chunk() {
        let stds = |layout: &str| -> Vec<Option<Std>> {
            Layout::new_unchecked(layout)
                .chunks
                .iter()
                .map(|c| c.std)
                .collect()
        };
        assert_eq!(stds("Month"), vec![None]);
        assert_eq!(stds("Mon"), vec![Some(Std::WeekDay), None]);
        assert_eq!(stds("07"), vec![None]);
        assert_eq!(stds("1"), vec![Some(Std::NumMonth), None]);
        assert_eq!(stds("__2"), vec![Some(Std::UnderYearDay), None]);
        // "__2" then a literal "0" and "06".
        assert_eq!(
            stds("__2006"),
            vec![Some(Std::UnderYearDay), Some(Std::Year), None]
        );
        assert_eq!(stds("_2006"), vec![Some(Std::LongYear), None]);
        assert_eq!(
            stds(".000x,99"),
            vec![Some(Std::FracSecond0(3)), Some(Std::FracSecond9(2)), None]
        );
        assert_eq!(stds(".0001"), vec![Some(Std::ZeroMonth), None]);
        assert_eq!(
            stds("-07:00:00 Z07"),
            vec![
                Some(Std::NumColonSecondsTZ),
                Some(Std::Iso8601ShortTZ),
                None
            ]
        );
    }

    #[test]
    fn zones_load_like_go_load_location() {
        assert!(Zone::from_name("").is_ok_and(|z| z.is_utc() && z.name() == "UTC"));
        assert!(Zone::from_name("UTC").is_ok_and(|z| z.is_utc()));
        assert_eq!(berlin().name(), "Europe/Berlin");
        assert!(matches!(
            Zone::from_name("Nowhere/Atlantis"),
            Err(StrptimeError::UnknownZone { .. })
        ));
        assert!(matches!(
            Zone::from_name("../etc/passwd"),
            Err(StrptimeError::InvalidZoneName { .. })
        ));
        let year = Zone::utc().current_year();
        assert!((2024..10_000).contains(&year));
        assert!((berlin().current_year() - year).abs() <= 1);
    }

    #[test]
    fn odd_values_never_panic() {
        let layouts: Vec<Layout> = [
            "02/Jan/2006:15:04:05 -0700",
            "Mon Jan _2 15:04:05.999 MST 2006",
            "2006-002 __2 Z07:00:00 -07 Z070000 pm PM 3 .000 ,9",
            "January Monday 06 1 2 4 5",
        ]
        .iter()
        .map(|l| Layout::new_unchecked(l))
        .collect();
        let alphabet = b" 0123456789+-:.,ZTAPMapmJanMonGMTUTCCEST_\xff";
        let berlin = berlin();
        let mut state: u64 = 0x1234_5678;
        let mut value = Vec::new();
        for _ in 0..20_000 {
            value.clear();
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            let len = (state >> 59) as usize;
            for _ in 0..len {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1);
                value.push(alphabet[(state >> 33) as usize % alphabet.len()]);
            }
            for layout in &layouts {
                let _ = layout.parse(&value, &Zone::utc());
                let _ = layout.parse(&value, &berlin);
            }
        }
    }

    fn at(unix_seconds: i64) -> Option<ParsedTime> {
        Some(ParsedTime::from_unix(unix_seconds))
    }

    #[test]
    fn cache_hits_misses_and_failures() {
        let mut cache = StrptimeCache::new();
        assert!(cache.is_empty());
        assert_eq!(cache.get(b"2024-01-01"), None);
        cache.put(b"2024-01-01", at(1_704_067_200));
        cache.put(b"garbage", None);
        assert_eq!(cache.get(b"2024-01-01"), Some(at(1_704_067_200)));
        // A failed parse is remembered as such.
        assert_eq!(cache.get(b"garbage"), Some(None));
        assert_eq!(cache.get(b"2024-01-02"), None);
        // Keyed by value only: putting again replaces.
        cache.put(b"2024-01-01", at(5));
        assert_eq!(cache.get(b"2024-01-01"), Some(at(5)));
        assert_eq!(cache.len(), 2);
    }

    #[test]
    fn cache_evicts_least_recently_used_past_64() {
        let mut cache = StrptimeCache::new();
        let key = |i: usize| format!("value {i}").into_bytes();
        for i in 0..STRPTIME_CACHE_ENTRIES {
            cache.put(&key(i), at(i as i64));
        }
        assert_eq!(cache.len(), STRPTIME_CACHE_ENTRIES);
        // Touch the oldest so that the second oldest goes first.
        assert_eq!(cache.get(&key(0)), Some(at(0)));
        cache.put(&key(100), at(100));
        assert_eq!(cache.len(), STRPTIME_CACHE_ENTRIES);
        assert_eq!(cache.get(&key(1)), None);
        assert_eq!(cache.get(&key(0)), Some(at(0)));
        assert_eq!(cache.get(&key(100)), Some(at(100)));
        // Another round evicts in insertion order from 2 on.
        for i in 200..210 {
            cache.put(&key(i), at(i as i64));
        }
        for i in 2..12 {
            assert_eq!(cache.get(&key(i)), None, "{i}");
        }
        for i in 12..STRPTIME_CACHE_ENTRIES {
            assert_eq!(cache.get(&key(i)), Some(at(i as i64)), "{i}");
        }
        // A long value replacing a short one is stored whole.
        let long = vec![b'x'; 1000];
        cache.put(&long, None);
        assert_eq!(cache.get(&long), Some(None));
    }
}
