//! Mapping kube errors to [`RuntimeError`]: an API server that cannot be reached is told apart
//! from one that answered with an error, and every message names the call and the object.

use std::error::Error as StdError;
use std::future::Future;
use std::io;
use std::time::Duration;

use crate::runtime::error::{with_causes, RuntimeError, UnreachableReason};

/// How long one API call may take.
pub(super) const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// A failed call: either the API server's answer, or no answer at all.
#[derive(Debug)]
pub(super) enum CallError {
    Kube(kube::Error),
    Timeout,
}

impl CallError {
    /// The HTTP status of the API server's answer, when it gave one.
    pub(super) fn code(&self) -> Option<u16> {
        match self {
            CallError::Kube(kube::Error::Api(status)) => Some(status.code),
            _ => None,
        }
    }
}

/// Runs one API call with [`CALL_TIMEOUT`].
pub(super) async fn within<T>(call: impl Future<Output = Result<T, kube::Error>>) -> Result<T, CallError> {
    match tokio::time::timeout(CALL_TIMEOUT, call).await {
        Ok(result) => result.map_err(CallError::Kube),
        Err(_) => Err(CallError::Timeout),
    }
}

/// The error of `operation` against the API server at `endpoint`. With `quiet`, the API
/// server's message is left out (it may quote what was sent, and a Secret's data is sensitive).
pub(super) fn fail(endpoint: &str, operation: impl Into<String>, err: CallError, quiet: bool) -> RuntimeError {
    let operation = operation.into();
    match err {
        CallError::Timeout => RuntimeError::Unreachable {
            endpoint: endpoint.to_string(),
            reason: UnreachableReason::Timeout,
            source: None,
        },
        CallError::Kube(kube::Error::Api(status)) => {
            let message = if quiet {
                format!("{} (HTTP {})", status.reason, status.code)
            } else {
                format!("{} ({}, HTTP {})", status.message.trim(), status.reason, status.code)
            };
            RuntimeError::Engine { operation, message }
        }
        CallError::Kube(e @ (kube::Error::HyperError(_) | kube::Error::Service(_))) => {
            RuntimeError::Unreachable { endpoint: endpoint.to_string(), reason: reason(&e), source: Some(Box::new(e)) }
        }
        CallError::Kube(e) => RuntimeError::Engine { operation, message: with_causes(&e) },
    }
}

/// The io error kind deepest in the chain says why there was no answer.
fn reason(err: &kube::Error) -> UnreachableReason {
    let mut current: Option<&(dyn StdError + 'static)> = Some(err);
    let mut found = UnreachableReason::Other;
    while let Some(e) = current {
        if let Some(io) = e.downcast_ref::<io::Error>() {
            found = match io.kind() {
                io::ErrorKind::ConnectionRefused => UnreachableReason::ConnectionRefused,
                io::ErrorKind::PermissionDenied => UnreachableReason::PermissionDenied,
                io::ErrorKind::TimedOut => UnreachableReason::Timeout,
                _ => found,
            };
        }
        if e.to_string().contains("timed out") && found == UnreachableReason::Other {
            found = UnreachableReason::Timeout;
        }
        current = e.source();
    }
    found
}
