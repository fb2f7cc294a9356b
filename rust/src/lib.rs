//! lpwa: the AT stream tokenizer for Quectel BG95/BG77/BG96 modules.
//!
//! The core is pure Rust with no pyo3 in it (`tokenizer` frames lines and
//! classifies them, `body` frames data phases, `urc` and `command` hold the
//! line and command vocabulary, `event` the events); `python` (behind the
//! `python` feature, which maturin enables) is the thin binding.

mod body;
mod command;
mod event;
mod tokenizer;
mod urc;

#[cfg(feature = "python")]
mod python;

pub use event::{name_of, Event, Kind, OwnedEvent};
pub use tokenizer::{Config, Tokenizer};
pub use urc::DEFAULT_URCS;
