//! Go time layouts and values: compiling a layout, parsing in UTC and in a zone with
//! daylight saving, and moving the result to another year.
#![no_main]

use libfuzzer_sys::fuzz_target;
use logmill::vm::strptime::{Layout, Zone};
use std::sync::OnceLock;

fn berlin() -> &'static Zone {
    static ZONE: OnceLock<Zone> = OnceLock::new();
    ZONE.get_or_init(|| Zone::from_name("Europe/Berlin").expect("Europe/Berlin is known"))
}

fuzz_target!(|data: &[u8]| {
    // The first byte picks where the layout ends and the value begins, and a year.
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let cut = usize::from(pick) % (rest.len() + 1);
    let (layout, value) = rest.split_at(cut);
    let layout = String::from_utf8_lossy(layout);
    let checked = Layout::new(&layout).ok();
    let unchecked = Layout::new_unchecked(&layout);
    let _ = unchecked.to_string();
    let utc = Zone::utc();
    let year = i64::from(pick) * 37 - 4000;
    for l in checked.iter().chain(std::iter::once(&unchecked)) {
        for zone in [&utc, berlin()] {
            if let Ok(t) = l.parse(value, zone) {
                let _ = t.unix_nanos_wrapping();
                let _ = t.year();
                let moved = t.with_year(year, zone);
                let _ = moved.year();
                let _ = t.with_year(zone.current_year(), zone);
                let _ = t.with_year(i64::MAX, zone);
                let _ = t.with_year(i64::MIN, zone);
            }
        }
    }
});
