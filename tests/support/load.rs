//! A steady HTTP/1.1 load client for integration tests, std only: requests on a fixed schedule
//! (open loop: request `i` is due at `start + i / rate`, however long earlier answers take),
//! issued by a small pool of worker threads, and a report of what came back: counts, the
//! latencies of the OK requests, every failure with its time and a short reason, and the
//! longest time without an OK answer.
//!
//! ```ignore
//! let client = SteadyClient::start(LoadConfig {
//!     addr: ([127, 0, 0, 1], port).into(),
//!     path: "/".into(),
//!     rate_per_sec: 50,
//!     connections: Connections::KeepAlive,
//!     timeout: Duration::from_secs(2),
//! });
//! eventually("traffic flows", Duration::from_secs(10), || (client.ok() > 0).then_some(()));
//! // ... restart the thing under test ...
//! let report = client.stop();
//! assert_eq!(report.failed(), 0, "{}", report.summary());
//! ```

// Every test binary includes the support module, and only a few of them put load on a server.
#![allow(dead_code)]

use std::io::{self, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Worker threads per client: requests overlap only when an answer takes longer than the
/// interval, and four keep the schedule through a few slow answers at once.
const WORKERS: usize = 4;
/// The longest status, header or chunk-size line accepted.
const MAX_LINE: usize = 16 * 1024;
/// The most header (or trailer) lines accepted in one response.
const MAX_HEADERS: usize = 100;

/// How requests use TCP connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connections {
    /// A new connection for every request, sent with `Connection: close`.
    PerRequest,
    /// One persistent connection per worker, reopened when the server closes it. A request on a
    /// reused connection that the server closed (or reset) before sending a single byte of the
    /// answer is sent once more on a fresh connection, as browsers and Go's HTTP client do for
    /// idempotent requests; only a failure of that second attempt counts.
    KeepAlive,
}

#[derive(Debug, Clone)]
pub struct LoadConfig {
    pub addr: SocketAddr,
    /// The request target, e.g. `/healthz`.
    pub path: String,
    /// Requests per second; must be at least 1.
    pub rate_per_sec: u32,
    pub connections: Connections,
    /// Both the connect timeout and the whole request's deadline (connect, send, full answer).
    pub timeout: Duration,
}

/// One request that did not end in a 2xx answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// When the failed request was started, since the client started.
    pub at: Duration,
    /// `refused`, `reset`, `closed` (the connection closed before any byte of an answer),
    /// `timeout`, `HTTP <status>`, `bad response: <what>`, or `io: <error>` for anything else.
    pub what: String,
}

#[derive(Debug, Clone)]
pub struct LoadReport {
    /// Requests started (a KeepAlive resend is not counted again): always `ok + failed()`.
    pub sent: u64,
    pub ok: u64,
    /// In order of `at`.
    pub failures: Vec<Failure>,
    /// Of the OK requests, in order of completion: from the start of the request (including
    /// connecting, and a KeepAlive resend) to the end of its answer's body.
    pub latencies: Vec<Duration>,
    /// The longest interval between consecutive OK completions, counting from the start to the
    /// first OK and from the last OK to the call of `stop` (the whole run when nothing was OK).
    pub longest_gap_without_ok: Duration,
}

impl LoadReport {
    pub fn failed(&self) -> usize {
        self.failures.len()
    }

    /// The `p`th percentile (0 to 100, nearest rank) of the OK latencies; zero when none.
    pub fn percentile(&self, p: f64) -> Duration {
        assert!((0.0..=100.0).contains(&p), "percentile {p} is not between 0 and 100");
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let mut sorted = self.latencies.clone();
        sorted.sort_unstable();
        let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
        sorted[rank.saturating_sub(1).min(sorted.len() - 1)]
    }

    /// One line: counts, p50, p99, the longest gap, and the first five failures.
    pub fn summary(&self) -> String {
        let mut line = format!(
            "sent {}, ok {}, failed {}, p50 {}, p99 {}, longest gap without OK {}",
            self.sent,
            self.ok,
            self.failed(),
            millis(self.percentile(50.0)),
            millis(self.percentile(99.0)),
            millis(self.longest_gap_without_ok),
        );
        if !self.failures.is_empty() {
            let first: Vec<String> =
                self.failures.iter().take(5).map(|f| format!("{:.3}s {}", f.at.as_secs_f64(), f.what)).collect();
            line.push_str("; failures: ");
            line.push_str(&first.join(", "));
            if self.failures.len() > 5 {
                line.push_str(&format!(", and {} more", self.failures.len() - 5));
            }
        }
        line
    }
}

fn millis(d: Duration) -> String {
    format!("{:.1}ms", d.as_secs_f64() * 1000.0)
}

/// Load on one HTTP endpoint until `stop`. Dropping it without `stop` stops it too.
pub struct SteadyClient {
    shared: Arc<Shared>,
    workers: Vec<JoinHandle<()>>,
}

impl SteadyClient {
    /// Starts the workers; the first request is due at once.
    pub fn start(cfg: LoadConfig) -> Self {
        assert!(cfg.rate_per_sec > 0, "rate_per_sec must be at least 1");
        assert!(!cfg.timeout.is_zero(), "the timeout must not be zero");
        assert!(!cfg.path.is_empty() && !cfg.path.contains(char::is_whitespace), "bad request path {:?}", cfg.path);
        let mut request =
            format!("GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: tenantd-tests-load\r\n", cfg.path, cfg.addr);
        if cfg.connections == Connections::PerRequest {
            request.push_str("Connection: close\r\n");
        }
        request.push_str("\r\n");
        let shared = Arc::new(Shared {
            request: request.into_bytes(),
            cfg,
            start: Instant::now(),
            next: AtomicU64::new(0),
            sent: AtomicU64::new(0),
            ok: AtomicU64::new(0),
            stopped: Mutex::new(false),
            wake: Condvar::new(),
            record: Mutex::new(Record::default()),
        });
        let workers = (0..WORKERS)
            .map(|n| {
                let shared = Arc::clone(&shared);
                std::thread::Builder::new()
                    .name(format!("load-{n}"))
                    .spawn(move || worker(&shared))
                    .expect("spawn a load worker thread")
            })
            .collect();
        SteadyClient { shared, workers }
    }

    /// Requests started so far.
    pub fn sent(&self) -> u64 {
        self.shared.sent.load(Ordering::SeqCst)
    }

    /// Requests answered with a 2xx so far.
    pub fn ok(&self) -> u64 {
        self.shared.ok.load(Ordering::SeqCst)
    }

    /// Stops the schedule; requests in flight finish (within the timeout) and are counted.
    pub fn stop(mut self) -> LoadReport {
        let stopped_at = self.shared.start.elapsed();
        self.halt();
        for worker in self.workers.drain(..) {
            if let Err(panic) = worker.join() {
                std::panic::resume_unwind(panic);
            }
        }
        let mut record = lock(&self.shared.record);
        let mut failures = std::mem::take(&mut record.failures);
        failures.sort_by_key(|f| f.at);
        LoadReport {
            sent: self.shared.sent.load(Ordering::SeqCst),
            ok: self.shared.ok.load(Ordering::SeqCst),
            failures,
            latencies: std::mem::take(&mut record.latencies),
            longest_gap_without_ok: record.longest_gap.max(stopped_at.saturating_sub(record.last_ok)),
        }
    }

    fn halt(&self) {
        *lock(&self.shared.stopped) = true;
        self.shared.wake.notify_all();
    }
}

impl Drop for SteadyClient {
    fn drop(&mut self) {
        self.halt();
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
    }
}

struct Shared {
    cfg: LoadConfig,
    request: Vec<u8>,
    start: Instant,
    /// The next request number to claim.
    next: AtomicU64,
    sent: AtomicU64,
    ok: AtomicU64,
    stopped: Mutex<bool>,
    wake: Condvar,
    record: Mutex<Record>,
}

#[derive(Default)]
struct Record {
    failures: Vec<Failure>,
    latencies: Vec<Duration>,
    /// The last OK completion, since start (zero before the first).
    last_ok: Duration,
    longest_gap: Duration,
}

impl Shared {
    /// Sleeps until `due`; false when the client was stopped first.
    fn wait_until(&self, due: Instant) -> bool {
        let mut stopped = lock(&self.stopped);
        loop {
            if *stopped {
                return false;
            }
            let now = Instant::now();
            if now >= due {
                return true;
            }
            stopped = self.wake.wait_timeout(stopped, due - now).unwrap_or_else(|e| e.into_inner()).0;
        }
    }

    fn finish(&self, began: Instant, result: Result<(), String>) {
        let done = Instant::now();
        let mut record = lock(&self.record);
        match result {
            Ok(()) => {
                let now = done - self.start;
                record.latencies.push(done - began);
                record.longest_gap = record.longest_gap.max(now.saturating_sub(record.last_ok));
                record.last_ok = record.last_ok.max(now);
                self.ok.fetch_add(1, Ordering::SeqCst);
            }
            Err(what) => record.failures.push(Failure { at: began - self.start, what }),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn worker(shared: &Shared) {
    let rate = u128::from(shared.cfg.rate_per_sec);
    let mut conn = None;
    loop {
        let i = u128::from(shared.next.fetch_add(1, Ordering::SeqCst));
        let due = shared.start + Duration::from_nanos((i * 1_000_000_000 / rate) as u64);
        if !shared.wait_until(due) {
            return;
        }
        shared.sent.fetch_add(1, Ordering::SeqCst);
        let began = Instant::now();
        let result = request(shared, &mut conn, began + shared.cfg.timeout);
        shared.finish(began, result);
    }
}

/// One scheduled request: Ok for a 2xx, else the failure's reason. `slot` holds the worker's
/// idle keep-alive connection, if any (only ever one that completed a response).
fn request(shared: &Shared, slot: &mut Option<Conn>, deadline: Instant) -> Result<(), String> {
    let keep_alive = shared.cfg.connections == Connections::KeepAlive;
    let (mut conn, reused) = match slot.take() {
        Some(conn) => (conn, true),
        None => (Conn::open(shared.cfg.addr, deadline).map_err(|e| reason(&e, 0))?, false),
    };
    let mut result = exchange(&mut conn, &shared.request, deadline);
    if let Err(why) = &result {
        if reused && conn.received == 0 && why.is_close() {
            conn = Conn::open(shared.cfg.addr, deadline).map_err(|e| reason(&e, 0))?;
            result = exchange(&mut conn, &shared.request, deadline);
        }
    }
    match result {
        Ok(answer) => {
            if keep_alive && answer.persistent {
                *slot = Some(conn);
            }
            if (200..300).contains(&answer.status) {
                Ok(())
            } else {
                Err(format!("HTTP {}", answer.status))
            }
        }
        Err(why) => Err(reason(&why, conn.received)),
    }
}

/// Why an exchange failed.
#[derive(Debug)]
enum Why {
    Io(io::Error),
    /// The peer closed the connection (a read returned 0 bytes).
    Closed,
    /// The request's deadline passed.
    Timeout,
    /// The answer is not HTTP/1.x as this client reads it.
    Bad(String),
}

impl Why {
    /// The server closed or reset the connection: what a stale keep-alive connection gives.
    fn is_close(&self) -> bool {
        match self {
            Why::Closed => true,
            Why::Io(e) => {
                matches!(e.kind(), ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted | ErrorKind::BrokenPipe)
            }
            Why::Timeout | Why::Bad(_) => false,
        }
    }
}

impl From<io::Error> for Why {
    fn from(e: io::Error) -> Self {
        Why::Io(e)
    }
}

fn reason(why: &Why, received: u64) -> String {
    match why {
        Why::Io(e) => match e.kind() {
            ErrorKind::ConnectionRefused => "refused".to_string(),
            ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted | ErrorKind::BrokenPipe => "reset".to_string(),
            ErrorKind::TimedOut | ErrorKind::WouldBlock => "timeout".to_string(),
            _ => format!("io: {e}"),
        },
        Why::Closed if received == 0 => "closed".to_string(),
        Why::Closed => "bad response: connection closed in the middle of it".to_string(),
        Why::Timeout => "timeout".to_string(),
        Why::Bad(what) => format!("bad response: {what}"),
    }
}

/// The part of an answer that matters after its body was read.
struct Answer {
    status: u16,
    /// The connection may carry another request.
    persistent: bool,
}

/// A connection with a read buffer that outlives one response (keep-alive).
struct Conn {
    stream: TcpStream,
    buf: Box<[u8]>,
    pos: usize,
    end: usize,
    deadline: Instant,
    /// Bytes of the current answer received so far.
    received: u64,
}

impl Conn {
    fn open(addr: SocketAddr, deadline: Instant) -> Result<Conn, Why> {
        let left = remaining(deadline)?;
        let stream = TcpStream::connect_timeout(&addr, left)?;
        stream.set_nodelay(true)?;
        Ok(Conn { stream, buf: vec![0; 8192].into_boxed_slice(), pos: 0, end: 0, deadline, received: 0 })
    }

    /// Makes sure there is at least one unread byte in the buffer.
    fn fill(&mut self) -> Result<(), Why> {
        if self.pos < self.end {
            return Ok(());
        }
        let left = remaining(self.deadline)?;
        self.stream.set_read_timeout(Some(left))?;
        self.pos = 0;
        self.end = 0;
        loop {
            match self.stream.read(&mut self.buf) {
                Ok(0) => return Err(Why::Closed),
                Ok(n) => {
                    self.end = n;
                    self.received += n as u64;
                    return Ok(());
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(Why::Io(e)),
            }
        }
    }

    /// One line without its CRLF (or bare LF).
    fn line(&mut self) -> Result<String, Why> {
        let mut line = Vec::new();
        loop {
            self.fill()?;
            let unread = &self.buf[self.pos..self.end];
            if let Some(i) = unread.iter().position(|&b| b == b'\n') {
                line.extend_from_slice(&unread[..i]);
                self.pos += i + 1;
                break;
            }
            line.extend_from_slice(unread);
            self.pos = self.end;
            if line.len() > MAX_LINE {
                return Err(Why::Bad(format!("a line longer than {MAX_LINE} bytes")));
            }
        }
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        Ok(String::from_utf8_lossy(&line).into_owned())
    }

    fn skip(&mut self, mut n: u64) -> Result<(), Why> {
        while n > 0 {
            self.fill()?;
            let take = n.min((self.end - self.pos) as u64);
            self.pos += take as usize;
            n -= take;
        }
        Ok(())
    }

    fn skip_to_close(&mut self) -> Result<(), Why> {
        loop {
            match self.fill() {
                Ok(()) => self.pos = self.end,
                Err(Why::Closed) => return Ok(()),
                Err(why) => return Err(why),
            }
        }
    }
}

fn remaining(deadline: Instant) -> Result<Duration, Why> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        Err(Why::Timeout)
    } else {
        Ok(left)
    }
}

/// Sends the request and reads one whole answer (skipping interim 1xx answers).
fn exchange(conn: &mut Conn, request: &[u8], deadline: Instant) -> Result<Answer, Why> {
    conn.deadline = deadline;
    // Bytes left over from the previous answer are part of this one (and rule out a resend).
    conn.received = (conn.end - conn.pos) as u64;
    let left = remaining(deadline)?;
    conn.stream.set_write_timeout(Some(left))?;
    conn.stream.write_all(request)?;
    loop {
        let head = read_head(conn)?;
        let status = head.status;
        if status == 101 {
            return Ok(Answer { status, persistent: false });
        }
        if (100..200).contains(&status) {
            continue;
        }
        let mut persistent = head.persistent;
        if status == 204 || status == 304 {
            // No body, whatever the headers say.
        } else if head.chunked {
            read_chunked(conn)?;
        } else if let Some(length) = head.content_length {
            conn.skip(length)?;
        } else {
            conn.skip_to_close()?;
            persistent = false;
        }
        return Ok(Answer { status, persistent });
    }
}

struct Head {
    status: u16,
    content_length: Option<u64>,
    chunked: bool,
    persistent: bool,
}

fn read_head(conn: &mut Conn) -> Result<Head, Why> {
    let line = conn.line()?;
    let mut parts = line.splitn(3, ' ');
    let version = parts.next().unwrap_or("");
    let code = parts.next().unwrap_or("");
    let status = match code.parse::<u16>() {
        Ok(status) if version.starts_with("HTTP/1.") && code.len() == 3 && (100..600).contains(&status) => status,
        _ => return Err(Why::Bad(format!("status line {:?}", clip(&line)))),
    };
    let mut head = Head { status, content_length: None, chunked: false, persistent: version != "HTTP/1.0" };
    let mut lines = 0;
    loop {
        let line = conn.line()?;
        if line.is_empty() {
            return Ok(head);
        }
        lines += 1;
        if lines > MAX_HEADERS {
            return Err(Why::Bad(format!("more than {MAX_HEADERS} header lines")));
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(Why::Bad(format!("header line {:?}", clip(&line))));
        };
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "content-length" => {
                let length = value.parse::<u64>().map_err(|_| Why::Bad(format!("Content-Length {:?}", clip(value))))?;
                if head.content_length.is_some_and(|l| l != length) {
                    return Err(Why::Bad("two different Content-Length headers".to_string()));
                }
                head.content_length = Some(length);
            }
            "transfer-encoding" => {
                let last = value.rsplit(',').next().unwrap_or("").trim();
                head.chunked = last.eq_ignore_ascii_case("chunked");
            }
            "connection" => {
                for token in value.split(',').map(str::trim) {
                    if token.eq_ignore_ascii_case("close") {
                        head.persistent = false;
                    } else if token.eq_ignore_ascii_case("keep-alive") && version == "HTTP/1.0" {
                        head.persistent = true;
                    }
                }
            }
            _ => {}
        }
    }
}

fn read_chunked(conn: &mut Conn) -> Result<(), Why> {
    loop {
        let line = conn.line()?;
        let size = line.split(';').next().unwrap_or("").trim();
        let size = u64::from_str_radix(size, 16).map_err(|_| Why::Bad(format!("chunk size {:?}", clip(&line))))?;
        if size == 0 {
            // Trailers, up to the empty line.
            for _ in 0..=MAX_HEADERS {
                if conn.line()?.is_empty() {
                    return Ok(());
                }
            }
            return Err(Why::Bad(format!("more than {MAX_HEADERS} trailer lines")));
        }
        conn.skip(size)?;
        let end = conn.line()?;
        if !end.is_empty() {
            return Err(Why::Bad(format!("{:?} after a chunk instead of CRLF", clip(&end))));
        }
    }
}

/// The start of a line from the server, for a failure's reason.
fn clip(s: &str) -> String {
    s.chars().take(60).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::sync::atomic::AtomicUsize;

    /// A server on 127.0.0.1 that runs `handler(connection number, stream)` on a thread per
    /// connection. It lives as long as the test process.
    fn serve(handler: impl Fn(usize, TcpStream) + Send + Sync + 'static) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let handler = Arc::new(handler);
        std::thread::spawn(move || {
            for (n, stream) in listener.incoming().enumerate() {
                let Ok(stream) = stream else { continue };
                let handler = Arc::clone(&handler);
                std::thread::spawn(move || handler(n, stream));
            }
        });
        addr
    }

    /// Reads one request head; None when the client closed the connection.
    fn read_request(s: &mut TcpStream) -> Option<String> {
        let mut req = Vec::new();
        let mut buf = [0; 1024];
        while !req.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = s.read(&mut buf).ok().filter(|&n| n > 0)?;
            req.extend_from_slice(&buf[..n]);
        }
        Some(String::from_utf8_lossy(&req).into_owned())
    }

    /// Answers every request with `response`; closes after `Connection: close`, or after every
    /// answer when `close_after`.
    fn answer(response: &'static str, close_after: bool) -> impl Fn(usize, TcpStream) {
        move |_, mut s| {
            while let Some(req) = read_request(&mut s) {
                if s.write_all(response.as_bytes()).is_err() || close_after || req.contains("Connection: close") {
                    return;
                }
            }
        }
    }

    fn run(
        addr: SocketAddr,
        connections: Connections,
        timeout: Duration,
        until: impl Fn(&SteadyClient) -> bool,
    ) -> LoadReport {
        let client =
            SteadyClient::start(LoadConfig { addr, path: "/healthz".into(), rate_per_sec: 200, connections, timeout });
        let deadline = Instant::now() + Duration::from_secs(10);
        while !until(&client) {
            assert!(Instant::now() < deadline, "load test timed out: sent {}, ok {}", client.sent(), client.ok());
            std::thread::sleep(Duration::from_millis(5));
        }
        client.stop()
    }

    const SECOND: Duration = Duration::from_secs(1);
    const OK_LENGTH: &str = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    const OK_CHUNKED: &str =
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2;x=y\r\nok\r\n1\r\n!\r\n0\r\nT: 1\r\n\r\n";
    const OK_TO_CLOSE: &str = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil close";

    #[test]
    fn load_two_hundreds_are_ok_in_both_modes() {
        for (connections, response, close_after) in [
            (Connections::PerRequest, OK_LENGTH, false),
            (Connections::KeepAlive, OK_LENGTH, false),
            (Connections::KeepAlive, OK_CHUNKED, false),
            (Connections::PerRequest, OK_TO_CLOSE, true),
            (Connections::KeepAlive, OK_TO_CLOSE, true),
        ] {
            let report = run(serve(answer(response, close_after)), connections, SECOND, |c| c.ok() >= 10);
            let case = format!("{connections:?} {response:?}: {}", report.summary());
            assert_eq!(report.failed(), 0, "{case}");
            assert_eq!(report.ok, report.sent, "{case}");
            assert_eq!(report.latencies.len() as u64, report.ok, "{case}");
        }
    }

    #[test]
    fn load_a_503_is_a_failure() {
        let response = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 5\r\n\r\nbusy!";
        for connections in [Connections::PerRequest, Connections::KeepAlive] {
            let report = run(serve(answer(response, false)), connections, SECOND, |c| c.sent() >= 10);
            assert_eq!(report.ok, 0, "{}", report.summary());
            assert_eq!(report.failed() as u64, report.sent, "{}", report.summary());
            assert!(report.failures.iter().all(|f| f.what == "HTTP 503"), "{}", report.summary());
            assert!(report.longest_gap_without_ok > Duration::ZERO);
        }
    }

    #[test]
    fn load_keep_alive_resends_once_when_the_server_closed_the_idle_connection() {
        let connections = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&connections);
        let answer_once = answer(OK_LENGTH, true);
        let addr = serve(move |n, s| {
            counted.fetch_add(1, Ordering::SeqCst);
            answer_once(n, s)
        });
        let report = run(addr, Connections::KeepAlive, SECOND, |c| c.ok() >= 10);
        assert_eq!(report.failed(), 0, "{}", report.summary());
        assert!(connections.load(Ordering::SeqCst) as u64 >= report.ok);
    }

    #[test]
    fn load_keep_alive_counts_a_failure_when_the_fresh_connection_fails_too() {
        // The first connection answers once; every later one is closed unanswered.
        let answer_once = answer(OK_LENGTH, true);
        let addr = serve(move |n, mut s| {
            if n == 0 {
                answer_once(n, s);
            } else {
                read_request(&mut s);
            }
        });
        let report = run(addr, Connections::KeepAlive, SECOND, |c| c.sent() >= 8);
        assert_eq!(report.ok, 1, "{}", report.summary());
        assert_eq!(report.failed() as u64, report.sent - 1, "{}", report.summary());
        assert!(report.failures.iter().all(|f| f.what == "closed" || f.what == "reset"), "{}", report.summary());
    }

    #[test]
    fn load_refused_and_timeout_are_failures() {
        let closed = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let report = run(closed, Connections::PerRequest, SECOND, |c| c.sent() >= 3);
        assert!(report.failures.iter().all(|f| f.what == "refused"), "{}", report.summary());

        let silent = serve(|_, mut s| {
            read_request(&mut s);
            std::thread::sleep(Duration::from_secs(1));
        });
        let report = run(silent, Connections::KeepAlive, Duration::from_millis(50), |c| c.sent() >= 3);
        assert_eq!(report.ok, 0, "{}", report.summary());
        assert!(report.failures.iter().all(|f| f.what == "timeout"), "{}", report.summary());
    }

    #[test]
    fn load_report_percentiles_and_summary() {
        let report = LoadReport {
            sent: 101,
            ok: 100,
            failures: vec![Failure { at: Duration::from_millis(1500), what: "reset".into() }],
            latencies: (1..=100).rev().map(Duration::from_millis).collect(),
            longest_gap_without_ok: Duration::from_millis(250),
        };
        assert_eq!(report.percentile(0.0), Duration::from_millis(1));
        assert_eq!(report.percentile(50.0), Duration::from_millis(50));
        assert_eq!(report.percentile(99.0), Duration::from_millis(99));
        assert_eq!(report.percentile(100.0), Duration::from_millis(100));
        assert_eq!(
            report.summary(),
            "sent 101, ok 100, failed 1, p50 50.0ms, p99 99.0ms, longest gap without OK 250.0ms; failures: 1.500s reset"
        );
    }
}
