//! Beijing time. 12306 and the user both think in Asia/Shanghai (UTC+8, no DST since 1991), so
//! every "now" and "today" in yupiao comes from here, as an explicit +08:00 offset.

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};

/// UTC+8.
pub fn beijing() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("+08:00 is a valid offset")
}

/// The current time in Beijing.
pub fn now() -> DateTime<FixedOffset> {
    Utc::now().with_timezone(&beijing())
}

/// Today's date in Beijing.
pub fn today() -> NaiveDate {
    now().date_naive()
}
