//! Build contexts: a spec's `build.context` resolved to a directory on disk, checked to hold the
//! Dockerfile, within the size limit, and digested (over exactly what is sent to the engine, see
//! [`super::context_files`]) so that a changed file in it means a new image.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Component, Path};

use super::context_files::context_digest;
use super::types::{BuildSpec, TenantFile};
use super::validate::Violation;
use super::BuildContext;

/// Resolves every `build` of `file` against the directory of `spec_path`, keyed by the JSON
/// pointer of the build object.
pub fn resolve_contexts(file: &TenantFile, spec_path: &Path) -> Result<BTreeMap<String, BuildContext>, Vec<Violation>> {
    let base = match spec_path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let builds = std::iter::once(("/spec/build".to_string(), file.spec.build.as_ref())).chain(
        file.spec.sidecars.iter().enumerate().map(|(i, s)| (format!("/spec/sidecars/{i}/build"), s.build.as_ref())),
    );
    let mut contexts = BTreeMap::new();
    let mut errors = Vec::new();
    for (pointer, build) in builds {
        let Some(build) = build else { continue };
        match resolve(build, base, &pointer) {
            Ok(ctx) => {
                contexts.insert(pointer, ctx);
            }
            Err(v) => errors.push(v),
        }
    }
    if errors.is_empty() {
        Ok(contexts)
    } else {
        Err(errors)
    }
}

fn resolve(build: &BuildSpec, base: &Path, pointer: &str) -> Result<BuildContext, Violation> {
    let at_context = |message: String| Violation::at(format!("{pointer}/context"), message);
    let at_dockerfile = |message: String| Violation::at(format!("{pointer}/dockerfile"), message);
    let wanted = base.join(&build.context);
    let dir = fs::canonicalize(&wanted).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => {
            at_context(format!("build context {:?} does not exist (looked for {})", build.context, wanted.display()))
        }
        _ => at_context(format!("build context {:?} cannot be resolved ({}): {e}", build.context, wanted.display())),
    })?;
    if !dir.is_dir() {
        return Err(at_context(format!("build context {:?} is not a directory ({})", build.context, dir.display())));
    }
    let dockerfile = Path::new(&build.dockerfile);
    if !dockerfile.components().all(|c| matches!(c, Component::Normal(_) | Component::CurDir)) {
        return Err(at_dockerfile(format!(
            "dockerfile {:?} must be a relative path inside the build context, without '..'",
            build.dockerfile
        )));
    }
    let found = fs::canonicalize(dir.join(dockerfile)).ok().filter(|p| p.starts_with(&dir) && p.is_file());
    if found.is_none() {
        return Err(at_dockerfile(format!(
            "dockerfile {:?} is not a file inside the build context {}",
            build.dockerfile,
            dir.display()
        )));
    }
    let digest = context_digest(&dir, &build.dockerfile).map_err(|e| at_context(e.to_string()))?;
    Ok(BuildContext { dir, dockerfile: build.dockerfile.clone(), digest })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;
    use std::path::PathBuf;

    fn file_with(dir: &Path, build: &str) -> (TenantFile, PathBuf) {
        let text = format!("apiVersion: tenantd/v1\nkind: Tenant\nmetadata: {{name: acme}}\nspec:\n  build: {build}\n");
        (serde_yaml::from_str(&text).unwrap(), dir.join("acme.yaml"))
    }

    fn write(path: &Path, content: &str) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, content).unwrap();
    }

    fn digest_of(dir: &Path) -> String {
        let (file, spec) = file_with(dir, "{context: ctx}");
        resolve_contexts(&file, &spec).unwrap()["/spec/build"].digest.clone()
    }

    #[test]
    fn a_context_resolves_relative_to_the_spec_and_is_canonical() {
        let tmp = tempfile::tempdir().unwrap();
        write(&tmp.path().join("ctx/Dockerfile"), "FROM scratch\n");
        let (file, spec) = file_with(tmp.path(), "{context: ./ctx/../ctx}");
        let contexts = resolve_contexts(&file, &spec).unwrap();
        let ctx = &contexts["/spec/build"];
        assert_eq!(ctx.dir, fs::canonicalize(tmp.path().join("ctx")).unwrap());
        assert_eq!(ctx.dockerfile, "Dockerfile");
        assert_eq!(ctx.digest.len(), 64);
    }

    #[test]
    fn the_digest_covers_the_whole_context_dot_directories_included_and_nothing_outside() {
        let tmp = tempfile::tempdir().unwrap();
        let ctx = tmp.path().join("ctx");
        write(&ctx.join("Dockerfile"), "FROM scratch\n");
        write(&ctx.join(".cache/y"), "y");
        let d0 = digest_of(tmp.path());
        assert_eq!(digest_of(tmp.path()), d0, "the digest is deterministic");

        write(&tmp.path().join("unrelated.txt"), "z");
        assert_eq!(digest_of(tmp.path()), d0, "files outside do not count");

        write(&ctx.join(".cache/y"), "changed");
        let d1 = digest_of(tmp.path());
        assert_ne!(d1, d0, "a file under a dot-directory counts");

        fs::set_permissions(ctx.join(".cache/y"), fs::Permissions::from_mode(0o755)).unwrap();
        assert_ne!(digest_of(tmp.path()), d1, "modes count");
    }

    #[test]
    fn a_context_over_the_limit_is_refused_at_its_field() {
        let tmp = tempfile::tempdir().unwrap();
        write(&tmp.path().join("ctx/Dockerfile"), "FROM scratch\n");
        fs::create_dir_all(tmp.path().join("ctx/.big")).unwrap();
        // Sparse: large on paper, nothing on disk, never read.
        fs::File::create(tmp.path().join("ctx/.big/blob")).unwrap().set_len(300 << 20).unwrap();
        let (file, spec) = file_with(tmp.path(), "{context: ctx}");
        let errors = resolve_contexts(&file, &spec).unwrap_err();
        assert_eq!(errors[0].pointer, "/spec/build/context");
        assert!(errors[0].message.contains("holds more than 256 MiB, the limit"), "{}", errors[0].message);
    }

    #[test]
    fn missing_contexts_and_dockerfiles_are_reported_at_their_field() {
        let tmp = tempfile::tempdir().unwrap();
        write(&tmp.path().join("ctx/Dockerfile"), "FROM scratch\n");
        write(&tmp.path().join("outside"), "FROM scratch\n");
        write(&tmp.path().join("afile"), "");
        let cases = [
            ("{context: nope}", "/spec/build/context", "does not exist"),
            ("{context: afile}", "/spec/build/context", "not a directory"),
            ("{context: ctx, dockerfile: Other}", "/spec/build/dockerfile", "is not a file inside"),
            ("{context: ctx, dockerfile: ../outside}", "/spec/build/dockerfile", "without '..'"),
            ("{context: ctx, dockerfile: /etc/passwd}", "/spec/build/dockerfile", "relative path"),
        ];
        for (build, pointer, words) in cases {
            let (file, spec) = file_with(tmp.path(), build);
            let errors = resolve_contexts(&file, &spec).unwrap_err();
            assert_eq!(errors.len(), 1, "{build}: {errors:?}");
            assert_eq!(errors[0].pointer, pointer, "{build}");
            assert!(errors[0].message.contains(words), "{build}: {}", errors[0].message);
        }
    }

    #[test]
    fn a_dockerfile_symlinked_out_of_the_context_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        write(&tmp.path().join("outside/Dockerfile"), "FROM scratch\n");
        fs::create_dir_all(tmp.path().join("ctx")).unwrap();
        std::os::unix::fs::symlink(tmp.path().join("outside/Dockerfile"), tmp.path().join("ctx/Dockerfile")).unwrap();
        let (file, spec) = file_with(tmp.path(), "{context: ctx}");
        assert_eq!(resolve_contexts(&file, &spec).unwrap_err()[0].pointer, "/spec/build/dockerfile");
    }

    #[test]
    fn two_builds_of_one_context_with_different_dockerfiles_differ() {
        let tmp = tempfile::tempdir().unwrap();
        write(&tmp.path().join("ctx/Dockerfile"), "FROM scratch\n");
        write(&tmp.path().join("ctx/Dockerfile.dev"), "FROM scratch\n");
        let text = "apiVersion: tenantd/v1\nkind: Tenant\nmetadata: {name: acme}\nspec:\n  build: {context: ctx}\n  sidecars:\n    - {name: dev, build: {context: ctx, dockerfile: Dockerfile.dev}}\n";
        let file: TenantFile = serde_yaml::from_str(text).unwrap();
        let contexts = resolve_contexts(&file, &tmp.path().join("a.yaml")).unwrap();
        assert_eq!(contexts.keys().collect::<Vec<_>>(), ["/spec/build", "/spec/sidecars/0/build"]);
        assert_ne!(contexts["/spec/build"].digest, contexts["/spec/sidecars/0/build"].digest);
    }
}
