//! The local terminal for `exec -t`: raw mode held by a guard that restores the settings on
//! every way out, the window size and its changes, and stdin read on a thread of its own.

use std::io::{IsTerminal, Read};
use std::os::fd::AsFd;

use bytes::Bytes;
use futures_util::stream::{self, BoxStream, StreamExt};
use rustix::termios::{tcgetattr, tcgetwinsize, tcsetattr, OptionalActions, Termios};
use tokio::signal::unix::{signal, SignalKind};

use crate::runtime::TtySize;

/// The terminal on stdin in raw mode while this lives: keys go to the command as typed (Ctrl-C
/// included) and nothing is echoed twice. Dropping it (a return, an error, a panic that
/// unwinds) puts the settings back.
pub struct RawMode {
    saved: Termios,
}

impl RawMode {
    /// Raw mode on stdin when stdin is a terminal; `None` when it is not (a pipe, a file).
    pub fn enable() -> std::io::Result<Option<RawMode>> {
        let stdin = std::io::stdin();
        if !stdin.is_terminal() {
            return Ok(None);
        }
        let saved = tcgetattr(stdin.as_fd())?;
        let mut raw = saved.clone();
        raw.make_raw();
        tcsetattr(stdin.as_fd(), OptionalActions::Now, &raw)?;
        Ok(Some(RawMode { saved }))
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        // Drain: output already written reaches the terminal under the settings it was written for.
        if let Err(e) = tcsetattr(std::io::stdin().as_fd(), OptionalActions::Drain, &self.saved) {
            eprintln!("\r\nwarning: cannot restore the terminal settings ({e}); run `reset`");
        }
    }
}

/// The size of the terminal on stdin, else on stdout; `None` when neither is one.
pub fn size() -> Option<TtySize> {
    let of = |fd: std::os::fd::BorrowedFd<'_>| {
        tcgetwinsize(fd)
            .ok()
            .filter(|w| w.ws_row > 0 && w.ws_col > 0)
            .map(|w| TtySize { rows: w.ws_row, cols: w.ws_col })
    };
    of(std::io::stdin().as_fd()).or_else(|| of(std::io::stdout().as_fd()))
}

/// The current size, then the new size after each SIGWINCH; empty when there is no terminal.
pub fn sizes() -> BoxStream<'static, TtySize> {
    let Some(first) = size() else {
        return stream::empty().boxed();
    };
    let changes = match signal(SignalKind::window_change()) {
        Ok(changes) => changes,
        Err(e) => {
            tracing::debug!(error = %e, "window size changes are not followed");
            return stream::iter([first]).boxed();
        }
    };
    let later = stream::unfold(changes, |mut changes| async move {
        loop {
            changes.recv().await?;
            if let Some(s) = size() {
                return Some((s, changes));
            }
        }
    });
    stream::iter([first]).chain(later).boxed()
}

/// stdin as a stream of chunks, read on its own thread: a blocking read cannot be cancelled,
/// and on the async runtime's blocking pool it would hold up the exit until the next key press.
pub fn stdin_chunks() -> BoxStream<'static, std::io::Result<Bytes>> {
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(16);
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin();
        let mut buf = vec![0u8; 8192];
        loop {
            let item = match stdin.read(&mut buf) {
                Ok(0) => return,
                Ok(n) => Ok(Bytes::copy_from_slice(&buf[..n])),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => Err(e),
            };
            let failed = item.is_err();
            // The receiver is gone once the command has ended: nothing more is wanted.
            if tx.blocking_send(item).is_err() || failed {
                return;
            }
        }
    });
    stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) }).boxed()
}
