//! The schema, as an append-only list of SQL steps counted by `PRAGMA user_version`.
//!
//! Step `i` takes the schema from version `i` to `i + 1`; a shipped step is never edited (a
//! database in the field has run it), so a change is always a new step at the end. Only SQLite
//! 3.40 features are used (STRICT tables, UPSERT, JSON text), so Debian's `sqlite3` can open the
//! file.

/// Append-only: step `i` takes the schema from version `i` to `i + 1`. Never edit a shipped step.
pub(super) const MIGRATIONS: &[&str] = &[
    // 1: initial schema.
    r#"
CREATE TABLE seat_state (
    watch       TEXT    NOT NULL,
    date        TEXT    NOT NULL,          -- YYYY-MM-DD
    train       TEXT    NOT NULL,          -- G8294
    seat        TEXT    NOT NULL,          -- 二等座
    raw         TEXT    NOT NULL,          -- 有 / 无 / 3 / * ; '' = gone
    count       INTEGER,
    price_jiao  INTEGER,
    available   INTEGER NOT NULL CHECK (available IN (0, 1)),
    alerted     INTEGER NOT NULL CHECK (alerted IN (0, 1)),
    since       INTEGER NOT NULL,          -- unix ms of the last change
    PRIMARY KEY (watch, date, train, seat)
) STRICT, WITHOUT ROWID;

CREATE TABLE seat_history (
    id          INTEGER PRIMARY KEY,
    at          INTEGER NOT NULL,          -- unix ms
    watch       TEXT    NOT NULL,
    date        TEXT    NOT NULL,
    train       TEXT    NOT NULL,
    seat        TEXT    NOT NULL,
    raw         TEXT    NOT NULL,
    count       INTEGER,
    price_jiao  INTEGER,
    available   INTEGER NOT NULL CHECK (available IN (0, 1))
) STRICT;

CREATE TABLE train_alert (
    watch       TEXT    NOT NULL,
    date        TEXT    NOT NULL,
    train       TEXT    NOT NULL,
    last_alert_at INTEGER NOT NULL,
    PRIMARY KEY (watch, date, train)
) STRICT, WITHOUT ROWID;

CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    created_at      INTEGER NOT NULL,
    watch           TEXT    NOT NULL,
    kind            TEXT    NOT NULL,
    recipients      TEXT    NOT NULL CHECK (json_valid(recipients)
                                            AND json_type(recipients) = 'array'
                                            AND json_array_length(recipients) > 0),
    subject         TEXT    NOT NULL,
    body_text       TEXT    NOT NULL,
    body_html       TEXT    NOT NULL,
    state           TEXT    NOT NULL DEFAULT 'pending'
                            CHECK (state IN ('pending', 'sent', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT,
    sent_at         INTEGER,
    server_answer   TEXT
) STRICT;
CREATE INDEX outbox_due ON outbox (state, next_attempt_at);
CREATE INDEX outbox_watch ON outbox (watch, state);

CREATE TABLE watch_status (
    watch                TEXT    NOT NULL PRIMARY KEY,
    last_poll_at         INTEGER,
    outcome              TEXT,     -- ok | throttled: … | error: … | night
    last_error           TEXT,
    next_run_at          INTEGER,
    backoff_level        INTEGER NOT NULL DEFAULT 0,
    backoff_until        INTEGER,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    finished             INTEGER NOT NULL DEFAULT 0 CHECK (finished IN (0, 1))
) STRICT, WITHOUT ROWID;

CREATE TABLE fact (
    key         TEXT    NOT NULL PRIMARY KEY,
    value       TEXT    NOT NULL,
    updated_at  INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE VIEW seat_history_readable AS
    SELECT id, datetime(at / 1000, 'unixepoch', '+8 hours') AS at_beijing, watch, date, train,
           seat, raw, count, price_jiao, available
    FROM seat_history;

CREATE VIEW outbox_readable AS
    SELECT id, datetime(created_at / 1000, 'unixepoch', '+8 hours') AS created_beijing, watch,
           kind, recipients, subject, state, attempts,
           datetime(next_attempt_at / 1000, 'unixepoch', '+8 hours') AS next_attempt_beijing,
           last_error, datetime(sent_at / 1000, 'unixepoch', '+8 hours') AS sent_beijing,
           server_answer
    FROM outbox;
"#,
    // 2: 候补 (waitlist) following: the decision state per [[waitlist]] and its change history.
    r#"
CREATE TABLE waitlist_state (
    name        TEXT    NOT NULL PRIMARY KEY,   -- the [[waitlist]] name
    state       TEXT    NOT NULL,               -- JSON of crate::waitlist's state
    updated_at  INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE waitlist_history (
    id          INTEGER PRIMARY KEY,
    at          INTEGER NOT NULL,
    name        TEXT    NOT NULL,
    snapshot    TEXT    NOT NULL                -- JSON: what the order looked like from `at` on
) STRICT;
"#,
    // 3: 抢票 grab orders through Juhe. The row is written BEFORE createOrder is sent (the
    // outOrderNo is the idempotency key); ID numbers are never stored, only masked summaries.
    r#"
CREATE TABLE grab_order (
    out_order_no   TEXT    NOT NULL PRIMARY KEY,
    watch          TEXT    NOT NULL,
    date           TEXT    NOT NULL,               -- YYYY-MM-DD travel date
    state          TEXT    NOT NULL,               -- intent | N B D F U O C T E | abandoned
    order_no       TEXT,                           -- Juhe's orderNo once known
    summary        TEXT    NOT NULL,               -- JSON, no secrets: trains, seats, stations, passengers (masked)
    detail         TEXT,                           -- JSON of the last orderDetail (masked)
    last_error     TEXT,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    next_check_at  INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX grab_order_by_watch ON grab_order (watch, date);

CREATE TABLE grab_event (
    id            INTEGER PRIMARY KEY,
    at            INTEGER NOT NULL,
    out_order_no  TEXT    NOT NULL,
    state         TEXT    NOT NULL,
    note          TEXT    NOT NULL
) STRICT;

CREATE TABLE juhe_push (
    dedupe_key    TEXT    NOT NULL PRIMARY KEY,     -- outOrderNo:type:msgCode
    received_at   INTEGER NOT NULL,
    out_order_no  TEXT    NOT NULL,
    kind          INTEGER NOT NULL,
    msg_code      TEXT    NOT NULL
) STRICT, WITHOUT ROWID;
"#,
    // 4: why nothing matched a (watch, date) at its last poll (for `status`), and every watch an
    // email serves: one alert per recipient names all the watches a train and date satisfy.
    r#"
CREATE TABLE match_note (
    watch       TEXT    NOT NULL,
    date        TEXT    NOT NULL,
    at          INTEGER NOT NULL,          -- unix ms of the poll that saw it
    note        TEXT    NOT NULL,          -- JSON of crate::filter::NoMatch
    PRIMARY KEY (watch, date)
) STRICT, WITHOUT ROWID;

CREATE TABLE outbox_serves (
    outbox_id   INTEGER NOT NULL,
    watch       TEXT    NOT NULL,
    PRIMARY KEY (outbox_id, watch)
) STRICT, WITHOUT ROWID;
CREATE INDEX outbox_serves_by_watch ON outbox_serves (watch, outbox_id);
"#,
    // 5: issue 10. Cancel and refund requests get their own table (the daemon used to read them
    // back from event notes); the grab follower asks SQL which orders are due (index); a
    // resubmission Juhe refused is a flag, not a prefix of `last_error`. Requests and flags of
    // existing orders are carried over from their events and errors.
    r#"
CREATE TABLE grab_request (
    id            INTEGER PRIMARY KEY,
    out_order_no  TEXT    NOT NULL,
    kind          TEXT    NOT NULL CHECK (kind IN ('cancel', 'refund')),
    passenger_id  TEXT,                    -- refund: whose ticket
    at            INTEGER NOT NULL,
    answered_at   INTEGER                  -- refund: when Juhe's answer was recorded
) STRICT;
CREATE INDEX grab_request_by_order ON grab_request (out_order_no);
CREATE INDEX grab_order_due ON grab_order (next_check_at);
ALTER TABLE grab_order ADD COLUMN resubmit_refused INTEGER NOT NULL DEFAULT 0
    CHECK (resubmit_refused IN (0, 1));

INSERT INTO grab_request (out_order_no, kind, passenger_id, at)
    SELECT out_order_no, 'cancel', NULL, at FROM grab_event WHERE note LIKE 'cancel requested%';
INSERT INTO grab_request (out_order_no, kind, passenger_id, at, answered_at)
    SELECT e.out_order_no, 'refund',
           substr(e.note, length('refund requested for passenger ') + 1), e.at,
           (SELECT min(a.at) FROM grab_event a
             WHERE a.out_order_no = e.out_order_no AND a.id > e.id
               AND (a.note LIKE '%已退票%' OR a.note LIKE '%退票失败%'))
    FROM grab_event e WHERE e.note LIKE 'refund requested%';
UPDATE grab_order SET resubmit_refused = 1
    WHERE state = 'intent' AND last_error LIKE 'resubmit refused%';
"#,
    // 6: issue 11. Instant push: one row per (event, channel), written in the same transaction
    // as the change, beside the email rows of the same event. The message is stored whole (JSON
    // of push::PushMessage) and shaped into the service's request at send time (DingTalk and
    // Feishu signatures expire). `UNIQUE (channel, event_key)`: one push per channel per event.
    // `dropped`: a seat alert held by quiet hours whose seats were gone when the hours ended.
    r#"
CREATE TABLE push_outbox (
    id              INTEGER PRIMARY KEY,
    created_at      INTEGER NOT NULL,
    watch           TEXT    NOT NULL,          -- the JobKey it is filed under
    channel         TEXT    NOT NULL,          -- the [[channel]] name
    event_key       TEXT    NOT NULL,          -- PushMessage.idempotency_key
    message         TEXT    NOT NULL CHECK (json_valid(message)),
    urgent          INTEGER NOT NULL CHECK (urgent IN (0, 1)),
    state           TEXT    NOT NULL DEFAULT 'pending'
                            CHECK (state IN ('pending', 'sent', 'failed', 'dropped')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT,
    sent_at         INTEGER,
    server_answer   TEXT,
    UNIQUE (channel, event_key)
) STRICT;
CREATE INDEX push_outbox_due ON push_outbox (state, next_attempt_at);
CREATE INDEX push_outbox_by_channel ON push_outbox (channel, state);
"#,
    // 7: issue 12 (起售). What the daemon learnt about openings, kept across restarts and read by
    // `status`: each boarding station's daily sale time from field 55, the last `qss.js` (fetched
    // at most daily), and 12306's clock as last measured.
    r#"
CREATE TABLE sale_station_time (
    telecode    TEXT    NOT NULL PRIMARY KEY,
    time        TEXT    NOT NULL,          -- HH:MM, Beijing
    seen_on     TEXT    NOT NULL           -- YYYY-MM-DD, 12306's day of the row that said it
) STRICT, WITHOUT ROWID;

CREATE TABLE qss_cache (
    id          INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    url         TEXT    NOT NULL,
    body        TEXT    NOT NULL,
    fetched_at  INTEGER NOT NULL           -- unix ms
) STRICT;

CREATE TABLE rail_clock (
    id             INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    offset_ms      INTEGER NOT NULL,       -- 12306's clock minus this machine's
    uncertainty_ms INTEGER NOT NULL,
    round_trip_ms  INTEGER NOT NULL,
    measured_at    INTEGER NOT NULL,       -- unix ms, this machine's clock
    presale_days   INTEGER
) STRICT;
"#,
];

/// Schema version this binary writes.
pub(super) const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;
