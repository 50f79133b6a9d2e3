//! The metrics endpoint of a running `tenantd run`: what it counts once a tenant converged and
//! its runtime has been probed, and that a tenant that goes leaves no series behind.

mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use support::daemon::*;
use support::*;

const CONVERGE: Duration = Duration::from_secs(30);

/// A port nothing listens on right now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// GET /metrics over HTTP/1.0; (status, body), or None when nothing answers.
fn scrape(port: u16) -> Option<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(3))).ok()?;
    write!(s, "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut raw = String::new();
    s.read_to_string(&mut raw).ok()?;
    let (head, body) = raw.split_once("\r\n\r\n")?;
    Some((head.split_whitespace().nth(1)?.parse().ok()?, body.to_string()))
}

/// The value of the sample whose name and labels are exactly `series`.
fn sample(body: &str, series: &str) -> Option<f64> {
    body.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.trim().parse().ok())
}

#[test]
fn a_running_daemon_counts_tenants_reconciles_and_probes() {
    let Some(env) = Env::new("a_running_daemon_counts_tenants_reconciles_and_probes") else {
        return;
    };
    let port = free_port();
    env.write_config(&format!("[daemon]\nmetrics_address = \"127.0.0.1:{port}\"\n"));
    env.spec("acme.yaml", &stub_spec("acme", ""));
    // acme goes at the end, leaving no spec: that is allowed.
    let daemon = Daemon::start_with(&env, &["--allow-empty"], &[]);
    daemon.await_running(&env, "acme", CONVERGE);

    // The gauge follows the status files; the probe counter follows the 2 s probe interval.
    let body = eventually("metrics with acme running and probed", Duration::from_secs(20), || {
        let (code, body) = scrape(port)?;
        assert_eq!(code, 200, "GET /metrics:\n{body}");
        let probed =
            body.lines().any(|l| l.starts_with("tenantd_health_probes_total{") && l.contains("tenant=\"acme\""));
        (sample(&body, "tenantd_tenants{phase=\"Running\"}") == Some(1.0) && probed).then_some(body)
    });
    let successes = sample(&body, "tenantd_reconciles_total{result=\"success\"}").expect("a success count");
    assert!(successes >= 1.0, "no successful reconcile counted:\n{body}");
    let healthy = sample(&body, "tenantd_health_probes_total{tenant=\"acme\",verdict=\"healthy\"}");
    assert!(healthy.is_some_and(|n| n >= 1.0), "no healthy probe of acme counted:\n{body}");
    // Every phase is there, an empty one at 0.
    assert_eq!(sample(&body, "tenantd_tenants{phase=\"Failed\"}"), Some(0.0), "{body}");

    // acme goes: its own series go with it, and its phase reads 0.
    env.remove_spec("acme.yaml");
    daemon.await_phase(&env, "acme", "Removed", CONVERGE);
    let body = eventually("metrics without acme", Duration::from_secs(20), || {
        let (_, body) = scrape(port)?;
        (sample(&body, "tenantd_tenants{phase=\"Running\"}") == Some(0.0)).then_some(body)
    });
    assert!(!body.contains("tenant=\"acme\""), "acme's series outlived it:\n{body}");
    assert_eq!(sample(&body, "tenantd_engine_up"), Some(1.0), "{body}");
    let info =
        format!("tenantd_build_info{{version=\"{}\",arch=\"{}\"}}", env!("CARGO_PKG_VERSION"), std::env::consts::ARCH);
    assert_eq!(sample(&body, &info), Some(1.0), "{body}");
}
