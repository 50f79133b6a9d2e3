//! tenantd.toml(5): the config file's page, written from [`super::config_keys`].

use clap_mangen::roff::{bold, italic, roman, Roff};

use super::config_keys::{keys_of, toml_with, ConfigKey, KeyDefault, TABLES};
use super::sections::{self, Block, Section};

/// The page's file name.
pub const FILE_NAME: &str = "tenantd.toml.5";

/// The page, as roff.
pub fn render() -> String {
    let mut roff = Roff::new();
    let version = format!("tenantd {}", env!("CARGO_PKG_VERSION"));
    roff.control("TH", ["tenantd.toml", "5", "", version.as_str(), "File Formats"]);
    // Names such as CONTAINER_RUNTIME are not to be broken at a hyphen or spread out.
    roff.control("nh", []).control("ad", ["l"]);
    roff.control("SH", ["NAME"]).text([roman("tenantd.toml - tenantd's config file")]);
    roff.control("SH", ["SYNOPSIS"]).text([bold("/etc/tenantd/tenantd.toml")]);
    roff.control("SH", ["DESCRIPTION"]);
    for text in [
        "tenantd(1) reads this TOML file at every command that needs it, and tenantd run again on SIGHUP. \
         --config or TENANTD_CONFIG names another file. tenants_dir and state_dir must be set; every other key \
         has a default. A key tenantd does not know is an error, as is a value of the wrong type, each named with \
         its key.",
        "Relative paths are taken from the directory the file is in (with its symbolic links resolved), not from \
         the current directory. The file may hold registry passwords: keep it readable by root only (the package \
         installs it with mode 0640).",
        "A reload (SIGHUP) applies a changed file, except for the keys marked \"needs a restart\": a reload that \
         changes one of them is refused, and tenantd goes on with the file it has.",
    ] {
        roff.control("PP", []).text([roman(text)]);
    }
    for (table, about) in TABLES {
        let heading = match *table {
            "" => "KEYS".to_string(),
            "registries" => "[[registries]]".to_string(),
            table => format!("[{table}]"),
        };
        roff.control("SH", [heading.as_str()]);
        roff.control("PP", []).text([roman(*about)]);
        for key in keys_of(table) {
            render_key(key, &mut roff);
        }
    }
    roff.control("SH", ["EXAMPLE"]);
    roff.control("PP", []).text([roman("Every key set (the values are examples, not the defaults):")]);
    roff.control("RS", ["4"]).control("nf", []);
    for line in toml_with(|k| Some(k.example)).lines() {
        roff.text([roman(line)]);
    }
    roff.control("fi", []).control("RE", []);
    sections::render(&trailing_sections(), &mut roff);
    roff.to_roff()
}

fn render_key(key: &ConfigKey, roff: &mut Roff) {
    roff.control("TP", []).text([bold(key.name), roman(" ("), italic(key.kind), roman(")")]);
    let default = match key.default {
        KeyDefault::Required => "Required.".to_string(),
        KeyDefault::Value(v) => format!("Default: {v}."),
        KeyDefault::Unset(what) => format!("Default: {what}."),
    };
    let restart = if key.restart { " Changing it needs a restart." } else { "" };
    roff.text([roman(format!("{} {default}{restart}", key.meaning))]);
}

fn trailing_sections() -> Vec<Section> {
    use Block::{Item, Pages};
    vec![
        Section::new(
            "ENVIRONMENT",
            vec![
                Item("TENANTD_CONFIG", "The file, when --config is not given."),
                Item("CONTAINER_RUNTIME", "Overrides runtime: docker or kubernetes."),
                Item("DOCKER_HOST", "The engine's endpoint when [docker] host is not set."),
                Item("KUBECONFIG", "The cluster's kubeconfig when [kubernetes] kubeconfig is not set."),
                Item("CREDENTIALS_DIRECTORY", "Where the default [secrets] identity_file is."),
            ],
        ),
        Section::new(
            "FILES",
            vec![
                Item("/etc/tenantd/tenantd.toml", "The default location."),
                Item("~/.config/tenantd/tenantd.toml", "The user service's (rootless Podman)."),
                Item(
                    "/usr/share/doc/tenantd/examples/tenantd-rootless.toml",
                    "A config for the user service on rootless Podman.",
                ),
            ],
        ),
        Section::new("SEE ALSO", vec![Pages(&["tenantd(1)", "tenantd-run(1)", "systemd.exec(5)", "nft(8)", "age(1)"])]),
    ]
}
