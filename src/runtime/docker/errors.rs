//! Mapping bollard errors to [`RuntimeError`]: an engine that cannot be reached is told apart
//! from one that answered with an error, and every message names the call and the object.

use std::error::Error as StdError;
use std::future::Future;
use std::io;
use std::time::Duration;

use bollard::errors::Error as BollardError;

use crate::runtime::error::{with_causes, RuntimeError, UnreachableReason};

/// Runs `call`, turning a deadline overrun into bollard's own timeout error so it is mapped like
/// one the client raised itself.
pub(super) async fn within<T>(
    limit: Duration,
    call: impl Future<Output = Result<T, BollardError>>,
) -> Result<T, BollardError> {
    tokio::time::timeout(limit, call).await.unwrap_or(Err(BollardError::RequestTimeoutError))
}

/// The HTTP status of the engine's reply, when the error is one.
pub(super) fn status(err: &BollardError) -> Option<u16> {
    match err {
        BollardError::DockerResponseServerError { status_code, .. } => Some(*status_code),
        _ => None,
    }
}

pub(super) fn is_status(err: &BollardError, code: u16) -> bool {
    status(err) == Some(code)
}

/// Podman 4's answer for an object removed while it was being asked about: HTTP 500 with
/// "no such container" (seen on `GET /containers/{id}/json` right after a removal).
pub(super) fn is_gone_on_podman(err: &BollardError) -> bool {
    is_status(err, 500) && message(err).to_ascii_lowercase().contains("no such container")
}

/// What the engine said, without bollard's wrapping; other errors with their causes.
pub(super) fn message(err: &BollardError) -> String {
    match err {
        BollardError::DockerResponseServerError { status_code, message } => {
            format!("{} (HTTP {status_code})", message.trim())
        }
        BollardError::DockerStreamError { error } => error.trim().to_string(),
        other => with_causes(other),
    }
}

/// Why the engine could not be reached, when `err` means it could not: read from the io error
/// kind deepest in the source chain, or from bollard's own timeout.
pub(super) fn unreachable_reason(err: &BollardError) -> Option<UnreachableReason> {
    let mut connect_failed = false;
    let mut current: Option<&(dyn StdError + 'static)> = Some(err);
    let mut reason = None;
    while let Some(e) = current {
        if let Some(b) = e.downcast_ref::<BollardError>() {
            match b {
                BollardError::RequestTimeoutError => return Some(UnreachableReason::Timeout),
                BollardError::SocketNotFoundError(_) => return Some(UnreachableReason::SocketMissing),
                BollardError::HyperLegacyError { err } if err.is_connect() => connect_failed = true,
                // Transparent: its `source()` skips the io error itself.
                BollardError::IOError { err } => reason = io_reason(err.kind()).or(reason),
                _ => {}
            }
        }
        if let Some(io) = e.downcast_ref::<io::Error>() {
            reason = io_reason(io.kind()).or(reason);
        }
        if let Some(h) = e.downcast_ref::<hyper::Error>() {
            // The engine closed the connection before it answered: it went away mid-call.
            if h.is_incomplete_message() || h.is_canceled() || h.is_closed() {
                reason = reason.or(Some(UnreachableReason::Other));
            }
        }
        current = e.source();
    }
    match reason {
        Some(r) => Some(r),
        None if connect_failed => Some(UnreachableReason::Other),
        None => None,
    }
}

fn io_reason(kind: io::ErrorKind) -> Option<UnreachableReason> {
    use io::ErrorKind::*;
    Some(match kind {
        NotFound => UnreachableReason::SocketMissing,
        PermissionDenied => UnreachableReason::PermissionDenied,
        ConnectionRefused => UnreachableReason::ConnectionRefused,
        TimedOut => UnreachableReason::Timeout,
        // The engine went away in the middle of a call.
        ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof | NotConnected => UnreachableReason::Other,
        _ => return None,
    })
}

/// `Unreachable` when the engine could not be reached, else `Engine` naming `operation`.
pub(super) fn map(endpoint: &str, operation: impl Into<String>, err: BollardError) -> RuntimeError {
    match unreachable_reason(&err) {
        Some(reason) => unreachable(endpoint, reason, Some(err)),
        None => RuntimeError::Engine { operation: operation.into(), message: message(&err) },
    }
}

pub(super) fn unreachable(endpoint: &str, reason: UnreachableReason, source: Option<BollardError>) -> RuntimeError {
    RuntimeError::Unreachable {
        endpoint: endpoint.to_string(),
        reason,
        source: source.map(|e| Box::new(e) as Box<dyn StdError + Send + Sync>),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn io_error(kind: io::ErrorKind) -> BollardError {
        BollardError::IOError { err: io::Error::new(kind, "test") }
    }

    #[test]
    fn io_kinds_name_the_reason() {
        let cases = [
            (io::ErrorKind::NotFound, UnreachableReason::SocketMissing),
            (io::ErrorKind::PermissionDenied, UnreachableReason::PermissionDenied),
            (io::ErrorKind::ConnectionRefused, UnreachableReason::ConnectionRefused),
            (io::ErrorKind::TimedOut, UnreachableReason::Timeout),
            (io::ErrorKind::ConnectionReset, UnreachableReason::Other),
        ];
        for (kind, reason) in cases {
            let e = map("unix:///x.sock", "ping", io_error(kind));
            assert!(matches!(e, RuntimeError::Unreachable { reason: r, .. } if r == reason), "{kind:?}: {e:?}");
        }
        let e = map("tcp://h:1", "ping", BollardError::RequestTimeoutError);
        assert!(matches!(e, RuntimeError::Unreachable { reason: UnreachableReason::Timeout, .. }));
    }

    #[test]
    fn engine_replies_keep_operation_and_message() {
        let err = BollardError::DockerResponseServerError { status_code: 500, message: "boom\n".into() };
        assert_eq!(status(&err), Some(500));
        let e = map("unix:///x.sock", "start container acme", err);
        assert_eq!(e.to_string(), "start container acme failed: boom (HTTP 500)");
    }

    #[test]
    fn podmans_500_for_a_removed_container_is_gone_and_other_500s_are_not() {
        let gone = |status_code, message: &str| {
            is_gone_on_podman(&BollardError::DockerResponseServerError { status_code, message: message.into() })
        };
        let podman = "container 5be5: does not exist in database: no such container";
        assert!(gone(500, podman));
        assert!(!gone(500, "boom"), "another failure of the engine");
        assert!(!gone(409, podman), "only Podman's 500 (a 404 is handled as such)");
    }
}
