//! The endpoints: `/metrics`, `/json`, `/varz`, `/graphite`, `/` (status page),
//! `/progz[?prog=NAME]`, `/healthz`.
//! Only GET and HEAD are served and no request may carry a body. Rendering runs on tokio's
//! blocking pool so a large scrape never holds up the server's other connections.

use super::accept::choose;
use super::{scrape, status, ServeConfig};
use crate::export::{graphite, json, prometheus::Options, varz};
use crate::state::State;
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, ACCEPT, ALLOW, CONTENT_LENGTH, CONTENT_TYPE, TRANSFER_ENCODING};
use hyper::{Method, Request, Response, StatusCode};
use std::convert::Infallible;
use std::fmt::Write;
use std::sync::{Arc, PoisonError};

pub type Body = Full<Bytes>;

fn respond(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Response<Body> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

fn plain(status: StatusCode, body: impl Into<Bytes>) -> Response<Body> {
    respond(status, "text/plain; charset=utf-8", body)
}

/// Serve one request.
pub async fn handle(
    state: Arc<State>,
    config: Arc<ServeConfig>,
    req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut r = plain(StatusCode::METHOD_NOT_ALLOWED, "only GET and HEAD\n");
        r.headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        return Ok(r);
    }
    let has_body = req.headers().contains_key(TRANSFER_ENCODING)
        || req
            .headers()
            .get(CONTENT_LENGTH)
            .is_some_and(|v| v.as_bytes() != b"0");
    if has_body {
        return Ok(plain(
            StatusCode::PAYLOAD_TOO_LARGE,
            "requests take no body\n",
        ));
    }
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let accept = req
        .headers()
        .get(ACCEPT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let opts = Options {
        emit_prog_label: config.emit_prog_label,
        emit_timestamp: config.emit_timestamp,
    };
    let work = move || match path.as_str() {
        "/metrics" => {
            let asked = query_param(&query, "format");
            match choose(config.exposition, asked.as_deref(), accept.as_deref()) {
                Ok(format) => {
                    let (body, ct) = scrape::render(&state, format, &opts);
                    respond(StatusCode::OK, ct, body)
                }
                Err(e) => plain(StatusCode::BAD_REQUEST, e),
            }
        }
        "/json" => {
            let snapshot = state.snapshot();
            let refs: Vec<_> = snapshot.iter().collect();
            respond(
                StatusCode::OK,
                "application/json",
                json::render_store(&refs),
            )
        }
        "/varz" => {
            let snapshot = state.snapshot();
            let refs: Vec<_> = snapshot.iter().collect();
            let body = varz::render(&refs, config.emit_prog_label, &config.hostname);
            plain(StatusCode::OK, body)
        }
        "/graphite" => {
            let snapshot = state.snapshot();
            let refs: Vec<_> = snapshot.iter().collect();
            let opts = graphite::Options {
                prefix: config.graphite_prefix.clone(),
                with_text: true,
            };
            respond(
                StatusCode::OK,
                "text/plain; charset=utf-8",
                graphite::render(&refs, &opts).0,
            )
        }
        "/" => respond(
            StatusCode::OK,
            "text/html; charset=utf-8",
            status::render(&state),
        ),
        "/progz" => progz(&state, &query),
        "/healthz" => plain(StatusCode::OK, "ok\n"),
        _ => plain(StatusCode::NOT_FOUND, "not found\n"),
    };
    Ok(tokio::task::spawn_blocking(work)
        .await
        .unwrap_or_else(|_| plain(StatusCode::INTERNAL_SERVER_ERROR, "internal error\n")))
}

/// The value of a query parameter, percent-decoded.
fn query_param(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        (k == name).then(|| percent_decode(v))
    })
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `/progz`: the named program's bytecode and last runtime error, or every program's.
fn progz(state: &State, query: &str) -> Response<Body> {
    let wanted = query_param(query, "prog").filter(|p| !p.is_empty());
    let programs = state.programs.load();
    let mut out = String::new();
    let mut found = false;
    for p in programs.iter() {
        if wanted.as_deref().is_some_and(|w| w != p.name) {
            continue;
        }
        found = true;
        let (program, errors, last) = {
            let vm = p.vm.lock().unwrap_or_else(PoisonError::into_inner);
            (
                Arc::clone(vm.program()),
                vm.runtime_errors,
                vm.last_error.clone(),
            )
        };
        let _ = writeln!(out, "{}", program.dump());
        let _ = writeln!(out, "runtime errors: {errors}");
        let _ = writeln!(out, "last error: {}\n", last.as_deref().unwrap_or("none"));
    }
    if let Some(w) = &wanted {
        if let Some(err) = state
            .load_errors
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(w)
        {
            found = true;
            let _ = writeln!(out, "load error of {w}:\n{err}");
        }
    }
    match (found, wanted) {
        (false, Some(w)) => plain(StatusCode::NOT_FOUND, format!("no program named {w:?}\n")),
        (false, None) => plain(StatusCode::OK, "no programs loaded\n"),
        (true, _) => plain(StatusCode::OK, out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_params_decode() {
        assert_eq!(
            query_param("prog=a%20b.mtail&x=1", "prog").as_deref(),
            Some("a b.mtail")
        );
        assert_eq!(query_param("x=1&prog=c+d", "prog").as_deref(), Some("c d"));
        assert_eq!(query_param("prog=%zz%", "prog").as_deref(), Some("%zz%"));
        assert_eq!(query_param("x=1", "prog"), None);
    }
}
