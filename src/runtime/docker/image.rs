//! Making images available: inspect, pull (with the configured registry credentials) or build
//! from a local context. Images are shared between instances, so they carry no instance label.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use bollard::auth::DockerCredentials;
use bollard::errors::Error as BollardError;
use bollard::query_parameters::{BuildImageOptionsBuilder, CreateImageOptionsBuilder};
use futures_util::StreamExt;

use super::build_context;
use super::errors::{is_status, message, unreachable, unreachable_reason, within};
use super::DockerRuntime;
use crate::render::ImageSource;
use crate::runtime::error::{RuntimeError, UnreachableReason};
use crate::runtime::ImageOutcome;
use crate::spec::{ContextFiles, PullPolicy};

/// The registry host an unqualified reference (`nginx`, `library/nginx`) lives on.
const DEFAULT_REGISTRY: &str = "docker.io";

/// A lock per image reference (kept for the runtime's life: one entry per image tenants use).
#[derive(Default)]
pub(super) struct ImageLocks(std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>);

impl ImageLocks {
    fn of(&self, reference: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.0.lock().unwrap_or_else(|p| p.into_inner());
        locks.entry(reference.to_string()).or_default().clone()
    }
}

impl DockerRuntime {
    /// Makes `image` available; concurrent calls for one reference run one at a time, so the
    /// second finds what the first built or pulled.
    pub(super) async fn ensure(&self, image: &ImageSource) -> Result<ImageOutcome, RuntimeError> {
        let reference = image.reference();
        let lock = self.image_locks.of(reference);
        let _held = lock.lock().await;
        self.ensure_unlocked(image).await
    }

    async fn ensure_unlocked(&self, image: &ImageSource) -> Result<ImageOutcome, RuntimeError> {
        match image {
            ImageSource::Registry { reference, pull_policy } => {
                if *pull_policy != PullPolicy::Always {
                    if let Some(id) = self.local_image_id(reference).await? {
                        return Ok(ImageOutcome::AlreadyPresent { id });
                    }
                }
                if *pull_policy == PullPolicy::Never {
                    return Err(RuntimeError::ImageMissing { reference: reference.clone() });
                }
                self.pull(reference).await?;
                match self.local_image_id(reference).await? {
                    Some(id) => Ok(ImageOutcome::Pulled { id }),
                    None => Err(RuntimeError::ImagePull {
                        reference: reference.clone(),
                        message: "the pull finished but the image is not present".into(),
                    }),
                }
            }
            ImageSource::Ingress { tag } => {
                if let Some(id) = self.local_image_id(tag).await? {
                    return Ok(ImageOutcome::AlreadyPresent { id });
                }
                self.build_ingress(tag).await?;
                match self.local_image_id(tag).await? {
                    Some(id) => Ok(ImageOutcome::Built { id }),
                    None => Err(RuntimeError::ImageBuild {
                        context: "tenantd's ingress".into(),
                        message: format!("the build finished but {tag} is not present"),
                    }),
                }
            }
            ImageSource::Build { context, dockerfile, tag, digest } => {
                if let Some(id) = self.local_image_id(tag).await? {
                    return Ok(ImageOutcome::AlreadyPresent { id });
                }
                self.build(context, dockerfile, tag, digest).await?;
                match self.local_image_id(tag).await? {
                    Some(id) => Ok(ImageOutcome::Built { id }),
                    None => Err(RuntimeError::ImageBuild {
                        context: context.display().to_string(),
                        message: format!("the build finished but {tag} is not present"),
                    }),
                }
            }
        }
    }

    /// The local id (`sha256:…`) of `reference`; `None` when it is not present.
    pub(super) async fn local_image_id(&self, reference: &str) -> Result<Option<String>, RuntimeError> {
        let docker = self.client().await?;
        match within(self.timeouts.call, docker.inspect_image(reference)).await {
            Ok(image) => Ok(image.id),
            Err(e) if is_status(&e, 404) => Ok(None),
            Err(e) => Err(self.fail(format!("inspect image {reference}"), e)),
        }
    }

    async fn pull(&self, reference: &str) -> Result<(), RuntimeError> {
        let docker = self.client().await?;
        let (repository, tag) = pull_args(reference);
        let options = CreateImageOptionsBuilder::new().from_image(repository).tag(tag).build();
        let credentials = self.credentials_for(reference);
        tracing::info!(image = reference, authenticated = credentials.is_some(), "pulling image");
        let pulling = async {
            let mut progress = docker.create_image(Some(options), None, credentials);
            while let Some(item) = progress.next().await {
                item?;
            }
            Ok(())
        };
        within(self.timeouts.image, pulling).await.map_err(|e| {
            self.stream_failure(e, |message| RuntimeError::ImagePull { reference: reference.to_string(), message })
        })
    }

    /// Builds `tag` from the context at `context`, streaming it to the engine. The walk that
    /// decides what is sent comes first and refuses a context over the limit before the engine
    /// is asked anything; the stream fails, and nothing is built, when what is read does not
    /// digest to `digest`, the digest `tag` was named for.
    async fn build(&self, context: &Path, dockerfile: &str, tag: &str, digest: &str) -> Result<(), RuntimeError> {
        let failed = |message: String| RuntimeError::ImageBuild { context: context.display().to_string(), message };
        let files = {
            let (context, dockerfile) = (context.to_path_buf(), dockerfile.to_string());
            tokio::task::spawn_blocking(move || ContextFiles::walk(&context, &dockerfile))
                .await
                .map_err(|e| failed(format!("walking the context stopped: {e}")))?
                .map_err(|e| failed(e.to_string()))?
        };
        if let Some(first) = files.skipped().first() {
            tracing::warn!(
                context = %context.display(),
                count = files.skipped().len(),
                first = %String::from_utf8_lossy(first),
                "left out FIFOs, sockets or devices found in the build context"
            );
        }
        let docker = self.client().await?;
        let options = BuildImageOptionsBuilder::new().dockerfile(dockerfile).t(tag).rm(true).forcerm(true).build();
        tracing::info!(image = tag, context = %context.display(), bytes = files.counted_bytes(), "building image");
        let (chunks, body) = tokio::sync::mpsc::channel(build_context::CHUNKS_AHEAD);
        let streaming = {
            let (expected, patience) = (digest.to_string(), self.timeouts.image);
            tokio::task::spawn_blocking(move || build_context::stream(&files, &expected, chunks, patience))
        };
        let body = futures_util::stream::unfold(body, |mut body| async move { body.recv().await.map(|c| (c, body)) });
        let building = async {
            let mut output = docker.build_image(options, None, Some(bollard::body_try_stream(body)));
            while let Some(item) = output.next().await {
                item?;
            }
            Ok(())
        };
        let built = within(self.timeouts.image, building).await;
        let streamed = streaming.await.map_err(|e| failed(format!("streaming the context stopped: {e}")))?;
        match (streamed, built) {
            // The context's own failure explains why the engine's side failed too.
            (Err(e), _) if !e.is_engine_side() => Err(failed(e.to_string())),
            (_, Err(e)) => Err(self.stream_failure(e, failed)),
            (Err(e), Ok(())) => Err(failed(e.to_string())),
            (Ok(()), Ok(())) => Ok(()),
        }
    }

    /// Builds the ingress image `tag` from the running tenantd (see `ingress_image`).
    async fn build_ingress(&self, tag: &str) -> Result<(), RuntimeError> {
        let failed = |message: String| RuntimeError::ImageBuild { context: "tenantd's ingress".into(), message };
        let context = tokio::task::spawn_blocking(super::ingress_image::context)
            .await
            .map_err(|e| failed(format!("making the context stopped: {e}")))?
            .map_err(|e| failed(format!("making the context: {e}")))?;
        let docker = self.client().await?;
        let options = BuildImageOptionsBuilder::new().dockerfile("Dockerfile").t(tag).rm(true).forcerm(true).build();
        tracing::info!(image = tag, bytes = context.len(), "building the ingress image");
        let building = async {
            let mut output = docker.build_image(options, None, Some(bollard::body_full(context.into())));
            while let Some(item) = output.next().await {
                item?;
            }
            Ok(())
        };
        within(self.timeouts.image, building).await.map_err(|e| self.stream_failure(e, failed))
    }

    /// A failed pull or build: `Unreachable` when the engine went away, else `failed` with what
    /// the engine said (or that it took too long).
    fn stream_failure(&self, e: BollardError, failed: impl FnOnce(String) -> RuntimeError) -> RuntimeError {
        match unreachable_reason(&e) {
            Some(UnreachableReason::Timeout) => failed(format!("no result within {} s", self.timeouts.image.as_secs())),
            Some(reason) => unreachable(&self.endpoint.to_string(), reason, Some(e)),
            None => failed(message(&e)),
        }
    }

    /// The configured credentials for the registry `reference` lives on, if any.
    fn credentials_for(&self, reference: &str) -> Option<DockerCredentials> {
        let host = registry_host(pull_args(reference).0);
        self.registries.iter().find(|r| normalize_registry(&r.server) == host).map(|r| DockerCredentials {
            username: Some(r.username.clone()),
            password: Some(r.password.expose().to_string()),
            serveraddress: Some(r.server.clone()),
            ..Default::default()
        })
    }
}

/// `(repository, tag or digest)` as the pull API takes them; a reference without either means
/// `latest` (an empty tag would pull every tag).
fn pull_args(reference: &str) -> (&str, &str) {
    if let Some((repository, digest)) = reference.split_once('@') {
        return (repository, digest);
    }
    let last_part = reference.rfind('/').map_or(0, |i| i + 1);
    match reference[last_part..].rfind(':') {
        Some(i) => (&reference[..last_part + i], &reference[last_part + i + 1..]),
        None => (reference, "latest"),
    }
}

/// The registry host of a repository name, normalised like [`normalize_registry`].
fn registry_host(repository: &str) -> String {
    match repository.split_once('/') {
        Some((first, _)) if first.contains(['.', ':']) || first == "localhost" => normalize_registry(first),
        _ => DEFAULT_REGISTRY.to_string(),
    }
}

/// `https://index.docker.io/v1/` and `docker.io` name the same registry.
fn normalize_registry(server: &str) -> String {
    let host = server
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    match host.as_str() {
        "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => DEFAULT_REGISTRY.to_string(),
        _ => host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_split_into_repository_and_tag() {
        assert_eq!(pull_args("nginx"), ("nginx", "latest"));
        assert_eq!(pull_args("nginx:1.27"), ("nginx", "1.27"));
        assert_eq!(pull_args("reg:5000/team/app"), ("reg:5000/team/app", "latest"));
        assert_eq!(pull_args("reg:5000/team/app:v2"), ("reg:5000/team/app", "v2"));
        assert_eq!(pull_args("app@sha256:abc"), ("app", "sha256:abc"));
    }

    #[test]
    fn registry_hosts_are_normalised() {
        assert_eq!(registry_host("nginx"), "docker.io");
        assert_eq!(registry_host("library/nginx"), "docker.io");
        assert_eq!(registry_host("Reg.Example:5000/app"), "reg.example:5000");
        assert_eq!(registry_host("localhost/app"), "localhost");
        assert_eq!(normalize_registry("https://index.docker.io/v1/"), "docker.io");
    }
}
