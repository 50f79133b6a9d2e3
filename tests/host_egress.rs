//! Tenants and the host's own services, on the real engines: a tenant with `egress: deny`
//! reaches nothing but its own containers, the host included; no tenant reaches a service of
//! the host (a listener on 0.0.0.0 made by the test) unless its port is in `[network]
//! host_allow`, which only tenants with egress allowed get; health probes and published ports
//! keep working. The rules live in an nftables table of the instance's own, kept in line with
//! its networks and left in place when tenantd stops; when they cannot be installed, nothing
//! starts.

mod support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::Value;
use support::daemon::Daemon;
use support::podman::PodmanService;
use support::*;

const CONVERGE: Duration = Duration::from_secs(90);

/// A pool of tenant subnets for one test of this process: apart from other tests' and other
/// processes' (`base` tells the Docker and Podman tests apart).
fn own_pool(base: u8, slot: u32) -> String {
    format!("10.{base}.{}.0/24", (std::process::id() % 50) * 5 + slot)
}

/// An HTTP service of "the host": bound to 0.0.0.0 on a free port, answering 200 to anything.
struct HostListener {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl HostListener {
    fn start() -> HostListener {
        let listener = TcpListener::bind("0.0.0.0:0").expect("bind 0.0.0.0:0");
        let port = listener.local_addr().expect("local address").port();
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopping.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(mut stream) = stream else { continue };
                stream.set_read_timeout(Some(Duration::from_secs(2))).ok();
                // The whole head is read first: closing with unread bytes would reset the
                // connection before the client reads the answer.
                let (mut head, mut buf) = (Vec::new(), [0u8; 1024]);
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                stream.write_all(b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nok\n").ok();
            }
        });
        let l = HostListener { port, stop, thread: Some(thread) };
        assert_eq!(http_get(l.port, "/"), Some(200), "the host listener answers on loopback");
        l
    }
}

impl Drop for HostListener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop so it sees the flag.
        std::net::TcpStream::connect(("127.0.0.1", self.port)).ok();
        if let Some(t) = self.thread.take() {
            t.join().ok();
        }
    }
}

/// Whether `tenant`'s main container gets a 2xx answer from `url` (the stub's own probe, run
/// with `tenantd exec`). Anything but the probe's own verdict fails the test.
fn reaches(env: &Env, tenant: &str, url: &str) -> bool {
    let o = env.tenantd(&["exec", tenant, "--", "/stub-runtime", "probe", url]);
    match o.status.code() {
        Some(0) => true,
        Some(1) if stderr(&o).contains(&format!("probe {url}:")) => false,
        _ => panic!("tenantd exec {tenant} probe {url}: {:?}\n{}{}", o.status, stdout(&o), stderr(&o)),
    }
}

/// The host's first global IPv4 address that is not on a container bridge.
fn primary_address() -> String {
    let o = std::process::Command::new("ip").args(["-4", "-o", "addr", "show", "scope", "global"]).output();
    let o = o.expect("the ip command runs");
    let text = stdout(&o);
    text.lines()
        .filter_map(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            let (iface, address) = (*words.get(1)?, *words.get(3)?);
            let bridge = ["docker", "br-", "cni-", "podman", "veth"].iter().any(|p| iface.starts_with(p));
            (!bridge).then(|| address.split('/').next().unwrap_or_default().to_string())
        })
        .next()
        .unwrap_or_else(|| panic!("no global IPv4 address outside container bridges:\n{text}"))
}

/// The first host address of `subnet` (`10.1.2.0/28` → `10.1.2.1`): where the engines put the
/// gateway, on the host.
fn first_host(subnet: &str) -> String {
    let net: ipnet::Ipv4Net = subnet.parse().unwrap_or_else(|_| panic!("{subnet:?} is a subnet"));
    net.hosts().next().expect("a host address").to_string()
}

/// An element list of the instance's table, as nft prints it (`nft list set`).
fn set_of(instance: &str, set: &str) -> Option<String> {
    let table = host_rules_table(instance);
    let o = std::process::Command::new("nft").args(["list", "set", "inet", &table, set]).output().ok()?;
    o.status.success().then(|| stdout(&o))
}

/// A tenant's container address and its network's subnet, from an engine's inspect output.
fn address(container: &Value, network: &Value, net_name: &str) -> (String, String) {
    let ip = container["NetworkSettings"]["Networks"][net_name]["IPAddress"].as_str().unwrap_or_default().to_string();
    let subnet = network["IPAM"]["Config"][0]["Subnet"]
        .as_str()
        .or_else(|| network["subnets"][0]["subnet"].as_str())
        .unwrap_or_else(|| panic!("no subnet in {network}"))
        .to_string();
    assert!(!ip.is_empty(), "no address on {net_name}: {container}");
    (ip, subnet)
}

/// Applies until every tenant's status says `Running` (the engine's health check of a tenant
/// without a published port may still be starting when the first apply ends).
fn await_running(env: &Env, tenants: &[&str]) {
    eventually(&format!("{tenants:?} Running"), CONVERGE, || {
        env.apply_ok();
        tenants.iter().all(|t| env.status(t).is_some_and(|s| s["phase"] == "Running")).then_some(())
    });
}

/// `docker network inspect` (a network and a container of a tenant share a name).
fn docker_network(name: &str) -> Value {
    let o = docker(&["network", "inspect", name]);
    assert!(o.status.success(), "docker network inspect {name}: {}", stderr(&o));
    serde_json::from_slice::<Value>(&o.stdout).expect("JSON")[0].clone()
}

fn deny_spec(name: &str) -> String {
    stub_spec(name, "  network: { egress: deny }\n")
}

/// An allow tenant with a sidecar listening on 8080.
fn open_spec(name: &str) -> String {
    let image = stub::stub_image();
    stub_spec(
        name,
        &format!(
            "  sidecars: [ {{ name: helper, image: {image}, pullPolicy: Never, env: {{ PORT: \"8080\" }}, resources: {{ memory: 32Mi }} }} ]\n"
        ),
    )
}

#[test]
fn on_docker_tenants_reach_no_host_service_but_the_allowlist_and_deny_reaches_nothing() {
    let test = "on_docker_tenants_reach_no_host_service_but_the_allowlist_and_deny_reaches_nothing";
    let Some(env) = Env::new(test) else { return };
    let (private, allowed) = (HostListener::start(), HostListener::start());
    let pool = format!("[docker]\nnetwork_pool = \"{}\"\n", own_pool(252, 0));
    env.write_config(&pool);
    env.spec("deny.yaml", &deny_spec("deny"));
    env.spec("open.yaml", &open_spec("open"));
    env.apply_ok();

    let inspect = |name: &str| env.inspect(name).unwrap_or_else(|| panic!("{name} exists"));
    let ip = |t: &str| address(&inspect(&env.container(t)), &docker_network(&env.network(t)), &env.network(t));
    let ((deny_ip, deny_subnet), (open_ip, open_subnet)) = (ip("deny"), ip("open"));
    let helper = inspect(&format!("{}_open_helper", env.instance));
    let (helper_ip, _) = address(&helper, &docker_network(&env.network("open")), &env.network("open"));
    let (deny_gateway, open_gateway, primary) = (first_host(&deny_subnet), first_host(&open_subnet), primary_address());
    let host_addresses = [deny_gateway.as_str(), open_gateway.as_str(), "172.17.0.1", primary.as_str()];

    // Both converge and answer their health checks; the allowed one on its published port.
    await_running(&env, &["deny", "open"]);
    assert_eq!(http_get(env.host_port("open"), "/health"), Some(200), "open's published port answers");
    assert!(reaches(&env, "deny", &format!("http://{deny_ip}:18789/health")), "deny reaches itself");
    assert!(reaches(&env, "open", &format!("http://{helper_ip}:8080/health")), "open reaches its own sidecar");

    // Deny: no address of the host, no other tenant.
    for host in host_addresses {
        let url = format!("http://{host}:{}/", private.port);
        assert!(!reaches(&env, "deny", &url), "deny reached the host at {url}");
    }
    assert!(!reaches(&env, "deny", &format!("http://{open_ip}:18789/health")), "deny reached open");
    assert!(!reaches(&env, "open", &format!("http://{deny_ip}:18789/health")), "open reached deny");
    // Allow, by default: no service of the host either.
    for host in host_addresses {
        for port in [private.port, allowed.port] {
            let url = format!("http://{host}:{port}/");
            assert!(!reaches(&env, "open", &url), "open reached the host at {url} with no allowlist");
        }
    }

    // The allowlist opens its port to tenants with egress allowed, and to them only.
    env.write_config(&format!("{pool}[network]\nhost_allow = [\"tcp/{}\"]\n", allowed.port));
    env.apply_ok();
    for host in [open_gateway.as_str(), "172.17.0.1", primary.as_str()] {
        let url = format!("http://{host}:{}/", allowed.port);
        assert!(reaches(&env, "open", &url), "open does not reach the allowlisted {url}");
        assert!(
            !reaches(&env, "open", &format!("http://{host}:{}/", private.port)),
            "open reached {host}:{}",
            private.port
        );
    }
    for host in host_addresses {
        let url = format!("http://{host}:{}/", allowed.port);
        assert!(!reaches(&env, "deny", &url), "deny reached the allowlisted {url}");
    }
    assert_eq!(http_get(env.host_port("open"), "/health"), Some(200), "open's published port still answers");
    assert!(reaches(&env, "open", &format!("http://{helper_ip}:8080/health")), "open still reaches its sidecar");
}

#[test]
fn the_rules_follow_the_networks_and_outlive_the_daemon() {
    let test = "the_rules_follow_the_networks_and_outlive_the_daemon";
    let Some(env) = Env::new(test) else { return };
    let listener = HostListener::start();
    env.write_config(&format!("[docker]\nnetwork_pool = \"{}\"\n", own_pool(252, 1)));
    env.spec("deny.yaml", &deny_spec("deny"));
    env.spec("open.yaml", &stub_spec("open", ""));
    let mut daemon = Daemon::start(&env);
    daemon.await_running(&env, "open", CONVERGE);
    daemon.await_phase(&env, "deny", "Running", CONVERGE);
    let subnet = |t: &str| {
        let n = docker_network(&env.network(t));
        n["IPAM"]["Config"][0]["Subnet"].as_str().expect("a subnet").to_string()
    };
    let (deny_subnet, open_subnet) = (subnet("deny"), subnet("open"));
    let deny_set = set_of(&env.instance, "deny_nets").expect("the instance's table has a deny set");
    assert!(deny_set.contains(&deny_subnet), "{deny_set}");
    let tenant_set = set_of(&env.instance, "tenant_nets").expect("a set of all tenant networks");
    assert!(tenant_set.contains(&deny_subnet) && tenant_set.contains(&open_subnet), "{tenant_set}");

    // Removing a tenant takes its subnet out of the rules (the engine may give it to another).
    env.remove_spec("deny.yaml");
    eventually("deny's subnet to leave the rules", CONVERGE, || {
        let tenants = set_of(&env.instance, "tenant_nets")?;
        (!tenants.contains(&deny_subnet) && tenants.contains(&open_subnet)).then_some(())
    });
    let deny_set = set_of(&env.instance, "deny_nets").expect("the deny set");
    assert!(!deny_set.contains(&deny_subnet), "{deny_set}");

    // Stopped, tenantd leaves the rules in force: the tenant still cannot reach the host.
    daemon.signal("TERM");
    assert!(daemon.wait_exit(Duration::from_secs(40)).success(), "{}", daemon.logs());
    let tenants = set_of(&env.instance, "tenant_nets").expect("the table outlives the daemon");
    assert!(tenants.contains(&open_subnet), "{tenants}");
    let url = format!("http://{}:{}/", first_host(&open_subnet), listener.port);
    assert!(!reaches(&env, "open", &url), "open reached {url} with tenantd stopped");
}

#[test]
fn without_host_rules_nothing_starts_unless_the_host_firewall_is_declared_external() {
    let test = "without_host_rules_nothing_starts_unless_the_host_firewall_is_declared_external";
    let Some(env) = Env::new(test) else { return };
    let pool = format!("[docker]\nnetwork_pool = \"{}\"\n", own_pool(252, 2));
    env.write_config(&pool);
    env.spec("deny.yaml", &deny_spec("deny"));
    // No `nft` to be found: the rules cannot be installed.
    let empty = env.path("no-nft");
    std::fs::create_dir_all(&empty).unwrap();
    let path = empty.display().to_string();
    let o = env.tenantd_with_env(&["apply"], &[("PATH", &path)]);
    assert!(!o.status.success(), "apply succeeded without host rules:\n{}{}", stdout(&o), stderr(&o));
    let said = format!("{}{}", stdout(&o), stderr(&o));
    assert!(said.contains("nftables") && said.contains("host_firewall = \"external\""), "{said}");
    assert!(env.container_id("deny").is_none(), "a container was created without host rules");

    // A host whose own firewall does the job says so, and tenantd goes ahead without nft.
    env.write_config(&format!("{pool}[network]\nhost_firewall = \"external\"\n"));
    let o = env.tenantd_with_env(&["apply"], &[("PATH", &path)]);
    assert!(o.status.success(), "apply with an external host firewall:\n{}{}", stdout(&o), stderr(&o));
    assert!(env.container_id("deny").is_some(), "deny's container");
    assert!(set_of(&env.instance, "tenant_nets").is_none(), "tenantd installed rules with host_firewall = external");
}

#[test]
fn on_podman_tenants_reach_no_host_service_but_the_allowlist_nor_each_other() {
    let test = "on_podman_tenants_reach_no_host_service_but_the_allowlist_nor_each_other";
    let Some(mut podman) = PodmanService::start(test) else { return };
    podman.load_from_docker(&stub::stub_image());
    let env = Env::without_docker();
    podman.owns_instance(&env.instance);
    let (private, allowed) = (HostListener::start(), HostListener::start());
    // One tenant at a time: Podman 4.3 (CNI) now and then refuses a network created while
    // another is, as "already used on the host or by another config".
    let engine =
        format!("concurrency = 1\n[docker]\nhost = {:?}\nnetwork_pool = \"{}\"\n", podman.host(), own_pool(253, 0));
    env.write_config(&engine);
    env.spec("deny.yaml", &deny_spec("deny"));
    env.spec("open.yaml", &open_spec("open"));
    env.spec("other.yaml", &stub_spec("other", ""));
    env.apply_ok();

    let inspect = |name: &str| -> Value {
        let o = podman.cli_ok(&["container", "inspect", name]);
        serde_json::from_str::<Value>(&o).expect("JSON")[0].clone()
    };
    let compat = |name: &str| -> Value {
        // The engine's Docker-compatible view of a network has the subnet where Docker has it.
        let o = podman.cli_ok(&["network", "inspect", name]);
        serde_json::from_str::<Value>(&o).expect("JSON")[0].clone()
    };
    let ip = |t: &str| address(&inspect(&env.container(t)), &compat(&env.network(t)), &env.network(t));
    let ((deny_ip, deny_subnet), (open_ip, open_subnet), (other_ip, _)) = (ip("deny"), ip("open"), ip("other"));
    let helper = inspect(&format!("{}_open_helper", env.instance));
    let (helper_ip, _) = address(&helper, &compat(&env.network("open")), &env.network("open"));
    let (deny_gateway, open_gateway, primary) = (first_host(&deny_subnet), first_host(&open_subnet), primary_address());
    let host_addresses = [deny_gateway.as_str(), open_gateway.as_str(), "172.17.0.1", primary.as_str()];

    // Podman runs health checks from systemd timers, which a test's service has none of: a
    // tenant without a published port (deny) stays `Starting` there, so it is checked running
    // and answering itself instead.
    await_running(&env, &["open", "other"]);
    assert_eq!(inspect(&env.container("deny"))["State"]["Running"], true, "deny runs");
    for t in ["open", "other"] {
        assert_eq!(http_get(env.host_port(t), "/health"), Some(200), "{t}'s published port answers");
    }
    assert!(reaches(&env, "deny", &format!("http://{deny_ip}:18789/health")), "deny reaches itself");
    assert!(reaches(&env, "open", &format!("http://{helper_ip}:8080/health")), "open reaches its own sidecar");

    for host in host_addresses {
        let url = format!("http://{host}:{}/", private.port);
        assert!(!reaches(&env, "deny", &url), "deny reached the host at {url}");
        assert!(!reaches(&env, "open", &url), "open reached the host at {url}");
    }
    for (from, to) in [("deny", &open_ip), ("open", &deny_ip), ("open", &other_ip), ("other", &open_ip)] {
        assert!(!reaches(&env, from, &format!("http://{to}:18789/health")), "{from} reached {to}");
    }
    // No IPv6 in tenant containers: Podman would give each a link-local address, through which
    // the host's services bound to [::] answer whatever the IPv4 rules say.
    for t in ["deny", "open"] {
        let pid = inspect(&env.container(t))["State"]["Pid"].as_u64().expect("a pid").to_string();
        let o = std::process::Command::new("nsenter").args(["-t", &pid, "-n", "ip", "-6", "-o", "addr"]).output();
        let o = o.expect("nsenter runs");
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(!stdout(&o).contains("inet6"), "{t} has IPv6: {}", stdout(&o));
    }

    env.write_config(&format!("{engine}[network]\nhost_allow = [\"tcp/{}\"]\n", allowed.port));
    env.apply_ok();
    for host in [open_gateway.as_str(), primary.as_str()] {
        let url = format!("http://{host}:{}/", allowed.port);
        assert!(reaches(&env, "open", &url), "open does not reach the allowlisted {url}");
        assert!(!reaches(&env, "deny", &url), "deny reached the allowlisted {url}");
    }
    assert_eq!(http_get(env.host_port("open"), "/health"), Some(200), "open's published port still answers");
}

#[test]
fn the_rendered_table_is_accepted_by_nft() {
    // `nft -c` checks the text against the kernel without changing anything.
    use tenantd::host_firewall::{Egress, GuardedNetwork, HostRules};
    if std::process::Command::new("nft").arg("--version").output().is_err() {
        panic!("nft is not installed; tenantd's default host rules need it");
    }
    let net = |s: &str, egress| GuardedNetwork { subnet: s.parse().unwrap(), egress };
    for dns in [false, true] {
        let rules = HostRules {
            table: host_rules_table("checkonly"),
            networks: [
                net("10.9.0.0/28", Egress::Deny),
                net("10.9.0.16/28", Egress::Allow),
                net("10.9.0.0/24", Egress::Allow),
            ]
            .into_iter()
            .collect(),
            host_allow: vec!["tcp/8080".parse().unwrap(), "udp/53".parse().unwrap()],
            engine_dns_on_gateway: dns,
        };
        let mut child = std::process::Command::new("nft")
            .args(["-c", "-f", "-"])
            .stdin(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("nft runs");
        child.stdin.take().unwrap().write_all(rules.render().as_bytes()).unwrap();
        let o = child.wait_with_output().unwrap();
        assert!(o.status.success(), "nft -c refused:\n{}\n{}", stderr(&o), rules.render());
    }
}
