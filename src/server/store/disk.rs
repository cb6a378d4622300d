//! The worst-case size of the storage file, computed from the limits.
//!
//! The file holds at most `storage.max_rooms` rooms, each with its last
//! `limits.history` messages and their `PublishOnce` keys: the storage
//! thread trims both in the transaction that publishes. What redb adds on
//! top is page rounding, copy-on-write (the previous commit's pages stay
//! until the next one) and free space it keeps for reuse; the factors
//! below cover them with a margin, and a test fills a file to check.
//! docs/LIMITS.md explains the formula; keep the two in step.

use std::fmt;

/// redb's page.
const PAGE: u64 = 4096;
/// A stored message besides its body: the `Message` frame's header
/// (variant, room, seq, sender up to 64 bytes, timestamp, lengths), its
/// key `(room, seq)` and the B-tree's per-entry bookkeeping.
const MESSAGE_OVERHEAD: u64 = 256;
/// One `PublishOnce` key, in both of its tables (room, sub up to 64
/// bytes, key, seq), with bookkeeping.
const KEY_BYTES: u64 = 256;
/// Copies of a page the file may hold at once: the committed tree, the
/// one being written and freed pages not yet reused.
const COPIES: u64 = 3;
/// Headers, the region allocator and table roots of a small file.
const FIXED: u64 = 2 * 1024 * 1024;

/// The computed bound of the storage file, term by term.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiskBound {
    /// Rooms the file keeps.
    pub rooms: u64,
    /// Messages each room keeps.
    pub history: u64,
    /// File bytes one stored message may take.
    pub per_message: u64,
    /// The whole bound, in bytes.
    pub total: u64,
}

/// Bytes of pages one entry of `entry` bytes may occupy: small entries
/// share a page (their share, rounded to whole entries per page), large
/// ones get a page of their own, a power of two of 4 KiB pages.
fn page_share(entry: u64) -> u64 {
    if entry * 2 <= PAGE {
        PAGE / (PAGE / entry)
    } else {
        entry.next_power_of_two().max(PAGE)
    }
}

impl DiskBound {
    /// The bound for `max_rooms` rooms of `history` messages of at most
    /// `max_body` bytes.
    pub fn new(max_rooms: u32, history: u16, max_body: u32) -> Self {
        let (rooms, history) = (u64::from(max_rooms), u64::from(history));
        let per_message = COPIES * (page_share(u64::from(max_body) + MESSAGE_OVERHEAD) + KEY_BYTES);
        Self {
            rooms,
            history,
            per_message,
            total: FIXED + rooms * history * per_message,
        }
    }

    /// The bound of `config`'s file storage; `None` without one.
    pub fn for_config(config: &crate::config::Config) -> Option<Self> {
        let storage = config.storage.as_ref()?;
        (storage.kind == crate::config::StorageKind::File).then(|| {
            Self::new(
                storage.max_rooms,
                config.limits.history,
                config.limits.max_body,
            )
        })
    }

    /// The whole bound in MiB, rounded up.
    pub fn total_mib(&self) -> u64 {
        self.total.div_ceil(1024 * 1024)
    }
}

impl fmt::Display for DiskBound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "worst-case storage file {} MiB = {} rooms × {} messages × {:.1} KiB + 2 MiB",
            self.total_mib(),
            self.rooms,
            self.history,
            self.per_message as f64 / 1024.0
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_share_pages_or_get_their_own() {
        assert_eq!(page_share(100), 4096 / 40);
        assert_eq!(page_share(1500), 2048);
        assert_eq!(page_share(2100), 4096);
        assert_eq!(page_share(4352), 8192);
    }

    #[test]
    fn the_bound_grows_with_rooms_history_and_body() {
        let b = DiskBound::new(1024, 32, 4096);
        assert_eq!(b.total, FIXED + 1024 * 32 * 3 * (8192 + 256));
        assert!(DiskBound::new(2048, 32, 4096).total > b.total);
        assert!(DiskBound::new(1024, 64, 4096).total > b.total);
        assert!(DiskBound::new(1024, 32, 256).total < b.total);
        assert_eq!(DiskBound::new(1024, 0, 4096).total, FIXED);
    }
}
