//! 候补 (waitlist) orders: what changed since the last poll, and which email that deserves (the
//! email itself is written in [`crate::notify::waitlist`]). Pure: no I/O, no clock (the caller
//! passes `now`), so every transition is covered by unit tests.
//!
//! The rules, in the spirit of the seat alerts: the daemon keeps a [`WaitlistSnapshot`] (JSON) per
//! 12306 account, writes a history row only when [`WaitlistDecision::changed`], and sends at most
//! **one email per poll**, listing every [`WaitlistReason`] that poll found. The payment reminder
//! fires once per deadline (`loseTime`), inside the `remind_before` window and never after it. A
//! logged-out session is reported once per cookie (by fingerprint), then stays quiet until the
//! user puts a different cookie in place.
//!
//! Two deadlines matter and are never confused (protocol doc §5.1): `loseTime` ends the window to
//! pay the deposit (支付截止), `realize_limit_time` is when the waitlist gives up (兑现截止).

use std::time::Duration;

use chrono::{DateTime, FixedOffset, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::rail::after_nate::{QueueAnswer, WaitlistNeed, WaitlistOrder};

/// Default for "remind this long before the payment deadline".
pub const DEFAULT_REMIND_BEFORE: Duration = Duration::from_secs(10 * 60);

/// A 候补 order's `status_code`, as 12306's dictionary lists them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum WaitlistStatus {
    /// 00 排队中
    Queued,
    /// 01 待支付: the deposit is due before `loseTime`.
    AwaitingPayment,
    /// 04 待兑现
    AwaitingFulfilment,
    /// 05 已退单
    Withdrawn,
    /// 06 已退单(自动退单)
    WithdrawnAutomatically,
    /// 07 兑现成功
    Fulfilled,
    /// A code the dictionary does not list.
    Unknown(String),
}

impl WaitlistStatus {
    pub fn parse(code: &str) -> WaitlistStatus {
        match code.trim() {
            "00" => WaitlistStatus::Queued,
            "01" => WaitlistStatus::AwaitingPayment,
            "04" => WaitlistStatus::AwaitingFulfilment,
            "05" => WaitlistStatus::Withdrawn,
            "06" => WaitlistStatus::WithdrawnAutomatically,
            "07" => WaitlistStatus::Fulfilled,
            other => WaitlistStatus::Unknown(other.to_string()),
        }
    }

    /// The status of `order`.
    pub fn of(order: &WaitlistOrder) -> WaitlistStatus {
        WaitlistStatus::parse(&order.status_code)
    }

    /// The wire code.
    pub fn code(&self) -> &str {
        match self {
            WaitlistStatus::Queued => "00",
            WaitlistStatus::AwaitingPayment => "01",
            WaitlistStatus::AwaitingFulfilment => "04",
            WaitlistStatus::Withdrawn => "05",
            WaitlistStatus::WithdrawnAutomatically => "06",
            WaitlistStatus::Fulfilled => "07",
            WaitlistStatus::Unknown(c) => c,
        }
    }

    /// The dictionary's wording, for when 12306 sends none.
    pub fn name_zh(&self) -> &'static str {
        match self {
            WaitlistStatus::Queued => "排队中",
            WaitlistStatus::AwaitingPayment => "待支付",
            WaitlistStatus::AwaitingFulfilment => "待兑现",
            WaitlistStatus::Withdrawn => "已退单",
            WaitlistStatus::WithdrawnAutomatically => "已退单(自动退单)",
            WaitlistStatus::Fulfilled => "兑现成功",
            WaitlistStatus::Unknown(_) => "未知状态",
        }
    }

    /// The order can no longer change (退单, 自动退单, 兑现成功).
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            WaitlistStatus::Withdrawn | WaitlistStatus::WithdrawnAutomatically | WaitlistStatus::Fulfilled
        )
    }
}

/// 12306's wording of the order's status, or the dictionary's when it sent none.
pub fn status_name(order: &WaitlistOrder) -> String {
    match order.status_name.trim() {
        "" => WaitlistStatus::of(order).name_zh().to_string(),
        name => name.to_string(),
    }
}

/// What the daemon persists between polls (serde JSON), one per 12306 account.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitlistSnapshot {
    /// The last order seen; kept while the session is expired (we then know nothing newer).
    pub order: Option<WaitlistOrder>,
    /// Fingerprint of the cookie we already reported as expired; `None` = session working.
    pub session_expired_for: Option<String>,
    /// The payment deadline (`loseTime`) a reminder was already sent for.
    pub reminded_for: Option<DateTime<FixedOffset>>,
}

/// A status as both code and 12306's wording.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusLabel {
    pub code: String,
    pub name: String,
}

/// Why an email is sent. One poll's reasons all go into one email.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum WaitlistReason {
    /// An order we had not seen (first poll, or a different `reserve_no`).
    NewOrder,
    StatusChanged {
        from: StatusLabel,
        to: StatusLabel,
    },
    /// The queue of one train + seat moved (`queue_info`, or the level when there is no text).
    QueueChanged {
        train: String,
        date: Option<NaiveDate>,
        seat: String,
        from: String,
        to: String,
    },
    /// The order just became (or was first seen as) 待支付.
    PaymentDue,
    /// Still 待支付 and the deadline is within `remind_before`.
    PaymentReminder,
    /// The order is no longer listed: fulfilled or cancelled, 12306 does not say which.
    OrderGone,
    /// The cookie no longer logs in; `why` is how we could tell.
    SessionExpired {
        why: String,
    },
    /// A working session again after [`WaitlistReason::SessionExpired`].
    SessionRestored,
}

impl std::fmt::Display for StatusLabel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.code, self.name)
    }
}

/// One line for logs: `status 00 排队中 → 01 待支付`, never the Rust structure.
impl std::fmt::Display for WaitlistReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WaitlistReason::NewOrder => f.write_str("new order"),
            WaitlistReason::StatusChanged { from, to } => write!(f, "status {from} → {to}"),
            WaitlistReason::QueueChanged {
                train,
                seat,
                date,
                from,
                to,
            } => {
                let date = date.map(|d| format!(" {d}")).unwrap_or_default();
                write!(f, "queue {train}{date} {seat}: {from} → {to}")
            }
            WaitlistReason::PaymentDue => f.write_str("deposit due"),
            WaitlistReason::PaymentReminder => f.write_str("deposit reminder"),
            WaitlistReason::OrderGone => f.write_str("order no longer listed"),
            WaitlistReason::SessionExpired { why } => write!(f, "12306 session expired ({why})"),
            WaitlistReason::SessionRestored => f.write_str("12306 session works again"),
        }
    }
}

/// The outcome of one poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitlistDecision {
    /// Persist this whatever `changed` says (it also carries reminder bookkeeping).
    pub snapshot: WaitlistSnapshot,
    /// The order or the session state changed: write a history row.
    pub changed: bool,
    /// Empty = no email; otherwise exactly one email giving all of these.
    pub reasons: Vec<WaitlistReason>,
}

/// Compares one answer of `afterNateOrder/queryQueue` with the previous snapshot.
///
/// `cookie_fingerprint` identifies the cookie used (see `rail::after_nate::load_cookie`); errors
/// such as throttling are not answers and must not be passed here (nothing is known then).
pub fn decide(
    prev: Option<&WaitlistSnapshot>,
    answer: &QueueAnswer,
    cookie_fingerprint: &str,
    now: DateTime<FixedOffset>,
    remind_before: Duration,
) -> WaitlistDecision {
    let empty = WaitlistSnapshot::default();
    let p = prev.unwrap_or(&empty);
    let order = match answer {
        QueueAnswer::SessionExpired(why) => {
            let mut snapshot = p.clone();
            if p.session_expired_for.as_deref() == Some(cookie_fingerprint) {
                return WaitlistDecision {
                    snapshot,
                    changed: false,
                    reasons: Vec::new(),
                };
            }
            snapshot.session_expired_for = Some(cookie_fingerprint.to_string());
            return WaitlistDecision {
                snapshot,
                changed: prev.is_none() || p.session_expired_for.is_none(),
                reasons: vec![WaitlistReason::SessionExpired { why: why.clone() }],
            };
        }
        QueueAnswer::NoOrder => None,
        QueueAnswer::Order(o) => Some(o),
    };

    let mut reasons = Vec::new();
    if p.session_expired_for.is_some() {
        reasons.push(WaitlistReason::SessionRestored);
    }
    reasons.extend(order_reasons(p.order.as_ref(), order));

    let mut reminded_for = p.reminded_for;
    if let Some(o) = order
        && WaitlistStatus::of(o) == WaitlistStatus::AwaitingPayment
        && let Some(lose) = o.lose_time
        && reminded_for != Some(lose)
        && in_reminder_window(now, lose, remind_before)
    {
        // A "please pay" email sent inside the window already is the reminder.
        if !reasons.contains(&WaitlistReason::PaymentDue) {
            reasons.push(WaitlistReason::PaymentReminder);
        }
        reminded_for = Some(lose);
    }

    let snapshot = WaitlistSnapshot {
        order: order.cloned(),
        session_expired_for: None,
        reminded_for,
    };
    let changed =
        prev.is_none() || snapshot.order != p.order || snapshot.session_expired_for != p.session_expired_for;
    WaitlistDecision {
        snapshot,
        changed,
        reasons,
    }
}

/// What changed between the order seen before and the one seen now.
fn order_reasons(old: Option<&WaitlistOrder>, new: Option<&WaitlistOrder>) -> Vec<WaitlistReason> {
    let mut reasons = Vec::new();
    let paying = |o: &WaitlistOrder| WaitlistStatus::of(o) == WaitlistStatus::AwaitingPayment;
    match (old, new) {
        (None, None) => {}
        (Some(old), None) => {
            // A final status was already reported; its disappearance says nothing new.
            if !WaitlistStatus::of(old).is_final() {
                reasons.push(WaitlistReason::OrderGone);
            }
        }
        (Some(old), Some(new)) if old.reserve_no == new.reserve_no => {
            if old.status_code != new.status_code {
                reasons.push(WaitlistReason::StatusChanged {
                    from: label(old),
                    to: label(new),
                });
                if paying(new) {
                    reasons.push(WaitlistReason::PaymentDue);
                }
            }
            reasons.extend(queue_reasons(old, new));
        }
        (_, Some(new)) => {
            reasons.push(WaitlistReason::NewOrder);
            if paying(new) {
                reasons.push(WaitlistReason::PaymentDue);
            }
        }
    }
    reasons
}

/// The queues (per train, date and seat) that moved.
fn queue_reasons(old: &WaitlistOrder, new: &WaitlistOrder) -> Vec<WaitlistReason> {
    new.needs
        .iter()
        .filter_map(|n| {
            let o = old.needs.iter().find(|o| same_need(o, n))?;
            (o.queue_level != n.queue_level || o.queue_info != n.queue_info).then(|| {
                WaitlistReason::QueueChanged {
                    train: n.board_train_code.clone(),
                    date: n.train_date,
                    seat: n.seat_name.clone(),
                    from: queue_label(o),
                    to: queue_label(n),
                }
            })
        })
        .collect()
}

fn in_reminder_window(now: DateTime<FixedOffset>, lose: DateTime<FixedOffset>, before: Duration) -> bool {
    let before = chrono::Duration::from_std(before).unwrap_or(chrono::Duration::MAX);
    let opens = lose.checked_sub_signed(before).unwrap_or(lose);
    now >= opens && now < lose
}

fn same_need(a: &WaitlistNeed, b: &WaitlistNeed) -> bool {
    a.board_train_code == b.board_train_code && a.train_date == b.train_date && a.seat_name == b.seat_name
}

fn label(o: &WaitlistOrder) -> StatusLabel {
    StatusLabel {
        code: o.status_code.clone(),
        name: status_name(o),
    }
}

/// How the queue of one need reads: 12306's `queue_info`, else its level, else 未知.
pub fn queue_label(n: &WaitlistNeed) -> String {
    match (n.queue_info.trim(), n.queue_level.trim()) {
        ("", "") => "未知".to_string(),
        ("", level) => format!("排队等级{level}"),
        (info, _) => info.to_string(),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    //! Fixtures shared with the rendering tests ([`crate::notify::waitlist`]).

    use super::*;
    use crate::rail::after_nate::{decode_queue, tests::seed_body};
    use chrono::TimeZone;

    pub(crate) const FP: &str = "0123456789abcdef";
    pub(crate) const BASE: &str = "https://kyfw.12306.cn";

    pub(crate) fn seed() -> WaitlistOrder {
        match decode_queue(&seed_body()).unwrap() {
            QueueAnswer::Order(o) => o,
            other => panic!("{other:?}"),
        }
    }

    pub(crate) fn with_status(code: &str, name: &str) -> WaitlistOrder {
        let mut o = seed();
        o.status_code = code.into();
        o.status_name = name.into();
        o
    }

    pub(crate) fn at(h: u32, m: u32, s: u32) -> DateTime<FixedOffset> {
        FixedOffset::east_opt(8 * 3600)
            .unwrap()
            .with_ymd_and_hms(2020, 3, 23, h, m, s)
            .unwrap()
    }

    /// Long before the seed's payment deadline (15:00:37).
    pub(crate) fn early() -> DateTime<FixedOffset> {
        at(14, 31, 0)
    }

    pub(crate) fn poll(
        prev: Option<&WaitlistSnapshot>,
        answer: QueueAnswer,
        now: DateTime<FixedOffset>,
    ) -> WaitlistDecision {
        decide(prev, &answer, FP, now, DEFAULT_REMIND_BEFORE)
    }

    pub(crate) fn seen(o: WaitlistOrder) -> WaitlistSnapshot {
        WaitlistSnapshot {
            order: Some(o),
            ..Default::default()
        }
    }

    #[test]
    fn reasons_read_as_words_in_logs_not_as_rust_structures() {
        let label = |code: &str, name: &str| StatusLabel {
            code: code.into(),
            name: name.into(),
        };
        let reasons = [
            WaitlistReason::StatusChanged {
                from: label("00", "排队中"),
                to: label("01", "待支付"),
            },
            WaitlistReason::QueueChanged {
                train: "G105".into(),
                date: NaiveDate::from_ymd_opt(2026, 12, 5),
                seat: "商务座".into(),
                from: "候补人数中等".into(),
                to: "候补人数较少".into(),
            },
        ];
        let text: Vec<String> = reasons.iter().map(ToString::to_string).collect();
        assert_eq!(
            text,
            [
                "status 00 排队中 → 01 待支付",
                "queue G105 2026-12-05 商务座: 候补人数中等 → 候补人数较少"
            ]
        );
    }

    #[test]
    fn first_order_seen_is_one_email_with_new_order_and_payment_due() {
        let d = poll(None, QueueAnswer::Order(seed()), early());
        assert!(d.changed);
        assert_eq!(
            d.reasons,
            vec![WaitlistReason::NewOrder, WaitlistReason::PaymentDue]
        );
        assert_eq!(
            d.snapshot.order.as_ref().unwrap().reserve_no,
            "E87000007466000022"
        );
    }

    #[test]
    fn unchanged_poll_sends_nothing_and_writes_no_history() {
        let prev = seen(seed());
        let d = poll(Some(&prev), QueueAnswer::Order(seed()), early());
        assert!(!d.changed);
        assert!(d.reasons.is_empty());
        assert_eq!(d.snapshot, prev);
        let none = WaitlistSnapshot::default();
        let d = poll(Some(&none), QueueAnswer::NoOrder, early());
        assert!(!d.changed && d.reasons.is_empty());
    }

    #[test]
    fn queuing_to_awaiting_payment_is_one_email_with_status_and_payment() {
        let prev = seen(with_status("00", "排队中"));
        let d = poll(Some(&prev), QueueAnswer::Order(seed()), early());
        assert!(d.changed);
        assert_eq!(
            d.reasons,
            vec![
                WaitlistReason::StatusChanged {
                    from: StatusLabel {
                        code: "00".into(),
                        name: "排队中".into()
                    },
                    to: StatusLabel {
                        code: "01".into(),
                        name: "待支付".into()
                    },
                },
                WaitlistReason::PaymentDue
            ]
        );
    }

    #[test]
    fn each_later_status_change_is_one_email_naming_both_statuses() {
        for (from, to) in [
            (("01", "待支付"), ("04", "待兑现")),
            (("04", "待兑现"), ("07", "兑现成功")),
            (("04", "待兑现"), ("05", "已退单")),
            (("04", "待兑现"), ("06", "已退单")),
            (("04", "待兑现"), ("08", "")),
        ] {
            let prev = seen(with_status(from.0, from.1));
            let d = poll(Some(&prev), QueueAnswer::Order(with_status(to.0, to.1)), early());
            assert!(d.changed);
            assert_eq!(d.reasons.len(), 1, "{:?}", d.reasons);
            assert!(
                matches!(&d.reasons[0], WaitlistReason::StatusChanged { from: f, to: t }
                    if f.code == from.0 && t.code == to.0 && !t.name.is_empty()),
                "{:?}",
                d.reasons
            );
        }
    }

    #[test]
    fn a_different_reserve_no_is_a_new_order() {
        let prev = seen(with_status("07", "兑现成功"));
        let mut other = with_status("00", "排队中");
        other.reserve_no = "E99".into();
        let d = poll(Some(&prev), QueueAnswer::Order(other), early());
        assert_eq!(d.reasons, vec![WaitlistReason::NewOrder]);
    }

    #[test]
    fn reminder_fires_once_inside_the_window_and_never_after_the_deadline() {
        let prev = seen(seed());
        // 14:50:36 is more than 10 minutes before 15:00:37.476: too early.
        let d = poll(Some(&prev), QueueAnswer::Order(seed()), at(14, 50, 36));
        assert!(d.reasons.is_empty());
        let d = poll(Some(&prev), QueueAnswer::Order(seed()), at(14, 52, 0));
        assert_eq!(d.reasons, vec![WaitlistReason::PaymentReminder]);
        assert!(!d.changed, "a reminder is not a change of the order");
        assert_eq!(d.snapshot.reminded_for, seed().lose_time);
        let again = poll(Some(&d.snapshot), QueueAnswer::Order(seed()), at(14, 55, 0));
        assert!(again.reasons.is_empty());
        // After the deadline no reminder, even if none was sent.
        let late = poll(Some(&prev), QueueAnswer::Order(seed()), at(15, 1, 0));
        assert!(late.reasons.is_empty());
    }

    #[test]
    fn a_new_deadline_gets_its_own_reminder() {
        let mut reminded = seen(seed());
        reminded.reminded_for = seed().lose_time;
        let mut later = seed();
        later.lose_time = Some(at(15, 30, 0));
        let d = poll(Some(&reminded), QueueAnswer::Order(later.clone()), at(15, 25, 0));
        assert!(d.changed);
        assert_eq!(d.reasons, vec![WaitlistReason::PaymentReminder]);
        assert_eq!(d.snapshot.reminded_for, later.lose_time);
    }

    #[test]
    fn payment_due_inside_the_window_counts_as_the_reminder() {
        let prev = seen(with_status("00", "排队中"));
        let d = poll(Some(&prev), QueueAnswer::Order(seed()), at(14, 55, 0));
        assert_eq!(d.reasons.len(), 2);
        assert!(!d.reasons.contains(&WaitlistReason::PaymentReminder));
        let next = poll(Some(&d.snapshot), QueueAnswer::Order(seed()), at(14, 56, 0));
        assert!(next.reasons.is_empty());
    }

    #[test]
    fn snapshot_round_trips_through_json() {
        let d = poll(None, QueueAnswer::Order(seed()), at(14, 52, 0));
        let json = serde_json::to_string(&d.snapshot).unwrap();
        let back: WaitlistSnapshot = serde_json::from_str(&json).unwrap();
        assert_eq!(back, d.snapshot);
    }
}
