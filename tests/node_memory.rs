//! A daemon's records stay bounded: the nodes keep their samples in a decimating
//! [`SampleLog`], so a run many times longer than the log holds keeps at most `max_samples`, evenly spread
//! over the whole run; and writing a sample into a full log allocates nothing.
//!
//! Allocations are counted per thread (`tests/common/counting_alloc.rs`).

#[path = "common/counting_alloc.rs"]
mod counting_alloc;

#[path = "common/fixtures.rs"]
mod fixtures;
use fixtures::*;
use std::thread;

use counting_alloc::allocations;
use spikearm::bus::{Bus, BusConfig};
use spikearm::control::factory::ControllerParams;
use spikearm::node::{ControllerSample, SampleLog, Shutdown, SimSample, run_controller_node, run_sim_node};

/// Kept samples are `stride` apart (in units of `unit`), start at `first` and reach within one stride of `last`.
fn assert_even(ts: &[f64], stride: u64, unit: f64, first: f64, last: f64, what: &str) {
    let step = stride as f64 * unit;
    assert!((ts[0] - first).abs() < 1e-9, "{what}: first sample at {}", ts[0]);
    for w in ts.windows(2) {
        assert!((w[1] - w[0] - step).abs() < 1e-6, "{what}: spacing {} instead of {step}", w[1] - w[0]);
    }
    let end = *ts.last().unwrap();
    assert!(last - end < step + 1e-9, "{what}: last sample at {end}, run ended at {last}");
}

#[test]
fn node_records_stay_bounded_and_span_the_whole_run() {
    const STEPS: u64 = 3000;
    const CAP: usize = 64;
    let bus = Bus::open("threelink", &BusConfig::default()).unwrap();
    let mut sim = sim_settings();
    sim.initial_q = Some(vec![1.0, -1.4, -0.6]);
    sim.duration_s = Some(STEPS as f64 * sim.physics.dt);
    sim.record_every = 1;
    sim.max_samples = CAP;
    let mut cspec = controller_settings();
    cspec.record_every = 1;
    cspec.max_samples = CAP;
    let section = ControllerParams { kind: "osc".into(), ..ControllerParams::default() };
    let mut controller = section.build(&arm("threelink.urdf")).unwrap();
    let stop = Shutdown::new();
    let (s, c) = thread::scope(|sc| {
        let h = sc.spawn(|| run_controller_node(&cspec, arm("threelink.urdf"), controller.as_mut(), &bus, &stop));
        let s = run_sim_node(&sim, arm("threelink.urdf"), &bus, &Shutdown::new()).unwrap();
        stop.trigger();
        (s, h.join().unwrap().unwrap())
    });
    bus.close().unwrap();

    assert_eq!(s.steps, STEPS);
    assert!(s.samples.len() <= CAP && s.samples.len() >= CAP / 2, "sim kept {}", s.samples.len());
    // 3001 states into 64 slots: the spacing doubled until 64 × stride covers the run.
    assert!(
        s.sample_stride.is_power_of_two() && s.sample_stride as usize * CAP > STEPS as usize,
        "{}",
        s.sample_stride
    );
    let ts: Vec<f64> = s.samples.iter().map(|x| x.t).collect();
    assert_even(&ts, s.sample_stride, sim.physics.dt, 0.0, s.sim_time, "sim");

    assert!(c.ticks >= STEPS, "controller ticks {}", c.ticks);
    assert!(c.samples.len() <= CAP && c.samples.len() >= CAP / 2, "controller kept {}", c.samples.len());
    let ts: Vec<f64> = c.samples.iter().map(|x| x.t).collect();
    assert_even(&ts, c.sample_stride, sim.physics.dt, 0.0, c.sim_time, "controller");
}

#[test]
fn a_full_log_records_without_allocating_and_stays_within_its_capacity() {
    const CAP: usize = 256;
    let n = 6;
    let effort: Vec<f64> = (0..n).map(|j| j as f64).collect();
    let mut ctrl = SampleLog::<ControllerSample>::new(10, CAP);
    let mut sim = SampleLog::<SimSample>::new(1, CAP);
    // The nodes write samples the same way: scalars assigned, vectors `clone_from` (reusing the slot's buffer).
    let mut offer = |k: u64| {
        let t = k as f64 * 1e-3;
        ctrl.offer(|r| {
            r.t = t;
            r.error_m = t;
            r.effort.clone_from(&effort);
        });
        sim.offer(|r| {
            r.t = t;
            r.q.clone_from(&effort);
            r.dq.clone_from(&effort);
            r.tau.clone_from(&effort);
            r.held = k.is_multiple_of(2);
        });
    };
    // Fill both logs (and decimate once): the slots and their buffers are allocated here.
    let mut k = 0;
    while k < 20 * CAP as u64 {
        offer(k);
        k += 1;
    }
    let before = allocations();
    for _ in 0..1_000_000 {
        offer(k);
        k += 1;
    }
    assert_eq!(allocations() - before, 0, "recording into a full log allocated");
    for (len, allocated, cap) in
        [(ctrl.len(), ctrl.allocated(), ctrl.capacity()), (sim.len(), sim.allocated(), sim.capacity())]
    {
        assert!(len <= cap && allocated <= cap && len >= cap / 2, "len {len}, slots {allocated}, capacity {cap}");
    }
    // Still evenly spread over all offers.
    assert_eq!(sim.offered(), k);
    let last = sim.samples().last().unwrap().t;
    assert!((k - 1) as f64 * 1e-3 - last < sim.stride() as f64 * 1e-3 + 1e-9);
}
