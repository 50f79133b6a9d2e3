//! Errors of a runtime, typed so callers can tell an unreachable engine from a failed step.

/// Why a runtime call failed.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The engine cannot be reached at all; nothing may be concluded about what runs.
    #[error("cannot reach {endpoint}: {reason}")]
    Unreachable {
        endpoint: String,
        reason: UnreachableReason,
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// An image could not be pulled (registry down, unknown image, auth).
    #[error("pulling image {reference} failed: {message}")]
    ImagePull { reference: String, message: String },
    /// An image could not be built from its context.
    #[error("building image from {context} failed: {message}")]
    ImageBuild { context: String, message: String },
    /// The image is not present and the pull policy forbids pulling it.
    #[error("image {reference} is not present locally and pullPolicy is Never")]
    ImageMissing { reference: String },
    /// The requested host port is already taken on the host.
    #[error("host port {port} is already in use")]
    PortInUse { port: u16 },
    /// An object with the wanted name exists but is not this instance's.
    #[error("{kind} {name} exists but was not created by this tenantd instance; it is left alone")]
    Conflict { kind: String, name: String },
    /// Any other engine error, with the operation that failed.
    #[error("{operation} failed: {message}")]
    Engine { operation: String, message: String },
    /// The runtime has no such operation (a container call on a cluster, an object call on an
    /// engine); a plan for this runtime never asks for it.
    #[error("{runtime} cannot {operation}")]
    Unsupported { runtime: String, operation: String },
    /// The cluster serves no metrics API (metrics.k8s.io), so there is no resource use to read.
    #[error("the cluster serves no metrics API (metrics.k8s.io); install metrics-server ({runtime})")]
    NoMetricsApi { runtime: String },
    /// The host's rules that keep tenant networks off its services could not be put in place:
    /// nothing that would start a container goes ahead.
    #[error(transparent)]
    HostFirewall(#[from] crate::host_firewall::FirewallError),
    /// The caller's side of an attached stream failed (its stdin could not be read, its
    /// stdout was closed); the engine itself is fine.
    #[error("{operation}: {source}")]
    Local {
        operation: String,
        #[source]
        source: std::io::Error,
    },
}

/// Why the engine could not be reached, so the message tells the operator what to fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnreachableReason {
    SocketMissing,
    PermissionDenied,
    ConnectionRefused,
    Timeout,
    Other,
}

impl std::fmt::Display for UnreachableReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            UnreachableReason::SocketMissing => "the socket does not exist (is the engine running?)",
            UnreachableReason::PermissionDenied => {
                "permission denied on the socket (is this user in the docker group?)"
            }
            UnreachableReason::ConnectionRefused => "connection refused (the engine is not listening)",
            UnreachableReason::Timeout => "the engine did not answer in time",
            UnreachableReason::Other => "the engine did not answer",
        })
    }
}

impl RuntimeError {
    /// True when the engine itself is away, as opposed to one step failing.
    pub fn is_unreachable(&self) -> bool {
        matches!(self, RuntimeError::Unreachable { .. })
    }
}

/// An error and its causes, one after the other, each said once (`a: b: c`).
pub(crate) fn with_causes(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut cause = err.source();
    while let Some(c) = cause {
        let part = c.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        cause = c.source();
    }
    text
}
