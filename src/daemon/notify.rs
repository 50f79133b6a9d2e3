//! The service manager's notification protocol (`sd_notify(3)`): readiness, reloads, status
//! lines, stopping and watchdog pings, sent as datagrams to `$NOTIFY_SOCKET`.
//!
//! Written by hand rather than with the `sd-notify` crate: that crate reads `NOTIFY_SOCKET` from
//! the process environment on every call, so it cannot be pointed at a test socket without
//! mutating the environment of a multi-threaded process, and it does not understand abstract
//! socket names (`@…`). The protocol itself is a few lines.

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// How long one notification may block when the manager's queue is full. The manager drains it
/// continuously, so this is only reached when it is wedged; the daemon then goes on without it.
const SEND_TIMEOUT: Duration = Duration::from_secs(1);

/// Where notifications go.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    /// A socket in the file system (`NOTIFY_SOCKET=/run/systemd/notify`).
    Path(PathBuf),
    /// A socket in the abstract namespace (`NOTIFY_SOCKET=@name`), without the `@`.
    Abstract(Vec<u8>),
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Path(path) => write!(f, "{}", path.display()),
            Target::Abstract(name) => write!(f, "@{}", String::from_utf8_lossy(name)),
        }
    }
}

/// Talks to the service manager when `NOTIFY_SOCKET` is set; does nothing otherwise.
///
/// Every call is fire-and-forget: a failed send is logged once with `tracing::warn!` (later
/// failures at debug level) and never reported to the caller, so the daemon keeps running when
/// the manager is gone. A send blocks for at most about a second.
#[derive(Debug)]
pub struct Notifier {
    target: Option<Target>,
    watchdog: Option<Duration>,
    warned: AtomicBool,
}

impl Notifier {
    /// Reads `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID` from the environment.
    ///
    /// The watchdog counts as enabled only when `WATCHDOG_USEC` is a positive number and
    /// `WATCHDOG_PID`, if set, is this process (the variables may have been inherited from a
    /// parent that the manager watches). The environment is not changed.
    pub fn from_env() -> Self {
        Self::from_vars(
            std::env::var_os("NOTIFY_SOCKET").as_deref(),
            std::env::var_os("WATCHDOG_USEC").as_deref(),
            std::env::var_os("WATCHDOG_PID").as_deref(),
            std::process::id(),
        )
    }

    /// Sends to the socket at `path` (a leading `@` names an abstract socket). `watchdog` is the
    /// manager's watchdog timeout (`WatchdogSec=`), if any.
    pub fn to_socket(path: impl Into<OsString>, watchdog: Option<Duration>) -> Self {
        let target = parse_target(&path.into());
        Self {
            // Without a socket there is no one to ping.
            watchdog: watchdog.filter(|d| !d.is_zero() && target.is_some()),
            target,
            warned: AtomicBool::new(false),
        }
    }

    /// A notifier that sends nothing.
    pub fn disabled() -> Self {
        Self { target: None, watchdog: None, warned: AtomicBool::new(false) }
    }

    fn from_vars(
        notify_socket: Option<&OsStr>,
        watchdog_usec: Option<&OsStr>,
        watchdog_pid: Option<&OsStr>,
        own_pid: u32,
    ) -> Self {
        let Some(socket) = notify_socket.filter(|s| !s.is_empty()) else {
            return Self::disabled();
        };
        let for_us = match watchdog_pid.and_then(OsStr::to_str) {
            None => true,
            Some(pid) => pid.trim().parse::<u32>().ok() == Some(own_pid),
        };
        let watchdog = watchdog_usec
            .and_then(OsStr::to_str)
            .and_then(|usec| usec.trim().parse::<u64>().ok())
            .filter(|_| for_us)
            .map(Duration::from_micros);
        let notifier = Self::to_socket(socket, watchdog);
        if notifier.target.is_none() {
            tracing::warn!(
                notify_socket = %socket.to_string_lossy(),
                "NOTIFY_SOCKET is neither a path nor an abstract socket name; not notifying the service manager"
            );
        }
        notifier
    }

    /// Whether notifications are sent at all.
    pub fn is_enabled(&self) -> bool {
        self.target.is_some()
    }

    /// Startup (or a reload) is complete: `READY=1`.
    pub fn ready(&self) {
        self.send("READY=1");
    }

    /// A one-line status shown by `systemctl status`: `STATUS=<line>`. Line breaks and other
    /// control characters become spaces, since a line break would start a new assignment.
    pub fn status(&self, line: &str) {
        let line: String = line.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
        self.send(&format!("STATUS={line}"));
    }

    /// A reload has begun: `RELOADING=1` with `MONOTONIC_USEC=<CLOCK_MONOTONIC in µs>`.
    /// systemd 253 and later require the timestamp with `Type=notify-reload`; older versions
    /// ignore it. Follow with [`Notifier::ready`] when the reload is done.
    pub fn reloading(&self) {
        if self.target.is_none() {
            return;
        }
        self.send(&format!("RELOADING=1\nMONOTONIC_USEC={}", monotonic_usec()));
    }

    /// Shutdown has begun: `STOPPING=1`.
    pub fn stopping(&self) {
        self.send("STOPPING=1");
    }

    /// The daemon is alive: `WATCHDOG=1`. Send it every [`Notifier::watchdog_interval`].
    pub fn watchdog(&self) {
        self.send("WATCHDOG=1");
    }

    /// How often to call [`Notifier::watchdog`]: half the manager's watchdog timeout, as
    /// `sd_watchdog_enabled(3)` recommends; `None` when no watchdog is enabled for this process.
    pub fn watchdog_interval(&self) -> Option<Duration> {
        self.watchdog.map(|timeout| timeout / 2)
    }

    fn send(&self, message: &str) {
        let Some(target) = &self.target else {
            return;
        };
        match send_datagram(target, message.as_bytes()) {
            Ok(()) => {}
            Err(error) => {
                let first = !self.warned.swap(true, Ordering::Relaxed);
                let state = message.split('=').next().unwrap_or(message);
                if first {
                    tracing::warn!(
                        socket = %target,
                        state,
                        %error,
                        "cannot notify the service manager; further failures are logged at debug level"
                    );
                } else {
                    tracing::debug!(socket = %target, state, %error, "cannot notify the service manager");
                }
            }
        }
    }
}

fn parse_target(socket: &OsStr) -> Option<Target> {
    let bytes = socket.as_bytes();
    match bytes.first() {
        Some(b'/') => Some(Target::Path(PathBuf::from(socket))),
        Some(b'@') if bytes.len() > 1 => Some(Target::Abstract(bytes[1..].to_vec())),
        // `vsock:` addresses (systemd 253+, for virtual machines) and relative paths are not
        // supported; the caller warns.
        _ => None,
    }
}

fn send_datagram(target: &Target, message: &[u8]) -> io::Result<()> {
    let socket = UnixDatagram::unbound()?;
    socket.set_write_timeout(Some(SEND_TIMEOUT))?;
    let sent = match target {
        Target::Path(path) => socket.send_to(message, path)?,
        Target::Abstract(name) => send_to_abstract(&socket, name, message)?,
    };
    if sent == message.len() {
        Ok(())
    } else {
        Err(io::Error::new(io::ErrorKind::WriteZero, format!("sent {sent} of {} bytes", message.len())))
    }
}

#[cfg(target_os = "linux")]
fn send_to_abstract(socket: &UnixDatagram, name: &[u8], message: &[u8]) -> io::Result<usize> {
    use std::os::linux::net::SocketAddrExt;
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
    socket.send_to_addr(message, &addr)
}

#[cfg(not(target_os = "linux"))]
fn send_to_abstract(_: &UnixDatagram, _: &[u8], _: &[u8]) -> io::Result<usize> {
    Err(io::Error::new(io::ErrorKind::Unsupported, "abstract socket names exist only on Linux"))
}

/// `CLOCK_MONOTONIC` in microseconds, the clock systemd compares `MONOTONIC_USEC` against.
/// (`std::time::Instant` reads the same clock but does not expose its value.)
fn monotonic_usec() -> u64 {
    let now = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    let secs = u64::try_from(now.tv_sec).unwrap_or(0);
    let micros = u64::try_from(now.tv_nsec).unwrap_or(0) / 1_000;
    secs.saturating_mul(1_000_000).saturating_add(micros)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A bound datagram socket standing in for the service manager.
    struct Manager {
        socket: UnixDatagram,
        _dir: tempfile::TempDir,
        path: PathBuf,
    }

    impl Manager {
        fn bind() -> Self {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("notify");
            let socket = UnixDatagram::bind(&path).unwrap();
            socket.set_nonblocking(true).unwrap();
            Self { socket, _dir: dir, path }
        }

        fn notifier(&self) -> Notifier {
            Notifier::to_socket(&self.path, Some(Duration::from_secs(30)))
        }

        fn recv(&self) -> String {
            let mut buf = [0u8; 4096];
            let len = self.socket.recv(&mut buf).expect("a datagram was sent");
            String::from_utf8(buf[..len].to_vec()).unwrap()
        }

        fn assert_nothing_more(&self) {
            let mut buf = [0u8; 16];
            let err = self.socket.recv(&mut buf).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
        }
    }

    #[test]
    fn each_call_sends_its_exact_datagram() {
        let manager = Manager::bind();
        let notifier = manager.notifier();
        assert!(notifier.is_enabled());

        notifier.ready();
        assert_eq!(manager.recv(), "READY=1");
        notifier.status("3 tenants running");
        assert_eq!(manager.recv(), "STATUS=3 tenants running");
        notifier.stopping();
        assert_eq!(manager.recv(), "STOPPING=1");
        notifier.watchdog();
        assert_eq!(manager.recv(), "WATCHDOG=1");
        manager.assert_nothing_more();
    }

    #[test]
    fn status_is_kept_on_one_line() {
        let manager = Manager::bind();
        manager.notifier().status("reconciling\nacme\r\nglobex\tnow\nREADY=1");
        assert_eq!(manager.recv(), "STATUS=reconciling acme  globex now READY=1");
    }

    #[test]
    fn reloading_carries_the_monotonic_clock() {
        let manager = Manager::bind();
        let before = monotonic_usec();
        manager.notifier().reloading();
        let after = monotonic_usec();

        let datagram = manager.recv();
        let (first, second) = datagram.split_once('\n').unwrap();
        assert_eq!(first, "RELOADING=1");
        let usec: u64 = second.strip_prefix("MONOTONIC_USEC=").unwrap().parse().unwrap();
        assert!((before..=after).contains(&usec), "{before} <= {usec} <= {after}");
    }

    #[test]
    fn the_monotonic_clock_advances_with_instant() {
        // Both read CLOCK_MONOTONIC, so they advance together.
        let start = std::time::Instant::now();
        let first = monotonic_usec();
        std::thread::sleep(Duration::from_millis(20));
        let second = monotonic_usec();
        let elapsed = start.elapsed().as_micros() as u64;
        assert!(second - first <= elapsed);
        assert!(second - first >= 20_000);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn abstract_socket_names_are_understood() {
        use std::os::linux::net::SocketAddrExt;
        let name = format!("tenantd-notify-test-{}", std::process::id());
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let socket = UnixDatagram::bind_addr(&addr).unwrap();

        Notifier::to_socket(format!("@{name}"), None).ready();
        let mut buf = [0u8; 64];
        let len = socket.recv(&mut buf).unwrap();
        assert_eq!(&buf[..len], b"READY=1");
    }

    #[test]
    fn watchdog_interval_is_half_the_timeout() {
        let manager = Manager::bind();
        assert_eq!(manager.notifier().watchdog_interval(), Some(Duration::from_secs(15)));
        assert_eq!(Notifier::to_socket(&manager.path, None).watchdog_interval(), None);
        assert_eq!(Notifier::to_socket(&manager.path, Some(Duration::ZERO)).watchdog_interval(), None);
    }

    #[test]
    fn environment_is_read_like_sd_watchdog_enabled() {
        let os = |s: &'static str| Some(OsStr::new(s));
        let pid = 4242;

        let n = Notifier::from_vars(os("/run/systemd/notify"), os("30000000"), None, pid);
        assert_eq!(n.target, Some(Target::Path("/run/systemd/notify".into())));
        assert_eq!(n.watchdog_interval(), Some(Duration::from_secs(15)));

        let n = Notifier::from_vars(os("/run/systemd/notify"), os("30000000"), os("4242"), pid);
        assert_eq!(n.watchdog_interval(), Some(Duration::from_secs(15)));

        // Inherited from a parent the manager watches: not ours to ping.
        let n = Notifier::from_vars(os("/run/systemd/notify"), os("30000000"), os("1"), pid);
        assert!(n.is_enabled());
        assert_eq!(n.watchdog_interval(), None);

        for usec in ["0", "", "soon"] {
            let n = Notifier::from_vars(os("/run/systemd/notify"), os(usec), None, pid);
            assert_eq!(n.watchdog_interval(), None, "WATCHDOG_USEC={usec:?}");
        }

        let n = Notifier::from_vars(os("@/org/freedesktop/systemd1/notify"), None, None, pid);
        assert_eq!(n.target, Some(Target::Abstract(b"/org/freedesktop/systemd1/notify".to_vec())));

        for unusable in ["", "@", "relative/notify", "vsock:2:1234"] {
            let n = Notifier::from_vars(os(unusable), os("30000000"), None, pid);
            assert!(!n.is_enabled(), "NOTIFY_SOCKET={unusable:?}");
        }
    }

    #[test]
    fn without_a_socket_every_call_is_a_no_op() {
        for notifier in [
            Notifier::from_vars(None, None, None, 1),
            Notifier::from_vars(None, Some(OsStr::new("30000000")), None, 1),
            Notifier::disabled(),
        ] {
            assert!(!notifier.is_enabled());
            notifier.ready();
            notifier.status("x\ny");
            notifier.reloading();
            notifier.stopping();
            notifier.watchdog();
            assert_eq!(notifier.watchdog_interval(), None);
        }
        if std::env::var_os("NOTIFY_SOCKET").is_none() {
            let notifier = Notifier::from_env();
            assert!(!notifier.is_enabled());
            notifier.ready();
            notifier.watchdog();
        }
    }

    #[test]
    fn a_vanished_manager_is_not_an_error() {
        let manager = Manager::bind();
        let notifier = manager.notifier();
        let path = manager.path.clone();
        drop(manager);
        assert!(!path.exists());

        // Each call fails to send, warns (once) and returns normally.
        notifier.ready();
        notifier.watchdog();
        notifier.status("still here");
        assert!(notifier.warned.load(Ordering::Relaxed));
    }
}
