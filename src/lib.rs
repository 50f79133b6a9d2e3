//! tenantd: a declarative reconcile daemon driven by files. One YAML file per tenant in
//! `tenants.d/`; each pass loads the specs, observes the runtime, plans, applies and writes status.

pub mod cli;
pub mod config;
pub mod daemon;
pub mod health;
pub mod host_firewall;
pub mod hostdir;
pub mod ingress;
pub mod plan;
pub mod ports;
pub mod reconcile;
pub mod render;
pub mod runtime;
pub mod secret;
pub mod secrets;
pub mod spec;
pub mod status;
pub mod suggest;
