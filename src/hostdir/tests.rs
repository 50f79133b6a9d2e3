//! Directory descriptors on the real filesystem: links refused at every step, foreign entries
//! left in place, modes and owners as asked.

use std::os::unix::fs::{MetadataExt, PermissionsExt};

use super::*;

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path).unwrap().mode() & 0o7777
}

fn file<'a>(name: &'a str, temp: &'a str) -> NewFile<'a> {
    NewFile { name, temp, mode: 0o444, exact_mode: true, owner: None }
}

#[test]
fn a_directory_is_made_opened_and_checked_without_following_a_link() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("a/b/root");
    assert!(HostDir::open(&path, None, &Owners::trusted()).unwrap().is_none(), "missing, not made");
    let root = HostDir::open(&path, Some(0o750), &Owners::trusted()).unwrap().unwrap();
    assert_eq!(mode(&path) & !0o022, 0o750 & !0o022, "made with the mode, narrowed by the umask");
    root.set_mode(0o711).unwrap();
    assert_eq!(mode(&path), 0o711);
    root.limit_mode(0o700).unwrap();
    assert_eq!(mode(&path), 0o700);

    let link = tmp.path().join("link");
    std::os::unix::fs::symlink(&path, &link).unwrap();
    let e = HostDir::open(&link, Some(0o700), &Owners::trusted()).unwrap_err();
    assert!(matches!(e, HostDirError::Symlink { .. }), "{e}");
    std::fs::write(path.join("file"), "x").unwrap();
    let e = root.subdir("file", Some(0o700), &Owners::trusted()).unwrap_err();
    assert!(matches!(e, HostDirError::WrongType { found: "a regular file", .. }), "{e}");

    std::fs::create_dir(path.join("theirs")).unwrap();
    rustix::fs::chown(path.join("theirs"), Some(Uid::from_raw(12345)), None).unwrap();
    let e = root.subdir("theirs", None, &Owners::trusted()).unwrap_err();
    assert!(e.to_string().contains("owned by uid 12345, not by root"), "{e}");
    assert!(root.subdir("theirs", None, &Owners::trusted().and(Some(12345))).unwrap().is_some());

    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o777)).unwrap();
    let e = root.refuse_shared_writes().unwrap_err().to_string();
    assert!(e.contains("mode 0777") && e.contains("chmod go-w"), "{e}");
    assert!(root.subdir("a/b", None, &Owners::trusted()).is_err(), "one component only");
}

#[test]
fn files_are_replaced_whole_and_links_or_foreign_entries_are_left_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = HostDir::open(&tmp.path().join("d"), Some(0o700), &Owners::trusted()).unwrap().unwrap();
    let at = |n: &str| tmp.path().join("d").join(n);
    dir.write_file(file("f", ".f.tmp"), b"one").unwrap();
    assert_eq!((std::fs::read(at("f")).unwrap(), mode(&at("f"))), (b"one".to_vec(), 0o444));
    // A leftover of an interrupted write under the temporary name is tenantd's own: replaced.
    std::fs::write(at(".f.tmp"), "half").unwrap();
    let owned = NewFile { owner: Some((12345, 12345)), ..file("f", ".f.tmp") };
    dir.write_file(owned, b"two").unwrap();
    assert_eq!(std::fs::read(at("f")).unwrap(), b"two");
    assert_eq!(std::fs::metadata(at("f")).unwrap().uid(), 12345);
    assert!(!at(".f.tmp").exists());
    assert_eq!(dir.read_file("f", 3).unwrap().unwrap(), b"two");
    assert!(matches!(dir.read_file("f", 2), Err(HostDirError::TooLarge { .. })));
    assert!(dir.read_file("none", 10).unwrap().is_none());

    let target = tmp.path().join("target");
    std::fs::write(&target, "precious").unwrap();
    for name in ["g", ".g.tmp"] {
        std::os::unix::fs::symlink(&target, at(name)).unwrap();
        let e = dir.write_file(file("g", ".g.tmp"), b"x").unwrap_err();
        assert!(matches!(e, HostDirError::Symlink { .. }), "{name}: {e}");
        assert!(matches!(dir.read_file(name, 100), Err(HostDirError::Symlink { .. })), "{name}");
        assert!(matches!(dir.remove_file(name), Err(HostDirError::Symlink { .. })), "{name}");
        std::fs::remove_file(at(name)).unwrap();
    }
    assert_eq!(std::fs::read(&target).unwrap(), b"precious");
    std::fs::create_dir(at("g")).unwrap();
    assert!(matches!(dir.write_file(file("g", ".g.tmp"), b"x"), Err(HostDirError::WrongType { .. })));

    // A directory goes once empty; until then it stays, and the error names what is in it.
    let sub = dir.subdir("sub", Some(0o700), &Owners::trusted()).unwrap().unwrap();
    sub.write_file(file("mine", ".mine.tmp"), b"x").unwrap();
    std::fs::write(at("sub/theirs"), "x").unwrap();
    assert!(sub.remove_file("mine").unwrap());
    assert!(!sub.remove_file("mine").unwrap());
    let e = dir.remove_subdir("sub").unwrap_err();
    assert!(matches!(&e, HostDirError::NotEmpty { entries, .. } if entries == &["theirs"]), "{e}");
    std::fs::remove_file(at("sub/theirs")).unwrap();
    dir.remove_subdir("sub").unwrap();
    dir.remove_subdir("sub").unwrap();
    assert_eq!(dir.entries().unwrap(), ["f", "g"]);
}

#[test]
fn a_file_mode_is_narrowed_never_widened() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = HostDir::open(&tmp.path().join("d"), Some(0o700), &Owners::trusted()).unwrap().unwrap();
    let wide = NewFile { mode: 0o666, exact_mode: true, ..file("f", ".f.tmp") };
    dir.write_file(wide, b"x").unwrap();
    dir.limit_file_mode("f", 0o640).unwrap();
    assert_eq!(mode(&tmp.path().join("d/f")), 0o640);
    std::fs::set_permissions(tmp.path().join("d/f"), std::fs::Permissions::from_mode(0o600)).unwrap();
    dir.limit_file_mode("f", 0o640).unwrap();
    assert_eq!(mode(&tmp.path().join("d/f")), 0o600);
    dir.limit_file_mode("absent", 0o640).unwrap();
}
