//! The status page at `/`: build and uptime, the programs with their load and runtime errors,
//! the log sources with their counters, and links to the other endpoints.
//!
//! Sources are whatever the process's own metrics say about them: every family in the registry
//! with a `logfile` label gives a column, every `logfile` value a row.

use super::self_metrics::VERSION;
use crate::state::State;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::PoisonError;

/// One program's line on the page.
struct ProgramRow {
    name: String,
    path: String,
    series: usize,
    runtime_errors: u64,
    last_error: Option<String>,
    load_error: Option<String>,
}

fn programs(state: &State) -> Vec<ProgramRow> {
    let mut load_errors = state
        .load_errors
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    let mut rows: Vec<ProgramRow> = state
        .programs
        .load()
        .iter()
        .map(|p| {
            let vm = p.vm.lock().unwrap_or_else(PoisonError::into_inner);
            ProgramRow {
                name: p.name.clone(),
                path: p.path.display().to_string(),
                series: vm.store.metrics.iter().map(|m| m.series.len()).sum(),
                runtime_errors: vm.runtime_errors,
                last_error: vm.last_error.clone(),
                load_error: load_errors.remove(&p.name),
            }
        })
        .collect();
    // Programs that failed to load and run no older version.
    rows.extend(load_errors.into_iter().map(|(name, err)| ProgramRow {
        name,
        path: String::new(),
        series: 0,
        runtime_errors: 0,
        last_error: None,
        load_error: Some(err),
    }));
    rows
}

/// logfile → (metric name → value), and the metric names seen.
fn sources(state: &State) -> (BTreeMap<String, BTreeMap<String, f64>>, Vec<String>) {
    let mut rows: BTreeMap<String, BTreeMap<String, f64>> = BTreeMap::new();
    let mut columns = Vec::new();
    for mf in state.registry.gather() {
        let mut seen = false;
        for m in mf.get_metric() {
            let Some(file) = m.get_label().iter().find(|l| l.name() == "logfile") else {
                continue;
            };
            let value = match mf.get_field_type() {
                prometheus::proto::MetricType::COUNTER => m.get_counter().get_value(),
                prometheus::proto::MetricType::GAUGE => m.get_gauge().get_value(),
                _ => continue,
            };
            seen = true;
            *rows
                .entry(file.value().to_string())
                .or_default()
                .entry(mf.name().to_string())
                .or_default() += value;
        }
        if seen {
            columns.push(mf.name().to_string());
        }
    }
    (rows, columns)
}

/// Escape text for HTML.
pub fn html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Percent-encode a query value.
fn query_value(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// The page.
pub fn render(state: &State) -> String {
    let uptime = state.started.elapsed().as_secs();
    let mut o = String::new();
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>logmill</title>\
         <style>body{{font-family:sans-serif}}table{{border-collapse:collapse}}\
         td,th{{border:1px solid #ccc;padding:2px 8px;text-align:left;vertical-align:top}}\
         .err{{color:#b00;white-space:pre-wrap;font-family:monospace}}</style></head><body>\n\
         <h1>logmill</h1>\n<p>version {} · up {}d {:02}:{:02}:{:02}</p>\n\
         <p><a href=\"/metrics\">/metrics</a> · <a href=\"/json\">/json</a> · \
         <a href=\"/varz\">/varz</a> · <a href=\"/progz\">/progz</a> · <a href=\"/healthz\">/healthz</a></p>\n",
        html(VERSION),
        uptime / 86400,
        uptime / 3600 % 24,
        uptime / 60 % 60,
        uptime % 60
    );
    o.push_str("<h2>Programs</h2>\n<table><tr><th>program</th><th>path</th><th>series</th><th>load error</th><th>runtime errors</th><th>last runtime error</th></tr>\n");
    for p in programs(state) {
        let _ = writeln!(
            o,
            "<tr><td><a href=\"/progz?prog={}\">{}</a></td><td>{}</td><td>{}</td><td class=\"err\">{}</td><td>{}</td><td class=\"err\">{}</td></tr>",
            html(&query_value(&p.name)),
            html(&p.name),
            html(&p.path),
            p.series,
            html(p.load_error.as_deref().unwrap_or("")),
            p.runtime_errors,
            html(p.last_error.as_deref().unwrap_or("")),
        );
    }
    o.push_str("</table>\n");
    let (rows, columns) = sources(state);
    if !rows.is_empty() {
        o.push_str("<h2>Sources</h2>\n<table><tr><th>logfile</th>");
        for c in &columns {
            let _ = write!(o, "<th>{}</th>", html(c));
        }
        o.push_str("</tr>\n");
        for (file, values) in &rows {
            let _ = write!(o, "<tr><td>{}</td>", html(file));
            for c in &columns {
                match values.get(c) {
                    Some(v) => {
                        let _ = write!(o, "<td>{v}</td>");
                    }
                    None => o.push_str("<td></td>"),
                }
            }
            o.push_str("</tr>\n");
        }
        o.push_str("</table>\n");
    }
    o.push_str("</body></html>\n");
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        assert_eq!(
            html("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert_eq!(query_value("a b/c.mtail"), "a%20b%2Fc.mtail");
    }
}
