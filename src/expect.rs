//! `logmill test`: the metrics a program computed, compared with an expected file (Prometheus
//! text, or mtail's JSON when the file ends in `.json`), with a readable difference.
//!
//! Prometheus files compare sample by sample (comments and order ignored, values as floats with
//! a relative tolerance of 1e-9). JSON files compare metric by metric, datum times ignored
//! (a program without `strptime` stamps datums with the wall clock).

use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// A sample's identity: metric name and its labels, sorted.
pub type SampleKey = (String, Vec<(String, String)>);

/// The expected file's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Prometheus,
    Json,
}

impl Format {
    pub fn of_path(path: &std::path::Path) -> Format {
        match path.extension().and_then(|e| e.to_str()) {
            Some("json") => Format::Json,
            _ => Format::Prometheus,
        }
    }
}

/// Parse the samples of a Prometheus text exposition; `Err` names the bad line.
pub fn samples(text: &str) -> Result<BTreeMap<SampleKey, f64>, String> {
    let mut out = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = || format!("line {}: cannot parse {line:?}", n + 1);
        let name_end = line
            .find(|c: char| c == '{' || c.is_whitespace())
            .ok_or_else(bad)?;
        let name = &line[..name_end];
        let mut rest = &line[name_end..];
        let mut labels = Vec::new();
        if let Some(body) = rest.strip_prefix('{') {
            let (parsed, after) = parse_labels(body).ok_or_else(bad)?;
            labels = parsed;
            rest = after;
        }
        let value = rest.split_whitespace().next().ok_or_else(bad)?;
        let value = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().map_err(|_| bad())?,
        };
        labels.sort();
        out.insert((name.to_string(), labels), value);
    }
    Ok(out)
}

/// `k="v",…}` → the pairs and what follows the `}`.
fn parse_labels(mut s: &str) -> Option<(Vec<(String, String)>, &str)> {
    let mut out = Vec::new();
    loop {
        s = s.trim_start_matches([' ', ',']);
        if let Some(rest) = s.strip_prefix('}') {
            return Some((out, rest));
        }
        let eq = s.find('=')?;
        let key = s[..eq].trim().to_string();
        s = s[eq + 1..].strip_prefix('"')?;
        let mut value = String::new();
        let mut chars = s.char_indices();
        let end = loop {
            let (i, c) = chars.next()?;
            match c {
                '"' => break i,
                '\\' => match chars.next()?.1 {
                    'n' => value.push('\n'),
                    other => value.push(other),
                },
                c => value.push(c),
            }
        };
        out.push((key, value));
        s = &s[end + 1..];
    }
}

fn same(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a == b || (a - b).abs() <= 1e-9 * 1f64.max(a.abs()).max(b.abs())
}

fn show(key: &SampleKey) -> String {
    let labels: Vec<String> = key.1.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    if labels.is_empty() {
        key.0.clone()
    } else {
        format!("{}{{{}}}", key.0, labels.join(","))
    }
}

/// The difference between two expositions, one line per sample: `-` only expected, `+` only
/// produced, `~` different value. Empty when they agree.
pub fn diff_prometheus(expected: &str, actual: &str) -> Result<String, String> {
    let e = samples(expected).map_err(|m| format!("expected file: {m}"))?;
    let a = samples(actual)?;
    let mut out = String::new();
    for (k, v) in &e {
        match a.get(k) {
            None => writeln!(out, "- {} {v}", show(k)),
            Some(w) if !same(*v, *w) => writeln!(out, "~ {} expected {v}, got {w}", show(k)),
            _ => Ok(()),
        }
        .ok();
    }
    for (k, v) in a.iter().filter(|(k, _)| !e.contains_key(*k)) {
        let _ = writeln!(out, "+ {} {v}", show(k));
    }
    Ok(out)
}

/// One JSON store flattened to leaves: metric → field path → value, where a label set's fields
/// are under `{key="value",…}` (so the order of metrics and of label sets does not matter).
type Leaves = BTreeMap<(String, String), BTreeMap<String, Json>>;

/// A path segment: `.Name` for a plain key, `["+Inf"]` for any other.
fn segment(key: &str) -> String {
    if !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        format!(".{key}")
    } else {
        format!("[{key:?}]")
    }
}

/// Every leaf of `v` under `path`, datum times left out.
fn flatten(v: &Json, path: String, out: &mut BTreeMap<String, Json>) {
    match v {
        Json::Object(o) => {
            for (k, v) in o.iter().filter(|(k, _)| *k != "Time") {
                flatten(v, format!("{path}{}", segment(k)), out);
            }
        }
        Json::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                flatten(v, format!("{path}[{i}]"), out);
            }
        }
        leaf => {
            out.insert(path, leaf.clone());
        }
    }
}

/// `file:line:col` with the file reduced to its name: mtail writes the program path it was given.
fn source_name(s: &str) -> String {
    s.rsplit('/').next().unwrap_or(s).to_string()
}

/// The leaves of one metric object, under `(name, program)`.
fn metric_leaves(m: &Json, out: &mut Leaves) -> Result<(), String> {
    let obj = m.as_object().ok_or("a metric is not an object")?;
    let text = |k: &str| obj.get(k).and_then(Json::as_str).unwrap_or("").to_string();
    let name = text("Name");
    let fields = out.entry((name, text("Program"))).or_default();
    let keys: Vec<&str> = obj
        .get("Keys")
        .and_then(Json::as_array)
        .map(|a| a.iter().filter_map(Json::as_str).collect())
        .unwrap_or_default();
    for (k, v) in obj {
        match k.as_str() {
            "Name" | "Program" => {}
            "Source" => {
                let s = source_name(v.as_str().unwrap_or(""));
                fields.insert("Source".into(), Json::String(s));
            }
            "LabelValues" => {
                for lv in v.as_array().into_iter().flatten() {
                    let labels: Vec<&str> = lv
                        .get("Labels")
                        .and_then(Json::as_array)
                        .map(|a| a.iter().filter_map(Json::as_str).collect())
                        .unwrap_or_default();
                    let set: Vec<String> = labels
                        .iter()
                        .enumerate()
                        .map(|(i, l)| format!("{}={l:?}", keys.get(i).unwrap_or(&"?")))
                        .collect();
                    let at = format!("{{{}}}", set.join(","));
                    let mut leaves = BTreeMap::new();
                    if let Some(o) = lv.as_object() {
                        for (k, v) in o.iter().filter(|(k, _)| *k != "Labels") {
                            // `Value.Value` is shown as `Value`, `Value.Sum` as `Sum`.
                            let path = if k == "Value" && v.is_object() {
                                String::new()
                            } else {
                                segment(k)
                            };
                            flatten(v, path, &mut leaves);
                        }
                    }
                    for (path, v) in leaves {
                        let path = if path.is_empty() {
                            ".Value".into()
                        } else {
                            path
                        };
                        fields.insert(format!("{at}{path}"), v);
                    }
                }
            }
            _ => flatten(v, segment(k), fields),
        }
    }
    Ok(())
}

/// A JSON store as one-shot (`{name: [metric, …]}`) or `/json` (`[metric, …]`) writes it.
fn store_leaves(text: &str) -> Result<Leaves, String> {
    let v: Json = serde_json::from_str(text).map_err(|e| format!("not mtail JSON: {e}"))?;
    let mut out = Leaves::new();
    let metrics: Vec<&Json> = match &v {
        Json::Object(o) => o.values().filter_map(Json::as_array).flatten().collect(),
        Json::Array(a) => a.iter().collect(),
        _ => return Err("not mtail JSON: neither an object nor an array".into()),
    };
    for m in metrics {
        metric_leaves(m, &mut out)?;
    }
    Ok(out)
}

/// A leaf as a number, when it is one or spells one (`"+Inf"`, `"0.5"`: bucket bounds).
fn as_number(v: &Json) -> Option<f64> {
    match v {
        Json::Number(n) => n.as_f64(),
        Json::String(s) => match s.as_str() {
            "+Inf" => Some(f64::INFINITY),
            "-Inf" => Some(f64::NEG_INFINITY),
            s => s.parse().ok(),
        },
        _ => None,
    }
}

fn same_leaf(a: &Json, b: &Json) -> bool {
    match (as_number(a), as_number(b)) {
        (Some(x), Some(y)) => same(x, y),
        _ => a == b,
    }
}

/// The difference between two JSON stores, one line per field: `-` only expected, `+` only
/// produced, `~` different value. Values compare as numbers where both are numbers (`6` and
/// `6.0`, `"1"` and `1`); datum times are ignored, and `Source` compares by file name.
pub fn diff_json(expected: &str, actual: &str) -> Result<String, String> {
    let e = store_leaves(expected).map_err(|m| format!("expected file: {m}"))?;
    let a = store_leaves(actual).map_err(|m| format!("output: {m}"))?;
    let mut programs: BTreeMap<&str, std::collections::BTreeSet<&str>> = BTreeMap::new();
    for (name, program) in e.keys().chain(a.keys()) {
        programs.entry(name).or_default().insert(program);
    }
    let empty = BTreeMap::new();
    let mut out = String::new();
    let ids: std::collections::BTreeSet<&(String, String)> = e.keys().chain(a.keys()).collect();
    for id in ids {
        let (ef, af) = (e.get(id), a.get(id));
        // A name under two programs is shown with its program.
        let who = if programs[id.0.as_str()].len() > 1 {
            format!("{} ({})", id.0, id.1)
        } else {
            id.0.clone()
        };
        match (ef, af) {
            (Some(_), None) => {
                let _ = writeln!(out, "- {who} (metric not produced)");
                continue;
            }
            (None, Some(_)) => {
                let _ = writeln!(out, "+ {who} (metric not expected)");
                continue;
            }
            _ => {}
        }
        let (ef, af) = (ef.unwrap_or(&empty), af.unwrap_or(&empty));
        let paths: std::collections::BTreeSet<&String> = ef.keys().chain(af.keys()).collect();
        for path in paths {
            let sep = if path.starts_with('{') { "" } else { " " };
            match (ef.get(path), af.get(path)) {
                (Some(x), None) => writeln!(out, "- {who}{sep}{path} {x}"),
                (None, Some(y)) => writeln!(out, "+ {who}{sep}{path} {y}"),
                (Some(x), Some(y)) if !same_leaf(x, y) => {
                    writeln!(out, "~ {who}{sep}{path} expected {x}, got {y}")
                }
                _ => Ok(()),
            }
            .ok();
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_diff_ignores_order_comments_and_float_spelling() {
        let e = "# HELP a x\na{x=\"1\",y=\"q\\\"\"} 1e+06\nb 2\n";
        let a = "b 2.0\na{y=\"q\\\"\",x=\"1\"} 1000000\n";
        assert_eq!(diff_prometheus(e, a).unwrap(), "");
    }

    #[test]
    fn prometheus_diff_names_every_difference() {
        let d = diff_prometheus("a 1\nb 2\n", "a 1.5\nc 3\n").unwrap();
        assert_eq!(d, "~ a expected 1, got 1.5\n- b 2\n+ c 3\n");
        assert!(diff_prometheus("a{x=1} 2\n", "").is_err());
    }

    #[test]
    fn json_diff_ignores_times() {
        let e = r#"{"a":[{"Name":"a","LabelValues":[{"Value":{"Value":1,"Time":5}}]}]}"#;
        let same = r#"{"a":[{"Name":"a","LabelValues":[{"Value":{"Value":1,"Time":9}}]}]}"#;
        let other = r#"{"a":[{"Name":"a","LabelValues":[{"Value":{"Value":2,"Time":9}}]}]}"#;
        assert_eq!(diff_json(e, same).unwrap(), "");
        assert_eq!(
            diff_json(e, other).unwrap(),
            "~ a{}.Value expected 1, got 2\n"
        );
    }

    #[test]
    fn json_diff_compares_by_value_whatever_the_order_and_spelling() {
        let e = r#"{"c":[{"Name":"c","Program":"p","Keys":["k"],"LabelValues":[
              {"Labels":["x"],"Value":{"Value":6,"Time":1}},
              {"Labels":["y"],"Value":{"Value":2.5,"Time":1}}],
            "Source":"/etc/mtail/p:1:9","Buckets":[{"Min":"0","Max":"+Inf"}]}]}"#;
        // Label sets in the other order, 6.0 for 6, numbers for bucket bounds, the store form.
        let a = r#"[{"Name":"c","Program":"p","Keys":["k"],"LabelValues":[
              {"Labels":["y"],"Value":{"Value":2.5,"Time":7}},
              {"Labels":["x"],"Value":{"Value":6.0,"Time":7}}],
            "Source":"p:1:9","Buckets":[{"Min":0,"Max":"+Inf"}]}]"#;
        assert_eq!(diff_json(e, a).unwrap(), "");
    }

    #[test]
    fn json_diff_names_each_field_that_differs() {
        let e = r#"{"c":[{"Name":"c","Program":"p","Kind":1,"Keys":["k"],"LabelValues":[
              {"Labels":["x"],"Value":{"Value":6,"Time":1}},
              {"Labels":["y"],"Value":{"Value":1,"Time":1}}]}],
            "gone":[{"Name":"gone","Program":"p"}]}"#;
        let a = r#"{"c":[{"Name":"c","Program":"p","Kind":2,"Keys":["k"],"LabelValues":[
              {"Labels":["x"],"Value":{"Value":7,"Time":1}},
              {"Labels":["z"],"Value":{"Value":1,"Time":1}}]}],
            "new":[{"Name":"new","Program":"p"}]}"#;
        assert_eq!(
            diff_json(e, a).unwrap(),
            "~ c .Kind expected 1, got 2\n\
             ~ c{k=\"x\"}.Value expected 6, got 7\n\
             - c{k=\"y\"}.Value 1\n\
             + c{k=\"z\"}.Value 1\n\
             - gone (metric not produced)\n\
             + new (metric not expected)\n"
        );
    }
}
