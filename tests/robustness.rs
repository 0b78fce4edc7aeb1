//! No input kills logmill: mutated programs through parse, check and compile, and hostile lines
//! (invalid UTF-8, NUL bytes, very long lines, random bytes) through every example program.
//! Deterministic (a fixed-seed generator), so a failure reproduces.

use logmill::compile::compile;
use logmill::vm::{Vm, VmOptions};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Arc;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const TOKENS: &[&str] = &[
    "{",
    "}",
    "\n",
    "/",
    "(",
    ")",
    "[",
    "]",
    "$1",
    "$x",
    "++",
    "+",
    "=~",
    "!~",
    "&&",
    "||",
    "~",
    "**",
    "<<",
    "-1",
    "1.5e3",
    "\"s\"",
    "const",
    "def",
    "@",
    "next",
    "stop",
    "del",
    "after",
    "1h",
    "otherwise",
    "else",
    "counter c",
    "gauge g by a",
    "histogram h buckets 1, 2",
    "text t",
    "hidden",
    "limit 3",
    "as \"x\"",
    "strptime(",
    "subst(",
    "len(",
    "timestamp()",
    "getfilename()",
    "tolower(",
    "strtol(",
    "int(",
    "float(",
    "string(",
    "bool(",
    "settime(",
    "(?P<n>\\d+)",
    "\\",
    "#",
];

fn programs() -> Vec<(String, String)> {
    let dir =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/conformance/mtail/examples_all");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|f| {
            (
                f.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read_to_string(&f).unwrap(),
            )
        })
        .collect()
}

fn mutate(rng: &mut Rng, src: &str) -> String {
    let mut b = src.as_bytes().to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(b.len() + 1);
        match rng.below(4) {
            0 => {
                let end = (at + rng.below(40)).min(b.len());
                b.drain(at..end);
            }
            1 => {
                let t = TOKENS[rng.below(TOKENS.len())].as_bytes();
                b.splice(at..at, t.iter().copied());
            }
            2 if !b.is_empty() => {
                let i = rng.below(b.len());
                b[i] = rng.next() as u8;
            }
            _ => {
                let end = (at + rng.below(60)).min(b.len());
                let piece = b[at..end].to_vec();
                b.splice(at..at, piece);
            }
        }
    }
    String::from_utf8_lossy(&b).into_owned()
}

fn hostile_lines(rng: &mut Rng) -> Vec<Vec<u8>> {
    let mut lines: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"\xff\xfe\x00\x01 not utf-8".to_vec(),
        b"\x00\x00\x00".to_vec(),
        "é日本語 ünïcödé 1.5e308 -9223372036854775809 99999999999999999999".as_bytes().to_vec(),
        br#"192.168.0.1 - - [23/Mar/2018:12:31:04 +0000] "GET / HTTP/1.1" 200 99999999999999999999 "-" "x""#.to_vec(),
        b"Feb 30 25:61:61 host prog[1]: message".to_vec(),
        vec![b'a'; 1 << 20],
    ];
    for _ in 0..50 {
        let n = rng.below(300);
        lines.push((0..n).map(|_| rng.next() as u8).collect());
    }
    lines
}

#[test]
fn mutated_programs_never_panic() {
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    let (mut compiled, mut rejected) = (0, 0);
    let lines = hostile_lines(&mut rng);
    for (name, src) in programs() {
        for _ in 0..120 {
            let m = mutate(&mut rng, &src);
            let result = catch_unwind(AssertUnwindSafe(|| compile(&name, &m)));
            match result {
                Err(_) => panic!("compile panicked on a mutant of {name}:\n{m}"),
                Ok(Err(e)) => {
                    assert!(
                        !e.diagnostics.is_empty(),
                        "a rejected program must say why:\n{m}"
                    );
                    let _ = e.to_string();
                    rejected += 1;
                }
                Ok(Ok(p)) => {
                    compiled += 1;
                    let mut vm = Vm::new(Arc::new(p), VmOptions::default());
                    let ran = catch_unwind(AssertUnwindSafe(|| {
                        for l in lines.iter().take(12) {
                            vm.run_line(l, b"/var/log/x.log");
                        }
                    }));
                    assert!(ran.is_ok(), "the VM panicked on a mutant of {name}:\n{m}");
                }
            }
        }
    }
    println!(
        "mutated programs: passed {}/{} ({compiled} compiled, {rejected} rejected)",
        compiled + rejected,
        compiled + rejected
    );
}

#[test]
fn hostile_lines_never_panic_any_example_program() {
    let mut rng = Rng(42);
    let lines = hostile_lines(&mut rng);
    let mut ran = 0;
    for (name, src) in programs() {
        let prog = compile(&name, &src).unwrap();
        let mut vm = Vm::new(Arc::new(prog), VmOptions::default());
        let ok = catch_unwind(AssertUnwindSafe(|| {
            for l in &lines {
                vm.run_line(l, b"/var/log/x.log");
            }
        }));
        assert!(ok.is_ok(), "{name} panicked");
        ran += 1;
    }
    println!("hostile lines: passed {ran}/17 programs");
}
