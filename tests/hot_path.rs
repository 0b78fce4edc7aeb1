//! The per-line path allocates nothing once a line's series exist: a counting global allocator
//! watches the VM run mtail's example programs over realistic lines.

use logmill::compile::compile;
use logmill::vm::{Vm, VmOptions};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::Path;
use std::sync::Arc;

struct Counting;

thread_local! {
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.with(|a| a.set(a.get() + 1));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.with(|a| a.set(a.get() + 1));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations<T>(f: impl FnOnce() -> T) -> u64 {
    let before = ALLOCS.with(|a| a.get());
    std::hint::black_box(f());
    ALLOCS.with(|a| a.get()) - before
}

fn vm(name: &str) -> Vm {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!(
        "../shared/conformance/mtail/examples_all/{name}.mtail"
    ));
    let prog = compile(
        &format!("{name}.mtail"),
        &std::fs::read_to_string(path).unwrap(),
    )
    .unwrap();
    Vm::new(Arc::new(prog), VmOptions::default())
}

const APACHE: &[&str] = &[
    r#"192.168.0.1 - - [23/Mar/2018:12:31:04 +0000] "GET /api/config HTTP/1.1" 200 1425 "-" "Mozilla/5.0 (X11; Linux x86_64)""#,
    r#"10.1.2.3 - bob [23/Mar/2018:12:31:05 +0100] "POST /api/pools HTTP/2.0" 201 88 "https://example.org/" "curl/8.1""#,
    r#"2001:db8::1 - - [23/Mar/2018:12:31:06 -0700] "GET /index.html HTTP/1.1" 404 19 "-" "Googlebot/2.1""#,
    "a line that is not an access log line at all",
];

#[test]
fn apache_combined_allocates_nothing_per_line_after_warm_up() {
    let mut vm = vm("apache_combined");
    for l in APACHE {
        vm.run_line(l.as_bytes(), b"/var/log/access.log");
    }
    let n = allocations(|| {
        for _ in 0..200 {
            for l in APACHE {
                vm.run_line(l.as_bytes(), b"/var/log/access.log");
            }
        }
    });
    assert_eq!(vm.runtime_errors, 0);
    assert_eq!(n, 0, "allocations in 800 lines");
    let series: usize = vm.store.metrics.iter().map(|m| m.series.len()).sum();
    assert_eq!(series, 6, "3 request series and 3 byte series");
}

#[test]
fn linecount_allocates_nothing_per_line() {
    let mut vm = vm("linecount");
    vm.run_line(b"warm", b"f");
    let n = allocations(|| {
        for l in APACHE.iter().cycle().take(1000) {
            vm.run_line(l.as_bytes(), b"f");
        }
    });
    assert_eq!(n, 0);
}
