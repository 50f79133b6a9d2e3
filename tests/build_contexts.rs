//! Build contexts against the real engine: what is digested is what is sent (dot-directories
//! included, `.dockerignore` honoured as `docker build` honours it), a context over the limit is
//! refused before anything is sent, and a context that changed after it was digested builds
//! nothing. Tenants are built `FROM` the stub image with the context copied to `/ctx`.

mod support;

#[path = "support/docker.rs"]
mod docker_support;

use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use support::*;
use tenantd::render::ImageSource;
use tenantd::runtime::ContainerEngine;
use tenantd::runtime::RuntimeError;

/// Removes every tag of one `tenantd.local/<repo>` repository when dropped.
struct BuiltImages(String);

impl BuiltImages {
    fn tags(&self) -> Vec<String> {
        let out = docker(&["images", "--format", "{{.Repository}}:{{.Tag}}", &format!("tenantd.local/{}", self.0)]);
        stdout(&out).lines().map(str::to_string).collect()
    }
}

impl Drop for BuiltImages {
    fn drop(&mut self) {
        for tag in self.tags() {
            docker(&["rmi", "-f", &tag]);
        }
    }
}

fn write(path: &Path, content: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
}

/// A context directory named `ctx-<instance>` (so its images are this test's) whose Dockerfile
/// copies everything sent to `/ctx` of a stub image.
fn stub_build_context(env: &Env) -> (PathBuf, BuiltImages) {
    let name = format!("ctx-{}", env.instance);
    let dir = env.path(&name);
    write(&dir.join("Dockerfile"), &format!("FROM {}\nCOPY . /ctx/\n", stub::stub_image()));
    (dir, BuiltImages(name))
}

fn build_spec(name: &str, context: &Path) -> String {
    stub_spec(name, "").replace(
        &format!("  image: {}\n  pullPolicy: Never\n", stub::stub_image()),
        &format!("  build: {{ context: {} }}\n", context.display()),
    )
}

/// The image reference a tenant's container was created from.
fn image_of(env: &Env, tenant: &str) -> String {
    env.inspect(&env.container(tenant)).unwrap()["Config"]["Image"].as_str().unwrap().to_string()
}

/// The file at `path` in a container, or `None` when it is not there.
fn file_in(container: &str, path: &str) -> Option<String> {
    let out = docker(&["cp", &format!("{container}:{path}"), "-"]);
    if !out.status.success() {
        return None;
    }
    let mut archive = tar::Archive::new(out.stdout.as_slice());
    let mut entry = archive.entries().unwrap().next()?.unwrap();
    let mut text = String::new();
    entry.read_to_string(&mut text).unwrap();
    Some(text)
}

#[test]
fn an_edit_only_under_a_dot_directory_changes_the_digest_and_the_image() {
    let Some(env) = Env::new("an_edit_only_under_a_dot_directory_changes_the_digest_and_the_image") else {
        return;
    };
    let (ctx, images) = stub_build_context(&env);
    write(&ctx.join(".config/settings"), "one");
    // A FIFO in the context is left out, and never blocks the walk.
    rustix::fs::mknodat(rustix::fs::CWD, ctx.join("pipe"), rustix::fs::FileType::Fifo, 0o644.into(), 0).unwrap();
    env.spec("acme.yaml", &build_spec("acme", &ctx));
    env.apply_ok();
    let (first_id, first_image) = (env.container_id("acme").unwrap(), image_of(&env, "acme"));
    assert_eq!(file_in(&env.container("acme"), "/ctx/.config/settings").as_deref(), Some("one"));
    assert_eq!(file_in(&env.container("acme"), "/ctx/pipe"), None);

    write(&ctx.join(".config/settings"), "two");
    assert_eq!(env.tenantd(&["plan", "--detailed-exitcode"]).status.code(), Some(2), "the edit is a change");
    env.apply_ok();
    let second_image = image_of(&env, "acme");
    assert_ne!(second_image, first_image, "a new digest, so a new tag");
    assert_ne!(env.container_id("acme").unwrap(), first_id, "the container runs the new image");
    assert_eq!(file_in(&env.container("acme"), "/ctx/.config/settings").as_deref(), Some("two"));
    assert_eq!(images.tags().len(), 2, "{:?}", images.tags());
}

#[test]
fn files_dockerignore_excludes_are_neither_digested_nor_sent() {
    let Some(env) = Env::new("files_dockerignore_excludes_are_neither_digested_nor_sent") else {
        return;
    };
    let (ctx, images) = stub_build_context(&env);
    write(&ctx.join(".dockerignore"), "*.log\nsecrets\n!secrets/public.pem\n");
    write(&ctx.join("app.txt"), "app");
    write(&ctx.join("debug.log"), "noise");
    write(&ctx.join("secrets/private.key"), "private");
    write(&ctx.join("secrets/public.pem"), "public-1");
    env.spec("acme.yaml", &build_spec("acme", &ctx));
    env.apply_ok();
    let container = env.container("acme");
    let first_id = env.container_id("acme").unwrap();
    assert_eq!(file_in(&container, "/ctx/app.txt").as_deref(), Some("app"));
    assert_eq!(file_in(&container, "/ctx/secrets/public.pem").as_deref(), Some("public-1"), "an exception is sent");
    assert_eq!(file_in(&container, "/ctx/debug.log"), None, "excluded files are not sent");
    assert_eq!(file_in(&container, "/ctx/secrets/private.key"), None);

    write(&ctx.join("debug.log"), "more noise");
    write(&ctx.join("secrets/private.key"), "rotated");
    let plan = env.tenantd(&["plan", "--detailed-exitcode"]);
    assert_eq!(plan.status.code(), Some(0), "edits to excluded files change nothing: {}", stdout(&plan));
    env.apply_ok();
    assert_eq!(env.container_id("acme").unwrap(), first_id);

    write(&ctx.join("secrets/public.pem"), "public-2");
    env.apply_ok();
    assert_ne!(env.container_id("acme").unwrap(), first_id, "an edit to an exception is a new image");
    assert_eq!(file_in(&container, "/ctx/secrets/public.pem").as_deref(), Some("public-2"));
    assert_eq!(images.tags().len(), 2, "{:?}", images.tags());
}

#[test]
fn a_context_over_the_limit_is_refused_before_anything_is_sent() {
    let Some(env) = Env::new("a_context_over_the_limit_is_refused_before_anything_is_sent") else {
        return;
    };
    let (ctx, images) = stub_build_context(&env);
    env.spec("acme.yaml", &build_spec("acme", &ctx));
    env.apply_ok();
    let (id, image) = (env.container_id("acme").unwrap(), image_of(&env, "acme"));

    // Sparse: 257 MiB on paper, nothing on disk; under a dot-directory, which counts.
    std::fs::create_dir_all(ctx.join(".big")).unwrap();
    std::fs::File::create(ctx.join(".big/blob")).unwrap().set_len(257 << 20).unwrap();
    let o = env.tenantd(&["apply"]);
    assert_eq!(o.status.code(), Some(1), "{}\n{}", stdout(&o), stderr(&o));
    let refusal = format!("{} holds more than 256 MiB, the limit", ctx.display());
    let status = env.status("acme").unwrap();
    assert!(status["lastError"].as_str().unwrap().contains(&refusal), "{status:#}");
    let validate = env.tenantd(&["validate"]);
    assert!(stdout(&validate).contains(&refusal) || stderr(&validate).contains(&refusal), "{}", stderr(&validate));
    assert_eq!(env.container_id("acme").as_deref(), Some(id.as_str()), "the running container is untouched");
    assert_eq!(env.inspect(&env.container("acme")).unwrap()["State"]["Running"], true);
    assert_eq!(image_of(&env, "acme"), image);
    assert_eq!(images.tags(), [image], "no image was built");
}

/// The runtime itself refuses an over-limit context before asking the engine to build, when the
/// context grew after the spec was loaded.
#[tokio::test]
async fn the_runtime_refuses_a_context_over_the_limit_before_the_engine_sees_it() {
    let Some(t) = docker_support::docker_test("the_runtime_refuses_a_context_over_the_limit").await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(dir.path()).unwrap();
    write(&root.join("Dockerfile"), "FROM scratch\nCOPY Dockerfile /\n");
    std::fs::create_dir_all(root.join(".big")).unwrap();
    std::fs::File::create(root.join(".big/blob")).unwrap().set_len(257 << 20).unwrap();
    let tag = format!("tenantd-buildtest:limit-{}", t.instance);
    t.remove_image(&tag);
    let build = ImageSource::Build {
        context: root.clone(),
        dockerfile: "Dockerfile".into(),
        tag: tag.clone(),
        digest: "0".repeat(64),
    };
    match t.rt.ensure_image(&build).await {
        Err(RuntimeError::ImageBuild { context, message }) => {
            assert_eq!(context, root.display().to_string());
            assert!(message.contains("holds more than 256 MiB, the limit"), "{message}");
        }
        other => panic!("expected ImageBuild, got {other:?}"),
    }
    assert!(!docker(&["image", "inspect", &tag]).status.success(), "nothing was built");
}

/// A file that changes between the digest (taken when the spec was loaded) and the stream makes
/// the build fail, and no image gets the tag that names the old digest.
#[tokio::test]
async fn a_context_changed_after_its_digest_builds_nothing() {
    let Some(t) = docker_support::docker_test("a_context_changed_after_its_digest_builds_nothing").await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(dir.path()).unwrap();
    write(&root.join("Dockerfile"), "FROM scratch\nCOPY . /\n");
    write(&root.join("app.txt"), "v1");
    let digest = tenantd::spec::context_digest(&root, "Dockerfile").unwrap();
    write(&root.join("app.txt"), "v2");
    let tag = format!("tenantd-buildtest:changed-{}", t.instance);
    t.remove_image(&tag);
    let build = ImageSource::Build { context: root.clone(), dockerfile: "Dockerfile".into(), tag: tag.clone(), digest };
    match t.rt.ensure_image(&build).await {
        Err(RuntimeError::ImageBuild { message, .. }) => {
            assert!(message.contains("changed after it was digested"), "{message}")
        }
        other => panic!("expected ImageBuild, got {other:?}"),
    }
    assert!(!docker(&["image", "inspect", &tag]).status.success(), "no image claims the old digest");
}

/// Every entry of an image's file system: path, kind and permission bits.
fn image_files(image: &str) -> BTreeSet<(String, char, u32)> {
    let created = docker(&["create", image, "/nothing"]);
    assert!(created.status.success(), "{}", stderr(&created));
    let id = stdout(&created).trim().to_string();
    let export = Command::new("docker").args(["export", &id]).stderr(Stdio::inherit()).output().unwrap();
    docker(&["rm", "-f", &id]);
    assert!(export.status.success());
    let mut archive = tar::Archive::new(export.stdout.as_slice());
    archive
        .entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let kind = match e.header().entry_type() {
                tar::EntryType::Directory => 'd',
                tar::EntryType::Symlink => 'l',
                tar::EntryType::Regular => 'f',
                other => panic!("unexpected {other:?}"),
            };
            let path = e.path().unwrap().display().to_string().trim_end_matches('/').to_string();
            (path, kind, e.header().mode().unwrap() & 0o7777)
        })
        .collect()
}

/// The same context built by `docker build` (the Docker client's own `.dockerignore` handling)
/// and by tenantd gives images with the same files.
#[tokio::test]
async fn tenantd_sends_what_docker_build_sends() {
    let Some(t) = docker_support::docker_test("tenantd_sends_what_docker_build_sends").await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(dir.path()).unwrap();
    write(&root.join("Dockerfile"), "FROM scratch\nCOPY . /\n");
    write(
        &root.join(".dockerignore"),
        "# build output\n*.log\n!keep.log\n/build\ndocs/*\n!docs/README.md\n**/node_modules\ntemp?\nvendor\n\
         !vendor/allowed\n.git\n**/*.tmp\n[ab]x\ncache\n!**/keep.txt\n  ./spaced/  \nDockerfile\n",
    );
    for file in [
        "app.log",
        "keep.log",
        "main.c",
        "src/nested.log",
        "build/out.o",
        "docs/README.md",
        "docs/guide.md",
        "node_modules/a.js",
        "src/node_modules/b.js",
        "tempa",
        "tempab",
        "vendor/allowed",
        "vendor/other",
        ".git/HEAD",
        ".hidden/file",
        "deep/er/x.tmp",
        "x.tmp",
        "ax",
        "cx",
        "cache/keep.txt",
        "keep.txt",
        "spaced/file",
    ] {
        write(&root.join(file), file);
    }
    std::os::unix::fs::symlink("main.c", root.join("link")).unwrap();
    std::fs::set_permissions(root.join("main.c"), std::os::unix::fs::PermissionsExt::from_mode(0o750)).unwrap();

    let by_docker = format!("tenantd-buildtest:docker-{}", t.instance);
    let by_tenantd = format!("tenantd-buildtest:tenantd-{}", t.instance);
    t.remove_image(&by_docker);
    t.remove_image(&by_tenantd);
    let built = Command::new("docker")
        .args(["build", "-q", "-t", &by_docker])
        .arg(&root)
        .env("DOCKER_BUILDKIT", "0")
        .output()
        .unwrap();
    assert!(built.status.success(), "{}", stderr(&built));
    let digest = tenantd::spec::context_digest(&root, "Dockerfile").unwrap();
    let build =
        ImageSource::Build { context: root.clone(), dockerfile: "Dockerfile".into(), tag: by_tenantd.clone(), digest };
    t.rt.ensure_image(&build).await.unwrap();

    let (docker_files, tenantd_files) = (image_files(&by_docker), image_files(&by_tenantd));
    assert_eq!(tenantd_files, docker_files);
    let paths: BTreeSet<&str> = tenantd_files.iter().map(|f| f.0.as_str()).collect();
    for sent in [
        "keep.log",
        "main.c",
        "src/nested.log",
        "docs/README.md",
        "tempab",
        "vendor/allowed",
        ".hidden/file",
        "link",
        "cx",
        "keep.txt",
    ] {
        assert!(paths.contains(sent), "{sent} is sent: {paths:?}");
    }
    for left_out in [
        "app.log",
        "build",
        "docs/guide.md",
        "node_modules",
        "src/node_modules",
        "tempa",
        "vendor/other",
        ".git",
        "deep/er/x.tmp",
        "x.tmp",
        "ax",
        "cache",
        "spaced",
        // Sent (always), then left out of the image by the engine: .dockerignore lists it.
        "Dockerfile",
    ] {
        assert!(!paths.contains(left_out), "{left_out} is left out: {paths:?}");
    }
}

/// Podman takes the same streamed context through its Docker-compatible API, and an edit under a
/// dot-directory is a new image there too.
#[test]
fn podman_builds_from_the_streamed_context_too() {
    let test = "podman_builds_from_the_streamed_context_too";
    let Some(mut podman) = podman::PodmanService::start(test) else { return };
    podman.load_from_docker(&stub::stub_image());
    let env = Env::without_docker();
    podman.owns_instance(&env.instance);
    env.write_config(&format!("[docker]\nhost = {:?}\nnetwork_pool = \"10.251.1.0/24\"\n", podman.host()));
    let (ctx, _images) = stub_build_context(&env);
    write(&ctx.join(".dockerignore"), "*.log\n");
    write(&ctx.join(".config/settings"), "one");
    write(&ctx.join("debug.log"), "noise");
    env.spec("acme.yaml", &build_spec("acme", &ctx));
    env.apply_ok();
    let file = |path: &str| {
        let out = podman.cli(&["cp", &format!("{}:{path}", env.container("acme")), "-"]);
        out.status.success().then(|| {
            let mut archive = tar::Archive::new(out.stdout.as_slice());
            let mut text = String::new();
            archive.entries().unwrap().next().unwrap().unwrap().read_to_string(&mut text).unwrap();
            text
        })
    };
    assert_eq!(file("/ctx/.config/settings").as_deref(), Some("one"));
    assert_eq!(file("/ctx/debug.log"), None);
    write(&ctx.join(".config/settings"), "two");
    env.apply_ok();
    assert_eq!(file("/ctx/.config/settings").as_deref(), Some("two"), "an edit under a dot-directory is a new image");
}
