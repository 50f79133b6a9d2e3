//! Small commands to run with `docker exec` / `tenantd exec` in an image that has no shell:
//! `echo`, `cat`, `exit N` and `tty`.

use std::io::{self, Read, Write};
use std::os::raw::{c_int, c_ulong, c_ushort};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// `echo [--stderr] WORD…`: the words, space-separated, on one line of stdout (or stderr).
pub fn echo(args: &[&str]) -> ExitCode {
    let (to_stderr, words) = match args {
        ["--stderr", rest @ ..] => (true, rest),
        rest => (false, rest),
    };
    let line = format!("{}\n", words.join(" "));
    let written = if to_stderr {
        io::stderr().lock().write_all(line.as_bytes())
    } else {
        io::stdout().lock().write_all(line.as_bytes())
    };
    exit_status(written)
}

/// `cat`: copies stdin to stdout until stdin ends.
pub fn cat() -> ExitCode {
    exit_status(copy(&mut io::stdin().lock(), &mut io::stdout().lock()))
}

/// Copies `from` to `to` chunk by chunk, flushing each, so a reader sees input echoed at once.
pub fn copy(from: &mut impl Read, to: &mut impl Write) -> io::Result<()> {
    let mut buf = [0u8; 8192];
    loop {
        match from.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => {
                to.write_all(&buf[..n])?;
                to.flush()?;
            }
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
}

/// `exit N`: exits with status N (0 to 255).
pub fn exit(code: &str) -> ExitCode {
    match code.parse::<u8>() {
        Ok(code) => ExitCode::from(code),
        Err(_) => {
            eprintln!("exit: {code:?} is not a status from 0 to 255");
            ExitCode::from(2)
        }
    }
}

#[repr(C)]
#[derive(Default)]
struct Winsize {
    rows: c_ushort,
    cols: c_ushort,
    x_pixels: c_ushort,
    y_pixels: c_ushort,
}

const TIOCGWINSZ: c_ulong = 0x5413;

// libc is linked anyway; declaring the two functions needed keeps the crate free of dependencies.
unsafe extern "C" {
    fn isatty(fd: c_int) -> c_int;
    fn ioctl(fd: c_int, request: c_ulong, ...) -> c_int;
}

/// The terminal size of stdin, when it is a terminal with a size set.
fn window_size() -> Option<(u16, u16)> {
    let mut size = Winsize::default();
    // SAFETY: TIOCGWINSZ writes one `struct winsize`, which `size` is, and nothing else.
    let ok = unsafe { ioctl(0, TIOCGWINSZ, &mut size as *mut Winsize) } == 0;
    (ok && size.rows > 0 && size.cols > 0).then_some((size.cols, size.rows))
}

/// `tty`: `tty COLSxROWS` when stdin is a terminal, else `no tty`. The size is set by whoever
/// attached the terminal, possibly just after the command started: it is waited for briefly.
pub fn tty() -> ExitCode {
    // SAFETY: isatty only inspects the descriptor.
    if unsafe { isatty(0) } != 1 {
        println!("no tty");
        return ExitCode::SUCCESS;
    }
    let deadline = Instant::now() + Duration::from_secs(3);
    let size = loop {
        match window_size() {
            Some(size) => break Some(size),
            None if Instant::now() >= deadline => break None,
            None => std::thread::sleep(Duration::from_millis(20)),
        }
    };
    match size {
        Some((cols, rows)) => println!("tty {cols}x{rows}"),
        None => println!("tty (no size)"),
    }
    ExitCode::SUCCESS
}

fn exit_status(result: io::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("{err}");
            ExitCode::FAILURE
        }
    }
}
