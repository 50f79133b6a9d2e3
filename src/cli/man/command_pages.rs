//! What tenantd(1) and the subcommands' pages say beyond the options: exit status,
//! environment, files, examples and related pages.

use super::sections::{Block, Section};
use Block::{Example, Item, Pages, Para};

/// The exit status every command shares for a command line it cannot parse.
const USAGE: Block = Item(
    "64",
    "The command line cannot be parsed: an unknown subcommand or option, a missing argument, a bad value \
     (EX_USAGE of sysexits.h). Never 2, which plan --detailed-exitcode gives for pending changes.",
);

/// The sections after OPTIONS and SUBCOMMANDS of the page named `page` (`tenantd`,
/// `tenantd-plan`, `tenantd-secrets-keygen`); none for a page that needs none.
pub fn extra_sections(page: &str) -> Vec<Section> {
    let sub = page.strip_prefix("tenantd-");
    let mut sections = match sub {
        None => top_page(),
        Some(sub) => subcommand_sections(sub),
    };
    let see_also: &'static [&'static str] = match sub {
        None => &["tenantd.toml(5)", "systemctl(1)", "journalctl(1)", "docker(1)", "kubectl(1)", "age(1)"],
        Some("secrets-keygen" | "secrets-encrypt") => {
            &["tenantd(1)", "tenantd-secrets(1)", "tenantd.toml(5)", "age(1)"]
        }
        Some(_) => &["tenantd(1)", "tenantd.toml(5)"],
    };
    sections.push(Section::new("SEE ALSO", vec![Pages(see_also)]));
    sections
}

/// The subcommands [`subcommand_sections`] has something to say about, for the test that
/// each still exists.
#[cfg(test)]
pub const DOCUMENTED_SUBCOMMANDS: &[&str] = &[
    "validate",
    "plan",
    "apply",
    "wait",
    "status",
    "logs",
    "restart",
    "exec",
    "stats",
    "explain",
    "completions",
    "man",
    "schema",
    "render",
    "secrets-keygen",
    "secrets-encrypt",
    "take-over",
    "run",
];

fn top_page() -> Vec<Section> {
    vec![
        Section::new(
            "EXIT STATUS",
            vec![
                Item("0", "Success. For plan --detailed-exitcode: nothing would change."),
                Item(
                    "1",
                    "An error, said on standard error: the config file cannot be read or is not valid, the engine or \
                     cluster cannot be reached, a spec is not valid (validate, plan, apply), a tenant did not converge \
                     (apply), a wait timed out or cannot succeed (wait), or a tenant holds no status (status: the \
                     tenant named has none, or a status file cannot be read).",
                ),
                Item(
                    "2",
                    "Only from plan --detailed-exitcode: the plan has changes, which apply would make. No other \
                     command exits 2.",
                ),
                USAGE,
                Para(
                    "exec exits with the status of the command it ran in the container, as docker exec does (129 or \
                     143 when tenantd is hung up or terminated while it runs).",
                ),
            ],
        ),
        Section::new(
            "ENVIRONMENT",
            vec![
                Item("TENANTD_CONFIG", "The config file when --config is not given (default: /etc/tenantd/tenantd.toml)."),
                Item(
                    "TENANTD_LOG",
                    "Which log lines go to standard error, as a tracing filter directive (debug, or \
                     tenantd=debug,kube=warn). Default: warn for commands, info for run.",
                ),
                Item("TENANTD_LOG_FORMAT", "text or json: the format of log lines, when --log-format is not given."),
                Item(
                    "NO_COLOR",
                    "When set and not empty, output is never coloured. Without it, colour is used only on a terminal.",
                ),
                Item(
                    "CONTAINER_RUNTIME",
                    "docker or kubernetes: overrides runtime in the config file. Empty counts as unset.",
                ),
                Item(
                    "DOCKER_HOST",
                    "The engine's endpoint (unix:///path or tcp://host:port) when [docker] host is not set.",
                ),
                Item(
                    "XDG_RUNTIME_DIR",
                    "When no endpoint is named, $XDG_RUNTIME_DIR/podman/podman.sock (rootless Podman) is tried after \
                     /var/run/docker.sock and /run/podman/podman.sock.",
                ),
                Item(
                    "KUBECONFIG",
                    "With runtime = \"kubernetes\" and no [kubernetes] kubeconfig: the kubeconfig files, a \
                     colon-separated list merged as kubectl merges it.",
                ),
                Item("HOME", "Without either kubeconfig setting, ~/.kube/config is used when it exists."),
                Item(
                    "KUBERNETES_SERVICE_HOST",
                    "Set by Kubernetes in a pod: without a kubeconfig, and with [kubernetes] in_cluster, the pod's own \
                     service account is used.",
                ),
                Item(
                    "CREDENTIALS_DIRECTORY",
                    "Set by systemd for LoadCredential=: when [secrets] identity_file is not set, the age identity is \
                     $CREDENTIALS_DIRECTORY/age-identity.",
                ),
                Item(
                    "NOTIFY_SOCKET, WATCHDOG_USEC, WATCHDOG_PID",
                    "Set by systemd for a Type=notify service: run reports readiness, reloads and stopping there, and \
                     pings the watchdog at half of WATCHDOG_USEC.",
                ),
                Item(
                    "JOURNAL_STREAM",
                    "Set by systemd when standard error goes to the journal: when it names tenantd's standard error, \
                     every log line starts with its priority as sd-daemon(3) writes it (<3> for an error), and text \
                     lines carry no timestamp or colour.",
                ),
                Item(
                    "COMPLETE",
                    "Set by the completion scripts (see tenantd-completions(1)) to bash, zsh, fish, elvish or \
                     powershell: the run prints completion candidates for the words after -- instead of running a \
                     command. Any other value is ignored.",
                ),
            ],
        ),
        Section::new(
            "FILES",
            vec![
                Item("/etc/tenantd/tenantd.toml", "The config file; see tenantd.toml(5)."),
                Item(
                    "/etc/tenantd/tenants.d/",
                    "The tenants_dir: one YAML spec per tenant (*.yaml, *.yml). tenantd schema prints their JSON \
                     Schema; tenantd explain documents each field.",
                ),
                Item(
                    "/var/lib/tenantd/",
                    "The state_dir: tenantd.lock (the state directory that owns the instance), runtime-config/ and \
                     ingress/ (files given to tenants' containers).",
                ),
                Item(
                    "/var/lib/tenantd/status/TENANT.json",
                    "One status file per tenant, written atomically after each pass; read by tenantd status.",
                ),
                Item(
                    "/run/tenantd/secrets/TENANT/NAME",
                    "Decrypted secrets, on tmpfs ([secrets] dir); never written to disk.",
                ),
                Item(
                    "/etc/tenantd/age-identity",
                    "The age identity that decrypts secrets, when [secrets] identity_file names it (or handed over \
                     with LoadCredential=age-identity:/etc/tenantd/age-identity).",
                ),
                Item(
                    "/usr/lib/systemd/system/tenantd.service",
                    "The service: tenantd --config /etc/tenantd/tenantd.toml run, Type=notify; systemctl reload \
                     sends SIGHUP. Installed, not enabled.",
                ),
                Item(
                    "/usr/lib/systemd/user/tenantd.service",
                    "The user service for rootless Podman, with ~/.config/tenantd/tenantd.toml.",
                ),
                Item(
                    "/usr/lib/tmpfiles.d/tenantd.conf",
                    "Creates /etc/tenantd, /var/lib/tenantd and /run/tenantd with the service's modes.",
                ),
            ],
        ),
        Section::new(
            "EXAMPLES",
            vec![
                Example("Check every spec in the tenants_dir, then one file before it is copied there:", "tenantd validate\ntenantd validate --as /etc/tenantd/tenants.d/acme.yaml acme.yaml"),
                Example(
                    "In CI: fail on an invalid spec, and tell pending changes from none:",
                    "tenantd plan --detailed-exitcode\ncase $? in 0) echo \"in sync\" ;; 2) echo \"changes pending\" ;; *) exit 1 ;; esac",
                ),
                Example("Converge every tenant once, then show where they stand:", "tenantd apply\ntenantd status"),
                Example(
                    "After writing a spec for the daemon: wait until it runs, healthy:",
                    "tenantd wait acme --for healthy --timeout 2m",
                ),
                Example("The status of one tenant, for a program:", "tenantd status acme -o json"),
                Example("Follow a tenant's log from ten minutes ago:", "tenantd logs -f --since 10m acme"),
                Example("A shell in a tenant's running container:", "tenantd exec -it acme -- sh"),
                Example(
                    "Make the daemon's key, then encrypt a value for a spec's secrets: entry:",
                    "tenantd secrets keygen --output /etc/tenantd/age-identity\nprintf %s \"$TOKEN\" | tenantd secrets encrypt --recipient age1...",
                ),
                Example(
                    "Keep the tenants converged: as the service, or in the foreground:",
                    "systemctl enable --now tenantd\ntenantd --config ./tenantd.toml run",
                ),
            ],
        ),
    ]
}

fn subcommand_sections(sub: &str) -> Vec<Section> {
    let (status, examples): (Vec<Block>, Vec<Block>) = match sub {
        "validate" => (
            vec![Item("0", "Every spec is valid."), Item("1", "A problem was found; each is shown with its file and line.")],
            vec![
                Example("The configured tenants_dir:", "tenantd validate"),
                Example("Files and directories given:", "tenantd validate tenants.d/acme.yaml other-tenants/"),
                Example(
                    "A copy, checked where it will go (Ansible's validate:):",
                    "tenantd validate --as /etc/tenantd/tenants.d/acme.yaml /tmp/acme.yaml.new",
                ),
            ],
        ),
        "plan" => (
            vec![
                Item("0", "The plan was made; with --detailed-exitcode, nothing would change."),
                Item("1", "An error, or a spec that is not valid, or a tenant the plan leaves as it is (blocked)."),
                Item("2", "With --detailed-exitcode only: something would change."),
            ],
            vec![
                Example("What apply would do:", "tenantd plan"),
                Example(
                    "In CI:",
                    "tenantd plan --detailed-exitcode\ncase $? in 0) echo \"in sync\" ;; 2) echo \"changes pending\" ;; *) exit 1 ;; esac",
                ),
                Example("One tenant, as JSON:", "tenantd plan --target acme -o json"),
            ],
        ),
        "apply" => (
            vec![Item("0", "Every tenant converged."), Item("1", "An error, or a tenant or spec file that did not converge.")],
            vec![
                Example("Converge once, waiting for health:", "tenantd apply"),
                Example("Without waiting for health checks:", "tenantd apply --no-wait"),
                Example("Only two tenants, each waited for at most 5 minutes:", "tenantd apply --target acme --target globex --wait-timeout 5m"),
                Example("For a program: the result as JSON on stdout, progress on stderr:", "tenantd apply -o json > result.json"),
            ],
        ),
        "wait" => (
            vec![
                Item("0", "Every tenant waited for got there."),
                Item(
                    "1",
                    "The timeout passed first (each tenant still waited for is named with what it waits for), a \
                     tenant cannot get there on its own (invalid spec, conflict, its spec rolled back, suspended), or \
                     an error.",
                ),
            ],
            vec![
                Example("Every tenant with a spec file, healthy:", "tenantd wait"),
                Example("One tenant converged, for at most 90 seconds:", "tenantd wait acme --for converged --timeout 90s"),
            ],
        ),
        "status" => (
            vec![
                Item("0", "Every status was shown."),
                Item("1", "The tenant named has no status, or a status file cannot be read (it is listed with why)."),
            ],
            vec![
                Example("Every tenant, as a table:", "tenantd status"),
                Example("One tenant, for a program:", "tenantd status acme -o json"),
            ],
        ),
        "logs" => (
            vec![Item("0", "The log was printed (or following it was interrupted)."), Item("1", "An error.")],
            vec![
                Example("The last 100 lines:", "tenantd logs --tail 100 acme"),
                Example("Follow, from ten minutes ago, with timestamps:", "tenantd logs -f --since 10m --timestamps acme"),
                Example("A sidecar's log:", "tenantd logs -c proxy acme"),
            ],
        ),
        "restart" => (
            vec![Item("0", "The container was restarted."), Item("1", "An error.")],
            vec![Example("Restart a tenant's runtime container:", "tenantd restart acme")],
        ),
        "exec" => (
            vec![
                Item("N", "The exit status of the command run in the container."),
                Item("1", "tenantd could not run it: the tenant or container is unknown or not running."),
                Item("129, 143", "tenantd was hung up or terminated while the command ran; the command goes on."),
            ],
            vec![
                Example("A shell:", "tenantd exec -it acme -- sh"),
                Example("One command in a sidecar:", "tenantd exec -c proxy acme -- cat /etc/hosts"),
            ],
        ),
        "stats" => (
            vec![Item("0", "Success, or interrupted."), Item("1", "An error.")],
            vec![
                Example("Live use of every tenant:", "tenantd stats"),
                Example("One sample of two tenants, for a program:", "tenantd stats --no-stream -o json acme globex"),
            ],
        ),
        "explain" => (
            vec![Item("0", "The field was documented."), Item("1", "No such field; the error names the closest.")],
            vec![Example("A spec field:", "tenantd explain resources.memory")],
        ),
        "completions" => (
            Vec::new(),
            vec![
                Para(
                    "For bash, zsh and fish the script asks tenantd for candidates on each TAB, so tenant names \
                     complete too (status, logs, restart, exec, stats, plan --target, render), read from the \
                     tenants_dir of the config in use. Elvish and PowerShell get subcommands and options only.",
                ),
                Example("bash, for every user:", "tenantd completions bash > /etc/bash_completion.d/tenantd"),
                Example("bash, in ~/.bashrc:", "source <(tenantd completions bash)"),
                Example("zsh, a directory in $fpath:", "tenantd completions zsh > ~/.zfunc/_tenantd"),
                Example("fish:", "tenantd completions fish > ~/.config/fish/completions/tenantd.fish"),
            ],
        ),
        "man" => (
            Vec::new(),
            vec![
                Example("Read this page without installing it:", "tenantd man | man -l -"),
                Example(
                    "Install every page (tenantd.toml.5 belongs in section 5):",
                    "tenantd man --dir pages\ninstall -m 644 pages/*.1 /usr/local/share/man/man1/\ninstall -m 644 pages/*.5 /usr/local/share/man/man5/",
                ),
            ],
        ),
        "schema" => (
            Vec::new(),
            vec![Example("For an editor's YAML language server:", "tenantd schema > tenant.schema.json")],
        ),
        "render" => (
            vec![Item("0", "Printed."), Item("1", "An error: no such tenant, or its spec is not valid.")],
            vec![
                Example("The runtime config of a tenant:", "tenantd render acme"),
                Example("The Kubernetes manifests of every tenant:", "tenantd render --runtime kubernetes"),
            ],
        ),
        "secrets-keygen" => (
            vec![Item("0", "The identity was written."), Item("1", "An error; an existing file is never overwritten.")],
            vec![Example("The daemon's key:", "tenantd secrets keygen --output /etc/tenantd/age-identity")],
        ),
        "secrets-encrypt" => (
            vec![Item("0", "The value was encrypted."), Item("1", "An error, such as no recipient.")],
            vec![Example(
                "Encrypt to the config's recipients, for a spec's secrets: entry:",
                "printf %s \"$TOKEN\" | tenantd secrets encrypt",
            )],
        ),
        "take-over" => (
            vec![Item("0", "This state directory now owns the instance."), Item("1", "An error.")],
            vec![Example("After moving the state directory:", "tenantd --config /etc/tenantd/tenantd.toml take-over")],
        ),
        "run" => (
            vec![
                Item("0", "Stopped by SIGTERM or SIGINT; the tenants keep running."),
                Item("1", "It could not start, or stopped on an error; the log says why."),
            ],
            vec![
                Example("As the service:", "systemctl enable --now tenantd\nsystemctl reload tenantd"),
                Example("In the foreground, with debug logs:", "TENANTD_LOG=debug tenantd --config ./tenantd.toml run"),
            ],
        ),
        _ => (Vec::new(), Vec::new()),
    };
    let mut sections = Vec::new();
    if !status.is_empty() {
        let mut blocks = status;
        blocks.push(USAGE);
        sections.push(Section::new("EXIT STATUS", blocks));
    }
    if sub == "run" {
        sections.push(Section::new(
            "SIGNALS",
            vec![
                Item("SIGHUP", "Read the config file and every spec again (systemctl reload)."),
                Item(
                    "SIGTERM, SIGINT",
                    "Stop: work in flight is given up to 20 seconds, then tenantd exits 0. Tenants keep running.",
                ),
            ],
        ));
    }
    if !examples.is_empty() {
        sections.push(Section::new("EXAMPLES", examples));
    }
    sections
}
