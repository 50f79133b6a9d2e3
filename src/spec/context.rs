//! Build contexts: a spec's `build.context` resolved to a directory on disk, checked to hold the
//! Dockerfile, and digested so that a changed file in it means a new image.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

use sha2::{Digest, Sha256};

use super::types::{BuildSpec, TenantFile};
use super::validate::Violation;
use super::BuildContext;

/// Build contexts whose files add up to more than this are refused.
pub const MAX_CONTEXT_BYTES: u64 = 256 << 20;

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
    let Some(dockerfile_path) = found else {
        return Err(at_dockerfile(format!(
            "dockerfile {:?} is not a file inside the build context {}",
            build.dockerfile,
            dir.display()
        )));
    };
    let digest = digest(&dir, &build.dockerfile, &dockerfile_path).map_err(at_context)?;
    Ok(BuildContext { dir, dockerfile: build.dockerfile.clone(), digest })
}

/// What the digest covers of one entry below the context.
enum Entry {
    File { path: PathBuf, executable: bool },
    Symlink { target: PathBuf },
}

/// SHA-256 over the sorted (relative path, executable bit, content digest) of every regular file
/// below `dir` and the target of every symlink (not followed), skipping `.git`, `target` and other
/// dot-directories; then the Dockerfile's name and content, which may live in a skipped directory
/// and which tells two builds of one context apart.
fn digest(dir: &Path, dockerfile_name: &str, dockerfile: &Path) -> Result<String, String> {
    let mut entries = Vec::new();
    let mut total = 0u64;
    walk(dir, &mut Vec::new(), &mut entries, &mut total)?;
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    let mut outer = Sha256::new();
    for (relative, entry) in &entries {
        outer.update((relative.len() as u64).to_le_bytes());
        outer.update(relative);
        match entry {
            Entry::File { path, executable } => {
                outer.update([b'f', u8::from(*executable)]);
                outer.update(file_digest(path)?);
            }
            Entry::Symlink { target } => {
                let target = target.as_os_str().as_bytes();
                outer.update([b'l']);
                outer.update((target.len() as u64).to_le_bytes());
                outer.update(target);
            }
        }
    }
    outer.update([b'D']);
    outer.update((dockerfile_name.len() as u64).to_le_bytes());
    outer.update(dockerfile_name.as_bytes());
    outer.update(file_digest(dockerfile)?);
    Ok(hex::encode(outer.finalize()))
}

fn file_digest(path: &Path) -> Result<[u8; 32], String> {
    let mut hasher = Sha256::new();
    let mut file = fs::File::open(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    io::copy(&mut file, &mut hasher).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    Ok(hasher.finalize().into())
}

fn walk(dir: &Path, relative: &mut Vec<u8>, out: &mut Vec<(Vec<u8>, Entry)>, total: &mut u64) -> Result<(), String> {
    let unreadable = |p: &Path, e: io::Error| format!("cannot read {} in the build context: {e}", p.display());
    for entry in fs::read_dir(dir).map_err(|e| unreadable(dir, e))? {
        let entry = entry.map_err(|e| unreadable(dir, e))?;
        let path = entry.path();
        let name = entry.file_name();
        let kind = entry.file_type().map_err(|e| unreadable(&path, e))?;
        let len = relative.len();
        if !relative.is_empty() {
            relative.push(b'/');
        }
        relative.extend_from_slice(name.as_bytes());
        if kind.is_dir() {
            let skipped = name == ".git" || name == "target" || name.as_bytes().starts_with(b".");
            if !skipped {
                walk(&path, relative, out, total)?;
            }
        } else if kind.is_file() {
            let meta = entry.metadata().map_err(|e| unreadable(&path, e))?;
            *total += meta.len();
            if *total > MAX_CONTEXT_BYTES {
                return Err(format!(
                    "the build context {} holds more than {} MiB of files",
                    dir.display(),
                    MAX_CONTEXT_BYTES >> 20
                ));
            }
            out.push((relative.clone(), Entry::File { path, executable: meta.permissions().mode() & 0o111 != 0 }));
        } else if kind.is_symlink() {
            let target = fs::read_link(&path).map_err(|e| unreadable(&path, e))?;
            out.push((relative.clone(), Entry::Symlink { target }));
        }
        relative.truncate(len);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn the_digest_follows_content_names_and_modes_but_skips_git_and_target() {
        let tmp = tempfile::tempdir().unwrap();
        let ctx = tmp.path().join("ctx");
        write(&ctx.join("Dockerfile"), "FROM scratch\n");
        write(&ctx.join("src/a.txt"), "a");
        let d0 = digest_of(tmp.path());
        assert_eq!(digest_of(tmp.path()), d0, "the digest is deterministic");

        write(&ctx.join(".git/HEAD"), "x");
        write(&ctx.join("target/debug/x"), "x");
        write(&ctx.join(".cache/y"), "y");
        write(&tmp.path().join("unrelated.txt"), "z");
        assert_eq!(digest_of(tmp.path()), d0, "skipped directories and files outside do not count");

        write(&ctx.join("src/a.txt"), "b");
        let d1 = digest_of(tmp.path());
        assert_ne!(d1, d0, "content counts");

        fs::rename(ctx.join("src/a.txt"), ctx.join("src/b.txt")).unwrap();
        let d2 = digest_of(tmp.path());
        assert_ne!(d2, d1, "names count");

        fs::set_permissions(ctx.join("src/b.txt"), fs::Permissions::from_mode(0o755)).unwrap();
        assert_ne!(digest_of(tmp.path()), d2, "the executable bit counts");
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
