//! The one way the server's tables take their mutexes.

/// Locks a mutex, carrying on if a thread panicked while holding it: every
/// mutation of the server's tables is a single insert or remove, so the data
/// stays sound, and one bad task must not take the whole server down.
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
