//! A stand-in for the Docker engine's socket that a test can take away and give back: a Unix
//! socket in the test's temp dir whose connections are copied byte for byte to the real engine.
//! Stopping it is an engine outage as tenantd sees it (live connections cut, new ones refused
//! because the socket file is gone) while the shared engine and the docker CLI keep working.
//! `cut_on` makes the outage begin in the middle of one call: the engine gets the request and
//! acts on it, and its answer never comes back.

use std::io::{ErrorKind, Read, Write};
use std::net::Shutdown;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// The real engine the proxy forwards to.
pub const ENGINE_SOCKET: &str = "/var/run/docker.sock";

/// A proxy to the engine on a socket path; stopped when dropped.
pub struct EngineProxy {
    path: PathBuf,
    serving: Option<Serving>,
}

struct Serving {
    stopping: Arc<AtomicBool>,
    cut: Arc<Cut>,
    accept: JoinHandle<()>,
}

impl EngineProxy {
    /// Listens on `path` (which must not exist) and forwards every connection to the engine.
    pub fn start(path: &Path) -> EngineProxy {
        let mut proxy = EngineProxy { path: path.to_path_buf(), serving: None };
        proxy.listen();
        proxy
    }

    /// The URL tenantd's `[docker] host` takes.
    pub fn url(&self) -> String {
        format!("unix://{}", self.path.display())
    }

    /// Stops accepting, cuts every live connection and removes the socket file, so a new
    /// connect fails as if the engine were gone. Idempotent.
    pub fn stop(&mut self) {
        let Some(serving) = self.serving.take() else {
            return;
        };
        serving.stopping.store(true, Ordering::SeqCst);
        // Wakes the blocking accept; it sees `stopping` and ends.
        drop(UnixStream::connect(&self.path));
        serving.accept.join().expect("the proxy's accept thread ends cleanly");
        for s in serving.cut.streams.lock().unwrap().drain(..) {
            // Already closed by its peer is fine: the point is that none stays open.
            s.shutdown(Shutdown::Both).ok();
        }
        std::fs::remove_file(&self.path).expect("remove the proxy's socket file");
    }

    /// Arms a cut: the next request whose head contains `needle` reaches the engine, and then,
    /// instead of its answer, every connection is cut and new ones are closed at once until
    /// `restart`.
    pub fn cut_on(&self, needle: &str) {
        let serving = self.serving.as_ref().expect("the proxy serves");
        *serving.cut.needle.lock().unwrap() = Some(needle.as_bytes().to_vec());
    }

    /// Whether an armed cut has happened.
    pub fn cut_happened(&self) -> bool {
        self.serving.as_ref().is_some_and(|s| s.cut.refusing.load(Ordering::SeqCst))
    }

    /// Serves again on the same path after a `stop`.
    pub fn restart(&mut self) {
        self.stop();
        self.listen();
    }

    fn listen(&mut self) {
        let listener = UnixListener::bind(&self.path)
            .unwrap_or_else(|e| panic!("bind the engine proxy on {}: {e}", self.path.display()));
        let stopping = Arc::new(AtomicBool::new(false));
        let cut = Arc::new(Cut::default());
        let accept = {
            let (stopping, cut) = (stopping.clone(), cut.clone());
            std::thread::spawn(move || accept_loop(listener, &stopping, &cut))
        };
        self.serving = Some(Serving { stopping, cut, accept });
    }
}

impl Drop for EngineProxy {
    fn drop(&mut self) {
        if self.serving.is_some() && !std::thread::panicking() {
            self.stop();
        } else if let Some(serving) = self.serving.take() {
            // Panicking: cut what is open, but do not risk a second panic.
            serving.stopping.store(true, Ordering::SeqCst);
            drop(UnixStream::connect(&self.path));
            for s in serving.cut.streams.lock().unwrap_or_else(|e| e.into_inner()).drain(..) {
                s.shutdown(Shutdown::Both).ok();
            }
            std::fs::remove_file(&self.path).ok();
        }
    }
}

/// An armed or happened cut, shared by every connection of one serving period.
#[derive(Default)]
struct Cut {
    needle: Mutex<Option<Vec<u8>>>,
    /// Set when the cut happened: new connections are closed at once.
    refusing: AtomicBool,
    /// Both ends of every connection accepted so far, so a cut or `stop` can cut the live ones.
    streams: Mutex<Vec<UnixStream>>,
}

impl Cut {
    /// Whether `chunk` (a request going to the engine) is the armed one; disarms when it is.
    fn matches(&self, chunk: &[u8]) -> bool {
        let mut needle = self.needle.lock().unwrap();
        let hit = needle.as_ref().is_some_and(|n| chunk.windows(n.len()).any(|w| w == n.as_slice()));
        if hit {
            *needle = None;
        }
        hit
    }

    fn cut_everything(&self) {
        self.refusing.store(true, Ordering::SeqCst);
        for s in self.streams.lock().unwrap().iter() {
            s.shutdown(Shutdown::Both).ok();
        }
    }
}

fn accept_loop(listener: UnixListener, stopping: &AtomicBool, cut: &Arc<Cut>) {
    for client in listener.incoming() {
        if stopping.load(Ordering::SeqCst) {
            return;
        }
        let client = match client {
            Ok(c) => c,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => panic!("the engine proxy cannot accept: {e}"),
        };
        if cut.refusing.load(Ordering::SeqCst) {
            client.shutdown(Shutdown::Both).ok();
            continue;
        }
        let Ok(engine) = UnixStream::connect(ENGINE_SOCKET) else {
            // The real engine refusing is passed on as a closed connection.
            continue;
        };
        let mut registry = cut.streams.lock().unwrap();
        registry.push(client.try_clone().expect("clone the client stream"));
        registry.push(engine.try_clone().expect("clone the engine stream"));
        drop(registry);
        let armed = Arc::new(AtomicBool::new(false));
        let (request_cut, request_armed) = (cut.clone(), armed.clone());
        // Client to engine: requests, noting when the armed one passed.
        pipe(client.try_clone().expect("clone"), engine.try_clone().expect("clone"), move |chunk| {
            if request_cut.matches(chunk) {
                request_armed.store(true, Ordering::SeqCst);
            }
            true
        });
        // Engine to client: answers, except the one to the armed request, which becomes the cut.
        let answer_cut = cut.clone();
        pipe(engine, client, move |_| {
            if armed.load(Ordering::SeqCst) {
                answer_cut.cut_everything();
                return false;
            }
            true
        });
    }
}

/// Copies `from` to `to` on a thread, each chunk only while `pass` says so; when either side
/// ends (or `pass` says no), both directions of both streams are shut down, so the other copy
/// ends too.
fn pipe(mut from: UnixStream, mut to: UnixStream, mut pass: impl FnMut(&[u8]) -> bool + Send + 'static) {
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 || !pass(&buf[..n]) || to.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        from.shutdown(Shutdown::Both).ok();
        to.shutdown(Shutdown::Both).ok();
    });
}
