//! The read-only status web page (issue 14): what yupiao watches, and when seats come back.
//!
//! Layers, pure to I/O:
//! - [`view`]: the plain view model (a snapshot of everything the page shows) and the builders
//!   that make it from `status`, the store's rows and the settings. No secret has a field in it.
//! - [`chart`]: inline SVG timelines per (watch, date) and the "seats came back at" histogram.
//! - [`page`]: the HTML page (askama template), rendered from a view model and a `now`.
//! - [`server`]: the axum router (`/`, `/events`, `/healthz`), the token rule, and an accept
//!   loop with header/idle timeouts and a connection limit.
//!
//! The daemon owns a [`server::Publisher`] and publishes a new view model whenever something it
//! records changes; browsers learn of it through server-sent events and fetch the page again.

pub mod chart;
pub mod page;
#[doc(hidden)]
pub mod sample;
pub mod server;
pub mod view;

/// Appends `s` with the five HTML-significant characters escaped (for text and attribute
/// values alike). The one escaper for markup written by hand in [`chart`]; the page template
/// escapes with askama's, which writes the same entities.
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
