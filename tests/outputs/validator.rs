//! A small JSON Schema validator for the subset the rtmpscope schema uses
//! (draft 2020-12 keywords: $ref to #/$defs, type, const, enum, properties,
//! required, additionalProperties, items, prefixItems, minItems, maxItems,
//! minimum, oneOf, anyOf). Unknown keywords are an error, so the schema cannot
//! silently rely on something this validator ignores.

use serde_json::Value as J;

const ANNOTATIONS: &[&str] = &["$schema", "$id", "title", "description", "$defs"];

pub struct Validator {
    root: J,
}

impl Validator {
    pub fn new(root: J) -> Self {
        Validator { root }
    }

    /// Ok or the path and reason of the first failure.
    pub fn validate(&self, v: &J) -> Result<(), String> {
        self.check(&self.root, v, "$")
    }

    fn resolve<'a>(&'a self, r: &str) -> Result<&'a J, String> {
        let name = r
            .strip_prefix("#/$defs/")
            .ok_or_else(|| format!("unsupported $ref {r}"))?;
        self.root
            .get("$defs")
            .and_then(|d| d.get(name))
            .ok_or_else(|| format!("unknown $ref {r}"))
    }

    fn type_ok(t: &str, v: &J) -> bool {
        match t {
            "null" => v.is_null(),
            "boolean" => v.is_boolean(),
            "object" => v.is_object(),
            "array" => v.is_array(),
            "string" => v.is_string(),
            "number" => v.is_number(),
            "integer" => v.is_i64() || v.is_u64(),
            _ => false,
        }
    }

    fn check(&self, schema: &J, v: &J, path: &str) -> Result<(), String> {
        let s = match schema {
            J::Bool(true) => return Ok(()),
            J::Bool(false) => return Err(format!("{path}: not allowed")),
            J::Object(m) => m,
            _ => return Err(format!("{path}: bad schema")),
        };
        for (k, kw) in s {
            match k.as_str() {
                k if ANNOTATIONS.contains(&k) => {}
                "$ref" => self.check(self.resolve(kw.as_str().unwrap_or(""))?, v, path)?,
                "type" => {
                    let ok = match kw {
                        J::String(t) => Self::type_ok(t, v),
                        J::Array(ts) => ts
                            .iter()
                            .any(|t| Self::type_ok(t.as_str().unwrap_or(""), v)),
                        _ => false,
                    };
                    if !ok {
                        return Err(format!("{path}: expected type {kw}, got {v}"));
                    }
                }
                "const" => {
                    if kw != v {
                        return Err(format!("{path}: expected {kw}, got {v}"));
                    }
                }
                "enum" => {
                    if !kw.as_array().is_some_and(|a| a.contains(v)) {
                        return Err(format!("{path}: {v} not in {kw}"));
                    }
                }
                "minimum" => {
                    if let (Some(x), Some(min)) = (v.as_f64(), kw.as_f64()) {
                        if x < min {
                            return Err(format!("{path}: {x} < {min}"));
                        }
                    }
                }
                "required" => {
                    if let J::Object(o) = v {
                        for r in kw.as_array().into_iter().flatten() {
                            let r = r.as_str().unwrap_or("");
                            if !o.contains_key(r) {
                                return Err(format!("{path}: missing {r}"));
                            }
                        }
                    }
                }
                "properties" => {
                    if let J::Object(o) = v {
                        for (pk, ps) in kw.as_object().into_iter().flatten() {
                            if let Some(pv) = o.get(pk) {
                                self.check(ps, pv, &format!("{path}.{pk}"))?;
                            }
                        }
                    }
                }
                "additionalProperties" => {
                    if let J::Object(o) = v {
                        let props = s.get("properties").and_then(J::as_object);
                        for (pk, pv) in o {
                            if props.is_some_and(|p| p.contains_key(pk)) {
                                continue;
                            }
                            self.check(kw, pv, &format!("{path}.{pk}"))
                                .map_err(|e| format!("{e} (additional property {pk})"))?;
                        }
                    }
                }
                "prefixItems" => {
                    if let J::Array(a) = v {
                        for (i, (ps, iv)) in kw.as_array().into_iter().flatten().zip(a).enumerate()
                        {
                            self.check(ps, iv, &format!("{path}[{i}]"))?;
                        }
                    }
                }
                "items" => {
                    if let J::Array(a) = v {
                        let skip = s
                            .get("prefixItems")
                            .and_then(J::as_array)
                            .map_or(0, |p| p.len());
                        for (i, iv) in a.iter().enumerate().skip(skip) {
                            self.check(kw, iv, &format!("{path}[{i}]"))?;
                        }
                    }
                }
                "minItems" => {
                    if let J::Array(a) = v {
                        if (a.len() as u64) < kw.as_u64().unwrap_or(0) {
                            return Err(format!("{path}: too few items"));
                        }
                    }
                }
                "maxItems" => {
                    if let J::Array(a) = v {
                        if (a.len() as u64) > kw.as_u64().unwrap_or(u64::MAX) {
                            return Err(format!("{path}: too many items"));
                        }
                    }
                }
                "anyOf" => {
                    let alts = kw.as_array().cloned().unwrap_or_default();
                    let mut errs = Vec::new();
                    let mut ok = false;
                    for a in &alts {
                        match self.check(a, v, path) {
                            Ok(()) => {
                                ok = true;
                                break;
                            }
                            Err(e) => errs.push(e),
                        }
                    }
                    if !ok {
                        return Err(format!(
                            "{path}: no anyOf branch matched: {}",
                            errs.join(" | ")
                        ));
                    }
                }
                "oneOf" => {
                    let alts = kw.as_array().cloned().unwrap_or_default();
                    let mut errs = Vec::new();
                    let mut hits = 0;
                    for a in &alts {
                        match self.check(a, v, path) {
                            Ok(()) => hits += 1,
                            Err(e) => errs.push(e),
                        }
                    }
                    if hits != 1 {
                        return Err(format!(
                            "{path}: {hits} oneOf branches matched; errors: {}",
                            errs.join(" | ")
                        ));
                    }
                }
                other => return Err(format!("{path}: unsupported keyword {other}")),
            }
        }
        Ok(())
    }
}

pub fn load() -> Validator {
    // Relative to this file, so the fuzz crate (fuzz/) finds it too.
    let text = include_str!("../../schema/rtmpscope-events.schema.json");
    Validator::new(serde_json::from_str(text).expect("schema is JSON"))
}
