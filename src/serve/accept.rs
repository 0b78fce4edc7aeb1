//! Which exposition `/metrics` answers with. By default always the Prometheus text format
//! 0.0.4, as mtail does, whatever the client prefers: a Prometheus scrape then stores the names
//! it stores for mtail (OpenMetrics would make every counter `name_total`). OpenMetrics 1.0 is
//! served when asked for explicitly: `/metrics?format=openmetrics`, or `--metrics_format`
//! `openmetrics` (always) or `negotiate` (by the Accept header, see [`negotiate`]).
//!
//! Negotiation: the Accept header's media ranges and q-values decide between the two formats.
//!
//! Each format gets the q-value of the most specific range that matches it (`type/subtype`
//! over `type/*` over `*/*`, as RFC 9110 says); OpenMetrics is served when its q-value is
//! higher, or equal and non-zero with a more specific match (it was named, text only matched a
//! wildcard). A header that accepts neither still gets the text format.

/// What `/metrics` answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exposition {
    /// `text/plain; version=0.0.4`.
    Text,
    /// `application/openmetrics-text; version=1.0.0`.
    OpenMetrics,
}

/// What `--metrics_format` says `/metrics` answers with when the URL does not say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Choice {
    /// 0.0.4 text, whatever the Accept header prefers (mtail's behaviour).
    #[default]
    Text,
    /// OpenMetrics 1.0 always.
    OpenMetrics,
    /// By the Accept header ([`negotiate`]).
    Negotiate,
}

impl Choice {
    /// A `--metrics_format` value.
    pub fn parse(text: &str) -> Option<Choice> {
        match text {
            "text" | "prometheus" => Some(Choice::Text),
            "openmetrics" => Some(Choice::OpenMetrics),
            "negotiate" => Some(Choice::Negotiate),
            _ => None,
        }
    }
}

/// The exposition of one request: the URL's `format` parameter (`openmetrics`, `text` or
/// `prometheus`) over the configured choice; `Err` names an unknown `format`.
pub fn choose(
    choice: Choice,
    format: Option<&str>,
    accept: Option<&str>,
) -> Result<Exposition, String> {
    match format {
        Some("openmetrics") => return Ok(Exposition::OpenMetrics),
        Some("text" | "prometheus") => return Ok(Exposition::Text),
        Some(other) => {
            return Err(format!(
                "format must be openmetrics or text, not {other:?}\n"
            ))
        }
        None => {}
    }
    Ok(match choice {
        Choice::Text => Exposition::Text,
        Choice::OpenMetrics => Exposition::OpenMetrics,
        Choice::Negotiate => negotiate(accept),
    })
}

/// Choose the exposition for an Accept header (absent: text).
pub fn negotiate(accept: Option<&str>) -> Exposition {
    let Some(accept) = accept else {
        return Exposition::Text;
    };
    let om = best(accept, "application", "openmetrics-text");
    let text = best(accept, "text", "plain");
    match (om, text) {
        (Some((qo, so)), Some((qt, st))) if qo > qt || (qo == qt && qo > 0.0 && so > st) => {
            Exposition::OpenMetrics
        }
        (Some((qo, _)), None) if qo > 0.0 => Exposition::OpenMetrics,
        _ => Exposition::Text,
    }
}

/// The (q-value, specificity) of the most specific range matching `ty/sub`, if any.
fn best(accept: &str, ty: &str, sub: &str) -> Option<(f32, u8)> {
    let mut found: Option<(f32, u8)> = None;
    for range in accept.split(',') {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or("").trim();
        let Some((rt, rs)) = media.split_once('/') else {
            continue;
        };
        let (rt, rs) = (rt.trim(), rs.trim());
        let specificity = if rt.eq_ignore_ascii_case(ty) && rs.eq_ignore_ascii_case(sub) {
            3
        } else if rt.eq_ignore_ascii_case(ty) && rs == "*" {
            2
        } else if rt == "*" && rs == "*" {
            1
        } else {
            continue;
        };
        let mut q = Some(1.0f32);
        for p in parts {
            if let Some((k, v)) = p.split_once('=') {
                if k.trim().eq_ignore_ascii_case("q") {
                    q = v
                        .trim()
                        .parse::<f32>()
                        .ok()
                        .filter(|q| (0.0..=1.0).contains(q));
                }
            }
        }
        let Some(q) = q else {
            continue; // a malformed q-value: the range is ignored
        };
        if found.is_none_or(|(_, s)| specificity > s) {
            found = Some((q, specificity));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::Exposition::{OpenMetrics, Text};
    use super::*;

    const PROMETHEUS: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

    #[test]
    fn text_unless_openmetrics_is_asked_for() {
        let ok = |c, f, a| choose(c, f, a).unwrap();
        assert_eq!(ok(Choice::Text, None, Some(PROMETHEUS)), Text);
        assert_eq!(ok(Choice::Text, Some("openmetrics"), None), OpenMetrics);
        assert_eq!(ok(Choice::Negotiate, None, Some(PROMETHEUS)), OpenMetrics);
        assert_eq!(ok(Choice::Negotiate, Some("text"), Some(PROMETHEUS)), Text);
        assert_eq!(ok(Choice::OpenMetrics, None, None), OpenMetrics);
        assert_eq!(ok(Choice::OpenMetrics, Some("prometheus"), None), Text);
        assert!(choose(Choice::Text, Some("json"), None).is_err());
        assert_eq!(Choice::parse("negotiate"), Some(Choice::Negotiate));
        assert_eq!(Choice::parse("om"), None);
    }

    #[test]
    fn negotiation() {
        let cases = [
            (None, Text),
            (Some(""), Text),
            (Some("*/*"), Text),
            (Some("text/plain"), Text),
            (Some("application/json"), Text),
            (Some("application/openmetrics-text"), OpenMetrics),
            (Some("application/openmetrics-text; version=1.0.0"), OpenMetrics),
            // What Prometheus 2.x sends.
            (Some("application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"), OpenMetrics),
            (Some("text/plain;version=0.0.4;q=1,application/openmetrics-text;q=0.5"), Text),
            (Some("application/openmetrics-text;q=0.4, text/plain;q=0.6"), Text),
            (Some("application/openmetrics-text;q=0.6, text/plain;q=0.4"), OpenMetrics),
            (Some("application/openmetrics-text;q=0"), Text),
            (Some("application/openmetrics-text;q=0, */*"), Text),
            (Some("application/openmetrics-text, */*"), OpenMetrics),
            (Some("application/openmetrics-text;q=0.5, */*"), Text),
            (Some("text/plain, application/openmetrics-text"), Text),
            (Some("application/*;q=0.9, text/*;q=0.8"), OpenMetrics),
            (Some("Application/OpenMetrics-Text ; Q=0.9 , text/plain;q=0.2"), OpenMetrics),
            (Some("application/openmetrics-text;q=bogus, text/plain;q=0.1"), Text),
        ];
        for (accept, want) in cases {
            assert_eq!(negotiate(accept), want, "{accept:?}");
        }
    }
}
