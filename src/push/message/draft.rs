//! What every push shares once written: the assembly into a [`PushMessage`] (the idempotency
//! key, the Markdown body) and the short formats titles use.

use std::fmt::Write as _;

use chrono::{DateTime, FixedOffset, NaiveDate};
use sha2::{Digest, Sha256};

use super::{Link, PushDetails, PushEvent, PushMessage};
use crate::notify::seats::watch_booking_url;
use crate::watchlist::Watch;

/// Most trains a seat push lists one by one; the rest are counted.
pub const MAX_TRAINS: usize = 4;

/// A Markdown hard line break (CommonMark: two trailing spaces).
pub const MD_BREAK: &str = "  \n";

/// A push as written, before [`Draft::finish`] gives it its identity.
pub(super) struct Draft {
    pub(super) event: PushEvent,
    pub(super) title: String,
    /// Plain-text lines.
    pub(super) text: Vec<String>,
    /// The same lines as Markdown.
    pub(super) md: Vec<String>,
    pub(super) link: Option<Link>,
    pub(super) urgent: bool,
    pub(super) details: PushDetails,
}

impl Draft {
    /// A push whose Markdown lines are its plain lines, escaped; no link, not urgent, no details.
    pub(super) fn plain(event: PushEvent, title: String, lines: Vec<String>) -> Draft {
        let md = lines.iter().map(|l| md_escape(l)).collect();
        Draft {
            event,
            title,
            text: lines,
            md,
            link: None,
            urgent: false,
            details: PushDetails::default(),
        }
    }

    /// Assembles the message; the idempotency key hashes everything that identifies the event.
    pub(super) fn finish(self, now: DateTime<FixedOffset>) -> PushMessage {
        let Draft {
            event,
            title,
            text,
            md,
            link,
            urgent,
            details,
        } = self;
        let text = text.join("\n");
        let mut hash = Sha256::new();
        for part in [event.as_str(), &title, &text, &now.to_rfc3339()] {
            hash.update(part.as_bytes());
            hash.update([0u8]);
        }
        let digest = hash.finalize();
        let mut key = format!("yp-{}-", event.as_str());
        for b in &digest[..12] {
            let _ = write!(key, "{b:02x}");
        }
        PushMessage {
            event,
            title,
            text,
            markdown: md.join(MD_BREAK),
            link,
            urgent,
            idempotency_key: key,
            created_at: now,
            details,
        }
    }
}

/// Backslash-escapes what CommonMark (and the robots' Markdown) would read as markup, so text
/// taken from data (watch names, reasons) shows as typed.
pub fn md_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(
            c,
            '\\' | '`' | '*' | '_' | '[' | ']' | '(' | ')' | '#' | '>' | '<' | '~' | '|' | '!'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `12-04`.
pub(super) fn short_date(date: NaiveDate) -> String {
    date.format("%m-%d").to_string()
}

/// `14:30` on the same day as `now`, else `12-05 14:30`.
pub(super) fn deadline_short(t: DateTime<FixedOffset>, now: DateTime<FixedOffset>) -> String {
    let t = t.with_timezone(&crate::clock::beijing());
    if t.date_naive() == now.with_timezone(&crate::clock::beijing()).date_naive() {
        t.format("%H:%M").to_string()
    } else {
        t.format("%m-%d %H:%M").to_string()
    }
}

/// A link to 12306's booking page for `watch`'s route on `date`.
pub(super) fn booking_link(label: &str, rail_url: &str, watch: &Watch, date: NaiveDate) -> Link {
    Link {
        label: label.to_string(),
        href: watch_booking_url(rail_url, watch, date),
    }
}
