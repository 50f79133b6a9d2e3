//! The stub runtime image the integration tests run tenants from, built once per test process.

// Every test binary includes the support module, and not all of them start tenants.
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

/// The tag the tests use; the quickstart builds its own tag with the same script.
pub const STUB_IMAGE: &str = "tenantd-stub:test";

/// Returns the tag of an up-to-date stub runtime image, building it on the first call in this
/// process. Safe to call from concurrent tests and concurrent test binaries: the build script
/// serialises its own builds, and building the same tag twice is harmless.
///
/// Panics with the build script's output when the image cannot be built.
pub fn stub_image() -> String {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(build);
    STUB_IMAGE.to_string()
}

fn build() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/build-stub-image.sh");
    let output = Command::new(&script)
        .arg(STUB_IMAGE)
        .output()
        .unwrap_or_else(|err| panic!("cannot run {}: {err}", script.display()));
    assert!(
        output.status.success(),
        "{} {STUB_IMAGE} failed ({}):\n{}",
        script.display(),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}
