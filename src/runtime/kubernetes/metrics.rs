//! A tenant's resource use from the cluster's metrics API (`metrics.k8s.io/v1beta1`
//! PodMetrics, served by metrics-server): CPU and memory per container of its current pod.

use kube::api::{Api, ApiResource, DynamicObject, ListParams};
use serde_json::Value;

use super::errors::{fail, within};
use super::KubernetesRuntime;
use crate::render::kubernetes::{namespace_name, Quantity};
use crate::runtime::model::ContainerUsage;
use crate::runtime::{Runtime, RuntimeError};
use crate::spec::TenantName;

impl KubernetesRuntime {
    /// The use of each container of `tenant`'s current pod; `None` when the metrics API has
    /// no sample of that pod yet (metrics-server samples a new pod after a while).
    pub(super) async fn read_pod_usage(
        &self,
        tenant: &TenantName,
    ) -> Result<Option<Vec<ContainerUsage>>, RuntimeError> {
        let pod = self.tenant_pod(tenant).await?;
        let namespace = namespace_name(&self.instance, tenant);
        let resource = ApiResource {
            group: "metrics.k8s.io".into(),
            version: "v1beta1".into(),
            api_version: "metrics.k8s.io/v1beta1".into(),
            kind: "PodMetrics".into(),
            plural: "pods".into(),
        };
        let api: Api<DynamicObject> = Api::namespaced_with(self.client.clone(), &namespace, &resource);
        let listed = match within(api.list(&ListParams::default())).await {
            Ok(list) => list,
            // A list is a 404 only when nothing serves the resource: no metrics API.
            Err(e) if e.code() == Some(404) => return Err(RuntimeError::NoMetricsApi { runtime: self.describe() }),
            Err(e) => return Err(fail(&self.endpoint, format!("read the metrics of pod {pod}"), e, false)),
        };
        Ok(listed.items.iter().find(|m| m.metadata.name.as_deref() == Some(pod.as_str())).map(usage))
    }
}

/// The containers of one PodMetrics; an unreadable quantity counts as zero.
fn usage(metrics: &DynamicObject) -> Vec<ContainerUsage> {
    let quantity = |v: &Value| v.as_str().and_then(Quantity::parse).map(|q| q.to_f64()).unwrap_or(0.0);
    let containers = metrics.data["containers"].as_array().map(Vec::as_slice).unwrap_or_default();
    containers
        .iter()
        .map(|c| ContainerUsage {
            name: c["name"].as_str().unwrap_or_default().to_string(),
            cpu_nanocores: (quantity(&c["usage"]["cpu"]) * 1e9).round() as u64,
            memory_bytes: quantity(&c["usage"]["memory"]).round() as u64,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn quantities_become_nanocores_and_bytes() {
        let metrics: DynamicObject = serde_json::from_value(json!({
            "apiVersion": "metrics.k8s.io/v1beta1", "kind": "PodMetrics",
            "metadata": {"name": "runtime-abc-12345"},
            "timestamp": "2026-12-07T15:00:00Z", "window": "15s",
            "containers": [
                {"name": "runtime", "usage": {"cpu": "250m", "memory": "40Mi"}},
                {"name": "cache", "usage": {"cpu": "1234567n", "memory": "2048Ki"}},
                {"name": "odd", "usage": {"cpu": "lots"}}
            ]
        }))
        .unwrap();
        let u = usage(&metrics);
        assert_eq!(u[0], ContainerUsage { name: "runtime".into(), cpu_nanocores: 250_000_000, memory_bytes: 40 << 20 });
        assert_eq!(u[1], ContainerUsage { name: "cache".into(), cpu_nanocores: 1_234_567, memory_bytes: 2 << 20 });
        assert_eq!(u[2], ContainerUsage { name: "odd".into(), cpu_nanocores: 0, memory_bytes: 0 });
    }
}
