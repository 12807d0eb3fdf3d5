//! The footer with the credits the data's licences require, for the sources actually in use: DB-IP (CC BY 4.0) when
//! the server runs a DB-IP database or a hop was placed by one, any other database by its label, the ASN sources,
//! GeoNames and airportsdata (the places router names are read against), and Natural Earth and Leaflet for the map.

use crate::session::Session;
use crate::ui::ServerConfig;
use leptos::prelude::*;

/// Whether a database label or a hop's `geo.source` names DB-IP.
fn is_dbip(label: &str) -> bool {
    let label = label.to_ascii_lowercase();
    label.contains("dbip") || label.contains("db-ip")
}

/// The location sources to credit: the server's databases plus every source that placed a hop on show (a geofeed,
/// another database), each once, in that order.
pub fn location_sources<'a>(server: &'a [String], hops: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut sources: Vec<String> = Vec::new();
    for source in server.iter().map(String::as_str).chain(hops) {
        if !source.is_empty() && !sources.iter().any(|s| s == source) {
            sources.push(source.to_owned());
        }
    }
    sources
}

/// Credits for the data on show.
#[component]
pub fn SiteFooter() -> impl IntoView {
    let config = expect_context::<ServerConfig>();
    let session = expect_context::<Session>();
    let sources = Memo::new(move |_| {
        let server = config.0.with(|c| c.as_ref().map(|c| c.geoip.clone()).unwrap_or_default());
        session.model.with(|m| {
            let hops = m.iter().flat_map(|m| &m.report.hops).filter_map(|h| h.geo.as_ref()?.source.as_deref());
            location_sources(&server, hops)
        })
    });
    let dbip = move || sources.with(|s| s.iter().any(|s| is_dbip(s)));
    let others = move || sources.with(|s| s.iter().filter(|s| !is_dbip(s)).cloned().collect::<Vec<_>>().join(", "));
    let asn = move || config.0.with(|c| c.as_ref().map(|c| c.asn.join(", ")).unwrap_or_default());
    view! {
        <footer class="site-footer">
            <Show when=dbip>
                <a id="dbip-attribution" href="https://db-ip.com" target="_blank" rel="noopener">
                    "IP Geolocation by DB-IP"
                </a>
                <span aria-hidden="true">" · "</span>
            </Show>
            <Show when=move || !others().is_empty()>
                <span id="geo-sources">{move || format!("Locations: {}", others())}</span>
                <span aria-hidden="true">" · "</span>
            </Show>
            <Show when=move || !asn().is_empty()>
                <span id="asn-sources">{move || format!("AS numbers: {}", asn())}</span>
                <span aria-hidden="true">" · "</span>
            </Show>
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credits_name_each_source_in_use_once() {
        let server = vec!["DBIP-City-Lite".to_owned()];
        let sources = location_sources(&server, ["geofeed", "DBIP-City-Lite", "geofeed"].into_iter());
        assert_eq!(sources, ["DBIP-City-Lite", "geofeed"]);
        assert!(is_dbip(&sources[0]) && !is_dbip(&sources[1]));
        assert!(location_sources(&[], std::iter::empty()).is_empty());
        assert!(!is_dbip("GeoLite2-City"));
    }
}
