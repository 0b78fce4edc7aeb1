//! Remote write's HTTP side: a hyper client per URL, one POST of the snappy protobuf body per
//! push, each attempt bounded by the deadline; 5xx, 429, no connection and no answer are
//! retried with exponential back-off (100 ms doubling to 5 s, plus up to half again of jitter)
//! until the next push is due; another 4xx drops the push.

use super::Reason;
use crate::export::remote_write as rw;
use crate::store::Metric;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper::header::{CONTENT_ENCODING, CONTENT_TYPE, USER_AGENT};
use hyper::{Request, StatusCode, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use prometheus::IntCounter;
use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The HTTP client of one remote write URL.
pub type Client = hyper_util::client::legacy::Client<HttpConnector, Full<Bytes>>;

pub fn client() -> Client {
    hyper_util::client::legacy::Client::builder(TokioExecutor::new()).build_http()
}

/// A remote write receiver and what every series sent there carries.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub url: Uri,
    /// `--remote_write_label name=value`, added to series that lack the name.
    pub external: Vec<(String, String)>,
    /// `--emit_prog_label`, as for `/metrics`.
    pub emit_prog_label: bool,
}

fn label_name_ok(n: &str) -> bool {
    let mut c = n.chars();
    c.next()
        .is_some_and(|f| f.is_ascii_alphabetic() || f == '_')
        && c.all(|x| x.is_ascii_alphanumeric() || x == '_')
}

impl Endpoint {
    /// `--remote_write_url` (plain `http://`) and the `--remote_write_label`s.
    pub fn parse(url: &str, labels: &[String], emit_prog_label: bool) -> Result<Endpoint, String> {
        let uri: Uri = url
            .parse()
            .map_err(|e| format!("--remote_write_url {url:?}: {e}"))?;
        match uri.scheme_str() {
            Some("http") if uri.host().is_some() => {}
            Some("https") => {
                return Err(format!(
                    "--remote_write_url {url:?}: https is not supported; send to a local \
                     TLS-terminating proxy over http"
                ))
            }
            _ => return Err(format!("--remote_write_url {url:?}: not an http:// URL")),
        }
        let mut external = Vec::new();
        for l in labels {
            let (k, v) = l
                .split_once('=')
                .ok_or_else(|| format!("--remote_write_label {l:?}: not NAME=VALUE"))?;
            if !label_name_ok(k) || k.starts_with("__") {
                return Err(format!(
                    "--remote_write_label {l:?}: {k:?} is not a label name"
                ));
            }
            external.push((k.to_string(), v.to_string()));
        }
        Ok(Endpoint {
            url: uri,
            external,
            emit_prog_label,
        })
    }

    /// The body of a push of `metrics` now, and how many series it holds.
    pub(crate) fn body(&self, metrics: &[&Metric]) -> (Bytes, usize) {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let req = rw::request(metrics, self.emit_prog_label, &self.external, now_ms);
        (Bytes::from(rw::encode(&req)), req.timeseries.len())
    }
}

/// A random duration in `[0, max]`.
fn jitter(max: Duration) -> Duration {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(0);
    let unit = (h.finish() >> 11) as f64 / (1u64 << 53) as f64;
    max.mul_f64(unit)
}

/// POST `body` to `e` until it is taken, refused, or `until` comes.
pub(crate) async fn send(
    client: &Client,
    e: &Endpoint,
    body: Bytes,
    deadline: Duration,
    until: Instant,
    retries: &IntCounter,
) -> Result<(), (Reason, String)> {
    let mut backoff = Duration::from_millis(100);
    loop {
        let req = Request::post(e.url.clone())
            .header(CONTENT_TYPE, "application/x-protobuf")
            .header(CONTENT_ENCODING, "snappy")
            .header(USER_AGENT, concat!("logmill/", env!("CARGO_PKG_VERSION")))
            .header("X-Prometheus-Remote-Write-Version", "0.1.0")
            .body(Full::new(body.clone()))
            .map_err(|err| (Reason::Rejected, err.to_string()))?;
        let failed = match tokio::time::timeout(deadline, client.request(req)).await {
            Err(_) => (Reason::Timeout, format!("no answer within {deadline:?}")),
            Ok(Err(err)) if err.is_connect() => (Reason::Dial, format!("connecting: {err}")),
            Ok(Err(err)) => (Reason::Write, format!("sending: {err}")),
            Ok(Ok(resp)) => {
                let status = resp.status();
                if status.is_success() {
                    return Ok(());
                }
                let text = match tokio::time::timeout(
                    Duration::from_secs(1),
                    Limited::new(resp.into_body(), 512).collect(),
                )
                .await
                {
                    Ok(Ok(b)) => String::from_utf8_lossy(&b.to_bytes()).trim().to_string(),
                    _ => String::new(),
                };
                let what = format!("answered {status}: {text}");
                if status != StatusCode::TOO_MANY_REQUESTS && !status.is_server_error() {
                    return Err((Reason::Rejected, what + " (dropped)"));
                }
                (Reason::Unavailable, what)
            }
        };
        let wait = backoff + jitter(backoff / 2);
        if Instant::now() + wait >= until {
            return Err((failed.0, failed.1 + ", until the next push"));
        }
        retries.inc();
        tokio::time::sleep(wait).await;
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}
