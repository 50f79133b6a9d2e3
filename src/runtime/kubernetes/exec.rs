//! Running a command in a container of a tenant's pod (`kubectl exec`): the API server's exec
//! subresource over a WebSocket, stdin, stdout and stderr passed through, the command's exit
//! code read from the status the API server sends as it ends.

use futures_util::SinkExt;
use futures_util::StreamExt;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Status;
use kube::api::{AttachParams, TerminalSize};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use super::errors::{fail, within};
use super::KubernetesRuntime;
use crate::runtime::attach::{ExecIo, ExecRequest};
use crate::runtime::RuntimeError;
use crate::spec::TenantName;

impl KubernetesRuntime {
    /// Runs `request` in `container` of `tenant`'s current pod, attached to `io`, and returns
    /// its exit code once it has ended and its output has been written.
    pub(super) async fn exec_in_pod(
        &self,
        tenant: &TenantName,
        container: &str,
        request: &ExecRequest,
        io: ExecIo,
    ) -> Result<i64, RuntimeError> {
        let pod = self.tenant_pod(tenant).await?;
        let program = request.command.first().map(String::as_str).unwrap_or_default();
        let operation = format!("run {program:?} in container {container} of pod {pod}");
        let ExecIo { stdin, mut stdout, mut stderr, resize } = io;
        let params = attach_params(container, request.tty, stdin.is_some());
        let mut attached = within(self.pods(tenant).exec(&pod, request.command.clone(), &params))
            .await
            .map_err(|e| fail(&self.endpoint, operation.clone(), e, false))?;
        let status = attached.take_status();

        // Window sizes: a lost resize leaves the terminal at its old size, no reason to stop.
        let resizer = match (attached.terminal_size(), resize) {
            (Some(mut sizes_to), Some(mut sizes)) => Some(tokio::spawn(async move {
                while let Some(size) = sizes.next().await {
                    let size = TerminalSize { width: size.cols, height: size.rows };
                    if sizes_to.send(size).await.is_err() {
                        return;
                    }
                }
            })),
            _ => None,
        };
        // stdin is forwarded until it ends, then closed, so the command sees its end too.
        let feeder = match (attached.stdin(), stdin) {
            (Some(mut to), Some(mut chunks)) => {
                let operation = operation.clone();
                Some(tokio::spawn(async move {
                    while let Some(chunk) = chunks.next().await {
                        let chunk = chunk.map_err(|source| RuntimeError::Local {
                            operation: format!("{operation}: read stdin"),
                            source,
                        })?;
                        if to.write_all(&chunk).await.is_err() || to.flush().await.is_err() {
                            // The command no longer reads (it ended): the rest is not wanted.
                            return Ok(());
                        }
                    }
                    // A failed close means the command is gone already, which its status says.
                    let _ = to.shutdown().await;
                    Ok::<(), RuntimeError>(())
                }))
            }
            _ => None,
        };

        let out = pump(attached.stdout(), &mut stdout, &operation);
        let err = pump(attached.stderr(), &mut stderr, &operation);
        let pumped = tokio::try_join!(out, err);
        let ended = match status {
            Some(status) => status.await,
            None => None,
        };
        if let Some(task) = resizer {
            task.abort();
        }
        let fed = crate::runtime::attach::stop_feeder(feeder).await;
        pumped?;
        fed?;
        exit_code(ended.as_ref()).map_err(|message| RuntimeError::Engine { operation, message })
    }
}

/// What to attach: stdout always; stderr apart unless there is a terminal (which has one
/// stream); stdin when the caller gives one.
fn attach_params(container: &str, tty: bool, stdin: bool) -> AttachParams {
    AttachParams {
        container: Some(container.to_string()),
        stdin,
        stdout: true,
        stderr: !tty,
        tty,
        ..Default::default()
    }
}

/// Copies one of the command's streams to the caller's, as it arrives.
async fn pump(
    from: Option<impl AsyncRead + Unpin>,
    to: &mut (dyn AsyncWrite + Send + Unpin),
    operation: &str,
) -> Result<(), RuntimeError> {
    let Some(mut from) = from else { return Ok(()) };
    let local = |source| RuntimeError::Local { operation: format!("{operation}: write its output"), source };
    let mut buffer = [0u8; 8192];
    loop {
        let n = tokio::io::AsyncReadExt::read(&mut from, &mut buffer).await.map_err(local)?;
        if n == 0 {
            return Ok(());
        }
        to.write_all(&buffer[..n]).await.map_err(local)?;
        to.flush().await.map_err(local)?;
    }
}

/// The exit code in the status the API server sends as a command ends: `Success` is 0, a
/// `NonZeroExitCode` failure carries the code as its `ExitCode` cause. Anything else (no
/// status, a failure to start the command) is an error with the API server's message.
fn exit_code(status: Option<&Status>) -> Result<i64, String> {
    let Some(status) = status else {
        return Err("the connection ended before the API server said how the command ended".into());
    };
    if status.status.as_deref() == Some("Success") {
        return Ok(0);
    }
    let causes = status.details.iter().flat_map(|d| d.causes.iter().flatten());
    let code = causes
        .filter(|c| c.reason.as_deref() == Some("ExitCode"))
        .find_map(|c| c.message.as_deref()?.trim().parse::<i64>().ok());
    let reason = status.reason.as_deref().unwrap_or_default();
    match (code, status.message.as_deref()) {
        (Some(code), _) if reason == "NonZeroExitCode" => Ok(code),
        (_, Some(message)) if !message.is_empty() => Err(message.to_string()),
        _ => Err(format!("the command failed ({reason})")),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn status(v: serde_json::Value) -> Status {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn the_exit_code_comes_from_the_closing_status() {
        assert_eq!(exit_code(Some(&status(json!({"status": "Success", "metadata": {}})))), Ok(0));
        let non_zero = status(json!({
            "status": "Failure", "reason": "NonZeroExitCode",
            "message": "command terminated with non-zero exit code: error executing command [fail 3], exit code 3",
            "details": {"causes": [{"reason": "ExitCode", "message": "3"}]}
        }));
        assert_eq!(exit_code(Some(&non_zero)), Ok(3));
        let not_found = status(json!({
            "status": "Failure", "reason": "InternalError",
            "message": "exec: \"nope\": executable file not found in $PATH"
        }));
        assert_eq!(exit_code(Some(&not_found)), Err("exec: \"nope\": executable file not found in $PATH".into()));
        assert!(exit_code(None).unwrap_err().contains("before the API server said"));
    }

    #[test]
    fn a_terminal_has_one_stream() {
        let p = attach_params("cache", true, true);
        assert_eq!(
            (p.container.as_deref(), p.stdin, p.stdout, p.stderr, p.tty),
            (Some("cache"), true, true, false, true)
        );
        let p = attach_params("runtime", false, false);
        assert_eq!((p.stdin, p.stdout, p.stderr, p.tty), (false, true, true, false));
    }
}
