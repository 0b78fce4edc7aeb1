//! mtail's JSON view of the store: `{ name: [metric, …] }` with Go's field names
//! (`Name, Program, Kind, Type, Keys, LabelValues, Source, Buckets, Limit`), written byte for
//! byte as Go's `encoding/json` writes them: floats in Go's shortest form (`6`, not `6.0`;
//! `1e-07` → `1e-7`), bucket bounds as Go's `%v` strings (`"0"`, `"+Inf"`), `<`, `>`, `&`,
//! U+2028 and U+2029 escaped, two-space indentation.

use crate::store::format::go_float;
use crate::store::{labels, Metric, Value, ValueType};
use crate::syntax::ast::MetricKind;
use serde::Serialize;
use serde_json::ser::{Formatter, PrettyFormatter};
use serde_json::{json, Map, Value as Json};
use std::collections::BTreeMap;
use std::io;

fn kind_number(k: MetricKind) -> u8 {
    match k {
        MetricKind::Counter => 1,
        MetricKind::Gauge => 2,
        MetricKind::Timer => 3,
        MetricKind::Text => 4,
        MetricKind::Histogram => 5,
    }
}

fn type_number(t: ValueType) -> u8 {
    match t {
        ValueType::Int => 0,
        ValueType::Float => 1,
        ValueType::String => 2,
        ValueType::Buckets => 3,
    }
}

fn number(v: f64) -> Json {
    serde_json::Number::from_f64(v).map_or(Json::Null, Json::Number)
}

/// One metric as mtail's JSON object.
pub fn metric(m: &Metric) -> Json {
    let def = &m.def;
    let mut obj = Map::new();
    obj.insert("Name".into(), json!(def.name));
    obj.insert("Program".into(), json!(def.program));
    obj.insert("Kind".into(), json!(kind_number(def.kind)));
    obj.insert("Type".into(), json!(type_number(def.value_type)));
    if !def.keys.is_empty() {
        obj.insert("Keys".into(), json!(def.keys));
    }
    let values: Vec<Json> = m
        .series
        .iter()
        .map(|(key, d)| {
            let mut lv = Map::new();
            let l = labels::strings(key);
            if !l.is_empty() {
                lv.insert("Labels".into(), json!(l));
            }
            let value = match &d.value {
                Value::Int(i) => json!({ "Value": i, "Time": d.time_ns }),
                Value::Float(f) => json!({ "Value": number(*f), "Time": d.time_ns }),
                Value::Str(s) => json!({ "Value": s, "Time": d.time_ns }),
                Value::Hist(h) => {
                    // Go writes a map's keys sorted: "+Inf" before "1".
                    let buckets: BTreeMap<String, Json> = def
                        .buckets
                        .iter()
                        .zip(&h.counts)
                        .map(|(&(_, max), c)| {
                            (go_float(max), json!(c))
                        })
                        .collect();
                    json!({ "Buckets": buckets, "Count": h.count, "Sum": number(h.sum), "Time": d.time_ns })
                }
            };
            lv.insert("Value".into(), value);
            if let Some(e) = d.expiry_ns {
                lv.insert("Expiry".into(), json!(e));
            }
            Json::Object(lv)
        })
        .collect();
    if !values.is_empty() {
        obj.insert("LabelValues".into(), Json::Array(values));
    }
    obj.insert("Source".into(), json!(def.source));
    if !def.buckets.is_empty() {
        let b: Vec<Json> = def
            .buckets
            .iter()
            .map(|&(min, max)| json!({ "Min": go_float(min), "Max": go_float(max) }))
            .collect();
        obj.insert("Buckets".into(), Json::Array(b));
    }
    if def.limit > 0 {
        obj.insert("Limit".into(), json!(def.limit));
    }
    Json::Object(obj)
}

/// The one-shot JSON: metric name → the metrics of that name (one per program), hidden ones left out.
pub fn render(metrics: &[&Metric]) -> String {
    let mut by_name: BTreeMap<&str, Vec<Json>> = BTreeMap::new();
    for m in metrics.iter().filter(|m| !m.def.hidden) {
        by_name.entry(&m.def.name).or_default().push(metric(m));
    }
    // Byte for byte as mtail prints it: Go's MarshalIndent, no final newline.
    to_go_json(&by_name)
}

/// The HTTP `/json` view: every (not hidden) metric as one array, as mtail serves its store.
pub fn render_store(metrics: &[&Metric]) -> String {
    let all: Vec<Json> = metrics
        .iter()
        .filter(|m| !m.def.hidden)
        .map(|m| metric(m))
        .collect();
    to_go_json(&all)
}

/// `v` as Go's `json.MarshalIndent(v, "", "  ")` writes it.
fn to_go_json<T: Serialize>(v: &T) -> String {
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut out, GoFormatter::default());
    // Serializing a tree of maps, strings and numbers into memory cannot fail.
    let _ = v.serialize(&mut ser);
    String::from_utf8(out).unwrap_or_default()
}

/// serde_json's pretty printer with Go's spelling of floats and strings.
#[derive(Default)]
struct GoFormatter(PrettyFormatter<'static>);

impl Formatter for GoFormatter {
    fn write_f64<W: ?Sized + io::Write>(&mut self, w: &mut W, v: f64) -> io::Result<()> {
        w.write_all(go_json_float(v).as_bytes())
    }
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        s: &str,
    ) -> io::Result<()> {
        let mut start = 0;
        for (i, c) in s.char_indices() {
            let esc = match c {
                '<' => "\\u003c",
                '>' => "\\u003e",
                '&' => "\\u0026",
                '\u{2028}' => "\\u2028",
                '\u{2029}' => "\\u2029",
                _ => continue,
            };
            w.write_all(&s.as_bytes()[start..i])?;
            w.write_all(esc.as_bytes())?;
            start = i + c.len_utf8();
        }
        w.write_all(&s.as_bytes()[start..])
    }
    fn begin_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_array(w)
    }
    fn end_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array(w)
    }
    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.0.begin_array_value(w, first)
    }
    fn end_array_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array_value(w)
    }
    fn begin_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object(w)
    }
    fn end_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object(w)
    }
    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.0.begin_object_key(w, first)
    }
    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object_value(w)
    }
    fn end_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object_value(w)
    }
}

/// A float as Go's `encoding/json` writes it: shortest round-trip digits, plain notation unless
/// `|v| < 1e-6` or `|v| >= 1e21`, then `1e-7` / `1.5e+21`.
pub fn go_json_float(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 || (1e-6..1e21).contains(&a) {
        return format!("{v}");
    }
    let s = format!("{v:e}");
    match s.split_once('e') {
        Some((m, e)) if e.starts_with('-') => format!("{m}e{e}"),
        Some((m, e)) if e.len() < 2 => format!("{m}e+0{e}"),
        Some((m, e)) => format!("{m}e+{e}"),
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_are_spelled_as_go_encodes_them() {
        // What Go's json.Marshal writes for each.
        let cases = [
            (6.0, "6"),
            (-0.0, "-0"),
            (0.5, "0.5"),
            (1.0 / 3.0, "0.3333333333333333"),
            (4e6, "4000000"),
            (1e20, "100000000000000000000"),
            (1e21, "1e+21"),
            (1.5e300, "1.5e+300"),
            (0.000001, "0.000001"),
            (1e-7, "1e-7"),
            (-2.5e-10, "-2.5e-10"),
        ];
        for (v, want) in cases {
            assert_eq!(go_json_float(v), want, "{v}");
        }
    }

    #[test]
    fn strings_escape_what_go_escapes() {
        let s = to_go_json(&json!(["<a> & \u{2028}\u{2029} \"q\" \n é"]));
        assert_eq!(
            s,
            "[\n  \"\\u003ca\\u003e \\u0026 \\u2028\\u2029 \\\"q\\\" \\n é\"\n]"
        );
    }
}
