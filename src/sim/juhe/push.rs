//! The push sender: state changes queue pushes, and one sender delivers them in order to the
//! callback URL registered for their type, recording each. A background ticker applies due
//! transitions so pushes go out on time even when nobody polls.

use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::Value;

use super::JuhePushRecord;
use crate::sim::Sim;

/// How often the background ticker applies due transitions.
const TICK: Duration = Duration::from_millis(100);

/// A push waiting to be delivered.
pub(super) struct Outgoing {
    pub(super) kind: u8,
    pub(super) body: Value,
    pub(super) forged: bool,
    pub(super) resent: bool,
}

impl Outgoing {
    pub(super) fn new(kind: u8, body: Value) -> Outgoing {
        Outgoing {
            kind,
            body,
            forged: false,
            resent: false,
        }
    }
}

impl Sim {
    /// Sends the last push again, as Juhe does when it thinks a delivery failed.
    pub async fn juhe_resend_last_push(&self) -> Option<JuhePushRecord> {
        self.juhe_flush().await;
        {
            let mut st = self.juhe();
            let last = st.pushes.iter().rev().find(|p| !p.forged)?;
            let mut again = Outgoing::new(last.kind, last.body.clone());
            again.resent = true;
            st.pending.push(again);
        }
        self.juhe_flush().await;
        self.juhe().pushes.last().cloned()
    }

    /// Sends `body` to the callback URL of `kind` as if Juhe had: pushes are unsigned, so
    /// anyone can.
    pub async fn juhe_send_push(&self, kind: u8, body: Value) -> Option<JuhePushRecord> {
        let mut forged = Outgoing::new(kind, body);
        forged.forged = true;
        self.juhe().pending.push(forged);
        self.juhe_flush().await;
        self.juhe().pushes.last().cloned()
    }

    /// Applies due transitions; their pushes join the queue.
    pub(super) fn juhe_tick(&self) {
        let elapsed = self.elapsed();
        let now = self.now().naive_local();
        let mut st = self.juhe();
        let delays = st.delays;
        let mut out = Vec::new();
        for order in &mut st.orders {
            order.step(elapsed, now, delays, &mut out);
        }
        st.pending.extend(out);
    }

    /// Applies due transitions now (handlers answer from the new state) and delivers their
    /// pushes in the background.
    pub(super) fn juhe_settle_in_background(&self) {
        self.juhe_tick();
        if !self.juhe().pending.is_empty() {
            let sim = self.clone();
            tokio::spawn(async move { sim.juhe_flush().await });
        }
    }

    /// Delivers every queued push, in order, and records each.
    pub(super) async fn juhe_flush(&self) {
        let _one_at_a_time = self.inner.juhe.flush.lock().await;
        loop {
            let batch = std::mem::take(&mut self.juhe().pending);
            if batch.is_empty() {
                return;
            }
            for push in batch {
                let url = self.juhe().callbacks.get(&push.kind).cloned();
                let mut record = JuhePushRecord {
                    kind: push.kind,
                    url: url.clone(),
                    body: push.body,
                    status: None,
                    error: None,
                    forged: push.forged,
                    resent: push.resent,
                };
                if let Some(url) = url {
                    match self.inner.juhe.http.post(&url).json(&record.body).send().await {
                        Ok(r) => record.status = Some(r.status().as_u16()),
                        Err(e) => record.error = Some(e.without_url().to_string()),
                    }
                }
                self.juhe().pushes.push(record);
            }
        }
    }

    /// Starts the background ticker once: pushes go out on time even when nobody polls.
    pub(super) fn juhe_start_ticker(&self) {
        if self.inner.juhe.ticker.swap(true, Ordering::SeqCst) {
            return;
        }
        let sim = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(TICK) => {}
                    _ = sim.inner.cancel.cancelled() => return,
                }
                sim.juhe_tick();
                sim.juhe_flush().await;
            }
        });
    }
}
