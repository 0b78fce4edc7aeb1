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

/// Drop datum times so runs compare equal whatever the clock said.
fn without_times(v: &Json) -> Json {
    match v {
        Json::Object(o) => Json::Object(
            o.iter()
                .filter(|(k, _)| *k != "Time")
                .map(|(k, v)| (k.clone(), without_times(v)))
                .collect(),
        ),
        Json::Array(a) => Json::Array(a.iter().map(without_times).collect()),
        other => other.clone(),
    }
}

/// The difference between two JSON stores, metric by metric. Empty when they agree.
pub fn diff_json(expected: &str, actual: &str) -> Result<String, String> {
    let parse = |s: &str, what: &str| -> Result<BTreeMap<String, Json>, String> {
        serde_json::from_str::<BTreeMap<String, Json>>(s)
            .map_err(|e| format!("{what}: not mtail JSON: {e}"))
    };
    let e = parse(expected, "expected file")?;
    let a = parse(actual, "output")?;
    let mut out = String::new();
    let names: std::collections::BTreeSet<&String> = e.keys().chain(a.keys()).collect();
    for name in names {
        let (ev, av) = (
            e.get(name).map(without_times),
            a.get(name).map(without_times),
        );
        if ev == av {
            continue;
        }
        let _ = writeln!(out, "metric {name}:");
        if let Some(ev) = ev {
            let _ = writeln!(out, "- {ev}");
        }
        if let Some(av) = av {
            let _ = writeln!(out, "+ {av}");
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
        assert!(diff_json(e, other).unwrap().starts_with("metric a:\n- "));
    }
}
