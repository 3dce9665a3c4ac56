//! SIGTERM and SIGINT for `meltc-run`: caught, recorded, and handed to whatever is running.
//!
//! Once [`Interrupts::install`] ran, these signals no longer end the process: a pipeline
//! forwards them to its children and returns (so state already persisted is kept and the
//! private config directory is removed by its drop guard), and between steps the caller asks
//! [`Interrupts::received`] whether to stop. A process that never installs keeps the default
//! behaviour. Handling is a thread reading `signal-hook`'s self-pipe, so no code runs inside
//! a signal handler and nothing here is `unsafe`.

use std::io;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use signal_hook::consts::{SIGINT, SIGTERM};

/// Something to call with each signal number as it arrives.
type Subscriber = Box<dyn Fn(i32) + Send>;

#[derive(Default)]
struct Shared {
    /// Every signal received, in order.
    received: Mutex<Vec<i32>>,
    /// The running pipeline, if any.
    subscriber: Mutex<Option<Subscriber>>,
}

/// The process's SIGTERM/SIGINT handling, or a stand-in that never fires.
#[derive(Clone, Default)]
pub struct Interrupts {
    shared: Option<Arc<Shared>>,
}

impl std::fmt::Debug for Interrupts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Interrupts")
            .field("installed", &self.shared.is_some())
            .field("received", &self.received())
            .finish()
    }
}

static INSTALLED: OnceLock<Arc<Shared>> = OnceLock::new();

impl Interrupts {
    /// Catch SIGTERM and SIGINT for the whole process from now on. Idempotent: later calls
    /// return the same handling.
    pub fn install() -> io::Result<Self> {
        if let Some(shared) = INSTALLED.get() {
            return Ok(Self {
                shared: Some(Arc::clone(shared)),
            });
        }
        let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGINT])?;
        let shared = Arc::clone(INSTALLED.get_or_init(|| Arc::new(Shared::default())));
        let for_thread = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("meltc-run signals".into())
            .spawn(move || {
                for signal in signals.forever() {
                    for_thread.deliver(signal);
                }
            })?;
        Ok(Self {
            shared: Some(shared),
        })
    }

    /// Handling that never fires: for library use and tests, where the process's signals are
    /// someone else's.
    pub fn none() -> Self {
        Self::default()
    }

    /// The first signal received so far, if any.
    pub fn received(&self) -> Option<i32> {
        let shared = self.shared.as_ref()?;
        lock(&shared.received).first().copied()
    }

    /// Route signals to `subscriber` until the returned guard drops.
    pub(crate) fn subscribe(&self, subscriber: Subscriber) -> Subscription {
        if let Some(shared) = &self.shared {
            *lock(&shared.subscriber) = Some(subscriber);
        }
        Subscription {
            shared: self.shared.clone(),
        }
    }
}

impl Shared {
    fn deliver(&self, signal: i32) {
        lock(&self.received).push(signal);
        if let Some(subscriber) = lock(&self.subscriber).as_ref() {
            subscriber(signal);
        }
    }
}

/// Ends a [`Interrupts::subscribe`] when dropped.
pub(crate) struct Subscription {
    shared: Option<Arc<Shared>>,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if let Some(shared) = &self.shared {
            *lock(&shared.subscriber) = None;
        }
    }
}

/// A poisoned lock only means another thread panicked while holding it; the data (a list of
/// numbers, an optional callback) is still sound.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
