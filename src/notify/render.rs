//! What every email renderer shares: the rendered email ([`EmailContent`]), HTML escaping, the
//! way days are written, the 12306 booking link, and the test email.
//!
//! Rendering is pure: the caller passes any timestamp in, so every word is covered by unit tests
//! without a clock or a mail server. Everything taken from data (watch names, station names,
//! train codes) is HTML-escaped, because a watch name is free text typed by the user.

use std::fmt::Write as _;

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, Weekday};

/// A rendered email, ready for [`super::Mailer::send`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailContent {
    /// One line, shown in the inbox list: it alone should tell the user whether to act.
    pub subject: String,
    /// The `text/plain` part (for clients that do not show HTML, and for tests).
    pub text: String,
    /// The `text/html` part: the same content as a small inline-styled table.
    pub html: String,
}

/// What `yupiao test-email` sends: proves the transport works, says when and how it was sent.
pub fn render_test_email(now: DateTime<FixedOffset>, transport_desc: &str) -> EmailContent {
    let when = now.format("%Y-%m-%d %H:%M:%S %:z").to_string();
    let intro = "这是 yupiao（余票）的测试邮件。";
    let outro = "收到这封邮件，说明邮件设置可用：有余票时，提醒会以同样的方式发出。";
    let text = format!("{intro}\n\n发送时间：{when}\n发送方式：{transport_desc}\n\n{outro}\n");
    let html = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"></head>\n\
         <body style=\"font-family:sans-serif;font-size:14px;color:#222;\">\n\
         <p>{intro}</p>\n\
         <table style=\"border-collapse:collapse;\">\n\
         <tr><td style=\"{TD}color:#555;\">发送时间</td><td style=\"{TD}\">{}</td></tr>\n\
         <tr><td style=\"{TD}color:#555;\">发送方式</td><td style=\"{TD}\">{}</td></tr>\n\
         </table>\n<p>{outro}</p>\n</body></html>\n",
        escape(&when),
        escape(transport_desc),
    );
    EmailContent {
        subject: "【余票】测试邮件".to_string(),
        text,
        html,
    }
}

/// The 12306 ticket query page for this route and date, where the user books.
///
/// Station names are percent-encoded (UTF-8), the rest is ASCII; `student` adds
/// `purpose_codes=0X00` so the page opens on student fares.
pub fn booking_url(
    rail_url: &str,
    from_name: &str,
    from_code: &str,
    to_name: &str,
    to_code: &str,
    date: NaiveDate,
    student: bool,
) -> String {
    let mut url = format!(
        "{}/otn/leftTicket/init?linktypeid=dc&fs={},{}&ts={},{}&date={}&flag=N,N,Y",
        rail_url.trim_end_matches('/'),
        percent_encode(from_name),
        percent_encode(from_code),
        percent_encode(to_name),
        percent_encode(to_code),
        date.format("%Y-%m-%d"),
    );
    if student {
        url.push_str("&purpose_codes=0X00");
    }
    url
}

/// Table-cell style of every HTML part.
pub(crate) const TD: &str = "padding:3px 8px;";

/// The start of every HTML part, up to and including the opening `<body>`.
pub(crate) fn html_open() -> String {
    "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"></head>\n\
     <body style=\"font-family:sans-serif;font-size:14px;color:#222;\">\n"
        .to_string()
}

/// `12月01日`, `03月05日`: the one way every email writes a day (zero-padded, so subjects line
/// up in an inbox).
pub(crate) fn month_day(date: NaiveDate) -> String {
    format!("{:02}月{:02}日", date.month(), date.day())
}

/// `12月01日（周一）`.
pub(crate) fn long_date(date: NaiveDate) -> String {
    format!("{}（{}）", month_day(date), weekday_zh(date.weekday()))
}

/// 周一 … 周日.
pub(crate) fn weekday_zh(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "周一",
        Weekday::Tue => "周二",
        Weekday::Wed => "周三",
        Weekday::Thu => "周四",
        Weekday::Fri => "周五",
        Weekday::Sat => "周六",
        Weekday::Sun => "周日",
    }
}

/// Escapes text for HTML element content and double- or single-quoted attributes (every email
/// renderer uses this one).
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Percent-encodes everything but RFC 3986 unreserved characters, so names are safe anywhere in
/// a query string (including the `,` that separates name and telecode).
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    //! Fixtures shared by the tests of every renderer (and of push messages).

    use super::*;
    use crate::filter::{SeatMatch, TrainMatch};
    use crate::seat::SeatClass;
    use crate::stations::StationTable;
    use crate::watchlist::{Schedule, Watch, WatchAction};
    use std::time::Duration;

    pub(crate) fn watch(name: &str) -> Watch {
        let table = StationTable::embedded();
        Watch {
            name: name.to_string(),
            from: table.by_name("上海").unwrap().clone(),
            to: table.by_name("常州").unwrap().clone(),
            same_city: true,
            dates: vec![day()],
            trains: vec![],
            exclude_trains: vec![],
            depart: None,
            arrive: None,
            seats: vec![SeatClass::Second, SeatClass::First],
            passengers: 2,
            student: false,
            schedule: Schedule::Every(Duration::from_secs(60)),
            burst: crate::watchlist::DEFAULT_BURST,
            notify: vec![],
            action: WatchAction::Alert,
            grab: None,
            line: 1,
        }
    }

    pub(crate) fn day() -> NaiveDate {
        NaiveDate::from_ymd_opt(2025, 12, 1).unwrap()
    }

    pub(crate) fn seat(seat: SeatClass, raw: &str, price_jiao: u32) -> SeatMatch {
        SeatMatch {
            seat,
            raw: raw.to_string(),
            count: raw.parse().ok(),
            price_jiao: Some(price_jiao),
            available: true,
        }
    }

    pub(crate) fn train(code: &str, seats: Vec<SeatMatch>) -> TrainMatch {
        TrainMatch {
            date: day(),
            station_train_code: code.to_string(),
            from_station: "AOH".to_string(),
            to_station: "CZH".to_string(),
            from_name: "上海".to_string(),
            to_name: "常州".to_string(),
            start_time: "14:44".to_string(),
            arrive_time: "15:53".to_string(),
            lishi: "01:09".to_string(),
            bookable: true,
            seats,
            sale_time: None,
        }
    }

    pub(crate) fn one_train() -> Vec<TrainMatch> {
        vec![train("G8294", vec![seat(SeatClass::Second, "3", 910)])]
    }

    #[test]
    fn weekdays_are_chinese_and_correct() {
        let d = |m, dd| NaiveDate::from_ymd_opt(2025, m, dd).unwrap();
        assert_eq!(long_date(d(12, 1)), "12月01日（周一）");
        assert_eq!(long_date(d(12, 6)), "12月06日（周六）");
        assert_eq!(long_date(d(12, 7)), "12月07日（周日）");
        assert_eq!(long_date(d(1, 1)), "01月01日（周三）");
    }

    #[test]
    fn student_watches_link_to_student_fares() {
        let url = booking_url(
            "http://127.0.0.1:8080",
            "北京南",
            "VNP",
            "上海虹桥",
            "AOH",
            day(),
            true,
        );
        assert_eq!(
            url,
            "http://127.0.0.1:8080/otn/leftTicket/init?linktypeid=dc&fs=%E5%8C%97%E4%BA%AC%E5%8D%97,VNP&ts=%E4%B8%8A%E6%B5%B7%E8%99%B9%E6%A1%A5,AOH&date=2025-12-01&flag=N,N,Y&purpose_codes=0X00"
        );
    }

    #[test]
    fn test_email_says_when_and_how_it_was_sent() {
        let now = DateTime::parse_from_rfc3339("2025-12-01T08:30:00+08:00").unwrap();
        let mail = render_test_email(now, "smtp://mail.example.com:587 (starttls) <&>");
        assert!(mail.subject.contains("测试"));
        assert!(mail.text.contains("2025-12-01 08:30:00 +08:00"));
        assert!(mail.text.contains("smtp://mail.example.com:587 (starttls)"));
        assert!(mail.html.contains("(starttls) &lt;&amp;&gt;"));
    }
}
