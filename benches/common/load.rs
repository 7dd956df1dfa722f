//! The machine's load average, printed by the benches that share this 2-core machine: their figures mean
//! little when it is loaded. Include with `#[path = "common/load.rs"] mod load;`.

/// The 1-, 5- and 15-minute load averages from `/proc/loadavg`, or `?` where it is unavailable.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map_or_else(|_| "?".into(), |s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
}
