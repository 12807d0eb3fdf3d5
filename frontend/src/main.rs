//! The WASM entry point: report panics to the console and mount the page. Everything else is in the library.

fn main() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(tracemap_frontend::App);
}
