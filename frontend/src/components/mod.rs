//! The page's views, one component per file. Each reads the [`crate::session::Session`] from context.

mod basemap_layer;
mod class_panel;
mod compare_panel;
mod footer;
mod hop_markers;
mod hop_table;
mod presenter_toggle;
mod replay_panel;
mod route_line;
mod route_map;
mod route_tabs;
mod share;
mod status_line;
mod trace_form;
mod vantage_picker;
mod watch_timeline;

pub use basemap_layer::BasemapLayer;
pub use class_panel::ClassPanel;
pub use compare_panel::ComparePanel;
pub use footer::SiteFooter;
pub use hop_markers::HopMarkers;
pub use hop_table::HopTable;
pub use presenter_toggle::{PresenterToggle, presenter_requested};
pub use replay_panel::ReplayPanel;
pub use route_line::RouteLine;
pub use route_map::{MapContext, RouteMap};
pub use route_tabs::RouteTabs;
pub use share::{RecentTraces, ShareBar};
pub use status_line::StatusLine;
pub use trace_form::TraceForm;
pub use vantage_picker::VantagePicker;
pub use watch_timeline::WatchTimeline;
