//! Table layout by priority: the columns that carry the meaning (summary,
//! endpoints, stream names, anomaly names) take the room; fixed columns
//! shrink to their minimum, then drop in a stated order, before a meaning
//! column is cut; a cut text loses its middle (an ellipsis), keeping what
//! identifies it: the end of a status code (`NetStream.Play.Start`), both
//! endpoints of `client -> server`, the role of a stream, the end of a file
//! name.
//!
//! Contract: [`fit`] is pure; widths are in terminal columns, counted as
//! one per `char` (everything drawn was sanitised to printable text).

/// How a cell's text is cut when it is wider than its column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cut {
    /// Keep the start (numbers, short words).
    End,
    /// Keep start and end, ellipsis in the middle (status codes, names).
    Middle,
    /// `a -> b`: cut each side in its middle, keep the arrow.
    Endpoints,
    /// `name(role), name(role)`: cut the names, keep every `(role)`.
    Roles,
}

/// One column of a table.
#[derive(Clone, Debug)]
pub struct Col {
    pub header: &'static str,
    /// Width of the widest content (computed by [`Col::measure`]).
    pub want: u16,
    /// Narrowest useful width.
    pub min: u16,
    /// Drop order: 0 never dropped; 1 dropped first, then 2, ...
    pub drop: u8,
    /// A meaning column: takes the room left, is cut last.
    pub flex: bool,
    /// A meaning column is satisfied at this width (fixed columns drop
    /// until every meaning column has it, or its `want` if less).
    pub enough: u16,
    /// Never cut: shrinks no further than its content.
    pub keep: bool,
    pub cut: Cut,
}

impl Col {
    pub fn new(header: &'static str, min: u16, drop: u8) -> Col {
        Col {
            header,
            want: header.chars().count() as u16,
            min: min.max(1),
            drop,
            flex: false,
            enough: u16::MAX,
            keep: false,
            cut: Cut::End,
        }
    }
    /// A meaning column (takes the room, cut last) with its cut rule.
    pub fn flex(mut self, cut: Cut) -> Col {
        self.flex = true;
        self.cut = cut;
        self
    }
    /// The width at which a meaning column is satisfied (see `enough`).
    pub fn enough(mut self, w: u16) -> Col {
        self.enough = w;
        self
    }
    /// Never cut (anomaly names, protocol names).
    pub fn keep(mut self) -> Col {
        self.keep = true;
        self
    }
    pub fn cut(mut self, cut: Cut) -> Col {
        self.cut = cut;
        self
    }
    /// Widens `want` to fit `s`.
    pub fn measure(&mut self, s: &str) {
        let n = s.chars().count().min(u16::MAX as usize) as u16;
        self.want = self.want.max(n);
    }
}

/// Widths of `cols` in `width` columns with `spacing` between columns:
/// `None` for a dropped column. Fixed columns get their `want` when it
/// fits; under pressure they shrink to `min`, then columns drop (order
/// 1, 2, ...), then meaning columns shrink to their `min`. Room left over
/// goes to the last meaning column.
pub fn fit(cols: &[Col], width: u16, spacing: u16) -> Vec<Option<u16>> {
    // Fixed columns shrink while the meaning columns lack their full want;
    // they drop only while a meaning column lacks `enough`; meaning columns
    // get the room left (up to their want) at the end.
    let mut w: Vec<Option<u16>> = cols
        .iter()
        .map(|c| {
            Some(if c.flex {
                c.want.max(c.min)
            } else if c.keep {
                c.want
            } else {
                c.want.max(c.min)
            })
        })
        .collect();
    let total = |w: &[Option<u16>]| -> u32 {
        let shown = w.iter().filter(|x| x.is_some()).count() as u32;
        w.iter().flatten().map(|&x| x as u32).sum::<u32>()
            + spacing as u32 * shown.saturating_sub(1)
    };
    let avail = width as u32;
    // 1. Fixed columns shrink to their minimum (those dropped first first).
    let mut order: Vec<usize> = (0..cols.len()).filter(|&i| !cols[i].flex).collect();
    order.sort_by_key(|&i| match cols[i].drop {
        0 => u16::MAX,
        d => d as u16,
    });
    for &i in &order {
        let over = total(&w).saturating_sub(avail);
        if over == 0 {
            break;
        }
        if let Some(x) = w[i] {
            let floor = if cols[i].keep {
                cols[i].want
            } else {
                cols[i].min
            };
            let give = (x.saturating_sub(floor) as u32).min(over) as u16;
            w[i] = Some(x - give);
        }
    }
    // 2. Fixed columns drop (in their order) while the meaning columns
    //    would be left less than enough (their want, at most `enough`).
    let mut drops: Vec<usize> = (0..cols.len()).filter(|&i| cols[i].drop > 0).collect();
    drops.sort_by_key(|&i| cols[i].drop);
    let flex_min: u32 = cols
        .iter()
        .filter(|c| c.flex)
        .map(|c| c.want.min(c.enough).max(c.min) as u32)
        .sum();
    for &i in &drops {
        // Dropping is needed only if the meaning columns would go below
        // their minimum.
        let fixed: u32 = w
            .iter()
            .zip(cols)
            .filter(|(_, c)| !c.flex)
            .filter_map(|(x, _)| x.map(|v| v as u32))
            .sum();
        let shown = w.iter().filter(|x| x.is_some()).count() as u32;
        let need = fixed + flex_min + spacing as u32 * shown.saturating_sub(1);
        if need <= avail {
            break;
        }
        w[i] = None;
    }
    // 3. Meaning columns share what is left: each gets its want if all fit,
    //    else room in proportion to want (at least min).
    let fixed: u32 = w
        .iter()
        .zip(cols)
        .filter(|(_, c)| !c.flex)
        .filter_map(|(x, _)| x.map(|v| v as u32))
        .sum();
    let shown = w.iter().filter(|x| x.is_some()).count() as u32;
    let room = avail.saturating_sub(fixed + spacing as u32 * shown.saturating_sub(1));
    let flex: Vec<usize> = (0..cols.len())
        .filter(|&i| cols[i].flex && w[i].is_some())
        .collect();
    let want_sum: u32 = flex
        .iter()
        .map(|&i| cols[i].want.max(cols[i].min) as u32)
        .sum();
    if want_sum <= room {
        if let Some(&last) = flex.last() {
            for &i in &flex {
                w[i] = Some(cols[i].want.max(cols[i].min));
            }
            let extra = room - want_sum;
            w[last] = w[last].map(|x| x.saturating_add(extra.min(u16::MAX as u32) as u16));
        }
    } else {
        // Proportional, each at least its min; rounding leftovers to the last.
        let mut given = 0u32;
        for &i in &flex {
            let want = cols[i].want.max(cols[i].min) as u32;
            let share = (room as u64 * want as u64 / want_sum.max(1) as u64) as u32;
            let v = share.max(cols[i].min as u32).min(want);
            w[i] = Some(v as u16);
            given += v;
        }
        if let Some(&last) = flex.last() {
            if given < room {
                let extra = room - given;
                w[last] = w[last].map(|x| x.saturating_add(extra.min(u16::MAX as u32) as u16));
            }
        }
    }
    w
}

/// `s` cut to `w` columns by `cut`.
pub fn cut(s: &str, w: usize, how: Cut) -> String {
    let n = s.chars().count();
    if n <= w {
        return s.to_owned();
    }
    if w == 0 {
        return String::new();
    }
    match how {
        Cut::End => {
            let mut o: String = s.chars().take(w - 1).collect();
            o.push('…');
            o
        }
        Cut::Middle => middle(s, w),
        Cut::Endpoints => match s.split_once(" -> ") {
            Some((a, b)) if w >= 9 => {
                let side = w - 4;
                let (wa, wb) = split_room(a.chars().count(), b.chars().count(), side);
                format!("{} -> {}", middle(a, wa), middle(b, wb))
            }
            _ => middle(s, w),
        },
        Cut::Roles => cut_roles(s, w),
    }
}

/// Shares `room` between two texts of lengths `a` and `b`: the shorter
/// keeps its length when it fits in half.
fn split_room(a: usize, b: usize, room: usize) -> (usize, usize) {
    let half = room / 2;
    if a <= half {
        (a, room - a)
    } else if b <= room - half {
        (room - b, b)
    } else {
        (half, room - half)
    }
}

/// Keeps the start and (a little more of) the end, `…` in between.
pub fn middle(s: &str, w: usize) -> String {
    let chars: Vec<char> = s.chars().collect();
    if chars.len() <= w {
        return s.to_owned();
    }
    if w <= 1 {
        return "…".chars().take(w).collect();
    }
    let keep = w - 1;
    let tail = keep.div_ceil(2) + keep / 6;
    let tail = tail.min(keep);
    let head = keep - tail;
    let mut o: String = chars[..head].iter().collect();
    o.push('…');
    o.extend(&chars[chars.len() - tail..]);
    o
}

/// `name(role), name(role)`: names cut in the middle, roles kept.
fn cut_roles(s: &str, w: usize) -> String {
    let parts: Vec<&str> = s.split(", ").collect();
    let roles: Vec<(&str, &str)> = parts
        .iter()
        .map(|p| match p.rfind('(') {
            Some(i) if p.ends_with(')') => (&p[..i], &p[i..]),
            _ => (*p, ""),
        })
        .collect();
    let fixed: usize = roles.iter().map(|(_, r)| r.chars().count()).sum::<usize>()
        + 2 * parts.len().saturating_sub(1);
    if fixed >= w || roles.is_empty() {
        return middle(s, w);
    }
    let room = w - fixed;
    let names: usize = roles.iter().map(|(n, _)| n.chars().count()).sum();
    let mut out = Vec::new();
    let mut left = room;
    for (k, (n, r)) in roles.iter().enumerate() {
        let len = n.chars().count();
        let share = if k + 1 == roles.len() {
            left
        } else {
            (room * len / names.max(1)).min(left)
        };
        left -= share.min(left);
        out.push(format!("{}{}", middle(n, share), r));
    }
    out.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn middle_keeps_the_status_word() {
        let s = "onStatus NetStream.Play.Start";
        let c = middle(s, 22);
        assert_eq!(c.chars().count(), 22);
        assert!(c.ends_with("Play.Start"), "{c}");
        assert!(c.starts_with("onStat"), "{c}");
    }

    #[test]
    fn endpoints_keep_both_ends() {
        let s = "127.0.0.1:36842 -> 127.0.0.1:1935";
        let c = cut(s, 26, Cut::Endpoints);
        assert!(c.chars().count() <= 26, "{c}");
        assert!(c.contains(" -> "), "{c}");
        assert!(c.ends_with(":1935"), "{c}");
        assert!(c.contains(":36842"), "{c}");
    }

    #[test]
    fn roles_are_kept() {
        let s = "redacted:0ad9cd9a1b2c3d4e(publish), redacted:77aa(play)";
        let c = cut(s, 34, Cut::Roles);
        assert!(c.contains("(publish)") && c.contains("(play)"), "{c}");
        assert!(c.chars().count() <= 34, "{c}");
    }

    #[test]
    fn fixed_columns_shrink_then_drop_before_meaning_is_cut() {
        let mut cols = vec![
            Col::new("No.", 3, 0),
            Col::new("pcap", 4, 1),
            Col::new("time", 8, 2),
            Col::new("summary", 20, 0).flex(Cut::Middle),
        ];
        cols[0].measure("12345");
        cols[1].measure("1234567");
        cols[2].measure("00:00:00.000000");
        cols[3].measure("onStatus NetStream.Publish.Start");
        // Wide: everything at its want, the rest to the summary.
        let w = fit(&cols, 200, 1);
        assert_eq!(w[1], Some(7));
        assert!(w[3].unwrap() >= 32);
        // Narrower: fixed columns shrink to their minimum first.
        let w = fit(&cols, 5 + 1 + 15 + 1 + 32, 1);
        assert_eq!((w[1], w[2]), (Some(4), Some(10)), "{w:?}");
        assert!(w[3].unwrap() >= 32, "{w:?}");
        // Then pcap drops first, the summary keeps its full text.
        let w = fit(&cols, 47, 1);
        assert_eq!((w[1], w[2]), (None, Some(8)), "{w:?}");
        assert!(w[3].unwrap() >= 32, "{w:?}");
        // Very narrow: both dropped, the summary still at least its min.
        let w = fit(&cols, 30, 1);
        assert_eq!((w[1], w[2]), (None, None), "{w:?}");
        assert!(w[3].unwrap() >= 20);
    }
}
