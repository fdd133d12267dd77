//! The Juhe side's state: what a search promised, the orders, the calls and pushes recorded,
//! and the controls in force. Held by `sim::Inner`, reached through `Sim::juhe`.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::AtomicBool;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use chrono::{NaiveDate, NaiveTime};

use super::order::Order;
use super::push::Outgoing;
use super::{CreateFault, DEFAULT_KEY, JuheCreateCall, JuheDelays, JuheOutcome, JuhePushRecord};
use crate::sim::{Sim, lock};

/// The Juhe half of the simulator's state (held by `sim::Inner`).
pub(in crate::sim) struct JuheSim {
    pub(super) state: Mutex<JuheState>,
    pub(super) http: reqwest::Client,
    pub(super) ticker: AtomicBool,
    /// Held while draining `JuheState::pending`: whoever flushes returns only after every push
    /// queued before it was delivered, so tests never race the background ticker.
    pub(super) flush: tokio::sync::Mutex<()>,
}

pub(super) struct JuheState {
    pub(super) key: String,
    pub(super) delays: JuheDelays,
    pub(super) default_outcome: JuheOutcome,
    pub(super) outcomes: HashMap<String, JuheOutcome>,
    pub(super) query_keys: HashMap<String, QueryKey>,
    pub(super) orders: Vec<Order>,
    pub(super) creates: Vec<JuheCreateCall>,
    pub(super) callbacks: BTreeMap<u8, String>,
    pub(super) pushes: Vec<JuhePushRecord>,
    pub(super) fault: Option<(CreateFault, bool)>,
    pub(super) next_passenger_id: u64,
    /// Pushes produced by state changes, not yet delivered.
    pub(super) pending: Vec<Outgoing>,
}

/// What a search promised, so that create can check the order against it.
#[derive(Clone)]
pub(super) struct QueryKey {
    pub(super) issued_at: Duration,
    pub(super) date: NaiveDate,
    pub(super) trains: Vec<KeyTrain>,
}

#[derive(Clone)]
pub(super) struct KeyTrain {
    pub(super) code: String,
    pub(super) from_name: String,
    pub(super) to_name: String,
    pub(super) from_code: String,
    pub(super) to_code: String,
    pub(super) depart: NaiveTime,
    pub(super) arrive: NaiveTime,
    /// seatClassCode → price in yuan.
    pub(super) prices: BTreeMap<String, f64>,
}

impl JuheSim {
    pub(in crate::sim) fn new() -> JuheSim {
        JuheSim {
            state: Mutex::new(JuheState {
                key: DEFAULT_KEY.to_string(),
                delays: JuheDelays::default(),
                default_outcome: JuheOutcome::Issue,
                outcomes: HashMap::new(),
                query_keys: HashMap::new(),
                orders: Vec::new(),
                creates: Vec::new(),
                callbacks: BTreeMap::new(),
                pushes: Vec::new(),
                fault: None,
                next_passenger_id: 623_838_773,
                pending: Vec::new(),
            }),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap_or_default(),
            ticker: AtomicBool::new(false),
            flush: tokio::sync::Mutex::new(()),
        }
    }
}

impl Sim {
    pub(super) fn juhe(&self) -> MutexGuard<'_, JuheState> {
        lock(&self.inner.juhe.state)
    }
}
