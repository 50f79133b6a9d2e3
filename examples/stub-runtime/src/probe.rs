//! `stub-runtime probe URL`: the HTTP GET a container health check runs, with a hard deadline.

use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// What Docker's health check gets from a probe: either the status of a timely answer, or why not.
pub type Outcome = Result<u16, String>;

/// Where a probe goes.
#[derive(Debug, PartialEq, Eq)]
pub struct Target {
    pub addr: SocketAddr,
    /// `host:port` as written in the URL, for the `Host` header.
    pub authority: String,
    pub path: String,
}

/// Parses `http://host:port/path` (the scheme may be left out). Only IP literals and `localhost`
/// are accepted: a static glibc binary in a scratch image cannot resolve names, and a health URL
/// never needs to.
pub fn parse_url(url: &str) -> Result<Target, String> {
    if url.starts_with("https://") {
        return Err("https is not supported, only plain http".to_string());
    }
    let rest = url.strip_prefix("http://").unwrap_or(url);
    let (authority, path) = match rest.find('/') {
        Some(slash) => rest.split_at(slash),
        None => (rest, "/"),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) if !port.contains(']') => {
            let port = port.parse().map_err(|_| format!("bad port {port:?}"))?;
            (host, port)
        }
        _ => (authority, 80),
    };
    let ip = match host.trim_start_matches('[').trim_end_matches(']') {
        "localhost" => IpAddr::V4(Ipv4Addr::LOCALHOST),
        literal => literal.parse().map_err(|_| format!("host {host:?} is neither an IP literal nor localhost"))?,
    };
    Ok(Target { addr: SocketAddr::new(ip, port), authority: authority.to_string(), path: path.to_string() })
}

/// GETs the target and returns the answer's status code; everything must finish within `timeout`.
pub fn check(target: &Target, timeout: Duration) -> Outcome {
    let deadline = Instant::now() + timeout;
    let mut stream =
        TcpStream::connect_timeout(&target.addr, timeout).map_err(|err| describe(&err, timeout, "connecting"))?;
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: stub-runtime-probe\r\nConnection: close\r\n\r\n",
        target.path, target.authority
    );
    stream
        .set_write_timeout(Some(remaining(deadline)?))
        .and_then(|()| stream.write_all(request.as_bytes()))
        .map_err(|err| describe(&err, timeout, "sending the request"))?;

    // Only the status line matters; read until it is complete.
    let mut answer = Vec::new();
    let mut chunk = [0; 512];
    while !answer.contains(&b'\n') && answer.len() < 4096 {
        stream
            .set_read_timeout(Some(remaining(deadline)?))
            .map_err(|err| describe(&err, timeout, "waiting for the answer"))?;
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&chunk[..n]),
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(describe(&err, timeout, "waiting for the answer")),
        }
    }
    parse_status(&answer)
}

fn remaining(deadline: Instant) -> Result<Duration, String> {
    // A zero timeout means "block forever" to set_read_timeout, so an expired deadline is an error here.
    Some(deadline.saturating_duration_since(Instant::now()))
        .filter(|left| !left.is_zero())
        .ok_or_else(|| "no answer before the deadline".to_string())
}

fn describe(err: &io::Error, timeout: Duration, doing: &str) -> String {
    match err.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
            format!("timed out after {}s {doing}", timeout.as_secs_f32())
        }
        _ => format!("{doing}: {err}"),
    }
}

fn parse_status(answer: &[u8]) -> Outcome {
    if answer.is_empty() {
        return Err("connection closed without an answer".to_string());
    }
    let line = answer.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let mut words = line.split_whitespace();
    match (words.next(), words.next().map(str::parse::<u16>)) {
        (Some(version), Some(Ok(status))) if version.starts_with("HTTP/") => Ok(status),
        _ => Err(format!("not an HTTP answer: {:?}", line.trim_end())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_urls_tenantd_hands_out() {
        let target = parse_url("http://127.0.0.1:18789/health").unwrap();
        assert_eq!(target.addr, "127.0.0.1:18789".parse().unwrap());
        assert_eq!((target.authority.as_str(), target.path.as_str()), ("127.0.0.1:18789", "/health"));

        let target = parse_url("localhost:8080").unwrap();
        assert_eq!((target.addr, target.path.as_str()), ("127.0.0.1:8080".parse().unwrap(), "/"));

        assert_eq!(parse_url("http://10.0.0.7/x?y=1").unwrap().addr, "10.0.0.7:80".parse().unwrap());
        assert_eq!(parse_url("http://[::1]:9/h").unwrap().addr, "[::1]:9".parse().unwrap());
        assert_eq!(parse_url("http://[::1]/h").unwrap().addr, "[::1]:80".parse().unwrap());
    }

    #[test]
    fn rejects_what_it_cannot_reach_without_dns_or_tls() {
        assert!(parse_url("https://127.0.0.1/health").unwrap_err().contains("https"));
        assert!(parse_url("http://tenant-acme:18789/health").unwrap_err().contains("IP literal"));
        assert!(parse_url("http://127.0.0.1:99999/health").unwrap_err().contains("port"));
    }

    #[test]
    fn reads_the_status_line() {
        assert_eq!(parse_status(b"HTTP/1.1 204 No Content\r\n"), Ok(204));
        assert_eq!(parse_status(b"HTTP/1.0 503\r\n\r\n"), Ok(503));
        assert!(parse_status(b"").unwrap_err().contains("closed"));
        assert!(parse_status(b"SSH-2.0-OpenSSH\r\n").unwrap_err().contains("not an HTTP answer"));
    }
}
