//! The metric store: every program's metrics, their label sets and datums.
//!
//! A [`Metric`] is declared by a program (name, kind, keys, buckets, limit) and holds datums
//! keyed by an encoded label set ([`labels`]), in creation order (mtail's order, which its
//! golden files rely on). The VM resolves metrics to [`MetricId`]s at compile time and finds a
//! datum by hashing the borrowed label bytes; a series is only allocated when it is new.

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

pub type Series = IndexMap<Box<[u8]>, Datum, foldhash::fast::RandomState>;

/// A declared metric with its series.
#[derive(Debug, Clone)]
pub struct Metric {
    pub def: MetricDef,
    pub series: Series,
}

impl Metric {
    /// A new metric, with the datum mtail creates at load time: scalar counters start at 0
    /// (time 0), scalar histograms with an empty datum.
    pub fn new(def: MetricDef) -> Metric {
        let mut m = Metric {
            series: Series::default(),
            def,
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
        let zero = self.zero();
        let entry = self.series.entry(Box::from(key));
        entry.or_insert(Datum {
            value: zero,
            time_ns,
            expiry_ns: None,
        })
    }

    /// Remove a label set (no error when absent).
    pub fn delete(&mut self, key: &[u8]) {
        self.series.shift_remove(key);
    }

    /// mtail's garbage collection at `now_ns`: past `limit`, drop the least recently updated
    /// series; then drop series whose `del … after` expiry has passed. Returns how many went.
    pub fn gc(&mut self, now_ns: i64) -> usize {
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
        }
        self.series.retain(|_, d| match d.expiry_ns {
            Some(after) => now_ns.saturating_sub(d.time_ns) <= after,
            None => true,
        });
        before - self.series.len()
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
}

impl ProgramStore {
    pub fn new(defs: &[MetricDef]) -> ProgramStore {
        ProgramStore {
            metrics: defs.iter().cloned().map(Metric::new).collect(),
        }
    }

    #[inline]
    pub fn metric(&mut self, id: MetricId) -> &mut Metric {
        &mut self.metrics[id.0 as usize]
    }

    /// Run [`Metric::gc`] on every metric; returns how many series were removed.
    pub fn gc(&mut self, now_ns: i64) -> usize {
        self.metrics.iter_mut().map(|m| m.gc(now_ns)).sum()
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
        let mut d = def(MetricKind::Counter, &["a"], ValueType::Int);
        d.limit = 2;
        let mut m = Metric::new(d);
        for (v, t) in [("old", 10), ("new", 30), ("mid", 20), ("newest", 40)] {
            m.datum(&key(v), t);
        }
        assert_eq!(m.gc(50), 2);
        let left: Vec<Vec<String>> = m.series.keys().map(|k| labels::strings(k)).collect();
        assert_eq!(left, vec![vec!["new"], vec!["newest"]]);
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
