//! Observing this instance (or one tenant of it) on a cluster: one list per kind, filtered by
//! the instance label, grouped by tenant; the runtime pod's containers; and namespaces of
//! other owners that hold a name a tenant wants.

use std::collections::{BTreeMap, BTreeSet};

use futures_util::future::try_join_all;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DynamicObject, ListParams};
use serde_json::Value;

use super::errors::{fail, within};
use super::secret::values_intact;
use super::KubernetesRuntime;
use crate::render::kubernetes::{namespace_name, ObjectKind, APPLIED_HASH};
use crate::render::labels;
use crate::runtime::model::{ForeignObject, ObservedObject, ObservedTenant, ObservedWorld};
use crate::runtime::RuntimeError;
use crate::spec::TenantName;

impl KubernetesRuntime {
    /// Everything of the instance (`tenant` = `None`) or of one tenant, plus the namespaces
    /// among `names` that exist without this instance's label.
    pub(super) async fn observe_scope(
        &self,
        tenant: Option<&TenantName>,
        names: &[String],
    ) -> Result<ObservedWorld, RuntimeError> {
        let mut selector = format!("{}={}", labels::INSTANCE, self.instance);
        if let Some(t) = tenant {
            selector.push_str(&format!(",{}={t}", labels::TENANT));
        }
        let params = ListParams::default().labels(&selector);
        let namespace = tenant.map(|t| namespace_name(&self.instance, t));
        let kinds = ObjectKind::ALL;
        let lists = try_join_all(kinds.iter().map(|kind| self.list(*kind, namespace.as_deref(), &params)));
        let pods = async {
            let api: Api<Pod> = match &namespace {
                Some(ns) => Api::namespaced(self.client.clone(), ns),
                None => Api::all(self.client.clone()),
            };
            within(api.list(&params)).await.map_err(|e| fail(&self.endpoint, "list pods", e, false))
        };
        let (lists, pods) = tokio::try_join!(lists, pods)?;

        let mut world = ObservedWorld::default();
        for (kind, objects) in kinds.iter().zip(lists) {
            for o in objects {
                let Some((t, observed)) = self.observed_object(*kind, o) else { continue };
                let entry = world.tenants.entry(t.clone()).or_insert_with(|| ObservedTenant::empty(t));
                if *kind == ObjectKind::PersistentVolumeClaim {
                    entry.volumes.push(observed.name.clone());
                }
                entry.objects.push(observed);
            }
        }
        let mut pods_by_tenant: BTreeMap<TenantName, Vec<Pod>> = BTreeMap::new();
        for p in pods.items {
            if let Some(t) = self.tenant_of(p.metadata.labels.as_ref(), p.metadata.namespace.as_deref()) {
                pods_by_tenant.entry(t).or_default().push(p);
            }
        }
        for (t, pods) in pods_by_tenant {
            if let (Some(entry), Some(pod)) = (world.tenants.get_mut(&t), super::pods::current(&pods)) {
                entry.containers = super::pods::containers(pod);
                entry.containers.sort_by(|a, b| a.role.cmp(&b.role).then_with(|| a.name.cmp(&b.name)));
            }
        }
        let ours: BTreeSet<String> = world.tenants.keys().map(|t| namespace_name(&self.instance, t)).collect();
        world.foreign = self.foreign_namespaces(names.iter().filter(|n| !ours.contains(*n))).await?;
        Ok(world)
    }

    async fn list(
        &self,
        kind: ObjectKind,
        namespace: Option<&str>,
        params: &ListParams,
    ) -> Result<Vec<DynamicObject>, RuntimeError> {
        let api = match (kind.namespaced(), namespace) {
            (true, Some(ns)) => self.api(kind, Some(ns)),
            _ => self.api(kind, None),
        };
        let operation = format!("list {}", kind.plural());
        let list = within(api.list(params)).await.map_err(|e| fail(&self.endpoint, operation, e, false))?;
        Ok(list.items)
    }

    /// The tenant an object with these labels belongs to, when it lives where that tenant's
    /// objects live.
    fn tenant_of(&self, labels: Option<&BTreeMap<String, String>>, namespace: Option<&str>) -> Option<TenantName> {
        let t: TenantName = labels?.get(labels::TENANT)?.parse().ok()?;
        let home = namespace_name(&self.instance, &t);
        (namespace.is_none_or(|ns| ns == home)).then_some(t)
    }

    fn observed_object(&self, kind: ObjectKind, o: DynamicObject) -> Option<(TenantName, ObservedObject)> {
        let name = o.metadata.name.clone()?;
        let namespace = if kind.namespaced() { o.metadata.namespace.as_deref() } else { None };
        if kind == ObjectKind::Namespace && super::owner::is_owner_marker(o.metadata.labels.as_ref()) {
            return None;
        }
        let Some(tenant) = self.tenant_of(o.metadata.labels.as_ref(), namespace) else {
            tracing::warn!(kind = %kind, name = %name, "object of this instance without a valid tenant label, or outside its tenant's namespace; ignored");
            return None;
        };
        if kind == ObjectKind::Namespace && name != namespace_name(&self.instance, &tenant) {
            return None;
        }
        let uid = o.metadata.uid.clone().unwrap_or_default();
        let applied_hash = o.metadata.annotations.as_ref().and_then(|a| a.get(APPLIED_HASH)).cloned();
        let mut live = serde_json::to_value(&o).unwrap_or(Value::Null);
        if let Value::Object(map) = &mut live {
            map.insert("apiVersion".into(), kind.api_version().into());
            map.insert("kind".into(), kind.to_string().into());
            if let Some(Value::Object(meta)) = map.get_mut("metadata") {
                meta.remove("managedFields");
            }
        }
        let values_intact = kind != ObjectKind::Secret || values_intact(&mut live);
        Some((tenant, ObservedObject { kind, name, uid, applied_hash, live, values_intact }))
    }

    /// Namespaces among `names` that exist but are not this instance's.
    async fn foreign_namespaces(
        &self,
        names: impl Iterator<Item = &String>,
    ) -> Result<Vec<ForeignObject>, RuntimeError> {
        let api: Api<DynamicObject> = self.api(ObjectKind::Namespace, None);
        let checks = names.map(|name| {
            let api = api.clone();
            async move {
                match within(api.get_opt(name)).await {
                    Ok(Some(_)) => Ok(Some(ForeignObject { kind: "namespace".into(), name: name.clone() })),
                    Ok(None) => Ok(None),
                    Err(e) => Err(fail(&self.endpoint, format!("get namespace {name}"), e, false)),
                }
            }
        });
        Ok(try_join_all(checks).await?.into_iter().flatten().collect())
    }
}
