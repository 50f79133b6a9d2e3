//! `tenantd explain PATH`: a spec field's documentation, from the published schema.

pub fn run(path: &str) -> anyhow::Result<u8> {
    let _ = path;
    anyhow::bail!("tenantd explain is not available yet")
}
