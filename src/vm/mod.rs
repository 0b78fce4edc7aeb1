//! The VM: runs a compiled [`Program`] on one line at a time, writing into its [`ProgramStore`].
//!
//! Per line: the line set (one multi-pattern scan) answers every "does regex N match the
//! line?" at once; captures are extracted only for regexes whose groups the program reads.
//! Strings on the stack are byte ranges into the line, the program's constants, the source
//! name or a per-line scratch buffer, so a line costs no allocation unless a new series is
//! created. A runtime error ends the line for this program only and is counted.

pub mod ops;
pub mod strptime;

use crate::check::ir::Conv;
use crate::compile::bytecode::Op;
use crate::compile::Program;
use crate::store::{format, labels, observe, ProgramStore, Value};
use regex_automata::nfa::thompson::backtrack;
use regex_automata::util::primitives::NonMaxUsize;
use regex_automata::{meta, Anchored, Input, PatternSet};
use std::sync::Arc;
use strptime::{Layout, ParsedTime, StrptimeCache, Zone};

/// Settings that change how a program runs.
#[derive(Debug, Clone)]
pub struct VmOptions {
    /// Give year-0 `strptime` results (yearless syslog dates) the current year.
    pub syslog_use_current_year: bool,
    /// The zone of times parsed without an offset.
    pub zone: Zone,
    /// `--max_line_length`: lines are cut at this many bytes by whoever splits them.
    pub max_line_length: usize,
    /// `--max_series`: most series one program holds in metrics without `limit` (0: no cap).
    pub max_series: usize,
}

impl Default for VmOptions {
    fn default() -> VmOptions {
        VmOptions {
            syslog_use_current_year: true,
            zone: Zone::utc(),
            max_line_length: crate::tail::lines::DEFAULT_MAX_LINE,
            max_series: 0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Src {
    Line,
    Scratch,
    File,
    Const(u32),
}

/// A string value: a byte range of one of the line's buffers.
#[derive(Debug, Clone, Copy)]
struct Str {
    src: Src,
    start: u32,
    end: u32,
}

#[derive(Debug, Clone, Copy)]
enum Val {
    Int(i64),
    Float(f64),
    Bool(bool),
    Str(Str),
}

/// Where the last match of a regex left its captures, and the engines' scratch space.
struct Captures {
    /// Start and end of each group (`2g`, `2g + 1`), relative to the subject.
    slots: Vec<Option<NonMaxUsize>>,
    meta_cache: Option<meta::Cache>,
    backtrack_cache: Option<backtrack::Cache>,
    /// The run matcher's backtracking stack.
    run_stack: Vec<crate::compile::runs::Frame>,
    src: Src,
    base: u32,
    /// The line number (per VM) of the match; older captures read as "".
    line: u64,
}

impl Captures {
    fn new(regex: &crate::compile::Regex) -> Captures {
        let engine = regex.captures.as_ref();
        Captures {
            slots: vec![None; 2 * regex.re.captures_len()],
            meta_cache: engine.map(|e| e.meta.create_cache()),
            backtrack_cache: engine
                .and_then(|e| e.anchored.as_ref())
                .map(|b| b.create_cache()),
            run_stack: Vec::new(),
            src: Src::Line,
            base: 0,
            line: 0,
        }
    }

    /// Group `g` of the last match, if it was on line `line` and the group took part.
    fn group(&self, g: usize, line: u64) -> Option<(usize, usize)> {
        if self.line != line {
            return None;
        }
        let s = self.slots.get(2 * g).copied().flatten()?;
        let e = self.slots.get(2 * g + 1).copied().flatten()?;
        Some((s.get(), e.get()))
    }
}

/// The buffers a [`Str`] can point into.
struct Bufs<'a> {
    line: &'a [u8],
    file: &'a [u8],
    scratch: &'a [u8],
    consts: &'a [Box<[u8]>],
}

impl Bufs<'_> {
    #[inline]
    fn get(&self, s: Str) -> &[u8] {
        let buf: &[u8] = match s.src {
            Src::Line => self.line,
            Src::Scratch => self.scratch,
            Src::File => self.file,
            Src::Const(i) => self.consts.get(i as usize).map_or(&[][..], |b| &b[..]),
        };
        buf.get(s.start as usize..s.end as usize).unwrap_or(&[])
    }
}

/// A program's VM: its store, and the scratch state reused from line to line.
pub struct Vm {
    prog: Arc<Program>,
    pub store: ProgramStore,
    opts: VmOptions,
    layouts: Vec<Layout>,
    stack: Vec<Val>,
    scratch: Vec<u8>,
    tmp: Vec<u8>,
    key: Vec<u8>,
    caps: Vec<Captures>,
    /// Index of each regex in the line set, if it is a member.
    set_index: Vec<Option<u32>>,
    set_cache: Option<meta::Cache>,
    set_matches: PatternSet,
    set_done: bool,
    strptime_cache: StrptimeCache,
    lines: u64,
    time: Option<ParsedTime>,
    now_ns: Option<i64>,
    /// Runtime errors so far, and the last one's message.
    pub runtime_errors: u64,
    pub last_error: Option<String>,
}

impl Vm {
    pub fn new(prog: Arc<Program>, opts: VmOptions) -> Vm {
        let mut store = ProgramStore::new(&prog.metrics);
        store.max_series = opts.max_series;
        let layouts = prog
            .layouts
            .iter()
            .map(|l| Layout::new_unchecked(l))
            .collect();
        let caps = prog.regexes.iter().map(Captures::new).collect();
        let mut set_index = vec![None; prog.regexes.len()];
        let (set_cache, set_matches) = match &prog.line_set {
            Some(ls) => {
                for (i, &r) in ls.members.iter().enumerate() {
                    set_index[r as usize] = Some(i as u32);
                }
                (
                    Some(ls.set.create_cache()),
                    PatternSet::new(ls.set.pattern_len()),
                )
            }
            None => (None, PatternSet::new(0)),
        };
        Vm {
            prog,
            store,
            opts,
            layouts,
            stack: Vec::with_capacity(64),
            scratch: Vec::with_capacity(1024),
            tmp: Vec::with_capacity(256),
            key: Vec::with_capacity(256),
            caps,
            set_index,
            set_cache,
            set_matches,
            set_done: false,
            strptime_cache: StrptimeCache::new(),
            lines: 0,
            time: None,
            now_ns: None,
            runtime_errors: 0,
            last_error: None,
        }
    }

    pub fn program(&self) -> &Arc<Program> {
        &self.prog
    }

    pub fn options(&self) -> &VmOptions {
        &self.opts
    }

    /// Run the program on one line (without its newline). `file` is what `getfilename()` returns.
    pub fn run_line(&mut self, line: &[u8], file: &[u8]) {
        let line = &line[..line.len().min(u32::MAX as usize)];
        self.lines += 1;
        self.stack.clear();
        self.scratch.clear();
        self.set_done = false;
        self.time = None;
        self.now_ns = None;
        if let Err(e) = self.exec(line, file) {
            self.runtime_errors += 1;
            self.last_error = Some(e);
        }
    }

    fn now(&mut self) -> i64 {
        *self
            .now_ns
            .get_or_insert_with(|| jiff::Timestamp::now().as_nanosecond() as i64)
    }

    /// The time stamped on datums written now: the time register, or the wall clock.
    fn stamp(&mut self) -> i64 {
        match self.time {
            Some(t) => t.unix_nanos_wrapping(),
            None => self.now(),
        }
    }

    fn exec(&mut self, line: &[u8], file: &[u8]) -> Result<(), String> {
        let prog = Arc::clone(&self.prog);
        let code = &prog.code[..];
        let mut pc = 0usize;
        let mut matched = false;
        while let Some(op) = code.get(pc) {
            pc += 1;
            match *op {
                Op::PushInt(i) => self.stack.push(Val::Int(i)),
                Op::PushFloat(f) => self.stack.push(Val::Float(f)),
                Op::PushBool(b) => self.stack.push(Val::Bool(b)),
                Op::PushStr(id) => {
                    let len = prog.strings.get(id.0 as usize).map_or(0, |s| s.len());
                    self.stack.push(Val::Str(Str {
                        src: Src::Const(id.0),
                        start: 0,
                        end: len as u32,
                    }));
                }
                Op::Pop => {
                    self.pop()?;
                }
                Op::Capture(r, g) => {
                    let c = &self.caps[r.0 as usize];
                    let s = match c.group(g as usize, self.lines) {
                        Some((s, e)) => Str {
                            src: c.src,
                            start: c.base + s as u32,
                            end: c.base + e as u32,
                        },
                        _ => Str {
                            src: Src::Scratch,
                            start: 0,
                            end: 0,
                        },
                    };
                    self.stack.push(Val::Str(s));
                }
                Op::Defined(r, g) => {
                    let c = &self.caps[r.0 as usize];
                    let d = c.group(g as usize, self.lines).is_some();
                    self.stack.push(Val::Bool(d));
                }
                Op::MatchLine(r) => {
                    let m = self.match_line(&prog, r.0 as usize, line);
                    self.stack.push(Val::Bool(m));
                }
                Op::MatchStr(r) => {
                    let s = self.pop_str()?;
                    let ri = r.0 as usize;
                    let regex = &prog.regexes[ri];
                    let bufs = Bufs {
                        line,
                        file,
                        scratch: &self.scratch,
                        consts: &prog.strings,
                    };
                    let subject = bufs.get(s);
                    let m = if regex.captures_read {
                        capture(
                            regex,
                            &mut self.caps[ri],
                            subject,
                            s.src,
                            s.start,
                            self.lines,
                        )
                    } else {
                        regex.re.is_match(subject)
                    };
                    self.stack.push(Val::Bool(m));
                }
                Op::Not => {
                    let b = self.pop_bool()?;
                    self.stack.push(Val::Bool(!b));
                }
                Op::Convert(conv) => self.convert(conv, line, file, &prog)?,
                Op::IntOp(op) => {
                    let b = self.pop_int()?;
                    let a = self.pop_int()?;
                    self.stack.push(Val::Int(ops::int_op(op, a, b)?));
                }
                Op::FloatOp(op) => {
                    let b = self.pop_float()?;
                    let a = self.pop_float()?;
                    self.stack.push(Val::Float(ops::float_op(op, a, b)?));
                }
                Op::Concat => {
                    let b = self.pop_str()?;
                    let a = self.pop_str()?;
                    let s = self.concat(&[a, b], line, file, &prog);
                    self.stack.push(Val::Str(s));
                }
                Op::CmpInt(op) => {
                    let b = self.pop_int()?;
                    let a = self.pop_int()?;
                    self.stack.push(Val::Bool(ops::compare(op, &a, &b)));
                }
                Op::CmpFloat(op) => {
                    let b = self.pop_float()?;
                    let a = self.pop_float()?;
                    self.stack.push(Val::Bool(ops::compare(op, &a, &b)));
                }
                Op::CmpStr(op) => {
                    let b = self.pop_str()?;
                    let a = self.pop_str()?;
                    let bufs = Bufs {
                        line,
                        file,
                        scratch: &self.scratch,
                        consts: &prog.strings,
                    };
                    let r = ops::compare(op, bufs.get(a), bufs.get(b));
                    self.stack.push(Val::Bool(r));
                }
                Op::BitNot => {
                    let a = self.pop_int()?;
                    self.stack.push(Val::Int(!a));
                }
                Op::Jmp(a) => pc = a as usize,
                Op::JmpFalseOrPop(a) => {
                    if self.peek_bool()? {
                        self.stack.pop();
                    } else {
                        pc = a as usize;
                    }
                }
                Op::JmpTrueOrPop(a) => {
                    if self.peek_bool()? {
                        pc = a as usize;
                    } else {
                        self.stack.pop();
                    }
                }
                Op::Cond(a) => {
                    matched = self.pop_bool()?;
                    if !matched {
                        pc = a as usize;
                    }
                }
                Op::SetMatched(b) => matched = b,
                Op::Otherwise => matched = !matched,
                Op::JmpNotMatched(a) => {
                    if !matched {
                        pc = a as usize;
                    }
                }
                Op::Stop => return Ok(()),
                Op::Load(m, n) => {
                    let t = self.stamp();
                    self.build_key(n, line, file, &prog)?;
                    let d = self.store.datum(m, &self.key, t);
                    let v = match &d.value {
                        Value::Int(i) => Val::Int(*i),
                        Value::Float(f) => Val::Float(*f),
                        Value::Hist(h) => Val::Float(h.sum),
                        Value::Str(s) => {
                            let start = self.scratch.len() as u32;
                            self.scratch.extend_from_slice(s.as_bytes());
                            Val::Str(Str {
                                src: Src::Scratch,
                                start,
                                end: self.scratch.len() as u32,
                            })
                        }
                    };
                    self.stack.push(v);
                }
                Op::Set(m, n) | Op::Add(m, n) | Op::Observe(m, n) => {
                    let v = self.pop()?;
                    let t = self.stamp();
                    self.build_key(n, line, file, &prog)?;
                    let bufs = Bufs {
                        line,
                        file,
                        scratch: &self.scratch,
                        consts: &prog.strings,
                    };
                    let def_kind = prog.metrics[m.0 as usize].kind;
                    let d = self.store.datum(m, &self.key, t);
                    d.time_ns = t;
                    match (*op, &mut d.value, v) {
                        (Op::Observe(..), Value::Hist(h), v) => {
                            let x = match v {
                                Val::Int(i) => i as f64,
                                Val::Float(f) => f,
                                _ => return Err("histogram observation is not a number".into()),
                            };
                            observe(&prog.metrics[m.0 as usize].buckets, h, x);
                        }
                        (Op::Set(..), Value::Int(x), Val::Int(i)) => *x = i,
                        (Op::Set(..), Value::Float(x), Val::Float(f)) => *x = f,
                        (Op::Set(..), Value::Float(x), Val::Int(i)) => *x = i as f64,
                        (Op::Set(..), Value::Str(x), Val::Str(s)) => {
                            x.clear();
                            x.push_str(&String::from_utf8_lossy(bufs.get(s)));
                        }
                        (Op::Add(..), Value::Int(x), Val::Int(i)) => *x = x.wrapping_add(i),
                        (Op::Add(..), Value::Float(x), Val::Float(f)) => *x += f,
                        (Op::Add(..), Value::Float(x), Val::Int(i)) => *x += i as f64,
                        (Op::Add(..), Value::Str(x), Val::Str(s)) => {
                            x.push_str(&String::from_utf8_lossy(bufs.get(s)))
                        }
                        (_, _, v) => {
                            return Err(format!(
                                "can't write {v:?} to a {} metric",
                                def_kind.as_str()
                            ));
                        }
                    }
                }
                Op::Inc(m, n) | Op::Dec(m, n) => {
                    let t = self.stamp();
                    self.build_key(n, line, file, &prog)?;
                    let d = self.store.datum(m, &self.key, t);
                    d.time_ns = t;
                    let delta = if matches!(op, Op::Inc(..)) { 1 } else { -1 };
                    match &mut d.value {
                        Value::Int(x) => *x = x.wrapping_add(delta),
                        Value::Float(x) => *x += delta as f64,
                        _ => return Err("can't increment a non-numeric metric".into()),
                    }
                }
                Op::Del(m, n) => {
                    self.build_key(n, line, file, &prog)?;
                    self.store.metric(m).delete(&self.key);
                }
                Op::Expire(m, n, ns) => {
                    self.build_key(n, line, file, &prog)?;
                    if self.store.expire_after(m, &self.key, ns).is_none() {
                        return Err("No datum for given labelvalues".into());
                    }
                }
                Op::Len => {
                    let s = self.pop_str()?;
                    self.stack.push(Val::Int((s.end - s.start) as i64));
                }
                Op::Tolower => {
                    let s = self.pop_str()?;
                    let bufs = Bufs {
                        line,
                        file,
                        scratch: &self.scratch,
                        consts: &prog.strings,
                    };
                    self.tmp.clear();
                    let b = bufs.get(s);
                    match std::str::from_utf8(b) {
                        Ok(t) if !t.is_ascii() => {
                            self.tmp.extend_from_slice(t.to_lowercase().as_bytes())
                        }
                        _ => self.tmp.extend(b.iter().map(|c| c.to_ascii_lowercase())),
                    }
                    let s = self.push_tmp();
                    self.stack.push(Val::Str(s));
                }
                Op::Strtol => {
                    let base = self.pop_int()?;
                    let s = self.pop_str()?;
                    let bufs = Bufs {
                        line,
                        file,
                        scratch: &self.scratch,
                        consts: &prog.strings,
                    };
                    let v = ops::parse_int(bufs.get(s), base)?;
                    self.stack.push(Val::Int(v));
                }
                Op::SubstRegex(r) => {
                    let s = self.pop_str()?;
                    let new = self.pop_str()?;
                    let bufs = Bufs {
                        line,
                        file,
                        scratch: &self.scratch,
                        consts: &prog.strings,
                    };
                    let out = prog.regexes[r.0 as usize]
                        .re
                        .replace_all(bufs.get(s), regex::bytes::NoExpand(bufs.get(new)));
                    self.tmp.clear();
                    self.tmp.extend_from_slice(&out);
                    let s = self.push_tmp();
                    self.stack.push(Val::Str(s));
                }
                Op::SubstStr => {
                    let s = self.pop_str()?;
                    let new = self.pop_str()?;
                    let old = self.pop_str()?;
                    let bufs = Bufs {
                        line,
                        file,
                        scratch: &self.scratch,
                        consts: &prog.strings,
                    };
                    self.tmp.clear();
                    replace_all(&mut self.tmp, bufs.get(s), bufs.get(old), bufs.get(new));
                    let s = self.push_tmp();
                    self.stack.push(Val::Str(s));
                }
                Op::Strptime(l) => {
                    let s = self.pop_str()?;
                    self.strptime(s, Some(l.0 as usize), None, line, file, &prog)?;
                }
                Op::StrptimeDyn => {
                    let layout = self.pop_str()?;
                    let s = self.pop_str()?;
                    self.strptime(s, None, Some(layout), line, file, &prog)?;
                }
                Op::Settime => {
                    let secs = self.pop_int()?;
                    self.time = Some(ParsedTime::from_unix(secs));
                }
                Op::Timestamp => {
                    let secs = match self.time {
                        Some(t) => t.unix_seconds,
                        None => self.now().div_euclid(1_000_000_000),
                    };
                    self.stack.push(Val::Int(secs));
                }
                Op::Getfilename => {
                    self.stack.push(Val::Str(Str {
                        src: Src::File,
                        start: 0,
                        end: file.len() as u32,
                    }));
                }
            }
        }
        Ok(())
    }

    /// Does regex `ri` match the whole line? Uses the line set when the regex is in it.
    fn match_line(&mut self, prog: &Program, ri: usize, line: &[u8]) -> bool {
        if let (Some(ls), Some(si)) = (&prog.line_set, self.set_index[ri]) {
            if !self.set_done {
                self.set_matches.clear();
                if let Some(cache) = self.set_cache.as_mut() {
                    ls.set.which_overlapping_matches_with(
                        cache,
                        &Input::new(line),
                        &mut self.set_matches,
                    );
                }
                self.set_done = true;
            }
            let pid = regex_automata::PatternID::new_unchecked(si as usize);
            if !self.set_matches.contains(pid) {
                return false;
            }
            if !prog.regexes[ri].captures_read {
                return true;
            }
        }
        let regex = &prog.regexes[ri];
        if regex.captures_read {
            capture(regex, &mut self.caps[ri], line, Src::Line, 0, self.lines)
        } else {
            regex.re.is_match(line)
        }
    }

    fn strptime(
        &mut self,
        s: Str,
        layout: Option<usize>,
        dynamic: Option<Str>,
        line: &[u8],
        file: &[u8],
        prog: &Program,
    ) -> Result<(), String> {
        let bufs = Bufs {
            line,
            file,
            scratch: &self.scratch,
            consts: &prog.strings,
        };
        let value = bufs.get(s);
        if let Some(cached) = self.strptime_cache.get(value) {
            // A cached failure is the zero time: the line is stamped "now", with no new error.
            self.time = cached;
            return Ok(());
        }
        let parsed = match (layout, dynamic) {
            (Some(i), _) => self.layouts[i].parse(value, &self.opts.zone),
            (None, Some(l)) => {
                let text = String::from_utf8_lossy(bufs.get(l)).into_owned();
                Layout::new(&text).and_then(|l| l.parse(value, &self.opts.zone))
            }
            (None, None) => return Ok(()),
        };
        match parsed {
            Ok(mut t) => {
                if t.year() == 0 && self.opts.syslog_use_current_year {
                    t = t.with_year(self.opts.zone.current_year(), &self.opts.zone);
                }
                self.strptime_cache.put(value, Some(t));
                self.time = Some(t);
                Ok(())
            }
            Err(e) => {
                self.strptime_cache.put(value, None);
                Err(e.to_string())
            }
        }
    }

    fn convert(
        &mut self,
        conv: Conv,
        line: &[u8],
        file: &[u8],
        prog: &Program,
    ) -> Result<(), String> {
        let v = self.pop()?;
        let out = match (conv, v) {
            (Conv::StrToInt, Val::Str(s)) => {
                let bufs = Bufs {
                    line,
                    file,
                    scratch: &self.scratch,
                    consts: &prog.strings,
                };
                Val::Int(ops::parse_int(bufs.get(s), 10)?)
            }
            (Conv::StrToFloat, Val::Str(s)) => {
                let bufs = Bufs {
                    line,
                    file,
                    scratch: &self.scratch,
                    consts: &prog.strings,
                };
                Val::Float(ops::parse_float(bufs.get(s))?)
            }
            (Conv::IntToFloat, Val::Int(i)) => Val::Float(i as f64),
            (Conv::IntToStr, Val::Int(i)) => {
                let start = self.scratch.len() as u32;
                format::push_i64(&mut self.scratch, i);
                Val::Str(Str {
                    src: Src::Scratch,
                    start,
                    end: self.scratch.len() as u32,
                })
            }
            (Conv::FloatToStr, Val::Float(f)) => {
                let start = self.scratch.len() as u32;
                format::push_go_float(&mut self.scratch, f);
                Val::Str(Str {
                    src: Src::Scratch,
                    start,
                    end: self.scratch.len() as u32,
                })
            }
            (Conv::IntToBool, Val::Int(i)) => Val::Bool(i != 0),
            (Conv::BoolToInt, Val::Bool(b)) => Val::Int(b as i64),
            // `~x` is typed Bool but carries its Int value.
            (Conv::BoolToInt, Val::Int(i)) => Val::Int(i),
            (conv, v) => return Err(format!("internal error: can't apply {conv:?} to {v:?}")),
        };
        self.stack.push(out);
        Ok(())
    }

    /// Pop `n` label values and encode them into `self.key`.
    fn build_key(&mut self, n: u8, line: &[u8], file: &[u8], prog: &Program) -> Result<(), String> {
        let n = n as usize;
        if self.stack.len() < n {
            return Err("internal error: stack underflow".into());
        }
        let at = self.stack.len() - n;
        self.key.clear();
        for v in &self.stack[at..] {
            match *v {
                Val::Str(s) => {
                    let bufs = Bufs {
                        line,
                        file,
                        scratch: &self.scratch,
                        consts: &prog.strings,
                    };
                    labels::push(&mut self.key, bufs.get(s));
                }
                Val::Int(i) => {
                    self.tmp.clear();
                    format::push_i64(&mut self.tmp, i);
                    labels::push(&mut self.key, &self.tmp);
                }
                Val::Float(f) => {
                    self.tmp.clear();
                    format::push_go_float(&mut self.tmp, f);
                    labels::push(&mut self.key, &self.tmp);
                }
                Val::Bool(b) => labels::push(&mut self.key, if b { b"1" } else { b"0" }),
            }
        }
        self.stack.truncate(at);
        Ok(())
    }

    fn concat(&mut self, parts: &[Str], line: &[u8], file: &[u8], prog: &Program) -> Str {
        self.tmp.clear();
        let bufs = Bufs {
            line,
            file,
            scratch: &self.scratch,
            consts: &prog.strings,
        };
        for p in parts {
            self.tmp.extend_from_slice(bufs.get(*p));
        }
        self.push_tmp()
    }

    /// Move `tmp` to the end of the scratch buffer, as a string value.
    fn push_tmp(&mut self) -> Str {
        let start = self.scratch.len() as u32;
        self.scratch.extend_from_slice(&self.tmp);
        Str {
            src: Src::Scratch,
            start,
            end: self.scratch.len() as u32,
        }
    }

    #[inline]
    fn pop(&mut self) -> Result<Val, String> {
        self.stack
            .pop()
            .ok_or_else(|| "internal error: stack underflow".to_string())
    }

    #[inline]
    fn pop_int(&mut self) -> Result<i64, String> {
        match self.pop()? {
            Val::Int(i) => Ok(i),
            Val::Bool(b) => Ok(b as i64),
            v => Err(format!("internal error: expected Int, found {v:?}")),
        }
    }

    #[inline]
    fn pop_float(&mut self) -> Result<f64, String> {
        match self.pop()? {
            Val::Float(f) => Ok(f),
            Val::Int(i) => Ok(i as f64),
            v => Err(format!("internal error: expected Float, found {v:?}")),
        }
    }

    #[inline]
    fn pop_bool(&mut self) -> Result<bool, String> {
        match self.pop()? {
            Val::Bool(b) => Ok(b),
            Val::Int(i) => Ok(i != 0),
            v => Err(format!("internal error: expected Bool, found {v:?}")),
        }
    }

    #[inline]
    fn peek_bool(&self) -> Result<bool, String> {
        match self.stack.last() {
            Some(Val::Bool(b)) => Ok(*b),
            Some(Val::Int(i)) => Ok(*i != 0),
            v => Err(format!("internal error: expected Bool, found {v:?}")),
        }
    }

    #[inline]
    fn pop_str(&mut self) -> Result<Str, String> {
        match self.pop()? {
            Val::Str(s) => Ok(s),
            v => Err(format!("internal error: expected String, found {v:?}")),
        }
    }
}

/// Match `regex` against `subject` (a string of buffer `src` starting at `base`), keeping its
/// captures in `c` for the line numbered `line`.
fn capture(
    regex: &crate::compile::Regex,
    c: &mut Captures,
    subject: &[u8],
    src: Src,
    base: u32,
    line: u64,
) -> bool {
    let Some(engine) = &regex.captures else {
        return regex.re.is_match(subject);
    };
    let by_runs = engine
        .runs
        .as_ref()
        .and_then(|r| r.search(subject, &mut c.slots, &mut c.run_stack));
    let input = Input::new(subject);
    let anchored = engine.anchored.as_ref().zip(c.backtrack_cache.as_mut());
    let found = match anchored {
        _ if by_runs.is_some() => by_runs == Some(true),
        Some((bt, cache)) if subject.len() <= bt.max_haystack_len() => bt
            .try_search_slots(cache, &input.anchored(Anchored::Yes), &mut c.slots)
            .ok()
            .flatten()
            .is_some(),
        _ => match c.meta_cache.as_mut() {
            Some(cache) => engine
                .meta
                .search_slots_with(cache, &input, &mut c.slots)
                .is_some(),
            None => false,
        },
    };
    if found {
        c.src = src;
        c.base = base;
        c.line = line;
    }
    found
}

/// Go's `strings.ReplaceAll`: with an empty `old`, `new` goes before every character and at the end.
fn replace_all(out: &mut Vec<u8>, s: &[u8], old: &[u8], new: &[u8]) {
    if old.is_empty() {
        let text = String::from_utf8_lossy(s);
        for c in text.chars() {
            out.extend_from_slice(new);
            let mut b = [0u8; 4];
            out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
        }
        out.extend_from_slice(new);
        return;
    }
    let mut last = 0;
    for at in memchr::memmem::find_iter(s, old) {
        if at < last {
            continue;
        }
        out.extend_from_slice(&s[last..at]);
        out.extend_from_slice(new);
        last = at + old.len();
    }
    out.extend_from_slice(&s[last..]);
}

#[cfg(test)]
mod tests {
    use super::replace_all;

    #[test]
    fn replace_all_like_go() {
        let mut out = Vec::new();
        replace_all(&mut out, b"a_b_c", b"_", b" ");
        assert_eq!(out, b"a b c");
        out.clear();
        replace_all(&mut out, b"aaa", b"aa", b"b");
        assert_eq!(out, b"ba");
        out.clear();
        replace_all(&mut out, b"ab", b"", b"-");
        assert_eq!(out, b"-a-b-");
    }
}
