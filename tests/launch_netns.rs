//! A fleet split across hosts: three Linux network namespaces joined by veth pairs on a bridge (a fourth
//! namespace, the "switch") stand for a router host, a sim host and a controller host. The router runs in its
//! namespace; `spikearm launch --processes --connect <router> --on sim=… --on controller=…` starts every sim
//! node in the sim host and every controller node in the controller host, so a state and its torque cross
//! two veth links and the router over non-loopback addresses (each namespace's loopback is its own). Each
//! arm's run must equal, bit for bit, that arm's scenario run alone in one process.
//!
//! Needs root and `ip netns` (iproute2). Without them the test says so loudly and passes, except under CI
//! (`CI=true`) or with `SPIKEARM_REQUIRE_NETNS=1`, where it fails.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[path = "common/fixtures.rs"]
mod fixtures;
use fixtures::*;
#[path = "common/fleet_check.rs"]
mod fleet_check;
use fleet_check::*;

/// The router's port inside its namespace (the namespace is the test's own: no other listener there).
const ROUTER_PORT: u16 = 7447;

/// Runs `ip` with `args`; the error names the command and what it printed.
fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip").args(args).stdin(Stdio::null()).output().map_err(|e| format!("ip: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("`ip {}`: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()))
    }
}

/// The namespaces and links of one test run, removed when dropped (removing a namespace removes its veth
/// ends and with them their peers).
struct Hosts {
    prefix: String,
    /// The subnet's first three octets, e.g. `10.213.57`; the router is `.1`, the sim host `.2`, the
    /// controller host `.3`.
    subnet: String,
}

impl Hosts {
    const ROLES: [&'static str; 3] = ["r", "s", "c"];

    /// Builds the switch and the three hosts. Names and subnet come from the process id, so that runs on
    /// one machine do not collide.
    fn create() -> Result<Self, String> {
        let pid = std::process::id();
        let hosts = Self { prefix: format!("sa{}", pid % 100_000), subnet: format!("10.213.{}", 20 + pid % 200) };
        let sw = hosts.ns("sw");
        ip(&["netns", "add", &sw])?;
        ip(&["-n", &sw, "link", "add", "br0", "type", "bridge"])?;
        ip(&["-n", &sw, "link", "set", "br0", "up"])?;
        for (i, role) in Self::ROLES.iter().enumerate() {
            let (ns, end, peer) = (hosts.ns(role), hosts.ns(role), format!("{}b", hosts.ns(role)));
            ip(&["netns", "add", &ns])?;
            ip(&["link", "add", &end, "type", "veth", "peer", "name", &peer])?;
            ip(&["link", "set", &end, "netns", &ns])?;
            ip(&["link", "set", &peer, "netns", &sw])?;
            ip(&["-n", &sw, "link", "set", &peer, "master", "br0"])?;
            ip(&["-n", &sw, "link", "set", &peer, "up"])?;
            ip(&["-n", &ns, "addr", "add", &format!("{}.{}/24", hosts.subnet, i + 1), "dev", &end])?;
            ip(&["-n", &ns, "link", "set", &end, "up"])?;
            ip(&["-n", &ns, "link", "set", "lo", "up"])?;
        }
        Ok(hosts)
    }

    fn ns(&self, role: &str) -> String {
        format!("{}{role}", self.prefix)
    }

    /// `ip netns exec <host>`, the prefix that runs a command on the host.
    fn exec(&self, role: &str) -> String {
        format!("ip netns exec {}", self.ns(role))
    }

    fn router_endpoint(&self) -> String {
        format!("tcp/{}.1:{ROUTER_PORT}", self.subnet)
    }

    /// Waits until the router accepts connections, tried from the sim host (across the switch).
    fn await_router(&self, within: Duration) -> bool {
        let probe = format!("exec 3<>/dev/tcp/{}.1/{ROUTER_PORT}", self.subnet);
        let end = Instant::now() + within;
        while Instant::now() < end {
            let ok = Command::new("ip")
                .args(["netns", "exec", &self.ns("s"), "bash", "-c", &probe])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if ok {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        for role in Self::ROLES.iter().chain(&["sw"]) {
            let _ = ip(&["netns", "del", &self.ns(role)]);
        }
    }
}

/// Why namespaces cannot be made here, or `None` when they can.
fn netns_missing() -> Option<String> {
    let probe = format!("saprobe{}", std::process::id() % 100_000);
    match ip(&["netns", "add", &probe]) {
        Ok(()) => {
            let _ = ip(&["netns", "del", &probe]);
            None
        }
        Err(e) => Some(format!("cannot create network namespaces (needs root and iproute2): {e}")),
    }
}

#[test]
fn a_fleet_across_namespaced_hosts_through_a_router_equals_each_arm_alone() {
    if let Some(why) = netns_missing() {
        let required = std::env::var("CI").is_ok_and(|v| v == "true")
            || std::env::var("SPIKEARM_REQUIRE_NETNS").is_ok_and(|v| v == "1");
        assert!(!required, "{why}");
        eprintln!("\n*** SKIPPED a_fleet_across_namespaced_hosts_through_a_router_equals_each_arm_alone: {why} ***\n");
        return;
    }
    let hosts = Hosts::create().unwrap();
    let dir = tempfile::tempdir().unwrap();

    // The router host: a router without access control, listening on its veth address only.
    let router_cfg = dir.path().join("router.json5");
    std::fs::write(
        &router_cfg,
        format!(
            r#"{{ mode: "router", listen: {{ endpoints: ["{}"] }}, connect: {{ endpoints: [] }},
                 scouting: {{ multicast: {{ enabled: false }}, gossip: {{ enabled: true, multihop: false }} }} }}"#,
            hosts.router_endpoint()
        ),
    )
    .unwrap();
    let mut router_cmd = Command::new("ip");
    router_cmd.args(["netns", "exec", &hosts.ns("r"), env!("CARGO_BIN_EXE_spikearm"), "router", "--config"]);
    router_cmd.arg(&router_cfg).env("NO_COLOR", "1");
    let router = Logged::spawn(router_cmd);
    assert!(hosts.await_router(Duration::from_secs(20)), "the router in {} did not come up", hosts.ns("r"));

    let file = dir.path().join("fleet.toml");
    std::fs::write(&file, SCENARIO).unwrap();
    let out_dir = dir.path().join("report");
    let (on_sim, on_ctrl) = (format!("sim={}", hosts.exec("s")), format!("controller={}", hosts.exec("c")));
    let endpoint = hosts.router_endpoint();
    let args = [
        "launch",
        file.to_str().unwrap(),
        "--processes",
        "--quiet",
        "--out",
        out_dir.to_str().unwrap(),
        "--connect",
        &endpoint,
        "--on",
        &on_sim,
        "--on",
        &on_ctrl,
    ];
    let stdout = spikearm_ok(root(), &args, "launch --processes across namespaces");
    let (status, router_log) = router.stop_with("-TERM", Duration::from_secs(10));
    assert!(status.success(), "router: {status:?}\n{router_log}");
    assert!(stdout.contains("fleet `fleet-check`"), "{stdout}");

    let spec = spec();
    let alone = alone(&spec, &arms(&spec));
    // Each node ran on its host: its log starts with the command line the launcher ran.
    let procs = out_dir.join("processes");
    for (file, host) in [("sim.log", "s"), ("controller.log", "c")] {
        let log = std::fs::read_to_string(procs.join(&alone[0].runs[0].controller).join("ur5e").join(file)).unwrap();
        let expect = format!("$ 'ip' 'netns' 'exec' '{}' ", hosts.ns(host));
        assert!(log.starts_with(&expect), "{file} starts with {expect}:\n{log}");
    }
    let client = std::fs::read_to_string(procs.join("client.json5")).unwrap();
    assert!(client.contains(&endpoint), "the nodes connect to the router host:\n{client}");

    assert_processes_same(&alone, &out_dir);
}
