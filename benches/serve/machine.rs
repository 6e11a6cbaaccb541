//! The machine under the benchmark: which cores to use, how busy it is, and thread pinning.
//!
//! Two things make a run meaningless on a shared machine: another process taking turns on the
//! server's core (its CPU time per call is then inflated by cache and scheduler effects, and the
//! load generator stalls), and a load generator that cannot keep the server busy. The load
//! average says whether others are running; a calibration spin on each core says whether a
//! thread there gets the CPU it asks for.

use std::{
    fs, thread,
    time::{Duration, Instant},
};

/// The CPUs this process may run on (its affinity mask), in order.
pub fn allowed_cpus() -> Result<Vec<usize>, String> {
    // SAFETY: the set is zeroed and sized as sched_getaffinity expects; pid 0 is this thread.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return Err(format!(
                "sched_getaffinity: {}",
                std::io::Error::last_os_error()
            ));
        }
        Ok((0..libc::CPU_SETSIZE as usize)
            .filter(|&cpu| libc::CPU_ISSET(cpu, &set))
            .collect())
    }
}

/// Pins the calling thread (and every thread it starts afterwards) to `cpu`.
pub fn pin_current_thread(cpu: usize) -> Result<(), String> {
    // SAFETY: as above; CPU_SET only writes inside the set.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            return Err(format!(
                "sched_setaffinity to CPU {cpu}: {}",
                std::io::Error::last_os_error()
            ));
        }
    }
    Ok(())
}

/// The 1-, 5- and 15-minute load averages.
pub fn load_average() -> Result<[f64; 3], String> {
    let text =
        fs::read_to_string("/proc/loadavg").map_err(|e| format!("read /proc/loadavg: {e}"))?;
    let mut values = text.split_whitespace().map(|v| v.parse::<f64>());
    let mut next = || {
        values
            .next()
            .and_then(Result::ok)
            .ok_or_else(|| format!("/proc/loadavg is not `a b c …`: {text}"))
    };
    Ok([next()?, next()?, next()?])
}

/// For each CPU, the share of `wall` that a busy thread pinned there got (1.0 = all of it).
/// The spins run at the same time, so neither steals from the other.
pub fn availability(cpus: &[usize], wall: Duration) -> Result<Vec<f64>, String> {
    let spins: Vec<_> = cpus
        .iter()
        .map(|&cpu| {
            thread::spawn(move || -> Result<f64, String> {
                pin_current_thread(cpu)?;
                let start = Instant::now();
                let cpu_start = thread_cpu_time();
                let mut x = 1u64;
                while start.elapsed() < wall {
                    for _ in 0..1000 {
                        x = std::hint::black_box(x.wrapping_mul(6_364_136_223_846_793_005) + 1);
                    }
                }
                let used = thread_cpu_time() - cpu_start;
                Ok(used.as_secs_f64() / start.elapsed().as_secs_f64())
            })
        })
        .collect();
    spins
        .into_iter()
        .map(|spin| {
            spin.join()
                .map_err(|_| "the calibration spin panicked".to_owned())?
        })
        .collect()
}

fn thread_cpu_time() -> Duration {
    // SAFETY: clock_gettime writes into the timespec we pass.
    let ts = unsafe {
        let mut ts: libc::timespec = std::mem::zeroed();
        libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts);
        ts
    };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}
