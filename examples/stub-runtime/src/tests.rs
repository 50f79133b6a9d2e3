//! The server and the probe together over loopback: what a health check sees in each mode.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use crate::probe::{self, Target};
use crate::routes::HealthMode;
use crate::serve;

const SHORT: Duration = Duration::from_millis(300);

struct Server {
    addr: SocketAddr,
    stop: &'static AtomicBool,
    thread: thread::JoinHandle<()>,
}

fn start(mode: HealthMode) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    // Each server gets its own flag, so stopping one test's server leaves the others running.
    let stop: &'static AtomicBool = Box::leak(Box::new(AtomicBool::new(false)));
    let thread = thread::spawn(move || serve::run(listener, mode, stop).unwrap());
    Server { addr, stop, thread }
}

fn exchange(addr: SocketAddr, raw: &str) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    stream.write_all(raw.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

fn set_health(addr: SocketAddr, mode: &str) {
    let raw = format!("POST /control/health HTTP/1.1\r\nContent-Length: {}\r\n\r\n{mode}", mode.len());
    assert!(exchange(addr, &raw).starts_with("HTTP/1.1 200 "));
}

fn health_target(addr: SocketAddr) -> Target {
    probe::parse_url(&format!("http://{addr}/health")).unwrap()
}

#[test]
fn the_probe_sees_each_health_mode() {
    let server = start(HealthMode::Ok);
    let target = health_target(server.addr);
    assert_eq!(probe::check(&target, SHORT), Ok(200));

    set_health(server.addr, "degraded");
    assert_eq!(probe::check(&target, SHORT), Ok(503));

    set_health(server.addr, "down");
    let started = Instant::now();
    let outcome = probe::check(&target, SHORT);
    assert!(outcome.as_ref().unwrap_err().contains("timed out"), "{outcome:?}");
    assert!(started.elapsed() < SHORT * 3, "the probe overran its deadline");
}

#[test]
fn a_held_health_request_is_answered_once_health_recovers() {
    let server = start(HealthMode::Down);
    let addr = server.addr;
    let held = thread::spawn(move || exchange(addr, "GET /health HTTP/1.1\r\n\r\n"));
    // The held request must still be unanswered after a probe's worth of waiting.
    thread::sleep(SHORT);
    assert!(!held.is_finished());
    set_health(addr, "ok");
    assert!(held.join().unwrap().ends_with(r#"{"status":"ok"}"#));
}

#[test]
fn answers_hooks_env_and_unknown_paths() {
    let server = start(HealthMode::Ok);
    let hook = exchange(server.addr, "POST /hooks/aegis HTTP/1.1\r\nContent-Length: 4\r\n\r\nabcd");
    assert!(hook.starts_with("HTTP/1.1 202 ") && hook.ends_with(r#""bytes":4}"#), "{hook}");
    let env = exchange(server.addr, "GET /env HTTP/1.1\r\n\r\n");
    assert!(env.starts_with("HTTP/1.1 200 ") && env.contains(r#"{"names":["#), "{env}");
    let missing = exchange(server.addr, "GET /nope HTTP/1.1\r\n\r\n");
    assert!(missing.starts_with("HTTP/1.1 404 "), "{missing}");
    let garbage = exchange(server.addr, "hello\r\n\r\n");
    assert!(garbage.starts_with("HTTP/1.1 400 "), "{garbage}");
}

#[test]
fn a_held_health_request_is_let_go_when_the_client_gives_up() {
    let server = start(HealthMode::Down);
    let mut stream = TcpStream::connect(server.addr).unwrap();
    stream.write_all(b"GET /health HTTP/1.1\r\n\r\n").unwrap();
    // Closing our sending side is what the server can see of a client that gave up.
    stream.shutdown(Shutdown::Write).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let started = Instant::now();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert_eq!(answer, "", "a held request must be dropped, not answered");
    assert!(started.elapsed() < Duration::from_secs(1), "took {:?}", started.elapsed());
}

#[test]
fn stops_promptly_even_with_a_held_connection() {
    let server = start(HealthMode::Down);
    let _held = TcpStream::connect(server.addr).unwrap();
    let stopping = Instant::now();
    server.stop.store(true, Ordering::SeqCst);
    server.thread.join().unwrap();
    assert!(stopping.elapsed() < Duration::from_millis(500), "took {:?}", stopping.elapsed());
}

#[test]
fn the_probe_reports_a_refused_connection() {
    // Bind then drop, so the port is very likely closed.
    let addr = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let outcome = probe::check(&health_target(addr), SHORT);
    assert!(outcome.as_ref().unwrap_err().contains("connecting"), "{outcome:?}");
}

#[test]
fn cat_copies_everything_it_reads() {
    let input: Vec<u8> = (0..20_000u32).map(|i| (i % 251) as u8).collect();
    let mut output = Vec::new();
    crate::commands::copy(&mut &input[..], &mut output).unwrap();
    assert_eq!(output, input);
}

#[test]
fn exit_passes_its_status_and_refuses_a_bad_one() {
    use std::process::ExitCode;
    assert_eq!(crate::commands::exit("0"), ExitCode::SUCCESS);
    assert_eq!(crate::commands::exit("42"), ExitCode::from(42));
    assert_eq!(crate::commands::exit("256"), ExitCode::from(2));
    assert_eq!(crate::commands::exit("x"), ExitCode::from(2));
}
