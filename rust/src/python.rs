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
use pyo3::types::{PyBool, PyByteArray, PyBytes, PyDict, PyFrozenSet, PyList, PyString, PyTuple};

use crate::dialect::{Dialect, LogDecoder};
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

    /// Feed bytes; the events they complete in columns ([`PyBatch`]). Events
    /// whose kind is not in `kinds` (names; None keeps all) are framed, so the
    /// stream state advances exactly as with `feed`, but never copied.
    #[pyo3(signature = (data, kinds=None))]
    fn feed_batch(
        &mut self,
        data: &Bound<'_, PyAny>,
        kinds: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyBatch> {
        let py = data.py();
        let mask = kind_mask(kinds)?;
        let mut batch = BatchBuilder::default();
        with_bytes(data, |bytes| {
            self.inner.feed_with(bytes, |event| {
                if mask & (1 << event.kind as u8) != 0 {
                    batch.push(py, &event);
                }
            })
        })?;
        batch.finish(py)
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

    /// An error trailer inside a known body length ends the body (archived
    /// captures); off by default, since a server can put one in its body.
    #[getter]
    fn early_errors(&self) -> bool {
        self.inner.early_errors()
    }

    #[setter]
    fn set_early_errors(&mut self, early: bool) {
        self.inner.set_early_errors(early);
    }

    fn __repr__(&self) -> String {
        format!(
            "Tokenizer(in_flight={:?}, buffered={})",
            self.inner.in_flight(),
            self.inner.buffered()
        )
    }
}

/// The kind filter of `feed_batch`: one bit per [`Kind`] (its index in
/// `Kind::ALL`, which is also its code in `Batch.kinds`).
fn kind_mask(kinds: Option<&Bound<'_, PyAny>>) -> PyResult<u8> {
    let Some(kinds) = kinds else {
        return Ok(u8::MAX);
    };
    if kinds.is_instance_of::<PyString>() {
        return Err(PyTypeError::new_err(
            "kinds is an iterable of kind names, not one name",
        ));
    }
    let mut mask = 0u8;
    for name in kinds.try_iter()? {
        let name = name?;
        let name = name
            .cast::<PyString>()
            .map_err(|_| PyTypeError::new_err("a kind name must be str"))?;
        let name = name.to_cow()?;
        let kind = Kind::from_name(&name)
            .ok_or_else(|| PyValueError::new_err(format!("unknown event kind {name:?}")))?;
        mask |= 1 << kind as u8;
    }
    Ok(mask)
}

/// Collects the kept events of one `feed_batch` call.
#[derive(Default)]
struct BatchBuilder {
    kinds: Vec<u8>,
    data: Vec<Py<PyBytes>>,
    codes: Vec<(usize, i64)>,
    payloads: Vec<(usize, Py<PyBytes>)>,
    more: Vec<usize>,
}

impl BatchBuilder {
    fn push(&mut self, py: Python<'_>, event: &Event<'_>) {
        let index = self.kinds.len();
        self.kinds.push(event.kind as u8);
        self.data.push(match event.data {
            b"OK" => cached_bytes(py, &OK, b"OK"),
            b"> " => cached_bytes(py, &PROMPT, b"> "),
            data => PyBytes::new(py, data).unbind(),
        });
        if let Some(code) = event.code {
            self.codes.push((index, code));
        }
        if let Some(payload) = event.payload {
            self.payloads
                .push((index, PyBytes::new(py, payload).unbind()));
        }
        if event.more {
            self.more.push(index);
        }
    }

    fn finish(self, py: Python<'_>) -> PyResult<PyBatch> {
        let codes = PyDict::new(py);
        for (index, code) in self.codes {
            codes.set_item(index, code)?;
        }
        let payloads = PyDict::new(py);
        for (index, payload) in self.payloads {
            payloads.set_item(index, payload)?;
        }
        Ok(PyBatch {
            kinds: PyBytes::new(py, &self.kinds).unbind(),
            data: PyList::new(py, self.data)?.unbind(),
            codes: codes.unbind(),
            payloads: payloads.unbind(),
            more: PyFrozenSet::new(py, self.more)?.unbind(),
        })
    }
}

/// The events of one `Tokenizer.feed_batch` call, in columns: event `i` has
/// kind `KINDS[kinds[i]]` and data `data[i]`; the rare fields are sparse.
#[pyclass(frozen, module = "lpwa._lpwa", name = "Batch")]
pub struct PyBatch {
    /// One byte per event: the index of its kind in `KINDS`.
    #[pyo3(get)]
    kinds: Py<PyBytes>,
    /// Each event's data (as `Event.data`).
    #[pyo3(get)]
    data: Py<PyList>,
    /// `{index: code}` for the events that have one.
    #[pyo3(get)]
    codes: Py<PyDict>,
    /// `{index: payload}` for `+QCOAPRECV` events.
    #[pyo3(get)]
    payloads: Py<PyDict>,
    /// The indexes of body chunks that are not the last of their body.
    #[pyo3(get)]
    more: Py<PyFrozenSet>,
}

#[pymethods]
impl PyBatch {
    fn __len__(&self, py: Python<'_>) -> usize {
        self.kinds.as_bytes(py).len()
    }

    /// The same events as `Event` objects (what `feed` would have returned,
    /// less the filtered-out kinds).
    fn events<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let data = self.data.bind(py);
        let codes = self.codes.bind(py);
        let payloads = self.payloads.bind(py);
        let more = self.more.bind(py);
        let mut out = Vec::with_capacity(data.len());
        for (index, &tag) in self.kinds.as_bytes(py).iter().enumerate() {
            let code = match codes.get_item(index)? {
                Some(code) => Some(code.extract::<i64>()?),
                None => None,
            };
            let payload = match payloads.get_item(index)? {
                Some(payload) => Some(payload.cast_into::<PyBytes>()?.unbind()),
                None => None,
            };
            let event = PyEvent::build(
                py,
                Kind::ALL[usize::from(tag)],
                data.get_item(index)?.cast_into::<PyBytes>()?.unbind(),
                code,
                payload,
                more.contains(index)?,
            );
            out.push(Bound::new(py, event)?);
        }
        PyList::new(py, out)
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        format!("Batch(<{} events>)", self.__len__(py))
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

/// `lpwa trace` on bytes: `feed` returns the JSON lines the bytes complete
/// (nothing with `stats=True`), `close` those held back, `summary` the
/// `--stats` JSON. The same bytes as `trace_fd` writes. `format` is a log
/// dialect (`DIALECTS`); None detects it from the first bytes fed.
#[pyclass(module = "lpwa._lpwa", name = "Trace")]
pub struct PyTrace {
    inner: crate::trace::Trace,
    dialect: Option<Dialect>,
    log: Option<LogDecoder>,
}

#[pymethods]
impl PyTrace {
    #[new]
    #[pyo3(signature = (*, stats=false, brief=false, format=None))]
    fn new(stats: bool, brief: bool, format: Option<&str>) -> PyResult<PyTrace> {
        Ok(PyTrace {
            inner: crate::trace::Trace::new(trace_output(stats, brief)),
            dialect: format.map(dialect_named).transpose()?,
            log: None,
        })
    }

    fn feed<'py>(&mut self, data: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyBytes>> {
        let mut out = Vec::new();
        with_bytes(data, |bytes| {
            if bytes.is_empty() {
                return;
            }
            let dialect = *self.dialect.get_or_insert_with(|| Dialect::detect(bytes));
            if dialect == Dialect::Raw {
                self.inner.feed(bytes, &mut out);
            } else {
                let inner = &mut self.inner;
                self.log
                    .get_or_insert_with(|| LogDecoder::new(dialect))
                    .feed(bytes, &mut |piece| inner.feed_piece(&piece, &mut out));
                inner.count_input(bytes.len());
            }
        })?;
        Ok(PyBytes::new(data.py(), &out))
    }

    fn close<'py>(&mut self, py: Python<'py>) -> Bound<'py, PyBytes> {
        let mut out = Vec::new();
        let inner = &mut self.inner;
        if let Some(log) = self.log.as_mut() {
            log.close(&mut |piece| inner.feed_piece(&piece, &mut out));
        }
        inner.close(&mut out);
        PyBytes::new(py, &out)
    }

    /// The `--stats` JSON text, with `seconds` as the run's duration.
    fn summary(&self, seconds: f64) -> String {
        self.inner.stats().summary_json(seconds)
    }

    /// The dialect in use (None until the first bytes when detecting).
    #[getter]
    fn format(&self) -> Option<&'static str> {
        self.dialect.map(Dialect::name)
    }
}

fn dialect_named(name: &str) -> PyResult<Dialect> {
    Dialect::from_name(name).ok_or_else(|| {
        PyValueError::new_err(format!(
            "unknown log format {name:?} (one of {})",
            Dialect::ALL.map(Dialect::name).join(", ")
        ))
    })
}

fn trace_output(stats: bool, brief: bool) -> crate::trace::Output {
    if stats {
        crate::trace::Output::Stats
    } else {
        crate::trace::Output::Json { brief }
    }
}

/// `lpwa trace` between two open file descriptors, without the GIL: JSON
/// lines written after each read, or the `--stats` summary at the end. The
/// descriptors stay open. `format`: a log dialect, None to detect it. Returns
/// the dialect used. A signal during a read or write runs Python's handlers
/// (Ctrl-C raises KeyboardInterrupt); I/O errors raise OSError.
#[cfg(unix)]
#[pyfunction]
#[pyo3(signature = (in_fd, out_fd, *, stats=false, brief=false, format=None))]
fn trace_fd(
    py: Python<'_>,
    in_fd: i32,
    out_fd: i32,
    stats: bool,
    brief: bool,
    format: Option<&str>,
) -> PyResult<&'static str> {
    use std::fs::File;
    use std::mem::ManuallyDrop;
    use std::os::fd::FromRawFd;

    let dialect = format.map(dialect_named).transpose()?;
    if in_fd < 0 || out_fd < 0 {
        return Err(PyValueError::new_err("file descriptors must be >= 0"));
    }
    // SAFETY: the caller owns both descriptors and keeps them open for the
    // call; ManuallyDrop leaves them open afterwards.
    let input = ManuallyDrop::new(unsafe { File::from_raw_fd(in_fd) });
    let output = ManuallyDrop::new(unsafe { File::from_raw_fd(out_fd) });
    let mut signal_error: Option<PyErr> = None;
    let result = py.detach(|| {
        let mode = trace_output(stats, brief);
        crate::trace_file::run_file(&input, &*output, mode, dialect, || {
            Python::attach(|py| py.check_signals()).map_err(|err| {
                signal_error = Some(err);
                std::io::Error::other("interrupted by a signal")
            })
        })
    });
    if let Some(err) = signal_error {
        return Err(err);
    }
    result
        .map(|(_, dialect)| dialect.name())
        .map_err(PyErr::from)
}

#[pymodule]
fn _lpwa(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<PyTokenizer>()?;
    m.add_class::<PyEvent>()?;
    m.add_class::<PyBatch>()?;
    m.add_class::<PyTrace>()?;
    m.add(
        "DIALECTS",
        PyTuple::new(m.py(), Dialect::ALL.map(Dialect::name))?,
    )?;
    #[cfg(unix)]
    m.add_function(wrap_pyfunction!(trace_fd, m)?)?;
    m.add("KINDS", PyTuple::new(m.py(), Kind::ALL.map(Kind::as_str))?)?;
    Ok(())
}
