//! The labels every object tenantd creates carries: how it finds its own objects again and tells
//! what each one is. Objects without `INSTANCE` equal to this daemon's instance are never touched.

pub const INSTANCE: &str = "io.tenantd.instance";
pub const TENANT: &str = "io.tenantd.tenant";
pub const ROLE: &str = "io.tenantd.role";
pub const CONFIG_HASH: &str = "io.tenantd.config-hash";
/// Per-field hashes as `field=hash,field=hash`.
pub const FIELD_HASHES: &str = "io.tenantd.field-hashes";
pub const SPEC_HASH: &str = "io.tenantd.spec-hash";
pub const HOST_PORT: &str = "io.tenantd.host-port";
/// Prefix of labels copied from the spec's metadata.labels.
pub const USER_PREFIX: &str = "io.tenantd.label.";
/// Canonical JSON of the container's replace-class settings when it was created.
pub const APPLIED: &str = "io.tenantd.applied";
/// On the instance's ownership marker: the owning state directory's random id, its host
/// and its path.
pub const OWNER_ID: &str = "io.tenantd.owner-id";
pub const OWNER_HOST: &str = "io.tenantd.owner-host";
pub const OWNER_STATE_DIR: &str = "io.tenantd.owner-state-dir";
/// The role label value of the ownership marker (it has no tenant).
pub const OWNER_ROLE: &str = "owner";
