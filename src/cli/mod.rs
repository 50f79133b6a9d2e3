//! Command-line interface: argument parsing, wiring, and the one place results become exit codes.

mod apply;
mod apply_log;
mod apply_progress;
mod completions;
mod diagnostics;
mod duration;
mod exec;
pub mod exit;
mod explain;
mod liveness;
mod logging;
mod logs;
mod man;
mod output;
mod plan;
mod render;
mod restart;
mod scope;
mod secrets;
mod stats;
mod stats_view;
mod status;
mod style;
mod table;
mod take_over;
mod target;
mod terminal;
mod validate;
mod validate_report;
mod wait;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::config::{ConfigError, DaemonConfig, RuntimeKind, DEFAULT_CONFIG_PATH};
use crate::host_firewall::{FirewallMode, HostFirewall};
use crate::runtime::docker::DockerRuntime;
use crate::runtime::kubernetes::KubernetesRuntime;
use crate::runtime::Runtime;
pub use logging::LogFormat;

#[derive(Debug, Parser)]
#[command(
    name = "tenantd",
    version,
    about = "Declarative reconcile daemon: one YAML file per tenant, converged onto a container engine"
)]
pub struct Cli {
    /// The daemon config file.
    #[arg(long, global = true, env = "TENANTD_CONFIG", default_value = DEFAULT_CONFIG_PATH)]
    pub config: PathBuf,
    /// How log lines on stderr read: text, or one JSON object per line (for log shippers).
    #[arg(long, global = true, value_enum, env = "TENANTD_LOG_FORMAT", default_value = "text")]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

pub use output::OutputFormat;

/// Which of a tenant's containers a day-2 command acts on.
#[derive(Debug, Clone, clap::Args)]
pub struct ContainerChoice {
    /// A sidecar's name; without it, the tenant's runtime container.
    #[arg(long, short = 'c')]
    pub container: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate spec files or directories (default: the configured tenants_dir).
    Validate {
        /// Files (any name) or directories.
        paths: Vec<PathBuf>,
        /// Check the one file given as if it were at this path: build contexts are resolved from
        /// its directory, and a tenant another spec there names is refused. For a copy checked
        /// before it is moved into place: Ansible's `validate: tenantd validate --as {{ dest }} %s`.
        #[arg(long = "as", value_name = "PATH")]
        as_path: Option<PathBuf>,
        /// `table` prints each problem with its source excerpt; `json`/`yaml` print one document
        /// (valid tenants and problems) on stdout.
        #[arg(long, short = 'o', value_enum, default_value = "table")]
        output: OutputFormat,
    },
    /// Show what apply would change, without changing anything.
    Plan {
        /// Exit 0 when nothing would change, 1 on error, 2 when something would change.
        #[arg(long)]
        detailed_exitcode: bool,
        /// `table` (also `human`) prints the diff; `json`/`yaml` print the plan as one document.
        #[arg(long, short = 'o', value_enum, default_value = "table")]
        output: OutputFormat,
        /// Plan with an empty or missing tenants_dir (every tenant would be deleted).
        #[arg(long)]
        allow_empty: bool,
        /// Plan only this tenant (repeat for more); other tenants are neither observed nor shown.
        #[arg(long, value_name = "TENANT", add = completions::tenant_names())]
        target: Vec<String>,
    },
    /// Converge every tenant once.
    Apply {
        /// Do not wait for created or started runtimes to answer their health check. A start-first
        /// replacement still waits: traffic is never switched to a runtime not yet healthy.
        #[arg(long)]
        no_wait: bool,
        /// Longest wait for one tenant's health: `90s`, `2m` (a bare number is seconds).
        #[arg(long, value_name = "DURATION", default_value = "2m", value_parser = duration::parse)]
        wait_timeout: std::time::Duration,
        /// Apply with an empty or missing tenants_dir, deleting every tenant (volumes are kept).
        #[arg(long)]
        allow_empty: bool,
        /// Converge only this tenant (repeat for more); other tenants are neither observed nor
        /// changed.
        #[arg(long, value_name = "TENANT", add = completions::tenant_names())]
        target: Vec<String>,
        /// `table` prints one line per tenant; `json`/`yaml` print one document with each
        /// tenant's result. Progress goes to stderr then.
        #[arg(long, short = 'o', value_enum, default_value = "table")]
        output: OutputFormat,
    },
    /// Wait until tenants are converged (the runtime matches their spec, nothing left to do) or
    /// also healthy (their status says Running and healthy for that very spec); exits 1 when the
    /// timeout passes first, naming what each tenant still waits for.
    Wait {
        /// The tenants to wait for (default: every tenant with a spec file).
        #[arg(add = completions::tenant_names())]
        tenants: Vec<String>,
        /// What to wait for.
        #[arg(long = "for", value_enum, default_value = "healthy")]
        condition: wait::Condition,
        /// How long to wait at most: `90s`, `2m`, `1h`.
        #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = duration::parse)]
        timeout: std::time::Duration,
    },
    /// Show tenant status from the status files; exits 1 when one holds no status (it is listed with why).
    Status {
        #[arg(add = completions::tenant_names())]
        tenant: Option<String>,
        #[arg(long, short = 'o', value_enum, default_value = "table")]
        output: OutputFormat,
    },
    /// Print a tenant container's logs.
    Logs {
        #[arg(add = completions::tenant_names())]
        tenant: String,
        #[command(flatten)]
        container: ContainerChoice,
        /// Keep printing new lines until interrupted.
        #[arg(long, short = 'f')]
        follow: bool,
        /// Only the last N lines (default: all).
        #[arg(long, value_name = "N")]
        tail: Option<u64>,
        /// Only lines since this time: RFC 3339 (`2026-01-02T03:04:05Z`) or a duration ago (`10m`, `1h`).
        #[arg(long, value_name = "TIME")]
        since: Option<String>,
        /// Prefix each line with the engine's timestamp.
        #[arg(long)]
        timestamps: bool,
    },
    /// Restart a tenant's container in place (same container, same volumes); on Kubernetes, its
    /// pod, by a rollout restart (`--container` is refused there: a pod restarts as a whole).
    Restart {
        #[arg(add = completions::tenant_names())]
        tenant: String,
        #[command(flatten)]
        container: ContainerChoice,
    },
    /// Run a command in a tenant's running container: `tenantd exec acme -it -- sh`.
    Exec {
        #[arg(add = completions::tenant_names())]
        tenant: String,
        #[command(flatten)]
        container: ContainerChoice,
        /// Keep stdin open and pass it to the command.
        #[arg(long, short = 'i')]
        interactive: bool,
        /// Give the command a terminal.
        #[arg(long, short = 't')]
        tty: bool,
        /// The command and its arguments, after `--`.
        #[arg(last = true, required = true, value_name = "CMD")]
        command: Vec<String>,
    },
    /// Live CPU, memory and network use per tenant, like `docker stats` for tenants (on Kubernetes:
    /// CPU and memory from the metrics API, which has no network figures).
    Stats {
        /// Only these tenants (default: every tenant of this instance).
        #[arg(add = completions::tenant_names())]
        tenants: Vec<String>,
        /// Print one sample and exit instead of refreshing.
        #[arg(long)]
        no_stream: bool,
        #[arg(long, short = 'o', value_enum, default_value = "table")]
        output: OutputFormat,
    },
    /// Document a spec field from the schema: `tenantd explain resources.memory`.
    Explain {
        /// A dotted field path (`resources.memory`, `sidecars.health`); empty for the top level.
        #[arg(default_value = "")]
        path: String,
    },
    /// Print a shell completion script: `tenantd completions bash > /etc/bash_completion.d/tenantd`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page tenantd(1) (roff), generated from this command line's definition; with
    /// `--dir`, write it, one page per subcommand (tenantd-plan(1), …) and the config file's
    /// page tenantd.toml(5) into that directory.
    Man {
        /// Write tenantd.1, every tenantd-<subcommand>.1 and tenantd.toml.5 here (created if
        /// missing) instead of printing tenantd.1.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// Print the JSON Schema of tenant spec files.
    Schema,
    /// Print the runtime config (openclaw.json) generated for a tenant; secrets appear only as
    /// ${secret:<name>} references. With `--runtime kubernetes`: the Kubernetes manifests of the
    /// tenant (every tenant without one), as multi-document YAML.
    Render {
        /// The tenant's name (optional with --runtime kubernetes).
        #[arg(add = completions::tenant_names())]
        tenant: Option<String>,
        /// Read specs from this directory instead of the configured tenants_dir.
        #[arg(long)]
        dir: Option<PathBuf>,
        /// `kubernetes`: print the manifests tenantd would apply on a cluster.
        #[arg(long, value_enum)]
        runtime: Option<RenderRuntime>,
    },
    /// Make age keys and encrypt secret values for spec files.
    #[command(subcommand)]
    Secrets(SecretsCommand),
    /// Make this state directory the owner of its instance on the engine. An instance is
    /// converged by one state directory: `plan`, `apply` and `run` with another state directory
    /// configured for the same instance are refused, until it takes over with this command
    /// (the previous owner is then refused in turn). Nothing else is changed.
    TakeOver,
    /// The per-tenant ingress (run inside the tenant's ingress container, not by hand): a
    /// reverse proxy on ADDR to the backend named in DIR/backend, reporting in DIR/state.json.
    #[command(hide = true)]
    Ingress {
        /// The address to listen on (`0.0.0.0:8080`).
        #[arg(long, value_name = "ADDR")]
        listen: std::net::SocketAddr,
        /// The directory shared with tenantd: `backend` is read, `state.json` written.
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
        /// Only check that an ingress accepts connections on ADDR (the engine's healthcheck):
        /// exit 0 when it does, 1 when not within 2 s.
        #[arg(long)]
        probe: bool,
    },
    /// Run as a daemon: converge continuously, repair drift, supervise health.
    Run {
        /// Treat an empty or missing tenants_dir as "no tenants" (deleting every tenant).
        #[arg(long)]
        allow_empty: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RenderRuntime {
    Kubernetes,
}

#[derive(Debug, Subcommand)]
pub enum SecretsCommand {
    /// Generate an age identity (private key) for the daemon's `[secrets] identity_file`. Prints
    /// its public key (the recipient to encrypt to) on stderr.
    Keygen {
        /// Write the identity to this file (created with mode 0600; never overwritten) instead of
        /// stdout.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Encrypt a value read from stdin and print it as a YAML-ready `value: |` block for a
    /// spec's `secrets:` entry.
    Encrypt {
        /// An age public key (`age1…`) that may decrypt it; repeat for more. Default: the
        /// config's `[secrets] recipients`.
        #[arg(long, short)]
        recipient: Vec<String>,
    },
}

/// Parses arguments, runs the command, and maps the outcome to an exit code (see [`exit`]).
pub fn main() -> ExitCode {
    crate::daemon::memory::one_malloc_arena();
    completions::answer_if_asked();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // `--help` and `--version` print to stdout and succeed; anything else is a usage
            // error, which exits USAGE_ERROR rather than clap's 2: `plan --detailed-exitcode`
            // says "changes pending" with 2, and a script must not read a typo as that.
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { exit::USAGE_ERROR } else { exit::SUCCESS });
        }
    };
    logging::init(matches!(cli.command, Command::Run { .. } | Command::Ingress { .. }), cli.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(exit::FAILURE);
        }
    };
    let outcome = runtime.block_on(run(cli));
    // What a command waits for it has awaited; a blocking thread still at work (the daemon
    // reading a spec when SIGTERM came) must not hold the exit.
    runtime.shutdown_background();
    match outcome {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            if let Some(hint) = hint(&e) {
                eprintln!("hint: {hint}");
            }
            ExitCode::from(exit::FAILURE)
        }
    }
}

/// What the user can do about `e`, when the error alone does not say: a config file that is not
/// where tenantd looked was most likely meant to be named.
fn hint(e: &anyhow::Error) -> Option<String> {
    match e.chain().find_map(|cause| cause.downcast_ref::<ConfigError>())? {
        ConfigError::Read { source, .. } if source.kind() == std::io::ErrorKind::NotFound => Some(format!(
            "name tenantd's config file with --config PATH or the TENANTD_CONFIG environment variable; without \
             either, tenantd reads {DEFAULT_CONFIG_PATH}"
        )),
        _ => None,
    }
}

/// Runs one command; the value is the exit code.
pub async fn run(cli: Cli) -> anyhow::Result<u8> {
    match cli.command {
        Command::Validate { paths, as_path, output } => match as_path {
            Some(dest) => validate::run_as(&paths, &dest, output),
            None => validate::run(&cli.config, &paths, output),
        },
        Command::Plan { detailed_exitcode, output, allow_empty, target } => {
            plan::run(&load_config(&cli.config)?, output, detailed_exitcode, allow_empty, &target).await
        }
        Command::Apply { no_wait, wait_timeout, allow_empty, target, output } => {
            let opts = apply::ApplyOptions { no_wait, wait_timeout, allow_empty, targets: target, output };
            apply::run(&load_config(&cli.config)?, opts).await
        }
        Command::Wait { tenants, condition, timeout } => {
            wait::run(&load_config(&cli.config)?, &tenants, condition, timeout).await
        }
        Command::Status { tenant, output } => status::run(&load_config(&cli.config)?, tenant.as_deref(), output),
        Command::Logs { tenant, container, follow, tail, since, timestamps } => {
            let opts = logs::LogOptions { follow, tail, since, timestamps };
            logs::run(&load_config(&cli.config)?, &tenant, container.container.as_deref(), opts).await
        }
        Command::Restart { tenant, container } => {
            restart::run(&load_config(&cli.config)?, &tenant, container.container.as_deref()).await
        }
        Command::Exec { tenant, container, interactive, tty, command } => {
            let opts = exec::ExecOptions { interactive, tty, command };
            exec::run(&load_config(&cli.config)?, &tenant, container.container.as_deref(), opts).await
        }
        Command::Stats { tenants, no_stream, output } => {
            stats::run(&load_config(&cli.config)?, &tenants, no_stream, output).await
        }
        Command::Explain { path } => explain::run(&path),
        Command::Completions { shell } => completions::run_completions(shell),
        Command::Man { dir } => man::run(dir.as_deref()),
        Command::Schema => {
            print!("{}", crate::spec::schema::generate());
            Ok(0)
        }
        Command::Render { tenant, dir, runtime: Some(RenderRuntime::Kubernetes) } => {
            render::run_kubernetes(&cli.config, tenant.as_deref(), dir.as_deref())
        }
        Command::Render { tenant: Some(tenant), dir, runtime: None } => {
            render::run(&cli.config, &tenant, dir.as_deref())
        }
        Command::Render { tenant: None, .. } => anyhow::bail!("name the tenant whose runtime config to print"),
        Command::Secrets(SecretsCommand::Keygen { output }) => secrets::run_keygen(output.as_deref()),
        Command::Secrets(SecretsCommand::Encrypt { recipient }) => {
            let recipients = if recipient.is_empty() {
                load_config(&cli.config)
                    .map_err(|e| {
                        anyhow::anyhow!("no --recipient given, and the config's recipients cannot be read: {e:#}")
                    })?
                    .secrets
                    .recipients
            } else {
                recipient
            };
            secrets::run_encrypt(&recipients)
        }
        Command::TakeOver => take_over::run(&load_config(&cli.config)?).await,
        Command::Ingress { listen, probe: true, .. } => Ok(crate::ingress::probe(listen).await),
        Command::Ingress { listen, dir, probe: false } => {
            crate::ingress::serve(listen, dir).await?;
            Ok(0)
        }
        Command::Run { allow_empty } => {
            let cfg = load_config(&cli.config)?;
            let runtime: std::sync::Arc<dyn Runtime> = connect_lazily(&cfg).await?.into();
            let opts = crate::reconcile::PassOptions { allow_empty };
            let signals = crate::daemon::Signals::from_os()?;
            let notifier = std::sync::Arc::new(crate::daemon::notify::Notifier::from_env());
            crate::daemon::run(cfg, runtime, load_config, opts, signals, notifier).await?;
            Ok(0)
        }
    }
}

pub(crate) fn load_config(path: &std::path::Path) -> anyhow::Result<DaemonConfig> {
    let env_runtime = std::env::var("CONTAINER_RUNTIME").ok();
    Ok(DaemonConfig::load(path, env_runtime.as_deref())?)
}

/// Connects the configured runtime and checks that it answers.
pub(crate) async fn connect(cfg: &DaemonConfig) -> anyhow::Result<Box<dyn Runtime>> {
    let runtime = connect_lazily(cfg).await?;
    runtime.ping().await?;
    Ok(runtime)
}

/// The configured runtime, not yet asked whether it answers. A cluster without a usable
/// configuration fails here, at start.
async fn connect_lazily(cfg: &DaemonConfig) -> anyhow::Result<Box<dyn Runtime>> {
    Ok(match cfg.runtime {
        RuntimeKind::Docker => {
            let runtime = DockerRuntime::connect(&cfg.instance, cfg.docker_host.as_deref(), cfg.registries.clone())?
                .with_subnet_pool(cfg.docker_subnets);
            Box::new(match cfg.network.host_firewall {
                FirewallMode::Tenantd => {
                    runtime.with_host_firewall(HostFirewall::new(&cfg.instance, &cfg.network.host_allow))
                }
                FirewallMode::External => runtime,
            })
        }
        RuntimeKind::Kubernetes => Box::new(KubernetesRuntime::connect(&cfg.kubernetes, &cfg.instance).await?),
    })
}
