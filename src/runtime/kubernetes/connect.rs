//! Which cluster to talk to: the kubeconfig the config names, else `$KUBECONFIG`, else
//! `~/.kube/config`, else the pod's own service account when tenantd runs in a cluster (and
//! `[kubernetes] in_cluster` allows it). Without any of them tenantd stops at start; it never
//! falls back to another runtime.

use std::path::{Path, PathBuf};

use kube::config::{KubeConfigOptions, Kubeconfig};

use crate::config::KubernetesSettings;

/// Why no cluster configuration could be used.
#[derive(Debug, thiserror::Error)]
pub enum ClusterConfigError {
    #[error(
        "runtime = \"kubernetes\" but no cluster configuration is usable: {tried}. Set [kubernetes] kubeconfig \
         in the config file (or KUBECONFIG); tenantd does not fall back to Docker"
    )]
    Missing { tried: String },
    #[error("kubeconfig {} ({origin}) cannot be used: {message}", path.display())]
    Kubeconfig { path: PathBuf, origin: &'static str, message: String },
    #[error("the in-cluster configuration cannot be used: {message}")]
    InCluster { message: String },
    #[error("cannot build a client for {endpoint}: {message}")]
    Client { endpoint: String, message: String },
}

/// The environment the resolution looks at, so tests can give their own.
pub trait Env {
    fn var(&self, name: &str) -> Option<String>;
}

/// The process environment.
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }
}

/// A client configuration and where it came from, for messages.
pub struct Resolved {
    pub config: kube::Config,
    pub source: String,
}

/// Resolves the cluster configuration, in the documented order.
pub async fn resolve(settings: &KubernetesSettings, env: &dyn Env) -> Result<Resolved, ClusterConfigError> {
    let options = KubeConfigOptions { context: settings.context.clone(), ..Default::default() };
    if let Some(path) = &settings.kubeconfig {
        return from_file(path, "[kubernetes] kubeconfig", &options).await;
    }
    if let Some(list) = env.var("KUBECONFIG") {
        // Like kubectl: a list of files, merged; the first one is named in messages.
        let paths: Vec<PathBuf> = std::env::split_paths(&list).filter(|p| !p.as_os_str().is_empty()).collect();
        return from_files(&paths, "$KUBECONFIG", &options).await;
    }
    let mut tried = vec!["[kubernetes] kubeconfig is not set".to_string(), "$KUBECONFIG is not set".to_string()];
    match env.var("HOME").map(|h| Path::new(&h).join(".kube/config")) {
        Some(path) if path.exists() => return from_file(&path, "~/.kube/config", &options).await,
        Some(path) => tried.push(format!("{} does not exist", path.display())),
        None => tried.push("$HOME is not set, so there is no ~/.kube/config".into()),
    }
    match (env.var("KUBERNETES_SERVICE_HOST"), settings.in_cluster) {
        (Some(_), true) => {
            let config =
                kube::Config::incluster().map_err(|e| ClusterConfigError::InCluster { message: e.to_string() })?;
            let source = format!("the pod's service account ({})", config.cluster_url);
            Ok(Resolved { config, source })
        }
        (Some(_), false) => {
            tried.push("this is a pod in a cluster, but [kubernetes] in_cluster = false".into());
            Err(ClusterConfigError::Missing { tried: tried.join(", ") })
        }
        (None, _) => {
            tried.push("this is not a pod in a cluster (KUBERNETES_SERVICE_HOST is not set)".into());
            Err(ClusterConfigError::Missing { tried: tried.join(", ") })
        }
    }
}

async fn from_file(
    path: &Path,
    origin: &'static str,
    options: &KubeConfigOptions,
) -> Result<Resolved, ClusterConfigError> {
    from_files(&[path.to_path_buf()], origin, options).await
}

async fn from_files(
    paths: &[PathBuf],
    origin: &'static str,
    options: &KubeConfigOptions,
) -> Result<Resolved, ClusterConfigError> {
    let first = paths.first().cloned().unwrap_or_default();
    let fail =
        |path: &Path, message: String| ClusterConfigError::Kubeconfig { path: path.to_path_buf(), origin, message };
    let mut merged: Option<Kubeconfig> = None;
    for path in paths {
        let one = Kubeconfig::read_from(path).map_err(|e| fail(path, e.to_string()))?;
        merged = Some(match merged {
            None => one,
            Some(m) => m.merge(one).map_err(|e| fail(path, e.to_string()))?,
        });
    }
    let kubeconfig = merged.ok_or_else(|| fail(&first, "no file named".into()))?;
    let config =
        kube::Config::from_custom_kubeconfig(kubeconfig, options).await.map_err(|e| fail(&first, e.to_string()))?;
    let context = options.context.as_deref().map(|c| format!(", context {c}")).unwrap_or_default();
    let source = format!("{} ({}{context})", config.cluster_url, first.display());
    Ok(Resolved { config, source })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::render::kubernetes::KubeOptions;

    struct FakeEnv(BTreeMap<&'static str, String>);

    impl Env for FakeEnv {
        fn var(&self, name: &str) -> Option<String> {
            self.0.get(name).cloned()
        }
    }

    fn settings(kubeconfig: Option<PathBuf>, in_cluster: bool) -> KubernetesSettings {
        KubernetesSettings { kubeconfig, context: None, in_cluster, objects: KubeOptions::default() }
    }

    const KUBECONFIG: &str = "apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters:\n- name: k\n  cluster:\n    \
                              server: http://127.0.0.1:6443\ncontexts:\n- name: c\n  context:\n    cluster: k\n    \
                              user: u\nusers:\n- name: u\n  user:\n    token: t\n";

    #[tokio::test]
    async fn without_any_configuration_the_error_says_what_was_tried() {
        let home = tempfile::tempdir().unwrap();
        let env = FakeEnv(BTreeMap::from([("HOME", home.path().display().to_string())]));
        let e = resolve(&settings(None, true), &env).await.err().unwrap().to_string();
        for part in ["kubeconfig is not set", "$KUBECONFIG is not set", ".kube/config does not exist", "not a pod"] {
            assert!(e.contains(part), "{part}: {e}");
        }
        assert!(e.contains("does not fall back to Docker"), "{e}");

        let env = FakeEnv(BTreeMap::from([
            ("HOME", home.path().display().to_string()),
            ("KUBERNETES_SERVICE_HOST", "10.0.0.1".to_string()),
        ]));
        let e = resolve(&settings(None, false), &env).await.err().unwrap().to_string();
        assert!(e.contains("in_cluster = false"), "{e}");
    }

    #[tokio::test]
    async fn a_named_kubeconfig_wins_and_a_broken_one_is_an_error_not_a_fallback() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good");
        std::fs::write(&good, KUBECONFIG).unwrap();
        let env = FakeEnv(BTreeMap::from([("KUBECONFIG", "/nonexistent".to_string())]));
        let r = resolve(&settings(Some(good.clone()), true), &env).await.ok().unwrap();
        assert_eq!(r.config.cluster_url.to_string(), "http://127.0.0.1:6443/");
        assert!(r.source.contains("good"), "{}", r.source);

        let e = resolve(&settings(None, true), &env).await.err().unwrap().to_string();
        assert!(e.contains("/nonexistent") && e.contains("$KUBECONFIG"), "{e}");
        let broken = dir.path().join("broken");
        std::fs::write(&broken, "not: [a kubeconfig").unwrap();
        let e = resolve(&settings(Some(broken), true), &FakeEnv(BTreeMap::new())).await.err().unwrap().to_string();
        assert!(e.contains("broken") && e.contains("[kubernetes] kubeconfig"), "{e}");
    }
}
