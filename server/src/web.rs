//! The web pages: the candidates' materials page (`/`, `/enter?ticket=…`) and the reviewers' and
//! administrators' console (`/staff`). Both are static pages with a little JavaScript that speak
//! the same JSON API as the apps, signed in by an HttpOnly cookie plus a CSRF token. Everything is
//! compiled into the binary and served from here: no CDN, nothing from another origin.
use poem::endpoint::{EmbeddedFileEndpoint, EmbeddedFilesEndpoint};
use poem::middleware::SetHeader;
use poem::{Endpoint, EndpointExt, Route};
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "web/pages"]
struct Pages;

#[derive(RustEmbed)]
#[folder = "web/assets"]
struct Assets;

/// Only our own scripts, styles and images; blob: for the prepared photo's preview, data: for the
/// authenticator's QR code. No inline script, no framing.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' blob: data:; connect-src 'self'; object-src 'none'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";

pub fn routes() -> impl Endpoint {
    let candidate = || EmbeddedFileEndpoint::<Pages>::new("candidate.html");
    Route::new()
        .at("/", candidate())
        .at("/enter", candidate())
        .at("/staff", EmbeddedFileEndpoint::<Pages>::new("staff.html"))
        .nest("/assets", EmbeddedFilesEndpoint::<Assets>::new())
        .with(
            SetHeader::new()
                .overriding("Content-Security-Policy", CONTENT_SECURITY_POLICY)
                // Revalidate every time (ETag): a new release's pages and scripts are never
                // mixed with a cached older one, and an unchanged file costs a 304.
                .overriding("Cache-Control", "no-cache"),
        )
}
