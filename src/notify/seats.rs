//! The 余票 alert: which train has which seats, when it runs, and where to book, in one glance.
//!
//! Rendering is pure: the caller passes the watch, the trains and the cycle's grouping in, so
//! every word an alert can say is covered by unit tests without a clock or a mail server. A grab
//! watch's note is written into both parts as they are built.

use std::fmt::Write as _;

use chrono::NaiveDate;

use super::grouping::GroupedAlert;
use super::render::{EmailContent, TD, booking_url, escape, html_open, long_date, month_day};
use crate::filter::{PLENTY, SeatMatch, TrainMatch};
use crate::watchlist::Watch;

/// Shared by the text and HTML parts so both say exactly the same thing.
const STALE_WARNING: &str = "余票数量仅供参考，变化很快，请尽快下单。";

/// The alert for one watch and one travel date. `trains` holds only the seats being alerted, in
/// the watch's priority order; the first seat of the first train is the best hit and leads the
/// subject.
pub fn render_seat_alert(
    watch: &Watch,
    date: NaiveDate,
    trains: &[TrainMatch],
    rail_url: &str,
) -> EmailContent {
    alert(watch, date, trains, rail_url, &[])
}

/// Where `watch`'s travellers book on `date`: 12306's query page for its route.
pub fn watch_booking_url(rail_url: &str, watch: &Watch, date: NaiveDate) -> String {
    booking_url(
        rail_url,
        &watch.from.name,
        &watch.from.telecode,
        &watch.to.name,
        &watch.to.telecode,
        date,
        watch.student,
    )
}

fn alert(
    watch: &Watch,
    date: NaiveDate,
    trains: &[TrainMatch],
    rail_url: &str,
    notes: &[String],
) -> EmailContent {
    let url = watch_booking_url(rail_url, watch, date);
    EmailContent {
        subject: alert_subject(watch, date, trains),
        text: alert_text(watch, date, trains, &url, notes),
        html: alert_html(watch, date, trains, &url, notes),
    }
}

/// The note a grab watch's alert carries: whether an order is being placed.
pub fn grab_note(grab_enabled: bool) -> &'static str {
    if grab_enabled {
        "这是抢票监视：yupiao 正在通过聚合下抢票单，下单结果会另行通知。"
    } else {
        "这是抢票监视，但 [juhe] enabled = false：yupiao 只发提醒，没有下单。"
    }
}

/// One email of a poll cycle (see [`super::grouping`]): every train and date it lists, and every
/// watch each one satisfies. One watch on one date reads exactly as [`render_seat_alert`]; a grab
/// watch adds [`grab_note`].
pub fn render_grouped_alert(email: &GroupedAlert<'_>, rail_url: &str, grab_enabled: bool) -> EmailContent {
    let notes: Vec<String> = email
        .watches
        .iter()
        .filter(|w| w.grab.is_some())
        .map(|w| {
            if email.watches.len() == 1 {
                grab_note(grab_enabled).to_string()
            } else {
                format!(
                    "「{}」{}",
                    w.name,
                    grab_note(grab_enabled).trim_start_matches("这")
                )
            }
        })
        .collect();
    let dates = email.dates();
    if let ([watch], [date]) = (email.watches.as_slice(), dates.as_slice()) {
        let trains: Vec<TrainMatch> = email.sections.iter().map(|s| s.train.clone()).collect();
        return alert(watch, *date, &trains, rail_url, &notes);
    }
    EmailContent {
        subject: grouped_subject(email),
        text: grouped_text(email, rail_url, &notes),
        html: grouped_html(email, rail_url, &notes),
    }
}

/// `【余票】G8294 等2趟 上海→常州 12月01日 等3天 二等座 有票`: the first train's code,
/// stations and seats lead; `等N趟` / `等N天` say how many more trains and dates.
fn subject(first: &TrainMatch, date: NaiveDate, trains: usize, days: usize) -> String {
    let more_trains = if trains > 1 {
        format!(" 等{trains}趟")
    } else {
        String::new()
    };
    let more_days = if days > 1 {
        format!(" 等{days}天")
    } else {
        String::new()
    };
    let seats = first
        .seats
        .iter()
        .map(|s| s.seat.name())
        .collect::<Vec<_>>()
        .join("/");
    let seats = if seats.is_empty() {
        String::new()
    } else {
        format!(" {seats}")
    };
    format!(
        "【余票】{}{more_trains} {}→{} {}{more_days}{seats} 有票",
        first.station_train_code,
        first.from_name,
        first.to_name,
        month_day(date)
    )
}

fn alert_subject(watch: &Watch, date: NaiveDate, trains: &[TrainMatch]) -> String {
    match trains.first() {
        Some(first) => subject(first, date, trains.len(), 1),
        None => format!(
            "【余票】{}→{} {} 有票",
            watch.from.name,
            watch.to.name,
            month_day(date)
        ),
    }
}

fn grouped_subject(email: &GroupedAlert<'_>) -> String {
    let Some(first) = email.sections.first() else {
        return "【余票】有票".to_string();
    };
    let mut codes: Vec<&str> = Vec::new();
    for s in &email.sections {
        if !codes.contains(&s.train.station_train_code.as_str()) {
            codes.push(&s.train.station_train_code);
        }
    }
    subject(&first.train, first.date, codes.len(), email.dates().len())
}

/// One train in the text part: code, day and stations, times, then each seat.
fn train_text(t: &mut String, train: &TrainMatch, date: NaiveDate) {
    let _ = writeln!(
        t,
        "\n{}  {}  {} → {}",
        train.station_train_code,
        long_date(date),
        train.from_name,
        train.to_name
    );
    let _ = writeln!(t, "  {}", times(train));
    for seat in &train.seats {
        let _ = writeln!(
            t,
            "  {}  {}  {}",
            seat.seat.name(),
            count_zh(seat),
            price_zh(seat)
        );
    }
}

/// One train in the HTML table: the same lines as [`train_text`].
fn train_html(h: &mut String, train: &TrainMatch, date: NaiveDate) {
    let _ = writeln!(
        h,
        "<tr><td colspan=\"3\" style=\"{TD}padding-top:10px;border-top:1px solid #ccc;font-size:16px;\">\
         <b>{}</b> {} {} → {}</td></tr>",
        escape(&train.station_train_code),
        escape(&long_date(date)),
        escape(&train.from_name),
        escape(&train.to_name)
    );
    let _ = writeln!(
        h,
        "<tr><td colspan=\"3\" style=\"{TD}color:#555;\">{}</td></tr>",
        escape(&times(train))
    );
    for seat in &train.seats {
        let _ = writeln!(
            h,
            "<tr><td style=\"{TD}\">{}</td><td style=\"{TD}color:#080;font-weight:bold;\">{}</td>\
             <td style=\"{TD}\">{}</td></tr>",
            escape(seat.seat.name()),
            escape(&count_zh(seat)),
            escape(&price_zh(seat))
        );
    }
}

/// A booking button.
fn book_button(h: &mut String, url: &str, label: &str) {
    let _ = writeln!(
        h,
        "<p><a href=\"{}\" style=\"display:inline-block;padding:8px 16px;background:#1677ff;\
         color:#fff;text-decoration:none;border-radius:4px;\">去 12306 预订（{}）</a></p>",
        escape(url),
        escape(label)
    );
}

/// The notes of grab watches, and the end of the HTML document.
fn close_html(h: &mut String, notes: &[String]) {
    for note in notes {
        let _ = write!(h, "<p><b>{}</b></p>", escape(note));
    }
    h.push_str("</body></html>\n");
}

fn alert_text(watch: &Watch, date: NaiveDate, trains: &[TrainMatch], url: &str, notes: &[String]) -> String {
    let mut t = String::new();
    let _ = writeln!(t, "监控「{}」发现余票（{}）：", watch.name, party(watch));
    for train in trains {
        train_text(&mut t, train, train.date);
    }
    let _ = writeln!(t, "\n下一步：");
    let _ = writeln!(
        t,
        "  在 12306 预订（{} {} → {}）：\n  {url}",
        long_date(date),
        watch.from.name,
        watch.to.name
    );
    let _ = writeln!(t, "  {STALE_WARNING}");
    let _ = writeln!(t, "  {}", how_to_stop(&watch.name));
    for note in notes {
        let _ = writeln!(t, "\n{note}");
    }
    t
}

fn alert_html(watch: &Watch, date: NaiveDate, trains: &[TrainMatch], url: &str, notes: &[String]) -> String {
    let mut h = html_open();
    let _ = writeln!(
        h,
        "<p>监控「<b>{}</b>」发现余票（{}）：</p>",
        escape(&watch.name),
        escape(&party(watch))
    );
    h.push_str("<table style=\"border-collapse:collapse;margin:4px 0 12px;\">\n");
    for train in trains {
        train_html(&mut h, train, train.date);
    }
    h.push_str("</table>\n");
    let label = format!("{} {} → {}", long_date(date), watch.from.name, watch.to.name);
    book_button(&mut h, url, &label);
    let _ = writeln!(
        h,
        "<p style=\"font-size:12px;color:#666;\">{STALE_WARNING}<br>\n{}<br>\n链接：{}</p>",
        escape(&how_to_stop(&watch.name)),
        escape(url)
    );
    close_html(&mut h, notes);
    h
}

/// `「A」（乘车人数 2人）、「B」（乘车人数 1人）`.
fn watch_list_zh(watches: &[&Watch]) -> String {
    watches
        .iter()
        .map(|w| format!("「{}」（{}）", w.name, party(w)))
        .collect::<Vec<_>>()
        .join("、")
}

/// `「A」、「B」`: the watches one section serves.
fn serves_zh(email: &GroupedAlert<'_>, watches: &[usize]) -> String {
    let names: Vec<String> = watches
        .iter()
        .map(|&i| format!("「{}」", email.watches[i].name))
        .collect();
    names.join("、")
}

/// Booking links, one per (route, date) the email covers: (label, url).
fn booking_links(email: &GroupedAlert<'_>, rail_url: &str) -> Vec<(String, String)> {
    let mut links: Vec<(String, String)> = Vec::new();
    for s in &email.sections {
        for &i in &s.watches {
            let w = email.watches[i];
            let url = watch_booking_url(rail_url, w, s.date);
            if !links.iter().any(|(_, u)| *u == url) {
                let label = format!("{} {} → {}", long_date(s.date), w.from.name, w.to.name);
                links.push((label, url));
            }
        }
    }
    links
}

fn grouped_text(email: &GroupedAlert<'_>, rail_url: &str, notes: &[String]) -> String {
    let mut t = String::new();
    let _ = writeln!(t, "监控{}发现余票：", watch_list_zh(&email.watches));
    for s in &email.sections {
        train_text(&mut t, &s.train, s.date);
        if email.watches.len() > 1 {
            let _ = writeln!(t, "  符合监控：{}", serves_zh(email, &s.watches));
        }
    }
    let _ = writeln!(t, "\n下一步：");
    for (label, url) in booking_links(email, rail_url) {
        let _ = writeln!(t, "  在 12306 预订（{label}）：\n  {url}");
    }
    let _ = writeln!(t, "  {STALE_WARNING}");
    for w in &email.watches {
        let _ = writeln!(t, "  {}", how_to_stop(&w.name));
    }
    for note in notes {
        let _ = writeln!(t, "\n{note}");
    }
    t
}

fn grouped_html(email: &GroupedAlert<'_>, rail_url: &str, notes: &[String]) -> String {
    let mut h = html_open();
    let _ = writeln!(
        h,
        "<p>监控{}发现余票：</p>",
        escape(&watch_list_zh(&email.watches))
    );
    h.push_str("<table style=\"border-collapse:collapse;margin:4px 0 12px;\">\n");
    for s in &email.sections {
        train_html(&mut h, &s.train, s.date);
        if email.watches.len() > 1 {
            let _ = writeln!(
                h,
                "<tr><td colspan=\"3\" style=\"{TD}color:#555;\">符合监控：{}</td></tr>",
                escape(&serves_zh(email, &s.watches))
            );
        }
    }
    h.push_str("</table>\n");
    for (label, url) in booking_links(email, rail_url) {
        book_button(&mut h, &url, &label);
    }
    let stops: Vec<String> = email
        .watches
        .iter()
        .map(|w| escape(&how_to_stop(&w.name)))
        .collect();
    let _ = writeln!(
        h,
        "<p style=\"font-size:12px;color:#666;\">{STALE_WARNING}<br>\n{}</p>",
        stops.join("<br>\n")
    );
    close_html(&mut h, notes);
    h
}

/// `2人`, `1人，学生票`.
fn party(watch: &Watch) -> String {
    let mut s = format!("乘车人数 {}人", watch.passengers);
    if watch.student {
        s.push_str("，学生票");
    }
    s
}

fn how_to_stop(watch_name: &str) -> String {
    format!("不想再收到这条提醒：编辑 watchlist.toml，删除或修改 name = \"{watch_name}\" 的 [[watch]]。")
}

/// `（次日）` when the train arrives the day after it leaves (`（第3天）` two days later), else
/// nothing: from the departure time and the duration, as 12306 gives no arrival date.
pub fn arrival_day(train: &TrainMatch) -> String {
    let days_later = match (minutes(&train.start_time), minutes(&train.lishi)) {
        (Some(start), Some(len)) => (start + len) / (24 * 60),
        _ => 0,
    };
    match days_later {
        0 => String::new(),
        1 => "（次日）".to_string(),
        n => format!("（第{}天）", n + 1),
    }
}

/// `12-06 13:30 起售` from `sale_time` (`202612061330`, row field 55); `None` when unreadable.
pub fn on_sale_text(sale_time: &str) -> Option<String> {
    let t = chrono::NaiveDateTime::parse_from_str(sale_time.trim(), "%Y%m%d%H%M").ok()?;
    Some(format!("{} 起售", t.format("%m-%d %H:%M")))
}

/// `14:44 开 → 15:53 到，历时 1小时9分`, with `（次日）` when the arrival is on a later day.
fn times(train: &TrainMatch) -> String {
    let later = arrival_day(train);
    format!(
        "{} 开 → {} 到{later}，历时 {}",
        train.start_time,
        train.arrive_time,
        duration_zh(&train.lishi)
    )
}

/// `HH:MM` (hours may exceed 23 for durations) → minutes.
fn minutes(hhmm: &str) -> Option<u32> {
    let (h, m) = hhmm.trim().split_once(':')?;
    let (h, m) = (h.parse::<u32>().ok()?, m.parse::<u32>().ok()?);
    (m < 60).then_some(h * 60 + m)
}

/// 12306's `lishi` (`01:09`) as people say it (`1小时9分`); unparseable text is shown as is.
fn duration_zh(lishi: &str) -> String {
    match minutes(lishi) {
        Some(total) => match (total / 60, total % 60) {
            (0, m) => format!("{m}分"),
            (h, 0) => format!("{h}小时"),
            (h, m) => format!("{h}小时{m}分"),
        },
        None => lishi.to_string(),
    }
}

fn count_zh(seat: &SeatMatch) -> String {
    match seat.count {
        Some(n) => format!("{n}张"),
        None if seat.raw.trim() == "有" => format!("有票(≥{PLENTY}张)"),
        None => "有票".to_string(),
    }
}

fn price_zh(seat: &SeatMatch) -> String {
    match seat.price_jiao {
        Some(p) => format!("¥{}.{}", p / 10, p % 10),
        None => "票价未知".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::render::tests::{day, one_train, seat, train, watch};
    use crate::seat::SeatClass;

    #[test]
    fn one_train_one_seat_subject_names_train_route_day_and_seat() {
        let mail = render_seat_alert(&watch("回家"), day(), &one_train(), "https://kyfw.12306.cn");
        assert_eq!(mail.subject, "【余票】G8294 上海→常州 12月01日 二等座 有票");
    }

    #[test]
    fn several_trains_are_counted_in_the_subject() {
        let trains = vec![
            train("G8294", vec![seat(SeatClass::Second, "有", 910)]),
            train("G7002", vec![seat(SeatClass::Second, "5", 910)]),
            train("D3102", vec![seat(SeatClass::First, "1", 1450)]),
        ];
        let mail = render_seat_alert(&watch("回家"), day(), &trains, "https://kyfw.12306.cn");
        assert_eq!(mail.subject, "【余票】G8294 等3趟 上海→常州 12月01日 二等座 有票");
        for code in ["G8294", "G7002", "D3102"] {
            assert!(mail.text.contains(code), "{}", mail.text);
            assert!(mail.html.contains(code));
        }
    }

    #[test]
    fn several_seat_classes_of_one_train_are_joined_in_priority_order() {
        let trains = vec![train(
            "G8294",
            vec![
                seat(SeatClass::Second, "有", 910),
                seat(SeatClass::First, "2", 1450),
            ],
        )];
        let mail = render_seat_alert(&watch("回家"), day(), &trains, "https://kyfw.12306.cn");
        assert_eq!(
            mail.subject,
            "【余票】G8294 上海→常州 12月01日 二等座/一等座 有票"
        );
    }

    #[test]
    fn subject_uses_the_actual_stations_of_the_first_train() {
        let mut trains = one_train();
        trains[0].from_name = "上海虹桥".to_string();
        trains[0].to_name = "常州北".to_string();
        let mail = render_seat_alert(&watch("回家"), day(), &trains, "https://kyfw.12306.cn");
        assert_eq!(mail.subject, "【余票】G8294 上海虹桥→常州北 12月01日 二等座 有票");
    }

    #[test]
    fn text_part_has_times_duration_counts_prices_and_the_booking_link() {
        let trains = vec![train(
            "G8294",
            vec![
                seat(SeatClass::Second, "3", 910),
                seat(SeatClass::First, "有", 1450),
            ],
        )];
        let mail = render_seat_alert(&watch("回家"), day(), &trains, "https://kyfw.12306.cn/");
        let t = &mail.text;
        for want in [
            "14:44 开 → 15:53 到，历时 1小时9分",
            "二等座  3张  ¥91.0",
            "一等座  有票(≥20张)  ¥145.0",
            "12月01日（周一）",
            "上海 → 常州",
            "回家",
            "乘车人数 2人",
            "https://kyfw.12306.cn/otn/leftTicket/init?linktypeid=dc&fs=%E4%B8%8A%E6%B5%B7,SHH&ts=%E5%B8%B8%E5%B7%9E,CZH&date=2025-12-01&flag=N,N,Y",
            STALE_WARNING,
            "watchlist.toml",
        ] {
            assert!(t.contains(want), "missing {want:?} in\n{t}");
        }
        assert!(!t.contains("purpose_codes"));
    }

    #[test]
    fn html_escapes_everything_taken_from_data() {
        let mail = render_seat_alert(
            &watch("<script>alert(1)</script> & \"x\""),
            day(),
            &one_train(),
            "https://kyfw.12306.cn",
        );
        assert!(!mail.html.contains("<script>"), "{}", mail.html);
        assert!(
            mail.html
                .contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;x&quot;")
        );
        assert!(mail.html.contains("&amp;ts=%E5%B8%B8%E5%B7%9E,CZH"));
        assert!(mail.html.contains("<table"));
    }

    #[test]
    fn durations_read_the_way_people_say_them() {
        assert_eq!(duration_zh("01:09"), "1小时9分");
        assert_eq!(duration_zh("00:45"), "45分");
        assert_eq!(duration_zh("02:00"), "2小时");
        assert_eq!(duration_zh("27:35"), "27小时35分");
        assert_eq!(duration_zh("--"), "--");
    }

    #[test]
    fn overnight_arrivals_are_marked() {
        let mut t = one_train().remove(0);
        t.start_time = "22:10".into();
        t.arrive_time = "07:05".into();
        t.lishi = "08:55".into();
        assert_eq!(times(&t), "22:10 开 → 07:05 到（次日），历时 8小时55分");
    }

    #[test]
    fn a_grouped_email_of_one_watch_and_one_date_reads_as_the_plain_alert() {
        use crate::notify::grouping::{Appeared, group};
        let w = watch("回家");
        let trains = one_train();
        let me = vec!["me@example.com".to_string()];
        let emails = group(&[Appeared {
            watch: &w,
            date: day(),
            trains: &trains,
            recipients: &me,
        }]);
        let grouped = render_grouped_alert(&emails[0], "https://kyfw.12306.cn", true);
        assert_eq!(
            grouped,
            render_seat_alert(&w, day(), &trains, "https://kyfw.12306.cn"),
            "no grab note for an alert watch"
        );
    }

    #[test]
    fn a_grouped_email_names_every_watch_each_train_serves_and_notes_the_grab_watch() {
        use crate::notify::grouping::{Appeared, group};
        let a = watch("提醒");
        let mut g = watch("抢票");
        g.line = 2;
        g.grab = Some(crate::watchlist::GrabSpec {
            grab_on: crate::watchlist::GrabOn::Seats,
            accept_no_seat: false,
            close: crate::watchlist::CloseTime::BeforeDeparture(std::time::Duration::from_secs(3 * 3600)),
            orders_per_date: 1,
            passengers: vec![],
        });
        let trains = one_train();
        let next = day().succ_opt().unwrap();
        let me = vec!["me@example.com".to_string()];
        let emails = group(&[
            Appeared {
                watch: &a,
                date: day(),
                trains: &trains,
                recipients: &me,
            },
            Appeared {
                watch: &a,
                date: next,
                trains: &trains,
                recipients: &me,
            },
            Appeared {
                watch: &g,
                date: day(),
                trains: &trains,
                recipients: &me,
            },
        ]);
        assert_eq!(emails.len(), 1);
        let mail = render_grouped_alert(&emails[0], "https://kyfw.12306.cn", false);
        assert_eq!(mail.subject, "【余票】G8294 上海→常州 12月01日 等2天 二等座 有票");
        for want in [
            "监控「提醒」（乘车人数 2人）、「抢票」（乘车人数 2人）发现余票：",
            "G8294  12月01日（周一）  上海 → 常州",
            "G8294  12月02日（周二）  上海 → 常州",
            "  符合监控：「提醒」、「抢票」",
            "  符合监控：「提醒」\n",
            "date=2025-12-01",
            "date=2025-12-02",
            "「抢票」是抢票监视，但 [juhe] enabled = false",
            "name = \"提醒\"",
            "name = \"抢票\"",
        ] {
            assert!(mail.text.contains(want), "missing {want:?} in\n{}", mail.text);
        }
        assert!(mail.html.contains("符合监控"), "{}", mail.html);
    }

    #[test]
    fn sale_times_read_as_month_day_and_time() {
        assert_eq!(on_sale_text("202612061330").as_deref(), Some("12-06 13:30 起售"));
        assert_eq!(on_sale_text("soon"), None);
    }
}
