//! CPU queries: which CPU the caller runs on, which CPUs the process may
//! use, and pinning a worker. Under `cfg(loom)` there is one CPU (0) and
//! pinning is a no-op, so models stay deterministic.
//!
//! Lock order: none.

/// The CPU the calling thread is running on (`sched_getcpu`), 0 if unknown.
#[cfg(not(loom))]
pub(crate) fn current_cpu() -> usize {
    // SAFETY: sched_getcpu takes no arguments and only reads the vDSO.
    let c = unsafe { libc::sched_getcpu() };
    usize::try_from(c).unwrap_or(0)
}

#[cfg(loom)]
pub(crate) fn current_cpu() -> usize {
    0
}

/// The CPUs this process may run on, in increasing order (never empty).
#[cfg(not(loom))]
pub(crate) fn allowed_cpus() -> Vec<usize> {
    // SAFETY: cpu_set_t is plain data; all-zero is a valid empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a valid, writable cpu_set_t of the size we pass.
    let r = unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    let mut cpus = Vec::new();
    if r == 0 {
        for c in 0..libc::CPU_SETSIZE as usize {
            // SAFETY: `c` is below CPU_SETSIZE and `set` is initialized.
            if unsafe { libc::CPU_ISSET(c, &set) } {
                cpus.push(c);
            }
        }
    }
    if cpus.is_empty() {
        let n = std::thread::available_parallelism().map_or(1, |n| n.get());
        cpus.extend(0..n);
    }
    cpus
}

#[cfg(loom)]
pub(crate) fn allowed_cpus() -> Vec<usize> {
    vec![0]
}

/// Pins the calling thread to `cpu`. Errors are the errno of
/// `sched_setaffinity`.
#[cfg(not(loom))]
pub(crate) fn pin_to(cpu: usize) -> aio_core::Result<()> {
    if cpu >= libc::CPU_SETSIZE as usize {
        return Err(aio_core::Error::EINVAL);
    }
    // SAFETY: cpu_set_t is plain data; all-zero is a valid empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `cpu` < CPU_SETSIZE (checked above); `set` is valid.
    unsafe { libc::CPU_SET(cpu, &mut set) };
    // SAFETY: `set` is a valid cpu_set_t of the size we pass; pid 0 is the
    // calling thread.
    let r = unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) };
    if r == 0 {
        Ok(())
    } else {
        Err(aio_core::Error::last_os_error())
    }
}

#[cfg(loom)]
pub(crate) fn pin_to(_cpu: usize) -> aio_core::Result<()> {
    Ok(())
}
