//! 抢票 grab orders, the pure part: what to order from Juhe, and what each state change means.
//!
//! Money and real tickets are at stake, so everything that can be decided without I/O is decided
//! here and tested: the `outOrderNo` (the idempotency key, stored before `createOrder` is sent),
//! the `createOrder` parameters built from the watch and the Juhe search that found the train
//! (queryKey, station names and date must come from that one search), the rules Juhe enforces
//! (≥ 3 h before departure, ≤ 5 passengers, no student tickets), and where an order stands
//! ([`GrabState`], with the one definition of "settled" and of "ends grabbing"). What each Juhe
//! answer means is decided in [`crate::decide::grab`], the emails are written in
//! [`crate::notify::order`], and the daemon (`daemon::grab`) does the calls and the storage.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::config;
use crate::juhe::{
    CreateOrder, JuhePassenger, JuheTrain, OrderDetail, OrderStatus, SearchResult, TicketState, msg_code_text,
};
use crate::watchlist::{GrabSpec, IdType, JuheChoice, Watch};

/// Where a grab order stands: ours before and after Juhe knows it, or Juhe's `orderStatus`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum GrabState {
    /// The outOrderNo is stored; `createOrder` was sent but not confirmed.
    Intent,
    /// Juhe's status: N B D (grabbing), F (issued), U (failed), O (expired), C (cancelled),
    /// T (refunded), E (changed), or a letter the dictionary does not list.
    Juhe(OrderStatus),
    /// No order: Juhe refused it, or yupiao gave the intent up.
    Abandoned,
}

impl GrabState {
    /// From the stored text: `intent`, `abandoned`, or Juhe's letter.
    pub fn parse(code: &str) -> GrabState {
        match code {
            "intent" => GrabState::Intent,
            "abandoned" => GrabState::Abandoned,
            letter => GrabState::Juhe(OrderStatus::parse(letter)),
        }
    }

    /// The stored text (inverse of [`GrabState::parse`]).
    pub fn code(&self) -> &str {
        match self {
            GrabState::Intent => "intent",
            GrabState::Abandoned => "abandoned",
            GrabState::Juhe(s) => s.code(),
        }
    }

    /// Nothing more happens to the order by itself: it is looked at again only when the user asks
    /// (a refund) or Juhe pushes. Issued (F — it can still be refunded, on request), failed,
    /// expired, cancelled, refunded, changed, and abandoned orders.
    pub fn is_settled(&self) -> bool {
        match self {
            GrabState::Intent => false,
            GrabState::Abandoned => true,
            GrabState::Juhe(s) => matches!(
                s,
                OrderStatus::Issued
                    | OrderStatus::Failed
                    | OrderStatus::Expired
                    | OrderStatus::Cancelled
                    | OrderStatus::Refunded
                    | OrderStatus::Changed
            ),
        }
    }

    /// The watch never orders again for that date by itself: a ticket was issued (F, or 改签 E),
    /// or the user gave it back (T) or cancelled (C). Failed, expired and abandoned orders do not
    /// end grabbing: seats appearing again place a new one.
    pub fn ends_grabbing(&self) -> bool {
        matches!(
            self,
            GrabState::Juhe(
                OrderStatus::Issued | OrderStatus::Changed | OrderStatus::Refunded | OrderStatus::Cancelled
            )
        )
    }

    /// For people: `intent（已记录，等待聚合确认）`, `D 抢票中`.
    pub fn label(&self) -> String {
        match self {
            GrabState::Intent => "intent（已记录，等待聚合确认）".into(),
            GrabState::Abandoned => "abandoned（未下单）".into(),
            GrabState::Juhe(s) => format!("{} {}", s.code(), s.label_zh()),
        }
    }
}

/// Juhe refuses to grab for trains leaving sooner than this (msgCode 216).
pub const MIN_LEAD: TimeDelta = TimeDelta::hours(3);

/// A new idempotency key: `YP` + Beijing time to the second + 8 base-36 characters of `entropy`
/// (24 letters/digits, inside Juhe's 6–32). Pure: the caller passes the randomness.
pub fn new_out_order_no(now: DateTime<FixedOffset>, entropy: u64) -> String {
    const DIGITS: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut tail = String::new();
    let mut e = entropy;
    for _ in 0..8 {
        tail.push(DIGITS[(e % 36) as usize] as char);
        e /= 36;
    }
    format!("YP{}{}", now.format("%y%m%d%H%M%S"), tail)
}

/// What an order is, without secrets: stored as the order's summary and shown by `orders`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderSummary {
    pub watch: String,
    pub date: NaiveDate,
    /// Main train first.
    pub trains: Vec<String>,
    /// Juhe seat codes, main class first.
    pub seats: Vec<String>,
    /// Chinese seat names, same order.
    pub seat_names: Vec<String>,
    pub from_station: String,
    pub to_station: String,
    /// Main train's departure, Beijing time.
    pub departs_at: NaiveDateTime,
    pub close_time: NaiveDateTime,
    pub accept_no_seat: bool,
    /// `张三 (成人, 身份证 1101***********514)`.
    pub passengers: Vec<String>,
    pub ticket_model: u8,
}

/// Why no order is placed (said in the log, `status` and an email).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GrabRefusal {
    #[error("Juhe's search does not list {0} on this date; no order placed")]
    TrainNotOffered(String),
    #[error(
        "{train} leaves at {departs}, less than 3 hours from now: Juhe refuses such orders (msgCode 216)"
    )]
    TooLate { train: String, departs: NaiveDateTime },
    #[error("the grab deadline {0} is already past or leaves no time to grab")]
    DeadlinePassed(NaiveDateTime),
    #[error("[juhe] {0} is not set; Juhe needs it for every order")]
    MissingContact(&'static str),
    #[error("[juhe] ticket_model = 1 needs account_no and account_password (your 12306 account)")]
    MissingAccount,
    #[error("this watch is not a grab watch")]
    NotGrab,
}

/// `createOrder` parameters plus the summary to store.
#[derive(Debug, Clone)]
pub struct GrabPlan {
    pub create: CreateOrder,
    pub summary: OrderSummary,
}

/// Juhe's `idCardType` for a document type. The create page numbers from 0 (身份证 0, 护照 1,
/// 台胞证 2, 港澳通行证 3), the data dictionary from 1; `[juhe] id_card_type_for_resident_id`
/// says which numbering this account's Juhe uses, and the others follow it.
pub fn id_card_type(id: IdType, resident_code: &str) -> String {
    let base: u32 = resident_code.trim().parse().unwrap_or(1);
    let offset = match id {
        IdType::ResidentId => 0,
        IdType::Passport => 1,
        IdType::TaiwanPermit => 2,
        IdType::HkMacauPermit => 3,
    };
    (base + offset).to_string()
}

fn parse_hhmm(s: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(s.trim(), "%H:%M").ok()
}

/// Builds the order for (`watch`, `date`) from the Juhe `search` that lists its trains (pure).
pub fn plan_order(
    watch: &Watch,
    date: NaiveDate,
    search: &SearchResult,
    juhe: &config::Juhe,
    out_order_no: &str,
    now: DateTime<FixedOffset>,
) -> Result<GrabPlan, GrabRefusal> {
    let grab = watch.grab.as_ref().ok_or(GrabRefusal::NotGrab)?;
    let (choice, main) = choose_train(watch, search)?;
    let departs_at = date.and_time(parse_hhmm(&main.from_time).unwrap_or(NaiveTime::MIN));
    let close_time = deadline(grab, main, departs_at, now)?;
    let cellphone = contact(juhe)?;
    let trains: Vec<String> = choice.train_no.split('|').map(str::to_string).collect();
    let seats: Vec<String> = choice.seat_class_code.split('|').map(str::to_string).collect();
    let depart_date = if trains.len() > 1 {
        departs_at.format("%Y-%m-%d %H:%M").to_string()
    } else {
        date.format("%Y-%m-%d").to_string()
    };
    let summary = OrderSummary {
        watch: watch.name.clone(),
        date,
        trains: trains.clone(),
        seats: seats.clone(),
        seat_names: watch
            .seats
            .iter()
            .filter(|s| s.juhe_code().is_some())
            .map(|s| s.name().to_string())
            .collect(),
        from_station: main.from_station.clone(),
        to_station: main.to_station.clone(),
        departs_at,
        close_time,
        accept_no_seat: grab.accept_no_seat,
        passengers: masked_passengers(grab),
        ticket_model: juhe.ticket_model,
    };
    let create = CreateOrder {
        query_key: search.query_key.clone(),
        out_order_no: out_order_no.to_string(),
        ticket_model: juhe.ticket_model,
        account_no: juhe.account_no.clone(),
        account_pwd: juhe.account_password.clone(),
        train_no: trains,
        seat_class_code: seats,
        main_train_no: choice.main_train_no.clone(),
        main_seat_class: choice.main_seat_class.to_string(),
        from_station: main.from_station.clone(),
        to_station: main.to_station.clone(),
        depart_date,
        close_time,
        accept_no_seat: grab.accept_no_seat,
        person: juhe.person.clone(),
        cellphone,
        email: (!juhe.email.trim().is_empty()).then(|| juhe.email.clone()),
        passengers: juhe_passengers(grab, juhe),
    };
    Ok(GrabPlan { create, summary })
}

/// The trains to order (Juhe takes only trains of the search behind its queryKey) and the main
/// one as the search lists it.
fn choose_train<'s>(
    watch: &Watch,
    search: &'s SearchResult,
) -> Result<(JuheChoice, &'s JuheTrain), GrabRefusal> {
    let offered: Vec<&str> = search.trains.iter().map(|t| t.train_no.as_str()).collect();
    let wanted = watch
        .trains
        .iter()
        .find(|p| !p.prefix)
        .map(|p| p.text.clone())
        .unwrap_or_default();
    let choice = watch
        .juhe_choice(&offered)
        .ok_or_else(|| GrabRefusal::TrainNotOffered(wanted.clone()))?;
    let main = search
        .trains
        .iter()
        .find(|t| t.train_no.eq_ignore_ascii_case(&choice.main_train_no))
        .ok_or_else(|| GrabRefusal::TrainNotOffered(choice.main_train_no.clone()))?;
    Ok((choice, main))
}

/// The grab deadline, when the main train leaves late enough for Juhe to grab at all.
fn deadline(
    grab: &GrabSpec,
    main: &JuheTrain,
    departs_at: NaiveDateTime,
    now: DateTime<FixedOffset>,
) -> Result<NaiveDateTime, GrabRefusal> {
    let now_local = now.naive_local();
    if departs_at - now_local < MIN_LEAD {
        return Err(GrabRefusal::TooLate {
            train: main.train_no.clone(),
            departs: departs_at,
        });
    }
    let close_time = grab.close.deadline(departs_at);
    if close_time <= now_local {
        return Err(GrabRefusal::DeadlinePassed(close_time));
    }
    Ok(close_time)
}

/// The contact Juhe needs for every order (and the 12306 account for `ticket_model = 1`).
fn contact(juhe: &config::Juhe) -> Result<SecretString, GrabRefusal> {
    if juhe.person.trim().is_empty() {
        return Err(GrabRefusal::MissingContact("person"));
    }
    let cellphone = juhe
        .cellphone
        .clone()
        .ok_or(GrabRefusal::MissingContact("cellphone"))?;
    if cellphone.expose_secret().trim().is_empty() {
        return Err(GrabRefusal::MissingContact("cellphone"));
    }
    if juhe.ticket_model == 1 && (juhe.account_no.is_none() || juhe.account_password.is_none()) {
        return Err(GrabRefusal::MissingAccount);
    }
    Ok(cellphone)
}

/// The passengers as `createOrder` takes them (whole ID numbers, secret).
fn juhe_passengers(grab: &GrabSpec, juhe: &config::Juhe) -> Vec<JuhePassenger> {
    grab.passengers
        .iter()
        .map(|p| JuhePassenger {
            name: p.name.clone(),
            passenger_type: p.kind.juhe_code(),
            id_card_type: id_card_type(p.id_type, &juhe.id_card_type_for_resident_id),
            id_card_no: SecretString::from(p.id_no.expose().to_string()),
            birthday: p.birthday.format("%Y-%m-%d").to_string(),
        })
        .collect()
}

/// The passengers as the summary keeps them: `张三 (成人, 身份证 1101***********514)`.
fn masked_passengers(grab: &GrabSpec) -> Vec<String> {
    grab.passengers
        .iter()
        .map(|p| {
            format!(
                "{} ({}, {} {})",
                p.name,
                p.kind.name(),
                p.id_type.name(),
                p.id_no.masked()
            )
        })
        .collect()
}

/// What happened to an order, as the emails and the event history say it.
#[derive(Debug, Clone, PartialEq)]
pub enum OrderEvent {
    /// Juhe accepted `createOrder`.
    Created { order_no: String },
    /// Juhe refused `createOrder` for good.
    CreateRefused { reason: String },
    /// The order moved to a new Juhe status (D 抢票中, O 已过期, C 已取消…).
    Status { status: OrderStatus },
    /// 出票成功, with the issued view.
    Issued,
    /// 出票失败.
    Failed { reason: String },
    /// A passenger's ticket changed state (refund under way, refunded, refund refused).
    Ticket { passenger: String, state: TicketState },
}

impl OrderEvent {
    /// A short line for the event history.
    pub fn note(&self) -> String {
        match self {
            OrderEvent::Created { order_no } => format!("created (orderNo {order_no})"),
            OrderEvent::CreateRefused { reason } => format!("createOrder refused: {reason}"),
            OrderEvent::Status { status } => format!("{} {}", status.code(), status.label_zh()),
            OrderEvent::Issued => "F 出票成功".into(),
            OrderEvent::Failed { reason } => format!("U 出票失败: {reason}"),
            OrderEvent::Ticket { passenger, state } => format!("{passenger}: {}", state.label_zh()),
        }
    }
}

/// Juhe's reason for a failure, in words: its `failMsg`, or the msgCode table's text.
pub fn failure_reason(detail: &OrderDetail) -> String {
    let raw = detail.fail_msg.clone().unwrap_or_default();
    let trimmed = raw.trim();
    if let Some(text) = msg_code_text(trimmed) {
        return format!("{text}（{trimmed}）");
    }
    if trimmed.is_empty() {
        "聚合未说明原因".to_string()
    } else {
        trimmed.to_string()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    //! Fixtures shared by the tests of planning ([`super`]), deciding ([`crate::decide::grab`])
    //! and rendering ([`crate::notify::order`]).

    use std::collections::BTreeMap;

    use chrono::TimeZone as _;
    use secrecy::SecretString;
    use serde_json::json;

    use super::*;
    use crate::juhe::decode::decode_order_detail;
    use crate::juhe::{JuheTicket, JuheTrain};
    use crate::stations::StationTable;
    use crate::watchlist::{self, Watch};

    /// Checksum-valid (GB 11643), synthetic.
    pub(crate) const ID: &str = "110101199003074514";
    pub(crate) const ID_MASKED: &str = "1101***********514";

    pub(crate) fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 22).expect("date")
    }

    pub(crate) fn date() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, 1).expect("date")
    }

    pub(crate) fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").expect("time")
    }

    /// Beijing time.
    pub(crate) fn bj(s: &str) -> DateTime<FixedOffset> {
        FixedOffset::east_opt(8 * 3600)
            .expect("offset")
            .from_local_datetime(&at(s))
            .single()
            .expect("unambiguous")
    }

    pub(crate) fn now() -> DateTime<FixedOffset> {
        bj("2026-11-22 08:00")
    }

    /// One grab watch, 上海 → 常州 on [`date`], with `trains`, `seats` and `extra` keys verbatim.
    pub(crate) fn watch(trains: &str, seats: &str, extra: &str, passengers: &str) -> Watch {
        let text = format!(
            "[[watch]]\nname = \"回家\"\nfrom = \"上海\"\nto = \"常州\"\ndates = [\"2026-12-01\"]\ntrains = {trains}\nseats = {seats}\naction = \"grab\"\n{extra}\n{passengers}"
        );
        let (list, _) = watchlist::parse(&text, "watchlist.toml", today(), StationTable::embedded())
            .unwrap_or_else(|e| panic!("the test watch list is invalid: {e:#?}\n{text}"));
        list.watches.into_iter().next().expect("one watch")
    }

    pub(crate) fn zhang_san() -> String {
        format!("[[watch.passenger]]\nname = \"张三\"\nid_no = \"{ID}\"\n")
    }

    pub(crate) fn g8294() -> Watch {
        watch("[\"G8294\"]", "[\"二等座\"]", "", &zhang_san())
    }

    pub(crate) fn train(code: &str, from: &str, to: &str, from_time: &str) -> JuheTrain {
        let mut tickets = BTreeMap::new();
        for (code, name, price) in [("secondseat", "二等座", 91.0), ("firstseat", "一等座", 146.0)] {
            tickets.insert(
                code.to_string(),
                JuheTicket {
                    seat_name: Some(name.into()),
                    price: Some(price),
                    seat_state: 1,
                    seats: Some(3),
                },
            );
        }
        JuheTrain {
            train_no: code.into(),
            from_station: from.into(),
            to_station: to.into(),
            from_time: from_time.into(),
            to_time: None,
            run_minutes: None,
            book_state: 1,
            train_class: Some("GD".into()),
            tickets,
        }
    }

    pub(crate) fn search() -> SearchResult {
        SearchResult {
            query_key: "qk-0123456789abcdef".into(),
            trains: vec![
                train("G7001", "上海", "常州", "07:10"),
                train("G8294", "上海虹桥", "常州", "14:44"),
                train("G1", "上海虹桥", "北京南", "09:00"),
            ],
        }
    }

    pub(crate) fn juhe() -> config::Juhe {
        config::Juhe {
            person: "张三".into(),
            cellphone: Some(SecretString::from("13812345678")),
            ..config::Juhe::default()
        }
    }

    pub(crate) const OUT: &str = "YP261122080000ABCDEFGH";

    #[test]
    fn the_plan_carries_the_search_and_the_watch_exactly() {
        let plan = plan_order(&g8294(), date(), &search(), &juhe(), OUT, now()).expect("a plan");
        let c = &plan.create;
        assert_eq!(c.query_key, "qk-0123456789abcdef", "the queryKey of this search");
        assert_eq!(c.out_order_no, OUT);
        assert_eq!(c.ticket_model, 0);
        assert_eq!(c.train_no, vec!["G8294".to_string()]);
        assert_eq!(c.seat_class_code, vec!["secondseat".to_string()]);
        assert_eq!(c.main_train_no, "G8294");
        assert_eq!(c.main_seat_class, "secondseat");
        assert_eq!(
            (c.from_station.as_str(), c.to_station.as_str()),
            ("上海虹桥", "常州"),
            "station names as the search gave them, not as the watch wrote them"
        );
        assert_eq!(c.depart_date, "2026-12-01", "no alternatives: the date alone");
        assert_eq!(
            c.close_time,
            at("2026-12-01 11:44"),
            "default deadline: 3 h before departure"
        );
        assert!(!c.accept_no_seat);
        assert_eq!(c.person, "张三");
        assert_eq!(c.cellphone.expose_secret(), "13812345678");
        assert_eq!(c.email, None);
        assert_eq!(c.passengers.len(), 1);
        let p = &c.passengers[0];
        assert_eq!(p.name, "张三");
        assert_eq!(p.passenger_type, 1);
        assert_eq!(
            p.id_card_type, "1",
            "身份证 in the dictionary's numbering (default)"
        );
        assert_eq!(p.id_card_no.expose_secret(), ID, "Juhe needs the whole number");
        assert_eq!(p.birthday, "1990-03-07");

        let s = &plan.summary;
        assert_eq!(s.watch, "回家");
        assert_eq!(s.date, date());
        assert_eq!(s.trains, vec!["G8294".to_string()]);
        assert_eq!(s.seats, vec!["secondseat".to_string()]);
        assert_eq!(s.seat_names, vec!["二等座".to_string()]);
        assert_eq!(s.departs_at, at("2026-12-01 14:44"));
        assert_eq!(s.close_time, at("2026-12-01 11:44"));
        assert_eq!(s.passengers, vec![format!("张三 (成人, 身份证 {ID_MASKED})")]);
        let stored = serde_json::to_string(s).expect("serializes");
        assert!(
            !stored.contains(ID),
            "the stored summary holds no whole ID: {stored}"
        );
        assert!(!stored.contains("13812345678"), "nor the phone: {stored}");
    }

    #[test]
    fn alternatives_put_the_main_train_first_and_send_its_departure_time() {
        let w = watch(
            "[\"G8294\", \"G7001\"]",
            "[\"二等座\", \"一等座\"]",
            "accept_no_seat = false\nclose_time = \"6h\"\n",
            &zhang_san(),
        );
        let plan = plan_order(&w, date(), &search(), &juhe(), OUT, now()).expect("a plan");
        let c = &plan.create;
        assert_eq!(c.train_no, vec!["G8294".to_string(), "G7001".to_string()]);
        assert_eq!(
            create_param(c, "trainNo"),
            "G8294|G7001",
            "joined by | with the main train first"
        );
        assert_eq!(create_param(c, "seatClassCode"), "secondseat|firstseat");
        assert_eq!(c.main_train_no, "G8294");
        assert_eq!(c.main_seat_class, "secondseat");
        assert_eq!(
            c.depart_date, "2026-12-01 14:44",
            "with alternatives: the main train's departure"
        );
        assert_eq!(c.close_time, at("2026-12-01 08:44"), "close_time = \"6h\"");
        assert_eq!(
            plan.summary.seat_names,
            vec!["二等座".to_string(), "一等座".to_string()]
        );

        // The main train does not run: the first listed one that does becomes main.
        let mut only_g7001 = search();
        only_g7001.trains.retain(|t| t.train_no != "G8294");
        let plan = plan_order(&w, date(), &only_g7001, &juhe(), OUT, now()).expect("a plan");
        assert_eq!(plan.create.train_no, vec!["G7001".to_string()]);
        assert_eq!(plan.create.main_train_no, "G7001");
        assert_eq!(plan.create.depart_date, "2026-12-01", "a single train again");
        assert_eq!(plan.create.from_station, "上海");
        assert_eq!(plan.summary.departs_at, at("2026-12-01 07:10"));
    }

    fn create_param(c: &CreateOrder, name: &str) -> String {
        crate::juhe::create_params(c)
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
            .unwrap_or_else(|| panic!("no {name} parameter"))
    }

    #[test]
    fn id_card_types_follow_the_configured_numbering() {
        let dictionary = [
            (IdType::ResidentId, "1"),
            (IdType::Passport, "2"),
            (IdType::TaiwanPermit, "3"),
            (IdType::HkMacauPermit, "4"),
        ];
        for (t, code) in dictionary {
            assert_eq!(id_card_type(t, "1"), code, "{t} from 1");
        }
        let create_page = [
            (IdType::ResidentId, "0"),
            (IdType::Passport, "1"),
            (IdType::TaiwanPermit, "2"),
            (IdType::HkMacauPermit, "3"),
        ];
        for (t, code) in create_page {
            assert_eq!(id_card_type(t, "0"), code, "{t} from 0");
            assert_eq!(id_card_type(t, " 0 "), code, "{t} from 0, spaces trimmed");
        }
        assert_eq!(
            id_card_type(IdType::Passport, "junk"),
            "2",
            "unreadable: the dictionary's 1"
        );
    }

    #[test]
    fn passengers_are_mapped_in_order_with_either_numbering() {
        let people = format!(
            "{}[[watch.passenger]]\nname = \"JOHN SMITH\"\nid_type = \"护照\"\nid_no = \"E12345678\"\nbirthday = \"1985-06-15\"\n",
            zhang_san()
        );
        let w = watch("[\"G8294\"]", "[\"二等座\"]", "", &people);
        for (base, resident, passport) in [("1", "1", "2"), ("0", "0", "1")] {
            let j = config::Juhe {
                id_card_type_for_resident_id: base.into(),
                ..juhe()
            };
            let plan = plan_order(&w, date(), &search(), &j, OUT, now()).expect("a plan");
            let got: Vec<(String, u8, String, String, String)> = plan
                .create
                .passengers
                .iter()
                .map(|p| {
                    (
                        p.name.clone(),
                        p.passenger_type,
                        p.id_card_type.clone(),
                        p.id_card_no.expose_secret().to_string(),
                        p.birthday.clone(),
                    )
                })
                .collect();
            assert_eq!(
                got,
                vec![
                    ("张三".into(), 1, resident.into(), ID.into(), "1990-03-07".into()),
                    (
                        "JOHN SMITH".into(),
                        1,
                        passport.into(),
                        "E12345678".into(),
                        "1985-06-15".into()
                    ),
                ],
                "base {base}"
            );
        }
        let json = create_param(
            &plan_order(&w, date(), &search(), &juhe(), OUT, now())
                .expect("a plan")
                .create,
            "passengers",
        );
        let v: serde_json::Value = serde_json::from_str(&json).expect("passengers is JSON");
        assert_eq!(v[0]["passengerName"], "张三");
        assert_eq!(v[0]["passengerType"], "1");
        assert_eq!(v[0]["idCardType"], "1");
        assert_eq!(v[0]["idCardNo"], ID);
        assert_eq!(v[1]["idCardType"], "2");
    }

    #[test]
    fn an_absolute_deadline_later_than_three_hours_before_departure_is_brought_forward() {
        // watchlist::CloseTime::deadline: "an absolute time later than MIN_CLOSE_BEFORE before
        // departure is brought forward to it: Juhe stops grabbing then anyway". A deadline
        // after departure would even make Juhe refuse the order (closeTime must be before it).
        for written in ["2026-12-01 14:00", "2026-12-01 20:00"] {
            let w = watch(
                "[\"G8294\"]",
                "[\"二等座\"]",
                &format!("close_time = \"{written}\"\n"),
                &zhang_san(),
            );
            let plan = plan_order(&w, date(), &search(), &juhe(), OUT, now()).expect("a plan");
            assert_eq!(
                plan.create.close_time,
                at("2026-12-01 11:44"),
                "close_time = {written:?} for a train leaving at 14:44"
            );
        }
        let early = watch(
            "[\"G8294\"]",
            "[\"二等座\"]",
            "close_time = \"2026-11-30 18:00\"\n",
            &zhang_san(),
        );
        let plan = plan_order(&early, date(), &search(), &juhe(), OUT, now()).expect("a plan");
        assert_eq!(
            plan.create.close_time,
            at("2026-11-30 18:00"),
            "earlier ones stay"
        );
    }

    #[test]
    fn orders_juhe_would_refuse_are_not_planned() {
        let w = g8294();
        // 14:44 departure: 11:45 is 2 h 59 min before it.
        let refusal =
            plan_order(&w, date(), &search(), &juhe(), OUT, bj("2026-12-01 11:45")).expect_err("too late");
        assert_eq!(
            refusal,
            GrabRefusal::TooLate {
                train: "G8294".into(),
                departs: at("2026-12-01 14:44")
            }
        );
        assert!(refusal.to_string().contains("216"), "{refusal}");
        assert!(
            plan_order(&w, date(), &search(), &juhe(), OUT, bj("2026-12-01 11:43")).is_ok(),
            "3 h 1 min before departure is fine"
        );

        let early = watch(
            "[\"G8294\"]",
            "[\"二等座\"]",
            "close_time = \"2026-11-30 18:00\"\n",
            &zhang_san(),
        );
        assert_eq!(
            plan_order(&early, date(), &search(), &juhe(), OUT, bj("2026-11-30 18:30"))
                .expect_err("deadline passed"),
            GrabRefusal::DeadlinePassed(at("2026-11-30 18:00"))
        );

        let no_person = config::Juhe {
            person: "  ".into(),
            ..juhe()
        };
        assert_eq!(
            plan_order(&w, date(), &search(), &no_person, OUT, now()).expect_err("no person"),
            GrabRefusal::MissingContact("person")
        );
        for cellphone in [None, Some(SecretString::from(" "))] {
            let no_phone = config::Juhe { cellphone, ..juhe() };
            assert_eq!(
                plan_order(&w, date(), &search(), &no_phone, OUT, now()).expect_err("no phone"),
                GrabRefusal::MissingContact("cellphone")
            );
        }
        let own_account = config::Juhe {
            ticket_model: 1,
            ..juhe()
        };
        assert_eq!(
            plan_order(&w, date(), &search(), &own_account, OUT, now()).expect_err("no account"),
            GrabRefusal::MissingAccount
        );

        let mut elsewhere = search();
        elsewhere.trains.retain(|t| t.train_no != "G8294");
        assert_eq!(
            plan_order(&w, date(), &elsewhere, &juhe(), OUT, now()).expect_err("not offered"),
            GrabRefusal::TrainNotOffered("G8294".into())
        );

        let alert = {
            let text =
                "[[watch]]\nname = \"看看\"\nfrom = \"上海\"\nto = \"常州\"\ndates = [\"2026-12-01\"]\n";
            let (list, _) =
                watchlist::parse(text, "w.toml", today(), StationTable::embedded()).expect("valid");
            list.watches.into_iter().next().expect("one watch")
        };
        assert_eq!(
            plan_order(&alert, date(), &search(), &juhe(), OUT, now()).expect_err("alert watch"),
            GrabRefusal::NotGrab
        );
    }

    #[test]
    fn out_order_numbers_are_short_alphanumerics_that_differ_with_entropy() {
        let a = new_out_order_no(now(), 0);
        let b = new_out_order_no(now(), 1);
        let c = new_out_order_no(now(), u64::MAX);
        for no in [&a, &b, &c] {
            assert!((6..=32).contains(&no.len()), "{no}");
            assert!(no.chars().all(|ch| ch.is_ascii_alphanumeric()), "{no}");
            assert!(no.starts_with("YP261122080000"), "{no}");
        }
        assert_ne!(a, b);
        assert_ne!(b, c);
        assert_eq!(a, new_out_order_no(now(), 0), "pure: same inputs, same number");
        let many: std::collections::BTreeSet<String> = (0..1000u64)
            .map(|i| new_out_order_no(now(), i.wrapping_mul(0x9E37_79B9_7F4A_7C15)))
            .collect();
        assert_eq!(many.len(), 1000, "no collisions within one second");
    }

    /// A plain-view `orderDetail` (no tickets).
    pub(crate) fn plain(status: &str, fail_msg: &str) -> OrderDetail {
        decode_order_detail(
            &json!({
                "reason": "success",
                "error_code": 0,
                "result": {
                    "status": status,
                    "orderNo": "TFT0001",
                    "outOrderNo": OUT,
                    "trainNo": "G8294",
                    "fromStation": "上海虹桥",
                    "toStation": "常州",
                    "failMsg": fail_msg,
                    "passengers": [{"passengerName": "张三", "passengerType": 1, "certificateNo": ID_MASKED}],
                }
            })
            .to_string(),
        )
        .expect("decodes")
    }

    /// An issued-view `orderDetail` with one ticket in `ticket_state`.
    pub(crate) fn issued(order_state: &str, ticket_state: &str) -> OrderDetail {
        decode_order_detail(
            &json!({
                "reason": "success",
                "error_code": 0,
                "result": {
                    "orderNo": "TFT0001",
                    "outOrderNo": OUT,
                    "trainNo": "G8294",
                    "orderStateCode": order_state,
                    "orderPrice": "91.00",
                    "ticketNo": "E123456789",
                    "juheServiceFee": "8",
                    "passengers": [{
                        "passengerId": "623838773",
                        "passengerName": "张三",
                        "passengerType": "1",
                        "idType": "1",
                        "idCard": ID,
                        "seatClass": "secondseat",
                        "seatClassName": "二等座",
                        "seatNo": "07车厢,009号",
                        "pTicketNo": "E1234567891070009",
                        "ticketStateCode": ticket_state,
                        "ticketPrice": "91.00",
                    }],
                }
            })
            .to_string(),
        )
        .expect("decodes")
    }

    #[test]
    fn failure_reasons_come_from_fail_msg_or_the_msg_code_table() {
        assert_eq!(failure_reason(&plain("U", "209")), "该坐席已售完（209）");
        assert_eq!(
            failure_reason(&plain("U", " 308 ")),
            "乘客身份信息未通过验证（308）"
        );
        assert_eq!(failure_reason(&plain("U", "乘客信息有误")), "乘客信息有误");
        assert_eq!(failure_reason(&plain("U", "")), "聚合未说明原因");
    }

    pub(crate) fn summary() -> OrderSummary {
        plan_order(&g8294(), date(), &search(), &juhe(), OUT, now())
            .expect("a plan")
            .summary
    }

    #[test]
    fn settled_and_ends_grabbing_follow_the_order_states() {
        let all = [
            "intent",
            "N",
            "B",
            "D",
            "F",
            "U",
            "O",
            "C",
            "T",
            "E",
            "abandoned",
            "Z",
        ]
        .map(GrabState::parse);
        let codes = |f: fn(&GrabState) -> bool| -> Vec<String> {
            all.iter()
                .filter(|s| f(s))
                .map(|s| s.code().to_string())
                .collect()
        };
        assert_eq!(
            codes(GrabState::is_settled),
            ["F", "U", "O", "C", "T", "E", "abandoned"]
        );
        assert_eq!(codes(GrabState::ends_grabbing), ["F", "C", "T", "E"]);
        for s in &all {
            assert_eq!(&GrabState::parse(s.code()), s, "the stored text reads back");
        }
    }
}
