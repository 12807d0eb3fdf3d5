//! The footer with the credits the data's licences require: DB-IP (CC BY 4.0), GeoNames (CC BY 4.0, the cities
//! router names are read against) and Natural Earth.

use leptos::prelude::*;

/// Credits, always shown: the DB-IP link is required wherever its locations appear.
#[component]
pub fn SiteFooter() -> impl IntoView {
    view! {
        <footer class="site-footer">
            <a id="dbip-attribution" href="https://db-ip.com" target="_blank" rel="noopener">
                "IP Geolocation by DB-IP"
            </a>
            <span aria-hidden="true">" · "</span>
            <span id="places-attribution">
                "Places in router names: "
                <a href="https://www.geonames.org" target="_blank" rel="noopener">"GeoNames"</a>
                " (CC BY 4.0), airportsdata"
            </span>
            <span aria-hidden="true">" · "</span>
            <span>
                "Basemap made with "
                <a href="https://www.naturalearthdata.com" target="_blank" rel="noopener">
                    "Natural Earth"
                </a>
            </span>
            <span aria-hidden="true">" · "</span>
            <span>
                "Map by "
                <a href="https://leafletjs.com" target="_blank" rel="noopener">
                    "Leaflet"
                </a>
            </span>
        </footer>
    }
}
