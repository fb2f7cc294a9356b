//! The pyo3 binding: `lpwa._lpwa.Tokenizer` and `lpwa._lpwa.Event`.
//!
//! Thin: argument conversion and event objects only; every decision is made
//! by the pure-Rust core (`crate::tokenizer`).

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use pyo3::basic::CompareOp;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyByteArray, PyBytes, PyList, PyString};

use crate::event::{name_of, Event, Kind};
use crate::tokenizer::{Config, Tokenizer};

/// The interned `Event.kind` string.
fn kind_str(py: Python<'_>, kind: Kind) -> &Bound<'_, PyString> {
    match kind {
        Kind::Echo => intern!(py, "echo"),
        Kind::Line => intern!(py, "line"),
        Kind::Urc => intern!(py, "urc"),
        Kind::Final => intern!(py, "final"),
        Kind::Connect => intern!(py, "connect"),
        Kind::Prompt => intern!(py, "prompt"),
        Kind::Body => intern!(py, "body"),
        Kind::Invalid => intern!(py, "invalid"),
    }
}

static OK: PyOnceLock<Py<PyBytes>> = PyOnceLock::new();
static PROMPT: PyOnceLock<Py<PyBytes>> = PyOnceLock::new();

fn cached_bytes(py: Python<'_>, cell: &PyOnceLock<Py<PyBytes>>, value: &[u8]) -> Py<PyBytes> {
    cell.get_or_init(py, || PyBytes::new(py, value).unbind())
        .clone_ref(py)
}

/// One framed piece of module output (design §3).
///
/// Every exposed field is a `Py<…>`: on a frozen class pyo3 turns them into
/// struct members, which Python reads without calling into Rust (the event
/// consumer's hot path).
#[pyclass(frozen, module = "lpwa._lpwa", name = "Event")]
pub struct PyEvent {
    tag: Kind,
    /// The interned kind string.
    #[pyo3(get)]
    kind: Py<PyString>,
    /// The line without framing CR/LF, the body bytes, or `b"> "`.
    #[pyo3(get)]
    data: Py<PyBytes>,
    /// `+CME ERROR: n`, `CONNECT n`, a body's `+QHTTPREAD: <err>` (int); else None.
    #[pyo3(get)]
    code: Py<PyAny>,
    /// The binary payload of `+QCOAPRECV` (bytes); else None.
    #[pyo3(get)]
    payload: Py<PyAny>,
    /// True on a body chunk that is not the last.
    #[pyo3(get)]
    more: Py<PyAny>,
}

impl PyEvent {
    fn build(
        py: Python<'_>,
        tag: Kind,
        data: Py<PyBytes>,
        code: Option<i64>,
        payload: Option<Py<PyBytes>>,
        more: bool,
    ) -> PyEvent {
        PyEvent {
            tag,
            kind: kind_str(py, tag).clone().unbind(),
            data,
            code: match code {
                Some(code) => code
                    .into_pyobject(py)
                    .map_or_else(|e| match e {}, |c| c.into_any().unbind()),
                None => py.None(),
            },
            payload: payload.map_or_else(|| py.None(), Py::into_any),
            more: PyBool::new(py, more).to_owned().into_any().unbind(),
        }
    }

    fn from_event(py: Python<'_>, event: &Event<'_>) -> PyEvent {
        // The commonest data share one bytes object each (bytes are immutable).
        let data = match event.data {
            b"OK" => cached_bytes(py, &OK, b"OK"),
            b"> " => cached_bytes(py, &PROMPT, b"> "),
            data => PyBytes::new(py, data).unbind(),
        };
        PyEvent::build(
            py,
            event.kind,
            data,
            event.code,
            event.payload.map(|p| PyBytes::new(py, p).unbind()),
            event.more,
        )
    }

    /// The fields compared by `==` and hashed.
    fn key<'a>(&'a self, py: Python<'a>) -> PyResult<EventKey<'a>> {
        Ok((
            self.tag,
            self.data.as_bytes(py),
            self.code.extract::<Option<i64>>(py)?,
            self.payload
                .bind(py)
                .cast::<PyBytes>()
                .ok()
                .map(|p| p.as_bytes()),
            self.more.is_truthy(py)?,
        ))
    }
}

type EventKey<'a> = (Kind, &'a [u8], Option<i64>, Option<&'a [u8]>, bool);

#[pymethods]
impl PyEvent {
    #[new]
    #[pyo3(signature = (kind, data, code=None, payload=None, more=false))]
    fn new(
        py: Python<'_>,
        kind: &str,
        data: Py<PyBytes>,
        code: Option<i64>,
        payload: Option<Py<PyBytes>>,
        more: bool,
    ) -> PyResult<PyEvent> {
        let tag = Kind::from_name(kind)
            .ok_or_else(|| PyValueError::new_err(format!("unknown event kind {kind:?}")))?;
        Ok(PyEvent::build(py, tag, data, code, payload, more))
    }

    #[classattr]
    fn __match_args__() -> (
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        &'static str,
    ) {
        ("kind", "data", "code", "payload", "more")
    }

    /// `"+QCOAPRECV"` for `+QCOAPRECV: …` lines (line, urc, final); else None.
    #[getter]
    fn name(&self, py: Python<'_>) -> Option<String> {
        name_of(self.tag, self.data.as_bytes(py)).map(|n| String::from_utf8_lossy(n).into_owned())
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let mut repr = format!(
            "Event({}, {}",
            self.kind.bind(py).repr()?,
            self.data.bind(py).repr()?
        );
        if !self.code.is_none(py) {
            repr.push_str(&format!(", code={}", self.code.bind(py).repr()?));
        }
        if !self.payload.is_none(py) {
            repr.push_str(&format!(", payload={}", self.payload.bind(py).repr()?));
        }
        if self.more.is_truthy(py)? {
            repr.push_str(", more=True");
        }
        repr.push(')');
        Ok(repr)
    }

    fn __richcmp__(&self, other: &Bound<'_, PyAny>, op: CompareOp) -> PyResult<Py<PyAny>> {
        let py = other.py();
        let Ok(other) = other.cast::<PyEvent>() else {
            return Ok(py.NotImplemented());
        };
        let equal = self.key(py)? == other.get().key(py)?;
        Ok(match op {
            CompareOp::Eq => PyBool::new(py, equal).to_owned().into_any().unbind(),
            CompareOp::Ne => PyBool::new(py, !equal).to_owned().into_any().unbind(),
            _ => py.NotImplemented(),
        })
    }

    fn __hash__(&self, py: Python<'_>) -> PyResult<u64> {
        let mut hasher = DefaultHasher::new();
        self.key(py)?.hash(&mut hasher);
        Ok(hasher.finish())
    }
}

/// The AT stream tokenizer (design §3): bytes in, events out; no I/O.
#[pyclass(module = "lpwa._lpwa", name = "Tokenizer")]
pub struct PyTokenizer {
    inner: Tokenizer,
}

#[pymethods]
impl PyTokenizer {
    #[new]
    #[pyo3(signature = (urc_prefixes=None, *, max_line=4096, max_body=2_097_152, stream_bodies=false))]
    fn new(
        urc_prefixes: Option<&Bound<'_, PyAny>>,
        max_line: usize,
        max_body: usize,
        stream_bodies: bool,
    ) -> PyResult<PyTokenizer> {
        if max_line == 0 || max_body == 0 {
            return Err(PyValueError::new_err(
                "max_line and max_body must be positive",
            ));
        }
        let mut inner = Tokenizer::new(Config {
            max_line,
            max_body,
            stream_bodies,
        });
        if let Some(prefixes) = urc_prefixes {
            if prefixes.is_instance_of::<PyString>() || prefixes.is_instance_of::<PyBytes>() {
                return Err(PyTypeError::new_err(
                    "urc_prefixes is an iterable of prefixes, not one prefix",
                ));
            }
            for prefix in prefixes.try_iter()? {
                let prefix = prefix?;
                if let Ok(s) = prefix.cast::<PyString>() {
                    inner.add_urc(s.to_cow()?.as_bytes());
                } else if let Ok(b) = prefix.cast::<PyBytes>() {
                    inner.add_urc(b.as_bytes());
                } else {
                    return Err(PyTypeError::new_err("a URC prefix must be bytes or str"));
                }
            }
        }
        Ok(PyTokenizer { inner })
    }

    /// Declare the command line just written (`b"AT+QHTTPREAD=80\r"`).
    #[pyo3(signature = (command, *, body_length=None, response_header=false))]
    fn sent(
        &mut self,
        command: &Bound<'_, PyAny>,
        body_length: Option<u64>,
        response_header: bool,
    ) -> PyResult<()> {
        with_bytes(command, |bytes| {
            self.inner.sent(bytes, body_length, response_header)
        })
    }

    /// Feed bytes read from the module; returns the events they complete.
    fn feed<'py>(&mut self, data: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyList>> {
        let py = data.py();
        let mut events: Vec<Bound<'py, PyEvent>> = Vec::new();
        let mut error = None;
        with_bytes(data, |bytes| {
            self.inner.feed_with(bytes, |event| {
                match Bound::new(py, PyEvent::from_event(py, &event)) {
                    Ok(object) => events.push(object),
                    Err(err) => {
                        error.get_or_insert(err);
                    }
                }
            })
        })?;
        if let Some(err) = error {
            return Err(err);
        }
        if events.is_empty() {
            return Ok(PyList::empty(py));
        }
        PyList::new(py, events)
    }

    /// Forget all state (after a reboot or a reconnect).
    fn reset(&mut self) {
        self.inner.reset();
    }

    /// The command in flight (`"+QHTTPREAD"`, `"ATI"`…), or None.
    #[getter]
    fn in_flight(&self) -> Option<&str> {
        self.inner.in_flight()
    }

    /// Bytes held until more arrive.
    #[getter]
    fn buffered(&self) -> usize {
        self.inner.buffered()
    }

    #[getter]
    fn max_line(&self) -> usize {
        self.inner.config().max_line
    }

    #[getter]
    fn max_body(&self) -> usize {
        self.inner.config().max_body
    }

    /// Deliver body bytes as they arrive (one `body` event per feed call).
    #[getter]
    fn stream_bodies(&self) -> bool {
        self.inner.config().stream_bodies
    }

    #[setter]
    fn set_stream_bodies(&mut self, stream: bool) {
        self.inner.set_stream_bodies(stream);
    }

    fn __repr__(&self) -> String {
        format!(
            "Tokenizer(in_flight={:?}, buffered={})",
            self.inner.in_flight(),
            self.inner.buffered()
        )
    }
}

/// Run `f` on the bytes of a bytes-like object. `bytes` is borrowed (it is
/// immutable and `obj` keeps it alive); a `bytearray` is copied first, since
/// Python code run by the garbage collector while events are allocated could
/// resize it under a borrowed slice; anything else goes through `bytes(obj)`.
fn with_bytes<R>(obj: &Bound<'_, PyAny>, f: impl FnOnce(&[u8]) -> R) -> PyResult<R> {
    if let Ok(bytes) = obj.cast::<PyBytes>() {
        return Ok(f(bytes.as_bytes()));
    }
    if let Ok(array) = obj.cast::<PyByteArray>() {
        return Ok(f(&array.to_vec()));
    }
    if obj.is_instance_of::<PyString>() {
        return Err(PyTypeError::new_err(
            "expected a bytes-like object, not str",
        ));
    }
    let bytes = obj.py().get_type::<PyBytes>().call1((obj,))?;
    let bytes = bytes.cast::<PyBytes>()?;
    Ok(f(bytes.as_bytes()))
}

#[pymodule]
fn _lpwa(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<PyTokenizer>()?;
    m.add_class::<PyEvent>()?;
    Ok(())
}
