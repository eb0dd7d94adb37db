//! Link-layer dispatch (Ethernet/VLAN, Linux SLL/SLL2, NULL/LOOP, RAW) and
//! IP/TCP decoding.
