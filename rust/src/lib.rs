//! lpwa: the AT stream tokenizer for Quectel BG95/BG77/BG96 modules.
//!
//! The core is pure Rust with no pyo3 in it (`tokenizer` frames lines and
//! classifies them, `body` frames data phases, `urc` and `command` hold the
//! line and command vocabulary, `event` the events; `trace` is `lpwa trace`:
//! capture replay and its JSON writer); `python` (behind the
//! `python` feature, which maturin enables) is the thin binding.

mod body;
mod command;
pub mod dialect;
mod event;
mod tokenizer;
pub mod trace;
#[cfg(unix)]
pub mod trace_file;
mod urc;

#[cfg(feature = "python")]
mod python;

pub use event::{name_of, Event, Kind, OwnedEvent};
pub use tokenizer::{Config, Tokenizer};
pub use urc::DEFAULT_URCS;
