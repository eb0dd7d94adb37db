//! Hash tables keyed by what the network sends (flow tuples, chunk stream
//! ids): a fast non-cryptographic hash (foldhash) with a random seed per
//! table, so crafted keys cannot be chosen to collide (std's SipHash costs
//! several percent of a run; nothing here depends on iteration order).

/// `HashMap` with foldhash's randomly seeded fast hasher.
pub type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// An empty [`FastMap`].
pub fn map<K, V>() -> FastMap<K, V> {
    FastMap::with_hasher(foldhash::fast::RandomState::default())
}
