//! What a link taken from an answer (`@odata.nextLink`) may make us request: only the
//! configured service (same scheme, host and port, [`same_origin`]), at most
//! [`max_pages`] pages per collection; and how such a link is shown in an error message.

/// Pages followed per collection unless `M365GUARD_MAX_PAGES` says otherwise. Graph pages
/// hold up to 999 objects (users: 999, Exchange: 1000), so 20,000 pages cover tenants of
/// several million objects even at the default page size of 100.
pub const MAX_PAGES: usize = 20_000;

/// The page ceiling of this process (`M365GUARD_MAX_PAGES`, at least 1).
pub fn max_pages() -> usize {
    std::env::var("M365GUARD_MAX_PAGES")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .map_or(MAX_PAGES, |n| n.max(1))
}

/// Scheme, lower-cased host and port (explicit, or the scheme's default) of an absolute
/// `http(s)` URL; `None` for anything else (relative links, other schemes, user info).
fn origin(url: &str) -> Option<(String, String, u16)> {
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "https" => 443,
        "http" => 80,
        _ => return None,
    };
    let authority = rest.split(['/', '?', '#']).next()?;
    if authority.is_empty() || authority.contains(['@', '\\']) {
        return None;
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6.split_once(']')?;
        (host, after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    let port = match port {
        Some(p) => p.parse().ok()?,
        None => default_port,
    };
    if host.is_empty() || host.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return None;
    }
    Some((scheme, host.to_ascii_lowercase(), port))
}

/// Whether `link` (taken from an answer) may be requested with the token of the service
/// at `base`: same scheme, host and port.
pub fn same_origin(base: &str, link: &str) -> bool {
    match (origin(base), origin(link)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

/// `link` for an error message: bounded, one line (it came from an untrusted answer).
pub(crate) fn shown_link(link: &str) -> String {
    let mut out: String = link
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .take(200)
        .collect();
    if link.chars().count() > 200 {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_origin_compares_scheme_host_and_port() {
        let base = "https://graph.microsoft.com";
        assert!(same_origin(
            base,
            "https://graph.microsoft.com/v1.0/users?$skiptoken=a"
        ));
        assert!(same_origin(
            base,
            "HTTPS://Graph.Microsoft.com:443/v1.0/users"
        ));
        for bad in [
            "http://graph.microsoft.com/v1.0/users",
            "https://graph.microsoft.com:444/v1.0/users",
            "https://graph.microsoft.com.evil.example/v1.0/users",
            "https://graph.microsoft.com@evil.example/v1.0/users",
            "https://evil.example\\@graph.microsoft.com/v1.0/users",
            "//graph.microsoft.com/v1.0/users",
            "/v1.0/users",
            "ftp://graph.microsoft.com/",
            "",
        ] {
            assert!(!same_origin(base, bad), "{bad}");
        }
        assert!(same_origin(
            "http://127.0.0.1:8080",
            "http://127.0.0.1:8080/x"
        ));
        assert!(!same_origin(
            "http://127.0.0.1:8080",
            "http://localhost:8080/x"
        ));
        assert!(same_origin("http://[::1]:9", "http://[::1]:9/x"));
    }
}
