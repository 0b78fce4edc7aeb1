//! Graphite's plaintext protocol (`path value timestamp\n`), byte for byte as mtail pushes it
//! (its `metricToGraphite`): the path is `prefix + program + "." + name`, then `.key.value` per
//! label in key order with `.` in keys and values replaced by `_`; integers `%d`, floats Go's
//! `%g`, the timestamp the datum's last update in seconds (0 if never updated).
//!
//! A histogram sends its sum as the value, and before it one `….bin_<max>` line per bucket
//! (that bucket's own count, not cumulative; `bin_inf` for the last) and a `….count` line.
//! mtail writes every label set's bucket lines from its first label set's buckets; here each
//! label set sends its own. The same lines answer `/graphite`, with text metrics among them.

use super::{push_labelled_name, push_time, push_value, pushed};
use crate::store::{format::push_go_float, Metric, Value};

/// Settings of the graphite lines.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `--graphite_prefix`, put before every path verbatim.
    pub prefix: String,
    /// Text metrics too, their value the text (mtail's `/graphite` page; pushes leave them out).
    pub with_text: bool,
}

/// The lines of one push, and how many there are.
pub fn render(metrics: &[&Metric], opts: &Options) -> (Vec<u8>, usize) {
    let mut out = Vec::with_capacity(64 * metrics.len());
    let mut lines = 0;
    let mut path = Vec::new();
    let mut stamp = Vec::new();
    for (m, key, d) in pushed(metrics, opts.with_text) {
        path.clear();
        path.extend_from_slice(opts.prefix.as_bytes());
        path.extend_from_slice(m.def.program.as_bytes());
        path.push(b'.');
        push_labelled_name(&mut path, m, key, b'.', b'.', b'_');
        stamp.clear();
        stamp.push(b' ');
        push_time(&mut stamp, d);
        stamp.push(b'\n');
        if let Value::Hist(h) = &d.value {
            for (&(_, max), &count) in m.def.buckets.iter().zip(&h.counts) {
                out.extend_from_slice(&path);
                out.extend_from_slice(b".bin_");
                if max == f64::INFINITY {
                    out.extend_from_slice(b"inf");
                } else {
                    push_go_float(&mut out, max);
                }
                out.push(b' ');
                out.extend_from_slice(count.to_string().as_bytes());
                out.extend_from_slice(&stamp);
                lines += 1;
            }
            out.extend_from_slice(&path);
            out.extend_from_slice(b".count ");
            out.extend_from_slice(h.count.to_string().as_bytes());
            out.extend_from_slice(&stamp);
            lines += 1;
        }
        out.extend_from_slice(&path);
        out.push(b' ');
        push_value(&mut out, &d.value);
        out.extend_from_slice(&stamp);
        lines += 1;
    }
    (out, lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(src: &str, lines: &[&str]) -> Vec<Metric> {
        let p = crate::compile::compile("t.mtail", src).unwrap();
        let mut vm = crate::vm::Vm::new(std::sync::Arc::new(p), Default::default());
        for l in lines {
            vm.run_line(l.as_bytes(), b"f");
        }
        vm.store.metrics.clone()
    }

    #[test]
    fn labels_sorted_dots_replaced_histogram_buckets_per_label_set() {
        let m = store(
            "counter c by zz, aa\nhistogram h by code buckets 1, 2\nhidden counter x\ntext t\n\
             /(?P<a>\\S+) (?P<b>\\S+) (?P<v>\\S+)/ {\n  c[$a][$b]++\n  h[$a] = $v\n  x++\n  t = $a\n}\n",
            &["a.b c_d 1.5", "e f 7"],
        );
        let refs: Vec<&Metric> = m.iter().collect();
        let (text, n) = render(
            &refs,
            &Options {
                prefix: "p.".into(),
                with_text: false,
            },
        );
        let text = String::from_utf8(text).unwrap();
        let got: Vec<String> = text
            .lines()
            .map(|l| l.rsplit_once(' ').unwrap().0.to_string())
            .collect();
        assert_eq!(n, got.len());
        assert_eq!(
            got,
            [
                "p.t.mtail.c.aa.c_d.zz.a_b 1",
                "p.t.mtail.c.aa.f.zz.e 1",
                "p.t.mtail.h.code.a_b.bin_1 0",
                "p.t.mtail.h.code.a_b.bin_2 1",
                "p.t.mtail.h.code.a_b.bin_inf 0",
                "p.t.mtail.h.code.a_b.count 1",
                "p.t.mtail.h.code.a_b 1.5",
                "p.t.mtail.h.code.e.bin_1 0",
                "p.t.mtail.h.code.e.bin_2 0",
                "p.t.mtail.h.code.e.bin_inf 1",
                "p.t.mtail.h.code.e.count 1",
                "p.t.mtail.h.code.e 7",
            ]
        );
    }
}
