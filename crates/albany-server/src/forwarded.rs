//! The client behind a trusted front server: `Forwarded` (RFC 7239) or
//! `X-Forwarded-For`/`-Proto`/`-Host`, believed only from trusted peers
//! (spec EXT-13).

use std::net::IpAddr;

use albany::Forwarded;
use http::header::{HeaderMap, HeaderName, FORWARDED};
use ipnet::IpNet;

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

/// The peers a server believes: networks, and Unix domain socket peers
/// (whose address is `None`) if so set.
#[derive(Debug, Clone, Default)]
pub(crate) struct Trusted {
    networks: Vec<IpNet>,
    unix_peers: bool,
}

impl Trusted {
    /// The trusted peers `settings` name.
    pub(crate) fn new(settings: &crate::Settings) -> Self {
        Trusted {
            networks: settings.trusted_proxies.clone(),
            unix_peers: settings.trust_unix_peers,
        }
    }

    /// Trusts no peer at all.
    pub(crate) fn is_empty(&self) -> bool {
        self.networks.is_empty() && !self.unix_peers
    }

    /// Whether the peer at `peer` (`None`: on a Unix domain socket) is
    /// trusted.
    fn trusts(&self, peer: Option<IpAddr>) -> bool {
        match peer {
            Some(ip) => is_trusted(ip, &self.networks),
            None => self.unix_peers,
        }
    }
}

/// What the front server says about the client, if `peer` (`None`: a Unix
/// domain socket peer) is trusted and the request carries `Forwarded`
/// (preferred) or `X-Forwarded-For`. The client is the nearest address of
/// the chain that is not itself trusted (the chain is read from the right:
/// each proxy appends the address it received the request from).
pub(crate) fn forwarded(
    headers: &HeaderMap,
    peer: Option<IpAddr>,
    trusted: &Trusted,
) -> Option<Forwarded> {
    if !trusted.trusts(peer) {
        return None;
    }
    let trusted = &trusted.networks[..];
    if headers.contains_key(FORWARDED) {
        return Some(from_forwarded(headers, trusted));
    }
    if headers.contains_key(&X_FORWARDED_FOR) {
        return Some(from_x_forwarded(headers, trusted));
    }
    None
}

fn is_trusted(ip: IpAddr, trusted: &[IpNet]) -> bool {
    let ip = canonical(ip);
    trusted.iter().any(|net| net.contains(&ip))
}

/// An IPv4-mapped IPv6 address as the IPv4 address it maps.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// RFC 7239: the element of the first untrusted `for=` from the right
/// gives the client, its `proto=` and `host=`.
fn from_forwarded(headers: &HeaderMap, trusted: &[IpNet]) -> Forwarded {
    let elements: Vec<Vec<(String, String)>> = headers
        .get_all(FORWARDED)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|line| split_outside_quotes(line, ','))
        .map(|element| {
            split_outside_quotes(&element, ';')
                .into_iter()
                .filter_map(|pair| {
                    let (key, value) = pair.split_once('=')?;
                    Some((key.trim().to_ascii_lowercase(), unquote(value.trim())))
                })
                .collect()
        })
        .collect();
    let value = |element: &[(String, String)], key: &str| {
        element
            .iter()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value.clone())
    };
    let chosen = elements
        .iter()
        .rev()
        .find(|element| {
            let node = value(element, "for").and_then(|node| node_ip(&node));
            !node.is_some_and(|ip| is_trusted(ip, trusted))
        })
        .or_else(|| elements.first());
    let mut forwarded = Forwarded::new();
    if let Some(element) = chosen {
        forwarded.client = value(element, "for").and_then(|node| node_ip(&node));
        forwarded.proto = value(element, "proto").map(|proto| proto.to_ascii_lowercase());
        forwarded.host = value(element, "host");
    }
    forwarded
}

/// The de-facto fields: the first untrusted address of `X-Forwarded-For`
/// from the right; the last value of `X-Forwarded-Proto` and
/// `X-Forwarded-Host` (what the nearest proxy set).
fn from_x_forwarded(headers: &HeaderMap, trusted: &[IpNet]) -> Forwarded {
    let list = |name: &HeaderName| -> Vec<String> {
        headers
            .get_all(name)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|line| line.split(','))
            .map(|item| item.trim().to_owned())
            .filter(|item| !item.is_empty())
            .collect()
    };
    let chain: Vec<Option<IpAddr>> = list(&X_FORWARDED_FOR)
        .iter()
        .map(|node| node_ip(node))
        .collect();
    let client = chain
        .iter()
        .rev()
        .find(|ip| !ip.is_some_and(|ip| is_trusted(ip, trusted)))
        .or_else(|| chain.first())
        .copied()
        .flatten();
    let mut forwarded = Forwarded::new();
    forwarded.client = client;
    forwarded.proto = list(&X_FORWARDED_PROTO)
        .pop()
        .map(|proto| proto.to_ascii_lowercase());
    forwarded.host = list(&X_FORWARDED_HOST).pop();
    forwarded
}

/// A node (RFC 7239 §6) as an address: `192.0.2.1`, `192.0.2.1:4711`,
/// `[2001:db8::1]`, `[2001:db8::1]:4711`, or a bare IPv6 address as
/// `X-Forwarded-For` has them; `None` for `unknown`, an obfuscated
/// identifier (`_hidden`) or anything else.
fn node_ip(node: &str) -> Option<IpAddr> {
    let node = node.trim();
    if let Ok(ip) = node.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    if let Some(rest) = node.strip_prefix('[') {
        let (v6, _) = rest.split_once(']')?;
        return v6
            .parse::<std::net::Ipv6Addr>()
            .ok()
            .map(|ip| canonical(IpAddr::V6(ip)));
    }
    let (v4, _port) = node.split_once(':')?;
    v4.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

/// Splits `text` at `separator` where it is not inside a quoted string.
fn split_outside_quotes(text: &str, separator: char) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let (mut quoted, mut escaped) = (false, false);
    for c in text.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            c if c == separator && !quoted => {
                parts.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    parts.push(current);
    parts.retain(|part| !part.trim().is_empty());
    parts
}

/// A token or a quoted string (RFC 9110 §5.6.4), unquoted.
fn unquote(value: &str) -> String {
    let Some(inner) = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) else {
        return value.to_owned();
    };
    let mut out = String::with_capacity(inner.len());
    let mut escaped = false;
    for c in inner.chars() {
        if escaped || c != '\\' {
            out.push(c);
            escaped = false;
        } else {
            escaped = true;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(fields: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in fields {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        map
    }

    fn nets(list: &[&str]) -> Trusted {
        Trusted {
            networks: list.iter().map(|net| net.parse().unwrap()).collect(),
            unix_peers: false,
        }
    }

    const PROXY: &str = "10.0.0.5";

    #[test]
    fn untrusted_peers_are_ignored() {
        let map = headers(&[
            ("x-forwarded-for", "203.0.113.9"),
            ("forwarded", "for=203.0.113.9"),
        ]);
        assert_eq!(
            forwarded(
                &map,
                Some("192.0.2.1".parse().unwrap()),
                &nets(&["10.0.0.0/8"])
            ),
            None
        );
        assert_eq!(
            forwarded(&map, Some(PROXY.parse().unwrap()), &Trusted::default()),
            None
        );
    }

    #[test]
    fn unix_peers_only_when_trusted() {
        let map = headers(&[("x-forwarded-for", "203.0.113.9")]);
        assert_eq!(forwarded(&map, None, &nets(&["0.0.0.0/0"])), None);
        let unix = Trusted {
            networks: Vec::new(),
            unix_peers: true,
        };
        let found = forwarded(&map, None, &unix).unwrap();
        assert_eq!(found.client, Some("203.0.113.9".parse().unwrap()));
        // Trusting Unix peers trusts no TCP peer.
        assert_eq!(
            forwarded(&map, Some("10.0.0.1".parse().unwrap()), &unix),
            None
        );
    }

    #[test]
    fn rfc_7239_forms() {
        let trusted = nets(&["10.0.0.0/8"]);
        let map = headers(&[(
            "forwarded",
            r#"for=198.51.100.17;proto=HTTPS;host="example.com:8443", for="[2001:db8:cafe::17]:4711";proto=http, for=10.0.0.7"#,
        )]);
        let found = forwarded(&map, Some(PROXY.parse().unwrap()), &trusted).unwrap();
        // 10.0.0.7 is a trusted proxy: the client is the IPv6 one.
        assert_eq!(found.client, Some("2001:db8:cafe::17".parse().unwrap()));
        assert_eq!(found.proto.as_deref(), Some("http"));
        let map = headers(&[(
            "forwarded",
            r#"for=198.51.100.17;proto=HTTPS;host="example.com:8443""#,
        )]);
        let found = forwarded(&map, Some(PROXY.parse().unwrap()), &trusted).unwrap();
        assert_eq!(found.client, Some("198.51.100.17".parse().unwrap()));
        assert_eq!(found.proto.as_deref(), Some("https"));
        assert_eq!(found.host.as_deref(), Some("example.com:8443"));
        let map = headers(&[
            ("forwarded", "for=unknown"),
            ("forwarded", "For=\"_hidden\""),
        ]);
        assert_eq!(
            forwarded(&map, Some(PROXY.parse().unwrap()), &trusted)
                .unwrap()
                .client,
            None
        );
    }

    #[test]
    fn x_forwarded_for_from_the_right() {
        let trusted = nets(&["10.0.0.0/8", "::1/128"]);
        // A client-supplied (spoofed) first entry is skipped over: the
        // nearest untrusted address is the client.
        let map = headers(&[
            ("x-forwarded-for", "1.2.3.4, 198.51.100.17"),
            ("x-forwarded-for", "10.0.0.9"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "example.com"),
        ]);
        let found = forwarded(&map, Some(PROXY.parse().unwrap()), &trusted).unwrap();
        assert_eq!(found.client, Some("198.51.100.17".parse().unwrap()));
        assert_eq!(found.proto.as_deref(), Some("https"));
        assert_eq!(found.host.as_deref(), Some("example.com"));
        // Every hop trusted: the first one.
        let map = headers(&[("x-forwarded-for", "10.1.1.1, ::1")]);
        let found = forwarded(&map, Some("::ffff:10.0.0.5".parse().unwrap()), &trusted).unwrap();
        assert_eq!(found.client, Some("10.1.1.1".parse().unwrap()));
        // Garbage: no client, still from a trusted peer.
        let map = headers(&[("x-forwarded-for", "not an address")]);
        assert_eq!(
            forwarded(&map, Some(PROXY.parse().unwrap()), &trusted)
                .unwrap()
                .client,
            None
        );
    }
}
