//! `tenantd explain PATH`: a spec field's documentation, from the published schema.

/// Prints the documentation of the field at `path`; an unknown path is an error (exit 1) that
/// names the last valid part of the path and the closest field.
pub fn run(path: &str) -> anyhow::Result<u8> {
    match crate::spec::explain::explain(path) {
        Ok(text) => {
            print!("{text}");
            Ok(0)
        }
        Err(e) => {
            eprintln!("error: {e}");
            Ok(1)
        }
    }
}
