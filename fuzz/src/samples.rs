//! The repository's sample specs, and the same specs made loadable without a directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde_json::{json, Value};
use tenantd::spec::{BuildContext, LoadedSpec, TenantFile};

/// Every sample spec in the repository, by path.
pub const SAMPLES: &[(&str, &str)] = &[
    ("tenants.d/acme.yaml", include_str!("../../tenants.d/acme.yaml")),
    ("tenants.d/globex.yaml", include_str!("../../tenants.d/globex.yaml")),
    ("examples/tenants/isolated.yaml", include_str!("../../examples/tenants/isolated.yaml")),
    ("examples/tenants/openclaw-agents.yaml", include_str!("../../examples/tenants/openclaw-agents.yaml")),
    ("examples/tenants/registry-image.yaml", include_str!("../../examples/tenants/registry-image.yaml")),
    ("examples/tenants/suspended.yaml", include_str!("../../examples/tenants/suspended.yaml")),
];

/// The image a sample's `build` is replaced with.
pub const STUB_IMAGE: &str = "registry.example/stub-runtime:1";

/// The samples as JSON values, every `build` replaced by [`STUB_IMAGE`] so they load from text.
pub fn bases() -> &'static [Value] {
    static BASES: OnceLock<Vec<Value>> = OnceLock::new();
    BASES.get_or_init(|| {
        SAMPLES
            .iter()
            .map(|(path, text)| {
                let mut v: Value = serde_yaml::from_str(text).unwrap_or_else(|e| panic!("{path}: {e}"));
                let spec = &mut v["spec"];
                unbuild(spec);
                if let Some(sidecars) = spec.get_mut("sidecars").and_then(Value::as_array_mut) {
                    sidecars.iter_mut().for_each(unbuild);
                }
                v
            })
            .collect()
    })
}

fn unbuild(container: &mut Value) {
    if let Some(map) = container.as_object_mut() {
        if map.remove("build").is_some() && !map.contains_key("image") {
            map.insert("image".into(), json!(STUB_IMAGE));
        }
    }
}

/// A parsed file as the loader returns it from a directory: every `build` has a context, here
/// a made-up one (nothing reads it), with a digest of its name.
pub fn loaded(path: &Path, file: TenantFile) -> LoadedSpec {
    let mut contexts = BTreeMap::new();
    let builds = std::iter::once(("/spec/build".to_string(), file.spec.build.as_ref())).chain(
        file.spec.sidecars.iter().enumerate().map(|(i, s)| (format!("/spec/sidecars/{i}/build"), s.build.as_ref())),
    );
    for (pointer, build) in builds {
        if let Some(b) = build {
            let digest: String = b.context.bytes().chain(b.dockerfile.bytes()).map(|c| format!("{c:02x}")).collect();
            let ctx = BuildContext {
                dir: PathBuf::from("/srv/contexts").join(b.context.trim_start_matches('/')),
                dockerfile: b.dockerfile.clone(),
                digest: format!("{digest:0<64}"),
            };
            contexts.insert(pointer, ctx);
        }
    }
    LoadedSpec { path: path.to_path_buf(), file, contexts }
}
