//! Output formatting: exactly bpftrace's text and JSON output, and folded stacks.
//!
//! Pure functions: the runtime decodes map entries and events into [`Value`] /
//! [`MapEntry`] and these turn them into the bytes bpftrace 0.26 would print.

mod entries;
pub mod folded;
mod gfp;
pub mod hist;
pub mod json;
pub mod log;
pub mod metrics;
pub mod printf;
pub mod text;
pub mod time;
pub mod tseries;
pub mod value;

pub use hist::{hist_bucket_bounds, hist_index, lhist_bucket_bounds, lhist_index};
pub use json::{
    attached_probes_json, errorf_json, json_str, lost_events_json, map_json, printf_json,
    string_event_json, time_json, value_data_json, value_json,
};
pub use log::join_text;
pub use printf::{
    arg_kinds, conversion_count, format, format_str, parse_format, FormatSpec, Piece,
};
pub use text::{attached_probes_text, lost_events_text, map_text, value_line_text};
pub use time::{strftime_local, DEFAULT_TIME_FORMAT};
pub use value::{decode_field, key_text, value_text, AggValue, MapEntry, Value};
