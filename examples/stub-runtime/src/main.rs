//! stub-runtime: a tiny tenant runtime for tenantd's samples and tests (`serve` and `probe URL`),
//! plus small commands to exec in its shell-less image (`echo`, `cat`, `exit N`, `tty`).

mod commands;
mod http;
mod mounts;
mod probe;
mod routes;
mod runtime_files;
mod serve;
mod signals;
#[cfg(test)]
mod tests;

use std::net::TcpListener;
use std::process::ExitCode;
use std::time::Duration;

use routes::HealthMode;

const DEFAULT_PORT: u16 = 18789;
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);
const USAGE: &str = "usage: stub-runtime [serve] | stub-runtime probe URL\n\
    serve: HTTP on 0.0.0.0:$PORT (default 18789); STUB_HEALTH=ok|degraded|down sets the initial health;\n\
    \x20      reads $STUB_CONFIG (default /etc/openclaw/openclaw.json) and $STUB_SECRETS_DIR (default\n\
    \x20      /run/secrets/openclaw) at start and on SIGHUP, reported by GET /debug/runtime\n\
    probe: exit 0 when GET URL answers 2xx within 3 s, else 1\n\
    echo [--stderr] WORD...: print the words on one line of stdout (or stderr)\n\
    cat: copy stdin to stdout; exit N: exit with status N; tty: print `tty COLSxROWS` or `no tty`";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    match words[..] {
        [] | ["serve"] => serve_command(),
        ["probe", url] => probe_command(url),
        // 1 rather than 2: this runs as a Docker health check, where 2 is reserved.
        ["probe", ..] => fail(1, "usage: stub-runtime probe URL"),
        ["echo", ..] => commands::echo(&words[1..]),
        ["cat"] => commands::cat(),
        ["exit", code] => commands::exit(code),
        ["tty"] => commands::tty(),
        ["-h" | "--help"] => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        _ => fail(2, USAGE),
    }
}

fn serve_command() -> ExitCode {
    let port = match std::env::var("PORT") {
        Ok(port) => match port.parse::<u16>() {
            Ok(port) => port,
            Err(_) => return fail(2, &format!("PORT={port:?} is not a port number")),
        },
        Err(_) => DEFAULT_PORT,
    };
    let health = match std::env::var("STUB_HEALTH") {
        Ok(word) => match HealthMode::parse(&word) {
            Some(mode) => mode,
            None => return fail(2, &format!("STUB_HEALTH={word:?} is not ok, degraded or down")),
        },
        Err(_) => HealthMode::Ok,
    };
    if let Err(err) = signals::install() {
        return fail(2, &format!("cannot install signal handlers: {err}"));
    }
    let path =
        |var: &str, default: &str| std::path::PathBuf::from(std::env::var(var).unwrap_or_else(|_| default.into()));
    runtime_files::follow(
        path("STUB_CONFIG", runtime_files::DEFAULT_CONFIG),
        path("STUB_SECRETS_DIR", runtime_files::DEFAULT_SECRETS_DIR),
        &signals::RELOADS,
    );
    let listener = match TcpListener::bind(("0.0.0.0", port)) {
        Ok(listener) => listener,
        Err(err) => return fail(2, &format!("cannot listen on 0.0.0.0:{port}: {err}")),
    };
    serve::log(&format!("listening on 0.0.0.0:{port}, health {}", health.as_str()));
    match serve::run(listener, health, &signals::STOP) {
        Ok(()) => {
            serve::log("stop signal received, exiting");
            ExitCode::SUCCESS
        }
        Err(err) => fail(1, &format!("server failed: {err}")),
    }
}

fn probe_command(url: &str) -> ExitCode {
    let outcome = probe::parse_url(url).and_then(|target| probe::check(&target, PROBE_TIMEOUT));
    match outcome {
        Ok(status) if (200..300).contains(&status) => {
            println!("probe {url}: {status}");
            ExitCode::SUCCESS
        }
        Ok(status) => fail(1, &format!("probe {url}: answered {status}")),
        Err(reason) => fail(1, &format!("probe {url}: {reason}")),
    }
}

fn fail(code: u8, message: &str) -> ExitCode {
    eprintln!("{message}");
    ExitCode::from(code)
}
