//! Outgoing HTTP from a wasi:http/proxy component: denied unless the request's host matches the
//! instance's allow-list, and every denial recorded for the host to report (audit, errors).
//!
//! Patterns: `*` (any host), `api.example.com` (that host, any port), `api.example.com:8080`
//! (that host and port), `*.example.com` (any subdomain, not example.com itself). Hosts compare
//! case-insensitively. A permitted request goes out through wasmtime-wasi-http's own client.
use std::future::Future;

use http_body_util::BodyExt;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

/// At most this many denials are kept per request: a guest looping on a denied host cannot grow
/// the list without bound (the count keeps counting).
const MAX_DENIALS_KEPT: usize = 8;

pub struct OutgoingPolicy {
    allowed: Vec<String>,
    /// "<method> <scheme>://<authority>" of each denied request since the last `take_denied`.
    denied: Vec<String>,
    denied_total: u64,
}

impl OutgoingPolicy {
    pub fn new(allowed: Vec<String>) -> OutgoingPolicy {
        let allowed = allowed.into_iter().map(|p| p.trim().to_ascii_lowercase()).collect();
        OutgoingPolicy { allowed, denied: Vec::new(), denied_total: 0 }
    }

    pub fn permits(&self, authority: &str) -> bool {
        let authority = authority.to_ascii_lowercase();
        let (host, port) = split_authority(&authority);
        self.allowed.iter().any(|pattern| {
            if pattern == "*" {
                return true;
            }
            let (p_host, p_port) = split_authority(pattern);
            if p_port.is_some() && p_port != port {
                return false;
            }
            match p_host.strip_prefix("*.") {
                Some(domain) => host.len() > domain.len() + 1 && host.ends_with(&format!(".{domain}")),
                None => host == p_host,
            }
        })
    }

    pub fn denied(&self) -> &[String] {
        &self.denied
    }

    pub fn denied_total(&self) -> u64 {
        self.denied_total
    }

    pub fn clear_denied(&mut self) {
        self.denied.clear();
    }
}

/// "host:port" -> ("host", Some("port")); bracketed IPv6 keeps its brackets.
fn split_authority(a: &str) -> (&str, Option<&str>) {
    let a = a.rsplit_once('@').map_or(a, |(_, rest)| rest); // userinfo is not the host
    match a.rfind(':') {
        Some(i) if !a[i..].contains(']') => (&a[..i], Some(&a[i + 1..])),
        _ => (a, None),
    }
}

type SendFuture = Box<
    dyn Future<
            Output = Result<
                (http::Response<WasiBody>, Box<dyn Future<Output = Result<(), Error>> + Send>),
                Error,
            >,
        > + Send,
>;

impl WasiHttpHooks for OutgoingPolicy {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: Box<dyn Future<Output = Result<(), Error>> + Send>,
    ) -> SendFuture {
        drop(fut);
        let uri = request.uri();
        let authority = uri.authority().map(|a| a.as_str().to_string()).unwrap_or_default();
        if !self.permits(&authority) {
            self.denied_total += 1;
            if self.denied.len() < MAX_DENIALS_KEPT {
                let scheme = uri.scheme_str().unwrap_or("http");
                self.denied.push(format!("{} {scheme}://{authority}", request.method()));
            }
            return Box::new(async { Err(Error::HttpRequestDenied) });
        }
        Box::new(async move {
            let (res, io) = wasmtime_wasi_http::default_send_request(request, options).await?;
            Ok((res.map(BodyExt::boxed_unsync), Box::new(io) as Box<dyn Future<Output = _> + Send>))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::OutgoingPolicy;

    fn policy(p: &[&str]) -> OutgoingPolicy {
        OutgoingPolicy::new(p.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn nothing_is_permitted_by_default() {
        assert!(!policy(&[]).permits("example.com"));
    }

    #[test]
    fn hosts_ports_and_wildcards() {
        let p = policy(&["api.example.com", "127.0.0.1:8080", "*.svc.local"]);
        assert!(p.permits("API.example.com"));
        assert!(p.permits("api.example.com:443"));
        assert!(p.permits("127.0.0.1:8080"));
        assert!(!p.permits("127.0.0.1:8081"));
        assert!(!p.permits("127.0.0.1"));
        assert!(p.permits("a.svc.local:99"));
        assert!(!p.permits("svc.local"));
        assert!(!p.permits("evilsvc.local"));
        assert!(!p.permits("api.example.com.evil.org"));
        assert!(!p.permits("user@evil.org"));
    }

    #[test]
    fn star_permits_any_host() {
        assert!(policy(&["*"]).permits("anything:1"));
    }
}
