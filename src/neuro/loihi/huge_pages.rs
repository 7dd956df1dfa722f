//! The core's large state arrays on transparent huge pages.
//!
//! A step streams every neuron's registers and input rows once: at n = 1e6 that is ~40 MB a step, through
//! ~10,000 4 KiB pages, and the TLB misses of those page walks cost ~10 % of the step (measured with the system
//! set to `always`). Linux backs a range with 2 MiB pages when asked: `madvise(MADV_HUGEPAGE)` before the pages
//! are first written (which the usual `madvise` setting of `/sys/kernel/mm/transparent_hugepage/enabled`
//! honours), and `MADV_COLLAPSE` (Linux 6.1) for the parts that the allocator had already written, e.g. heap
//! memory it reuses. It is a request: where the kernel declines, or elsewhere than Linux, the arrays are
//! ordinary, with the same contents.

/// Arrays smaller than this gain nothing from huge pages.
const MIN_BYTES: usize = 4 << 20;

/// A vector of `n` items `fill(i)` whose buffer the kernel is asked to back with huge pages.
pub fn huge_vec<T>(n: usize, mut fill: impl FnMut(usize) -> T) -> Vec<T> {
    let mut v = Vec::with_capacity(n);
    advise(v.spare_capacity_mut().as_mut_ptr() as usize, n * std::mem::size_of::<T>(), Advice::Fresh);
    v.extend((0..n).map(&mut fill));
    advise(v.as_ptr() as usize, n * std::mem::size_of::<T>(), Advice::Written);
    v
}

/// What the pages to advise hold.
enum Advice {
    /// Not yet written: back them with huge pages as they are first written.
    Fresh,
    /// Written: move them onto huge pages now (where they are not already).
    Written,
}

/// Gives `advice` for the whole pages inside `[start, start + bytes)`, memory of a vector this module owns.
#[cfg_attr(not(target_os = "linux"), allow(unused_variables))]
fn advise(start: usize, bytes: usize, advice: Advice) {
    if bytes < MIN_BYTES {
        return;
    }
    #[cfg(target_os = "linux")]
    {
        const PAGE: usize = 4096;
        let first = start.next_multiple_of(PAGE);
        let len = (start + bytes - first) / PAGE * PAGE;
        let flag = match advice {
            Advice::Fresh => libc::MADV_HUGEPAGE,
            Advice::Written => libc::MADV_COLLAPSE,
        };
        // SAFETY: [first, first + len) lies inside a vector's buffer; both advices change how the kernel backs
        // those pages (a collapse copies their contents onto a huge page), never the contents or the mapping.
        // A failure (THP off, an older kernel, no free huge page) leaves ordinary pages: correct, only slower.
        unsafe { libc::madvise(first as *mut libc::c_void, len, flag) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_what_it_was_filled_with() {
        for n in [0, 7, (MIN_BYTES / 4) + 12_345] {
            let v = huge_vec(n, |i| i as u32 * 3);
            assert_eq!(v.len(), n);
            assert!(v.iter().enumerate().all(|(i, &x)| x == i as u32 * 3));
        }
    }

    /// The request is honoured where the system allows it: the kernel reports the range as huge-page backed.
    #[cfg(target_os = "linux")]
    #[test]
    fn large_arrays_are_backed_by_huge_pages_where_the_system_allows() {
        let mode = std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled").unwrap_or_default();
        if !(mode.contains("[madvise]") || mode.contains("[always]")) {
            eprintln!("transparent huge pages are off here ({mode:?}): nothing to check");
            return;
        }
        let v = huge_vec(16 << 20, |i| i as u8);
        let span = v.as_ptr() as usize..v.as_ptr() as usize + v.len();
        let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
        // The advice splits the vector's mapping (its first partial page stays apart): sum the AnonHugePages of
        // every mapping that overlaps the vector.
        let mut overlaps = false;
        let mut huge_kb = 0;
        for line in smaps.lines() {
            if let Some((range, _)) = line.split_once(' ')
                && let Some((lo, hi)) = range.split_once('-')
                && let (Ok(lo), Ok(hi)) = (usize::from_str_radix(lo, 16), usize::from_str_radix(hi, 16))
            {
                overlaps = lo < span.end && span.start < hi;
            } else if overlaps && let Some(kb) = line.strip_prefix("AnonHugePages:") {
                huge_kb += kb.trim().trim_end_matches("kB").trim().parse::<usize>().unwrap();
            }
        }
        assert!(huge_kb >= 2048, "no huge pages behind a 16 MiB array ({huge_kb} kB)");
        assert_eq!(v[12_345], (12_345 % 256) as u8);
    }
}
