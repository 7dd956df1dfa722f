//! The nodes as system services, with the real binary: systemd's notify protocol spoken to a notify socket the
//! test owns (as systemd would own it), `/metrics` and `/healthz` read over HTTP while the sim ticks at 1 kHz,
//! SIGHUP applying a changed gain and naming what needs a restart, SIGTERM announced as STOPPING=1.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixDatagram;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use spikearm::bus::{Bus, BusConfig, ParamsRequest, SCHEMA_VERSION};

#[path = "common/fixtures.rs"]
mod fixtures;
use fixtures::*;

/// The binary with `args`, run from the repository, with systemd's variables when `notify_socket` is given.
fn node(args: &[&str], notify_socket: Option<&std::path::Path>) -> Logged {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_spikearm"));
    cmd.current_dir(env!("CARGO_MANIFEST_DIR")).args(args).env_remove("RUST_LOG").stdin(Stdio::null());
    if let Some(p) = notify_socket {
        cmd.env("NOTIFY_SOCKET", p).env("WATCHDOG_USEC", "200000").env_remove("WATCHDOG_PID");
    }
    Logged::spawn(cmd)
}

/// `GET path` over HTTP/1.0 by hand: status code and body.
fn http_get(addr: &str, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let code = text.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b).to_string();
    (code, body)
}

/// The value of the metric line starting with `name_and_labels `.
fn metric(text: &str, name_and_labels: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(name_and_labels)?.strip_prefix(' ')?.parse().ok())
}

/// Notifications received on `sock` until `pred` holds of the list or `within` passes.
fn notifications(sock: &UnixDatagram, within: Duration, pred: impl Fn(&[String]) -> bool) -> Vec<String> {
    let end = Instant::now() + within;
    let mut got = Vec::new();
    let mut buf = [0u8; 512];
    while Instant::now() < end && !pred(&got) {
        if let Ok(n) = sock.recv(&mut buf) {
            got.extend(String::from_utf8_lossy(&buf[..n]).lines().map(str::to_string));
        }
    }
    got
}

/// Waits for `READY=1` and then three `WATCHDOG=1` on `sock` (the tests set WATCHDOG_USEC 200 ms: a ping per
/// ~100 ms).
fn ready_then_fed(sock: &UnixDatagram) {
    let got = notifications(sock, Duration::from_secs(30), |g| g.iter().filter(|m| *m == "WATCHDOG=1").count() >= 3);
    assert_eq!(got.first().map(String::as_str), Some("READY=1"), "{got:?}");
    assert!(got.iter().filter(|m| *m == "WATCHDOG=1").count() >= 3, "{got:?}");
}

/// Reads `/metrics` at `addr` twice, 0.5 s apart, checks that the sim's tick count `series` grew by more than
/// 100 (1 kHz), and returns the second reading.
fn ticking(addr: &str, series: &str) -> String {
    let (code, first) = http_get(addr, "/metrics");
    assert_eq!(code, 200, "{first}");
    thread::sleep(Duration::from_millis(500));
    let (_, second) = http_get(addr, "/metrics");
    let ticks = |t: &str| metric(t, series).unwrap_or(0.0);
    assert!(ticks(&second) > ticks(&first) + 100.0, "the sim ticks: {} then {}", ticks(&first), ticks(&second));
    second
}

#[test]
fn nodes_speak_the_notify_protocol_serve_metrics_and_reload_on_sighup() {
    let dir = tempfile::tempdir().unwrap();
    let sock_path = dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    let (sim_ep, ctl_ep) = (loopback_endpoint(), loopback_endpoint());
    let (sim_metrics, ctl_metrics) = (format!("127.0.0.1:{}", free_port()), format!("127.0.0.1:{}", free_port()));

    // The sim at 1 kHz real time, sleeping between steps (two cores are shared with other tests).
    let sim = node(
        &[
            "sim",
            "node",
            "--config",
            "config/sim.toml",
            "--set",
            &format!("bus.listen=[\"{sim_ep}\"]"),
            "--set",
            "wait=\"sleep\"",
            "--set",
            &format!("service.metrics_listen=\"{sim_metrics}\""),
        ],
        None,
    );
    let config = dir.path().join("control.toml");
    let base = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/control.toml")).unwrap();
    std::fs::write(&config, &base).unwrap();
    let cfg = config.display().to_string();
    let ctl_args = [
        "control",
        "--config",
        &cfg,
        "--set",
        &format!("bus.connect=[\"{sim_ep}\"]"),
        "--set",
        &format!("bus.listen=[\"{ctl_ep}\"]"),
        "--set",
        "controller.kind=\"osc\"",
        "--set",
        "wait=\"sleep\"",
        "--set",
        &format!("service.metrics_listen=\"{ctl_metrics}\""),
    ];
    let ctl = node(&ctl_args, Some(&sock_path));

    // READY once the loop turns, then watchdog pings (WATCHDOG_USEC 200 ms: one per ~100 ms).
    ready_then_fed(&sock);

    // /metrics and /healthz while both tick.
    let second = ticking(&sim_metrics, "spikearm_ticks_total{node=\"sim\"}");
    assert_eq!(metric(&second, "spikearm_node_state{node=\"sim\",state=\"running\"}"), Some(1.0), "{second}");
    let (code, body) = http_get(&ctl_metrics, "/healthz");
    assert_eq!((code, body.trim()), (200, "ok"));
    let (_, ctl_text) = http_get(&ctl_metrics, "/metrics");
    assert!(metric(&ctl_text, "spikearm_tracking_error_meters{node=\"controller\"}").is_some(), "{ctl_text}");
    assert_eq!(http_get(&ctl_metrics, "/nope").0, 404);

    // SIGHUP: a new gain applies; a changed arm name needs a restart and is refused by name.
    let changed = base.replacen("kp = 200.0", "kp = 150.0", 1).replacen("hold_after_s = 0.1", "hold_after_s = 0.3", 1);
    assert_ne!(changed, base, "the shipped config names kp and hold_after_s");
    std::fs::write(&config, changed).unwrap();
    ctl.signal("-HUP");
    let bus = Bus::open("threelink", &BusConfig { zenoh_json5: None, listen: vec![], connect: vec![ctl_ep.clone()] })
        .unwrap();
    let read = ParamsRequest { v: SCHEMA_VERSION, set: Default::default() };
    let end = Instant::now() + Duration::from_secs(10);
    let kp = loop {
        let kp = bus.query_params("controller", &read, Duration::from_secs(2)).ok().map(|r| r.params["kp"]);
        if kp == Some(150.0) || Instant::now() > end {
            break kp;
        }
        thread::sleep(Duration::from_millis(100));
    };
    bus.close().unwrap();
    assert_eq!(kp, Some(150.0), "SIGHUP applied the new kp");

    // SIGTERM: STOPPING=1, exit 0.
    let (status, log) = ctl.stop_with("-TERM", Duration::from_secs(15));
    assert!(status.success(), "{log}");
    assert!(log.contains("hold_after_s changed but need a restart"), "{log}");
    let got = notifications(&sock, Duration::from_secs(5), |g| g.iter().any(|m| m == "STOPPING=1"));
    assert!(got.iter().any(|m| m == "STOPPING=1"), "{got:?}");
    let (status, log) = sim.stop_with("-TERM", Duration::from_secs(15));
    assert!(status.success(), "{log}");
}

#[test]
fn a_host_is_one_service_for_all_its_nodes() {
    let dir = tempfile::tempdir().unwrap();
    let sock_path = dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    let metrics = format!("127.0.0.1:{}", free_port());
    // One arm's sim and controller in one host, sharing its session; the controller's own [service] is not
    // the host's to serve, and it says so.
    let bus = format!(
        "[bus]\nzenoh_config = \"config/zenoh/peer.json5\"\nlisten = [\"{}\"]\nconnect = []\n",
        loopback_endpoint()
    );
    let (sim, ctl) = (dir.path().join("sim.toml"), dir.path().join("control.toml"));
    std::fs::write(&sim, format!("arm = \"threelink\"\n{bus}")).unwrap();
    let ctl_text = format!("arm = \"threelink\"\n[controller]\nkind = \"osc\"\n[service]\nlog_level = \"info\"\n{bus}");
    std::fs::write(&ctl, ctl_text).unwrap();
    let (sim, ctl) = (sim.display().to_string(), ctl.display().to_string());
    let args = ["host", "--wait", "sleep", "--metrics-listen", &metrics, "--sim", &sim, "--controller", &ctl];
    let host = node(&args, Some(&sock_path));

    // READY once both loops turn, then watchdog pings while both keep turning.
    ready_then_fed(&sock);

    // One /metrics for both nodes, told apart by arm and node.
    let second = ticking(&metrics, "spikearm_ticks_total{arm=\"threelink\",node=\"sim\"}");
    for series in [
        "spikearm_loop_turns_total{arm=\"threelink\",node=\"controller\"}",
        "spikearm_tracking_error_meters{arm=\"threelink\",node=\"controller\"}",
        "spikearm_node_state{arm=\"threelink\",node=\"sim\",state=\"running\"}",
    ] {
        assert!(metric(&second, series).is_some(), "no {series} in\n{second}");
    }
    assert_eq!(second.matches("# TYPE spikearm_ticks_total counter").count(), 1, "{second}");
    let (code, body) = http_get(&metrics, "/healthz");
    assert_eq!((code, body.trim()), (200, "ok"));

    // SIGTERM: STOPPING=1, exit 0.
    let (status, log) = host.stop_with("-TERM", Duration::from_secs(15));
    assert!(status.success(), "{log}");
    assert!(log.contains("does not serve a node's own [service]") && log.contains("threelink/controller"), "{log}");
    let got = notifications(&sock, Duration::from_secs(5), |g| g.iter().any(|m| m == "STOPPING=1"));
    assert!(got.iter().any(|m| m == "STOPPING=1"), "{got:?}");
}
