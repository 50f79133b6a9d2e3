//! The cluster's changes to this instance's objects as engine events: one watch per kind,
//! filtered by the instance label. An event only names the tenant; the controller looks again.

use futures_util::stream::{self, BoxStream, StreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DynamicObject};
use kube::runtime::watcher::{self, Event};
use kube::Resource;

use super::KubernetesRuntime;
use crate::render::kubernetes::ObjectKind;
use crate::render::labels;
use crate::runtime::model::{EngineEvent, EngineEventKind};
use crate::runtime::RuntimeError;

impl KubernetesRuntime {
    pub(super) fn watch(&self) -> BoxStream<'static, Result<EngineEvent, RuntimeError>> {
        let config = watcher::Config::default().labels(&format!("{}={}", labels::INSTANCE, self.instance));
        let mut streams: Vec<BoxStream<'static, Result<EngineEvent, RuntimeError>>> = ObjectKind::ALL
            .into_iter()
            .map(|kind| {
                let api: Api<DynamicObject> = self.api(kind, None);
                let endpoint = self.endpoint.clone();
                watcher::watcher(api, config.clone())
                    .filter_map(move |e| {
                        let endpoint = endpoint.clone();
                        async move { event(e, &endpoint, EngineEventKind::Update, EngineEventKind::Destroy) }
                    })
                    .boxed()
            })
            .collect();
        let pods: Api<Pod> = Api::all(self.client.clone());
        let endpoint = self.endpoint.clone();
        streams.push(
            watcher::watcher(pods, config)
                .filter_map(move |e| {
                    let endpoint = endpoint.clone();
                    async move { event(e, &endpoint, EngineEventKind::HealthStatus, EngineEventKind::Die) }
                })
                .boxed(),
        );
        // The first error ends the stream: the caller subscribes again, and looks at everything.
        stream::select_all(streams)
            .scan(false, |failed, item| {
                let out = if *failed { None } else { Some(item) };
                *failed = out.as_ref().is_some_and(|i| i.is_err());
                std::future::ready(out)
            })
            .boxed()
    }
}

/// An applied or deleted object as an event about its tenant; the watcher's initial listing is
/// not news (the caller looks at everything when it subscribes).
fn event<K: Resource>(
    e: Result<Event<K>, watcher::Error>,
    endpoint: &str,
    applied: EngineEventKind,
    deleted: EngineEventKind,
) -> Option<Result<EngineEvent, RuntimeError>> {
    let (object, kind) = match e {
        Ok(Event::Apply(o)) => (o, applied),
        Ok(Event::Delete(o)) => (o, deleted),
        Ok(Event::Init | Event::InitApply(_) | Event::InitDone) => return None,
        Err(e) => {
            return Some(Err(RuntimeError::Engine { operation: format!("watch {endpoint}"), message: e.to_string() }))
        }
    };
    let meta = object.meta();
    let tenant = meta.labels.as_ref().and_then(|l| l.get(labels::TENANT)).and_then(|t| t.parse().ok());
    Some(Ok(EngineEvent { tenant, kind, id: meta.uid.clone().unwrap_or_default() }))
}
