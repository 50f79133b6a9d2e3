//! Commands with a deadline (a hung `tenantd apply` or `docker-compose up` must not hang the
//! bench), and the `tenantd run` daemon as a child process with its log in a file.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Runs `cmd` (stdin closed) and returns its output; kills it and panics after `within`.
pub fn run(mut cmd: Command, within: Duration) -> Output {
    let what = format!("{cmd:?}");
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(within) {
        Ok(out) => out.unwrap_or_else(|e| panic!("{what}: {e}")),
        Err(_) => {
            signal(pid, "KILL");
            panic!("{what} did not return within {within:?}");
        }
    }
}

/// The output as text, stdout then stderr.
pub fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// Sends a signal by name (`TERM`, `KILL`) to a process this bench started.
pub fn signal(pid: u32, sig: &str) {
    let _ = Command::new("kill").arg(format!("-{sig}")).arg(pid.to_string()).output();
}

/// The line the daemon logs once it watches its files and follows the engine.
pub const RUNNING_LINE: &str = "tenantd is running";

/// One `tenantd --config <config> run`, its stderr and stdout in `log`.
pub struct Daemon {
    child: Child,
    log: PathBuf,
    exited: Option<ExitStatus>,
}

impl Daemon {
    /// Starts the daemon; does not wait for anything.
    pub fn spawn(bin: &Path, config: &Path, log: PathBuf) -> Daemon {
        let file = File::create(&log).expect("daemon log file");
        let child = Command::new(bin)
            .arg("--config")
            .arg(config)
            .arg("run")
            .env_remove("CONTAINER_RUNTIME")
            .env_remove("TENANTD_CONFIG")
            .env_remove("NOTIFY_SOCKET")
            .env_remove("WATCHDOG_USEC")
            .env_remove("WATCHDOG_PID")
            .env_remove("JOURNAL_STREAM")
            .env("TENANTD_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("daemon log file"))
            .stderr(file)
            .spawn()
            .expect("tenantd run starts");
        Daemon { child, log, exited: None }
    }

    /// Waits until the daemon logged [`RUNNING_LINE`]; panics with its log after `within`.
    pub fn wait_running(&mut self, within: Duration) {
        let deadline = Instant::now() + within;
        while !self.log().contains(RUNNING_LINE) {
            if let Some(status) = self.try_exit() {
                panic!("the daemon exited ({status}) before it ran; its log:\n{}", self.log());
            }
            assert!(Instant::now() < deadline, "the daemon did not run within {within:?}; its log:\n{}", self.log());
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Sends SIGTERM and waits for the exit; kills it and panics after `within`.
    pub fn terminate(&mut self, within: Duration) -> ExitStatus {
        signal(self.child.id(), "TERM");
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.try_exit() {
                return status;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                panic!("the daemon did not exit within {within:?} of SIGTERM; its log:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn try_exit(&mut self) -> Option<ExitStatus> {
        if self.exited.is_none() {
            self.exited = self.child.try_wait().ok().flatten();
        }
        self.exited
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.try_exit().is_none() {
            // SIGKILL, so that nothing of it outlives the bench or repairs what the clean-up
            // removes.
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
