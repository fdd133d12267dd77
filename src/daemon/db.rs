//! The daemon's handle on the store: one connection behind a mutex, reached from async code
//! through `spawn_blocking`, and the daemon's knowledge of whether the database takes writes.
//!
//! Writes go through [`Db::write`], which watches their outcome: the first failure that means
//! "the database cannot be written" (a full disk, an I/O error, a damaged page) is logged once
//! and put in the health file beside the database (see [`crate::health`]), so `status` shows it
//! while it lasts; the next successful write clears it.

use std::sync::{Arc, Mutex, MutexGuard};

use crate::clock;
use crate::health::{DbFault, HealthFile};
use crate::store::{Store, StoreError};

/// The store behind a mutex, plus the write-health record.
#[derive(Clone)]
pub struct Db {
    store: Arc<Mutex<Store>>,
    health: Arc<Mutex<Health>>,
}

/// What the daemon knows about writing to the database, and where it tells `status`.
#[derive(Default)]
struct Health {
    fault: DbFault,
    file: Option<HealthFile>,
}

impl Health {
    fn publish(&mut self) {
        if let Some(f) = self.file.as_mut()
            && let Err(e) = f.write(&self.fault)
        {
            tracing::warn!(error = %e, "cannot update the health file beside the database");
        }
    }
}

impl Db {
    pub fn new(store: Store) -> Db {
        Db {
            store: Arc::new(Mutex::new(store)),
            health: Arc::new(Mutex::new(Health {
                fault: DbFault {
                    pid: std::process::id(),
                    ..DbFault::default()
                },
                file: None,
            })),
        }
    }

    fn health(&self) -> MutexGuard<'_, Health> {
        self.health.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` on the store on a blocking thread.
    pub async fn call<R: Send + 'static>(&self, f: impl FnOnce(&mut Store) -> R + Send + 'static) -> R {
        let inner = self.store.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = inner.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut guard)
        })
        .await
        .expect("store task panicked")
    }

    /// [`Db::call`] for a write: its outcome updates the write-health record.
    pub async fn write<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<R, StoreError> + Send + 'static,
    ) -> Result<R, StoreError> {
        let result = self.call(f).await;
        match &result {
            Ok(_) => self.write_succeeded(),
            Err(e) if e.is_storage_fault() => self.write_failed(e),
            Err(_) => {}
        }
        result
    }

    /// Starts mirroring the write-health record into `<database>.health`.
    pub fn attach_health_file(&self, file: HealthFile) {
        let mut h = self.health();
        h.file = Some(file);
        h.publish();
    }

    /// Email outcomes known only in memory (the outbox holds delivery while there are any).
    pub fn set_unrecorded_emails(&self, n: usize) {
        let mut h = self.health();
        if h.fault.unrecorded_emails != n {
            h.fault.unrecorded_emails = n;
            h.publish();
        }
    }

    fn write_failed(&self, e: &StoreError) {
        let mut h = self.health();
        let text = e.to_string();
        if h.fault.error.is_none() {
            tracing::error!(error = %text, "cannot write to the database; `yupiao status` shows it until a write succeeds again");
            h.fault.since = Some(clock::now());
        }
        if h.fault.error.as_deref() != Some(text.as_str()) {
            h.fault.error = Some(text);
            h.publish();
        }
    }

    fn write_succeeded(&self) {
        let mut h = self.health();
        if h.fault.error.is_some() {
            let since = h.fault.since.map(|s| s.to_rfc3339()).unwrap_or_default();
            tracing::info!(%since, "the database takes writes again");
            h.fault.error = None;
            h.fault.since = None;
            h.publish();
        }
    }
}
