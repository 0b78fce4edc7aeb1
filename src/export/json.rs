//! mtail's JSON view of the store: `{ name: [metric, …] }` with Go's field names
//! (`Name, Program, Kind, Type, Keys, LabelValues, Source, Buckets, Limit`).

use crate::store::{labels, Metric, Value, ValueType};
use crate::syntax::ast::MetricKind;
use serde_json::{json, Map, Value as Json};
use std::collections::BTreeMap;

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
                    let buckets: Map<String, Json> = def
                        .buckets
                        .iter()
                        .zip(&h.counts)
                        .map(|(&(_, max), c)| {
                            let k = if max.is_infinite() { "+Inf".to_string() } else { crate::store::format::go_float(max) };
                            (k, json!(c))
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
            .map(|&(min, max)| json!({ "Min": number(min), "Max": number(max) }))
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
    serde_json::to_string_pretty(&by_name).unwrap_or_else(|_| "{}".into())
}
