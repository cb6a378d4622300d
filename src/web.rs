//! The browser page (`GET /`), embedded in the binary: no build step, no
//! files to deploy, nothing fetched from elsewhere. Every string the page
//! shows is rendered as text, and the CSP in `http.rs` forbids inline
//! script, so injected markup cannot run.

/// One static file of the page.
#[derive(PartialEq, Eq)]
pub struct Asset {
    /// The request path it answers.
    pub path: &'static str,
    /// Its media type.
    pub content_type: &'static str,
    /// Its bytes.
    pub body: &'static [u8],
}

impl std::fmt::Debug for Asset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Asset")
            .field("path", &self.path)
            .field("content_type", &self.content_type)
            .field("len", &self.body.len())
            .finish()
    }
}

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const SVG: &str = "image/svg+xml";

/// Revalidate on every load: the files are tiny, and a new server version
/// must never run against an old cached script.
pub const CACHE_CONTROL: &str = "no-cache";

macro_rules! asset {
    ($path:literal, $file:literal, $type:expr) => {
        Asset {
            path: $path,
            content_type: $type,
            body: include_bytes!(concat!("../web/", $file)),
        }
    };
}

/// Every file the page consists of (its tests under `web/test/` are not
/// served).
pub static ASSETS: [Asset; 14] = [
    asset!("/", "index.html", HTML),
    asset!("/index.html", "index.html", HTML),
    asset!("/app.js", "app.js", JS),
    asset!("/codec.js", "codec.js", JS),
    asset!("/seal.js", "seal.js", JS),
    asset!("/words.js", "words.js", JS),
    asset!("/rooms.js", "rooms.js", JS),
    asset!("/bodies.js", "bodies.js", JS),
    asset!("/members.js", "members.js", JS),
    asset!("/outbox.js", "outbox.js", JS),
    asset!("/token.js", "token.js", JS),
    asset!("/view.js", "view.js", JS),
    asset!("/style.css", "style.css", CSS),
    // Linked from the page, so browsers do not ask for a missing /favicon.ico.
    asset!("/favicon.svg", "favicon.svg", SVG),
];

/// The asset served at `path`, if any.
pub fn find(path: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.path == path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_module_the_page_imports_is_served() {
        for asset in &ASSETS {
            let text = std::str::from_utf8(asset.body).unwrap();
            for line in text.lines() {
                if let Some(rest) = line.trim().strip_prefix("import ") {
                    let Some(from) = rest.split("from").nth(1) else {
                        continue;
                    };
                    let name = from
                        .trim()
                        .trim_matches(|c| c == '"' || c == '\'' || c == ';');
                    let path = name.trim_start_matches('.');
                    assert!(
                        find(path).is_some(),
                        "{} imports {name}, not served",
                        asset.path
                    );
                }
            }
        }
        assert!(find("/test/codec.test.mjs").is_none());
    }

    #[test]
    fn no_inline_script_or_style_in_the_page() {
        let html = std::str::from_utf8(find("/").unwrap().body).unwrap();
        assert!(!html.contains("<script>"));
        assert!(!html.contains(" style="));
        assert!(!html.contains(" onclick="));
    }
}
