//! How late this machine wakes a thread: the reason the real-time nodes spin (src/node/wait.rs).
//!
//! 1. A thread sleeping until the next whole millisecond (1 kHz deadlines): how late it runs.
//! 2. Two threads passing a message back and forth through a channel, once with 1 ms of idleness before each
//!    round trip (as in a 1 kHz control loop that blocks between steps) and once back to back.
//! 3. The same deadlines met by spinning.
//!
//! `cargo bench --bench wakeup_latency [-- --n 5000]`. On a virtual machine whose idle vCPUs halt the sleeping
//! figures have millisecond tails; spinning has none (short of the host taking the vCPU away).

use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

#[path = "common/load.rs"]
mod load;

fn summary(mut ns: Vec<u64>) -> String {
    ns.sort_unstable();
    let q = |p: f64| ns[((ns.len() - 1) as f64 * p) as usize] as f64 / 1e3;
    format!("p50 {:7.1}  p99 {:7.1}  p99.9 {:7.1}  max {:7.1} µs", q(0.5), q(0.99), q(0.999), q(1.0))
}

fn since(t: Instant) -> u64 {
    t.elapsed().as_nanos() as u64
}

fn main() {
    let mut n = 5000usize;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--n" {
            n = args.next().and_then(|v| v.parse().ok()).expect("--n: a count");
        }
    }
    println!("wakeup_latency: {n} samples each, load average {}", load::load_average());

    let period = Duration::from_millis(1);
    let mut deadline = Instant::now();
    let late: Vec<u64> = (0..n)
        .map(|_| {
            deadline += period;
            thread::sleep(deadline.saturating_duration_since(Instant::now()));
            since(deadline)
        })
        .collect();
    println!("sleep to a 1 ms deadline, lateness:   {}", summary(late));

    let (ping, ping_rx) = mpsc::channel::<()>();
    let (pong, pong_rx) = mpsc::channel::<()>();
    let echo = thread::spawn(move || {
        for () in ping_rx {
            if pong.send(()).is_err() {
                break;
            }
        }
    });
    let round_trip = |idle: bool| -> Vec<u64> {
        (0..n)
            .map(|_| {
                if idle {
                    thread::sleep(period);
                }
                let t = Instant::now();
                ping.send(()).expect("echo thread");
                pong_rx.recv().expect("echo thread");
                since(t)
            })
            .collect()
    };
    println!("channel round trip after 1 ms idle:   {}", summary(round_trip(true)));
    println!("channel round trip back to back:      {}", summary(round_trip(false)));
    drop(ping);
    echo.join().expect("echo thread");

    let mut deadline = Instant::now();
    let late: Vec<u64> = (0..n)
        .map(|_| {
            deadline += period;
            while Instant::now() < deadline {
                std::hint::spin_loop();
            }
            since(deadline)
        })
        .collect();
    println!("spin to a 1 ms deadline, lateness:    {}", summary(late));
}
