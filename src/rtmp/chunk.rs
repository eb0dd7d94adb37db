//! RTMP chunk stream: basic header (1-3 bytes), message header fmt 0-3,
//! extended timestamps, per-csid state and message reassembly.
