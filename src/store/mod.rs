//! The metric store: every program's metrics, their label sets and datums.
//!
//! A [`Metric`] is declared by a program (name, kind, keys, buckets, limit) and holds datums
//! keyed by an encoded label set ([`labels`]), in creation order (mtail's order, which its
//! golden files rely on). The VM resolves metrics to [`MetricId`]s at compile time and finds a
//! datum by hashing the borrowed label bytes; a series is only allocated when it is new.
//!
//! Bounds. A metric with `limit N` never holds more than N series: a new series past the limit
//! takes the place (and the position in creation order) of the least recently updated one, found
//! in a batch of eviction candidates chosen every N/8 evictions (amortised O(1) per new series,
//! no scan per line). "Least recently updated" is the datum's time stamp, as in mtail's GC; a
//! candidate updated since it was chosen is skipped. mtail only trims to `limit` at its periodic
//! GC (never in one-shot runs), so a one-shot run of a program that declares `limit` can differ
//! from mtail's: it keeps the last N series instead of all of them. Metrics without `limit` are
//! bounded per program by [`ProgramStore::max_series`] (`--max_series`, daemon only): past it,
//! updates that would create a series are dropped and counted, the existing series go on.

pub mod format;
pub mod labels;

use crate::syntax::ast::MetricKind;
use indexmap::IndexMap;

/// Index of a metric within its program's store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MetricId(pub u32);

/// The type of a metric's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValueType {
    Int,
    Float,
    String,
    Buckets,
}

impl ValueType {
    pub fn as_str(self) -> &'static str {
        match self {
            ValueType::Int => "Int",
            ValueType::Float => "Float",
            ValueType::String => "String",
            ValueType::Buckets => "Buckets",
        }
    }
}

/// What a program declares about a metric; fixed once the program is compiled.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricDef {
    /// The exported name (after `as`), verbatim.
    pub name: String,
    /// The program's file name (`apache.mtail`).
    pub program: String,
    pub kind: MetricKind,
    pub value_type: ValueType,
    pub keys: Vec<String>,
    pub hidden: bool,
    /// Histogram ranges `(min, max]`, the last one ending at +Inf.
    pub buckets: Vec<(f64, f64)>,
    /// `limit N`: most label sets kept (0 = none).
    pub limit: u64,
    /// Where it is declared: `prog.mtail:LINE:COL-ENDCOL`.
    pub source: String,
}

/// A histogram datum: counts per range, total count and sum.
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    pub counts: Vec<u64>,
    pub count: u64,
    pub sum: f64,
}

/// A datum's value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Int(i64),
    Float(f64),
    Str(String),
    Hist(Histogram),
}

impl Value {
    /// The value as Prometheus sees it (strings are 0).
    pub fn as_f64(&self) -> f64 {
        match self {
            Value::Int(i) => *i as f64,
            Value::Float(f) => *f,
            Value::Str(_) | Value::Hist(_) => 0.0,
        }
    }
}

/// One series: a value, when it was last set (Unix ns, wrapping like Go) and an optional expiry.
#[derive(Debug, Clone, PartialEq)]
pub struct Datum {
    pub value: Value,
    pub time_ns: i64,
    /// `del … after D`: remove when not updated for this many ns.
    pub expiry_ns: Option<i64>,
}

impl Datum {
    /// When a `del … after D` datum expires: the first instant more than D after its last
    /// update (mtail removes a datum when `now - time > D`).
    #[inline]
    pub fn expires_at(&self) -> Option<i64> {
        self.expiry_ns
            .map(|after| self.time_ns.saturating_add(after).saturating_add(1))
    }
}

pub type Series = IndexMap<Box<[u8]>, Datum, foldhash::fast::RandomState>;

/// A declared metric with its series.
#[derive(Debug, Clone)]
pub struct Metric {
    pub def: MetricDef,
    pub series: Series,
    /// Series removed to keep `limit`, since the owner last took them ([`Metric::take_evictions`]).
    pub evictions: u64,
    /// Eviction candidates `(index, time_ns when chosen)`, the oldest last.
    victims: Vec<(u32, i64)>,
    /// Where a refused update (past `--max_series`) is written and forgotten.
    spare: Option<Datum>,
}

impl Metric {
    /// A new metric, with the datum mtail creates at load time: scalar counters start at 0
    /// (time 0), scalar histograms with an empty datum.
    pub fn new(def: MetricDef) -> Metric {
        let mut m = Metric {
            series: Series::default(),
            def,
            evictions: 0,
            victims: Vec::new(),
            spare: None,
        };
        let starts_at_zero = matches!(m.def.kind, MetricKind::Counter | MetricKind::Histogram);
        if m.def.keys.is_empty() && starts_at_zero {
            let value = m.zero();
            m.series.insert(
                Box::default(),
                Datum {
                    value,
                    time_ns: 0,
                    expiry_ns: None,
                },
            );
        }
        m
    }

    /// The value a new datum of this metric starts with.
    pub fn zero(&self) -> Value {
        match self.def.value_type {
            ValueType::Int => Value::Int(0),
            ValueType::Float => Value::Float(0.0),
            ValueType::String => Value::Str(String::new()),
            ValueType::Buckets => Value::Hist(Histogram {
                counts: vec![0; self.def.buckets.len()],
                count: 0,
                sum: 0.0,
            }),
        }
    }

    /// The datum of an encoded label set, created (zero, stamped `time_ns`) if missing.
    #[inline]
    pub fn datum(&mut self, key: &[u8], time_ns: i64) -> &mut Datum {
        // A scalar metric (no keys, empty label set) has one series: no lookup. Comparing empty
        // keys is also slow: their dangling pointers cost the vector memcmp a fault assist.
        if key.is_empty() {
            if self.series.is_empty() {
                let value = self.zero();
                self.series.insert(
                    Box::default(),
                    Datum {
                        value,
                        time_ns,
                        expiry_ns: None,
                    },
                );
            }
            return &mut self.series[0];
        }
        if let Some(i) = self.series.get_index_of(key) {
            return &mut self.series[i];
        }
        let datum = Datum {
            value: self.zero(),
            time_ns,
            expiry_ns: None,
        };
        let limit = self.def.limit as usize;
        let i = if limit > 0 && self.series.len() >= limit {
            self.replace_oldest(Box::from(key), datum)
        } else {
            self.series.insert_full(Box::from(key), datum).0
        };
        &mut self.series[i]
    }

    /// Put a new series in the place of the least recently updated one; returns its index.
    fn replace_oldest(&mut self, key: Box<[u8]>, datum: Datum) -> usize {
        let v = self.oldest();
        self.series.swap_remove_index(v);
        let (last, _) = self.series.insert_full(key, datum);
        // Back to where it was: every other series keeps its index (and the candidates theirs).
        self.series.swap_indices(v, last);
        self.evictions += 1;
        v
    }

    /// The index of the least recently updated series (the metric is not empty).
    fn oldest(&mut self) -> usize {
        loop {
            while let Some((i, t)) = self.victims.pop() {
                if self
                    .series
                    .get_index(i as usize)
                    .is_some_and(|(_, d)| d.time_ns == t)
                {
                    return i as usize;
                }
            }
            self.choose_victims();
        }
    }

    /// Choose the next candidates: the oldest eighth of the series, oldest last.
    fn choose_victims(&mut self) {
        let mut all: Vec<(i64, u32)> = self
            .series
            .values()
            .enumerate()
            .map(|(i, d)| (d.time_ns, i as u32))
            .collect();
        let k = (all.len() / 8).clamp(1, all.len().max(1));
        if k < all.len() {
            all.select_nth_unstable(k - 1);
            all.truncate(k);
        }
        all.sort_unstable_by(|a, b| b.cmp(a));
        self.victims.clear();
        self.victims.extend(all.into_iter().map(|(t, i)| (i, t)));
    }

    /// Where an update refused by `--max_series` goes: a zero datum nobody reads.
    fn spare(&mut self, time_ns: i64) -> &mut Datum {
        let value = self.zero();
        self.spare.insert(Datum {
            value,
            time_ns,
            expiry_ns: None,
        })
    }

    /// Evictions since the last call.
    pub fn take_evictions(&mut self) -> u64 {
        std::mem::take(&mut self.evictions)
    }

    /// Replace the series (a reload carrying them over), trimmed to `limit`.
    pub fn set_series(&mut self, series: Series) {
        self.series = series;
        self.victims.clear();
        self.enforce_limit();
    }

    /// Remove a label set (no error when absent).
    pub fn delete(&mut self, key: &[u8]) {
        if self.series.shift_remove(key).is_some() {
            // Indices after it moved.
            self.victims.clear();
        }
    }

    /// mtail's garbage collection at `now_ns`: past `limit`, drop the least recently updated
    /// series; then drop series whose `del … after` expiry has passed. Returns how many went.
    pub fn gc(&mut self, now_ns: i64) -> usize {
        let before = self.series.len();
        self.enforce_limit();
        self.series
            .retain(|_, d| d.expires_at().is_none_or(|deadline| now_ns < deadline));
        if self.series.len() != before {
            self.victims.clear();
        }
        before - self.series.len()
    }

    /// The earliest time a series of this metric expires, if any has a `del … after`.
    pub fn next_expiry(&self) -> Option<i64> {
        self.series.values().filter_map(Datum::expires_at).min()
    }

    /// Past `limit` (a series set carried over by a reload): drop the least recently updated.
    fn enforce_limit(&mut self) {
        let before = self.series.len();
        let limit = self.def.limit as usize;
        if limit > 0 && self.series.len() > limit {
            let mut times: Vec<i64> = self.series.values().map(|d| d.time_ns).collect();
            let excess = self.series.len() - limit;
            times.select_nth_unstable(excess - 1);
            let cutoff = times[excess - 1];
            // Drop every series older than the cutoff, then series at the cutoff, oldest first
            // in creation order, until the limit holds.
            let mut to_drop = excess;
            self.series.retain(|_, d| {
                if to_drop > 0 && d.time_ns < cutoff {
                    to_drop -= 1;
                    return false;
                }
                true
            });
            self.series.retain(|_, d| {
                if to_drop > 0 && d.time_ns == cutoff {
                    to_drop -= 1;
                    return false;
                }
                true
            });
            self.victims.clear();
            self.evictions += (before - self.series.len()) as u64;
        }
    }
}

/// Record an observation in a histogram (mtail HEAD: the first range whose max is ≥ v).
pub fn observe(buckets: &[(f64, f64)], h: &mut Histogram, v: f64) {
    if let Some(i) = buckets.iter().position(|&(_, max)| v <= max) {
        h.counts[i] += 1;
    }
    h.count += 1;
    h.sum += v;
}

/// The metrics of one loaded program, indexed by [`MetricId`].
#[derive(Debug, Clone, Default)]
pub struct ProgramStore {
    pub metrics: Vec<Metric>,
    /// `--max_series`: most series in the metrics without `limit` together (0: no cap).
    pub max_series: usize,
    /// Updates refused by `max_series` since the owner last took them.
    pub dropped: u64,
    /// The cap was reached (and said so once).
    capped: bool,
    /// No series expires before this (Unix ns); `None`: no series has an expiry. Kept by
    /// [`ProgramStore::expire_after`] and [`ProgramStore::gc`], so an owner can run the GC when
    /// the first series expires instead of sweeping on a schedule.
    next_expiry: Option<i64>,
}

impl ProgramStore {
    pub fn new(defs: &[MetricDef]) -> ProgramStore {
        ProgramStore {
            metrics: defs.iter().cloned().map(Metric::new).collect(),
            ..ProgramStore::default()
        }
    }

    #[inline]
    pub fn metric(&mut self, id: MetricId) -> &mut Metric {
        &mut self.metrics[id.0 as usize]
    }

    /// [`Metric::datum`], within `max_series` for metrics without `limit`: past the cap an update
    /// that would create a series writes to a spare datum and is counted in `dropped`.
    #[inline]
    pub fn datum(&mut self, id: MetricId, key: &[u8], time_ns: i64) -> &mut Datum {
        let i = id.0 as usize;
        let m = &self.metrics[i];
        if self.max_series == 0 || m.def.limit > 0 || key.is_empty() {
            return self.metrics[i].datum(key, time_ns);
        }
        if let Some(ix) = m.series.get_index_of(key) {
            return &mut self.metrics[i].series[ix];
        }
        if self.unlimited_series() >= self.max_series {
            self.dropped += 1;
            if !self.capped {
                self.capped = true;
                tracing::warn!(
                    "{}: {} series, the --max_series cap: updates of new label sets are dropped \
                     (counted in logmill_series_dropped_total); declare `limit` on metrics with \
                     unbounded labels",
                    m.def.program,
                    self.max_series
                );
            }
            return self.metrics[i].spare(time_ns);
        }
        self.metrics[i].datum(key, time_ns)
    }

    /// Series in the metrics without `limit`.
    fn unlimited_series(&self) -> usize {
        self.metrics
            .iter()
            .filter(|m| m.def.limit == 0)
            .map(|m| m.series.len())
            .sum()
    }

    /// Updates refused by `max_series` since the last call.
    pub fn take_dropped(&mut self) -> u64 {
        std::mem::take(&mut self.dropped)
    }

    /// Run [`Metric::gc`] on every metric; returns how many series were removed.
    pub fn gc(&mut self, now_ns: i64) -> usize {
        let removed = self.metrics.iter_mut().map(|m| m.gc(now_ns)).sum();
        self.refresh_expiry();
        removed
    }

    /// `del m[k…] after D`: the existing series of `key` expires D ns after its last update.
    /// `None` when the series does not exist.
    pub fn expire_after(&mut self, id: MetricId, key: &[u8], after_ns: i64) -> Option<()> {
        let d = self.metrics[id.0 as usize].series.get_mut(key)?;
        d.expiry_ns = Some(after_ns);
        let deadline = d.expires_at()?;
        self.next_expiry = Some(self.next_expiry.map_or(deadline, |n| n.min(deadline)));
        Some(())
    }

    /// No series expires before this instant (Unix ns); `None` when none has an expiry. An
    /// update can only move a series' expiry later, so this may be early, never late.
    pub fn next_expiry(&self) -> Option<i64> {
        self.next_expiry
    }

    /// Find the earliest expiry again (after the series changed wholesale, as a reload does).
    pub fn refresh_expiry(&mut self) {
        self.next_expiry = self.metrics.iter().filter_map(Metric::next_expiry).min();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(kind: MetricKind, keys: &[&str], vt: ValueType) -> MetricDef {
        MetricDef {
            name: "m".into(),
            program: "p.mtail".into(),
            kind,
            value_type: vt,
            keys: keys.iter().map(|s| s.to_string()).collect(),
            hidden: false,
            buckets: vec![(0.0, 1.0), (1.0, 2.0), (2.0, f64::INFINITY)],
            limit: 0,
            source: String::new(),
        }
    }

    #[test]
    fn scalar_counter_starts_at_zero_gauge_does_not() {
        let c = Metric::new(def(MetricKind::Counter, &[], ValueType::Int));
        assert_eq!(c.series.len(), 1);
        assert_eq!(c.series[0].value, Value::Int(0));
        let g = Metric::new(def(MetricKind::Gauge, &[], ValueType::Int));
        assert!(g.series.is_empty());
        let d = Metric::new(def(MetricKind::Counter, &["a"], ValueType::Int));
        assert!(d.series.is_empty());
    }

    #[test]
    fn datums_keep_creation_order_and_delete() {
        let mut m = Metric::new(def(MetricKind::Counter, &["a"], ValueType::Int));
        for v in [&b"z"[..], b"a", b"m"] {
            let mut k = Vec::new();
            labels::push(&mut k, v);
            m.datum(&k, 5);
        }
        let order: Vec<Vec<String>> = m.series.keys().map(|k| labels::strings(k)).collect();
        assert_eq!(order, vec![vec!["z"], vec!["a"], vec!["m"]]);
        let mut k = Vec::new();
        labels::push(&mut k, b"a");
        m.delete(&k);
        m.delete(&k);
        assert_eq!(m.series.len(), 2);
    }

    fn key(v: &str) -> Vec<u8> {
        let mut k = Vec::new();
        labels::push(&mut k, v.as_bytes());
        k
    }

    #[test]
    fn gc_enforces_limit_dropping_least_recently_updated() {
        let d = def(MetricKind::Counter, &["a"], ValueType::Int);
        let mut m = Metric::new(d);
        for (v, t) in [("old", 10), ("new", 30), ("mid", 20), ("newest", 40)] {
            m.datum(&key(v), t);
        }
        // A reload carried 4 series into a metric now declared with `limit 2`.
        m.def.limit = 2;
        assert_eq!(m.gc(50), 2);
        assert_eq!(m.take_evictions(), 2);
        let left: Vec<Vec<String>> = m.series.keys().map(|k| labels::strings(k)).collect();
        assert_eq!(left, vec![vec!["new"], vec!["newest"]]);
    }

    #[test]
    fn a_new_series_past_the_limit_replaces_the_least_recently_updated() {
        let mut d = def(MetricKind::Counter, &["a"], ValueType::Int);
        d.limit = 3;
        let mut m = Metric::new(d);
        for (v, t) in [("a", 10), ("b", 20), ("c", 30)] {
            m.datum(&key(v), t);
        }
        m.datum(&key("a"), 40).time_ns = 40;
        m.datum(&key("d"), 50);
        let left: Vec<Vec<String>> = m.series.keys().map(|k| labels::strings(k)).collect();
        assert_eq!(
            left,
            vec![vec!["a"], vec!["d"], vec!["c"]],
            "d took b's place"
        );
        m.datum(&key("e"), 60);
        m.delete(&key("e"));
        m.datum(&key("f"), 70);
        m.datum(&key("g"), 80);
        assert_eq!(m.series.len(), 3);
        assert_eq!(m.take_evictions(), 3);
        let left: Vec<Vec<String>> = m.series.keys().map(|k| labels::strings(k)).collect();
        assert_eq!(left, vec![vec!["g"], vec!["d"], vec!["f"]]);
    }

    #[test]
    fn gc_removes_expired_series_only() {
        let mut m = Metric::new(def(MetricKind::Gauge, &["a"], ValueType::Int));
        m.datum(&key("stale"), 100).expiry_ns = Some(50);
        m.datum(&key("fresh"), 190).expiry_ns = Some(50);
        m.datum(&key("forever"), 0);
        assert_eq!(m.gc(200), 1);
        assert_eq!(m.series.len(), 2);
        assert!(m.series.get(&key("stale")[..]).is_none());
    }

    #[test]
    fn the_store_knows_when_the_first_series_expires() {
        let gauge = def(MetricKind::Gauge, &["a"], ValueType::Int);
        let mut s = ProgramStore::new(&[gauge.clone(), gauge]);
        let (m0, m1) = (MetricId(0), MetricId(1));
        assert_eq!(s.next_expiry(), None);
        assert_eq!(s.expire_after(m0, &key("absent"), 5), None);
        s.datum(m0, &key("x"), 100);
        s.datum(m1, &key("y"), 100);
        s.datum(m1, &key("z"), 100);
        s.expire_after(m0, &key("x"), 50).unwrap();
        assert_eq!(
            s.next_expiry(),
            Some(151),
            "the first instant past 100 + 50"
        );
        s.expire_after(m1, &key("y"), 10).unwrap();
        assert_eq!(s.next_expiry(), Some(111));
        s.expire_after(m1, &key("z"), 100).unwrap();
        assert_eq!(s.next_expiry(), Some(111));
        // Not yet: `now - time > after` is false at 110.
        assert_eq!(s.gc(110), 0);
        assert_eq!(s.next_expiry(), Some(111));
        assert_eq!(s.gc(111), 1);
        assert_eq!(s.next_expiry(), Some(151));
        // An update moves a series' expiry later; the GC at the old instant finds the new one.
        s.datum(m0, &key("x"), 140).time_ns = 140;
        assert_eq!(s.gc(151), 0);
        assert_eq!(s.next_expiry(), Some(191));
        assert_eq!(s.gc(1_000), 2);
        assert_eq!(s.next_expiry(), None);
    }

    #[test]
    fn histogram_observes_into_first_range_with_max_at_least_v() {
        let d = def(MetricKind::Histogram, &[], ValueType::Buckets);
        let mut h = Histogram {
            counts: vec![0; 3],
            count: 0,
            sum: 0.0,
        };
        for v in [0.5, 1.0, 1.5, 99.0, -3.0] {
            observe(&d.buckets, &mut h, v);
        }
        assert_eq!(h.counts, vec![3, 1, 1]);
        assert_eq!(h.count, 5);
    }
}
