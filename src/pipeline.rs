//! Glue: link -> reassembly -> RTMP dissector, producing the event stream.
