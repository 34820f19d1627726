//! Who is calling: the client address (for rate limits and the session list) and agent.

use std::net::IpAddr;

use poem::Request;
use swift_core::accounts::ClientInfo;

use crate::AppState;

/// The socket peer, or, when that peer is a trusted proxy, the nearest untrusted address in
/// `X-Forwarded-For` (walking from the right, as each proxy appends what it saw).
pub fn client_ip(req: &Request, trusted: &[ipnet::IpNet]) -> Option<IpAddr> {
    let peer = req.remote_addr().as_socket_addr().map(|a| a.ip())?;
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return Some(peer);
    }
    let forwarded: Vec<IpAddr> = req
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    Some(
        forwarded
            .into_iter()
            .rev()
            .find(|ip| !is_trusted(ip))
            .unwrap_or(peer),
    )
}

/// Client details for services.
pub fn client_info(req: &Request, state: &AppState) -> ClientInfo {
    ClientInfo {
        ip: client_ip(req, &state.config.trusted_proxies),
        user_agent: req
            .headers()
            .get(poem::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    }
}
