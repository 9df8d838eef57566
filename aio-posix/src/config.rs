//! Limits and tuning, from `aio_init` and the environment.
//!
//! Read once, when the library first needs its pools (the first
//! submission), and again in a child after `fork`. Later `aio_init` calls
//! are ignored, as glibc ignores them once its threads run.
//!
//! | environment variable | meaning | default |
//! |---|---|---|
//! | `AIO_POSIX_MAX_OPS` | ops in flight at once (slab size); past it `EAGAIN`. `aioinit.aio_num` can only raise it (a sizing hint, as in glibc) | 8192 |
//! | `AIO_POSIX_THREADS` | service pools per class (one worker thread each, three classes) (`aioinit.aio_threads`) | CPUs available |
//! | `AIO_POSIX_QUEUE_DEPTH` | io_uring depth of each worker | 64 |
//! | `AIO_POSIX_NOTIFY_THREADS` | most threads running `SIGEV_THREAD` functions at once (the pool grows on demand up to it; functions with `sigev_notify_attributes` get threads of their own, counted too) | 64 |
//! | `AIO_POSIX_INLINE_MAX` | largest transfer tried in the submitting thread (bytes; `lio_listio` shares it across its list); 0: never | 65536 |
//! | `AIO_POSIX_PIN` | `0` leaves workers unpinned | `1` |
//! | `AIO_POSIX_STATS` | `1` (or `stderr`): print the service pools' counters (queued, completed, inline, stolen, high-water marks, sleeps, wake-ups) to standard error when the process exits; any other value: a file the table is appended to (see [`stats`](crate::stats)) | unset |
//! | `AIO_POSIX_TRACE` | a file to which each process appends its call counters (at its first call of each entry point, and at exit) | unset |

/// The library's limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Ops in flight at once; past it submissions fail with `EAGAIN`.
    pub max_ops: usize,
    /// Pools per class (`None`: one per CPU).
    pub threads: Option<usize>,
    /// io_uring depth per worker.
    pub queue_depth: u32,
    /// Most `SIGEV_THREAD` threads at once.
    pub notify_threads: usize,
    /// Largest transfer tried inline in the submitting thread (bytes).
    pub inline_max: usize,
    /// Pin workers to their CPU.
    pub pin: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_ops: 8192,
            threads: None,
            queue_depth: 64,
            notify_threads: 64,
            inline_max: 64 << 10,
            pin: true,
        }
    }
}

fn env_num(name: &str) -> Option<usize> {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
}

impl Config {
    /// The defaults, overridden by the environment (see the module docs).
    pub fn from_env() -> Config {
        let mut c = Config::default();
        c.apply_env();
        c
    }

    /// Overrides what the environment sets.
    pub fn apply_env(&mut self) {
        if let Some(n) = env_num("AIO_POSIX_MAX_OPS") {
            self.max_ops = n.min(1 << 20);
        }
        if let Some(n) = env_num("AIO_POSIX_THREADS") {
            self.threads = Some(n.min(256));
        }
        if let Some(n) = env_num("AIO_POSIX_QUEUE_DEPTH") {
            self.queue_depth = n.min(4096) as u32;
        }
        if let Some(n) = env_num("AIO_POSIX_NOTIFY_THREADS") {
            self.notify_threads = n.min(256);
        }
        if let Ok(v) = std::env::var("AIO_POSIX_INLINE_MAX")
            && let Ok(n) = v.trim().parse::<usize>()
        {
            self.inline_max = n;
        }
        if std::env::var("AIO_POSIX_PIN").is_ok_and(|v| v.trim() == "0") {
            self.pin = false;
        }
    }
}
