//! The engine's event stream, narrowed to this instance and read as [`EngineEvent`]s.

use std::collections::HashMap;
use std::time::Duration;

use bollard::errors::Error as BollardError;
use bollard::models::{EventMessage, EventMessageTypeEnum};
use bollard::query_parameters::EventsOptionsBuilder;
use futures_util::stream::{self, BoxStream, StreamExt};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::errors::{message, status, unreachable, unreachable_reason, within};
use super::DockerRuntime;
use crate::render::labels;
use crate::runtime::error::{RuntimeError, UnreachableReason};
use crate::runtime::model::{EngineEvent, EngineEventKind};
use crate::spec::TenantName;

/// What the stream's errors name as the failed operation.
const OPERATION: &str = "watch engine events";

impl DockerRuntime {
    /// Subscribes to the events of this instance's containers and networks.
    ///
    /// - The call itself fails (`Unreachable`) when the engine does not answer within the call
    ///   timeout; so does the stream's first item if the subscription gets no reply in time.
    /// - The subscription starts at the engine's clock as read by this call, so events between
    ///   this call and the stream's first poll are not lost.
    /// - The stream yields one error and ends when the connection breaks or the engine closes
    ///   it (`Unreachable`), or when the engine answers with an error (`Engine`).
    /// - Healthcheck execs (`exec_*`) are left out.
    ///
    /// Docker 20.10 puts only a network's name and driver on its events, not its labels, so the
    /// instance filter lets no network event through there. Attachments are followed by a second
    /// subscription, to every network's `connect` and `disconnect`: a container detached from
    /// its tenant's network (named `<instance>_<tenant>`) is a [`EngineEventKind::NetworkDisconnect`]
    /// of that tenant, and any container attached to a network that is no tenant's of this
    /// instance a [`EngineEventKind::NetworkConnect`] without a tenant (Podman names no network:
    /// there both are reported without a tenant). Other changes to networks are noticed by a
    /// resync.
    pub(super) async fn subscribe(
        &self,
    ) -> Result<BoxStream<'static, Result<EngineEvent, RuntimeError>>, RuntimeError> {
        let endpoint = self.endpoint.to_string();
        let call = self.timeouts.call;
        // The client's own deadline only bounds the wait for response headers, which the engine
        // sends as soon as it has subscribed: this one bounds connecting, not the stream.
        let docker = self.client().await?.clone().with_timeout(call.max(Duration::from_secs(1)));
        // Also the check that the engine answers, so a subscription to an engine that is away
        // fails here.
        let since = match within(call, docker.info()).await {
            Ok(info) => info.system_time.as_deref().and_then(since_argument),
            Err(e) => match broken(&endpoint, e) {
                e @ RuntimeError::Unreachable { .. } => return Err(e),
                // It answered, but not in a form this client reads: watch without `since`.
                other => {
                    tracing::debug!(error = %other, "cannot read the engine's clock");
                    None
                }
            },
        };
        if since.is_none() {
            tracing::debug!("events are watched from the stream's first poll");
        }
        let filters = HashMap::from([
            ("label".to_string(), vec![format!("{}={}", labels::INSTANCE, self.instance)]),
            ("type".to_string(), vec!["container".to_string(), "network".to_string()]),
        ]);
        let attachments = HashMap::from([
            ("type".to_string(), vec!["network".to_string()]),
            ("event".to_string(), vec!["connect".to_string(), "disconnect".to_string()]),
        ]);
        let subscription = |filters: &HashMap<String, Vec<String>>| {
            let mut options = EventsOptionsBuilder::new().filters(filters);
            if let Some(since) = &since {
                options = options.since(since);
            }
            // Neither stream has an end of its own: its end (`None`) means the engine closed it.
            docker.events(Some(options.build())).map(Some).chain(stream::once(async { None }))
        };
        let instance = self.instance.clone();
        let labelled = subscription(&filters).map(|m| (Source::Labelled, m));
        let networks = subscription(&attachments).map(|m| (Source::Attachments, m));
        let messages = stream::select(labelled, networks).boxed();

        let events = stream::unfold(Some(messages), move |state| {
            let endpoint = endpoint.clone();
            let instance = instance.clone();
            async move {
                let mut messages = state?;
                loop {
                    let event = match messages.next().await {
                        Some((Source::Labelled, Some(Ok(m)))) => engine_event(m),
                        Some((Source::Attachments, Some(Ok(m)))) => attachment_event(m, &instance),
                        Some((_, Some(Err(e)))) => return Some((Err(broken(&endpoint, e)), None)),
                        Some((_, None)) | None => {
                            let reason = UnreachableReason::Other;
                            return Some((Err(unreachable(&endpoint, reason, None)), None));
                        }
                    };
                    if let Some(event) = event {
                        return Some((Ok(event), Some(messages)));
                    }
                }
            }
        });
        Ok(events.boxed())
    }
}

/// Which subscription a message came from.
#[derive(Debug, Clone, Copy)]
enum Source {
    /// This instance's containers and networks, by label.
    Labelled,
    /// Every network's `connect` and `disconnect`.
    Attachments,
}

/// An error of the open stream: an engine that answered with an error, or sent what is not an
/// event, is an `Engine` error; anything else means the connection is gone.
fn broken(endpoint: &str, err: BollardError) -> RuntimeError {
    let answered = status(&err).is_some()
        || matches!(err, BollardError::JsonDataError { .. } | BollardError::JsonSerdeError { .. });
    if answered {
        return RuntimeError::Engine { operation: OPERATION.into(), message: message(&err) };
    }
    let reason = unreachable_reason(&err).unwrap_or(UnreachableReason::Other);
    unreachable(endpoint, reason, Some(err))
}

/// The engine's RFC 3339 clock as the `since` argument (`seconds.nanoseconds`).
fn since_argument(system_time: &str) -> Option<String> {
    let t = OffsetDateTime::parse(system_time, &Rfc3339).ok()?;
    Some(format!("{}.{:09}", t.unix_timestamp(), t.nanosecond()))
}

/// The event `m` reports, or `None` for what callers do not watch (healthcheck execs, and the
/// attachments the other subscription reports) and messages without an actor.
fn engine_event(m: EventMessage) -> Option<EngineEvent> {
    if m.typ == Some(EventMessageTypeEnum::NETWORK) && matches!(m.action.as_deref(), Some("connect" | "disconnect")) {
        return None;
    }
    let action = m.action?;
    let kind = event_kind(&action)?;
    let actor = m.actor?;
    let tenant = actor.attributes.as_ref().and_then(|a| a.get(labels::TENANT)).and_then(|t| t.parse().ok());
    Some(EngineEvent { tenant, kind, id: actor.id? })
}

/// The attachment event `m` reports: a container detached from a tenant network of
/// `instance`, or attached to a network that is none; `None` for anything else. Docker's event
/// is the network's, naming it and the container; Podman's is the container's, naming no
/// network: its detachments are reported without a tenant, and all its attachments.
fn attachment_event(m: EventMessage, instance: &TenantName) -> Option<EngineEvent> {
    if m.typ != Some(EventMessageTypeEnum::NETWORK) {
        return None;
    }
    let actor = m.actor?;
    let attributes = actor.attributes.unwrap_or_default();
    let (container, network) = match attributes.get("container") {
        Some(c) => (c.clone(), attributes.get("name").map(|n| tenant_of_network(n, instance))),
        None => (actor.id?, None),
    };
    let (tenant, kind) = match (m.action.as_deref()?, network) {
        ("disconnect", Some(Some(tenant))) => (Some(tenant), EngineEventKind::NetworkDisconnect),
        ("disconnect", None) => (None, EngineEventKind::NetworkDisconnect),
        ("connect", Some(None) | None) => (None, EngineEventKind::NetworkConnect),
        _ => return None,
    };
    Some(EngineEvent { tenant, kind, id: container })
}

/// The tenant whose network `name` is, when it is one of `instance`'s (`<instance>_<tenant>`).
fn tenant_of_network(name: &str, instance: &TenantName) -> Option<TenantName> {
    name.strip_prefix(instance.as_str())?.strip_prefix('_')?.parse().ok()
}

/// The kind of an action as the engine names it (`die`, `health_status: healthy`, …); `None`
/// for `exec_*` actions.
fn event_kind(action: &str) -> Option<EngineEventKind> {
    Some(match action {
        "die" => EngineEventKind::Die,
        "oom" => EngineEventKind::Oom,
        "destroy" => EngineEventKind::Destroy,
        "start" => EngineEventKind::Start,
        "stop" => EngineEventKind::Stop,
        "update" => EngineEventKind::Update,
        a if a.starts_with("health_status") => EngineEventKind::HealthStatus,
        a if a.starts_with("exec_") => return None,
        other => EngineEventKind::Other(other.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use bollard::models::EventActor;

    use super::*;

    fn message(action: &str, attributes: &[(&str, &str)]) -> EventMessage {
        EventMessage {
            action: Some(action.into()),
            actor: Some(EventActor {
                id: Some("c0ffee".into()),
                attributes: Some(attributes.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn actions_map_to_kinds() {
        let cases = [
            ("die", EngineEventKind::Die),
            ("oom", EngineEventKind::Oom),
            ("health_status: healthy", EngineEventKind::HealthStatus),
            ("health_status: unhealthy", EngineEventKind::HealthStatus),
            ("health_status", EngineEventKind::HealthStatus),
            ("destroy", EngineEventKind::Destroy),
            ("start", EngineEventKind::Start),
            ("stop", EngineEventKind::Stop),
            ("update", EngineEventKind::Update),
            ("kill", EngineEventKind::Other("kill".into())),
            ("rename", EngineEventKind::Other("rename".into())),
        ];
        for (action, kind) in cases {
            assert_eq!(event_kind(action), Some(kind), "{action}");
        }
        for exec in [
            "exec_create: /stub-runtime probe http://127.0.0.1:18789/health",
            "exec_start: /stub-runtime probe",
            "exec_die",
        ] {
            assert_eq!(event_kind(exec), None, "{exec}");
        }
    }

    #[test]
    fn tenant_comes_from_the_actor_label_when_valid() {
        let e = engine_event(message("die", &[(labels::TENANT, "acme"), ("exitCode", "137")])).unwrap();
        assert_eq!(
            (e.tenant.as_ref().map(|t| t.as_str()), &e.kind, e.id.as_str()),
            (Some("acme"), &EngineEventKind::Die, "c0ffee")
        );
        let invalid = engine_event(message("die", &[(labels::TENANT, "Not A Name")])).unwrap();
        assert_eq!(invalid.tenant, None);
        assert_eq!(engine_event(message("destroy", &[])).unwrap().tenant, None);
        assert_eq!(engine_event(message("exec_die", &[(labels::TENANT, "acme")])), None);
        let no_actor = EventMessage { action: Some("die".into()), ..Default::default() };
        assert_eq!(engine_event(no_actor), None);
    }

    fn network_message(action: &str, network: &str) -> EventMessage {
        EventMessage {
            typ: Some(EventMessageTypeEnum::NETWORK),
            action: Some(action.into()),
            actor: Some(EventActor {
                id: Some("net1".into()),
                attributes: Some(
                    [("container", "c0ffee"), ("name", network), ("type", "bridge")]
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                ),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn attachments_name_the_tenant_by_its_network_or_the_container_alone() {
        let instance: TenantName = "prod".parse().unwrap();
        let detached = attachment_event(network_message("disconnect", "prod_acme"), &instance).unwrap();
        assert_eq!(
            (detached.tenant.as_ref().map(|t| t.as_str()), &detached.kind, detached.id.as_str()),
            (Some("acme"), &EngineEventKind::NetworkDisconnect, "c0ffee")
        );
        let attached = attachment_event(network_message("connect", "bridge"), &instance).unwrap();
        assert_eq!((attached.tenant, attached.kind), (None, EngineEventKind::NetworkConnect));
        // Its own network being attached to is no drift, and other instances' are not looked at.
        assert_eq!(attachment_event(network_message("connect", "prod_acme"), &instance), None);
        assert_eq!(attachment_event(network_message("disconnect", "prod2_acme"), &instance), None);
        assert_eq!(attachment_event(network_message("disconnect", "bridge"), &instance), None);
        assert_eq!(attachment_event(network_message("disconnect", "prod_acme_x"), &instance), None);
        // The labelled subscription leaves attachments to this one.
        assert_eq!(engine_event(network_message("disconnect", "prod_acme")), None);

        // Podman's are the container's, without the network: the container is named alone.
        let podman = |action: &str| EventMessage {
            typ: Some(EventMessageTypeEnum::NETWORK),
            action: Some(action.into()),
            actor: Some(EventActor {
                id: Some("c0ffee".into()),
                attributes: Some([("name".to_string(), "prod_acme".to_string())].into()),
            }),
            ..Default::default()
        };
        for (action, kind) in
            [("disconnect", EngineEventKind::NetworkDisconnect), ("connect", EngineEventKind::NetworkConnect)]
        {
            assert_eq!(
                attachment_event(podman(action), &instance),
                Some(EngineEvent { tenant: None, kind, id: "c0ffee".into() })
            );
        }
    }

    #[test]
    fn the_engine_clock_becomes_a_since_argument() {
        assert_eq!(since_argument("2026-11-22T09:29:17.595632826Z").as_deref(), Some("1795339757.595632826"));
        assert_eq!(since_argument("2026-11-22T10:29:17+01:00").as_deref(), Some("1795339757.000000000"));
        assert_eq!(since_argument("yesterday"), None);
    }

    #[test]
    fn a_dropped_connection_is_unreachable_and_an_engine_reply_is_not() {
        let dropped = BollardError::IOError { err: std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "eof") };
        assert!(broken("unix:///x.sock", dropped).is_unreachable());
        let odd = BollardError::IOError { err: std::io::Error::other("connection closed before message completed") };
        assert!(broken("unix:///x.sock", odd).is_unreachable());
        let refused = BollardError::DockerResponseServerError { status_code: 400, message: "invalid filter".into() };
        assert!(matches!(broken("unix:///x.sock", refused), RuntimeError::Engine { .. }));
    }
}
