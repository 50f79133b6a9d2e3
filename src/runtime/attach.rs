//! What `logs` and `exec` carry between a caller and an engine: the request, the output split
//! into stdout and stderr, and the caller's terminal for a command run attached.

use bytes::Bytes;
use futures_util::stream::BoxStream;
use tokio::io::AsyncWrite;

/// Which part of a container's output to read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogRequest {
    /// Keep the stream open and yield new output until the container stops.
    pub follow: bool,
    /// Only the last `n` lines (`None`: all).
    pub tail: Option<u64>,
    /// Only output written at or after this time.
    pub since: Option<LogSince>,
    /// Prefix each line with the engine's RFC 3339 timestamp.
    pub timestamps: bool,
}

/// Where a log starts: a point in time, or a span before the engine's present (a cluster
/// measures it on its own clock, so a client's clock skew does not shift it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogSince {
    /// At this time, in Unix seconds.
    At(i64),
    /// This long ago.
    Ago(std::time::Duration),
}

impl LogSince {
    /// The start as Unix seconds, a span counted back from `now`.
    pub fn unix_seconds(self, now: time::OffsetDateTime) -> i64 {
        match self {
            LogSince::At(at) => at,
            LogSince::Ago(ago) => (now - ago).unix_timestamp(),
        }
    }
}

/// A piece of a container's output, with the stream it was written to kept apart. A container
/// or command with a terminal has a single stream, reported as stdout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogChunk {
    Stdout(Bytes),
    Stderr(Bytes),
}

/// A terminal's size in character cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TtySize {
    pub rows: u16,
    pub cols: u16,
}

/// A command to run in a running container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecRequest {
    /// The program and its arguments; not run through a shell.
    pub command: Vec<String>,
    /// Give the command a terminal: its stdout and stderr then arrive as one stream.
    pub tty: bool,
}

/// The caller's side of an attached command. Output is written as it arrives; `stdin`, when
/// given, is forwarded until it ends, and its end closes the command's stdin.
pub struct ExecIo {
    pub stdin: Option<BoxStream<'static, std::io::Result<Bytes>>>,
    pub stdout: Box<dyn AsyncWrite + Send + Unpin>,
    pub stderr: Box<dyn AsyncWrite + Send + Unpin>,
    /// Sizes of the caller's terminal, the current one first; only used with a terminal.
    pub resize: Option<BoxStream<'static, TtySize>>,
}

/// The outcome of the task that forwards stdin to an attached command, once the command has
/// ended (or the connection has): a feeder still waiting for input is stopped, since stdin not
/// yet sent is no longer wanted; a finished one says whether reading stdin failed.
pub(crate) async fn stop_feeder(
    feeder: Option<tokio::task::JoinHandle<Result<(), super::RuntimeError>>>,
) -> Result<(), super::RuntimeError> {
    match feeder {
        Some(task) if task.is_finished() => task.await.unwrap_or(Ok(())),
        Some(task) => {
            task.abort();
            Ok(())
        }
        None => Ok(()),
    }
}
