//! One email per person per event: the seat alerts of one poll cycle, grouped (pure).
//!
//! Alert *state* stays per watch (each watch's gap and deferral are its own, see
//! [`crate::decide`]); only the emails are merged. Two watches that share a route and date (an
//! alert watch and a grab watch for the same train, say) see the same seats appear in the same
//! answer: one person must get one email naming both, not two identical ones. And a new watch
//! whose dates all have seats on its first poll gets one email listing the dates, not one per
//! date.
//!
//! The rule, per recipient: every (date, train) of the cycle is one *section* naming every watch
//! it satisfies; sections that share a watch go into one email. Emails whose content is the same
//! for several recipients are sent once to all of them.

use chrono::NaiveDate;

use crate::filter::TrainMatch;
use crate::watchlist::Watch;

/// Seats that just appeared for one watch on one date (the alerted seats of its decision).
#[derive(Debug, Clone)]
pub struct Appeared<'a> {
    pub watch: &'a Watch,
    pub date: NaiveDate,
    pub trains: &'a [TrainMatch],
    /// Who this watch notifies.
    pub recipients: &'a [String],
}

/// One train on one date in an email, and every watch it satisfies.
#[derive(Debug, Clone, PartialEq)]
pub struct Section {
    pub date: NaiveDate,
    /// The train with the appeared seats of every watch it serves (first watch's order first).
    pub train: TrainMatch,
    /// Indexes into [`GroupedAlert::watches`].
    pub watches: Vec<usize>,
}

/// One email of the cycle.
#[derive(Debug, Clone)]
pub struct GroupedAlert<'a> {
    pub recipients: Vec<String>,
    /// Every watch the email serves, in the order they were polled.
    pub watches: Vec<&'a Watch>,
    /// In the order the answers came: by date, then 12306's train order.
    pub sections: Vec<Section>,
}

impl GroupedAlert<'_> {
    /// The names of the watches served (the first is the one the email is filed under).
    pub fn watch_names(&self) -> Vec<String> {
        self.watches.iter().map(|w| w.name.clone()).collect()
    }

    /// The distinct dates, in order.
    pub fn dates(&self) -> Vec<NaiveDate> {
        let mut dates: Vec<NaiveDate> = Vec::new();
        for s in &self.sections {
            if !dates.contains(&s.date) {
                dates.push(s.date);
            }
        }
        dates
    }
}

/// Groups the alerts of one cycle into emails (see the module docs). Watches are named in the
/// order of the watch list, dates in calendar order.
pub fn group<'a>(appeared: &[Appeared<'a>]) -> Vec<GroupedAlert<'a>> {
    let mut appeared = appeared.to_vec();
    appeared.sort_by_key(|a| (a.watch.line, a.date));
    let appeared = appeared.as_slice();
    let mut recipients: Vec<&String> = Vec::new();
    for a in appeared {
        for r in a.recipients {
            if !recipients.contains(&r) {
                recipients.push(r);
            }
        }
    }
    let mut emails: Vec<(String, GroupedAlert<'a>)> = Vec::new();
    for r in recipients {
        for email in emails_for(appeared, r) {
            let key = content_key(&email);
            match emails.iter_mut().find(|(k, _)| *k == key) {
                Some((_, e)) => e.recipients.push(r.clone()),
                None => emails.push((key, email)),
            }
        }
    }
    emails.into_iter().map(|(_, e)| e).collect()
}

/// One (date, train) of a recipient's alerts: the train with the seats of every watch, and
/// the watches.
type RawSection<'a> = (NaiveDate, TrainMatch, Vec<&'a Watch>);

/// The sections of one recipient's alerts: one per (date, train), seats and watches merged.
fn sections_for<'a>(appeared: &[Appeared<'a>], recipient: &String) -> Vec<RawSection<'a>> {
    let mut sections: Vec<RawSection<'a>> = Vec::new();
    for a in appeared.iter().filter(|a| a.recipients.contains(recipient)) {
        for t in a.trains {
            let found = sections
                .iter_mut()
                .find(|(d, s, _)| *d == a.date && s.station_train_code == t.station_train_code);
            match found {
                Some((_, merged, watches)) => {
                    for seat in &t.seats {
                        if !merged.seats.iter().any(|m| m.seat == seat.seat) {
                            merged.seats.push(seat.clone());
                        }
                    }
                    if !watches.iter().any(|w| w.name == a.watch.name) {
                        watches.push(a.watch);
                    }
                }
                None => sections.push((a.date, t.clone(), vec![a.watch])),
            }
        }
    }
    sections
}

/// For each section, the first section of its group: sections that share a watch belong
/// together (union-find over section indexes).
fn groups(sections: &[RawSection<'_>]) -> Vec<usize> {
    let mut parent: Vec<usize> = (0..sections.len()).collect();
    fn root(parent: &mut [usize], i: usize) -> usize {
        let mut i = i;
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    for i in 0..sections.len() {
        for j in (i + 1)..sections.len() {
            let shared = sections[i]
                .2
                .iter()
                .any(|w| sections[j].2.iter().any(|v| v.name == w.name));
            if shared {
                let (a, b) = (root(&mut parent, i), root(&mut parent, j));
                parent[b.max(a)] = a.min(b);
            }
        }
    }
    (0..sections.len()).map(|i| root(&mut parent, i)).collect()
}

/// The emails one recipient gets.
fn emails_for<'a>(appeared: &[Appeared<'a>], recipient: &String) -> Vec<GroupedAlert<'a>> {
    let sections = sections_for(appeared, recipient);
    let roots = groups(&sections);
    let mut out: Vec<(usize, GroupedAlert<'a>)> = Vec::new();
    for (i, (date, train, watches)) in sections.into_iter().enumerate() {
        let r = roots[i];
        let pos = match out.iter().position(|(root, _)| *root == r) {
            Some(p) => p,
            None => {
                out.push((
                    r,
                    GroupedAlert {
                        recipients: vec![recipient.clone()],
                        watches: Vec::new(),
                        sections: Vec::new(),
                    },
                ));
                out.len() - 1
            }
        };
        let email = &mut out[pos].1;
        let mut idx = Vec::new();
        for w in watches {
            let k = match email.watches.iter().position(|x| x.name == w.name) {
                Some(k) => k,
                None => {
                    email.watches.push(w);
                    email.watches.len() - 1
                }
            };
            idx.push(k);
        }
        email.sections.push(Section {
            date,
            train,
            watches: idx,
        });
    }
    for (_, e) in &mut out {
        e.sections.sort_by_key(|s| s.date);
    }
    out.into_iter().map(|(_, e)| e).collect()
}

/// What makes two recipients' emails the same email.
fn content_key(e: &GroupedAlert<'_>) -> String {
    let mut key = e.watch_names().join("\u{1f}");
    for s in &e.sections {
        let seats: Vec<&str> = s.train.seats.iter().map(|x| x.raw.as_str()).collect();
        let names: Vec<&str> = s.train.seats.iter().map(|x| x.seat.name()).collect();
        key.push_str(&format!(
            "\u{1e}{}|{}|{:?}|{:?}|{:?}",
            s.date, s.train.station_train_code, names, seats, s.watches
        ));
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::render::tests::{day, one_train, train, watch};
    use crate::seat::SeatClass;

    fn to(addrs: &[&str]) -> Vec<String> {
        addrs.iter().map(|a| a.to_string()).collect()
    }

    #[test]
    fn an_alert_watch_and_a_grab_watch_on_the_same_train_make_one_email_naming_both() {
        let alert = watch("提醒");
        let mut grab = watch("抢票");
        grab.action = crate::watchlist::WatchAction::Grab;
        let trains = one_train();
        let me = to(&["me@example.com"]);
        let appeared = [
            Appeared {
                watch: &alert,
                date: day(),
                trains: &trains,
                recipients: &me,
            },
            Appeared {
                watch: &grab,
                date: day(),
                trains: &trains,
                recipients: &me,
            },
        ];
        let emails = group(&appeared);
        assert_eq!(emails.len(), 1);
        assert_eq!(emails[0].watch_names(), ["提醒", "抢票"]);
        assert_eq!(emails[0].sections.len(), 1);
        assert_eq!(emails[0].sections[0].watches, [0, 1]);
        assert_eq!(emails[0].recipients, me);
    }

    #[test]
    fn the_dates_of_one_watch_go_together_and_other_people_get_their_own() {
        let a = watch("A");
        let b = watch("B");
        let d1 = day();
        let d2 = d1.succ_opt().unwrap();
        let g = one_train();
        let d = vec![train(
            "D3010",
            vec![crate::filter::SeatMatch {
                seat: SeatClass::First,
                raw: "5".into(),
                count: Some(5),
                price_jiao: Some(980),
                available: true,
            }],
        )];
        let (me, both) = (to(&["me@x.cn"]), to(&["me@x.cn", "you@x.cn"]));
        let appeared = [
            Appeared {
                watch: &a,
                date: d1,
                trains: &g,
                recipients: &me,
            },
            Appeared {
                watch: &a,
                date: d2,
                trains: &g,
                recipients: &me,
            },
            Appeared {
                watch: &b,
                date: d2,
                trains: &d,
                recipients: &both,
            },
        ];
        let emails = group(&appeared);
        // me: A's two dates in one email, B (another train) in another; you: the same B email.
        assert_eq!(emails.len(), 2, "{emails:#?}");
        assert_eq!(emails[0].watch_names(), ["A"]);
        assert_eq!(emails[0].dates(), [d1, d2]);
        assert_eq!(emails[0].recipients, me);
        assert_eq!(emails[1].watch_names(), ["B"]);
        assert_eq!(emails[1].recipients, both, "one email to both, not one each");
    }
}
