//! Which filesystem a path is on, as the process sees it from inside its container: the mount
//! in `/proc/self/mountinfo` with the longest mount point that contains the path.

use std::path::Path;

/// The filesystem type (`tmpfs`, `overlay`, …) holding `path`, or None when mountinfo cannot be
/// read or names no mount containing it.
pub fn fs_type(path: &Path) -> Option<String> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    fs_type_in(&mountinfo, path)
}

/// `fs_type` over the text of a mountinfo file. Each line is `ID PARENT MAJ:MIN ROOT MOUNTPOINT
/// OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTIONS`; later lines mount over earlier ones.
pub fn fs_type_in(mountinfo: &str, path: &Path) -> Option<String> {
    let mut best: Option<(usize, &str)> = None;
    for line in mountinfo.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        let Some(point) = fields.get(4).map(|p| unescape(p)) else { continue };
        let Some(dash) = fields.iter().position(|f| *f == "-") else { continue };
        let Some(fstype) = fields.get(dash + 1) else { continue };
        let depth = Path::new(&point).components().count();
        if path.starts_with(&point) && best.is_none_or(|(d, _)| depth >= d) {
            best = Some((depth, fstype));
        }
    }
    best.map(|(_, fstype)| fstype.to_string())
}

/// Mount points escape space, tab, newline and backslash as octal (`\040`).
fn unescape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(at) = rest.find('\\') {
        out.push_str(&rest[..at]);
        let code = rest.get(at + 1..at + 4).and_then(|oct| u8::from_str_radix(oct, 8).ok());
        match code {
            Some(byte) => {
                out.push(char::from(byte));
                rest = &rest[at + 4..];
            }
            None => {
                out.push('\\');
                rest = &rest[at + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO: &str = "\
100 90 0:50 / / rw,relatime master:1 - overlay overlay rw,lowerdir=/a\n\
101 100 0:51 / /proc rw - proc proc rw\n\
102 100 0:52 /tenantd/secrets/acme /run/secrets/openclaw ro,nosuid - tmpfs tmpfs rw,size=1024k\n\
103 100 8:1 /state/acme /etc/openclaw ro - ext4 /dev/sda1 rw\n\
104 100 0:53 / /my\\040dir rw - tmpfs tmpfs rw\n";

    #[test]
    fn the_longest_mount_point_containing_the_path_wins() {
        let at = |p: &str| fs_type_in(MOUNTINFO, Path::new(p));
        assert_eq!(at("/run/secrets/openclaw").as_deref(), Some("tmpfs"));
        assert_eq!(at("/run/secrets/openclaw/GATEWAY_TOKEN").as_deref(), Some("tmpfs"));
        assert_eq!(at("/etc/openclaw/openclaw.json").as_deref(), Some("ext4"));
        assert_eq!(at("/run/secrets").as_deref(), Some("overlay"), "a sibling's prefix is not a parent");
        assert_eq!(at("/my dir/x").as_deref(), Some("tmpfs"), "escaped mount points are read");
        assert_eq!(fs_type_in("", Path::new("/")), None);
    }
}
