//! The event schema (`schema/rtmpscope-events.schema.json`) checked by the
//! `jsonschema` crate: full draft 2020-12, the rules the schema's users'
//! tools apply. The schema itself is first checked against the 2020-12
//! meta-schema.
#![allow(dead_code)]

use serde_json::Value as J;

pub struct Validator {
    inner: jsonschema::Validator,
}

impl Validator {
    /// Ok, or every failure (instance path and reason), `|`-separated.
    pub fn validate(&self, v: &J) -> Result<(), String> {
        let errors: Vec<String> = self
            .inner
            .iter_errors(v)
            .take(8)
            .map(|e| format!("{}: {e}", e.instance_path()))
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join(" | "))
        }
    }
}

/// The schema as JSON.
pub fn schema() -> J {
    // Relative to this file, so the fuzz crate (fuzz/) finds it too.
    let text = include_str!("../../schema/rtmpscope-events.schema.json");
    serde_json::from_str(text).expect("schema is JSON")
}

pub fn load() -> Validator {
    let schema = schema();
    if let Err(e) = jsonschema::draft202012::meta::validate(&schema) {
        panic!("the schema is not a valid draft 2020-12 schema: {e}");
    }
    let inner = jsonschema::draft202012::new(&schema).expect("the schema compiles");
    Validator { inner }
}
