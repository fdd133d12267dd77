//! The status page's pictures, as inline SVG (pure): a seat timeline per (watch, date) and the
//! "seats came back at" hour-of-day histogram.
//!
//! Why it is drawn this way:
//! - **Step lines.** A seat count holds until the next change (`seat_history` stores changes
//!   only), so each series is a step function: `H` to the time of the next change, then `V` to
//!   its value. 有 is drawn at [`PLENTY`] with a dot (it means "at least 20");
//!   无 is 0; `*` (not on sale) and a class that left the page are gaps, never zeros.
//! - **Scales to its container.** The plot is `viewBox="0 0 600 100"` with
//!   `preserveAspectRatio="none"`, drawn at 100 % width and a fixed CSS height, with
//!   `vector-effect: non-scaling-stroke` so lines stay crisp at 390 px and at 1280 px. Text would
//!   stretch under such a scale, so the axis labels and the legend are HTML beside the SVG,
//!   positioned in percent of the same coordinates; they stay readable at every width.
//! - **Light and dark.** No colour is written here: series carry classes (`s0`…`s7`) whose
//!   colours are CSS variables the page defines for both schemes; axes use `currentColor`.
//! - **Bounded size.** A 90-day series with thousands of changes must not make a page of
//!   megabytes. [`reduce`] first merges consecutive equal points, which is lossless for step
//!   data (the line does not move). If a series still has more than [`POINT_BOUND`] points, more
//!   changes fall into some pixel column than that column can show: every point of a column is
//!   drawn at the same x, so the column shows only the vertical extent of its values and the
//!   value it leaves with. Keeping, per column, the points holding the minimum, the maximum, the
//!   first gap and the last point draws the same pixels; at most 4 per column, so at most
//!   `4 × (COLUMNS + 1)` points per series whatever the history.
//! - **Accessible.** Each SVG has `role="img"`, an `aria-label` and a `<title>` that say in words
//!   what it shows; the histogram prints its numbers as text too.

use std::fmt::Write as _;

use chrono::{DateTime, Datelike, Duration as TimeDelta, FixedOffset, NaiveTime, TimeZone, Timelike};

use super::html::escape_into;
use super::view::{HourHistogram, Level, PLENTY, Point, Series, Time, Timeline};
use crate::clock::beijing;

/// Width of the plot in viewBox units: one unit is one "pixel column" for [`reduce`].
pub const COLUMNS: i32 = 600;
/// Height of the plot in viewBox units.
pub const HEIGHT: i32 = 100;
/// y of the top of the value range (有 or the largest count) and of 0.
const Y_TOP: f64 = 6.0;
const Y_ZERO: f64 = 94.0;
/// At most this many points per series after [`reduce`] (4 per column, columns `0..=COLUMNS`).
pub const POINT_BOUND: usize = 4 * (COLUMNS as usize + 1);
/// A timeline shows at most this many days before its end: a date is on sale for 15 days
/// (12306's presale window), so this holds every change a travel date can have had, while the
/// histogram still covers the whole retained history.
pub const WINDOW_DAYS: i64 = 15;
/// Distinct series colours; more series reuse them with dash patterns.
const PALETTE: usize = 8;

/// Maps times and seat counts of one timeline to viewBox coordinates.
#[derive(Debug, Clone, Copy)]
pub struct Scale {
    from_ms: i64,
    span_ms: i64,
    /// The count drawn at the top (at least 20, the reading of 有).
    pub ymax: u32,
}

impl Scale {
    pub fn new(from: Time, to: Time, ymax: u32) -> Scale {
        Scale {
            from_ms: from.timestamp_millis(),
            span_ms: (to.timestamp_millis() - from.timestamp_millis()).max(1),
            ymax: ymax.max(PLENTY),
        }
    }

    /// For a timeline: the top is 有 (20) or the largest count seen.
    pub fn for_timeline(t: &Timeline) -> Scale {
        let ymax = t
            .series
            .iter()
            .flat_map(|s| &s.points)
            .filter_map(|p| p.level.value())
            .max()
            .unwrap_or(0);
        Scale::new(t.from, t.to, ymax)
    }

    /// The pixel column of a time (times outside the axis are clamped to its ends).
    pub fn x(&self, t: Time) -> i32 {
        let f = (t.timestamp_millis() - self.from_ms) as f64 / self.span_ms as f64;
        ((f * COLUMNS as f64).round() as i64).clamp(0, COLUMNS as i64) as i32
    }

    pub fn y(&self, v: u32) -> i32 {
        let f = v.min(self.ymax) as f64 / self.ymax as f64;
        (Y_ZERO - f * (Y_ZERO - Y_TOP)).round() as i32
    }
}

fn same(a: &Point, b: &Point) -> bool {
    a.level == b.level && a.available == b.available
}

/// Merges equal neighbours and bounds a series to [`POINT_BOUND`] points for an axis
/// `from..to` (see the module doc for why the picture does not change). `points` must be in
/// time order. Of the points before `from`, only the last is kept: it is the value at `from`.
pub fn reduce(points: &[Point], from: Time, to: Time) -> Vec<Point> {
    let start = points.iter().rposition(|p| p.at <= from).unwrap_or(0);
    let mut merged: Vec<Point> = Vec::with_capacity(points.len() - start);
    for p in &points[start..] {
        if merged.last().is_none_or(|q| !same(q, p)) {
            merged.push(*p);
        }
    }
    if merged.len() <= POINT_BOUND {
        return merged;
    }
    let scale = Scale::new(from, to, PLENTY);
    let mut out: Vec<Point> = Vec::with_capacity(POINT_BOUND);
    let mut i = 0;
    while i < merged.len() {
        let col = scale.x(merged[i].at);
        let mut j = i;
        while j < merged.len() && scale.x(merged[j].at) == col {
            j += 1;
        }
        let group = &merged[i..j];
        if group.len() <= 4 {
            out.extend_from_slice(group);
        } else {
            let by_value = |p: &&Point| p.level.value();
            let mut keep: Vec<usize> = Vec::with_capacity(4);
            let numeric = || {
                group
                    .iter()
                    .enumerate()
                    .filter(|(_, p)| p.level.value().is_some())
            };
            if let Some((k, _)) = numeric().min_by_key(|(_, p)| by_value(p)) {
                keep.push(k);
            }
            if let Some((k, _)) = numeric().max_by_key(|(_, p)| by_value(p)) {
                keep.push(k);
            }
            if let Some(k) = group.iter().position(|p| p.level.value().is_none()) {
                keep.push(k);
            }
            keep.push(group.len() - 1);
            keep.sort_unstable();
            keep.dedup();
            out.extend(keep.into_iter().map(|k| group[k]));
        }
        i = j;
    }
    // Keeping extremes can put equal values next to each other again.
    out.dedup_by(|b, a| same(a, b));
    out
}

/// Appends a small integer without the formatting machinery (paths are most of a page's bytes).
fn push_int(out: &mut String, n: i32) {
    if n < 0 {
        out.push('-');
    }
    let mut v = n.unsigned_abs();
    let mut buf = [0u8; 10];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.push_str(std::str::from_utf8(&buf[i..]).unwrap_or("0"));
}

fn cmd(out: &mut String, c: char, n: i32) {
    out.push(c);
    push_int(out, n);
}

/// The SVG path of one series: `M x y` starts a run, `H x` holds the value until x, `V y`
/// moves to the next value; a gap (`*`, class gone) ends the run. The line ends at `to`.
pub fn series_path(points: &[Point], scale: &Scale, out: &mut String) {
    let mut pen: Option<(i32, i32)> = None;
    for p in points {
        let x = scale.x(p.at);
        match (p.level.value(), pen) {
            (Some(v), Some((px, py))) => {
                let y = scale.y(v);
                if x != px {
                    cmd(out, 'H', x);
                }
                if y != py {
                    cmd(out, 'V', y);
                }
                pen = Some((x, y));
            }
            (Some(v), None) => {
                let y = scale.y(v);
                cmd(out, 'M', x);
                out.push(' ');
                push_int(out, y);
                pen = Some((x, y));
            }
            (None, Some((px, _))) => {
                if x != px {
                    cmd(out, 'H', x);
                }
                pen = None;
            }
            (None, None) => {}
        }
    }
    if let Some((px, _)) = pen
        && px != COLUMNS
    {
        cmd(out, 'H', COLUMNS);
    }
}

/// Dots where a series starts showing 有 (the line alone cannot say "at least").
fn plenty_marks(points: &[Point], scale: &Scale, out: &mut String) {
    let mut prev: Option<Level> = None;
    for p in points {
        if p.level == Level::Plenty && prev != Some(Level::Plenty) {
            cmd(out, 'M', scale.x(p.at));
            out.push(' ');
            push_int(out, scale.y(PLENTY));
            out.push_str("h0");
        }
        prev = Some(p.level);
    }
}

fn bj(t: Time) -> DateTime<FixedOffset> {
    t.with_timezone(&beijing())
}

/// `MM-DD HH:MM` in Beijing time, written directly: chrono's `format` parses its pattern on
/// every call, and a page of a thousand watches has tens of thousands of these.
pub fn mdhm(t: Time) -> String {
    let t = bj(t);
    let mut s = String::with_capacity(11);
    push2(&mut s, t.month());
    s.push('-');
    push2(&mut s, t.day());
    s.push(' ');
    push2(&mut s, t.hour());
    s.push(':');
    push2(&mut s, t.minute());
    s
}

fn push2(out: &mut String, n: u32) {
    out.push(char::from(b'0' + (n / 10 % 10) as u8));
    out.push(char::from(b'0' + (n % 10) as u8));
}

const WEEKDAYS: [&str; 7] = ["一", "二", "三", "四", "五", "六", "日"];

/// Ticks of the time axis, aligned to Beijing hours or midnights, at most 6.
pub fn time_ticks(from: Time, to: Time) -> Vec<(Time, String)> {
    let span = to - from;
    let steps_h: [i64; 10] = [1, 2, 3, 6, 12, 24, 48, 96, 168, 336];
    let step_h = steps_h
        .iter()
        .copied()
        .find(|h| span.num_minutes() / (h * 60) < 6)
        .unwrap_or(336);
    let step = TimeDelta::hours(step_h);
    let f = bj(from);
    // First tick: the next whole step after `from` (midnight-aligned for daily steps).
    let mut t = if step_h >= 24 {
        let day = f.date_naive().and_time(NaiveTime::MIN);
        beijing().from_local_datetime(&day).single().unwrap_or(f) + TimeDelta::days(1)
    } else {
        let hour = f
            .date_naive()
            .and_hms_opt(f.hour(), 0, 0)
            .unwrap_or(f.naive_local());
        let h0 = beijing().from_local_datetime(&hour).single().unwrap_or(f);
        let rem = (h0.hour() as i64) % step_h;
        h0 + TimeDelta::hours(step_h - rem)
    };
    let mut out = Vec::new();
    while t < to && out.len() < 8 {
        let full = mdhm(t);
        let label = if step_h >= 24 || (t.hour() == 0 && t.minute() == 0) {
            full[..5].to_string()
        } else {
            full[6..].to_string()
        };
        out.push((t, label));
        t += step;
    }
    out
}

/// `12-05 周六`.
pub fn date_label(d: chrono::NaiveDate) -> String {
    format!(
        "{} 周{}",
        d.format("%m-%d"),
        WEEKDAYS[d.weekday().num_days_from_monday() as usize]
    )
}

fn pct(x: i32, of: i32) -> String {
    format!("{:.1}", x as f64 * 100.0 / of as f64)
}

/// Where an axis label sits: centred on its tick, or flush with the edge near one.
fn edge_class(p: f64) -> &'static str {
    if p < 6.0 {
        " class=\"l\""
    } else if p > 94.0 {
        " class=\"r\""
    } else {
        ""
    }
}

/// The CSS classes of series `i`: a colour, and a dash pattern once the colours are used up.
pub fn series_class(i: usize) -> String {
    let dash = i / PALETTE;
    if dash == 0 {
        format!("s{}", i % PALETTE)
    } else {
        format!("s{} d{}", i % PALETTE, ((dash - 1) % 3) + 1)
    }
}

fn last_level(s: &Series) -> Level {
    s.points.last().map_or(Level::Absent, |p| p.level)
}

/// The words of a timeline, for `aria-label` and `<title>`.
pub fn timeline_summary(t: &Timeline) -> String {
    let mut s = format!(
        "Seats on {} from {} to {}, {} train and seat series",
        t.date,
        mdhm(t.from),
        mdhm(t.to),
        t.series.len()
    );
    let now: Vec<String> = t
        .series
        .iter()
        .filter(|s| s.points.last().is_some_and(|p| p.available))
        .map(|s| format!("{} {} {}", s.train, s.seat.name(), last_level(s).label()))
        .collect();
    if now.is_empty() {
        s.push_str("; none available at the end");
    } else {
        let _ = write!(s, "; available at the end: {}", now.join(", "));
    }
    if !t.alerts.is_empty() {
        let _ = write!(s, "; {} alert(s)", t.alerts.len());
    }
    s
}

/// Writes one timeline as an HTML `<figure>`: the SVG plot, its axes and its legend.
pub fn timeline_html(t: &Timeline, out: &mut String) {
    let points: usize = t.series.iter().map(|s| s.points.len()).sum();
    out.reserve(2048 + 300 * t.series.len() + 9 * points);
    let scale = Scale::for_timeline(t);
    let ticks = time_ticks(t.from, t.to);
    out.push_str("<figure class=\"tl\">");
    timeline_caption(t, out);
    out.push_str("<div class=\"plot\">");
    y_labels(&scale, out);
    timeline_svg(t, &scale, &ticks, out);
    x_labels(&scale, &ticks, out);
    out.push_str("</div>");
    timeline_legend(t, out);
    out.push_str("</figure>");
}

/// The travel date, the span shown, how many changes and alerts it holds.
fn timeline_caption(t: &Timeline, out: &mut String) {
    let changes: u64 = t.series.iter().map(|s| s.changes as u64).sum();
    out.push_str("<figcaption><b>");
    escape_into(out, &date_label(t.date));
    let _ = write!(
        out,
        "</b> <span class=\"mut\">{} → {} · {} change{}",
        mdhm(t.from),
        mdhm(t.to),
        changes,
        if changes == 1 { "" } else { "s" }
    );
    if !t.alerts.is_empty() {
        let _ = write!(
            out,
            " · <span class=\"al-k\">{} alert{}</span>",
            t.alerts.len(),
            if t.alerts.len() == 1 { "" } else { "s" }
        );
    }
    out.push_str("</span></figcaption>");
}

/// The three values the grid lines mark: the top (有 when it is [`PLENTY`]), half, and 0.
fn y_marks(scale: &Scale) -> [(u32, String); 3] {
    let mid = scale.ymax / 2;
    let top_label = if scale.ymax == PLENTY {
        "有".to_string()
    } else {
        scale.ymax.to_string()
    };
    [
        (scale.ymax, top_label),
        (mid, mid.to_string()),
        (0, "0".to_string()),
    ]
}

/// The value axis, as HTML beside the SVG (text would stretch inside it).
fn y_labels(scale: &Scale, out: &mut String) {
    out.push_str("<div class=\"yl\" aria-hidden=\"true\">");
    for (v, label) in y_marks(scale) {
        let _ = write!(out, "<span style=\"top:{}%\">{label}</span>", scale.y(v));
    }
    out.push_str("</div>");
}

/// The plot: grid, alert marks and one step line per series.
fn timeline_svg(t: &Timeline, scale: &Scale, ticks: &[(Time, String)], out: &mut String) {
    let summary = timeline_summary(t);
    let _ = write!(
        out,
        "<svg class=\"chart\" viewBox=\"0 0 {COLUMNS} {HEIGHT}\" preserveAspectRatio=\"none\" role=\"img\" aria-label=\""
    );
    escape_into(out, &summary);
    out.push_str("\"><title>");
    escape_into(out, &summary);
    out.push_str("</title><path class=\"grid\" d=\"");
    for (v, _) in y_marks(scale) {
        let _ = write!(out, "M0 {}H{COLUMNS}", scale.y(v));
    }
    for (tt, _) in ticks {
        let _ = write!(out, "M{} 0V{HEIGHT}", scale.x(*tt));
    }
    out.push_str("\"/>");
    alert_marks(t, scale, out);
    for (i, s) in t.series.iter().enumerate() {
        let class = series_class(i);
        let _ = write!(out, "<path class=\"ln {class}\" d=\"");
        series_path(&s.points, scale, out);
        out.push_str("\"/>");
        if s.points.iter().any(|p| p.level == Level::Plenty) {
            let _ = write!(out, "<path class=\"pl {class}\" d=\"");
            plenty_marks(&s.points, scale, out);
            out.push_str("\"/>");
        }
    }
    out.push_str("</svg>");
}

/// When alerts were sent: a faint line through the plot, and a tick above it that stands out.
fn alert_marks(t: &Timeline, scale: &Scale, out: &mut String) {
    if t.alerts.is_empty() {
        return;
    }
    out.push_str("<g class=\"al\"><title>Alerts: ");
    let times: Vec<String> = t.alerts.iter().map(|a| mdhm(*a)).collect();
    escape_into(out, &times.join(", "));
    out.push_str("</title>");
    let mut xs: Vec<i32> = t.alerts.iter().map(|a| scale.x(*a)).collect();
    xs.dedup();
    out.push_str("<path d=\"");
    for x in &xs {
        let _ = write!(out, "M{x} 0V{HEIGHT}");
    }
    out.push_str("\"/><path class=\"tk\" d=\"");
    for x in &xs {
        let _ = write!(out, "M{x} -4V2");
    }
    out.push_str("\"/></g>");
}

/// The time axis, as HTML below the SVG.
fn x_labels(scale: &Scale, ticks: &[(Time, String)], out: &mut String) {
    out.push_str("<div class=\"xl\" aria-hidden=\"true\">");
    for (tt, label) in ticks {
        let x = scale.x(*tt);
        let p = x as f64 * 100.0 / COLUMNS as f64;
        let _ = write!(out, "<span{} style=\"left:{}%\">", edge_class(p), pct(x, COLUMNS));
        escape_into(out, label);
        out.push_str("</span>");
    }
    out.push_str("</div>");
}

/// Each series with its colour and where it ended, then what the marks mean.
fn timeline_legend(t: &Timeline, out: &mut String) {
    out.push_str("<ul class=\"lg\">");
    for (i, s) in t.series.iter().enumerate() {
        let lv = last_level(s);
        let _ = write!(out, "<li><i class=\"sw {}\"></i>", series_class(i));
        escape_into(out, &s.train);
        out.push(' ');
        out.push_str(s.seat.name());
        let avail = s.points.last().is_some_and(|p| p.available);
        let _ = write!(out, " <b class=\"{}\">", if avail { "yes" } else { "no" });
        escape_into(out, &lv.label());
        out.push_str("</b></li>");
    }
    if t.series
        .iter()
        .any(|s| s.points.iter().any(|p| p.level == Level::Plenty))
    {
        out.push_str("<li class=\"mut\"><i class=\"dot\"></i>有 = 20 or more</li>");
    }
    if !t.alerts.is_empty() {
        out.push_str("<li class=\"mut\"><i class=\"sw alk\"></i>alert sent</li>");
    }
    out.push_str("</ul>");
}

/// The hour with the most returns (the earliest on a tie).
pub fn busiest_hour(h: &HourHistogram) -> Option<usize> {
    let max = *h.counts.iter().max()?;
    (max > 0).then(|| h.counts.iter().position(|c| *c == max).unwrap_or(0))
}

/// Writes the "seats came back at" histogram: 24 bars (Beijing hours), with its numbers in text.
pub fn came_back_html(h: &HourHistogram, out: &mut String) {
    let total = h.total();
    out.push_str("<figure class=\"hist\"><figcaption>");
    let Some(top) = busiest_hour(h) else {
        out.push_str(
            "Seats came back: <span class=\"mut\">no return recorded yet</span></figcaption></figure>",
        );
        return;
    };
    let _ = write!(
        out,
        "Seats came back <b>{total}</b> time{}; most often <b>{top:02}:00–{:02}:00</b> ({})",
        if total == 1 { "" } else { "s" },
        (top + 1) % 24,
        h.counts[top]
    );
    out.push_str("</figcaption>");
    let max = h.counts[top] as f64;
    let words: Vec<String> = h
        .counts
        .iter()
        .enumerate()
        .filter(|(_, c)| **c > 0)
        .map(|(hour, c)| format!("{hour:02}时 {c}"))
        .collect();
    let label = format!(
        "Returns of seats by Beijing hour of day, {total} in all: {}",
        words.join(", ")
    );
    out.push_str("<div class=\"plot\"><svg class=\"bars\" viewBox=\"0 0 240 100\" preserveAspectRatio=\"none\" role=\"img\" aria-label=\"");
    escape_into(out, &label);
    out.push_str("\"><title>");
    escape_into(out, &label);
    out.push_str("</title><path class=\"grid\" d=\"M0 99.5H240\"/>");
    for (hour, c) in h.counts.iter().enumerate() {
        if *c == 0 {
            continue;
        }
        let height = (*c as f64 / max * 96.0).max(2.0);
        let _ = write!(
            out,
            "<rect class=\"bar{}\" x=\"{}\" y=\"{:.1}\" width=\"8\" height=\"{:.1}\"><title>{hour:02}:00–{:02}:59 · {c}</title></rect>",
            if hour == top { " top" } else { "" },
            hour * 10 + 1,
            100.0 - height,
            height,
            hour
        );
    }
    out.push_str("</svg><div class=\"xl\" aria-hidden=\"true\">");
    for hour in [0usize, 6, 12, 18, 23] {
        let p = (hour as f64 * 10.0 + 5.0) / 2.4;
        let _ = write!(out, "<span{} style=\"left:{p:.1}%\">{hour}</span>", edge_class(p));
    }
    out.push_str("</div></div><p class=\"nums\">");
    escape_into(out, &words.join(" · "));
    out.push_str("</p></figure>");
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;
    use crate::seat::SeatClass;

    fn t0() -> Time {
        DateTime::parse_from_rfc3339("2026-11-20T00:00:00+08:00").unwrap()
    }

    fn pt(min: i64, level: Level) -> Point {
        Point {
            at: t0() + TimeDelta::minutes(min),
            level,
            available: level.value().is_some_and(|v| v >= 1),
        }
    }

    /// What a path draws, read back: the level entered at each vertex, `None` where the pen lifts.
    fn read_path(d: &str) -> Vec<(i32, Option<i32>)> {
        let mut out = Vec::new();
        let mut x = 0;
        let mut toks = Vec::new();
        let mut cur = String::new();
        for ch in d.chars() {
            if ch.is_ascii_alphabetic() {
                if !cur.is_empty() {
                    toks.push(cur.clone());
                }
                cur = ch.to_string();
            } else {
                cur.push(ch);
            }
        }
        toks.push(cur);
        let mut pending_h: Option<i32> = None;
        for tok in toks {
            let (cmd, args) = tok.split_at(1);
            let nums: Vec<i32> = args.split_whitespace().map(|n| n.parse().unwrap()).collect();
            match cmd {
                "M" => {
                    if let Some(hx) = pending_h.take() {
                        out.push((hx, None));
                    }
                    x = nums[0];
                    out.push((x, Some(nums[1])));
                }
                "H" => {
                    if let Some(hx) = pending_h.take() {
                        x = hx;
                    }
                    pending_h = Some(nums[0]);
                }
                "V" => {
                    if let Some(hx) = pending_h.take() {
                        x = hx;
                    }
                    out.push((x, Some(nums[0])));
                }
                other => panic!("unexpected command {other}"),
            }
        }
        // A trailing H is the last value held to the end of the axis.
        if let Some(hx) = pending_h {
            assert_eq!(hx, COLUMNS, "the last value is held to the end");
        }
        out
    }

    /// The same, expected from the step function: every merged point's vertex.
    fn expected(points: &[Point], scale: &Scale) -> Vec<(i32, Option<i32>)> {
        let mut out: Vec<(i32, Option<i32>)> = Vec::new();
        for p in points {
            let v = p.level.value().map(|v| scale.y(v));
            let x = scale.x(p.at);
            match (out.last().copied(), v) {
                (None, None) => {}
                (Some((_, None)), None) => {}
                (Some((px, Some(py))), Some(y)) if py == y && px <= x => {}
                _ => out.push((x, v)),
            }
        }
        // The vertex list of a path: a `V` to the same y is omitted, a gap is (x, None).
        out
    }

    fn timeline(series: Vec<Vec<Point>>, from: Time, to: Time) -> Timeline {
        Timeline {
            date: NaiveDate::from_ymd_opt(2026, 12, 5).unwrap(),
            from,
            to,
            series: series
                .into_iter()
                .enumerate()
                .map(|(i, points)| Series {
                    train: format!("G{}", 100 + i),
                    seat: SeatClass::Second,
                    changes: points.len() as u32,
                    points: reduce(&points, from, to),
                })
                .collect(),
            alerts: vec![],
        }
    }

    fn paths(html: &str) -> Vec<String> {
        html.split("<path class=\"ln ")
            .skip(1)
            .map(|s| {
                let d = s.split("d=\"").nth(1).unwrap();
                d[..d.find('"').unwrap()].to_string()
            })
            .collect()
    }

    #[test]
    fn the_drawn_path_is_the_step_function_of_the_series() {
        let points = vec![
            pt(0, Level::Seats(0)),
            pt(60, Level::Seats(3)),
            pt(120, Level::Seats(5)),
            pt(180, Level::NotOnSale),
            pt(240, Level::Plenty),
            pt(300, Level::Seats(0)),
            pt(360, Level::Absent),
            pt(420, Level::Seats(2)),
        ];
        let from = t0();
        let to = t0() + TimeDelta::minutes(600);
        let t = timeline(vec![points.clone()], from, to);
        let mut html = String::new();
        timeline_html(&t, &mut html);
        let d = &paths(&html)[0];
        let scale = Scale::for_timeline(&t);
        assert_eq!(read_path(d), expected(&points, &scale));
        // Concretely: 有 at the top, 无 at zero, gaps for * and a gone class.
        assert_eq!(scale.y(20), 6);
        assert_eq!(scale.y(0), 94);
        assert!(
            d.starts_with("M0 94H60V81H120V72H180M240 6H300V94H360M420 85H600"),
            "{d}"
        );
        assert!(
            html.contains("<path class=\"pl s0\" d=\"M240 6h0\"/>"),
            "有 gets its dot"
        );
    }

    #[test]
    fn merging_equal_neighbours_keeps_every_change_under_the_bound() {
        // 1 000 changes with repeats in between (a poll that saw the same value again).
        let mut points = Vec::new();
        for i in 0..2000 {
            let v = if i % 2 == 0 {
                (i / 2) % 7
            } else {
                ((i - 1) / 2) % 7
            };
            points.push(pt(i as i64, Level::Seats(v)));
        }
        let from = t0();
        let to = t0() + TimeDelta::minutes(2000);
        let reduced = reduce(&points, from, to);
        let mut changes = points.clone();
        changes.dedup_by(|b, a| a.level == b.level);
        assert!(changes.len() <= POINT_BOUND);
        assert_eq!(reduced, changes, "every change survives, only repeats go");
    }

    #[test]
    fn a_long_busy_series_is_bounded_and_draws_the_same_columns() {
        // 90 days, a change every 2 minutes: 64 800 changes on 600 columns.
        let mut points = Vec::new();
        for i in 0..64_800i64 {
            let v = ((i * 7919) % 23) as u32;
            let level = match v {
                21 => Level::NotOnSale,
                22 => Level::Plenty,
                n => Level::Seats(n),
            };
            points.push(pt(i * 2, level));
        }
        let from = t0();
        let to = t0() + TimeDelta::days(90);
        let reduced = reduce(&points, from, to);
        assert!(reduced.len() <= POINT_BOUND, "{} points", reduced.len());
        // Per column: the extent of values and the value the column ends with are unchanged.
        let scale = Scale::new(from, to, PLENTY);
        let summary = |ps: &[Point]| {
            let mut cols: std::collections::BTreeMap<i32, (u32, u32, Option<u32>, bool)> = Default::default();
            for p in ps {
                let e = cols.entry(scale.x(p.at)).or_insert((u32::MAX, 0, None, false));
                if let Some(v) = p.level.value() {
                    e.0 = e.0.min(v);
                    e.1 = e.1.max(v);
                } else {
                    e.3 = true;
                }
                e.2 = p.level.value();
            }
            cols
        };
        assert_eq!(summary(&reduced), summary(&points));
        let mut html = String::new();
        timeline_html(&timeline(vec![points], from, to), &mut html);
        assert!(html.len() < 40_000, "{} bytes", html.len());
    }

    #[test]
    fn points_before_the_window_leave_only_the_value_at_its_start() {
        let points = vec![
            pt(0, Level::Seats(1)),
            pt(10, Level::Seats(2)),
            pt(100, Level::Seats(3)),
        ];
        let reduced = reduce(
            &points,
            t0() + TimeDelta::minutes(50),
            t0() + TimeDelta::minutes(200),
        );
        assert_eq!(reduced, vec![points[1], points[2]]);
    }

    #[test]
    fn alerts_and_the_legend_are_drawn_and_text_is_escaped() {
        let from = t0();
        let to = t0() + TimeDelta::hours(10);
        let mut t = timeline(
            vec![vec![pt(0, Level::Seats(0)), pt(60, Level::Seats(4))]],
            from,
            to,
        );
        t.series[0].train = "<script>alert(1)</script>".into();
        t.alerts = vec![t0() + TimeDelta::minutes(60)];
        let mut html = String::new();
        timeline_html(&t, &mut html);
        assert!(!html.contains("<script>"));
        assert!(html.contains("&#60;script&#62;alert(1)&#60;/script&#62; 二等座 <b class=\"yes\">4</b>"));
        assert!(
            html.contains("<g class=\"al\"><title>Alerts: 11-20 01:00</title><path d=\"M60 0V100\"/><path class=\"tk\" d=\"M60 -4V2\"/></g>")
        );
        assert!(
            html.contains("role=\"img\" aria-label=\"Seats on 2026-12-05 from 11-20 00:00 to 11-20 10:00")
        );
    }

    #[test]
    fn time_ticks_are_beijing_hours_or_dates() {
        let from = t0() + TimeDelta::minutes(90);
        let ticks = time_ticks(from, from + TimeDelta::hours(10));
        let labels: Vec<&str> = ticks.iter().map(|(_, l)| l.as_str()).collect();
        assert_eq!(labels, ["02:00", "04:00", "06:00", "08:00", "10:00"]);
        let ticks = time_ticks(from, from + TimeDelta::days(14));
        let labels: Vec<&str> = ticks.iter().map(|(_, l)| l.as_str()).collect();
        assert_eq!(labels, ["11-21", "11-25", "11-29", "12-03"]);
        // A UTC input still ticks at Beijing midnight.
        let utc = DateTime::parse_from_rfc3339("2026-11-19T16:30:00+00:00").unwrap();
        assert_eq!(time_ticks(utc, utc + TimeDelta::days(3))[0].1, "11-21");
    }

    #[test]
    fn the_histogram_shows_every_count_as_bars_and_text() {
        let mut h = HourHistogram::default();
        h.counts[8] = 9;
        h.counts[14] = 5;
        h.counts[23] = 1;
        let mut html = String::new();
        came_back_html(&h, &mut html);
        assert!(html.contains("Seats came back <b>15</b> times; most often <b>08:00–09:00</b> (9)"));
        assert_eq!(html.matches("<rect").count(), 3);
        assert!(html.contains("<rect class=\"bar top\" x=\"81\" y=\"4.0\" width=\"8\" height=\"96.0\"><title>08:00–08:59 · 9</title>"));
        assert!(html.contains("<p class=\"nums\">08时 9 · 14时 5 · 23时 1</p>"));
        let mut empty = String::new();
        came_back_html(&HourHistogram::default(), &mut empty);
        assert!(empty.contains("no return recorded yet"));
        assert!(!empty.contains("<svg"));
    }
}
