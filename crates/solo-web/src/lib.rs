//! The web UI's built files, embedded in the binary.
//!
//! `build.rs` builds `web/` with Vite into `$OUT_DIR/web-dist`; this crate embeds
//! that folder and answers lookups by URL path. Files under `assets/` have
//! content hashes in their names, so they may be cached forever.

use std::borrow::Cow;

#[derive(rust_embed::Embed)]
#[folder = "$OUT_DIR/web-dist"]
struct Files;

/// One built file.
#[derive(Debug)]
pub struct Asset {
    pub bytes: Cow<'static, [u8]>,
    pub mime: String,
    /// A strong validator of the content (hex SHA-256).
    pub etag: String,
    /// True for content-hashed files that never change under their name.
    pub immutable: bool,
}

/// The file at `path` (without the leading `/`), if the build has one.
pub fn get(path: &str) -> Option<Asset> {
    let path = path.trim_start_matches('/');
    if path.is_empty() || path.contains("..") {
        return None;
    }
    let file = Files::get(path)?;
    Some(Asset {
        mime: file.metadata.mimetype().to_owned(),
        etag: file.metadata.sha256_hash().iter().map(|b| format!("{b:02x}")).collect(),
        immutable: path.starts_with("assets/"),
        bytes: file.data,
    })
}

/// The single-page app's entry point, served for every client-side route.
pub fn index() -> Option<Asset> {
    get("index.html")
}
