//! Quoting other services' answers in our own messages: one short line, no whole ID numbers.
//!
//! When 12306, Juhe or a static file answers with something we cannot read, the error says how
//! the answer began (`not JSON: <html><head>…`), so that an operator can tell an error page from
//! a changed format. Those errors are logged, stored, shown by `status` and emailed, so the quote
//! is flattened to one line, cut short, and its long digit runs (identity and phone numbers,
//! [`crate::identity::scrub_numbers`]) masked. Every decoder quotes through [`snippet`].
//! Counted nouns (`2 watches`) are worded here too, for every message that counts.

use crate::identity::scrub_numbers;

/// The start of `text` for an error message: trimmed, control characters (line breaks, tabs) as
/// spaces, at most `max_chars` characters followed by `…` when cut, digit runs of 6 or more
/// masked.
pub fn snippet(text: &str, max_chars: usize) -> String {
    let text = text.trim_matches(|c: char| c.is_whitespace() || c.is_control());
    let mut chars = text.chars();
    let head: String = chars
        .by_ref()
        .take(max_chars)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let mut out = scrub_numbers(&head);
    if chars.next().is_some() {
        out.push('…');
    }
    out
}

/// `1 watch`, `2 watches`, `0 watches`.
pub fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snippet_is_one_trimmed_line_cut_with_an_ellipsis() {
        assert_eq!(
            snippet("\r\n <html>\r\n<body>\terror", 80),
            "<html>  <body> error"
        );
        assert_eq!(snippet("abcdef", 3), "abc…");
        assert_eq!(snippet("abc", 3), "abc");
        assert_eq!(snippet("", 3), "");
        assert_eq!(snippet("上海虹桥站", 2), "上海…");
    }

    #[test]
    fn a_snippet_never_quotes_a_whole_id_or_phone_number() {
        let s = snippet(
            r#"{"passenger_id_no":"320382199001013916","mobile":"13812345678"}"#,
            120,
        );
        assert!(!s.contains("320382199001013916"), "{s}");
        assert!(!s.contains("13812345678"), "{s}");
        assert!(s.starts_with(r#"{"passenger_id_no":"3203"#), "{s}");
        assert_eq!(snippet("HTTP 403 查询失败", 80), "HTTP 403 查询失败");
    }
}
