//! `tenantd run` speaks the service manager's notification protocol to `$NOTIFY_SOCKET`: ready,
//! status lines, watchdog pings, reloading and stopping. A bound datagram socket stands in for
//! systemd.

mod support;

use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

use support::daemon::*;
use support::*;

const CONVERGE: Duration = Duration::from_secs(30);

/// The service manager's end: every datagram received, in order.
struct Manager {
    socket: UnixDatagram,
    seen: Vec<String>,
}

impl Manager {
    fn bind(path: &std::path::Path) -> Manager {
        let socket = UnixDatagram::bind(path).expect("bind the notify socket");
        socket.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
        Manager { socket, seen: vec![] }
    }

    /// Reads datagrams until one satisfies `f` (returned), or panics at the deadline with
    /// everything received so far.
    fn until(&mut self, what: &str, within: Duration, f: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + within;
        let mut buf = [0u8; 4096];
        while Instant::now() < deadline {
            match self.socket.recv(&mut buf) {
                Ok(n) => {
                    let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
                    self.seen.push(msg.clone());
                    if f(&msg) {
                        return msg;
                    }
                }
                Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
                Err(e) => panic!("reading the notify socket: {e}"),
            }
        }
        panic!("no {what} within {within:?}; received: {:?}", self.seen)
    }

    fn count(&self, msg: &str) -> usize {
        self.seen.iter().filter(|m| *m == msg).count()
    }
}

#[test]
fn the_service_manager_hears_ready_status_watchdog_reloading_and_stopping() {
    let Some(env) = Env::new("the_service_manager_hears_ready_status_watchdog_reloading_and_stopping") else {
        return;
    };
    let path = env.path("notify");
    let mut manager = Manager::bind(&path);
    env.spec("acme.yaml", &stub_spec("acme", ""));
    // No WATCHDOG_PID: the child's pid is not known before it starts, and an absent one means
    // "this process". A 2 s watchdog is pinged every second.
    let notify_socket = path.display().to_string();
    let mut daemon = Daemon::start_with(&env, &[], &[("NOTIFY_SOCKET", &notify_socket), ("WATCHDOG_USEC", "2000000")]);

    manager.until("READY=1", CONVERGE, |m| m == "READY=1");
    let status = manager.until("a STATUS= line with acme running", CONVERGE, |m| {
        m.starts_with("STATUS=") && m.contains("1 tenants") && m.contains("1 running")
    });
    assert!(!status.contains('\n'), "{status:?}");
    daemon.await_running(&env, "acme", CONVERGE);
    manager.until("WATCHDOG=1", Duration::from_secs(5), |m| m == "WATCHDOG=1");
    let pinged = manager.count("WATCHDOG=1");
    manager.until("another WATCHDOG=1", Duration::from_secs(5), |m| m == "WATCHDOG=1");
    assert!(manager.count("WATCHDOG=1") > pinged);

    // A reload says so, with the monotonic clock, and is ready again afterwards.
    daemon.signal("HUP");
    let reloading = manager.until("RELOADING=1", CONVERGE, |m| m.starts_with("RELOADING=1"));
    let usec = reloading.strip_prefix("RELOADING=1\nMONOTONIC_USEC=").expect("MONOTONIC_USEC after RELOADING=1");
    assert!(usec.parse::<u64>().is_ok_and(|u| u > 0), "{reloading:?}");
    manager.until("READY=1 after the reload", CONVERGE, |m| m == "READY=1");

    daemon.signal("TERM");
    manager.until("STOPPING=1", CONVERGE, |m| m == "STOPPING=1");
    assert_eq!(daemon.wait_exit(CONVERGE).code(), Some(0), "{}", daemon.logs());
    assert_eq!(container(&env, "acme").unwrap()["State"]["Running"], true, "tenants keep running");
    assert_eq!(manager.count("READY=1"), 2, "{:?}", manager.seen);
}
