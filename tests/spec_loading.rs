//! The spec loader end to end: files and directories on disk in, valid tenants or located errors
//! out.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tenantd::spec::{
    load_dir, load_file, parse_str, LoadedSpec, SkipReason, SpecError, SpecSet, TenantName, MAX_SPEC_BYTES,
};

fn spec(name: &str, spec_body: &str) -> String {
    format!("apiVersion: tenantd/v1\nkind: Tenant\nmetadata:\n  name: {name}\nspec:\n{spec_body}")
}

fn image_spec(name: &str) -> String {
    spec(name, "  image: nginx:1.27\n")
}

fn write(path: &Path, text: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

/// The one error of a spec text, which must be `Invalid`: (pointer, line, column, message).
fn invalid(text: &str) -> (String, usize, usize, String) {
    let errors = parse_str(text, Path::new("acme.yaml")).expect_err("the spec must be refused");
    assert_eq!(errors.len(), 1, "{errors:#?}");
    match errors.into_iter().next().unwrap() {
        SpecError::Invalid { pointer, line, column, message, .. } => (pointer, line, column, message),
        e => panic!("expected an Invalid error, got {e:?}"),
    }
}

fn names(set: &SpecSet) -> Vec<&str> {
    set.valid.keys().map(|n| n.as_str()).collect()
}

fn valid<'a>(set: &'a SpecSet, name: &str) -> &'a LoadedSpec {
    &set.valid[&name.parse::<TenantName>().unwrap()]
}

fn file_names(paths: impl IntoIterator<Item = PathBuf>) -> Vec<String> {
    paths.into_iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect()
}

#[test]
fn a_valid_spec_loads_with_its_defaults() {
    let file = parse_str(&image_spec("acme"), Path::new("acme.yaml")).unwrap();
    assert_eq!(file.metadata.name.as_str(), "acme");
    assert_eq!(file.spec.image.as_deref(), Some("nginx:1.27"));
    assert_eq!(file.spec.port, 18789);
    assert_eq!(file.spec.resources.memory.bytes(), 512 << 20);
}

#[test]
fn malformed_yaml_is_a_syntax_error_at_its_line_and_column() {
    let text = "apiVersion: tenantd/v1\nkind: Tenant\nmetadata:\n  name: acme\n   bad: indent\nspec: {image: x}\n";
    let errors = parse_str(text, Path::new("acme.yaml")).unwrap_err();
    match &errors[..] {
        [SpecError::Syntax { line, column, message, .. }] => {
            assert_eq!((*line, *column), (5, 7), "{message}");
            assert!(!message.contains("line 5"), "the position is not repeated in the message: {message}");
        }
        e => panic!("{e:?}"),
    }
    // A file that ends inside an unclosed list points where the list opens.
    let text = "apiVersion: tenantd/v1\nspec: [unclosed\n";
    match &parse_str(text, Path::new("acme.yaml")).unwrap_err()[..] {
        [SpecError::Syntax { line, column, .. }] => assert_eq!((*line, *column), (2, 7)),
        e => panic!("{e:?}"),
    }
}

#[test]
fn an_unknown_field_is_reported_at_its_key_with_the_fields_expected() {
    let (pointer, line, column, message) = invalid(&spec("acme", "  image: x\n  imagee: y\n"));
    assert_eq!((pointer.as_str(), line, column), ("/spec/imagee", 7, 3));
    assert!(
        message.starts_with(
            r#"unknown field "imagee" (did you mean "image"?); expected one of: image, build, pullPolicy, args, port"#
        ),
        "{message}"
    );
    let (pointer, line, _, _) =
        invalid(&spec("acme", "  image: x\n  health:\n    interval: 5s\n    pathh: /x\n")).clone();
    assert_eq!((pointer.as_str(), line), ("/spec/health/pathh", 9));
}

#[test]
fn bad_tenant_names_are_refused_at_the_name() {
    let long = "a".repeat(64);
    for name in ["Acme", "../x", long.as_str(), "é", "-a", "a_b", "''"] {
        let (pointer, line, column, message) = invalid(&spec(name, "  image: x\n"));
        assert_eq!((pointer.as_str(), line, column), ("/metadata/name", 4, 9), "{name}: {message}");
        assert!(
            message.contains("does not match the tenant name pattern (a DNS label: lowercase letters"),
            "{name}: {message}"
        );
    }
    // A NUL is refused wherever it is, before the schema looks.
    let (pointer, line, column, message) = invalid(&spec(r#""a\0b""#, "  image: x\n"));
    assert_eq!((pointer.as_str(), line, column), ("/metadata/name", 4, 9));
    assert!(message.starts_with(r"contains a NUL character (\0)"), "{message}");
    // A name that is not a string is a type error, not a pattern one.
    let (pointer, _, _, message) = invalid(&spec("[a]", "  image: x\n"));
    assert_eq!((pointer.as_str(), message.as_str()), ("/metadata/name", "expected a string, found a list"));
}

#[test]
fn missing_required_fields_point_at_the_mapping_that_lacks_them() {
    let (pointer, line, column, message) = invalid("kind: Tenant\nmetadata: {name: acme}\nspec: {image: x}\n");
    assert_eq!(
        (pointer.as_str(), line, column, message.as_str()),
        ("", 1, 1, r#"missing required field "apiVersion""#)
    );
    let (pointer, line, column, message) =
        invalid("apiVersion: tenantd/v1\nkind: Tenant\nmetadata:\n  labels: {a: b}\nspec: {image: x}\n");
    assert_eq!(
        (pointer.as_str(), line, column, message.as_str()),
        ("/metadata", 4, 3, r#"missing required field "name""#)
    );
    let (pointer, line, _, message) = invalid(&spec("acme", "  port: 80\n"));
    assert_eq!((pointer.as_str(), line), ("/spec", 6), "{message}");
    assert!(message.starts_with("one of image or build is required"), "{message}");
}

#[test]
fn wrong_types_say_what_was_expected_and_found() {
    let (pointer, line, column, message) = invalid(&spec("acme", "  image: x\n  port: '80'\n"));
    assert_eq!((pointer.as_str(), line, column), ("/spec/port", 7, 9));
    assert_eq!(message, r#"expected a whole number, found the string "80""#);
    let (pointer, _, _, message) = invalid(&spec("acme", "  image: x\n  suspend: yes\n"));
    assert_eq!(
        (pointer.as_str(), message.as_str()),
        ("/spec/suspend", r#"expected true or false, found the string "yes""#)
    );
    let (pointer, _, _, message) = invalid(&spec("acme", "  image: x\n  resources: {memory: 12mb}\n"));
    assert_eq!(pointer, "/spec/resources/memory");
    assert!(
        message.starts_with(r#""12mb" does not match the size pattern (a number with an optional unit"#),
        "{message}"
    );
}

#[test]
fn every_error_of_a_file_is_reported_in_file_order() {
    let text = spec("Acme", "  image: x\n  port: 0\n  pullPolicy: Sometimes\n  nope: 1\n");
    let errors = parse_str(&text, Path::new("acme.yaml")).unwrap_err();
    let lines: Vec<(usize, String)> = errors
        .iter()
        .map(|e| match e {
            SpecError::Invalid { line, pointer, .. } => (*line, pointer.clone()),
            e => panic!("{e:?}"),
        })
        .collect();
    assert_eq!(
        lines,
        [
            (4, "/metadata/name".to_string()),
            (7, "/spec/port".to_string()),
            (8, "/spec/pullPolicy".to_string()),
            (9, "/spec/nope".to_string())
        ]
    );
}

#[test]
fn full_messages_read_well() {
    let text = spec(
        "Acme",
        "  imagee: nginx\n  env: {1BAD: x}\n  resources: {memory: 512MB}\n  sidecars:\n    - name: runtime\n      image: redis\n      volumes: [{name: data, mount_path: /data}]\n",
    );
    let errors = parse_str(&text, Path::new("tenants.d/acme.yaml")).unwrap_err();
    let report: Vec<String> = errors.iter().map(ToString::to_string).collect();
    insta::assert_snapshot!("schema_errors", report.join("\n"));

    let text = spec("acme", "  image: x\n  volumes: [{name: a, mountPath: /d}, {name: a, mountPath: /d/}]\n  sidecars: [{name: db, image: y}, {name: db, image: z}]\n");
    let errors = parse_str(&text, Path::new("tenants.d/acme.yaml")).unwrap_err();
    let report: Vec<String> = errors.iter().map(ToString::to_string).collect();
    insta::assert_snapshot!("rule_errors", report.join("\n"));
}

#[test]
fn rules_beyond_the_schema_are_located_too() {
    let text =
        spec("acme", "  image: x\n  sidecars:\n    - name: db\n      image: pg\n    - name: db\n      image: pg\n");
    let (pointer, line, column, message) = invalid(&text);
    assert_eq!((pointer.as_str(), line, column), ("/spec/sidecars/1/name", 10, 13));
    assert!(message.contains("already used by /spec/sidecars/0"), "{message}");
    let (pointer, _, _, _) = invalid(&spec("acme", "  image: x\n  sidecars: [{name: runtime, image: y}]\n"));
    assert_eq!(pointer, "/spec/sidecars/0/name");
    let (pointer, _, _, _) = invalid(&spec("acme", "  build: {context: ' '}\n"));
    assert_eq!(pointer, "/spec/build/context");
}

#[test]
fn what_only_serde_refuses_is_located_at_the_value() {
    let (pointer, line, column, message) =
        invalid(&spec("acme", "  image: x\n  resources:\n    memory: 99999999999999Ti\n"));
    assert_eq!((pointer.as_str(), line, column), ("/spec/resources/memory", 8, 13));
    assert!(message.contains("is not a size"), "{message}");
}

#[test]
fn a_yaml_alias_bomb_is_refused_quickly_without_expanding() {
    let mut text = String::from("apiVersion: tenantd/v1\nkind: Tenant\nmetadata: {name: acme}\nspec:\n  image: x\n  args: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for level in 1..=9 {
        let refs = vec![format!("*a{}", level - 1); 9].join(", ");
        text.push_str(&format!("  x{level}: &a{level} [{refs}]\n"));
    }
    let started = Instant::now();
    let errors = parse_str(&text, Path::new("bomb.yaml")).unwrap_err();
    let took = started.elapsed();
    assert!(took < Duration::from_millis(900), "took {took:?}");
    match &errors[..] {
        [SpecError::Invalid { message, line, .. }] => {
            assert!(message.contains("aliases repeat more than"), "{message}");
            assert!(*line > 6, "at the alias that crosses the limit: {line}");
        }
        e => panic!("{e:?}"),
    }
    // Expanded, the bomb is 9^10 strings (tens of GiB); the process never came near that.
    let status = fs::read_to_string("/proc/self/status").unwrap();
    let peak_kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .unwrap()
        .trim()
        .trim_end_matches(" kB")
        .trim()
        .parse()
        .unwrap();
    assert!(peak_kib < 512 * 1024, "peak memory {peak_kib} KiB");
}

#[test]
fn a_second_document_is_refused() {
    let text = format!("{}---\n{}", image_spec("acme"), image_spec("beta"));
    let (pointer, line, _, message) = invalid(&text);
    assert_eq!((pointer.as_str(), line), ("", 7));
    assert!(message.contains("exactly one tenant"), "{message}");
    // A leading `---` is just the start of the one document.
    assert!(parse_str(&format!("---\n{}", image_spec("acme")), Path::new("a.yaml")).is_ok());
}

#[test]
fn load_file_takes_any_name_and_refuses_what_is_not_a_small_regular_file() {
    let tmp = tempfile::tempdir().unwrap();
    let odd = tmp.path().join(".ansible_tmp_x9f3source");
    write(&odd, &image_spec("acme"));
    let loaded = load_file(&odd).unwrap();
    assert_eq!((loaded.path.as_path(), loaded.file.metadata.name.as_str()), (odd.as_path(), "acme"));
    assert!(loaded.contexts.is_empty());

    match &load_file(tmp.path()).unwrap_err()[..] {
        [SpecError::Read { message, .. }] => {
            assert!(message.contains("not a regular file"), "{message}")
        }
        e => panic!("{e:?}"),
    }
    match &load_file(&tmp.path().join("missing.yaml")).unwrap_err()[..] {
        [SpecError::Read { .. }] => {}
        e => panic!("{e:?}"),
    }
    let bad = tmp.path().join("bad");
    write(&bad, &spec("acme", "  image: x\n  port: nope\n"));
    match &load_file(&bad).unwrap_err()[..] {
        [SpecError::Invalid { path, pointer, line, .. }] => {
            assert_eq!((path, pointer.as_str(), *line), (&bad, "/spec/port", 7))
        }
        e => panic!("{e:?}"),
    }
}

#[test]
fn files_over_the_limit_are_refused_by_their_size_without_being_read() {
    let tmp = tempfile::tempdir().unwrap();
    let big = tmp.path().join("big.yaml");
    let f = fs::File::create(&big).unwrap();
    f.set_len(10 << 20).unwrap();
    match &load_file(&big).unwrap_err()[..] {
        [SpecError::TooLarge { size, limit, .. }] => {
            assert_eq!((*size, *limit), (10 << 20, MAX_SPEC_BYTES))
        }
        e => panic!("{e:?}"),
    }
    // A sparse file far larger than memory: reading it would take minutes or fail; its size
    // alone refuses it, at once.
    let huge = tmp.path().join("huge.yaml");
    fs::File::create(&huge).unwrap().set_len(1 << 40).unwrap();
    let started = Instant::now();
    let set = load_dir(tmp.path()).unwrap();
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    let sizes: Vec<u64> = set
        .invalid
        .iter()
        .map(|i| match &i.errors[..] {
            [SpecError::TooLarge { size, .. }] => *size,
            e => panic!("{e:?}"),
        })
        .collect();
    assert_eq!(sizes, [10 << 20, 1 << 40]);
    assert_eq!(set.invalid.iter().map(|i| i.tenant.as_ref().unwrap().as_str()).collect::<Vec<_>>(), ["big", "huge"]);
    // Exactly at the limit is fine (as far as size goes).
    let edge = "#".repeat(MAX_SPEC_BYTES as usize - 1) + "\n";
    let at_limit = tmp.path().join("edge");
    write(&at_limit, &edge);
    assert!(!matches!(load_file(&at_limit).unwrap_err()[..], [SpecError::TooLarge { .. }]));
}

#[test]
fn a_directory_loads_only_yaml_files_directly_in_it() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    write(&d.join("acme.yaml"), &image_spec("acme"));
    write(&d.join("beta.yml"), &image_spec("beta"));
    // Each of these would be a valid, distinct tenant if it were read.
    let skipped = [
        (".hidden.yaml", SkipReason::Hidden),
        ("acme.yaml~", SkipReason::EditorTemporary),
        (".acme.yaml.swp", SkipReason::EditorTemporary),
        (".acme.yaml.swx", SkipReason::EditorTemporary),
        (".#acme.yaml", SkipReason::EditorTemporary),
        ("#acme.yaml#", SkipReason::EditorTemporary),
        ("acme.yaml.bak", SkipReason::EditorTemporary),
        ("acme.yaml.orig", SkipReason::EditorTemporary),
        ("acme.yaml.tmp", SkipReason::EditorTemporary),
        ("acme.yaml.dpkg-new", SkipReason::EditorTemporary),
        ("acme.yaml.rpmnew", SkipReason::EditorTemporary),
        ("notes.txt", SkipReason::NotYaml),
        ("README", SkipReason::NotYaml),
        ("sub", SkipReason::Directory),
        ("sub.yaml", SkipReason::Directory),
    ];
    for (i, (name, reason)) in skipped.iter().enumerate() {
        let tenant = format!("t{i}");
        if *reason == SkipReason::Directory {
            write(&d.join(name).join(format!("{tenant}.yaml")), &image_spec(&tenant));
        } else {
            write(&d.join(name), &image_spec(&tenant));
        }
    }
    let set = load_dir(d).unwrap();
    assert_eq!(names(&set), ["acme", "beta"]);
    assert!(set.invalid.is_empty(), "{:#?}", set.invalid);
    let mut expected: Vec<(String, SkipReason)> = skipped.iter().map(|(n, r)| (n.to_string(), r.clone())).collect();
    expected.sort_by(|a, b| a.0.cmp(&b.0));
    let got: Vec<(String, SkipReason)> =
        set.skipped.iter().map(|(p, r)| (file_names([p.clone()]).remove(0), r.clone())).collect();
    assert_eq!(got, expected);
    assert_eq!(valid(&set, "acme").path, d.join("acme.yaml"));
}

#[test]
fn symlinks_are_followed_only_inside_the_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("tenants.d");
    write(&d.join("archive/acme-v2.yaml"), &image_spec("acme"));
    write(&tmp.path().join("outside.yaml"), &image_spec("evil"));
    symlink("archive/acme-v2.yaml", d.join("acme.yaml")).unwrap();
    symlink("../outside.yaml", d.join("evil.yaml")).unwrap();
    symlink("loop-b.yaml", d.join("loop-a.yaml")).unwrap();
    symlink("loop-a.yaml", d.join("loop-b.yaml")).unwrap();
    symlink("nowhere.yaml", d.join("dangling.yaml")).unwrap();
    symlink(&d, d.join("self.yaml")).unwrap();

    let set = load_dir(&d).unwrap();
    assert_eq!(names(&set), ["acme"]);
    assert_eq!(valid(&set, "acme").path, d.join("acme.yaml"), "the path is the link's, as the operator wrote it");
    let refused: Vec<(String, String)> = set
        .invalid
        .iter()
        .map(|i| match &i.errors[..] {
            [SpecError::Symlink { path, message }] => (file_names([path.clone()]).remove(0), message.clone()),
            e => panic!("{e:?}"),
        })
        .collect();
    let files: Vec<&str> = refused.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(files, ["dangling.yaml", "evil.yaml", "loop-a.yaml", "loop-b.yaml", "self.yaml"]);
    assert!(refused[1].1.contains("outside the tenants directory"), "{}", refused[1].1);
    assert!(refused[2].1.contains("loop"), "{}", refused[2].1);
    // Refused files are attributed by their names: nothing was read from them.
    assert_eq!(set.invalid[1].tenant.as_ref().map(|t| t.as_str()), Some("evil"));
}

#[test]
fn two_files_naming_one_tenant_are_both_refused_each_naming_the_other() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    write(&d.join("a.yaml"), &image_spec("acme"));
    write(&d.join("b.yaml"), &image_spec("acme"));
    write(&d.join("c.yaml"), &image_spec("other"));
    let set = load_dir(d).unwrap();
    assert_eq!(names(&set), ["other"]);
    assert_eq!(set.invalid.len(), 2);
    for (invalid, other) in set.invalid.iter().zip(["b.yaml", "a.yaml"]) {
        assert_eq!(invalid.tenant.as_ref().unwrap().as_str(), "acme");
        match &invalid.errors[..] {
            [SpecError::DuplicateName { path, name, other: o }] => {
                assert_eq!((path, name.as_str(), o), (&invalid.path, "acme", &d.join(other)));
            }
            e => panic!("{e:?}"),
        }
    }
    // An invalid file still claims the tenant it declares.
    write(&d.join("b.yaml"), &spec("other", "  image: x\n  port: nope\n"));
    let set = load_dir(d).unwrap();
    assert_eq!(names(&set), ["acme"]);
    let c = set.invalid.iter().find(|i| i.path.ends_with("c.yaml")).unwrap();
    assert!(
        matches!(&c.errors[..], [SpecError::DuplicateName { other, .. }] if other.ends_with("b.yaml")),
        "{:?}",
        c.errors
    );
}

#[test]
fn invalid_files_are_attributed_to_the_tenant_they_declare_or_their_name() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    write(&d.join("file-name.yaml"), &spec("declared", "  image: x\n  port: nope\n"));
    write(&d.join("broken.yaml"), "apiVersion: tenantd/v1\nmetadata: {name: [\n");
    write(&d.join("Not A Name.yaml"), "{");
    write(&d.join("bad-name.yaml"), &spec("Bad", "  image: x\n"));
    let set = load_dir(d).unwrap();
    let got: Vec<(String, Option<&str>)> = set
        .invalid
        .iter()
        .map(|i| (file_names([i.path.clone()]).remove(0), i.tenant.as_ref().map(|t| t.as_str())))
        .collect();
    assert_eq!(
        got,
        [
            ("Not A Name.yaml".to_string(), None),
            ("bad-name.yaml".to_string(), Some("bad-name")),
            ("broken.yaml".to_string(), Some("broken")),
            ("file-name.yaml".to_string(), Some("declared")),
        ]
    );
    assert!(set.has_unattributed_invalid());
    for i in &set.invalid {
        assert!(!i.errors.is_empty());
        assert!(i.errors.iter().all(|e| e.path() == i.path), "{:?}", i.errors);
    }
}

#[test]
fn a_missing_directory_is_an_error_of_its_own() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("nope");
    match load_dir(&missing) {
        Err(SpecError::Dir { dir, .. }) => assert_eq!(dir, missing),
        other => panic!("{other:?}"),
    }
    write(&tmp.path().join("file"), "");
    assert!(matches!(load_dir(&tmp.path().join("file")), Err(SpecError::Dir { .. })));
}

#[test]
fn loading_is_deterministic() {
    let tmp = tempfile::tempdir().unwrap();
    for name in ["zeta", "alpha", "mid"] {
        write(&tmp.path().join(format!("{name}.yaml")), &image_spec(name));
        write(&tmp.path().join(format!("{name}-bad.yaml")), "{");
        write(&tmp.path().join(format!("{name}.txt")), "");
    }
    let a = load_dir(tmp.path()).unwrap();
    let b = load_dir(tmp.path()).unwrap();
    assert_eq!(names(&a), ["alpha", "mid", "zeta"]);
    let invalid = |s: &SpecSet| file_names(s.invalid.iter().map(|i| i.path.clone()));
    assert_eq!(invalid(&a), ["alpha-bad.yaml", "mid-bad.yaml", "zeta-bad.yaml"]);
    assert_eq!(invalid(&a), invalid(&b));
    assert_eq!(file_names(a.skipped.iter().map(|s| s.0.clone())), ["alpha.txt", "mid.txt", "zeta.txt"]);
}

fn build_spec(name: &str, context: &str) -> String {
    spec(name, &format!("  build:\n    context: {context}\n"))
}

#[test]
fn a_missing_build_context_is_an_error_at_the_context() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("acme.yaml");
    write(&f, &build_spec("acme", "./nope"));
    match &load_file(&f).unwrap_err()[..] {
        [SpecError::Invalid { pointer, line, message, .. }] => {
            assert_eq!((pointer.as_str(), *line), ("/spec/build/context", 7));
            assert!(message.contains("does not exist"), "{message}");
        }
        e => panic!("{e:?}"),
    }
    // The same in a directory: the tenant is known and invalid.
    let set = load_dir(tmp.path()).unwrap();
    assert_eq!(set.invalid[0].tenant.as_ref().unwrap().as_str(), "acme");
    // A sidecar's context is checked the same way.
    write(&tmp.path().join("ctx/Dockerfile"), "FROM scratch\n");
    write(&f, &spec("acme", "  build: {context: ctx}\n  sidecars:\n    - name: tools\n      build: {context: ctx, dockerfile: Missing}\n"));
    match &load_file(&f).unwrap_err()[..] {
        [SpecError::Invalid { pointer, line, .. }] => {
            assert_eq!((pointer.as_str(), *line), ("/spec/sidecars/0/build/dockerfile", 9))
        }
        e => panic!("{e:?}"),
    }
}

#[test]
fn the_context_digest_follows_the_context_and_nothing_else() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("tenants.d");
    write(&d.join("acme.yaml"), &build_spec("acme", "../build/acme"));
    write(&tmp.path().join("build/acme/Dockerfile"), "FROM scratch\nCOPY app /app\n");
    write(&tmp.path().join("build/acme/app"), "v1");
    write(&tmp.path().join("build/other.txt"), "x");
    let digest = || {
        let set = load_dir(&d).unwrap();
        assert!(set.invalid.is_empty(), "{:#?}", set.invalid);
        let ctx = &valid(&set, "acme").contexts["/spec/build"];
        assert_eq!(ctx.dir, fs::canonicalize(tmp.path().join("build/acme")).unwrap());
        assert_eq!(ctx.dockerfile, "Dockerfile");
        ctx.digest.clone()
    };
    let first = digest();
    assert_eq!(first.len(), 64);
    assert!(first.chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(digest(), first);

    write(&tmp.path().join("build/other.txt"), "changed");
    write(&d.join("notes.txt"), "changed");
    assert_eq!(digest(), first, "files outside the context do not count");

    write(&tmp.path().join("build/acme/app"), "v2");
    let second = digest();
    assert_ne!(second, first, "a changed file in the context changes the digest");

    write(&tmp.path().join("build/acme/Dockerfile"), "FROM scratch\nCOPY app /srv/app\n");
    assert_ne!(digest(), second, "the Dockerfile is part of the context");
}

#[test]
fn an_absolute_context_is_allowed_and_a_huge_one_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let ctx = tmp.path().join("ctx");
    write(&ctx.join("Dockerfile"), "FROM scratch\n");
    let f = tmp.path().join("specs/acme.yaml");
    write(&f, &build_spec("acme", ctx.to_str().unwrap()));
    assert!(load_file(&f).is_ok());
    // Sparse: large on paper, nothing on disk, never read.
    fs::File::create(ctx.join("blob")).unwrap().set_len(300 << 20).unwrap();
    match &load_file(&f).unwrap_err()[..] {
        [SpecError::Invalid { pointer, message, .. }] => {
            assert_eq!(pointer, "/spec/build/context");
            assert!(message.contains("more than 256 MiB"), "{message}");
        }
        e => panic!("{e:?}"),
    }
}

/// The loader reads the typed file from the validated JSON view of a spec; that must say exactly
/// what serde_yaml reads from the text, for every shipped sample and for specs using every field.
#[test]
fn the_typed_file_is_what_serde_yaml_reads_from_the_text() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut texts: Vec<(String, String)> = vec![];
    for dir in ["tenants.d", "examples/tenants"] {
        let mut files: Vec<PathBuf> = fs::read_dir(root.join(dir)).unwrap().map(|e| e.unwrap().path()).collect();
        files.sort();
        texts.extend(files.into_iter().map(|p| (p.display().to_string(), fs::read_to_string(&p).unwrap())));
    }
    assert!(texts.len() >= 6, "samples went missing: {texts:?}");
    let every_field = spec(
        "acme",
        "  image: nginx\n  pullPolicy: Always\n  args: [serve, --port, '8080']\n  port: 8080\n  env: {LOG_LEVEL: debug, _X: '', N: '1'}\n  resources: {memory: 1Gi, cpus: 2, pids: 512}\n  health: {path: /healthz, interval: 10s, timeout: 500ms, retries: 5, startPeriod: 1m, probeCommand: [curl, -f]}\n  volumes: [{name: data, mountPath: /data, readOnly: true}]\n  tmpfs: [{mountPath: /cache, size: 128Mi}]\n  network: {egress: deny}\n  sidecars:\n    - {name: db, image: 'postgres:16', env: {A: b}, user: '70:70', resources: {memory: 256Mi, cpus: 0.5}, volumes: [{name: data, mountPath: /var/lib/db}]}\n  user: '1000:1000'\n  suspend: true\n  reload: restart\n",
    );
    texts.push(("every field".to_string(), every_field));
    // An extension's config is free-form: numbers of every kind, nesting, nulls.
    let (_, agents) = texts.iter().find(|(name, _)| name.ends_with("openclaw-agents.yaml")).unwrap();
    let extension = "      redact-secrets: { enabled: true }\n";
    assert!(agents.contains(extension), "the openclaw sample changed");
    let free_form = agents.replace(
        extension,
        &format!("{extension}      x: {{ enabled: false, config: {{ any: [1, -2, 1.5, 1e3, 0x1f, {{ deep: true, n: null }}] }} }}\n"),
    );
    texts.push(("free-form extension config".to_string(), free_form));
    texts.push(("nulls".to_string(), spec("acme", "  image: x\n  args: null\n  user: ~\n  build:\n")));
    for (name, text) in &texts {
        let loaded = parse_str(text, Path::new("acme.yaml")).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        let read: tenantd::spec::TenantFile = serde_yaml::from_str(text).unwrap();
        assert_eq!(loaded, read, "{name}");
    }
}
