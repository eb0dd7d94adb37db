//! The message filter language.
//!
//! An expression of terms combined with `and` (also `&&`, or just a space),
//! `or` (`||`), `not` (`!`, also as a prefix: `!keyframe`) and parentheses;
//! `and` binds tighter than `or`. Terms:
//! - `type:NAME|ID` message type: a type name (`video`, `audio`,
//!   `command_amf0`, ...), a group (`command`, `data`, `control`,
//!   `user_control`, `media`, `shared_object`, `aggregate`) or a number;
//! - `cmd:NAME` command name (case-insensitive, exact);
//! - numbers compared with `:` or `=` / `==`, `!=`, `>`, `>=`, `<`, `<=`:
//!   `len` (message length), `ts` (RTMP timestamp), `ts_delta` (timestamp
//!   minus the previous message's on the same chunk stream), `csid`,
//!   `msid`, `fmt`, `chunks`, `pcap` (the packet that completed the
//!   message, `pcap_cnt` in JSON), `session` (session number, as every
//!   output shows it), `flow` (flow id);
//! - `dir:to_server|to_client` (aliases `c2s`/`s2c`, `>`/`<`);
//! - `anomaly` messages with a diagnostic (or truncated);
//! - `keyframe` video keyframes;
//! - anything else: case-insensitive text matched against the summary
//!   (`"quoted text"` may contain spaces and operator words).
//!
//! Contract: [`Filter::parse`] validates the whole expression and returns a
//! human error for the first problem; matching never panics. Nesting is
//! bounded ([`MAX_DEPTH`]).

use super::model::{Model, MsgRow, Summary};
use super::summary::Kind;
use crate::event::Direction;

/// Deepest nesting of parentheses / `not` accepted.
pub const MAX_DEPTH: usize = 64;

/// A numeric field of a message row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Field {
    Len,
    Ts,
    TsDelta,
    Csid,
    Msid,
    Fmt,
    Chunks,
    Pcap,
    Session,
    Flow,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

impl Op {
    fn test(self, a: i64, b: i64) -> bool {
        match self {
            Op::Eq => a == b,
            Op::Ne => a != b,
            Op::Gt => a > b,
            Op::Ge => a >= b,
            Op::Lt => a < b,
            Op::Le => a <= b,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Pred {
    Types(Vec<u8>),
    Cmd(String),
    Num(Field, Op, i64),
    Dir(Direction),
    Anomaly,
    Keyframe,
    Text(String),
}

#[derive(Clone, Debug, PartialEq)]
enum Expr {
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    P(Pred),
}

/// A parsed filter (empty = everything matches).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Filter {
    expr: Option<Expr>,
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

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Word(String),
    Quoted(String),
    Open,
    Close,
}

fn tokenize(s: &str) -> Result<Vec<Tok>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = s.chars().peekable();
    let flush = |cur: &mut String, out: &mut Vec<Tok>| {
        if !cur.is_empty() {
            out.push(Tok::Word(std::mem::take(cur)));
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                flush(&mut cur, &mut out);
                let mut q = String::new();
                let mut closed = false;
                for c in chars.by_ref() {
                    if c == '"' {
                        closed = true;
                        break;
                    }
                    q.push(c);
                }
                if !closed {
                    return Err("unterminated quote".into());
                }
                out.push(Tok::Quoted(q));
            }
            '(' => {
                flush(&mut cur, &mut out);
                out.push(Tok::Open);
            }
            ')' => {
                flush(&mut cur, &mut out);
                out.push(Tok::Close);
            }
            c if c.is_whitespace() => flush(&mut cur, &mut out),
            c => cur.push(c),
        }
    }
    flush(&mut cur, &mut out);
    Ok(out)
}

/// Splits `key<op>value` (key of letters and `_`); None when the word is
/// not of that form.
fn split_key(t: &str) -> Option<(&str, &str, &str)> {
    let k = t
        .find(|c: char| !(c.is_ascii_alphabetic() || c == '_'))
        .filter(|&i| i > 0)?;
    let rest = &t[k..];
    let op = [">=", "<=", "!=", "==", ":", "=", ">", "<"]
        .into_iter()
        .find(|op| rest.starts_with(op))?;
    Some((&t[..k], op, &rest[op.len()..]))
}

fn field(k: &str) -> Option<Field> {
    Some(match k {
        "len" | "length" => Field::Len,
        "ts" | "timestamp" => Field::Ts,
        "ts_delta" | "tsdelta" | "delta" => Field::TsDelta,
        "csid" => Field::Csid,
        "msid" => Field::Msid,
        "fmt" => Field::Fmt,
        "chunks" => Field::Chunks,
        "pcap" | "pcap_cnt" | "frame" => Field::Pcap,
        "session" => Field::Session,
        "flow" => Field::Flow,
        _ => return None,
    })
}

/// One term (a word that is not an operator).
fn term(t: &str) -> Result<Pred, String> {
    let Some((k, op, v)) = split_key(t) else {
        return Ok(match t.to_ascii_lowercase().as_str() {
            "anomaly" | "anomalies" => Pred::Anomaly,
            "keyframe" => Pred::Keyframe,
            other => Pred::Text(other.to_lowercase()),
        });
    };
    let kl = k.to_ascii_lowercase();
    let vl = v.to_ascii_lowercase();
    if let Some(f) = field(&kl) {
        let op = match op {
            ":" | "=" | "==" => Op::Eq,
            "!=" => Op::Ne,
            ">" => Op::Gt,
            ">=" => Op::Ge,
            "<" => Op::Lt,
            _ => Op::Le,
        };
        let n: i64 = vl
            .parse()
            .map_err(|_| format!("{kl}: expected a number, got '{v}'"))?;
        return Ok(Pred::Num(f, op, n));
    }
    if op != ":" {
        return Err(format!(
            "'{op}' compares numbers: len ts ts_delta csid msid fmt chunks pcap session flow"
        ));
    }
    Ok(match kl.as_str() {
        "type" => {
            if vl.is_empty() {
                return Err("type: needs a value (video, audio, command, 20, ...)".into());
            }
            Pred::Types(type_ids(&vl).ok_or_else(|| format!("type: unknown type '{v}'"))?)
        }
        "cmd" | "command" => {
            if vl.is_empty() {
                return Err("cmd: needs a command name".into());
            }
            Pred::Cmd(vl)
        }
        "dir" => Pred::Dir(match vl.as_str() {
            "to_server" | "c2s" | ">" | "server" | "up" => Direction::ToServer,
            "to_client" | "s2c" | "<" | "client" | "down" => Direction::ToClient,
            _ => return Err(format!("dir: expected to_server or to_client, got '{v}'")),
        }),
        _ => {
            return Err(format!(
                "unknown key '{k}:' (keys: type cmd dir len ts ts_delta csid msid fmt chunks pcap session flow)"
            ))
        }
    })
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }
    fn is_word(&self, w: &[&str]) -> bool {
        matches!(self.peek(), Some(Tok::Word(x)) if w.contains(&x.to_ascii_lowercase().as_str()))
    }
    fn or(&mut self, depth: usize) -> Result<Expr, String> {
        let mut v = vec![self.and(depth)?];
        while self.is_word(&["or", "||"]) {
            self.pos += 1;
            if self.peek().is_none() || self.peek() == Some(&Tok::Close) {
                return Err("'or' needs a term after it".into());
            }
            v.push(self.and(depth)?);
        }
        Ok(if v.len() == 1 {
            v.remove(0)
        } else {
            Expr::Or(v)
        })
    }
    fn and(&mut self, depth: usize) -> Result<Expr, String> {
        let mut v = vec![self.unary(depth)?];
        loop {
            if self.is_word(&["and", "&&"]) {
                self.pos += 1;
                if self.peek().is_none() || self.peek() == Some(&Tok::Close) {
                    return Err("'and' needs a term after it".into());
                }
            } else if self.peek().is_none()
                || self.peek() == Some(&Tok::Close)
                || self.is_word(&["or", "||"])
            {
                break;
            }
            v.push(self.unary(depth)?);
        }
        Ok(if v.len() == 1 {
            v.remove(0)
        } else {
            Expr::And(v)
        })
    }
    fn unary(&mut self, depth: usize) -> Result<Expr, String> {
        if depth > MAX_DEPTH {
            return Err(format!("nested more than {MAX_DEPTH} deep"));
        }
        match self.peek().cloned() {
            None => Err("expected a term".into()),
            Some(Tok::Close) => Err("')' without '('".into()),
            Some(Tok::Open) => {
                self.pos += 1;
                if self.peek() == Some(&Tok::Close) {
                    return Err("empty parentheses".into());
                }
                let e = self.or(depth + 1)?;
                if self.peek() != Some(&Tok::Close) {
                    return Err("'(' without ')'".into());
                }
                self.pos += 1;
                Ok(e)
            }
            Some(Tok::Quoted(q)) => {
                self.pos += 1;
                Ok(Expr::P(Pred::Text(q.to_lowercase())))
            }
            Some(Tok::Word(w)) => {
                self.pos += 1;
                let wl = w.to_ascii_lowercase();
                if wl == "not" || wl == "!" {
                    return Ok(Expr::Not(Box::new(self.unary(depth + 1)?)));
                }
                if matches!(wl.as_str(), "and" | "&&" | "or" | "||") {
                    return Err(format!("'{w}' needs a term before it"));
                }
                if let Some(rest) = w.strip_prefix('!') {
                    if rest.is_empty() {
                        return Err("empty term after '!'".into());
                    }
                    return Ok(Expr::Not(Box::new(Expr::P(term(rest)?))));
                }
                Ok(Expr::P(term(&w)?))
            }
        }
    }
}

/// The row's lower-case summary, built at most once per row.
struct Lower<'a> {
    model: &'a Model,
    row: &'a MsgRow,
    buf: &'a mut String,
    have: bool,
}

impl Lower<'_> {
    fn get(&mut self) -> &str {
        if !self.have {
            self.model.summary_lower_into(self.row, self.buf);
            self.have = true;
        }
        self.buf
    }
}

impl Expr {
    fn eval(&self, r: &MsgRow, model: &Model, lower: &mut Lower<'_>) -> bool {
        match self {
            Expr::And(v) => v.iter().all(|e| e.eval(r, model, lower)),
            Expr::Or(v) => v.iter().any(|e| e.eval(r, model, lower)),
            Expr::Not(e) => !e.eval(r, model, lower),
            Expr::P(p) => p.test(r, model, lower),
        }
    }
}

impl Pred {
    fn test(&self, r: &MsgRow, model: &Model, lower: &mut Lower<'_>) -> bool {
        match self {
            Pred::Types(ids) => ids.contains(&r.type_id),
            Pred::Cmd(name) => {
                r.kind == Kind::Command && {
                    lower
                        .get()
                        .strip_prefix(name.as_str())
                        .is_some_and(|rest| rest.is_empty() || rest.starts_with(['(', ' ']))
                }
            }
            Pred::Num(f, op, n) => {
                let v: Option<i64> = match f {
                    Field::Len => Some(r.length as i64),
                    Field::Ts => Some(r.timestamp as i64),
                    Field::TsDelta => r.ts_delta.map(i64::from),
                    Field::Csid => Some(r.csid as i64),
                    Field::Msid => Some(r.msid as i64),
                    Field::Fmt => Some(r.fmt as i64),
                    Field::Chunks => Some(r.chunks as i64),
                    Field::Pcap => Some(r.pcap_cnt as i64),
                    Field::Session => model.session_number(r.flow_id).map(|x| x as i64),
                    Field::Flow => Some(r.flow_id as i64),
                };
                v.is_some_and(|v| op.test(v, *n))
            }
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
            Pred::Text(t) => lower.get().contains(t.as_str()),
        }
    }
}

impl Filter {
    /// Parses an expression; `Err` carries a message for the user.
    pub fn parse(src: &str) -> Result<Filter, String> {
        let toks = tokenize(src)?;
        if toks.is_empty() {
            return Ok(Filter {
                expr: None,
                source: String::new(),
            });
        }
        let mut p = Parser { toks, pos: 0 };
        let e = p.or(0)?;
        if p.pos < p.toks.len() {
            return Err(match p.peek() {
                Some(Tok::Close) => "')' without '('".into(),
                _ => "unexpected text after the expression".into(),
            });
        }
        Ok(Filter {
            expr: Some(e),
            source: src.trim().to_string(),
        })
    }

    /// The expression as typed.
    pub fn source(&self) -> &str {
        &self.source
    }

    pub fn is_empty(&self) -> bool {
        self.expr.is_none()
    }

    /// Terms every match must satisfy (the top-level `and`).
    fn required(&self) -> Vec<&Pred> {
        match &self.expr {
            Some(Expr::P(p)) => vec![p],
            Some(Expr::And(v)) => v
                .iter()
                .filter_map(|e| match e {
                    Expr::P(p) => Some(p),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    /// The session number of a required `session:N` term, if any.
    pub fn session(&self) -> Option<u64> {
        self.required().into_iter().find_map(|p| match p {
            Pred::Num(Field::Session, Op::Eq, n) => u64::try_from(*n).ok(),
            _ => None,
        })
    }

    /// The flow id of a required `flow:N` term, if any.
    pub fn flow(&self) -> Option<u64> {
        self.required().into_iter().find_map(|p| match p {
            Pred::Num(Field::Flow, Op::Eq, n) => u64::try_from(*n).ok(),
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
        let Some(e) = &self.expr else {
            return true;
        };
        let mut lower = Lower {
            model,
            row: r,
            buf: scratch,
            have: false,
        };
        e.eval(r, model, &mut lower)
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
        assert!(Filter::parse("(type:video").unwrap_err().contains("')'"));
        assert!(Filter::parse("type:video)").unwrap_err().contains("'('"));
        assert!(Filter::parse("type:video or").unwrap_err().contains("or"));
        assert!(Filter::parse("and keyframe").is_err());
        assert!(Filter::parse("len>x").unwrap_err().contains("number"));
        assert!(Filter::parse("type>3")
            .unwrap_err()
            .contains("compares numbers"));
        assert!(Filter::parse(&"(".repeat(100)).is_err());
    }

    #[test]
    fn parse_terms() {
        let f = Filter::parse("type:video  session:3 dir:c2s \"a b\" !anomaly").unwrap();
        let Some(Expr::And(v)) = &f.expr else {
            panic!("{:?}", f.expr)
        };
        assert_eq!(v.len(), 5);
        assert_eq!(v[0], Expr::P(Pred::Types(vec![9])));
        assert_eq!(f.session(), Some(3));
        assert_eq!(v[3], Expr::P(Pred::Text("a b".into())));
        assert_eq!(v[4], Expr::Not(Box::new(Expr::P(Pred::Anomaly))));
        assert!(Filter::parse("").unwrap().is_empty());
        assert_eq!(
            Filter::parse("type:command").unwrap().expr,
            Some(Expr::P(Pred::Types(vec![17, 20])))
        );
        // Precedence: and binds tighter than or.
        let f = Filter::parse("a or b and c").unwrap();
        assert!(
            matches!(&f.expr, Some(Expr::Or(v)) if v.len() == 2 && matches!(v[1], Expr::And(_)))
        );
        let f = Filter::parse("(a or b) and not c").unwrap();
        assert!(
            matches!(&f.expr, Some(Expr::And(v)) if matches!(v[0], Expr::Or(_)) && matches!(v[1], Expr::Not(_)))
        );
        // Operator words in quotes are text.
        assert_eq!(
            Filter::parse("\"or\"").unwrap().expr,
            Some(Expr::P(Pred::Text("or".into())))
        );
        assert_eq!(
            Filter::parse("len>100000").unwrap().expr,
            Some(Expr::P(Pred::Num(Field::Len, Op::Gt, 100_000)))
        );
        assert_eq!(
            Filter::parse("ts_delta<=-5").unwrap().expr,
            Some(Expr::P(Pred::Num(Field::TsDelta, Op::Le, -5)))
        );
    }
}
