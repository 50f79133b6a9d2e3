//! A status directory tenantd cannot write, read-only or full, stops nothing: tenants still
//! converge, the status files already there stay intact (no half-written file, no temp file
//! left), the error is logged, and the files catch up once the directory can be written again.
//! The faults are real mounts over the test's own status directory, so the tests need root.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use support::daemon::*;
use support::*;

const CONVERGE: Duration = Duration::from_secs(30);

/// A mount over a test's directory, undone when dropped.
struct Mount(PathBuf);

impl Mount {
    fn new(target: &Path, args: &[&str]) -> Mount {
        let out = Command::new("mount").args(args).arg(target).output().expect("mount runs");
        assert!(
            out.status.success(),
            "mount {args:?} {} failed (these tests need root): {}",
            target.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        Mount(target.to_path_buf())
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).output();
    }
}

/// What the status directory holds, file by file, and no temp files of an interrupted write.
fn status_files(env: &Env) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(env.state.join("status"))
        .unwrap()
        .flatten()
        .map(|e| (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).unwrap()))
        .collect();
    files.sort();
    files
}

/// A counter's value from the daemon's metrics endpoint.
fn scrape_counter(port: u16, name: &str) -> u64 {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    std::io::Write::write_all(&mut s, b"GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n").unwrap();
    let mut text = String::new();
    std::io::Read::read_to_string(&mut s, &mut text).unwrap();
    let line = text.lines().find(|l| l.starts_with(name)).unwrap_or_else(|| panic!("{name} in:\n{text}"));
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

fn memory_of(env: &Env, tenant: &str) -> i64 {
    container(env, tenant).map(|c| c["HostConfig"]["Memory"].as_i64().unwrap()).unwrap_or(0)
}

#[test]
fn a_read_only_status_directory_stops_nothing_and_catches_up_later() {
    let Some(env) = Env::new("a_read_only_status_directory_stops_nothing_and_catches_up_later") else {
        return;
    };
    let metrics = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    env.write_config(&format!("[daemon]\nresync_interval = \"2s\"\nmetrics_address = \"127.0.0.1:{metrics}\"\n"));
    env.spec("acme.yaml", &stub_spec("acme", ""));
    let daemon = Daemon::start(&env);
    daemon.await_running(&env, "acme", CONVERGE);
    let status_dir = env.state.join("status");
    let bind = Mount::new(&status_dir, &["--bind", status_dir.to_str().unwrap()]);
    let read_only = Mount::new(&status_dir, &["-o", "remount,bind,ro"]);
    // Taken once nothing can be written any more: a write may have been under way until then.
    let before = status_files(&env);
    env.spec("acme.yaml", &stub_spec("acme", "").replace("memory: 64Mi", "memory: 96Mi"));
    env.spec("beta.yaml", &stub_spec("beta", ""));
    eventually("acme resized and beta running", CONVERGE, || {
        (memory_of(&env, "acme") == 96 << 20 && container(&env, "beta")?["State"]["Health"]["Status"] == "healthy")
            .then_some(())
    });
    daemon.wait_for_log("cannot write status file", CONVERGE);
    assert_eq!(status_files(&env), before, "the status files are as they were");
    let errors = scrape_counter(metrics, "tenantd_status_write_errors_total");
    assert!(errors >= 1, "the failed writes are counted: {errors}");

    drop(read_only);
    drop(bind);
    daemon.await_running(&env, "beta", CONVERGE);
    let old: serde_json::Value = serde_json::from_slice(&before[0].1).unwrap();
    eventually("acme's status to catch up with its resize", CONVERGE, || {
        env.status("acme").filter(|s| {
            s["phase"] == "Running" && s["specHash"] == s["appliedHash"] && s["specHash"] != old["specHash"]
        })
    });
}

#[test]
fn a_full_status_directory_keeps_the_old_files_whole_and_catches_up_later() {
    let Some(env) = Env::new("a_full_status_directory_keeps_the_old_files_whole_and_catches_up_later") else {
        return;
    };
    env.write_config("[daemon]\nresync_interval = \"2s\"\n");
    let status_dir = env.state.join("status");
    std::fs::create_dir_all(&status_dir).unwrap();
    let _small = Mount::new(&status_dir, &["-t", "tmpfs", "-o", "size=64k", "tmpfs"]);
    env.spec("acme.yaml", &stub_spec("acme", ""));
    let daemon = Daemon::start(&env);
    daemon.await_running(&env, "acme", CONVERGE);

    // Fill what is left, then change acme: its new status cannot be written.
    let filler = status_dir.join("filler");
    let chunk = vec![b'x'; 4096];
    let mut f = std::fs::File::create(&filler).unwrap();
    while std::io::Write::write_all(&mut f, &chunk).is_ok() {}
    drop(f);
    let before = status_files(&env);
    env.spec("acme.yaml", &stub_spec("acme", "").replace("memory: 64Mi", "memory: 96Mi"));
    eventually("acme resized", CONVERGE, || (memory_of(&env, "acme") == 96 << 20).then_some(()));
    let line = daemon.wait_for_log("cannot write status file", CONVERGE);
    assert!(line.contains("No space left on device"), "{line}");
    assert_eq!(status_files(&env), before, "the old status whole, no temp file left");

    std::fs::remove_file(&filler).unwrap();
    let old: serde_json::Value = serde_json::from_slice(&before[0].1).unwrap();
    eventually("acme's status to catch up with its resize", CONVERGE, || {
        env.status("acme").filter(|s| {
            s["phase"] == "Running" && s["specHash"] == s["appliedHash"] && s["specHash"] != old["specHash"]
        })
    });
}
