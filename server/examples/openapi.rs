//! Print the OpenAPI document: `cargo run -p dossier-server --example openapi > docs/openapi.json`.
fn main() {
    println!("{}", dossier_server::http::openapi_service().spec());
}
