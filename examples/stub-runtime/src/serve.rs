//! The HTTP server: a polling accept loop that notices shutdown, and one thread per connection.

use std::io::{self, BufReader};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::os::raw::{c_int, c_short, c_ulong};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crate::http::{self, RequestError, Response};
use crate::routes::{self, Health, HealthMode, Reply};

/// How often the accept loop (while no connection arrives) and held connections look at the stop
/// flag and the health mode; short enough that `docker stop` returns in well under a second.
const POLL: Duration = Duration::from_millis(50);
/// A client that connects and then says nothing is dropped after this long.
const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// A held `/health` request is dropped unanswered after this long, so a forgotten `down`
/// cannot pile up threads forever; every health client gives up far sooner.
const MAX_HOLD: Duration = Duration::from_secs(600);

/// Serves until `stop` becomes true, then returns without waiting for open connections.
pub fn run(listener: TcpListener, initial: HealthMode, stop: &'static AtomicBool) -> io::Result<()> {
    // Non-blocking accept, so the loop can see `stop` instead of sleeping inside accept(2).
    listener.set_nonblocking(true)?;
    let health = Arc::new(Health::new(initial));
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                let health = Arc::clone(&health);
                thread::spawn(move || connection(stream, &health, stop));
            }
            // Woken by the next connection at once, or after POLL to look at `stop`.
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => wait_readable(&listener, POLL),
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            // E.g. EMFILE or ECONNABORTED: the next connection may well succeed, so keep serving.
            Err(err) => {
                eprintln!("accept failed: {err}");
                thread::sleep(POLL);
            }
        }
    }
    Ok(())
}

fn connection(stream: TcpStream, health: &Health, stop: &AtomicBool) {
    if let Err(err) = serve_one(stream, health, stop) {
        log(&format!("connection error: {err}"));
    }
}

fn serve_one(mut stream: TcpStream, health: &Health, stop: &AtomicBool) -> io::Result<()> {
    // Accepted sockets do not inherit O_NONBLOCK on Linux, but say so rather than rely on it.
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;

    let request = match http::read_request(&mut BufReader::new(&stream)) {
        Ok(Some(request)) => request,
        Ok(None) => return Ok(()),
        Err(RequestError::Io(err)) => return Err(err),
        Err(RequestError::Malformed(why)) => {
            Response::json(400, format!(r#"{{"error":"{why}"}}"#)).write_to(&mut stream)?;
            log_error(&format!("- - 400 ({why})"));
            return Ok(());
        }
        Err(RequestError::TooLarge) => {
            Response::json(413, r#"{"error":"request too large"}"#.to_string()).write_to(&mut stream)?;
            log_error("- - 413");
            return Ok(());
        }
    };

    let route = routes::select(&request.method, &request.path);
    let mut reply = routes::handle(route, &request.body, health);
    let what = format!("{} {}", request.method, request.path);
    let held_since = Instant::now();
    if reply == Reply::Hold {
        log(&format!("{what} held (health is down)"));
    }
    // A held request is answered as soon as health leaves `down`, like a runtime that recovered;
    // it is let go once the client gives up, so probes repeated while down do not pile up threads.
    while reply == Reply::Hold {
        if stop.load(Ordering::SeqCst) || held_since.elapsed() > MAX_HOLD || peer_closed(&stream)? {
            log(&format!("{what} dropped unanswered"));
            return Ok(());
        }
        thread::sleep(POLL);
        reply = routes::health_reply(health.get());
    }
    if let Reply::Send(response) = reply {
        response.write_to(&mut stream)?;
        log(&format!("{what} {}", response.status));
    }
    Ok(())
}

// libc is linked anyway; declaring the one function needed keeps the crate free of dependencies.
#[repr(C)]
struct PollFd {
    fd: c_int,
    events: c_short,
    revents: c_short,
}
const POLLIN: c_short = 1;

unsafe extern "C" {
    fn poll(fds: *mut PollFd, nfds: c_ulong, timeout: c_int) -> c_int;
}

/// Waits until `listener` has a connection to accept or `timeout` has passed. A signal or an
/// error ends the wait early, which only makes the caller look at its flags sooner.
fn wait_readable(listener: &TcpListener, timeout: Duration) {
    let mut fd = PollFd { fd: listener.as_raw_fd(), events: POLLIN, revents: 0 };
    let millis = c_int::try_from(timeout.as_millis()).unwrap_or(c_int::MAX);
    // SAFETY: `fd` is one valid pollfd that outlives the call, and nfds says one.
    unsafe { poll(&mut fd, 1, millis) };
}

/// Whether the client has closed its end, seen without blocking and without consuming data.
fn peer_closed(stream: &TcpStream) -> io::Result<bool> {
    stream.set_nonblocking(true)?;
    let closed = match stream.peek(&mut [0; 1]) {
        Ok(0) => true,
        Ok(_) => false,
        Err(err) if err.kind() == io::ErrorKind::WouldBlock => false,
        Err(err) if err.kind() == io::ErrorKind::ConnectionReset => true,
        Err(err) => return Err(err),
    };
    stream.set_nonblocking(false)?;
    Ok(closed)
}

/// A request the stub could not serve, on stderr: a runtime's errors go there, apart from its
/// access log.
pub fn log_error(line: &str) {
    use std::io::Write;
    let mut out = io::stderr().lock();
    // Logging must never take the server down: a closed stderr only loses the log line.
    let _ = writeln!(out, "{line}").and_then(|()| out.flush());
}

/// One line per event on stdout, flushed at once so `docker logs` shows it immediately.
pub fn log(line: &str) {
    use std::io::Write;
    let mut out = io::stdout().lock();
    // Logging must never take the server down: a closed stdout only loses the log line.
    let _ = writeln!(out, "{line}").and_then(|()| out.flush());
}
