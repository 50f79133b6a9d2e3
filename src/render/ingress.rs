//! The tenant's ingress container: tenantd's own small HTTP proxy, which owns the tenant's
//! published port and forwards each request to the main container tenantd names in a file. It
//! is what lets a replacement start first: the endpoint (`127.0.0.1:<hostPort>`) stays with the
//! ingress while the runtime behind it changes.

use std::path::Path;
use std::sync::OnceLock;

use sha2::{Digest, Sha256};

use super::files::BindPlan;
use super::limits::Limits;
use super::model::{Healthcheck, ImageSource};

/// The port the ingress listens on inside its container.
pub const INGRESS_PORT: u16 = 8080;
/// Where the ingress's directory (`backend`, `state.json`) is mounted in its container.
pub const INGRESS_MOUNT: &str = "/run/tenantd-ingress";
/// The unprivileged user the ingress runs as; it owns the ingress directory on the host.
pub const INGRESS_UID: u32 = 65534;
/// The network alias of the ingress container.
pub const INGRESS_ALIAS: &str = "ingress";
/// The ingress container's name part (`<instance>_<tenant>_ingress`); no sidecar may take it.
pub const INGRESS_PART: &str = "ingress";

/// The ingress image's tag: the version of the ingress code it holds, so a tenantd with other
/// ingress code builds another image. A running ingress is never recreated for a new image
/// alone (the plan ignores its image), only new ingresses use it.
pub fn image_tag() -> &'static str {
    static TAG: OnceLock<String> = OnceLock::new();
    TAG.get_or_init(|| {
        let mut h = Sha256::new();
        for source in INGRESS_SOURCES {
            h.update(source.as_bytes());
        }
        format!("tenantd.local/ingress:{}", &hex::encode(h.finalize())[..16])
    })
}

const INGRESS_SOURCES: [&str; 4] = [
    include_str!("../ingress/mod.rs"),
    include_str!("../ingress/backend.rs"),
    include_str!("../ingress/proxy.rs"),
    include_str!("../ingress/report.rs"),
];

/// The ingress image.
pub fn image() -> ImageSource {
    ImageSource::Ingress { tag: image_tag().to_string() }
}

/// The arguments of the ingress program in its image.
pub fn args() -> Vec<String> {
    ["ingress", "--listen", &format!("0.0.0.0:{INGRESS_PORT}"), "--dir", INGRESS_MOUNT].map(String::from).to_vec()
}

/// The engine's healthcheck of the ingress: it accepts connections on its port.
pub fn healthcheck() -> Healthcheck {
    let listen = format!("127.0.0.1:{INGRESS_PORT}");
    Healthcheck {
        command: ["/tenantd", "ingress", "--listen", &listen, "--dir", INGRESS_MOUNT, "--probe"]
            .map(String::from)
            .to_vec(),
        interval_ms: 10_000,
        timeout_ms: 3_000,
        start_period_ms: 2_000,
        retries: 3,
        path: "/".into(),
    }
}

/// Its one bind mount: the tenant's ingress directory, writable for its report.
pub fn bind(dir: &Path) -> BindPlan {
    BindPlan { source: dir.display().to_string(), target: INGRESS_MOUNT.to_string(), writable: true }
}

/// What one ingress may use: it copies bytes and holds a few sockets.
pub fn limits() -> Limits {
    Limits { memory_bytes: 64 << 20, nano_cpus: 500_000_000, pids: 64 }
}
