//! A capture engine for the usual shape of a log regex: literals and runs of a byte class
//! (`[0-9A-Za-z.:-]+ `, `\S+`, `\d{3}`), groups, alternations and optional parts, anchored at
//! the start (`^…`), on ASCII subjects.
//!
//! It is a backtracking matcher that tries alternatives in priority order, so the match and
//! captures it finds are the regex crate's leftmost-first ones. What makes it fast is the run:
//! a run of a class is one step that scans its bytes through a table, and backtracking into it
//! gives bytes back only down to positions where what follows can start (`\S+"` gives back to
//! the last `"`, `[a-z]+ ` none at all). A line of an access log is then read about once, where
//! a general backtracker takes a step (and a visited-set check) per byte and NFA state.
//!
//! Each search has a step budget proportional to the subject. Past it, or on a subject with a
//! byte ≥ 0x80 (where classes mean Unicode characters), the matcher answers "don't know" and the
//! caller runs the regex crate's engine: a pattern that backtracks heavily costs at most the
//! budget more. Patterns with anything else (a repeated group, line anchors, an unanchored
//! start) get no such matcher.

use regex_automata::util::primitives::NonMaxUsize;
use regex_syntax::hir::{Class, Hir, HirKind, Look};

/// Most copies an `x{n,m}` of a group is written out into.
const MAX_UNROLL: u32 = 16;
/// Most instructions of a matcher (nested repetitions multiply); bigger patterns get none.
const MAX_INSTS: usize = 4096;

/// A set of bytes.
type Set = [bool; 256];

#[derive(Debug, Clone, Copy)]
enum Inst {
    /// These bytes of `lits`.
    Lit {
        start: u32,
        len: u32,
    },
    /// One byte of a set.
    Byte(u16),
    /// Between `min` and `max` bytes of a set, as many as possible first (`greedy`) or as few.
    /// `follow`: the bytes the next step can start with, when it must consume one.
    Run {
        set: u16,
        min: u32,
        max: u32,
        greedy: bool,
        follow: Option<u16>,
    },
    Save(u16),
    /// Go on at the first, and on failure at the second.
    Split(u32, u32),
    Jmp(u32),
    Start,
    End,
    /// ASCII word boundary; `true`: not at a boundary (`\B`).
    Word(bool),
    Match,
}

/// A backtracking point.
#[derive(Debug, Clone, Copy)]
pub enum Frame {
    /// Try `pc` at `pos`.
    Alt { pc: u32, pos: u32 },
    /// Put a capture slot back.
    Restore { slot: u16, old: Option<NonMaxUsize> },
    /// A greedy run that ended at `end` may end earlier, down to `min_end`.
    Shorter {
        pc: u32,
        min_end: u32,
        end: u32,
        follow: Option<u16>,
    },
    /// A lazy run that ended at `end` may end later, up to `max_end`.
    Longer {
        pc: u32,
        end: u32,
        max_end: u32,
        set: u16,
    },
}

/// A compiled pattern (see the module documentation).
#[derive(Debug, Clone)]
pub struct RunMatcher {
    insts: Vec<Inst>,
    sets: Vec<Set>,
    lits: Vec<u8>,
}

impl RunMatcher {
    /// The matcher of `pattern` (RE2 syntax as translated), if the pattern has the shape it
    /// handles.
    pub fn new(pattern: &str) -> Option<RunMatcher> {
        let hir = regex_syntax::ParserBuilder::new()
            .utf8(false)
            .build()
            .parse(pattern)
            .ok()?;
        if !hir.properties().look_set_prefix().contains(Look::Start) {
            return None;
        }
        let mut m = RunMatcher {
            insts: Vec::new(),
            sets: Vec::new(),
            lits: Vec::new(),
        };
        m.insts.push(Inst::Save(0));
        m.emit(&hir)?;
        m.insts.push(Inst::Save(1));
        m.insts.push(Inst::Match);
        m.link_follows();
        u32::try_from(m.insts.len()).ok()?;
        u16::try_from(m.sets.len()).ok()?;
        Some(m)
    }

    fn set(&mut self, set: Set) -> u16 {
        match self.sets.iter().position(|s| *s == set) {
            Some(i) => i as u16,
            None => {
                self.sets.push(set);
                (self.sets.len() - 1) as u16
            }
        }
    }

    fn emit(&mut self, hir: &Hir) -> Option<()> {
        if self.insts.len() > MAX_INSTS {
            return None;
        }
        match hir.kind() {
            HirKind::Empty => {}
            HirKind::Literal(lit) => {
                let start = u32::try_from(self.lits.len()).ok()?;
                self.lits.extend_from_slice(&lit.0);
                self.insts.push(Inst::Lit {
                    start,
                    len: lit.0.len() as u32,
                });
            }
            HirKind::Class(c) => {
                let set = self.set(ascii_set(c));
                self.insts.push(Inst::Byte(set));
            }
            HirKind::Look(look) => self.insts.push(match look {
                Look::Start => Inst::Start,
                Look::End => Inst::End,
                Look::WordAscii | Look::WordUnicode => Inst::Word(false),
                Look::WordAsciiNegate | Look::WordUnicodeNegate => Inst::Word(true),
                _ => return None,
            }),
            HirKind::Capture(c) => {
                let slot = u16::try_from(c.index.checked_mul(2)?).ok()?;
                self.insts.push(Inst::Save(slot));
                self.emit(&c.sub)?;
                self.insts.push(Inst::Save(slot.checked_add(1)?));
            }
            HirKind::Concat(parts) => {
                for p in parts {
                    self.emit(p)?;
                }
            }
            HirKind::Alternation(alts) => {
                // Split(a1, next); a1; Jmp end; next: Split(a2, …) … an
                let mut jumps = Vec::new();
                for (i, alt) in alts.iter().enumerate() {
                    if i + 1 < alts.len() {
                        let split = self.insts.len();
                        self.insts.push(Inst::Split(split as u32 + 1, 0));
                        self.emit(alt)?;
                        jumps.push(self.insts.len());
                        self.insts.push(Inst::Jmp(0));
                        let next = self.insts.len() as u32;
                        self.insts[split] = Inst::Split(split as u32 + 1, next);
                    } else {
                        self.emit(alt)?;
                    }
                }
                let end = self.insts.len() as u32;
                for j in jumps {
                    self.insts[j] = Inst::Jmp(end);
                }
            }
            HirKind::Repetition(r) => {
                let one_byte = match r.sub.kind() {
                    HirKind::Class(c) => Some(ascii_set(c)),
                    HirKind::Literal(l) if l.0.len() == 1 => {
                        let mut s = [false; 256];
                        s[l.0[0] as usize] = true;
                        Some(s)
                    }
                    _ => None,
                };
                if let Some(set) = one_byte {
                    let set = self.set(set);
                    self.insts.push(Inst::Run {
                        set,
                        min: r.min,
                        max: r.max.unwrap_or(u32::MAX),
                        greedy: r.greedy,
                        follow: None,
                    });
                    return Some(());
                }
                // A group repeated a few times is written out: `x{2,3}` is `x x (x)?`.
                let max = r.max?;
                if max > MAX_UNROLL {
                    return None;
                }
                for _ in 0..r.min {
                    self.emit(&r.sub)?;
                }
                let mut skips = Vec::new();
                for _ in r.min..max {
                    skips.push(self.insts.len());
                    self.insts.push(Inst::Split(0, 0));
                    self.emit(&r.sub)?;
                }
                let end = self.insts.len() as u32;
                for s in skips {
                    let body = s as u32 + 1;
                    self.insts[s] = if r.greedy {
                        Inst::Split(body, end)
                    } else {
                        Inst::Split(end, body)
                    };
                }
            }
        }
        Some(())
    }

    /// For each run, the bytes the next step must start with (when that step consumes a byte
    /// whatever happens), so that giving bytes back can skip positions where it cannot.
    fn link_follows(&mut self) {
        let empty = self.set([false; 256]);
        for i in 0..self.insts.len() {
            if !matches!(self.insts[i], Inst::Run { .. }) {
                continue;
            }
            let mut j = i + 1;
            let mut hops = 0;
            let follow = loop {
                hops += 1;
                match self.insts.get(j) {
                    Some(Inst::Save(_)) => j += 1,
                    Some(Inst::Jmp(t)) if hops < 64 => j = *t as usize,
                    Some(Inst::Lit { start, len }) if *len > 0 => {
                        let mut s = [false; 256];
                        s[self.lits[*start as usize] as usize] = true;
                        break Some(self.set(s));
                    }
                    Some(Inst::Byte(set)) => break Some(*set),
                    Some(Inst::Run { set, min, .. }) if *min > 0 => break Some(*set),
                    // Only the subject's end can follow: a shorter run never gets there.
                    Some(Inst::End) => break Some(empty),
                    _ => break None,
                }
            };
            if let Inst::Run { follow: f, .. } = &mut self.insts[i] {
                *f = follow;
            }
        }
    }

    /// Search `s` from its start, leaving the captures in `slots` (2 per group, group 0 the
    /// whole match). `Some(found)`, or `None` when this matcher cannot tell (a non-ASCII subject,
    /// or the step budget ran out) and another engine must search.
    pub fn search(
        &self,
        s: &[u8],
        slots: &mut [Option<NonMaxUsize>],
        stack: &mut Vec<Frame>,
    ) -> Option<bool> {
        if !s.is_ascii() || s.len() >= (u32::MAX / 2) as usize {
            return None;
        }
        slots.fill(None);
        stack.clear();
        let len = s.len() as u32;
        let mut budget: u64 = 8 * (s.len() as u64 + self.insts.len() as u64) + 64;
        let (mut pc, mut pos) = (0u32, 0u32);
        loop {
            budget = budget.checked_sub(1)?;
            let ok = match self.insts[pc as usize] {
                Inst::Lit { start, len: n } => {
                    let lit = &self.lits[start as usize..(start + n) as usize];
                    let ok = s[pos as usize..].starts_with(lit);
                    pos += n;
                    ok
                }
                Inst::Byte(set) => {
                    let ok = pos < len && self.sets[set as usize][s[pos as usize] as usize];
                    pos += 1;
                    ok
                }
                Inst::Run {
                    set,
                    min,
                    max,
                    greedy,
                    follow,
                } => {
                    let table = &self.sets[set as usize];
                    let room = len - pos;
                    if greedy {
                        let limit = room.min(max) as usize;
                        let from = pos as usize;
                        let n = s[from..from + limit]
                            .iter()
                            .position(|&b| !table[b as usize])
                            .unwrap_or(limit) as u32;
                        if n < min {
                            false
                        } else {
                            if n > min {
                                stack.push(Frame::Shorter {
                                    pc: pc + 1,
                                    min_end: pos + min,
                                    end: pos + n,
                                    follow,
                                });
                            }
                            pos += n;
                            true
                        }
                    } else if room < min
                        || !s[pos as usize..(pos + min) as usize]
                            .iter()
                            .all(|&b| table[b as usize])
                    {
                        false
                    } else {
                        let max_end = pos + room.min(max);
                        pos += min;
                        if pos < max_end {
                            stack.push(Frame::Longer {
                                pc: pc + 1,
                                end: pos,
                                max_end,
                                set,
                            });
                        }
                        true
                    }
                }
                Inst::Save(slot) => {
                    if let Some(cell) = slots.get_mut(slot as usize) {
                        stack.push(Frame::Restore { slot, old: *cell });
                        *cell = NonMaxUsize::new(pos as usize);
                    }
                    true
                }
                Inst::Split(first, then) => {
                    stack.push(Frame::Alt { pc: then, pos });
                    pc = first;
                    continue;
                }
                Inst::Jmp(to) => {
                    pc = to;
                    continue;
                }
                Inst::Start => pos == 0,
                Inst::End => pos == len,
                Inst::Word(negated) => {
                    let word = |i: u32| {
                        s.get(i as usize)
                            .is_some_and(|&b| b.is_ascii_alphanumeric() || b == b'_')
                    };
                    let at = (pos > 0 && word(pos - 1)) != word(pos);
                    at != negated
                }
                Inst::Match => return Some(true),
            };
            if ok {
                pc += 1;
                continue;
            }
            // Back to the latest choice still open.
            loop {
                budget = budget.checked_sub(1)?;
                match stack.pop() {
                    None => return Some(false),
                    Some(Frame::Alt { pc: p, pos: q }) => {
                        (pc, pos) = (p, q);
                        break;
                    }
                    Some(Frame::Restore { slot, old }) => slots[slot as usize] = old,
                    Some(Frame::Shorter {
                        pc: p,
                        min_end,
                        end,
                        follow,
                    }) => {
                        // `min_end <= e < end <= len`: `s[e]` exists.
                        let mut e = end - 1;
                        if let Some(f) = follow {
                            let f = &self.sets[f as usize];
                            while e > min_end && !f[s[e as usize] as usize] {
                                e -= 1;
                            }
                            // Stopped at `min_end`: its byte must fit too.
                            if !f[s[e as usize] as usize] {
                                continue;
                            }
                        }
                        if e > min_end {
                            stack.push(Frame::Shorter {
                                pc: p,
                                min_end,
                                end: e,
                                follow,
                            });
                        }
                        (pc, pos) = (p, e);
                        break;
                    }
                    Some(Frame::Longer {
                        pc: p,
                        end,
                        max_end,
                        set,
                    }) => {
                        if !self.sets[set as usize][s[end as usize] as usize] {
                            continue;
                        }
                        let e = end + 1;
                        if e < max_end {
                            stack.push(Frame::Longer {
                                pc: p,
                                end: e,
                                max_end,
                                set,
                            });
                        }
                        (pc, pos) = (p, e);
                        break;
                    }
                }
            }
        }
    }
}

/// The ASCII bytes a class matches (on an ASCII subject, all a Unicode class can match).
fn ascii_set(c: &Class) -> Set {
    let mut set = [false; 256];
    match c {
        Class::Unicode(u) => {
            for r in u.ranges() {
                let (lo, hi) = (r.start() as u32, (r.end() as u32).min(0x7F));
                for b in lo..=hi {
                    set[b as usize] = true;
                }
            }
        }
        Class::Bytes(b) => {
            for r in b.ranges() {
                for x in r.start()..=r.end() {
                    set[x as usize] = true;
                }
            }
        }
    }
    set
}
