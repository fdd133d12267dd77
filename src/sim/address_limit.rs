//! Throttling per client address, as 12306 does: each address gets so many requests per window,
//! and beyond that every 12306 path answers with the 302 to the error page.
//!
//! One machine gets roughly 80 requests per 5 minutes from the real service; that budget is why
//! several nodes, each polling from its own address, exist at all (issue 13). To test them the
//! simulator must tell clients apart by address: Linux routes the whole of `127.0.0.0/8` to the
//! loopback interface, so a simulator listening on `127.0.0.1` sees a client bound to `127.0.0.3`
//! as `127.0.0.3`. The window slides over the simulator's clock (so `POST /sim/advance` moves
//! it); refused requests do not count against it, so a client that backs off recovers after one
//! window. Only `/otn/…` paths (12306's) are limited: the control API and the Juhe side are not.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::IpAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// At most `requests` 12306 requests per `window` from one client address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddressLimit {
    pub requests: u32,
    pub window: Duration,
}

/// What one client address did (`GET /sim/stats` → `peers`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerStats {
    /// Requests answered normally (any path but `/sim/…`).
    pub requests: u64,
    /// 12306 requests refused by the address limit (302 to the error page).
    pub throttled: u64,
}

/// The limiter's memory: when each address's admitted requests arrived, on the simulator clock.
#[derive(Debug, Default)]
pub(super) struct AddressBook {
    limit: Option<AddressLimit>,
    admitted: HashMap<IpAddr, VecDeque<Duration>>,
}

impl AddressBook {
    /// Sets (or with `None` lifts) the limit; the addresses' history starts afresh.
    pub(super) fn set_limit(&mut self, limit: Option<AddressLimit>) {
        self.limit = limit.filter(|l| l.requests > 0);
        self.admitted.clear();
    }

    pub(super) fn limit(&self) -> Option<AddressLimit> {
        self.limit
    }

    /// Whether a 12306 request from `peer` at simulator time `now` is served.
    pub(super) fn admit(&mut self, peer: IpAddr, now: Duration) -> bool {
        let Some(limit) = self.limit else {
            return true;
        };
        let times = self.admitted.entry(peer).or_default();
        while times
            .front()
            .is_some_and(|&t| now.saturating_sub(t) >= limit.window)
        {
            times.pop_front();
        }
        if times.len() >= limit.requests as usize {
            return false;
        }
        times.push_back(now);
        true
    }
}

/// Counts a request in `peers`.
pub(super) fn count(peers: &mut BTreeMap<String, PeerStats>, peer: IpAddr, admitted: bool) {
    let stats = peers.entry(peer.to_string()).or_default();
    if admitted {
        stats.requests += 1;
    } else {
        stats.throttled += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn each_address_has_its_own_budget_and_it_refills_as_the_window_slides() {
        let mut book = AddressBook::default();
        book.set_limit(Some(AddressLimit {
            requests: 2,
            window: at(60),
        }));
        let (a, b): (IpAddr, IpAddr) = ("127.0.0.2".parse().unwrap(), "127.0.0.3".parse().unwrap());
        assert!(book.admit(a, at(0)));
        assert!(book.admit(a, at(10)));
        assert!(!book.admit(a, at(20)), "third within the window");
        assert!(book.admit(b, at(20)), "another address is not affected");
        assert!(!book.admit(a, at(59)));
        assert!(book.admit(a, at(60)), "the first request left the window");
        assert!(!book.admit(a, at(61)));
        assert!(book.admit(a, at(70)));
    }

    #[test]
    fn without_a_limit_everything_is_admitted() {
        let mut book = AddressBook::default();
        let a: IpAddr = "127.0.0.2".parse().unwrap();
        assert!((0..1000).all(|i| book.admit(a, at(i))));
        book.set_limit(Some(AddressLimit {
            requests: 0,
            window: at(60),
        }));
        assert_eq!(book.limit(), None, "a limit of 0 requests means no limit");
    }
}
