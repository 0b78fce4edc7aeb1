//! Prometheus remote write 1.0: the store as a snappy-compressed protobuf `WriteRequest`.
//!
//! The series are the 0.0.4 text's (`super::prometheus::families`): the same names, the same
//! labels (with `prog` unless `--emit_prog_label=false`), histograms as cumulative
//! `_bucket{le=…}` (with `+Inf`), `_sum` and `_count`, text metrics left out. Each series gets
//! the external labels (`--remote_write_label`) it does not already have, its labels sorted by
//! name (`__name__` among them), and one sample stamped with the push time. The messages are
//! declared here with prost's derive (the fields of Prometheus' `prompb/remote.proto` and
//! `types.proto` that 1.0 needs), so no protoc runs at build time.

use super::prometheus::{families, Options};
use crate::store::{format::go_float, Metric};

/// `prometheus.WriteRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct WriteRequest {
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
}

/// `prometheus.TimeSeries`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TimeSeries {
    /// Sorted by name.
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<Sample>,
}

/// `prometheus.Label`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Label {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub value: String,
}

/// `prometheus.Sample`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Sample {
    #[prost(double, tag = "1")]
    pub value: f64,
    /// Milliseconds since the epoch.
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
}

/// The request for a snapshot at `now_ms`, with `external` labels (name, value).
pub fn request(
    metrics: &[&Metric],
    emit_prog_label: bool,
    external: &[(String, String)],
    now_ms: i64,
) -> WriteRequest {
    let opts = Options {
        emit_prog_label,
        emit_timestamp: false,
    };
    let mut out = Vec::new();
    for (name, fam) in families(metrics, &opts, false) {
        for s in &fam.series {
            let mut series = |suffix: &str, le: Option<f64>, value: f64| {
                let mut labels: Vec<Label> = Vec::with_capacity(s.labels.len() + 2);
                labels.push(Label {
                    name: "__name__".into(),
                    value: format!("{name}{suffix}"),
                });
                labels.extend(s.labels.iter().map(|(k, v)| Label {
                    name: (*k).to_string(),
                    value: v.to_string(),
                }));
                if let Some(le) = le {
                    let value = if le == f64::INFINITY {
                        "+Inf".to_string()
                    } else {
                        go_float(le)
                    };
                    labels.push(Label {
                        name: "le".into(),
                        value,
                    });
                }
                for (k, v) in external {
                    if !labels.iter().any(|l| &l.name == k) {
                        labels.push(Label {
                            name: k.clone(),
                            value: v.clone(),
                        });
                    }
                }
                labels.sort_by(|a, b| a.name.cmp(&b.name));
                out.push(TimeSeries {
                    labels,
                    samples: vec![Sample {
                        value,
                        timestamp: now_ms,
                    }],
                });
            };
            s.value.for_each_sample(&mut series);
        }
    }
    WriteRequest { timeseries: out }
}

/// The request's body: protobuf, then raw (block) snappy, as remote write 1.0 wants it.
pub fn encode(req: &WriteRequest) -> Vec<u8> {
    let proto = prost::Message::encode_to_vec(req);
    // Compressing a buffer in memory fails only past snappy's size limit (~4 GiB).
    snap::raw::Encoder::new()
        .compress_vec(&proto)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_become_bucket_sum_count_with_external_labels() {
        let p = crate::compile::compile(
            "t.mtail",
            "counter c by code\nhistogram h buckets 1, 2\n/(?P<v>\\d+)/ {\n  c[$v]++\n  h = $v\n}\n",
        )
        .unwrap();
        let mut vm = crate::vm::Vm::new(std::sync::Arc::new(p), Default::default());
        vm.run_line(b"2", b"f");
        let metrics = vm.store.metrics.clone();
        let refs: Vec<&Metric> = metrics.iter().collect();
        let ext = vec![("host".to_string(), "a".to_string())];
        let req = request(&refs, true, &ext, 1234);
        let text: Vec<String> = req
            .timeseries
            .iter()
            .map(|t| {
                let l: Vec<String> = t
                    .labels
                    .iter()
                    .map(|l| format!("{}={}", l.name, l.value))
                    .collect();
                format!(
                    "{} {} {}",
                    l.join(","),
                    t.samples[0].value,
                    t.samples[0].timestamp
                )
            })
            .collect();
        assert_eq!(
            text,
            [
                "__name__=c,code=2,host=a,prog=t.mtail 1 1234",
                "__name__=h_bucket,host=a,le=1,prog=t.mtail 0 1234",
                "__name__=h_bucket,host=a,le=2,prog=t.mtail 1 1234",
                "__name__=h_bucket,host=a,le=+Inf,prog=t.mtail 1 1234",
                "__name__=h_sum,host=a,prog=t.mtail 2 1234",
                "__name__=h_count,host=a,prog=t.mtail 1 1234",
            ]
        );
        let body = encode(&req);
        let back = snap::raw::Decoder::new().decompress_vec(&body).unwrap();
        let decoded: WriteRequest = prost::Message::decode(&back[..]).unwrap();
        assert_eq!(decoded, req);
    }
}
