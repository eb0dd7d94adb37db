//! Fuzz target for the link/IP/TCP decoder (`link::decode`): the first byte
//! picks one of the link types rtmpscope dispatches (or an unknown one), the
//! next two an `origlen` excess, the rest is the frame. Must never panic;
//! a decoded TCP payload lies inside the frame, and the bytes the snaplen
//! cut are never more than `origlen` minus the captured length.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rtmpscope::link::{self, Decoded};

const LINKTYPES: [u32; 12] = [
    link::LINKTYPE_NULL,
    link::LINKTYPE_ETHERNET,
    link::LINKTYPE_RAW_DLT12,
    link::LINKTYPE_RAW_DLT14,
    link::LINKTYPE_RAW,
    link::LINKTYPE_LOOP,
    link::LINKTYPE_LINUX_SLL,
    link::LINKTYPE_IPV4,
    link::LINKTYPE_IPV6,
    link::LINKTYPE_LINUX_SLL2,
    147, // a user link type: unknown
    0xffff_ffff,
];

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let lt = LINKTYPES[data[0] as usize % LINKTYPES.len()];
    let extra = u16::from_be_bytes([data[1], data[2]]) as u32;
    let frame = &data[3..];
    let origlen = (frame.len() as u32).saturating_add(extra);
    match link::decode(lt, frame, origlen) {
        Decoded::Tcp(seg) => {
            let fs = frame.as_ptr() as usize;
            let ps = seg.payload.as_ptr() as usize;
            assert!(seg.payload.is_empty() || (ps >= fs && ps + seg.payload.len() <= fs + frame.len()));
            assert!(seg.missing <= extra, "missing {} > cut {}", seg.missing, extra);
        }
        Decoded::UnknownLink(x) => assert_eq!(x, lt),
        Decoded::NonTcp | Decoded::Fragment { .. } | Decoded::Malformed(_) => {}
    }
});
