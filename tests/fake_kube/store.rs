//! Stored objects, the global resourceVersion counter, uids and names, and the watch event history.

use std::collections::{BTreeMap, VecDeque};
use std::hash::{BuildHasher, RandomState};

use serde_json::{json, Value};
use tokio::sync::watch;

use super::resources::Resource;

/// Events kept for watches; a watch from before the oldest kept event gets 410 Gone.
const HISTORY_LIMIT: usize = 10_000;

/// `(plural, namespace or "", name)`: iteration order is resource, then namespace, then name.
type Key = (&'static str, String, String);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One change, as watches replay it.
#[derive(Debug, Clone)]
pub(crate) struct Event {
    pub rv: u64,
    pub resource: &'static str,
    pub namespace: String,
    pub kind: EventType,
    /// The object after the change (for DELETED: the last state, carrying the deletion's resourceVersion).
    pub object: Value,
    /// The object before the change (none for ADDED).
    pub previous: Option<Value>,
}

pub(crate) struct Store {
    objects: BTreeMap<Key, Value>,
    rv: u64,
    /// Watches from a resourceVersion below this get 410 Gone.
    history_floor: u64,
    events: VecDeque<Event>,
    notify: watch::Sender<u64>,
    seq: u64,
    salt: u64,
}

impl Store {
    pub fn new() -> Self {
        Store {
            objects: BTreeMap::new(),
            rv: 1,
            history_floor: 0,
            events: VecDeque::new(),
            notify: watch::Sender::new(1),
            seq: 0,
            salt: RandomState::new().hash_one(std::process::id()),
        }
    }

    pub fn rv(&self) -> u64 {
        self.rv
    }

    /// A receiver told the latest resourceVersion after every change.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.notify.subscribe()
    }

    pub fn get(&self, res: &Resource, namespace: &str, name: &str) -> Option<&Value> {
        self.objects.get(&(res.plural, namespace.to_string(), name.to_string()))
    }

    /// Objects of `res` (in `namespace`, or all), sorted by namespace then name.
    pub fn list<'a>(&'a self, res: &'static Resource, namespace: Option<&'a str>) -> impl Iterator<Item = &'a Value> {
        let start = (res.plural, namespace.unwrap_or("").to_string(), String::new());
        self.objects
            .range(start..)
            .take_while(move |((plural, ns, _), _)| *plural == res.plural && namespace.is_none_or(|n| n == ns))
            .map(|(_, v)| v)
    }

    pub fn namespace_exists(&self, namespace: &str) -> bool {
        self.objects.contains_key(&("namespaces", String::new(), namespace.to_string()))
    }

    /// Stores `obj` under a new resourceVersion (set into it) and records the event.
    pub fn put(&mut self, res: &'static Resource, mut obj: Value) -> Value {
        self.rv += 1;
        obj["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        let namespace = namespace_of(&obj);
        let key = (res.plural, namespace.clone(), name_of(&obj));
        let previous = self.objects.insert(key, obj.clone());
        let kind = if previous.is_some() { EventType::Modified } else { EventType::Added };
        self.record(Event { rv: self.rv, resource: res.plural, namespace, kind, object: obj.clone(), previous });
        obj
    }

    /// Removes an object; returns its last state carrying the deletion's resourceVersion.
    pub fn remove(&mut self, res: &'static Resource, namespace: &str, name: &str) -> Option<Value> {
        let previous = self.objects.remove(&(res.plural, namespace.to_string(), name.to_string()))?;
        self.rv += 1;
        let mut obj = previous.clone();
        obj["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        let event = Event {
            rv: self.rv,
            resource: res.plural,
            namespace: namespace.to_string(),
            kind: EventType::Deleted,
            object: obj.clone(),
            previous: Some(previous),
        };
        self.record(event);
        Some(obj)
    }

    fn record(&mut self, event: Event) {
        self.events.push_back(event);
        while self.events.len() > HISTORY_LIMIT {
            if let Some(dropped) = self.events.pop_front() {
                self.history_floor = dropped.rv;
            }
        }
        self.notify.send_replace(self.rv);
    }

    /// Events after `rv`, or `Err(oldest resourceVersion still servable)` when history no longer reaches back to `rv`.
    pub fn events_after(&self, rv: u64) -> Result<impl Iterator<Item = &Event>, u64> {
        if rv < self.history_floor {
            return Err(self.history_floor);
        }
        Ok(self.events.iter().filter(move |e| e.rv > rv))
    }

    /// Forgets the event history, as etcd compaction does: older resourceVersions can no longer be watched from.
    pub fn compact(&mut self) {
        self.events.clear();
        self.history_floor = self.rv;
    }

    /// A fresh pseudo-random 64-bit value (not cryptographic; unique per store).
    pub fn random(&mut self) -> u64 {
        self.seq += 1;
        RandomState::new().hash_one((self.salt, self.seq))
    }

    pub fn new_uid(&mut self) -> String {
        let (a, b) = (self.random(), self.random());
        format!(
            "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            b >> 52,
            b & 0xffff_ffff_ffff
        )
    }

    /// `n` characters from the alphabet Kubernetes uses for generated names.
    pub fn random_suffix(&mut self, n: usize) -> String {
        const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
        let mut x = self.random();
        (0..n)
            .map(|_| {
                let c = ALPHABET[(x % ALPHABET.len() as u64) as usize] as char;
                x /= ALPHABET.len() as u64;
                c
            })
            .collect()
    }
}

pub(crate) fn name_of(obj: &Value) -> String {
    obj.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default().to_string()
}

pub(crate) fn namespace_of(obj: &Value) -> String {
    obj.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or_default().to_string()
}
