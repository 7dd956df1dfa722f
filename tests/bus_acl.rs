//! Access control at the router, over real zenoh on loopback: a router runs the shipped
//! `config/zenoh/router.json5` (user/password identities) or `router-tls.json5` (mTLS, identities from
//! certificate common names, certificates generated here), and every other session is a client of it with
//! the shipped identity config: the real sim node ("sim"), the real controller node ("controller"), an
//! operator session and a viewer session.
//!
//! The operator sets a target, a payload, the e-stop and a parameter (its `params` query is answered); the
//! viewer sees every key and both nodes' liveliness, and its own targets, payloads, e-stops, torques,
//! parameter queries and liveliness token reach no one; sessions without (valid) credentials are refused.
//! `spikearm fleet` with the viewer's identity lists both nodes and their state.
//! `spikearm launch --processes` logs its nodes in to such a router with each role's identity config.
//! Then: no shipped config listens beyond loopback.

use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use spikearm::bus::{
    Bus, BusConfig, Estop, JointStates, LivelinessEvent, NodeState, ParamsRequest, Payload, QosClass, Router,
    SCHEMA_VERSION, Status, StatusBody, Target, TorqueCmd, is_loopback_endpoint,
};
use spikearm::node::{ControllerNode, ControllerNodeReport, Shutdown, SimNode, SimNodeReport};

#[path = "common/fixtures.rs"]
mod fixtures;
use fixtures::*;

const ARM: &str = "threelink";
/// Where the sim starts; the controller holds the end effector there until the operator's target.
const Q0: [f64; 3] = [0.4, -0.3, 0.2];
/// The operator's target is the start position moved by this, m.
const MOVE: [f64; 3] = [-0.08, 0.0, 0.04];
/// What the viewer tries: a target far from both, a payload, a gain.
const BAD_TARGET: [f64; 3] = [0.2, 0.0, 0.2];
const BAD_PAYLOAD_KG: f64 = 3.0;
/// What the operator sets.
const PAYLOAD_KG: f64 = 0.5;
const KP: f64 = 180.0;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// How the sessions of one deployment are configured.
struct Deployment {
    /// The router's configuration, listening on `endpoint`.
    router: BusConfig,
    /// The endpoint clients connect to.
    endpoint: String,
    /// A shipped identity config's text, its file paths made absolute.
    identity: Box<dyn Fn(&str) -> String>,
    /// Sessions that must be refused: (what, zenoh config text without connect endpoints).
    intruders: Vec<(&'static str, String)>,
}

impl Deployment {
    fn client(&self, who: &str) -> BusConfig {
        BusConfig { zenoh_json5: Some((self.identity)(who)), listen: vec![], connect: vec![self.endpoint.clone()] }
    }
}

/// User/password identities: the shipped router.json5 and acl-<who>.json5.
fn usrpwd() -> Deployment {
    let ep = loopback_endpoint();
    let users = root().join("config/zenoh/acl-users.txt");
    let text = read("config/zenoh/router.json5").replace("\"config/zenoh/acl-users.txt\"", &format!("{users:?}"));
    assert!(text.contains(&format!("{users:?}")), "router.json5 names config/zenoh/acl-users.txt");
    let no_auth = String::new();
    let wrong = r#"transport: { auth: { usrpwd: { user: "operator", password: "guess" } } },"#.to_string();
    let unknown = r#"transport: { auth: { usrpwd: { user: "admin", password: "change-me-operator" } } },"#.to_string();
    Deployment {
        router: BusConfig { zenoh_json5: Some(text), listen: vec![ep.clone()], connect: vec![] },
        endpoint: ep,
        identity: Box::new(|who| read(&format!("config/zenoh/acl-{who}.json5"))),
        intruders: vec![("no credentials", no_auth), ("a wrong password", wrong), ("an unknown user", unknown)],
    }
}

/// A CA and certificates for the router (server, 127.0.0.1) and each identity (client, CN = identity), PEM
/// files in `dir` named like scripts/make_certs.sh names them.
fn make_certs(dir: &Path, ca_name: &str, identities: &[&str]) {
    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
        KeyUsagePurpose, SanType,
    };
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, ca_name);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
    std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
    let issue = |name: &str, server: bool| {
        let key = KeyPair::generate().unwrap();
        let mut p =
            CertificateParams::new(vec![if server { "localhost".to_string() } else { name.to_string() }]).unwrap();
        if server {
            p.subject_alt_names.push(SanType::IpAddress([127, 0, 0, 1].into()));
        }
        p.distinguished_name.push(DnType::CommonName, name);
        p.extended_key_usages = if server {
            vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth]
        } else {
            vec![ExtendedKeyUsagePurpose::ClientAuth]
        };
        let cert = p.signed_by(&key, &ca).unwrap();
        std::fs::write(dir.join(format!("{name}.pem")), cert.pem()).unwrap();
        std::fs::write(dir.join(format!("{name}-key.pem")), key.serialize_pem()).unwrap();
    };
    issue("router", true);
    for who in identities {
        issue(who, false);
    }
}

/// mTLS identities: the shipped router-tls.json5 and tls-<who>.json5 with certificates made here. Refused:
/// a TLS session without a client certificate, and one whose certificate (CN "operator") comes from another CA.
fn mtls(certs: &Path, rogue: &Path) -> Deployment {
    make_certs(certs, "spikearm-test-ca", &["sim", "controller", "operator", "viewer"]);
    make_certs(rogue, "rogue-ca", &["operator"]);
    let ep = format!("tls/127.0.0.1:{}", free_port());
    let at = |text: String, dir: &Path| text.replace("\"certs/", &format!("\"{}/", dir.display()));
    let router = at(read("config/zenoh/router-tls.json5"), certs);
    assert!(router.contains(&certs.display().to_string()), "router-tls.json5 reads certs/…");
    let dir = certs.to_path_buf();
    let ca = certs.join("ca.pem");
    let no_cert = format!(r#"transport: {{ link: {{ tls: {{ root_ca_certificate: "{}" }} }} }},"#, ca.display());
    let other_ca = format!(
        r#"transport: {{ link: {{ tls: {{ root_ca_certificate: "{}", enable_mtls: true,
             connect_certificate: "{}", connect_private_key: "{}" }} }} }},"#,
        ca.display(),
        rogue.join("operator.pem").display(),
        rogue.join("operator-key.pem").display()
    );
    Deployment {
        router: BusConfig { zenoh_json5: Some(router), listen: vec![ep.clone()], connect: vec![] },
        endpoint: ep,
        identity: Box::new(move |who| at(read(&format!("config/zenoh/tls-{who}.json5")), &dir)),
        intruders: vec![("no client certificate", no_cert), ("a certificate from another CA", other_ca)],
    }
}

/// A client session that must be refused: one connection attempt, and failing it fails the open.
fn try_open(transport: &str, ep: &str) -> Result<Bus, String> {
    let text = format!(
        r#"{{ mode: "client", listen: {{ endpoints: [] }},
             connect: {{ endpoints: ["{ep}"], timeout_ms: 0, exit_on_failure: true }},
             scouting: {{ multicast: {{ enabled: false }} }},
             {transport} }}"#
    );
    Bus::open(ARM, &BusConfig { zenoh_json5: Some(text), listen: vec![], connect: vec![] }).map_err(|e| e.to_string())
}

/// `spikearm fleet --connect <ep> --config <identity> --json` (the real binary), parsed.
fn fleet_view(identity: &str, ep: &str) -> serde_json::Value {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("identity.json5");
    std::fs::write(&cfg, identity).unwrap();
    // Two seconds: a latched lockstep sim steps flat out, and under load the router may drop some of its 10-Hz
    // statuses (they travel as droppable reports behind the state stream).
    let args = ["fleet", "--connect", ep, "--json", "--listen-s", "2", "--config", cfg.to_str().unwrap()];
    let stdout = spikearm_ok(&root(), &args, "spikearm fleet");
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

/// What one session saw on the bus: the keys and bodies of every sample, and liveliness.
struct Seen {
    samples: Vec<(String, String)>,
    alive: BTreeSet<String>,
}

impl Seen {
    fn keys(&self) -> BTreeSet<&str> {
        self.samples.iter().map(|(k, _)| k.as_str()).collect()
    }
    fn bodies(&self, key_suffix: &str) -> Vec<&str> {
        self.samples.iter().filter(|(k, _)| k.ends_with(key_suffix)).map(|(_, b)| b.as_str()).collect()
    }
}

/// Polls `cond` until it holds or `secs` pass.
fn wait_for(what: &str, secs: f64, mut cond: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs_f64(secs);
    while !cond() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(10));
    }
}

/// The newest status of `node` seen through `statuses`.
fn latest_status(statuses: &spikearm::bus::Latest<Status>, last: &mut Option<Status>) -> Option<Status> {
    while let Ok(Some(Ok(s))) = statuses.try_recv() {
        *last = Some(s);
    }
    last.clone()
}

fn controller_target(s: &Option<Status>) -> Option<[f64; 3]> {
    match s.as_ref().map(|s| &s.body) {
        Some(StatusBody::Controller(c)) => c.target,
        _ => None,
    }
}

fn close(a: &[f64], b: &[f64], tol: f64) -> bool {
    a.iter().zip(b).all(|(x, y)| (x - y).abs() <= tol)
}

/// Runs the deployment: router, real sim and controller nodes as clients, the operator and the viewer.
fn exercise(d: Deployment) {
    let router = Router::open(&d.router).expect("the router starts");
    let ep = d.endpoint.clone();

    // Refused before anything is exchanged.
    for (what, transport) in &d.intruders {
        let r = try_open(transport, &ep).map(|b| b.close());
        assert!(r.is_err(), "a session with {what} was accepted");
    }

    // The nodes, each a client with its identity. Lockstep: the sim waits for the controller's answer.
    let arm_model = arm("threelink.urdf");
    let ee0: [f64; 3] = arm_model.model().unwrap().ee_position(&Q0).unwrap().into();
    let stop = Shutdown::new();
    let sim_bus = Bus::open(ARM, &d.client("sim")).expect("sim logs in");
    let mut sim = sim_settings();
    sim.initial_q = Some(Q0.to_vec());
    sim.record_every = 5;
    // Room for minutes of sim time: e-stopped in lockstep the sim races on while the checks at the end run (a
    // slow `spikearm fleet` on a loaded machine), and a full record would thin itself out, leaving too few
    // samples in the windows checked below.
    sim.max_samples = 1 << 18;
    let (sim_stop, sim_arm) = (stop.clone(), arm_model.clone());
    let sim = thread::spawn(move || -> SimNodeReport {
        let r = SimNode::new(&sim, sim_arm, &sim_bus).unwrap().run(&sim_stop).unwrap();
        sim_bus.close().unwrap();
        r
    });
    let ctrl_bus = Bus::open(ARM, &d.client("controller")).expect("controller logs in");
    let mut ctrl = controller_settings();
    ctrl.controller.kind = "osc".into();
    ctrl.record_every = 5;
    let (ctrl_stop, ctrl_arm) = (stop.clone(), arm_model.clone());
    let controller = thread::spawn(move || -> ControllerNodeReport {
        let mut c = ctrl.controller.build(&ctrl_arm).unwrap();
        let r = ControllerNode::new(&ctrl, ctrl_arm, c.as_mut(), &ctrl_bus).unwrap().run(&ctrl_stop).unwrap();
        ctrl_bus.close().unwrap();
        r
    });

    let viewer = Bus::open(ARM, &d.client("viewer")).expect("viewer logs in");
    let operator = Bus::open(ARM, &d.client("operator")).expect("operator logs in");
    let keys = viewer.keys().clone();
    // Large queues: the run is a few seconds of lockstep traffic, and a dropped sample would void the checks.
    let viewer_tap = viewer.tap(&format!("{}/**", keys.prefix()), 1 << 19).unwrap();
    let operator_tap = operator.tap(&format!("{}/**", keys.prefix()), 1 << 19).unwrap();
    let viewer_alive = viewer.watch_liveliness().unwrap();
    let operator_alive = operator.watch_liveliness().unwrap();
    let states = operator.latest::<JointStates>(&keys.joint_states()).unwrap();
    let ctrl_status = operator.latest::<Status>(&keys.status("controller")).unwrap();
    let sim_status = operator.latest::<Status>(&keys.status("sim")).unwrap();
    let (mut last_ctrl, mut last_sim) = (None, None);
    let sim_time = |states: &spikearm::bus::Latest<JointStates>| {
        let mut t = None;
        while let Ok(Some(Ok(s))) = states.recv_timeout(Duration::from_millis(20)) {
            t = Some(s.stamp);
            if states.try_recv().ok().flatten().is_none() {
                break;
            }
        }
        t.expect("joint_states flow")
    };

    // Both nodes up: the controller holds the start position.
    wait_for("the controller's status with its hold target", 20.0, || {
        controller_target(&latest_status(&ctrl_status, &mut last_ctrl)).is_some_and(|t| close(&t, &ee0, 1e-6))
    });
    let t_start = sim_time(&states);

    // A: the viewer tries everything an operator or a node does.
    viewer.put(&keys.target(), &Target { v: SCHEMA_VERSION, position: BAD_TARGET }).unwrap();
    viewer.put(&keys.payload(), &Payload { v: SCHEMA_VERSION, mass_kg: BAD_PAYLOAD_KG, offset_m: [0.0; 3] }).unwrap();
    viewer.put(&keys.estop(), &Estop { v: SCHEMA_VERSION, engaged: true, source: "viewer".into() }).unwrap();
    let mut torque = viewer.publisher::<TorqueCmd>(&keys.torque_cmd(), QosClass::Control).unwrap();
    for seq in 0..50 {
        torque
            .put(&TorqueCmd { v: SCHEMA_VERSION, seq, effort: vec![40.0, -40.0, 40.0], adaptive: Vec::new() })
            .unwrap();
    }
    let _fake_token = viewer.liveliness_token("intruder").unwrap();
    let viewer_set = ParamsRequest { v: SCHEMA_VERSION, set: BTreeMap::from([("kp".to_string(), 1.0)]) };
    let viewer_query = viewer.query_params("controller", &viewer_set, Duration::from_millis(800));
    thread::sleep(Duration::from_millis(300));
    // Sim time, not wall time, decides how much the checks below see: a loaded machine steps slowly.
    wait_for("the sim to run 0.3 s past the viewer's attempts", 30.0, || sim_time(&states) >= t_start + 0.3);
    let t_a = sim_time(&states);
    let status_a = latest_status(&ctrl_status, &mut last_ctrl);
    let sim_a = latest_status(&sim_status, &mut last_sim);

    // B: the operator sets a gain, a target, a payload, and e-stops the arm.
    let set = ParamsRequest { v: SCHEMA_VERSION, set: BTreeMap::from([("kp".to_string(), KP)]) };
    let reply = operator.query_params("controller", &set, Duration::from_secs(5)).expect("the operator's query");
    let target = [ee0[0] + MOVE[0], ee0[1] + MOVE[1], ee0[2] + MOVE[2]];
    operator.put(&keys.target(), &Target { v: SCHEMA_VERSION, position: target }).unwrap();
    let took = Instant::now() + Duration::from_secs(10);
    while !controller_target(&latest_status(&ctrl_status, &mut last_ctrl)).is_some_and(|t| close(&t, &target, 1e-12)) {
        assert!(Instant::now() < took, "the controller did not take the target {target:?}: {last_ctrl:?}");
        thread::sleep(Duration::from_millis(10));
    }
    let mut ee = [f64::NAN; 3];
    wait_for("the arm to reach the operator's target", 20.0, || {
        if let Ok(Some(Ok(s))) = states.recv_timeout(Duration::from_millis(20)) {
            ee = s.ee_position;
        }
        close(&ee, &target, 0.005)
    });
    let t_put = sim_time(&states);
    operator.put(&keys.payload(), &Payload { v: SCHEMA_VERSION, mass_kg: PAYLOAD_KG, offset_m: [0.0; 3] }).unwrap();
    // Sim time again: the checks below look at the 0.05 s before t_b, which must come after the payload's arrival.
    wait_for("the sim to run 0.3 s past the operator's payload", 30.0, || sim_time(&states) >= t_put + 0.3);
    let t_b = sim_time(&states);
    operator.put(&keys.estop(), &Estop { v: SCHEMA_VERSION, engaged: true, source: "operator".into() }).unwrap();
    wait_for("both nodes to report the e-stop", 10.0, || {
        let c = latest_status(&ctrl_status, &mut last_ctrl).is_some_and(|s| s.state == NodeState::Estop);
        let s = latest_status(&sim_status, &mut last_sim).is_some_and(|s| s.state == NodeState::Estop);
        c && s
    });
    thread::sleep(Duration::from_millis(200));

    // `spikearm fleet` with the viewer's identity lists both nodes, e-stopped.
    let listed = fleet_view(&(d.identity)("viewer"), &ep);
    let nodes: Vec<(String, String, String)> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["arm"].to_string(), n["node"].to_string(), n["state"].to_string()))
        .collect();
    let estopped = |node: &str| ("\"threelink\"".to_string(), format!("\"{node}\""), "\"estop\"".to_string());
    assert_eq!(nodes, vec![estopped("controller"), estopped("sim")], "{listed:#}");

    stop.trigger();
    let sim = sim.join().unwrap();
    let ctrl = controller.join().unwrap();
    let drain = |tap: &spikearm::bus::Tap, watch: &spikearm::bus::LivelinessWatch| {
        let mut seen = Seen { samples: Vec::new(), alive: BTreeSet::new() };
        while let Some(s) = tap.try_recv() {
            seen.samples.push((s.key().to_string(), String::from_utf8_lossy(&s.body()).into_owned()));
        }
        while let Ok(Some(e)) = watch.recv_timeout(Duration::from_millis(50)) {
            if let LivelinessEvent::Alive(n) = e {
                seen.alive.insert(n);
            }
        }
        seen
    };
    let by_viewer = drain(&viewer_tap, &viewer_alive);
    let by_operator = drain(&operator_tap, &operator_alive);
    assert_eq!((viewer_tap.dropped(), operator_tap.dropped()), (0, 0), "samples dropped by the taps");
    viewer.close().unwrap();
    operator.close().unwrap();
    router.close().unwrap();
    eprintln!(
        "sim t: start {t_start:.3}, after the viewer {t_a:.3}, after the operator {t_b:.3}; reply {reply:?}; \
         viewer's query {viewer_query:?}; viewer saw {:?}, alive {:?}; operator saw alive {:?}",
        by_viewer.keys(),
        by_viewer.alive,
        by_operator.alive
    );

    // A: nothing the viewer sent reached anyone.
    assert!(viewer_query.is_err(), "the viewer's parameter query was answered: {viewer_query:?}");
    assert!(
        controller_target(&status_a).is_some_and(|t| close(&t, &ee0, 1e-6)),
        "the viewer's target reached the controller: {status_a:?}"
    );
    assert!(sim_a.as_ref().is_some_and(|s| s.state != NodeState::Estop), "the viewer e-stopped the sim: {sim_a:?}");
    let a: Vec<_> = sim.samples.iter().filter(|s| s.t >= t_start && s.t <= t_a).collect();
    assert!(a.len() > 20, "{} sim samples while the viewer tried (stride {})", a.len(), sim.sample_stride);
    for s in &a {
        assert!(!s.held && s.payload_kg == 0.0, "t={}: the viewer's payload or e-stop was applied: {s:?}", s.t);
        assert!(close(&s.q, &Q0, 0.01), "t={}: the arm left its start pose for {:?}", s.t, s.q);
    }
    assert!(ctrl.estop_log.iter().all(|e| e.source != "viewer"), "{:?}", ctrl.estop_log);
    for (what, seen) in [("operator", &by_operator.samples)] {
        for (k, b) in seen {
            assert!(!b.contains("\"viewer\"") && !b.contains("40.0,-40.0"), "{what} received the viewer's {k}: {b}");
            assert!(!(k.ends_with("/payload") && b.contains("3.0")), "{what} received the viewer's payload: {b}");
        }
    }
    assert!(!by_operator.alive.contains("intruder"), "the viewer's liveliness token was routed");
    assert!(sim.rejected.values().sum::<u64>() == 0, "no bad body reached the sim: {:?}", sim.rejected);

    // B: the operator's gain, target, payload and e-stop took effect.
    assert_eq!(reply.error, None, "{reply:?}");
    assert_eq!(reply.params.get("kp"), Some(&KP), "{reply:?}");
    let b: Vec<_> = sim.samples.iter().filter(|s| s.t > t_b - 0.05 && s.t <= t_b).collect();
    assert!(!b.is_empty() && b.iter().all(|s| s.payload_kg == PAYLOAD_KG), "payload after the operator's: {b:?}");
    assert!(sim.samples.last().is_some_and(|s| s.held), "the arm is held after the operator's e-stop");
    assert!(ctrl.estop_log.iter().any(|e| e.source == "operator"), "{:?}", ctrl.estop_log);

    // The viewer saw every key both nodes and the operator published, and both nodes' liveliness.
    let want = ["joint_states", "torque_cmd", "status/sim", "status/controller", "target", "payload", "estop"];
    for k in want {
        let key = format!("{}/{k}", keys.prefix());
        assert!(by_viewer.samples.iter().any(|(s, _)| *s == key), "the viewer never saw {key}");
    }
    let operator_target = serde_json::to_string(&target[0]).unwrap();
    assert!(by_viewer.bodies("/target").iter().any(|b| b.contains(&operator_target)), "the operator's target");
    assert!(by_viewer.bodies("/estop").iter().any(|b| b.contains("\"operator\"")), "the operator's e-stop");
    for n in ["sim", "controller"] {
        assert!(by_viewer.alive.contains(n) && by_operator.alive.contains(n), "liveliness of {n}");
    }
}

#[test]
fn router_acl_with_user_passwords_lets_the_operator_act_and_the_viewer_only_watch() {
    exercise(usrpwd());
}

#[test]
fn router_acl_with_mtls_common_names_lets_the_operator_act_and_the_viewer_only_watch() {
    let (certs, rogue) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    exercise(mtls(certs.path(), rogue.path()));
}

/// A lockstep scenario launched as processes through the router with access control: each node opens its
/// role's shipped identity config (`--zenoh-config`). The same launch without them is refused at once.
#[test]
fn launch_processes_logs_its_nodes_in_with_each_roles_identity() {
    let d = usrpwd();
    let _router = Router::open(&d.router).expect("the router starts");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("acl.toml");
    std::fs::write(
        &file,
        "name = \"acl-launch\"\narm = \"threelink\"\nurdf = \"config/arms/threelink.urdf\"\ntiming = \"lockstep\"\n\
         duration_s = 0.5\ninitial_q = [0.4, -0.3, 0.2]\ncontrollers = [\"osc\"]\n",
    )
    .unwrap();
    let out = dir.path().join("report");
    let mut plain = std::process::Command::new(env!("CARGO_BIN_EXE_spikearm"));
    plain.current_dir(root()).args(["launch", file.to_str().unwrap(), "--processes", "--quiet", "--no-record"]);
    plain.arg("--out").arg(dir.path().join("refused")).args(["--connect", &d.endpoint]);
    let (ok, _, stderr) = run_with_limit(&mut plain, Duration::from_secs(60));
    assert!(!ok, "nodes without credentials were let in:\n{stderr}");
    assert!(stderr.contains("node of threelink"), "a node failed, not the launcher's setup:\n{stderr}");
    let args = [
        "launch",
        file.to_str().unwrap(),
        "--processes",
        "--quiet",
        "--no-record",
        "--out",
        out.to_str().unwrap(),
        "--connect",
        &d.endpoint,
        "--zenoh-config",
        "sim=config/zenoh/acl-sim.json5",
        "--zenoh-config",
        "controller=config/zenoh/acl-controller.json5",
    ];
    spikearm_ok(&root(), &args, "launch --processes with identities");
    let run = std::fs::read_dir(out.join("processes")).unwrap().flatten().find(|e| e.path().is_dir()).unwrap();
    let sim: SimNodeReport =
        serde_json::from_str(&std::fs::read_to_string(run.path().join("sim_report.json")).unwrap()).unwrap();
    assert_eq!(sim.steps, 500, "0.5 s at 1 ms, every step answered by the controller through the router");
    let settings = std::fs::read_to_string(run.path().join("controller.toml")).unwrap();
    assert!(settings.contains("acl-controller.json5"), "the controller logged in as `controller`:\n{settings}");
}

#[test]
fn shipped_and_built_in_configs_listen_on_loopback_only() {
    // The built-in isolated peer listens nowhere.
    assert_eq!(BusConfig::default().listen_endpoints().unwrap(), Vec::<String>::new());
    // Every shipped zenoh config, as a node would open it.
    let dir = root().join("config/zenoh");
    let mut files = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("json5") {
            continue;
        }
        files += 1;
        let cfg = BusConfig { zenoh_json5: Some(std::fs::read_to_string(&path).unwrap()), ..Default::default() };
        let eps = cfg.listen_endpoints().unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for ep in eps {
            assert!(is_loopback_endpoint(&ep), "{} listens on {ep}", path.display());
        }
    }
    assert!(files >= 5, "found {files} zenoh configs in {}", dir.display());
    // And the node configs' [bus] endpoints.
    for node in ["config/sim.toml", "config/control.toml"] {
        let t: toml::Table = read(node).parse().unwrap();
        let listen = t["bus"].get("listen").and_then(|l| l.as_array()).cloned().unwrap_or_default();
        for ep in listen {
            let ep = ep.as_str().unwrap();
            assert!(is_loopback_endpoint(ep), "{node} listens on {ep}");
        }
    }
    // The check itself tells loopback from the rest.
    for ep in ["tcp/127.0.0.1:7447", "tls/localhost:7447", "tcp/[::1]:7447", "tcp/127.0.0.2:1#iface=lo"] {
        assert!(is_loopback_endpoint(ep), "{ep}");
    }
    for ep in ["tcp/0.0.0.0:7447", "tcp/[::]:7447", "tcp/192.168.1.2:7447", "tls/example.org:7447", "garbage"] {
        assert!(!is_loopback_endpoint(ep), "{ep}");
    }
}

#[test]
fn listen_endpoints_see_overrides_and_zenoh_defaults() {
    // A node's `bus.listen` replaces the file's.
    let cfg = BusConfig {
        zenoh_json5: Some(read("config/zenoh/peer.json5")),
        listen: vec!["tcp/0.0.0.0:7447".into()],
        connect: vec![],
    };
    assert_eq!(cfg.listen_endpoints().unwrap(), vec!["tcp/0.0.0.0:7447".to_string()]);
    // A peer file that names no listen endpoint gets zenoh's default, which is not loopback: the shipped
    // files must name theirs (the check above would catch one that did not).
    let bare = BusConfig { zenoh_json5: Some(r#"{ mode: "peer" }"#.into()), ..Default::default() };
    let eps = bare.listen_endpoints().unwrap();
    assert!(!eps.is_empty() && eps.iter().any(|e| !is_loopback_endpoint(e)), "{eps:?}");
    // A client listens nowhere by default.
    let client = BusConfig { zenoh_json5: Some(r#"{ mode: "client" }"#.into()), ..Default::default() };
    assert_eq!(client.listen_endpoints().unwrap(), Vec::<String>::new());
}
