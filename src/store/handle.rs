//! The daemon's handle on the store: one thread owns the writer connection, async code sends it
//! named operations and awaits their answers.
//!
//! Each method is one of the daemon's operations on the database, taking and returning domain
//! types, and is one transaction (the store's method of the same name). One thread instead of
//! `spawn_blocking` per call: a single writer by construction, one place where SQLite's memory
//! lives, and no pool of short-lived threads each growing its own malloc arena.
//!
//! Writes go through [`Db::write`], which watches their outcome: the first failure that means
//! "the database cannot be written" (a full disk, an I/O error, a damaged page) is logged once
//! and put in the health file beside the database (see [`super::health`]), so `status` shows it
//! while it lasts; the next successful write clears it.
//!
//! For several nodes (issue 13) this becomes an enum over backends with these same methods: this
//! thread for SQLite, a connection pool for PostgreSQL.

use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, mpsc};
use std::time::Duration;

use chrono::{DateTime, FixedOffset, NaiveDate};
use tokio::sync::oneshot;

use super::cycle::{CycleRecord, CycleWritten};
use super::error::StoreError;
use super::grab::{GrabIntent, GrabOrder, GrabRequest, GrabUpdate, Push};
use super::health::{DbFault, HealthFile};
use super::outbox::{Delivery, NewEmail, OutboxRow};
use super::prune::Pruned;
use super::push_outbox::PushRow;
use super::sqlite::Store;
use super::status::{Fact, JobKey, PollStatus};
use super::waitlist::WaitlistRecord;
use crate::clock;
use crate::decide::Previous;
use crate::decide::waitlist::WaitlistSnapshot;

/// One operation, run on the store's thread.
type Job = Box<dyn FnOnce(&mut Store) + Send>;

/// What the store's thread is asked to do.
enum Msg {
    Run(Job),
    /// Close the connection (SQLite checkpoints and removes the WAL) and end the thread.
    Close(oneshot::Sender<()>),
}

/// Runs the operations sent to the store's thread until [`Msg::Close`] (or the last handle).
fn serve(mut store: Store, queue: &mpsc::Receiver<Msg>) {
    while let Ok(msg) = queue.recv() {
        let job = match msg {
            Msg::Run(job) => job,
            Msg::Close(done) => {
                drop(store);
                let _ = done.send(());
                return;
            }
        };
        // A bug in one operation must not take the database away from the others; its caller
        // gets `StoreError::Lost`.
        if std::panic::catch_unwind(AssertUnwindSafe(|| job(&mut store))).is_err() {
            tracing::error!("a database operation panicked");
        }
    }
}

/// The store's thread, plus the write-health record.
#[derive(Clone)]
pub struct Db {
    jobs: mpsc::Sender<Msg>,
    health: Arc<Mutex<Health>>,
    /// Bumped after every committed write: the status page's cue to read again (no polling).
    changes: Arc<tokio::sync::watch::Sender<u64>>,
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
    /// Opens (creating and migrating if needed) the database at `path` on its own thread, and
    /// checks it ([`Store::check_integrity`]): the connection, its page cache and every statement
    /// live on that thread from the start. The thread ends at [`Db::close`], or when the last
    /// handle is dropped.
    pub fn open(path: &Path) -> Result<Db, StoreError> {
        let (jobs, queue) = mpsc::channel::<Msg>();
        let (opened, open_result) = mpsc::sync_channel::<Result<(), StoreError>>(1);
        let path = path.to_path_buf();
        std::thread::Builder::new()
            .name("yupiao-store".into())
            .spawn(move || {
                let store = Store::open(&path).and_then(|s| s.check_integrity().map(|()| s));
                match store {
                    Ok(store) => {
                        let _ = opened.send(Ok(()));
                        serve(store, &queue);
                    }
                    Err(e) => {
                        let _ = opened.send(Err(e));
                    }
                }
            })
            .expect("cannot start the database thread");
        open_result.recv().map_err(|_| StoreError::Lost)??;
        Ok(Db {
            jobs,
            health: Arc::new(Mutex::new(Health {
                fault: DbFault {
                    pid: std::process::id(),
                    ..DbFault::default()
                },
                file: None,
            })),
            changes: Arc::new(tokio::sync::watch::Sender::new(0)),
        })
    }

    /// Wakes after every committed write (a poll cycle, a delivery, a 候补 or 抢票 change, a
    /// reload): the value is the number of writes so far. Several writes may wake it once.
    pub fn subscribe_changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changes.subscribe()
    }

    fn health(&self) -> MutexGuard<'_, Health> {
        self.health.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` on the store's thread.
    async fn call<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<R, StoreError> + Send + 'static,
    ) -> Result<R, StoreError> {
        let (answer, answered) = oneshot::channel();
        let job: Job = Box::new(move |s| {
            let _ = answer.send(f(s));
        });
        self.jobs.send(Msg::Run(job)).map_err(|_| StoreError::Lost)?;
        answered.await.map_err(|_| StoreError::Lost)?
    }

    /// Closes the database once the operations already sent are done: the connection is closed
    /// (SQLite checkpoints the WAL and removes it) and later operations fail with
    /// [`StoreError::Lost`]. The process may end without running any thread's destructors, so a
    /// clean stop says it.
    pub async fn close(&self) {
        let (done, closed) = oneshot::channel();
        if self.jobs.send(Msg::Close(done)).is_ok() {
            let _ = closed.await;
        }
    }

    /// [`Db::call`] for a write: its outcome updates the write-health record.
    async fn write<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<R, StoreError> + Send + 'static,
    ) -> Result<R, StoreError> {
        let result = self.call(f).await;
        match &result {
            Ok(_) => {
                self.write_succeeded();
                self.changes.send_modify(|n| *n += 1);
            }
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

    // ---- the daemon's life ------------------------------------------------------------------

    /// A daemon started: its pid and start time; a rejected edit of a previous run is forgotten.
    pub async fn record_start(&self, pid: u32, now: DateTime<FixedOffset>) -> Result<(), StoreError> {
        self.write(move |s| {
            s.write_tx(|tx| {
                super::status::write_fact(tx, Fact::DaemonPid, &pid.to_string(), now)?;
                super::status::write_fact(tx, Fact::DaemonStartedAt, &now.to_rfc3339(), now)?;
                tx.execute("DELETE FROM fact WHERE key = ?1", [Fact::WatchlistError.key()])?;
                Ok(())
            })
        })
        .await
    }

    /// The daemon stops cleanly.
    pub async fn record_stop(&self, now: DateTime<FixedOffset>) -> Result<(), StoreError> {
        self.write(move |s| {
            s.write_tx(|tx| {
                tx.execute("DELETE FROM fact WHERE key = ?1", [Fact::DaemonPid.key()])?;
                super::status::write_fact(tx, Fact::DaemonStoppedAt, &now.to_rfc3339(), now)
            })
        })
        .await
    }

    /// The watch list that runs from now on (JSON of `crate::status::RunningList`); an applied
    /// edit also clears the record of a rejected one.
    pub async fn record_running_list(
        &self,
        json: String,
        now: DateTime<FixedOffset>,
    ) -> Result<(), StoreError> {
        self.write(move |s| {
            s.write_tx(|tx| {
                super::status::write_fact(tx, Fact::RunningList, &json, now)?;
                tx.execute("DELETE FROM fact WHERE key = ?1", [Fact::WatchlistError.key()])?;
                Ok(())
            })
        })
        .await
    }

    /// Why an edit of the watch list was rejected (the previous list keeps running).
    pub async fn record_rejected_edit(
        &self,
        text: String,
        now: DateTime<FixedOffset>,
    ) -> Result<(), StoreError> {
        self.write(move |s| s.set_fact(Fact::WatchlistError, &text, now))
            .await
    }

    /// The token of the push URLs: the stored one, else `fresh`, stored now.
    pub async fn callback_token(
        &self,
        fresh: String,
        now: DateTime<FixedOffset>,
    ) -> Result<String, StoreError> {
        self.write(move |s| s.fact_or_set(Fact::CallbackToken, &fresh, now))
            .await
    }

    /// Removes rows past the retention.
    pub async fn prune(&self, now: DateTime<FixedOffset>, retention: Duration) -> Result<Pruned, StoreError> {
        self.write(move |s| s.prune(now, retention)).await
    }

    // ---- 起售 ---------------------------------------------------------------------------------

    /// Stores boarding stations' daily sale times (older observations never replace newer).
    pub async fn save_station_times(
        &self,
        times: Vec<super::sale::StationSaleTime>,
    ) -> Result<(), StoreError> {
        self.write(move |s| s.save_station_times(&times)).await
    }

    /// What the last run learnt: station times and the cached `qss.js`.
    pub async fn sale_knowledge(
        &self,
    ) -> Result<(Vec<super::sale::StationSaleTime>, Option<super::sale::QssCache>), StoreError> {
        self.call(|s| Ok((s.station_times()?, s.qss_cache()?))).await
    }

    pub async fn save_qss(&self, qss: super::sale::QssCache) -> Result<(), StoreError> {
        self.write(move |s| s.save_qss(&qss)).await
    }

    pub async fn save_rail_clock(&self, rec: super::sale::RailClockRecord) -> Result<(), StoreError> {
        self.write(move |s| s.save_rail_clock(&rec)).await
    }

    // ---- polling ----------------------------------------------------------------------------

    /// The stored state of each (watch, date), in order.
    pub async fn previous_states(&self, keys: Vec<(String, NaiveDate)>) -> Result<Vec<Previous>, StoreError> {
        self.call(move |s| s.previous_states(&keys)).await
    }

    /// Writes a poll cycle (one transaction).
    pub async fn record_cycle(&self, record: CycleRecord) -> Result<CycleWritten, StoreError> {
        self.write(move |s| s.record_cycle(&record)).await
    }

    /// Folds one poll into a key's status (a poll that wrote nothing else).
    pub async fn record_poll_status(&self, poll: PollStatus) -> Result<(), StoreError> {
        self.write(move |s| s.record_poll_status(&poll)).await
    }

    /// Says when `key` really runs next (it skips its ticks for now).
    pub async fn set_next_run(
        &self,
        key: JobKey,
        next: Option<DateTime<FixedOffset>>,
    ) -> Result<(), StoreError> {
        self.write(move |s| s.set_next_run(&key, next)).await
    }

    /// A watch starts afresh (removed, or now looking for something else).
    pub async fn forget_watch(&self, name: String) -> Result<(), StoreError> {
        self.write(move |s| s.forget_watch(&name)).await
    }

    /// The stored decision state of a `[[waitlist]]`.
    pub async fn waitlist_state(&self, name: String) -> Result<Option<WaitlistSnapshot>, StoreError> {
        self.call(move |s| Ok(s.waitlist_state(&name)?.map(|(snap, _)| snap)))
            .await
    }

    /// Writes one poll of a `[[waitlist]]` (one transaction).
    pub async fn record_waitlist(&self, record: WaitlistRecord) -> Result<(), StoreError> {
        self.write(move |s| s.record_waitlist(&record)).await
    }

    /// A `[[waitlist]]` starts afresh.
    pub async fn forget_waitlist(&self, name: String) -> Result<(), StoreError> {
        self.write(move |s| s.forget_waitlist(&name)).await
    }

    // ---- email ------------------------------------------------------------------------------

    /// Queues an email that no poll caused, filed under `key`.
    pub async fn enqueue_email(
        &self,
        key: JobKey,
        now: DateTime<FixedOffset>,
        email: NewEmail,
    ) -> Result<Option<i64>, StoreError> {
        self.write(move |s| s.enqueue_email(&key, now, &email)).await
    }

    /// Pending emails whose next attempt is due, oldest first.
    pub async fn due_emails(
        &self,
        now: DateTime<FixedOffset>,
        limit: u32,
    ) -> Result<Vec<OutboxRow>, StoreError> {
        self.call(move |s| s.due_emails(now, limit)).await
    }

    /// Records the outcome of one delivery attempt.
    pub async fn record_delivery(&self, id: i64, delivery: Delivery) -> Result<(), StoreError> {
        self.write(move |s| s.record_delivery(id, &delivery)).await
    }

    // ---- push -------------------------------------------------------------------------------

    /// Pending pushes whose next attempt is due, oldest first.
    pub async fn due_pushes(
        &self,
        now: DateTime<FixedOffset>,
        limit: u32,
    ) -> Result<Vec<PushRow>, StoreError> {
        self.call(move |s| s.due_pushes(now, limit)).await
    }

    /// Records the outcome of one push attempt.
    pub async fn record_push_delivery(&self, id: i64, delivery: Delivery) -> Result<(), StoreError> {
        self.write(move |s| s.record_push_delivery(id, &delivery)).await
    }

    /// Holds a push until the end of its channel's quiet hours.
    pub async fn hold_push(&self, id: i64, until: DateTime<FixedOffset>) -> Result<(), StoreError> {
        self.write(move |s| s.hold_push(id, until)).await
    }

    /// Drops a held push for good.
    pub async fn drop_push(&self, id: i64, why: String) -> Result<(), StoreError> {
        self.write(move |s| s.drop_push(id, &why)).await
    }

    /// Whether a held seat alert is still true.
    pub async fn seats_still_available(
        &self,
        watches: Vec<String>,
        date: NaiveDate,
        trains: Vec<String>,
    ) -> Result<bool, StoreError> {
        self.call(move |s| s.seats_still_available(&watches, date, &trains))
            .await
    }

    // ---- 抢票 -------------------------------------------------------------------------------

    /// The orders of one (watch, date), newest first.
    pub async fn grab_orders_for(
        &self,
        watch: String,
        date: NaiveDate,
    ) -> Result<Vec<GrabOrder>, StoreError> {
        self.call(move |s| s.grab_orders_for(&watch, date)).await
    }

    /// One order.
    pub async fn grab_order(&self, out_order_no: String) -> Result<Option<GrabOrder>, StoreError> {
        self.call(move |s| s.grab_order(&out_order_no)).await
    }

    /// Orders whose next check is due.
    pub async fn due_grab_orders(&self, now: DateTime<FixedOffset>) -> Result<Vec<GrabOrder>, StoreError> {
        self.call(move |s| s.due_grab_orders(now)).await
    }

    /// The cancel and refund requests made for one order.
    pub async fn grab_requests(&self, out_order_no: String) -> Result<Vec<GrabRequest>, StoreError> {
        self.call(move |s| s.grab_requests(&out_order_no)).await
    }

    /// Stores an intent before `createOrder` is sent.
    pub async fn insert_grab_intent(&self, intent: GrabIntent) -> Result<(), StoreError> {
        self.write(move |s| s.insert_grab_intent(&intent)).await
    }

    /// Applies a guarded change to an order with its emails; false when the order moved on.
    pub async fn update_grab_order(
        &self,
        out_order_no: String,
        now: DateTime<FixedOffset>,
        update: GrabUpdate,
        emails: Vec<NewEmail>,
    ) -> Result<bool, StoreError> {
        self.write(move |s| s.update_grab_order(&out_order_no, now, &update, &emails))
            .await
    }

    /// Records a push; false when it was recorded before.
    pub async fn record_push(&self, push: Push, now: DateTime<FixedOffset>) -> Result<bool, StoreError> {
        self.write(move |s| s.record_push(&push, now)).await
    }
}
