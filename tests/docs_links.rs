//! The README and the pages under docs/ hold together: every relative link names a file that is
//! there and every `#anchor` a heading that is there (as GitHub makes anchors from headings),
//! the sections files point readers to exist, and the minimum Rust version stated is the one
//! Cargo.toml declares.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The pages checked: README.md and every Markdown file under docs/ and examples/.
fn pages() -> Vec<PathBuf> {
    let mut pages = vec![root().join("README.md")];
    for dir in ["docs", "examples"] {
        let mut stack = vec![root().join(dir)];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap().map(Result::unwrap) {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().is_some_and(|x| x == "md") {
                    pages.push(p);
                }
            }
        }
    }
    pages
}

/// GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | ' '))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The anchors of a page's headings (outside code blocks).
fn anchors(text: &str) -> BTreeSet<String> {
    let mut fenced = false;
    let mut out = BTreeSet::new();
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        } else if !fenced && line.starts_with('#') {
            out.insert(anchor(line.trim_start_matches('#')));
        }
    }
    out
}

/// Every `](target)` of a page, outside code blocks.
fn links(text: &str) -> Vec<String> {
    let mut fenced = false;
    let mut out = Vec::new();
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        let mut rest = line;
        while let Some(i) = rest.find("](") {
            rest = &rest[i + 2..];
            if let Some(end) = rest.find(')') {
                out.push(rest[..end].to_string());
                rest = &rest[end..];
            }
        }
    }
    out
}

#[test]
fn every_relative_link_and_anchor_resolves() {
    let mut broken = Vec::new();
    for page in pages() {
        let text = std::fs::read_to_string(&page).unwrap();
        for link in links(&text) {
            if link.contains("://") || link.starts_with("mailto:") {
                continue;
            }
            let (path, fragment) = link.split_once('#').unwrap_or((&link, ""));
            let target = if path.is_empty() { page.clone() } else { page.parent().unwrap().join(path) };
            if !target.exists() {
                broken.push(format!("{}: {link} (no such file)", page.display()));
                continue;
            }
            if !fragment.is_empty() && target.extension().is_some_and(|x| x == "md") {
                let there = anchors(&std::fs::read_to_string(&target).unwrap());
                if !there.contains(fragment) {
                    broken.push(format!("{}: {link} (no such heading)", page.display()));
                }
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn the_sections_the_unit_files_point_to_exist() {
    let readme = anchors(&std::fs::read_to_string(root().join("README.md")).unwrap());
    for (file, section) in
        [("systemd/tenantd.service", "Running as a service"), ("systemd/user/tenantd.service", "Podman")]
    {
        let text = std::fs::read_to_string(root().join(file)).unwrap();
        assert!(text.contains(&format!("\"{section}\"")), "{file} no longer points to {section:?}");
        assert!(readme.contains(&anchor(section)), "{file} points to README section {section:?}, which is gone");
    }
}

#[test]
fn the_readme_states_the_minimum_rust_version_cargo_declares() {
    let cargo = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    let version = cargo
        .lines()
        .find_map(|l| l.strip_prefix("rust-version = "))
        .map(|v| v.trim_matches('"'))
        .expect("Cargo.toml declares rust-version");
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    assert!(readme.contains(&format!("Rust {version} or later")), "the first screen states Rust {version}");
    assert!(readme.contains(&format!("Rust **{version}** or later")), "Build and install states Rust {version}");
}

#[test]
fn anchors_are_made_as_github_makes_them() {
    assert_eq!(anchor(" The daemon: `tenantd run`"), "the-daemon-tenantd-run");
    assert_eq!(anchor("Plan JSON (format version 1)"), "plan-json-format-version-1");
    assert_eq!(
        anchor("Replacements: start first, behind a stable endpoint"),
        "replacements-start-first-behind-a-stable-endpoint"
    );
}
