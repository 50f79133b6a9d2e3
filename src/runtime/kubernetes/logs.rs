//! A container's output as the cluster keeps it (`kubectl logs`): the pod log of one container
//! of a tenant's current pod. A cluster keeps stdout and stderr as one stream, so it all comes
//! as stdout.

use bytes::Bytes;
use futures_util::io::{AsyncBufRead, AsyncBufReadExt};
use futures_util::stream::{self, BoxStream, StreamExt};
use k8s_openapi::jiff::Timestamp;
use kube::api::LogParams;

use super::errors::{fail, within};
use super::KubernetesRuntime;
use crate::runtime::attach::{LogChunk, LogRequest, LogSince};
use crate::runtime::RuntimeError;
use crate::spec::TenantName;

impl KubernetesRuntime {
    /// The output of `container` in `tenant`'s current pod. The stream ends when the API server
    /// has sent everything asked for; with `follow`, when the container stops or its pod goes.
    pub(super) async fn read_pod_logs(
        &self,
        tenant: &TenantName,
        container: &str,
        request: &LogRequest,
    ) -> Result<BoxStream<'static, Result<LogChunk, RuntimeError>>, RuntimeError> {
        let pod = self.tenant_pod(tenant).await?;
        let operation = format!("read the logs of container {container} of pod {pod}");
        let params = log_params(container, request)
            .map_err(|message| RuntimeError::Engine { operation: operation.clone(), message })?;
        // The deadline bounds the wait for the response headers only, not a followed stream.
        let reader = within(self.pods(tenant).log_stream(&pod, &params))
            .await
            .map_err(|e| fail(&self.endpoint, operation.clone(), e, false))?;
        Ok(chunks(Box::pin(reader), operation))
    }
}

/// The pod log parameters of `request`: a span ago goes as `sinceSeconds`, measured on the
/// cluster's clock; a time as `sinceTime`.
fn log_params(container: &str, request: &LogRequest) -> Result<LogParams, String> {
    let mut params = LogParams {
        container: Some(container.to_string()),
        follow: request.follow,
        tail_lines: request.tail.map(|n| i64::try_from(n).unwrap_or(i64::MAX)),
        timestamps: request.timestamps,
        ..LogParams::default()
    };
    match request.since {
        None => {}
        // The API server takes at least one second.
        Some(LogSince::Ago(ago)) => {
            params.since_seconds = Some(i64::try_from(ago.as_secs()).unwrap_or(i64::MAX).max(1));
        }
        Some(LogSince::At(at)) => {
            params.since_time = Some(Timestamp::from_second(at).map_err(|e| format!("--since: {e}"))?);
        }
    }
    Ok(params)
}

/// The reader's bytes as they arrive; a failed read is the stream's last item.
fn chunks(
    reader: std::pin::Pin<Box<dyn AsyncBufRead + Send>>,
    operation: String,
) -> BoxStream<'static, Result<LogChunk, RuntimeError>> {
    stream::unfold(Some((reader, operation)), |state| async move {
        let (mut reader, operation) = state?;
        let read = reader.fill_buf().await.map(Bytes::copy_from_slice);
        match read {
            Ok(bytes) if bytes.is_empty() => None,
            Ok(bytes) => {
                reader.as_mut().consume(bytes.len());
                Some((Ok(LogChunk::Stdout(bytes)), Some((reader, operation))))
            }
            Err(e) => Some((Err(RuntimeError::Engine { operation, message: e.to_string() }), None)),
        }
    })
    .boxed()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_span_goes_as_seconds_and_a_time_as_a_timestamp() {
        let request = LogRequest {
            follow: true,
            tail: Some(5),
            since: Some(LogSince::Ago(Duration::from_secs(600))),
            timestamps: true,
        };
        let p = log_params("cache", &request).unwrap();
        assert_eq!(p.container.as_deref(), Some("cache"));
        assert_eq!((p.follow, p.tail_lines, p.timestamps), (true, Some(5), true));
        assert_eq!((p.since_seconds, p.since_time), (Some(600), None));

        let at = LogRequest { since: Some(LogSince::At(1_700_000_000)), ..LogRequest::default() };
        let p = log_params("runtime", &at).unwrap();
        assert_eq!(p.since_seconds, None);
        assert_eq!(p.since_time.unwrap().to_string(), "2023-11-14T22:13:20Z");
        let now = LogRequest { since: Some(LogSince::Ago(Duration::ZERO)), ..LogRequest::default() };
        assert_eq!(log_params("runtime", &now).unwrap().since_seconds, Some(1));
    }
}
