//! Passive TCP reassembly (sans-IO).
