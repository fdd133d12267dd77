//! Identity numbers: checking a 身份证号 and keeping ID and phone numbers out of sight.
//!
//! A grab order carries each passenger's ID number to Juhe, so the watch list has to hold them.
//! Everywhere else (logs, emails, `orders` output, diagnostics, `Debug` dumps) a number must only
//! ever appear masked. [`IdNumber`] makes that the default: its `Debug` and `Display` print the
//! masked form, and the raw value is reachable only through [`IdNumber::expose`], which is easy to
//! grep for. The functions here are pure (no clock, no I/O).

use std::fmt;

use chrono::NaiveDate;

/// GB 11643-1999 weights of the first 17 digits.
const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
/// Check character for each value of the weighted sum mod 11.
const CHECK_CHARS: &[u8; 11] = b"10X98765432";

/// An identity document number, stored as written (trimmed, letters upper-cased), shown masked.
///
/// `PartialEq` compares the real values, so two entries of the same number are equal.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct IdNumber(String);

impl IdNumber {
    /// Wraps a number, trimming it and upper-casing letters (`x` → `X`).
    pub fn new(raw: &str) -> IdNumber {
        IdNumber(raw.trim().to_ascii_uppercase())
    }

    /// The whole number. Only for the one place that needs it: the order sent to Juhe.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The masked form, as [`mask_id`] gives it.
    pub fn masked(&self) -> String {
        mask_id(&self.0)
    }
}

impl fmt::Debug for IdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("IdNumber").field(&self.masked()).finish()
    }
}

impl fmt::Display for IdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

/// Keeps `head` leading and `tail` trailing characters and stars the rest; strings too short to
/// hide at least 4 characters are starred completely.
fn mask(s: &str, head: usize, tail: usize) -> String {
    let chars: Vec<char> = s.trim().chars().collect();
    let n = chars.len();
    if n < head + tail + 4 {
        return "*".repeat(n);
    }
    let mut out: String = chars[..head].iter().collect();
    out.push_str(&"*".repeat(n - head - tail));
    out.extend(&chars[n - tail..]);
    out
}

/// An ID number for display: first 4 and last 3 characters, stars between
/// (`3623***********030`). Shorter numbers keep their first character and last two, or nothing.
pub fn mask_id(s: &str) -> String {
    // Masking is applied even to text that already has stars: re-masking 12306's own
    // `3623***********030` gives the same string, and a half-masked number gets fully masked.
    let n = s.trim().chars().count();
    if n >= 14 { mask(s, 4, 3) } else { mask(s, 1, 2) }
}

#[cfg(test)]
mod masking_tests {
    use super::*;

    #[test]
    fn already_masked_numbers_stay_and_half_masked_ones_are_masked_again() {
        assert_eq!(mask_id("3623***********030"), "3623***********030");
        assert_eq!(
            mask_id("36232119900101****"),
            "3623**************",
            "no digit of the middle survives"
        );
        assert_eq!(
            scrub_numbers("未通过身份效验 张三 362321199001011030"),
            "未通过身份效验 张三 3623***********030"
        );
        assert_eq!(scrub_numbers("车次 G8294 余票 12345"), "车次 G8294 余票 12345");
    }
}

/// Masks every run of 6 or more digits (with a trailing `X`) in free text from a service —
/// Juhe's `failMsg` says "未通过身份效验 张三 320382…3916" — so it can be stored, logged and
/// emailed without whole ID or phone numbers.
pub fn scrub_numbers(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_ascii_digit() {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_digit() || matches!(chars[i], 'X' | 'x')) {
                i += 1;
            }
            let run: String = chars[start..i].iter().collect();
            if run.len() >= 6 {
                out.push_str(&mask_id(&run));
            } else {
                out.push_str(&run);
            }
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

/// A phone number for display: first 3 and last 4 characters, stars between (`138****5678`).
/// Shorter numbers keep their first character and last two, or nothing.
pub fn mask_phone(s: &str) -> String {
    let n = s.trim().chars().count();
    if n >= 11 { mask(s, 3, 4) } else { mask(s, 1, 2) }
}

/// Checks a mainland resident ID number (居民身份证号, GB 11643-1999) and returns the birth date
/// inside it.
///
/// 18 characters: 17 digits and a check character (a digit or `X`, either case), the birth date
/// `YYYYMMDD` in characters 7–14, and the weighted mod-11 checksum. The error never contains the
/// number itself, so callers can put it in a message next to the [masked](mask_id) number.
pub fn resident_id_ok(s: &str) -> Result<NaiveDate, &'static str> {
    let b = s.trim().as_bytes();
    if b.len() != 18 {
        return Err("a 身份证号 has 18 characters (17 digits and a check digit or X)");
    }
    if !b[..17].iter().all(u8::is_ascii_digit) || !(b[17].is_ascii_digit() || b[17] == b'X' || b[17] == b'x')
    {
        return Err("a 身份证号 is 17 digits followed by a digit or X");
    }
    let digits = |r: std::ops::Range<usize>| b[r].iter().fold(0, |n, d| n * 10 + u32::from(d - b'0'));
    let birth = i32::try_from(digits(6..10))
        .ok()
        .filter(|y| *y >= 1900)
        .and_then(|y| NaiveDate::from_ymd_opt(y, digits(10..12), digits(12..14)))
        .ok_or("the birth date inside it (characters 7-14, YYYYMMDD) is not a real date")?;
    let sum: u32 = b[..17]
        .iter()
        .zip(WEIGHTS)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    if CHECK_CHARS[(sum % 11) as usize] != b[17].to_ascii_uppercase() {
        return Err(
            "its check character (the last one) does not match the others: a digit is probably mistyped",
        );
    }
    Ok(birth)
}

/// The check character for the first 17 digits of a 身份证号 (for building test numbers).
#[cfg(test)]
pub(crate) fn check_char(first17: &str) -> char {
    let sum: u32 = first17
        .bytes()
        .zip(WEIGHTS)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    char::from(CHECK_CHARS[(sum % 11) as usize])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A made-up number with a correct check character: region `110101` (东城区), the birth date,
    /// a sequence number.
    fn valid(birth: &str, seq: &str) -> String {
        let first17 = format!("110101{birth}{seq}");
        format!("{first17}{}", check_char(&first17))
    }

    #[test]
    fn a_number_with_the_right_check_character_gives_its_birth_date() {
        let n = valid("19900307", "451");
        assert_eq!(
            resident_id_ok(&n),
            Ok(NaiveDate::from_ymd_opt(1990, 3, 7).expect("date"))
        );
        // The standard's own worked example ends in X.
        assert_eq!(check_char("11010519491231002"), 'X');
        assert!(resident_id_ok("11010519491231002x").is_ok());
    }

    #[test]
    fn a_wrong_check_character_is_refused() {
        let n = valid("19900307", "451");
        let last = n.chars().last().expect("18 chars");
        let wrong = if last == '0' { '1' } else { '0' };
        let bad = format!("{}{wrong}", &n[..17]);
        let e = resident_id_ok(&bad).expect_err("wrong check char");
        assert!(e.contains("check character"), "{e}");
    }

    #[test]
    fn length_characters_and_the_birth_date_are_checked() {
        assert!(
            resident_id_ok("11010119900307")
                .expect_err("short")
                .contains("18 characters")
        );
        assert!(
            resident_id_ok("1101011990030745AX")
                .expect_err("letter")
                .contains("17 digits")
        );
        let no_day = valid("19900230", "451");
        assert!(
            resident_id_ok(&no_day)
                .expect_err("30 Feb")
                .contains("birth date")
        );
    }

    #[test]
    fn masks_keep_only_the_ends() {
        assert_eq!(mask_id("362301199001012030"), "3623***********030");
        assert_eq!(mask_id("E12345678"), "E******78");
        assert_eq!(mask_id("12"), "**");
        assert_eq!(mask_phone("13812345678"), "138****5678");
        assert_eq!(mask_phone("+8613812345678"), "+86*******5678");
        assert_eq!(mask_phone("12345"), "*****");
    }

    #[test]
    fn an_id_number_prints_masked_and_compares_by_value() {
        let n = valid("19900307", "451");
        let id = IdNumber::new(&format!(" {} ", n.to_lowercase()));
        assert_eq!(id.expose(), n);
        assert_eq!(id.to_string(), mask_id(&n));
        assert!(!format!("{id:?}").contains(&n));
        assert!(!format!("{id:?}").contains(&n[4..15]));
        assert_eq!(id, IdNumber::new(&n));
        assert_ne!(id, IdNumber::new(&valid("19900307", "452")));
    }
}
