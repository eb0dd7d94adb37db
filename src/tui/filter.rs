//! The message filter language.
//!
//! Terms are separated by spaces and all must match (AND). A term prefixed
//! with `!` is negated. Terms:
//! - `type:NAME|ID` message type: a type name (`video`, `audio`,
//!   `command_amf0`, ...), a group (`command`, `data`, `control`,
//!   `user_control`, `media`, `shared_object`, `aggregate`) or a number;
//! - `cmd:NAME` command name (case-insensitive, exact);
//! - `csid:N`, `msid:N`, `session:N` (session number, as every output
//!   shows it), `flow:N` (flow id);
//! - `dir:to_server|to_client` (aliases `c2s`/`s2c`, `>`/`<`);
//! - `anomaly` messages with a diagnostic (or truncated);
//! - `keyframe` video keyframes;
//! - anything else: case-insensitive text matched against the summary
//!   (`"quoted text"` may contain spaces).
//!
//! Contract: [`Filter::parse`] validates the whole expression and returns a
//! human error for the first bad term; matching never panics.

use super::model::{Model, MsgRow, Summary};
use super::summary::Kind;
use crate::event::Direction;

#[derive(Clone, Debug, PartialEq)]
enum Pred {
    Types(Vec<u8>),
    Cmd(String),
    Csid(u32),
    Msid(u32),
    /// Session number ([`crate::session::Session::session_id`]).
    Session(u64),
    /// Flow id.
    Flow(u64),
    Dir(Direction),
    Anomaly,
    Keyframe,
    Text(String),
}

/// A parsed filter (empty = everything matches).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Filter {
    terms: Vec<(bool, Pred)>,
    source: String,
}

fn type_ids(v: &str) -> Option<Vec<u8>> {
    let ids: Vec<u8> = match v {
        "command" | "cmd" => vec![17, 20],
        "data" | "metadata" => vec![15, 18],
        "control" => vec![1, 2, 3, 5, 6],
        "user_control" | "usercontrol" | "uc" => vec![4],
        "media" => vec![8, 9, 22],
        "shared_object" | "so" => vec![16, 19],
        "ack" => vec![3],
        _ => {
            if let Ok(n) = v.parse::<u8>() {
                vec![n]
            } else {
                let n = (0u8..=255)
                    .find(|&i| crate::rtmp::message::type_name(i) == v && v != "unknown")?;
                vec![n]
            }
        }
    };
    Some(ids)
}

fn tokenize(s: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_q = false;
    let mut had_q = false;
    for c in s.chars() {
        match c {
            '"' => {
                in_q = !in_q;
                had_q = true;
            }
            c if c.is_whitespace() && !in_q => {
                if !cur.is_empty() || had_q {
                    out.push(std::mem::take(&mut cur));
                }
                had_q = false;
            }
            c => cur.push(c),
        }
    }
    if in_q {
        return Err("unterminated quote".into());
    }
    if !cur.is_empty() || had_q {
        out.push(cur);
    }
    Ok(out)
}

impl Filter {
    /// Parses an expression; `Err` carries a message for the user.
    pub fn parse(src: &str) -> Result<Filter, String> {
        let mut terms = Vec::new();
        for tok in tokenize(src)? {
            let (neg, t) = match tok.strip_prefix('!') {
                Some(rest) => (true, rest.to_string()),
                None => (false, tok.clone()),
            };
            if t.is_empty() {
                return Err("empty term after '!'".into());
            }
            let pred = if let Some((k, v)) = t.split_once(':') {
                let kl = k.to_ascii_lowercase();
                let vl = v.to_ascii_lowercase();
                let num = |what: &str| -> Result<u64, String> {
                    vl.parse::<u64>()
                        .map_err(|_| format!("{what}: expected a number, got '{v}'"))
                };
                match kl.as_str() {
                    "type" => {
                        if vl.is_empty() {
                            return Err(
                                "type: needs a value (video, audio, command, 20, ...)".into()
                            );
                        }
                        Pred::Types(
                            type_ids(&vl).ok_or_else(|| format!("type: unknown type '{v}'"))?,
                        )
                    }
                    "cmd" | "command" => {
                        if vl.is_empty() {
                            return Err("cmd: needs a command name".into());
                        }
                        Pred::Cmd(vl)
                    }
                    "csid" => {
                        Pred::Csid(u32::try_from(num("csid")?).map_err(|_| "csid: too large")?)
                    }
                    "msid" => {
                        Pred::Msid(u32::try_from(num("msid")?).map_err(|_| "msid: too large")?)
                    }
                    "session" => Pred::Session(num("session")?),
                    "flow" => Pred::Flow(num("flow")?),
                    "dir" => Pred::Dir(match vl.as_str() {
                        "to_server" | "c2s" | ">" | "server" | "up" => Direction::ToServer,
                        "to_client" | "s2c" | "<" | "client" | "down" => Direction::ToClient,
                        _ => {
                            return Err(format!("dir: expected to_server or to_client, got '{v}'"))
                        }
                    }),
                    _ => {
                        return Err(format!(
                            "unknown key '{k}:' (keys: type cmd csid msid session flow dir)"
                        ))
                    }
                }
            } else {
                match t.to_ascii_lowercase().as_str() {
                    "anomaly" | "anomalies" => Pred::Anomaly,
                    "keyframe" => Pred::Keyframe,
                    other => Pred::Text(other.to_lowercase()),
                }
            };
            terms.push((neg, pred));
        }
        Ok(Filter {
            terms,
            source: src.trim().to_string(),
        })
    }

    /// The expression as typed.
    pub fn source(&self) -> &str {
        &self.source
    }

    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// The session number of a `session:N` term, if any.
    pub fn session(&self) -> Option<u64> {
        self.terms.iter().find_map(|(neg, p)| match p {
            Pred::Session(s) if !neg => Some(*s),
            _ => None,
        })
    }

    /// The flow id of a `flow:N` term, if any.
    pub fn flow(&self) -> Option<u64> {
        self.terms.iter().find_map(|(neg, p)| match p {
            Pred::Flow(f) if !neg => Some(*f),
            _ => None,
        })
    }

    /// Whether a row matches.
    pub fn matches(&self, r: &MsgRow, model: &Model) -> bool {
        self.matches_with(r, model, &mut String::new())
    }

    /// [`Filter::matches`] with a caller-owned scratch buffer (no
    /// allocation per row when filtering many rows).
    pub fn matches_with(&self, r: &MsgRow, model: &Model, scratch: &mut String) -> bool {
        let mut have = false;
        for (neg, p) in &self.terms {
            let mut lower = |scratch: &mut String| {
                if !have {
                    model.summary_lower_into(r, scratch);
                    have = true;
                }
            };
            let ok = match p {
                Pred::Types(ids) => ids.contains(&r.type_id),
                Pred::Cmd(name) => {
                    r.kind == Kind::Command && {
                        lower(scratch);
                        scratch
                            .strip_prefix(name.as_str())
                            .is_some_and(|rest| rest.is_empty() || rest.starts_with(['(', ' ']))
                    }
                }
                Pred::Csid(c) => r.csid == *c,
                Pred::Msid(c) => r.msid == *c,
                Pred::Session(n) => model.session_number(r.flow_id) == Some(*n),
                Pred::Flow(f) => r.flow_id == *f,
                Pred::Dir(d) => r.dir == *d,
                Pred::Anomaly => r.anomalies > 0 || r.truncated,
                Pred::Keyframe => matches!(
                    r.summary,
                    Summary::Media {
                        video: true,
                        keyframe: true,
                        ..
                    }
                ),
                Pred::Text(t) => {
                    lower(scratch);
                    scratch.contains(t.as_str())
                }
            };
            if ok == *neg {
                return false;
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_errors_are_reported() {
        assert!(Filter::parse("type:bogus")
            .unwrap_err()
            .contains("unknown type"));
        assert!(Filter::parse("csid:x").unwrap_err().contains("number"));
        assert!(Filter::parse("dir:sideways")
            .unwrap_err()
            .contains("to_server"));
        assert!(Filter::parse("foo:bar")
            .unwrap_err()
            .contains("unknown key"));
        assert!(Filter::parse("\"open").unwrap_err().contains("quote"));
        assert!(Filter::parse("!").is_err());
    }

    #[test]
    fn parse_terms() {
        let f = Filter::parse("type:video  session:3 dir:c2s \"a b\" !anomaly").unwrap();
        assert_eq!(f.terms.len(), 5);
        assert_eq!(f.terms[0], (false, Pred::Types(vec![9])));
        assert_eq!(f.session(), Some(3));
        assert_eq!(f.terms[3], (false, Pred::Text("a b".into())));
        assert_eq!(f.terms[4], (true, Pred::Anomaly));
        assert!(Filter::parse("").unwrap().is_empty());
        assert_eq!(
            Filter::parse("type:command").unwrap().terms[0].1,
            Pred::Types(vec![17, 20])
        );
        assert_eq!(
            Filter::parse("type:20").unwrap().terms[0].1,
            Pred::Types(vec![20])
        );
    }
}
