//! The pyo3 binding: `lpwa._lpwa`.
use pyo3::prelude::*;

#[pymodule]
fn _lpwa(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
