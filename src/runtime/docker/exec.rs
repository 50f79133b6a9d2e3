//! Running a command in a running container, attached (`docker exec`): stdin forwarded, output
//! kept apart by stream, the terminal's size followed, and the command's exit code.

use std::time::{Duration, Instant};

use bollard::exec::{ResizeExecOptions, StartExecOptions, StartExecResults};
use bollard::models::ExecConfig;
use bollard::Docker;
use futures_util::stream::StreamExt;
use tokio::io::{AsyncWrite, AsyncWriteExt};

use super::errors::within;
use super::logs::log_chunk;
use super::DockerRuntime;
use crate::runtime::attach::{ExecIo, ExecRequest, LogChunk, TtySize};
use crate::runtime::error::RuntimeError;

/// How often the exit code is asked for while the engine still reports the command running
/// after its output ended.
const EXIT_POLL: Duration = Duration::from_millis(50);

/// What a terminal in its default (canonical) mode reads as end of input: Ctrl-D.
const END_OF_FILE: &[u8] = b"\x04";

impl DockerRuntime {
    /// Runs `request` in container `id` (of this instance, running) attached to `io`, and
    /// returns the command's exit code. The command's output is written to `io` as it arrives;
    /// the call returns once the output has ended and the engine has recorded the exit code.
    pub(super) async fn run_exec(&self, id: &str, request: &ExecRequest, io: ExecIo) -> Result<i64, RuntimeError> {
        let program = request.command.first().map(String::as_str).unwrap_or_default();
        let operation = format!("run {program:?} in container {id}");
        let existing = self.require_owned(id, "run a command in container").await?;
        if !existing.state.as_ref().and_then(|s| s.running).unwrap_or(false) {
            return Err(RuntimeError::Engine { operation, message: "the container is not running".into() });
        }
        let call = self.timeouts.call;
        let docker = self.client().await?.clone().with_timeout(call.max(Duration::from_secs(1)));

        let ExecIo { stdin, mut stdout, mut stderr, resize } = io;
        let mut sizes = if request.tty { resize } else { None };
        let first_size = match sizes.as_mut() {
            Some(s) => s.next().await,
            None => None,
        };
        let config = ExecConfig {
            attach_stdin: Some(stdin.is_some()),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            tty: Some(request.tty),
            cmd: Some(request.command.clone()),
            // API 1.42 and later start the terminal at this size; older engines ignore it and
            // get the size from the resize below.
            console_size: first_size.map(|s| vec![usize::from(s.rows), usize::from(s.cols)]),
            ..Default::default()
        };
        let created =
            within(call, docker.create_exec(id, config)).await.map_err(|e| self.fail(operation.clone(), e))?;
        let exec_id = created.id;
        let start = StartExecOptions { detach: false, tty: request.tty, output_capacity: None };
        let started = within(call, docker.start_exec(&exec_id, Some(start)))
            .await
            .map_err(|e| self.fail(operation.clone(), e))?;
        let StartExecResults::Attached { mut output, mut input } = started else {
            return Err(RuntimeError::Engine { operation, message: "the engine did not attach to the command".into() });
        };

        // Window sizes: a failed resize leaves the terminal at its old size, which is no reason
        // to end the command.
        let resizer = sizes.map(|mut sizes| {
            let (docker, exec_id) = (docker.clone(), exec_id.clone());
            tokio::spawn(async move {
                if let Some(size) = first_size {
                    resize_terminal(&docker, &exec_id, size, call).await;
                }
                while let Some(size) = sizes.next().await {
                    resize_terminal(&docker, &exec_id, size, call).await;
                }
            })
        });

        // stdin is forwarded until it ends; then the command is told so it sees the end too
        // (`cat` finishes). Without a terminal that is closing its stdin. With one, the engine
        // would take a close as the end of the whole session and drop output not yet sent, so
        // the terminal's end-of-file character (Ctrl-D) goes instead.
        let tty = request.tty;
        let feeder = stdin.map(|mut stdin| {
            let operation = operation.clone();
            tokio::spawn(async move {
                let mut ends_line = true;
                while let Some(chunk) = stdin.next().await {
                    let chunk = chunk.map_err(|source| RuntimeError::Local {
                        operation: format!("{operation}: read stdin"),
                        source,
                    })?;
                    ends_line = chunk.last().map_or(ends_line, |b| *b == b'\n');
                    let sent = async {
                        input.write_all(&chunk).await?;
                        input.flush().await
                    };
                    if sent.await.is_err() {
                        // The command no longer reads (it ended): the rest of stdin is not wanted.
                        return Ok(());
                    }
                }
                // A failed end means the command is gone already, which the output shows.
                let _ = match (tty, ends_line) {
                    (false, _) => input.shutdown().await,
                    (true, true) => input.write_all(END_OF_FILE).await,
                    // A first Ctrl-D only hands over a started line; the second is the end.
                    (true, false) => input.write_all(&[END_OF_FILE, END_OF_FILE].concat()).await,
                };
                Ok::<(), RuntimeError>(())
            })
        });

        let pumped = async {
            while let Some(item) = output.next().await {
                let item = item.map_err(|e| self.fail(operation.clone(), e))?;
                match log_chunk(item) {
                    Some(LogChunk::Stdout(bytes)) => write(&mut stdout, &bytes, &operation).await?,
                    Some(LogChunk::Stderr(bytes)) => write(&mut stderr, &bytes, &operation).await?,
                    None => {}
                }
            }
            Ok::<(), RuntimeError>(())
        }
        .await;
        if let Some(task) = resizer {
            task.abort();
        }
        let fed = crate::runtime::attach::stop_feeder(feeder).await;
        pumped?;
        fed?;
        self.exit_code(&docker, &exec_id, &operation).await
    }

    /// The exit code of a finished exec. The engine may record it a moment after the output
    /// ends, so it is asked again until the call deadline.
    async fn exit_code(&self, docker: &Docker, exec_id: &str, operation: &str) -> Result<i64, RuntimeError> {
        let deadline = Instant::now() + self.timeouts.call;
        loop {
            let inspected = within(self.timeouts.call, docker.inspect_exec(exec_id))
                .await
                .map_err(|e| self.fail(format!("{operation}: read its exit code"), e))?;
            match (inspected.running, inspected.exit_code) {
                (Some(false), Some(code)) => return Ok(code),
                _ if Instant::now() >= deadline => {
                    return Err(RuntimeError::Engine {
                        operation: operation.to_string(),
                        message: "the engine did not report the command's exit code".into(),
                    })
                }
                _ => tokio::time::sleep(EXIT_POLL).await,
            }
        }
    }
}

async fn write(out: &mut (dyn AsyncWrite + Send + Unpin), bytes: &[u8], operation: &str) -> Result<(), RuntimeError> {
    let written = async {
        out.write_all(bytes).await?;
        out.flush().await
    };
    written.await.map_err(|source| RuntimeError::Local { operation: format!("{operation}: write its output"), source })
}

async fn resize_terminal(docker: &Docker, exec_id: &str, size: TtySize, call: Duration) {
    let options = ResizeExecOptions { height: size.rows, width: size.cols };
    if let Err(e) = within(call, docker.resize_exec(exec_id, options)).await {
        tracing::debug!(exec = exec_id, error = %e, "resizing the command's terminal failed");
    }
}
