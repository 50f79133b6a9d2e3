//! Spec files that are not regular files, or stop being one between a look and a read: a FIFO, a
//! socket or a device named like a spec is an error for that file, and reading never blocks,
//! even when a FIFO is renamed over a spec again and again while tenantd reads the directory.

mod support;

use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use support::*;
use tenantd::spec::{load_dir, load_file, SpecError, SpecSet};

/// Far more than one read of a small directory takes on any machine: a run that has not returned
/// by then is blocked.
const DEADLINE: Duration = Duration::from_secs(30);

fn image_spec(name: &str) -> String {
    format!("apiVersion: tenantd/v1\nkind: Tenant\nmetadata:\n  name: {name}\nspec:\n  image: nginx:1.27\n")
}

fn mkfifo(path: &Path) {
    let o = Command::new("mkfifo").arg(path).output().expect("mkfifo runs");
    assert!(o.status.success(), "mkfifo {}: {}", path.display(), stderr(&o));
}

/// `load_dir(dir)` in a thread of its own, failing the test when it has not returned by `DEADLINE`
/// (the thread is left blocked; the test process ends with it).
fn load_dir_within_deadline(dir: &Path) -> SpecSet {
    let (tx, rx) = mpsc::channel();
    let dir = dir.to_path_buf();
    thread::spawn(move || {
        let _ = tx.send(load_dir(&dir));
    });
    match rx.recv_timeout(DEADLINE) {
        Ok(set) => set.expect("the directory is readable"),
        Err(_) => panic!("load_dir did not return within {DEADLINE:?}: it is blocked"),
    }
}

/// Runs the real binary with `args`, failing the test when it has not exited by `DEADLINE`.
fn tenantd_within_deadline(env: &Env, args: &[&str]) -> (Option<i32>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tenantd"))
        .arg("--config")
        .arg(&env.config)
        .args(args)
        .env_remove("CONTAINER_RUNTIME")
        .env_remove("TENANTD_CONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("tenantd runs");
    let deadline = Instant::now() + DEADLINE;
    loop {
        if child.try_wait().expect("wait").is_some() {
            let o = child.wait_with_output().expect("output");
            return (o.status.code(), format!("{}{}", stdout(&o), stderr(&o)));
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("tenantd {args:?} did not exit within {DEADLINE:?}: it is blocked");
        }
        thread::sleep(Duration::from_millis(5));
    }
}

/// The one error of the invalid file at `path` in `set`.
fn read_error(set: &SpecSet, path: &Path) -> String {
    let invalid = set.invalid.iter().find(|i| i.path == path).unwrap_or_else(|| panic!("{path:?} is not invalid"));
    match &invalid.errors[..] {
        [SpecError::Read { message, .. }] => message.clone(),
        e => panic!("{e:?}"),
    }
}

/// Renames, over `target`, a FIFO and a regular spec in turn, until `stop` is set; fast (hard
/// links of one FIFO and one file, no process per swap), so the swap lands between any two
/// system calls of a reader sooner or later.
fn swap_fifo_over(target: PathBuf, stop: Arc<AtomicBool>) -> thread::JoinHandle<u64> {
    let dir = target.parent().unwrap().to_path_buf();
    let (fifo, file) = (dir.join(".swap-fifo"), dir.join(".swap-file"));
    mkfifo(&fifo);
    std::fs::write(&file, image_spec("swapped")).unwrap();
    thread::spawn(move || {
        let link = dir.join(".swap-link");
        let mut swaps = 0;
        while !stop.load(Ordering::SeqCst) {
            for source in [&fifo, &file] {
                std::fs::hard_link(source, &link).unwrap();
                std::fs::rename(&link, &target).unwrap();
            }
            swaps += 1;
        }
        swaps
    })
}

#[test]
fn a_fifo_socket_or_device_named_like_a_spec_is_an_error_for_that_file() {
    let env = Env::without_docker();
    env.spec("acme.yaml", &image_spec("acme"));
    mkfifo(&env.tenants.join("fifo.yaml"));
    let _socket = UnixListener::bind(env.tenants.join("socket.yaml")).expect("bind a socket");
    let o = Command::new("mknod").arg(env.tenants.join("device.yaml")).args(["c", "1", "3"]).output().unwrap();
    let device = o.status.success();
    if !device {
        eprintln!("no device node (mknod: {}); checking the FIFO and the socket", stderr(&o).trim());
    }

    let set = load_dir_within_deadline(&env.tenants);
    assert_eq!(set.valid.keys().map(|n| n.as_str()).collect::<Vec<_>>(), ["acme"]);
    assert!(read_error(&set, &env.tenants.join("fifo.yaml")).contains("not a regular file (a FIFO)"));
    assert!(read_error(&set, &env.tenants.join("socket.yaml")).contains("not a regular file (a socket)"));
    if device {
        assert!(read_error(&set, &env.tenants.join("device.yaml")).contains("not a regular file (a character device)"));
    }
    let fifo = env.tenants.join("fifo.yaml");
    match &load_file(&fifo).unwrap_err()[..] {
        [SpecError::Read { message, .. }] => assert!(message.contains("a FIFO"), "{message}"),
        e => panic!("{e:?}"),
    }

    let (code, out) = tenantd_within_deadline(&env, &["validate"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains(&format!("{}: cannot read: not a regular file (a FIFO)", fifo.display())), "{out}");
    let (code, out) = tenantd_within_deadline(&env, &["validate", fifo.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("not a regular file (a FIFO)"), "{out}");
}

#[test]
fn a_fifo_renamed_over_a_spec_while_the_directory_is_read_never_blocks_load_dir() {
    let env = Env::without_docker();
    env.spec("acme.yaml", &image_spec("acme"));
    let target = env.tenants.join("swapped.yaml");
    std::fs::write(&target, image_spec("swapped")).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let swapper = swap_fifo_over(target.clone(), stop.clone());
    let mut outcomes = (0, 0);
    for _ in 0..3000 {
        let set = load_dir_within_deadline(&env.tenants);
        assert!(set.valid.contains_key(&"acme".parse().unwrap()), "the other spec always loads");
        if set.valid.contains_key(&"swapped".parse().unwrap()) {
            outcomes.0 += 1;
        } else {
            assert!(read_error(&set, &target).contains("not a regular file"), "{:?}", set.invalid);
            outcomes.1 += 1;
        }
    }
    stop.store(true, Ordering::SeqCst);
    let swaps = swapper.join().unwrap();
    eprintln!("{swaps} swaps; read as a spec {} times, refused as a FIFO {} times", outcomes.0, outcomes.1);
}

#[test]
fn a_fifo_renamed_over_a_spec_never_blocks_validate() {
    let env = Env::without_docker();
    let target = env.tenants.join("swapped.yaml");
    std::fs::write(&target, image_spec("swapped")).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let swapper = swap_fifo_over(target.clone(), stop.clone());
    let file = target.to_str().unwrap().to_string();
    for i in 0..300 {
        // In turn: the directory, and the file named on the command line.
        let args: &[&str] = if i % 2 == 0 { &["validate"] } else { &["validate", &file] };
        let (code, out) = tenantd_within_deadline(&env, args);
        assert!(
            code == Some(0) || (code == Some(1) && out.contains("not a regular file")),
            "{args:?}: {code:?}\n{out}"
        );
    }
    stop.store(true, Ordering::SeqCst);
    swapper.join().unwrap();
}
