//! HTML escaping for the markup the web modules write by hand (the charts' SVG and captions).

/// Appends `s` with the five HTML-significant characters escaped (for text and attribute
/// values alike). The one escaper for markup written by hand in [`chart`](super::chart); the
/// page template escapes with askama's, which writes the same entities.
pub fn escape_into(out: &mut String, s: &str) {
    let mut last = 0;
    for (i, b) in s.bytes().enumerate() {
        let rep = match b {
            b'&' => "&#38;",
            b'<' => "&#60;",
            b'>' => "&#62;",
            b'"' => "&#34;",
            b'\'' => "&#39;",
            _ => continue,
        };
        out.push_str(&s[last..i]);
        out.push_str(rep);
        last = i + 1;
    }
    out.push_str(&s[last..]);
}

#[cfg(test)]
mod tests {
    #[test]
    fn escaping_replaces_every_markup_character_and_keeps_the_rest() {
        let mut out = String::new();
        super::escape_into(&mut out, "<a href=\"x\" title='y'>上海 & 常州</a>");
        assert_eq!(
            out,
            "&#60;a href=&#34;x&#34; title=&#39;y&#39;&#62;上海 &#38; 常州&#60;/a&#62;"
        );
    }
}
