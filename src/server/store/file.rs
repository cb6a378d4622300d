//! File storage (redb): rooms keep their seq, history and keys across
//! restarts and crashes.
//!
//! One storage thread owns the database, fed by a bounded channel: no
//! session task ever waits on the disk, and a full channel answers
//! `Unavailable` at once. The thread commits every request that arrived
//! while its previous commit ran (group commit) in one transaction, and
//! only then hands the messages to the fan-out, in order: an Ack and a
//! Message always mean the message is in the file ([`commit`]).
//!
//! `sync = true` commits with `Durability::Immediate` (one `fdatasync` per
//! group). `sync = false` commits the same way through a backend that skips
//! the `fdatasync`: the commit is written to the kernel before the Ack, so
//! it survives the process being killed, but not the machine losing power.
//! redb's own weaker levels do not fit: `Durability::None` keeps the commit
//! in memory only (a killed process loses it), and on Linux `Eventual` is
//! an `fdatasync` like `Immediate`.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::Duration;

use redb::backends::FileBackend;
use redb::{
    Database, DatabaseError, Durability, ReadableTable, ReadableTableMetadata, StorageBackend,
};

use super::commit::{self, Request};
use super::tables::{self, Retention, FORMAT, META};
use super::{Delete, Fanout, Join, Pending, Publish, Store, StoreError, CACHE_BYTES, QUEUE};

/// What a file store needs.
#[derive(Debug, Clone)]
pub(crate) struct FileOptions {
    pub(crate) path: PathBuf,
    /// fsync every commit (power loss keeps acked messages).
    pub(crate) sync: bool,
    /// Seqs (messages and keys) remembered per room.
    pub(crate) history: u64,
    /// Rooms kept in the file.
    pub(crate) max_rooms: u64,
    /// How long the storage thread gathers requests before a commit.
    pub(crate) commit_window: Duration,
}

/// Why the file cannot be used: one line naming it and the problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OpenError(pub(crate) String);

impl std::fmt::Display for OpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for OpenError {}

/// redb's file backend, with `fdatasync` made optional (see the module
/// docs) and, in tests, a switch that makes every write fail.
#[derive(Debug)]
struct Backend {
    file: FileBackend,
    sync: bool,
    failing: Arc<AtomicBool>,
}

impl Backend {
    fn check(&self) -> io::Result<()> {
        if self.failing.load(Ordering::Relaxed) {
            return Err(io::Error::other("injected storage failure"));
        }
        Ok(())
    }
}

impl StorageBackend for Backend {
    fn len(&self) -> io::Result<u64> {
        self.file.len()
    }
    fn read(&self, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        self.file.read(offset, len)
    }
    fn set_len(&self, len: u64) -> io::Result<()> {
        self.check()?;
        self.file.set_len(len)
    }
    fn sync_data(&self, eventual: bool) -> io::Result<()> {
        self.check()?;
        if self.sync {
            self.file.sync_data(eventual)
        } else {
            Ok(())
        }
    }
    fn write(&self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.check()?;
        self.file.write(offset, data)
    }
}

/// Opens (or creates) the file; how the storage thread reopens it after a
/// failure too.
#[derive(Debug, Clone)]
pub(super) struct Opener {
    pub(super) path: PathBuf,
    sync: bool,
    pub(super) failing: Arc<AtomicBool>,
}

impl Opener {
    fn problem(&self, what: impl std::fmt::Display) -> OpenError {
        OpenError(format!("storage: {}: {what}", self.path.display()))
    }

    /// The database and how many rooms it holds.
    pub(super) fn open(&self) -> Result<(Database, usize), OpenError> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&self.path)
            .map_err(|e| self.problem(format_args!("cannot open: {e}")))?;
        let existed = file.metadata().map(|m| m.len() > 0).unwrap_or(true);
        let db = Database::builder()
            .set_cache_size(CACHE_BYTES)
            .create_with_backend(self.backend(file)?)
            .map_err(|e| self.problem(describe(&e)))?;
        let rooms = self.check_schema(&db, existed)?;
        Ok((db, rooms))
    }

    fn backend(&self, file: File) -> Result<Backend, OpenError> {
        let file = FileBackend::new(file).map_err(|e| self.problem(describe(&e)))?;
        Ok(Backend {
            file,
            sync: self.sync,
            failing: Arc::clone(&self.failing),
        })
    }

    /// Creates the tables in a new file; refuses a redb file of some other
    /// program or format rather than writing into it.
    fn check_schema(&self, db: &Database, existed: bool) -> Result<usize, OpenError> {
        let failed = |e: tables::DbError| self.problem(format_args!("cannot use it: {e}"));
        let mut txn = db.begin_write().map_err(|e| failed(e.into()))?;
        txn.set_durability(Durability::Immediate);
        {
            let mut meta = txn.open_table(META).map_err(|e| failed(e.into()))?;
            let format = meta.get("format").map_err(|e| failed(e.into()))?;
            match format.map(|g| g.value()) {
                Some(FORMAT) => {}
                Some(other) => {
                    return Err(self.problem(format_args!(
                        "storage format {other}, this palisade reads format {FORMAT}"
                    )))
                }
                None if existed => return Err(self.problem("not a palisade storage file")),
                None => {
                    meta.insert("format", FORMAT)
                        .map_err(|e| failed(e.into()))?;
                }
            }
        }
        // Creates the tables a new file lacks, so readers find them all.
        drop(tables::Tables::open(&txn).map_err(failed)?);
        let rooms = txn
            .open_table(tables::ROOMS)
            .and_then(|t| t.len().map_err(Into::into))
            .map_err(|e| failed(e.into()))?;
        txn.commit().map_err(|e| failed(e.into()))?;
        Ok(usize::try_from(rooms).unwrap_or(usize::MAX))
    }
}

fn describe(e: &DatabaseError) -> String {
    match e {
        DatabaseError::DatabaseAlreadyOpen => {
            "locked: another process (another palisade?) has it open".to_owned()
        }
        DatabaseError::Storage(redb::StorageError::Corrupted(what)) => {
            format!("corrupt or not a storage file: {what}")
        }
        DatabaseError::Storage(redb::StorageError::Io(e)) => format!("cannot read it: {e}"),
        other => format!("cannot open it: {other}"),
    }
}

/// Rooms in a redb file, written by one storage thread.
pub(crate) struct FileStore {
    requests: Option<SyncSender<Request>>,
    rooms: Arc<AtomicUsize>,
    thread: Option<std::thread::JoinHandle<()>>,
    #[cfg_attr(not(test), allow(dead_code))]
    failing: Arc<AtomicBool>,
}

impl std::fmt::Debug for FileStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileStore")
            .field("rooms", &self.rooms_held())
            .finish_non_exhaustive()
    }
}

impl FileStore {
    /// Opens the file and starts the storage thread.
    ///
    /// # Errors
    /// The file cannot be opened, is locked, corrupt or not ours.
    pub(crate) fn open(options: &FileOptions, fanout: Arc<dyn Fanout>) -> Result<Self, OpenError> {
        let opener = Opener {
            path: options.path.clone(),
            sync: options.sync,
            failing: Arc::new(AtomicBool::new(false)),
        };
        let (db, rooms) = opener.open()?;
        let rooms = Arc::new(AtomicUsize::new(rooms));
        let (tx, rx) = sync_channel(QUEUE);
        let failing = Arc::clone(&opener.failing);
        let writer = commit::Writer::new(
            opener,
            db,
            Retention {
                history: options.history,
                max_rooms: options.max_rooms,
            },
            options.commit_window,
            fanout,
            Arc::clone(&rooms),
        );
        let thread = std::thread::Builder::new()
            .name("palisade-storage".into())
            .spawn(move || writer.run(&rx))
            .map_err(|e| OpenError(format!("storage: cannot start its thread: {e}")))?;
        Ok(Self {
            requests: Some(tx),
            rooms,
            thread: Some(thread),
            failing,
        })
    }

    /// Queues a request; gives it back when the queue is full.
    fn submit(&self, request: Request) -> Option<Request> {
        let Some(tx) = &self.requests else {
            return Some(request);
        };
        match tx.try_send(request) {
            Ok(()) => None,
            Err(TrySendError::Full(r) | TrySendError::Disconnected(r)) => Some(r),
        }
    }

    /// Makes every write fail (or work again), to test failure handling.
    #[cfg(test)]
    pub(crate) fn inject_failure(&self, on: bool) {
        self.failing.store(on, Ordering::Relaxed);
    }
}

fn unavailable(request: Request) {
    log::warn!("storage queue full: request answered Unavailable");
    request.fail(StoreError::Unavailable);
}

impl Store for FileStore {
    fn publish(&self, publish: Publish) {
        if let Some(request) = self.submit(Request::Publish(publish)) {
            unavailable(request);
        }
    }

    fn join(&self, join: Join) -> Pending {
        let (tx, rx) = smol::channel::bounded(1);
        if let Some(request) = self.submit(Request::Join(join, tx)) {
            unavailable(request);
        }
        Box::pin(async move { rx.recv().await.unwrap_or(Err(StoreError::Unavailable)) })
    }

    fn delete(&self, delete: Delete) -> Pending {
        let (tx, rx) = smol::channel::bounded(1);
        if let Some(request) = self.submit(Request::Delete(delete, tx)) {
            unavailable(request);
        }
        Box::pin(async move { rx.recv().await.unwrap_or(Err(StoreError::Unavailable)) })
    }

    fn rooms_held(&self) -> usize {
        self.rooms.load(Ordering::Relaxed)
    }
}

impl Drop for FileStore {
    /// Lets the thread finish what is queued and close the file.
    fn drop(&mut self) {
        drop(self.requests.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
#[path = "file_tests.rs"]
mod tests;
