//! Threads that run the parts of a multi-threaded sweep, handed each step's part without a sleep between steps.
//!
//! A pool whose idle threads sleep must wake one for every step: on the virtual machines measured, that
//! took ~70 µs a step, which made two threads slower than one at 10⁵ neurons and held two threads to ~1.6 × at
//! 10⁶ (BENCHMARKS.md). Here a worker waits for its next part by spinning for up to [`SPIN`] after its last one,
//! and only then parks: steps that follow each other closely hand over in well under a microsecond, and a pool
//! left idle stops using its cores after [`SPIN`].

use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// How long an idle worker spins for its next part before it parks.
pub const SPIN: Duration = Duration::from_micros(500);

/// A part of a sweep, as a worker runs it: a borrowed closure whose lifetime [`SpinPool::run`] guarantees (it
/// returns only once every worker has finished its part).
struct Job(*mut (dyn FnMut() + Send));

// SAFETY: the closure is `Send`; the pointer is only dereferenced by the one worker it is handed to, while the
// caller of `SpinPool::run` waits for it.
unsafe impl Send for Job {}

/// One worker's mailbox.
struct Slot {
    /// Bumped by the caller for each part it hands over.
    handed: AtomicU64,
    /// Set by the worker to the part's number when it is done.
    finished: AtomicU64,
    /// The part to run.
    job: Mutex<Option<Job>>,
    /// Whether the last part panicked.
    panicked: AtomicBool,
    /// Set when the pool is dropped.
    exit: AtomicBool,
}

/// Threads that each run one part of a step, woken by spinning (see the module docs).
pub struct SpinPool {
    slots: Vec<Arc<Slot>>,
    threads: Vec<JoinHandle<()>>,
    /// Serialises callers (clones of an executor share their pool).
    busy: Mutex<()>,
}

impl std::fmt::Debug for SpinPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpinPool").field("threads", &self.threads.len()).finish()
    }
}

impl SpinPool {
    /// `threads` workers named `spikearm-core-1..`; an error if the system would not start one.
    pub fn new(threads: usize) -> std::io::Result<Self> {
        let mut pool = SpinPool { slots: Vec::new(), threads: Vec::new(), busy: Mutex::new(()) };
        for i in 0..threads {
            let slot = Arc::new(Slot {
                handed: AtomicU64::new(0),
                finished: AtomicU64::new(0),
                job: Mutex::new(None),
                panicked: AtomicBool::new(false),
                exit: AtomicBool::new(false),
            });
            let mine = Arc::clone(&slot);
            let thread = thread::Builder::new().name(format!("spikearm-core-{}", i + 1)).spawn(move || work(&mine))?;
            pool.slots.push(slot);
            pool.threads.push(thread);
        }
        Ok(pool)
    }

    /// Runs `parts[i]` on worker `i` and `own` on this thread, and returns when all are done. A panic in any of
    /// them is raised here, after every part has finished. Panics if there are more parts than workers.
    pub fn run(&self, parts: &mut [&mut (dyn FnMut() + Send)], own: impl FnOnce()) {
        assert!(parts.len() <= self.slots.len(), "{} parts for {} workers", parts.len(), self.slots.len());
        let _busy = self.busy.lock().unwrap_or_else(|e| e.into_inner());
        // Waits for the handed parts even if `own` panics: their closures borrow from the caller's frame.
        struct Wait<'a>(&'a [Arc<Slot>], usize);
        impl Drop for Wait<'_> {
            fn drop(&mut self) {
                for slot in &self.0[..self.1] {
                    let handed = slot.handed.load(Ordering::Relaxed);
                    let mut spins = 0u32;
                    while slot.finished.load(Ordering::Acquire) != handed {
                        spins = spins.saturating_add(1);
                        if spins < 1 << 16 { std::hint::spin_loop() } else { thread::yield_now() }
                    }
                }
            }
        }
        let mut wait = Wait(&self.slots, 0);
        for (slot, (part, thread)) in self.slots.iter().zip(parts.iter_mut().zip(&self.threads)) {
            let part: *mut (dyn FnMut() + Send + '_) = &mut **part;
            // SAFETY: only the lifetime is erased; `Wait` keeps this frame until the worker is done with it.
            let part: *mut (dyn FnMut() + Send + 'static) = unsafe { std::mem::transmute(part) };
            *slot.job.lock().unwrap_or_else(|e| e.into_inner()) = Some(Job(part));
            slot.handed.fetch_add(1, Ordering::Release);
            thread.thread().unpark();
            wait.1 += 1;
        }
        own();
        drop(wait);
        if self.slots[..parts.len()].iter().any(|s| s.panicked.swap(false, Ordering::Relaxed)) {
            resume_unwind(Box::new("a part of the sweep panicked on its worker thread"));
        }
    }
}

impl Drop for SpinPool {
    fn drop(&mut self) {
        for (slot, thread) in self.slots.iter().zip(&self.threads) {
            slot.exit.store(true, Ordering::Release);
            thread.thread().unpark();
        }
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// A worker's loop: wait for a part (spinning, then parked), run it, report.
fn work(slot: &Slot) {
    let mut done = 0u64;
    loop {
        let since = Instant::now();
        let mut spins = 0u32;
        while slot.handed.load(Ordering::Acquire) == done {
            if slot.exit.load(Ordering::Acquire) {
                return;
            }
            spins = spins.wrapping_add(1);
            // Every 1024 spins the clock is read (it costs more than a spin) and the core offered to another
            // thread (more threads than cores must not spin the ones with work off theirs).
            if !spins.is_multiple_of(1024) {
                std::hint::spin_loop();
            } else if since.elapsed() < SPIN {
                thread::yield_now();
            } else {
                // An unpark between the check above and here makes this return at once.
                thread::park();
            }
        }
        done += 1;
        let job = slot.job.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(Job(part)) = job {
            // SAFETY: the caller of `SpinPool::run` handed this part and waits for `finished` before its frame
            // (which the closure borrows) ends; no one else touches the closure meanwhile.
            let outcome = catch_unwind(AssertUnwindSafe(|| unsafe { (*part)() }));
            if outcome.is_err() {
                slot.panicked.store(true, Ordering::Relaxed);
            }
        }
        slot.finished.store(done, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_part_runs_once_per_step_and_borrows_safely() {
        let pool = SpinPool::new(2).unwrap();
        let mut sums = [0u64; 3];
        for step in 0..2000u64 {
            let (first, rest) = sums.split_first_mut().unwrap();
            let (second, third) = rest.split_at_mut(1);
            let mut a = || second[0] += step;
            let mut b = || third[0] += 2 * step;
            pool.run(&mut [&mut a, &mut b], || *first += 3 * step);
            // Sleeping now and then lets the workers park: the next part must still reach them.
            if step % 500 == 0 {
                thread::sleep(SPIN * 2);
            }
        }
        let s: u64 = (0..2000).sum();
        assert_eq!(sums, [3 * s, s, 2 * s]);
    }

    #[test]
    fn a_panic_in_a_part_reaches_the_caller_and_the_pool_goes_on() {
        let pool = SpinPool::new(1).unwrap();
        let mut boom = || panic!("part");
        let caught = catch_unwind(AssertUnwindSafe(|| pool.run(&mut [&mut boom], || ())));
        assert!(caught.is_err());
        let mut ran = false;
        let mut fine = || ran = true;
        pool.run(&mut [&mut fine], || ());
        assert!(ran);
    }
}
