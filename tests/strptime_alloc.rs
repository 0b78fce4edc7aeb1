//! `strptime` hot path: a successful parse and a cache hit do not allocate.

use std::alloc::{GlobalAlloc, Layout as AllocLayout, System};
use std::cell::Cell;

use logmill::vm::strptime::{Layout, StrptimeCache, Zone};

/// Counts allocations made by the current thread (tests run on several threads).
struct CountingAllocator;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: AllocLayout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: AllocLayout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: AllocLayout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

fn allocations_during(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

#[test]
fn successful_parse_does_not_allocate() {
    let berlin = Zone::from_name("Europe/Berlin").expect("tz database with Europe/Berlin");
    let cases = [
        ("02/Jan/2006:15:04:05 -0700", "10/Oct/2000:13:55:36 -0700"),
        ("Jan _2 15:04:05", "Mar  5 17:07:09"),
        ("2006-01-02T15:04:05Z07:00", "2024-03-05T17:07:09.123+05:30"),
        (
            "Mon Jan _2 15:04:05 MST 2006",
            "Tue Mar  5 17:07:09 CET 2024",
        ),
        ("2006-01-02 15:04:05", "2024-07-01 12:00:00"),
    ];
    for (layout, value) in cases {
        let layout = Layout::new(layout).expect("valid layout");
        for zone in [&Zone::utc(), &berlin] {
            let n = allocations_during(|| {
                let t = layout.parse(value.as_bytes(), zone).expect(value);
                let _ = t.with_year(2026, zone);
            });
            assert_eq!(n, 0, "{layout} {value:?} in {}", zone.name());
        }
    }
    // The counter does see allocations: an error carries owned copies.
    let layout = Layout::new("2006").expect("valid layout");
    assert!(allocations_during(|| assert!(layout.parse(b"x", &Zone::utc()).is_err())) > 0);
}

#[test]
fn cache_hits_and_refills_do_not_allocate() {
    let layout = Layout::new("2006-01-02 15:04:05").expect("valid layout");
    let mut cache = StrptimeCache::new();
    let values: Vec<String> = (0..100)
        .map(|i| format!("2024-01-01 00:{:02}:{:02}", i / 60, i % 60))
        .collect();
    // Fill every slot once (this allocates the key buffers).
    for v in &values[..64] {
        cache.put(v.as_bytes(), layout.parse(v.as_bytes(), &Zone::utc()).ok());
    }
    let n = allocations_during(|| {
        for v in &values[..64] {
            assert!(cache.get(v.as_bytes()).is_some());
        }
        assert_eq!(cache.get(b"not there"), None);
        // Evictions reuse the key buffers of equal-length values.
        for v in &values[64..] {
            cache.put(v.as_bytes(), None);
        }
    });
    assert_eq!(n, 0);
}
