//! The SSRF guard: which addresses a fetch may reach.
//!
//! The merged feed is public, so whatever tributary fetches can leak. The guard therefore
//! checks the address actually connected to, not the URL's spelling: host names are checked by
//! the resolver every connection uses (on every redirect hop, after DNS, so a name that
//! resolves into a private range is refused however it is spelled), and IP-literal redirect
//! targets, which never reach a resolver, are checked by the redirect policy. The admin's own
//! choice is respected: a feed URL written with a literal private address or `localhost` is
//! fetched (a local RSS-Bridge), but its redirects are still checked.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use thiserror::Error;
use url::{Host, Url};

#[derive(Debug, Error)]
#[error(
    "{host} resolves only to non-public addresses ({addresses}); set [fetch] allow_private_networks = true to allow"
)]
pub struct PrivateAddress {
    pub host: String,
    pub addresses: String,
}

/// Whether an address is on the public internet: not loopback, private, link-local, shared
/// (CGNAT), multicast, documentation, benchmarking or otherwise reserved, including IPv4
/// addresses embedded in IPv6 (mapped, 6to4, NAT64) and Teredo.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let reserved = ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0 // "this network"
        || (a == 100 && (64..=127).contains(&b)) // shared address space (CGNAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (18..=19).contains(&b)) // benchmarking
        || a >= 240; // reserved, and broadcast
    !reserved
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = embedded_v4(ip) {
        return is_public_v4(v4);
    }
    let segments = ip.segments();
    let reserved = ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (segments[0] & 0xfe00) == 0xfc00 // unique local
        || (segments[0] & 0xffc0) == 0xfe80 // link-local
        || (segments[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
        || (segments[0] == 0x2001 && segments[1] == 0x0db8) // documentation
        || (segments[0] == 0x2001 && segments[1] == 0) // Teredo: tunnels to anywhere
        || (segments[0] == 0x0100 && segments[1..4] == [0, 0, 0]); // discard-only
    !reserved
}

/// The IPv4 address inside an IPv4-mapped (`::ffff:a.b.c.d`), IPv4-compatible, 6to4
/// (`2002::/16`) or NAT64 (`64:ff9b::/96`) address.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let from = |hi: u16, lo: u16| {
        let [a, b] = hi.to_be_bytes();
        let [c, d] = lo.to_be_bytes();
        Ipv4Addr::new(a, b, c, d)
    };
    if let Some(v4) = ip.to_ipv4_mapped() {
        return Some(v4);
    }
    match s {
        [0, 0, 0, 0, 0, 0, hi, lo] if hi != 0 || lo > 1 => Some(from(hi, lo)),
        // 6to4, then NAT64.
        [0x2002, hi, lo, ..] | [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => Some(from(hi, lo)),
        _ => None,
    }
}

/// Names that always mean this machine (RFC 6761).
pub fn is_localhost_name(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    host == "localhost" || host.ends_with(".localhost")
}

/// Why a redirect target is refused, if it is.
pub fn refuse_redirect(original: &Url, target: &Url, allow_private: bool) -> Option<String> {
    if allow_private || same_service(original, target) {
        // The admin chose the original host and port; moving within them reaches nothing new.
        return None;
    }
    let non_public = match target.host() {
        Some(Host::Ipv4(ip)) => !is_public(IpAddr::V4(ip)),
        Some(Host::Ipv6(ip)) => !is_public(IpAddr::V6(ip)),
        Some(Host::Domain(name)) => is_localhost_name(name),
        None => false,
    };
    if non_public && original.host() == target.host() {
        // Another port of the admin's private host is another service, which the admin did
        // not choose (a database, a cloud metadata proxy).
        return Some(format!(
            "redirect to port {} of non-public host {}; only the configured port is trusted",
            target.port_or_known_default().unwrap_or_default(),
            target.host_str().unwrap_or_default()
        ));
    }
    match target.host() {
        Some(Host::Ipv4(ip)) if !is_public(IpAddr::V4(ip)) => {
            Some(format!("redirect to non-public address {ip}"))
        }
        Some(Host::Ipv6(ip)) if !is_public(IpAddr::V6(ip)) => {
            Some(format!("redirect to non-public address [{ip}]"))
        }
        Some(Host::Domain(name)) if is_localhost_name(name) => {
            Some(format!("redirect to {name}, which is this machine"))
        }
        _ => None,
    }
}

/// Whether a redirect stays on the service the admin configured: the same host and port, or
/// the same host moving from plain http to https on the default ports.
fn same_service(original: &Url, target: &Url) -> bool {
    let upgrade = original.scheme() == "http"
        && target.scheme() == "https"
        && original.port().is_none()
        && target.port().is_none();
    original.host() == target.host()
        && (original.port_or_known_default() == target.port_or_known_default() || upgrade)
}

/// Resolves host names with the system resolver and keeps only public addresses, unless
/// private networks are allowed or the name is `localhost` (which the admin can only have
/// written themselves: redirects to it are refused by [`refuse_redirect`]).
#[derive(Debug, Clone, Copy)]
pub struct GuardedResolver {
    pub allow_private: bool,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let resolved: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = if allow_private || is_localhost_name(&host) {
                resolved.clone()
            } else {
                resolved
                    .iter()
                    .copied()
                    .filter(|addr| is_public(addr.ip()))
                    .collect()
            };
            if allowed.is_empty() && !resolved.is_empty() {
                let addresses = resolved
                    .iter()
                    .map(|a| a.ip().to_string())
                    .collect::<Vec<_>>()
                    .join(", ");
                return Err(Box::new(PrivateAddress { host, addresses }) as _);
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host_ip(url: &str) -> IpAddr {
        match Url::parse(url).expect("url").host() {
            Some(Host::Ipv4(ip)) => IpAddr::V4(ip),
            Some(Host::Ipv6(ip)) => IpAddr::V6(ip),
            other => panic!("{url}: not an IP host: {other:?}"),
        }
    }

    #[test]
    fn every_spelling_of_loopback_is_refused() {
        for url in [
            "http://127.0.0.1/",
            "http://127.1/",
            "http://0x7f.1/",
            "http://2130706433/",
            "http://0177.0.0.1/",
            "http://[::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://[::ffff:7f00:1]/",
            "http://[2002:7f00:1::]/",
            "http://[64:ff9b::7f00:1]/",
            "http://0.0.0.0/",
        ] {
            assert!(!is_public(host_ip(url)), "{url}");
        }
    }

    #[test]
    fn private_and_reserved_ranges_are_refused() {
        for ip in [
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "192.0.0.8",
            "192.0.2.1",
            "198.18.0.1",
            "224.0.0.1",
            "240.0.0.1",
            "255.255.255.255",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
            "2001:db8::1",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
            "::",
        ] {
            let ip: IpAddr = ip.parse().expect("ip");
            assert!(!is_public(ip), "{ip}");
        }
    }

    #[test]
    fn public_addresses_pass() {
        for ip in [
            "93.184.216.34",
            "1.1.1.1",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700:4700::1111",
            "::ffff:93.184.216.34",
        ] {
            let ip: IpAddr = ip.parse().expect("ip");
            assert!(is_public(ip), "{ip}");
        }
    }

    #[test]
    fn redirects_into_private_space_are_refused_unless_within_the_admins_host() {
        let public = Url::parse("https://feeds.example/rss").expect("url");
        let local = Url::parse("http://127.0.0.1:8080/rss").expect("url");
        let to = |s: &str| Url::parse(s).expect("url");
        assert!(refuse_redirect(&public, &to("http://169.254.169.254/latest/"), false).is_some());
        assert!(refuse_redirect(&public, &to("http://0x7f.1/"), false).is_some());
        assert!(refuse_redirect(&public, &to("http://[::ffff:127.0.0.1]/"), false).is_some());
        assert!(refuse_redirect(&public, &to("http://localhost:9000/"), false).is_some());
        assert!(refuse_redirect(&public, &to("http://app.localhost/"), false).is_some());
        assert!(refuse_redirect(&public, &to("https://other.example/rss"), false).is_none());
        assert!(refuse_redirect(&local, &to("http://127.0.0.1:8080/moved"), false).is_none());
        // Another port of the admin's private host is another service.
        let other_port = refuse_redirect(&local, &to("http://127.0.0.1:6379/"), false);
        assert!(
            other_port
                .as_deref()
                .is_some_and(|r| r.contains("port 6379 of non-public host 127.0.0.1")),
            "{other_port:?}"
        );
        assert!(refuse_redirect(&local, &to("http://127.1:8080/x"), false).is_none());
        let bridge = Url::parse("http://10.0.0.7/rss").expect("url");
        assert!(refuse_redirect(&bridge, &to("https://10.0.0.7/rss"), false).is_none());
        assert!(refuse_redirect(&bridge, &to("http://10.0.0.7:8443/rss"), false).is_some());
        assert!(refuse_redirect(&local, &to("http://127.0.0.1:6379/"), true).is_none());
        assert!(refuse_redirect(&public, &to("https://feeds.example:8443/rss"), false).is_none());
        assert!(refuse_redirect(&local, &to("http://10.0.0.5/"), false).is_some());
        assert!(refuse_redirect(&public, &to("http://10.0.0.5/"), true).is_none());
    }

    #[test]
    fn localhost_names() {
        assert!(is_localhost_name("localhost"));
        assert!(is_localhost_name("LOCALHOST."));
        assert!(is_localhost_name("bridge.localhost"));
        assert!(!is_localhost_name("localhost.example"));
    }
}
