//! The page's views, one component per file. Each reads the [`crate::session::Session`] from context.

mod footer;
mod hop_table;
mod route_map;
mod status_line;
mod trace_form;

pub use footer::SiteFooter;
pub use hop_table::HopTable;
pub use route_map::RouteMap;
pub use status_line::StatusLine;
pub use trace_form::{TraceForm, validate_target};
