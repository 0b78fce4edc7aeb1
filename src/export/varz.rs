//! mtail's `/varz` page: one line per label set, `name{k=v,…,prog=P,instance=HOST} value`.
//! Label pairs are unquoted and sorted, then `prog` (unless `--emit_prog_label=false`) and
//! `instance` (the host name); the value is `%d` for an Int, `%g` for a Float, the text for a
//! String, and the sum for a histogram. Hidden metrics are left out. Metrics come in name order
//! (mtail's order is that of a Go map, which varies from one request to the next).

use crate::store::format::push_go_float;
use crate::store::{labels, Metric, Value};

/// The page for `metrics`, on host `hostname`.
pub fn render(metrics: &[&Metric], emit_prog_label: bool, hostname: &str) -> String {
    let mut sorted: Vec<&&Metric> = metrics.iter().filter(|m| !m.def.hidden).collect();
    sorted.sort_by(|a, b| a.def.name.cmp(&b.def.name));
    let mut out = Vec::new();
    for m in sorted {
        for (key, d) in &m.series {
            let mut pairs: Vec<String> = m
                .def
                .keys
                .iter()
                .zip(labels::strings(key))
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            pairs.sort();
            if emit_prog_label {
                pairs.push(format!("prog={}", m.def.program));
            }
            pairs.push(format!("instance={hostname}"));
            out.extend_from_slice(m.def.name.as_bytes());
            out.push(b'{');
            out.extend_from_slice(pairs.join(",").as_bytes());
            out.extend_from_slice(b"} ");
            match &d.value {
                Value::Int(i) => out.extend_from_slice(i.to_string().as_bytes()),
                Value::Float(f) => push_go_float(&mut out, *f),
                Value::Str(s) => out.extend_from_slice(s.as_bytes()),
                Value::Hist(h) => push_go_float(&mut out, h.sum),
            }
            out.push(b'\n');
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vm::{Vm, VmOptions};
    use std::sync::Arc;

    fn page(src: &str, lines: &[&str], prog_label: bool) -> String {
        let p = crate::compile::compile("test", src).unwrap();
        let mut vm = Vm::new(Arc::new(p), VmOptions::default());
        for l in lines {
            vm.run_line(l.as_bytes(), b"log");
        }
        let refs: Vec<&Metric> = vm.store.metrics.iter().collect();
        render(&refs, prog_label, "gunstar")
    }

    #[test]
    fn lines_as_mtail_writes_them() {
        // mtail's exporter/varz_test.go: single, dimensioned, text.
        assert_eq!(
            page("counter foo\n/x/ {\n  foo++\n}\n", &["x"], true),
            "foo{prog=test,instance=gunstar} 1\n"
        );
        assert_eq!(
            page(
                "counter foo by b, a\n/x/ {\n  foo[\"2\"][\"1\"]++\n}\n",
                &["x"],
                true
            ),
            "foo{a=1,b=2,prog=test,instance=gunstar} 1\n"
        );
        assert_eq!(
            page("text foo\n/x/ {\n  foo = \"hi\"\n}\n", &["x"], false),
            "foo{instance=gunstar} hi\n"
        );
        // Floats as %g, a histogram as its sum, hidden metrics left out, names in order.
        assert_eq!(
            page(
                "gauge z\nhistogram h buckets 1, 2\nhidden counter n\n/(\\d+)/ {\n  z = float($1) * 1000000.0\n  h = $1\n  n++\n}\n",
                &["3", "4"],
                true
            ),
            "h{prog=test,instance=gunstar} 7\nz{prog=test,instance=gunstar} 4e+06\n"
        );
    }
}
