//! The stub's routes: which one a request selects and what it answers, with no sockets involved.

use std::sync::atomic::{AtomicU8, Ordering};

use crate::http::Response;

/// How `/health` behaves; switched at runtime so tests can drive a tenant through every state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HealthMode {
    /// 200 `{"status":"ok"}`.
    Ok,
    /// 503 `{"status":"degraded"}`.
    Degraded,
    /// No answer at all: a client with a timeout sees a hung runtime.
    Down,
}

impl HealthMode {
    pub fn parse(word: &str) -> Option<Self> {
        match word.trim() {
            "ok" => Some(HealthMode::Ok),
            "degraded" => Some(HealthMode::Degraded),
            "down" => Some(HealthMode::Down),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            HealthMode::Ok => "ok",
            HealthMode::Degraded => "degraded",
            HealthMode::Down => "down",
        }
    }
}

/// The current health mode, shared by all connection threads.
pub struct Health(AtomicU8);

impl Health {
    pub fn new(mode: HealthMode) -> Self {
        Health(AtomicU8::new(mode as u8))
    }

    pub fn get(&self) -> HealthMode {
        match self.0.load(Ordering::SeqCst) {
            0 => HealthMode::Ok,
            1 => HealthMode::Degraded,
            _ => HealthMode::Down,
        }
    }

    pub fn set(&self, mode: HealthMode) {
        self.0.store(mode as u8, Ordering::SeqCst);
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    Root,
    Health,
    SetHealth,
    Hook,
    Env,
    /// What the last read of the config file and secrets directory saw (no values).
    Debug,
    /// Holds on to more memory (the body: how many MiB), as a runtime under load would.
    Hold,
    /// A known path asked with the wrong method; carries the allowed one.
    WrongMethod(&'static str),
    NotFound,
}

pub fn select(method: &str, path: &str) -> Route {
    let (allowed, route) = match path {
        "/" => ("GET", Route::Root),
        "/health" => ("GET", Route::Health),
        "/control/health" => ("POST", Route::SetHealth),
        "/hooks/aegis" => ("POST", Route::Hook),
        "/env" => ("GET", Route::Env),
        "/control/memory" => ("POST", Route::Hold),
        "/debug/runtime" => ("GET", Route::Debug),
        _ => return Route::NotFound,
    };
    if method == allowed {
        route
    } else {
        Route::WrongMethod(allowed)
    }
}

/// What a connection does with a request.
#[derive(Debug, PartialEq, Eq)]
pub enum Reply {
    Send(Response),
    /// Keep the connection open without answering, for as long as health stays `down`.
    Hold,
}

pub fn handle(route: Route, body: &[u8], health: &Health) -> Reply {
    Reply::Send(match route {
        Route::Root => Response::text(200, "tenantd stub runtime: see /health, /env, /hooks/aegis, /debug/runtime\n"),
        Route::Health => return health_reply(health.get()),
        Route::SetHealth => set_health(body, health),
        Route::Hook => Response::json(202, format!(r#"{{"accepted":true,"bytes":{}}}"#, body.len())),
        Route::Env => env_names(std::env::vars_os().map(|(name, _)| name.to_string_lossy().into_owned())),
        Route::Hold => hold_memory(body),
        Route::Debug => Response::json(200, crate::runtime_files::current()),
        Route::WrongMethod(allowed) => {
            Response { allow: Some(allowed), ..Response::json(405, r#"{"error":"method not allowed"}"#.to_string()) }
        }
        Route::NotFound => Response::json(404, r#"{"error":"not found"}"#.to_string()),
    })
}

pub fn health_reply(mode: HealthMode) -> Reply {
    match mode {
        HealthMode::Ok => Reply::Send(Response::json(200, r#"{"status":"ok"}"#.to_string())),
        HealthMode::Degraded => Reply::Send(Response::json(503, r#"{"status":"degraded"}"#.to_string())),
        HealthMode::Down => Reply::Hold,
    }
}

fn set_health(body: &[u8], health: &Health) -> Response {
    match std::str::from_utf8(body).ok().and_then(HealthMode::parse) {
        Some(mode) => {
            health.set(mode);
            Response::json(200, format!(r#"{{"health":"{}"}}"#, mode.as_str()))
        }
        None => Response::json(400, r#"{"error":"body must be ok, degraded or down"}"#.to_string()),
    }
}

/// Allocates and touches the MiB the body asks for, and never frees them: the container's memory
/// use grows by that much for the rest of its life.
fn hold_memory(body: &[u8]) -> Response {
    let Some(mib) = std::str::from_utf8(body).ok().and_then(|b| b.trim().parse::<usize>().ok()) else {
        return Response::json(400, r#"{"error":"body must be a number of MiB"}"#.to_string());
    };
    // Every byte written, so the pages are really resident rather than only reserved.
    let block = vec![1u8; mib << 20];
    std::mem::forget(block);
    Response::json(200, format!(r#"{{"heldMiB":{mib}}}"#))
}

/// Names only, sorted: tests check which variables a tenant got without values (secrets) ever leaving.
fn env_names(names: impl Iterator<Item = String>) -> Response {
    let mut names: Vec<String> = names.collect();
    names.sort();
    let names: Vec<String> = names.iter().map(|name| json_string(name)).collect();
    Response::json(200, format!(r#"{{"names":[{}]}}"#, names.join(",")))
}

pub fn json_string(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len() + 2);
    out.push('"');
    for c in raw.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sent(reply: Reply) -> Response {
        match reply {
            Reply::Send(response) => response,
            Reply::Hold => panic!("expected an answer, got a held connection"),
        }
    }

    #[test]
    fn selects_routes_by_method_and_path() {
        assert_eq!(select("GET", "/"), Route::Root);
        assert_eq!(select("GET", "/health"), Route::Health);
        assert_eq!(select("POST", "/control/health"), Route::SetHealth);
        assert_eq!(select("POST", "/hooks/aegis"), Route::Hook);
        assert_eq!(select("GET", "/env"), Route::Env);
        assert_eq!(select("POST", "/control/memory"), Route::Hold);
        assert_eq!(select("GET", "/debug/runtime"), Route::Debug);
        assert_eq!(select("POST", "/health"), Route::WrongMethod("GET"));
        assert_eq!(select("GET", "/hooks/aegis"), Route::WrongMethod("POST"));
        assert_eq!(select("GET", "/healthz"), Route::NotFound);
        assert_eq!(select("GET", "/health/"), Route::NotFound);
    }

    #[test]
    fn health_follows_the_mode_set_through_control() {
        let health = Health::new(HealthMode::Ok);
        assert_eq!(sent(handle(Route::Health, b"", &health)).status, 200);

        let switched = sent(handle(Route::SetHealth, b"degraded\n", &health));
        assert_eq!((switched.status, switched.body.as_str()), (200, r#"{"health":"degraded"}"#));
        let degraded = sent(handle(Route::Health, b"", &health));
        assert_eq!((degraded.status, degraded.body.as_str()), (503, r#"{"status":"degraded"}"#));

        sent(handle(Route::SetHealth, b"down", &health));
        assert_eq!(handle(Route::Health, b"", &health), Reply::Hold);

        sent(handle(Route::SetHealth, b"ok", &health));
        assert_eq!(sent(handle(Route::Health, b"", &health)).body, r#"{"status":"ok"}"#);
    }

    #[test]
    fn an_unknown_health_mode_is_rejected_and_changes_nothing() {
        let health = Health::new(HealthMode::Degraded);
        assert_eq!(sent(handle(Route::SetHealth, b"sick", &health)).status, 400);
        assert_eq!(sent(handle(Route::SetHealth, &[0xff], &health)).status, 400);
        assert_eq!(health.get(), HealthMode::Degraded);
    }

    #[test]
    fn the_hook_echoes_the_byte_count() {
        let response = sent(handle(Route::Hook, b"{\"event\":1}", &Health::new(HealthMode::Ok)));
        assert_eq!((response.status, response.body.as_str()), (202, r#"{"accepted":true,"bytes":11}"#));
    }

    #[test]
    fn env_lists_escaped_names_sorted() {
        let names = ["PORT", "A\"B", "HOME"].map(String::from).into_iter();
        assert_eq!(env_names(names).body, r#"{"names":["A\"B","HOME","PORT"]}"#);
    }

    #[test]
    fn env_never_shows_values() {
        let response = sent(handle(Route::Env, b"", &Health::new(HealthMode::Ok)));
        assert!(!response.body.contains('='), "{}", response.body);
        if let Some(path) = std::env::var("PATH").ok().filter(|path| !path.is_empty()) {
            assert!(!response.body.contains(&path), "{}", response.body);
        }
    }

    #[test]
    fn memory_is_held_as_asked_and_a_bad_amount_is_refused() {
        let health = Health::new(HealthMode::Ok);
        let held = sent(handle(Route::Hold, b"1\n", &health));
        assert_eq!((held.status, held.body.as_str()), (200, r#"{"heldMiB":1}"#));
        assert_eq!(sent(handle(Route::Hold, b"lots", &health)).status, 400);
    }

    #[test]
    fn wrong_method_says_what_is_allowed() {
        let response = sent(handle(Route::WrongMethod("POST"), b"", &Health::new(HealthMode::Ok)));
        assert_eq!((response.status, response.allow), (405, Some("POST")));
    }
}
