//! A container's output as the engine keeps it (`docker logs`), stdout and stderr apart.

use std::time::Duration;

use bollard::container::LogOutput;
use bollard::query_parameters::LogsOptionsBuilder;
use futures_util::stream::{BoxStream, StreamExt};

use super::errors::map;
use super::DockerRuntime;
use crate::runtime::attach::{LogChunk, LogRequest};
use crate::runtime::error::RuntimeError;

impl DockerRuntime {
    /// The output of a container of this instance. The stream ends when the engine has sent
    /// everything asked for; with `follow`, when the container stops. A broken connection is
    /// the stream's last item.
    pub(super) async fn read_logs(
        &self,
        id: &str,
        request: &LogRequest,
    ) -> Result<BoxStream<'static, Result<LogChunk, RuntimeError>>, RuntimeError> {
        self.require_owned(id, "read logs of container").await?;
        // The client's deadline bounds the wait for response headers only, not a followed stream.
        let docker = self.client().await?.clone().with_timeout(self.timeouts.call.max(Duration::from_secs(1)));
        let mut options =
            LogsOptionsBuilder::new().stdout(true).stderr(true).follow(request.follow).timestamps(request.timestamps);
        if let Some(n) = request.tail {
            options = options.tail(&n.to_string());
        }
        if let Some(since) = request.since {
            let since = since.unix_seconds(time::OffsetDateTime::now_utc());
            // The engine's parameter is 32-bit seconds; a later time is "nothing yet" either way.
            options = options.since(i32::try_from(since.max(0)).unwrap_or(i32::MAX));
        }
        let endpoint = self.endpoint.to_string();
        let operation = format!("read logs of container {id}");
        let chunks = docker.logs(id, Some(options.build())).filter_map(move |item| {
            let chunk = match item {
                Ok(output) => log_chunk(output).map(Ok),
                Err(e) => Some(Err(map(&endpoint, operation.clone(), e))),
            };
            std::future::ready(chunk)
        });
        Ok(chunks.boxed())
    }
}

/// The chunk for one piece of engine output; a terminal's single stream counts as stdout, and
/// echoed input is dropped.
pub(super) fn log_chunk(output: LogOutput) -> Option<LogChunk> {
    match output {
        LogOutput::StdOut { message } | LogOutput::Console { message } => Some(LogChunk::Stdout(message)),
        LogOutput::StdErr { message } => Some(LogChunk::Stderr(message)),
        LogOutput::StdIn { .. } => None,
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    #[test]
    fn streams_stay_apart_and_a_terminal_is_stdout() {
        let b = |s: &str| Bytes::from(s.to_string());
        assert_eq!(log_chunk(LogOutput::StdOut { message: b("a") }), Some(LogChunk::Stdout(b("a"))));
        assert_eq!(log_chunk(LogOutput::StdErr { message: b("e") }), Some(LogChunk::Stderr(b("e"))));
        assert_eq!(log_chunk(LogOutput::Console { message: b("t") }), Some(LogChunk::Stdout(b("t"))));
        assert_eq!(log_chunk(LogOutput::StdIn { message: b("i") }), None);
    }
}
