//! A stand-in for the Docker engine's socket that a test can take away and give back: a Unix
//! socket in the test's temp dir whose connections are copied byte for byte to the real engine.
//! Stopping it is an engine outage as tenantd sees it (live connections cut, new ones refused
//! because the socket file is gone) while the shared engine and the docker CLI keep working.

use std::io::ErrorKind;
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
    accept: JoinHandle<()>,
    /// Both ends of every connection accepted so far, so `stop` can cut the live ones.
    streams: Arc<Mutex<Vec<UnixStream>>>,
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
        for s in serving.streams.lock().unwrap().drain(..) {
            // Already closed by its peer is fine: the point is that none stays open.
            s.shutdown(Shutdown::Both).ok();
        }
        std::fs::remove_file(&self.path).expect("remove the proxy's socket file");
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
        let streams = Arc::new(Mutex::new(Vec::new()));
        let accept = {
            let (stopping, streams) = (stopping.clone(), streams.clone());
            std::thread::spawn(move || accept_loop(listener, &stopping, &streams))
        };
        self.serving = Some(Serving { stopping, accept, streams });
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
            for s in serving.streams.lock().unwrap_or_else(|e| e.into_inner()).drain(..) {
                s.shutdown(Shutdown::Both).ok();
            }
            std::fs::remove_file(&self.path).ok();
        }
    }
}

fn accept_loop(listener: UnixListener, stopping: &AtomicBool, streams: &Mutex<Vec<UnixStream>>) {
    for client in listener.incoming() {
        if stopping.load(Ordering::SeqCst) {
            return;
        }
        let client = match client {
            Ok(c) => c,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => panic!("the engine proxy cannot accept: {e}"),
        };
        let Ok(engine) = UnixStream::connect(ENGINE_SOCKET) else {
            // The real engine refusing is passed on as a closed connection.
            continue;
        };
        let mut registry = streams.lock().unwrap();
        registry.push(client.try_clone().expect("clone the client stream"));
        registry.push(engine.try_clone().expect("clone the engine stream"));
        drop(registry);
        pipe(client.try_clone().expect("clone"), engine.try_clone().expect("clone"));
        pipe(engine, client);
    }
}

/// Copies `from` to `to` on a thread; when either side ends, both directions of both streams
/// are shut down, so the other copy ends too.
fn pipe(mut from: UnixStream, mut to: UnixStream) {
    std::thread::spawn(move || {
        // An error here is one side going away, which is exactly when the copy should end.
        std::io::copy(&mut from, &mut to).ok();
        from.shutdown(Shutdown::Both).ok();
        to.shutdown(Shutdown::Both).ok();
    });
}
