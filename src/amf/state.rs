//! Shared decoding state of the AMF0 and AMF3 decoders: a bounds-checked
//! cursor over one message body (or part of it), the element and copy
//! budgets, the fatal flag and the collected diagnostics.
//!
//! Contract: no read ever panics or consumes bytes it could not read; a failed
//! read leaves the position unchanged. Once `fatal` is set the decoders stop
//! and return what they have.

use super::{Value, ValueKind, MAX_ANOMALIES, MAX_DEPTH, MAX_ELEMENTS};
use crate::vocab::{anomalies, AnomalyKind};
use crate::vocab::{Anomaly, ByteRange};

/// Copy cost of one value node when a reference is resolved by copying.
const NODE_COST: usize = 1;
/// String bytes that cost one copy unit.
const BYTES_PER_COST: usize = 64;
/// Copy budget per input byte (and the minimum), below `MAX_COPY_COST`.
const COPY_COST_PER_BYTE: usize = 4;
const MIN_COPY_COST: usize = 1024;

pub(crate) struct State<'a> {
    pub bytes: &'a [u8],
    /// Body offset of `bytes[0]`.
    pub base: usize,
    /// Local position in `bytes`.
    pub pos: usize,
    /// Values decoded so far (all nesting levels).
    pub elements: usize,
    /// Remaining budget for value copies: reference table entries and
    /// resolved references (see `amf::MAX_COPY_COST`).
    pub copy_budget: usize,
    /// Remaining budget for copies of AMF3 strings taken from the string or
    /// trait tables (string references, member and class names).
    str_budget: usize,
    /// Set when the rest of the input cannot be framed or a limit was hit.
    pub fatal: bool,
    pub anomalies: Vec<Anomaly>,
    /// Each copy-limit diagnostic is reported once per body.
    copy_limit_reported: bool,
    /// Diagnostics dropped past `MAX_ANOMALIES`.
    suppressed: usize,
    copy_budget_total: usize,
}

impl<'a> State<'a> {
    pub fn new(bytes: &'a [u8], base: usize) -> Self {
        // Copies are bounded by the input size too, so a small body cannot
        // make a large amount of work.
        let budget = super::MAX_COPY_COST.min(
            bytes
                .len()
                .saturating_mul(COPY_COST_PER_BYTE)
                .saturating_add(MIN_COPY_COST),
        );
        State {
            bytes,
            base,
            pos: 0,
            elements: 0,
            copy_budget: budget,
            str_budget: budget,
            fatal: false,
            anomalies: Vec::new(),
            copy_limit_reported: false,
            suppressed: 0,
            copy_budget_total: budget,
        }
    }

    pub fn remaining(&self) -> usize {
        self.bytes.len().saturating_sub(self.pos)
    }

    pub fn at_end(&self) -> bool {
        self.pos >= self.bytes.len()
    }

    /// Body-relative span of local offsets.
    pub fn span(&self, start: usize, end: usize) -> super::Span {
        super::Span::new(self.base + start, self.base + end)
    }

    pub fn anomaly(
        &mut self,
        kind: AnomalyKind,
        start: usize,
        end: usize,
        detail: impl Into<String>,
    ) {
        if self.anomalies.len() >= MAX_ANOMALIES {
            self.suppressed += 1;
            return;
        }
        let a = self.make(kind, start, end, detail);
        self.anomalies.push(a);
    }

    fn make(
        &self,
        kind: AnomalyKind,
        start: usize,
        end: usize,
        detail: impl Into<String>,
    ) -> Anomaly {
        let range = ByteRange::new(
            (self.base + start) as u64,
            (self.base + end.max(start)) as u64,
        );
        Anomaly::new(kind, Some(range), detail)
    }

    /// Reports why the rest cannot be decoded (always kept, never
    /// suppressed) and stops.
    pub fn fatal_anomaly(
        &mut self,
        kind: AnomalyKind,
        start: usize,
        end: usize,
        detail: impl Into<String>,
    ) {
        let a = self.make(kind, start, end, detail);
        self.anomalies.push(a);
        self.fatal = true;
    }

    /// The diagnostics, with one `amf.anomaly_limit` summary when some were
    /// suppressed.
    pub fn into_anomalies(mut self) -> Vec<Anomaly> {
        if self.suppressed > 0 {
            self.anomalies.push(Anomaly::new(
                anomalies::AMF_ANOMALY_LIMIT,
                None,
                format!(
                    "{} more diagnostics in this body not reported (limit {MAX_ANOMALIES})",
                    self.suppressed
                ),
            ));
        }
        self.anomalies
    }

    /// Reports a truncation of the item starting at `start` and stops.
    pub fn truncated(&mut self, start: usize, what: &str) {
        let end = self.bytes.len();
        let need = if start < end {
            format!(
                "{what} runs past the end of the body at offset {}",
                self.base + end
            )
        } else {
            format!("{what} missing: body ends at offset {}", self.base + end)
        };
        self.fatal_anomaly(anomalies::AMF_TRUNCATED, start, end, need);
    }

    /// Counts one decoded value; false (and fatal) when over `MAX_ELEMENTS`.
    pub fn count_element(&mut self, start: usize) -> bool {
        self.elements += 1;
        if self.elements > MAX_ELEMENTS {
            let end = self.bytes.len();
            self.fatal_anomaly(
                anomalies::AMF_ELEMENT_LIMIT,
                start,
                end,
                format!("more than {MAX_ELEMENTS} values in one body; rest not decoded"),
            );
            return false;
        }
        true
    }

    /// Checks the nesting depth before entering a container; false (and
    /// fatal) when the limit is reached: the rest cannot be framed without
    /// decoding it.
    pub fn enter(&mut self, depth: usize, start: usize) -> bool {
        if depth >= MAX_DEPTH {
            let end = self.bytes.len();
            self.fatal_anomaly(
                anomalies::AMF_DEPTH_LIMIT,
                start,
                end,
                format!("containers nested deeper than {MAX_DEPTH}; rest not decoded"),
            );
            return false;
        }
        true
    }

    /// Takes `n` bytes, or `None` (nothing consumed) when fewer remain.
    pub fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.bytes.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }

    pub fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    pub fn u8(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.pos += 1;
        Some(b)
    }

    pub fn u16(&mut self) -> Option<u16> {
        let b = self.take(2)?;
        Some(u16::from_be_bytes([b[0], b[1]]))
    }

    pub fn u32(&mut self) -> Option<u32> {
        let b = self.take(4)?;
        Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub fn f64(&mut self) -> Option<f64> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Some(f64::from_be_bytes(a))
    }

    /// Builds a string from wire bytes; non-UTF-8 keeps the bytes and adds an
    /// `amf.invalid_utf8` info diagnostic.
    pub fn string(&mut self, raw: &[u8], start: usize, end: usize) -> super::AmfStr {
        let s = super::AmfStr::from_bytes(raw);
        if matches!(s, super::AmfStr::Bytes(_)) {
            self.anomaly(
                anomalies::AMF_INVALID_UTF8,
                start,
                end,
                "string is not valid UTF-8; bytes kept",
            );
        }
        s
    }

    /// Charges `cost` to the value copy budget; false when it does not fit
    /// (the budget is left unchanged and `amf.copy_limit` is reported once).
    pub fn charge_copy(&mut self, cost: usize, start: usize, end: usize) -> bool {
        if cost <= self.copy_budget {
            self.copy_budget -= cost;
            return true;
        }
        self.copy_limit(start, end);
        false
    }

    /// Charges the copy of a table string of `len` bytes (short strings are
    /// free: their number is bounded by the input length).
    pub fn charge_str(&mut self, len: usize, start: usize, end: usize) -> bool {
        let cost = len / BYTES_PER_COST;
        if cost <= self.str_budget {
            self.str_budget -= cost;
            return true;
        }
        self.copy_limit(start, end);
        false
    }

    fn copy_limit(&mut self, start: usize, end: usize) {
        if !self.copy_limit_reported {
            self.copy_limit_reported = true;
            self.anomaly(
                anomalies::AMF_COPY_LIMIT,
                start,
                end,
                format!(
                    "reference copies exceed the budget of this body ({} units, at most {}); further references left unresolved",
                    self.copy_budget_total,
                    super::MAX_COPY_COST
                ),
            );
        }
    }
}

fn amfstr_len(s: &super::AmfStr) -> usize {
    match s {
        super::AmfStr::Text(t) => t.len(),
        super::AmfStr::Bytes(b) => b.len(),
    }
}

/// Size of a complete value for the reference table: copy cost and height
/// (1 for a leaf). Stops early and returns `None` once the cost exceeds
/// `cap`, so measuring is bounded by the budget it is checked against.
pub(crate) fn measure(v: &Value, cap: usize) -> Option<(usize, usize)> {
    let mut cost = 0usize;
    let h = measure_into(v, cap, &mut cost)?;
    Some((cost, h))
}

fn measure_into(v: &Value, cap: usize, cost: &mut usize) -> Option<usize> {
    *cost += NODE_COST;
    if *cost > cap {
        return None;
    }
    let mut h = 0usize;
    let add_str = |s: &super::AmfStr, cost: &mut usize| -> Option<()> {
        *cost += amfstr_len(s) / BYTES_PER_COST;
        if *cost > cap {
            None
        } else {
            Some(())
        }
    };
    match &v.kind {
        ValueKind::String(s) | ValueKind::Xml(s) => add_str(s, cost)?,
        ValueKind::Object { class, properties } => {
            if let Some(c) = class {
                add_str(c, cost)?;
            }
            for p in properties {
                add_str(&p.key, cost)?;
                h = h.max(measure_into(&p.value, cap, cost)?);
            }
        }
        ValueKind::EcmaArray { properties, .. } => {
            for p in properties {
                add_str(&p.key, cost)?;
                h = h.max(measure_into(&p.value, cap, cost)?);
            }
        }
        ValueKind::StrictArray(items) => {
            for i in items {
                h = h.max(measure_into(i, cap, cost)?);
            }
        }
        ValueKind::Array { associative, dense } => {
            for p in associative {
                add_str(&p.key, cost)?;
                h = h.max(measure_into(&p.value, cap, cost)?);
            }
            for i in dense {
                h = h.max(measure_into(i, cap, cost)?);
            }
        }
        ValueKind::Vector { class, items, .. } => {
            if let Some(c) = class {
                add_str(c, cost)?;
            }
            for i in items {
                h = h.max(measure_into(i, cap, cost)?);
            }
        }
        ValueKind::Dictionary { entries, .. } => {
            for (k, val) in entries {
                h = h.max(measure_into(k, cap, cost)?);
                h = h.max(measure_into(val, cap, cost)?);
            }
        }
        ValueKind::Externalizable { class, .. } => add_str(class, cost)?,
        ValueKind::Reference {
            resolved: Some(r), ..
        } => h = measure_into(r, cap, cost)?,
        _ => {}
    }
    Some(h + 1)
}

/// A slot of a complex-object reference table.
#[derive(Debug)]
pub(crate) enum Slot {
    /// Still being decoded: a reference to it is a cycle.
    InProgress,
    /// Complete, with its copy cost and height.
    Done {
        value: Value,
        cost: usize,
        height: usize,
    },
    /// Complete but not kept (copy budget exhausted, or it could not be
    /// decoded completely).
    Unavailable,
}

/// Stores a completed value in `slots[idx]`, charging the copy budget.
pub(crate) fn store_slot(st: &mut State<'_>, slots: &mut [Slot], idx: usize, v: &Value) {
    let Some(slot) = slots.get_mut(idx) else {
        return;
    };
    if st.fatal || st.copy_budget == 0 {
        *slot = Slot::Unavailable;
        return;
    }
    match measure(v, st.copy_budget) {
        Some((cost, height)) => {
            st.copy_budget -= cost;
            *slot = Slot::Done {
                value: v.clone(),
                cost,
                height,
            };
        }
        None => {
            // Does not fit: stop keeping values (measuring again would be
            // wasted work) and leave it unresolvable.
            st.copy_budget = 0;
            *slot = Slot::Unavailable;
        }
    }
}

/// Resolves reference `index` into `slots` for a reference value at `depth`
/// spanning local `start..end`. Never fatal.
pub(crate) fn resolve(
    st: &mut State<'_>,
    slots: &[Slot],
    index: u32,
    depth: usize,
    start: usize,
    end: usize,
) -> Option<Box<Value>> {
    match slots.get(index as usize) {
        None => {
            st.anomaly(
                anomalies::AMF_BAD_REFERENCE,
                start,
                end,
                format!(
                    "reference to object #{index} but only {} seen so far",
                    slots.len()
                ),
            );
            None
        }
        Some(Slot::InProgress) => {
            st.anomaly(
                anomalies::AMF_REFERENCE_CYCLE,
                start,
                end,
                format!("reference to object #{index} which contains it (cycle); not expanded"),
            );
            None
        }
        Some(Slot::Unavailable) => {
            st.anomaly(
                anomalies::AMF_REFERENCE_UNRESOLVED,
                start,
                end,
                format!("object #{index} was not kept (incomplete or copy budget exhausted)"),
            );
            None
        }
        Some(Slot::Done {
            value,
            cost,
            height,
        }) => {
            if depth + height > MAX_DEPTH {
                st.anomaly(
                    anomalies::AMF_REFERENCE_UNRESOLVED,
                    start,
                    end,
                    format!("copy of object #{index} would nest deeper than {MAX_DEPTH}"),
                );
                return None;
            }
            if !st.charge_copy(*cost, start, end) {
                return None;
            }
            Some(Box::new(value.clone()))
        }
    }
}
