//! lpwa: the AT stream tokenizer for Quectel BG95/BG77/BG96 modules.
//!
//! The core is pure Rust with no pyo3 in it; `python` (behind the `python`
//! feature, which maturin enables) is the thin binding.

#[cfg(feature = "python")]
mod python;
