//! `tenantd completions` and `tenantd man`: the scripts and pages name every subcommand of the
//! command line's definition, the bash script is valid bash, and the pages are valid roff.
//!
//! The roff checks need `groff` (Debian's `groff-base`): without it they print `SKIPPED`; with
//! `TENANTD_REQUIRE_GROFF=1` they fail instead.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use clap::CommandFactory;

fn tenantd(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_tenantd")).args(args).output().expect("run tenantd");
    assert!(out.status.success(), "tenantd {args:?}: {}: {}", out.status, String::from_utf8_lossy(&out.stderr));
    out
}

/// Every subcommand a user can type, nested ones as `secrets keygen`; clap's own `help` aside.
fn subcommands() -> Vec<Vec<String>> {
    fn walk(cmd: &clap::Command, prefix: &[String], all: &mut Vec<Vec<String>>) {
        // Hidden subcommands (the ingress, run inside its container) have no page or completion.
        for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help" && !s.is_hide_set()) {
            let mut path = prefix.to_vec();
            path.push(sub.get_name().to_string());
            walk(sub, &path, all);
            all.push(path);
        }
    }
    let mut all = Vec::new();
    walk(&tenantd::cli::Cli::command(), &[], &mut all);
    all
}

#[test]
fn the_command_line_has_the_subcommands_these_tests_rely_on() {
    // Guards the tests below against an empty or shrunken list passing vacuously.
    let names: Vec<String> = subcommands().iter().map(|p| p.join(" ")).collect();
    for expected in ["validate", "plan", "apply", "status", "run", "completions", "man", "secrets keygen"] {
        assert!(names.iter().any(|n| n == expected), "{expected} missing from {names:?}");
    }
}

/// Candidates for the last of `words` (`tenantd plan --d`), as bash's programmable completion
/// asks for them: the script `tenantd completions bash` printed is sourced and its function run,
/// which runs the `tenantd` found first in `$PATH` (the binary under test).
fn bash_candidates(words: &str) -> Vec<String> {
    let script = String::from_utf8(tenantd(&["completions", "bash"]).stdout).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tenantd.bash");
    std::fs::write(&file, script).unwrap();
    let program = format!(
        "source '{}'; COMP_WORDS=({words}); COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1)); \
         COMP_LINE=\"${{COMP_WORDS[*]}}\"; COMP_POINT=${{#COMP_LINE}}; COMP_TYPE=9; \
         _clap_complete_tenantd tenantd \"${{COMP_WORDS[-1]}}\" \"${{COMP_WORDS[-2]}}\"; \
         printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        file.display()
    );
    let out = Command::new("bash").arg("-c").arg(program).env("PATH", path_with_tenantd()).output().expect("bash");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().lines().filter(|l| !l.is_empty()).map(str::to_string).collect()
}

/// `$PATH` with the directory of the binary under test first.
fn path_with_tenantd() -> std::ffi::OsString {
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_tenantd")).parent().unwrap().to_path_buf();
    let rest = std::env::var_os("PATH").unwrap_or_default();
    std::env::join_paths(std::iter::once(bin_dir).chain(std::env::split_paths(&rest))).unwrap()
}

#[test]
fn bash_completion_is_valid_bash_and_registers_for_tenantd() {
    let script = String::from_utf8(tenantd(&["completions", "bash"]).stdout).unwrap();
    assert!(script.contains("-F _clap_complete_tenantd tenantd"), "registers a completion for tenantd:\n{script}");
    // It runs tenantd from $PATH, not the path of the binary that wrote it (a build directory).
    assert!(script.contains("COMPLETE=\"bash\"") && script.contains("\"tenantd\" -- "), "{script}");
    assert!(!script.contains(env!("CARGO_BIN_EXE_tenantd")), "{script}");

    let mut bash = Command::new("bash").arg("-n").stdin(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("bash");
    bash.stdin.take().unwrap().write_all(script.as_bytes()).unwrap();
    let out = bash.wait_with_output().unwrap();
    assert!(out.status.success(), "bash -n: {}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn bash_completion_completes_subcommands_and_their_options() {
    let top = bash_candidates("tenantd ''");
    for path in subcommands().iter().filter(|p| p.len() == 1) {
        assert!(top.contains(&path[0]), "`tenantd <TAB>` does not offer {}: {top:?}", path[0]);
    }
    assert!(!top.contains(&"ingress".to_string()), "the hidden ingress is offered: {top:?}");
    assert_eq!(bash_candidates("tenantd plan --d"), vec!["--detailed-exitcode".to_string()]);
    assert_eq!(bash_candidates("tenantd secrets k"), vec!["keygen".to_string()]);
}

/// The candidates the zsh and fish scripts ask for, with the variables each script sets.
#[test]
fn zsh_and_fish_scripts_ask_tenantd_and_get_every_subcommand() {
    let zsh = String::from_utf8(tenantd(&["completions", "zsh"]).stdout).unwrap();
    assert!(zsh.starts_with("#compdef tenantd\n"), "a completion function file for $fpath:\n{zsh}");
    assert!(
        zsh.contains("COMPLETE=\"zsh\"") && zsh.contains("compdef _clap_dynamic_completer_tenantd tenantd"),
        "{zsh}"
    );
    let fish = String::from_utf8(tenantd(&["completions", "fish"]).stdout).unwrap();
    assert!(
        fish.starts_with("complete ") && fish.contains("--command tenantd") && fish.contains("COMPLETE=fish tenantd"),
        "{fish}"
    );

    for (shell, index) in [("zsh", Some("1")), ("fish", None)] {
        let mut ask = Command::new(env!("CARGO_BIN_EXE_tenantd"));
        ask.args(["--", "tenantd", ""]).env("COMPLETE", shell).env("_CLAP_IFS", "\n");
        if let Some(index) = index {
            ask.env("_CLAP_COMPLETE_INDEX", index);
        }
        let out = ask.output().unwrap();
        assert!(out.status.success() && out.stderr.is_empty(), "{shell}: {out:?}");
        let offered = String::from_utf8(out.stdout).unwrap();
        for path in subcommands().iter().filter(|p| p.len() == 1) {
            assert!(
                offered.lines().any(|l| l.split([':', '\t']).next() == Some(path[0].as_str())),
                "{shell} lacks {}: {offered}",
                path[0]
            );
        }
    }
}

#[test]
fn elvish_and_powershell_scripts_name_every_subcommand() {
    for shell in ["elvish", "powershell"] {
        let script = String::from_utf8(tenantd(&["completions", shell]).stdout).unwrap();
        for path in subcommands() {
            let name = path.last().unwrap();
            assert!(script.contains(name.as_str()), "{shell} script lacks {name}");
        }
    }
}

#[test]
fn an_unknown_shell_is_refused() {
    let out = Command::new(env!("CARGO_BIN_EXE_tenantd")).args(["completions", "tcsh"]).output().unwrap();
    assert_eq!(out.status.code(), Some(64), "a usage error (EX_USAGE), not 2");
    assert!(String::from_utf8_lossy(&out.stderr).contains("bash"), "the error lists the shells");
}

/// A command line tenantd cannot parse exits 64, never 2, which `plan --detailed-exitcode`
/// means as "changes pending"; help and version succeed, on stdout.
#[test]
fn usage_errors_exit_64_and_help_and_version_exit_0() {
    let run = |args: &[&str]| Command::new(env!("CARGO_BIN_EXE_tenantd")).args(args).output().unwrap();
    for args in [&["plan", "--detailed-exitcode", "--no-such-flag"][..], &["plan", "--output", "yml"], &[], &["nosuch"]]
    {
        let out = run(args);
        assert_eq!(out.status.code(), Some(64), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(out.stdout.is_empty(), "{args:?}: the error goes to stderr");
        assert!(!out.stderr.is_empty(), "{args:?}: and says what is wrong");
    }
    for args in [&["--help"][..], &["plan", "--help"], &["--version"]] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        assert!(!out.stdout.is_empty(), "{args:?}");
    }
}

/// Whether groff runs. When it does not: panics if `TENANTD_REQUIRE_GROFF=1`, else prints a
/// visible SKIPPED line.
fn groff_available(test: &str) -> bool {
    if Command::new("groff").arg("--version").output().is_ok_and(|o| o.status.success()) {
        return true;
    }
    if std::env::var("TENANTD_REQUIRE_GROFF").as_deref() == Ok("1") {
        panic!("{test}: groff cannot be run, and TENANTD_REQUIRE_GROFF=1");
    }
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED: {test}: groff cannot be run; set TENANTD_REQUIRE_GROFF=1 to fail instead"
    );
    false
}

/// The page formatted as text; fails on any warning groff gives (`-ww`: all of them).
fn format_page(page: &Path) -> String {
    // -k: the pages are UTF-8 (help texts use `…` and `—`).
    let out = Command::new("groff").args(["-k", "-man", "-Tutf8", "-ww"]).arg(page).output().expect("groff");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stderr.trim().is_empty(), "groff on {}: {}: {stderr}", page.display(), out.status);
    // Drop the overstrike formatting groff uses for bold and italics on a terminal.
    let text = String::from_utf8(out.stdout).unwrap();
    let mut plain = String::new();
    for c in text.chars() {
        if c == '\u{8}' {
            plain.pop();
        } else {
            plain.push(c);
        }
    }
    plain
}

#[test]
fn man_prints_the_top_page_listing_every_subcommand() {
    let page = tenantd(&["man"]).stdout;
    let roff = String::from_utf8(page.clone()).unwrap();
    assert!(roff.contains(".TH tenantd 1"), "a section-1 page:\n{roff}");
    let sections = [
        ".SH NAME",
        ".SH SYNOPSIS",
        ".SH OPTIONS",
        ".SH SUBCOMMANDS",
        ".SH \"EXIT STATUS\"",
        ".SH ENVIRONMENT",
        ".SH FILES",
        ".SH EXAMPLES",
        ".SH \"SEE ALSO\"",
        ".SH VERSION",
    ];
    let mut at = 0;
    for section in sections {
        let found = roff[at..].find(section).unwrap_or_else(|| panic!("{section} missing, or out of order:\n{roff}"));
        at += found + section.len();
    }
    if !groff_available("man_prints_the_top_page_listing_every_subcommand") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tenantd.1");
    std::fs::write(&file, page).unwrap();
    let text = format_page(&file);
    for path in subcommands().iter().filter(|p| p.len() == 1) {
        assert!(text.contains(&format!("tenantd-{}(1)", path[0])), "SUBCOMMANDS lacks tenantd-{}(1):\n{text}", path[0]);
    }
    // What a script needs to know, as a reader sees it.
    for expected in [
        "EX_USAGE",
        "--detailed-exitcode",
        "TENANTD_CONFIG",
        "TENANTD_LOG_FORMAT",
        "/var/lib/tenantd/status/TENANT.json",
        "tenantd.toml(5)",
    ] {
        assert!(text.contains(expected), "tenantd(1) lacks {expected}:\n{text}");
    }
}

#[test]
fn man_dir_writes_one_valid_page_per_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("man1");
    tenantd(&["man", "--dir", out_dir.to_str().unwrap()]);

    let mut expected: Vec<String> = subcommands().iter().map(|p| format!("tenantd-{}.1", p.join("-"))).collect();
    expected.push("tenantd.1".to_string());
    expected.push("tenantd.toml.5".to_string());
    expected.sort();
    let mut written: Vec<String> =
        std::fs::read_dir(&out_dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    written.sort();
    assert_eq!(written, expected);

    // The page of `plan` documents its own options.
    let plan = std::fs::read_to_string(out_dir.join("tenantd-plan.1")).unwrap();
    assert!(plan.contains(r"\-\-detailed\-exitcode"), "{plan}");
    // And says what its exit status means.
    assert!(plan.contains(".SH \"EXIT STATUS\"") && plan.contains(".SH EXAMPLES"), "{plan}");
    let config = std::fs::read_to_string(out_dir.join("tenantd.toml.5")).unwrap();
    assert!(config.starts_with(".TH tenantd.toml 5"), "{config}");

    if !groff_available("man_dir_writes_one_valid_page_per_subcommand") {
        return;
    }
    for name in &written {
        let text = format_page(&out_dir.join(name));
        assert!(text.contains("NAME") && text.contains("SYNOPSIS"), "{name}:\n{text}");
    }
}

#[test]
fn man_dir_that_cannot_be_created_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "").unwrap();
    let target = file.join("man1");
    let out = Command::new(env!("CARGO_BIN_EXE_tenantd")).args(["man", "--dir"]).arg(&target).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&format!("cannot create {}", target.display())), "{stderr}");
}

/// tenantd.toml(5) as a reader sees it: each table and key, with its default.
#[test]
fn the_config_page_documents_each_table_and_key() {
    let dir = tempfile::tempdir().unwrap();
    tenantd(&["man", "--dir", dir.path().to_str().unwrap()]);
    if !groff_available("the_config_page_documents_each_table_and_key") {
        return;
    }
    // As one line, since a sentence may be broken anywhere.
    let text = format_page(&dir.path().join("tenantd.toml.5")).split_whitespace().collect::<Vec<_>>().join(" ");
    for expected in [
        "tenants_dir (path)",
        "Required.",
        "[docker]",
        "[[registries]]",
        "resync_interval",
        "Default: \"60s\".",
        "control_plane_namespace_labels",
        "Changing it needs a restart.",
        "EXAMPLE",
        "tenantd(1)",
    ] {
        assert!(text.contains(expected), "tenantd.toml(5) lacks {expected:?}:\n{text}");
    }
}
