//! URL routing: paths to resources, collections and objects; query strings; `/version` and the
//! discovery documents (`/api`, `/apis`, `/api/v1`, `/apis/{group}/{version}`).

use serde_json::{json, Value};

use super::resources::{self, Resource, GROUPS, RESOURCES};

/// What a path addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route {
    Version,
    Health,
    Discovery(Discovery),
    /// A collection; `namespace` None for cluster-scoped resources and all-namespace lists.
    Collection {
        res: &'static Resource,
        namespace: Option<String>,
    },
    Object {
        res: &'static Resource,
        namespace: Option<String>,
        name: String,
    },
    /// `…/namespaces/{namespace}/pods/{name}/exec`.
    PodExec {
        namespace: String,
        name: String,
    },
    /// `…/namespaces/{namespace}/pods/{name}/log`.
    PodLog {
        namespace: String,
        name: String,
    },
    /// PodMetrics of `metrics.k8s.io/v1beta1`: a list (`name` None) or one.
    PodMetrics {
        namespace: Option<String>,
        name: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Discovery {
    CoreVersions,
    Groups,
    Resources(&'static str, &'static str),
}

/// The route of `path`, or None (404) when the fake does not serve it.
pub(crate) fn route(path: &str) -> Option<Route> {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match segments.as_slice() {
        ["version"] => Some(Route::Version),
        ["healthz" | "livez" | "readyz"] => Some(Route::Health),
        ["api"] => Some(Route::Discovery(Discovery::CoreVersions)),
        ["apis"] => Some(Route::Discovery(Discovery::Groups)),
        ["api", "v1"] => Some(Route::Discovery(Discovery::Resources("", "v1"))),
        ["apis", group, version] => {
            let (group, version) = GROUPS.iter().find(|(g, v)| g == group && v == version)?;
            Some(Route::Discovery(Discovery::Resources(group, version)))
        }
        ["apis", "metrics.k8s.io", "v1beta1", rest @ ..] => metrics_route(rest),
        ["api", "v1", "namespaces", namespace, "pods", name, "log"] => {
            Some(Route::PodLog { namespace: namespace.to_string(), name: name.to_string() })
        }
        ["api", "v1", "namespaces", namespace, "pods", name, "exec"] => {
            Some(Route::PodExec { namespace: namespace.to_string(), name: name.to_string() })
        }
        ["api", "v1", rest @ ..] => resource_route("", "v1", rest),
        ["apis", group, version, rest @ ..] => resource_route(group, version, rest),
        _ => None,
    }
}

fn resource_route(group: &str, version: &str, rest: &[&str]) -> Option<Route> {
    match rest {
        ["namespaces", namespace, plural, tail @ ..] => {
            let res = resources::lookup(group, version, plural).filter(|r| r.namespaced)?;
            let namespace = Some(namespace.to_string());
            match tail {
                [] => Some(Route::Collection { res, namespace }),
                [name] => Some(Route::Object { res, namespace, name: name.to_string() }),
                _ => None,
            }
        }
        [plural] => Some(Route::Collection { res: resources::lookup(group, version, plural)?, namespace: None }),
        [plural, name] => {
            let res = resources::lookup(group, version, plural).filter(|r| !r.namespaced)?;
            Some(Route::Object { res, namespace: None, name: name.to_string() })
        }
        _ => None,
    }
}

fn metrics_route(rest: &[&str]) -> Option<Route> {
    let (namespace, name) = match rest {
        ["pods"] => (None, None),
        ["pods", name] => (None, Some(name)),
        ["namespaces", namespace, "pods"] => (Some(namespace), None),
        ["namespaces", namespace, "pods", name] => (Some(namespace), Some(name)),
        _ => return None,
    };
    Some(Route::PodMetrics { namespace: namespace.map(|n| n.to_string()), name: name.map(|n| n.to_string()) })
}

/// A parsed query string.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Query(Vec<(String, String)>);

impl Query {
    pub fn parse(raw: &str) -> Self {
        let pairs = raw
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|pair| {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                (percent_decode(k), percent_decode(v))
            })
            .collect();
        Query(pairs)
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// Every value of a repeated parameter, in order.
    pub fn all(&self, key: &str) -> Vec<String> {
        self.0.iter().filter(|(k, _)| k == key).map(|(_, v)| v.clone()).collect()
    }

    /// A boolean parameter: `true` or `1`.
    pub fn flag(&self, key: &str) -> bool {
        matches!(self.get(key), Some("true" | "1"))
    }
}

/// `application/x-www-form-urlencoded` decoding (`+` is a space; bad escapes are kept verbatim).
fn percent_decode(s: &str) -> String {
    fn hex(b: u8) -> Option<u8> {
        char::from(b).to_digit(16).and_then(|d| u8::try_from(d).ok())
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = match bytes.get(i..i + 3) {
            Some([b'%', hi, lo]) => hex(*hi).zip(hex(*lo)).map(|(hi, lo)| hi * 16 + lo),
            _ => None,
        };
        match (escaped, bytes[i]) {
            (Some(b), _) => {
                out.push(b);
                i += 3;
            }
            (None, b'+') => {
                out.push(b' ');
                i += 1;
            }
            (None, b) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `GET /version`.
pub(crate) fn version() -> Value {
    json!({
        "major": "1",
        "minor": "37",
        "gitVersion": "v1.37.0-fake",
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.25.0",
        "compiler": "gc",
        "platform": "linux/amd64",
    })
}

/// A discovery document; `server` is the address clients reach the fake at.
pub(crate) fn discovery(doc: Discovery, server: &str) -> Value {
    match doc {
        Discovery::CoreVersions => json!({
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server}],
        }),
        Discovery::Groups => {
            let groups: Vec<Value> = GROUPS
                .iter()
                .map(|(group, version)| {
                    let gv = json!({"groupVersion": format!("{group}/{version}"), "version": version});
                    json!({"name": group, "versions": [gv.clone()], "preferredVersion": gv})
                })
                .collect();
            json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
        }
        Discovery::Resources(group, version) => {
            let mut list = Vec::new();
            for r in RESOURCES.iter().filter(|r| r.group == group && r.version == version) {
                list.push(json!({
                    "name": r.plural,
                    "singularName": r.kind.to_lowercase(),
                    "namespaced": r.namespaced,
                    "kind": r.kind,
                    "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
                }));
            }
            let group_version = if group.is_empty() { version.to_string() } else { format!("{group}/{version}") };
            json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": list})
        }
    }
}
