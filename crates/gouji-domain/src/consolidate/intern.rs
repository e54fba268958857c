//! String interning for cell keys, so that adding a unit report costs a few hash look-ups per
//! fact and no allocation once a key has been seen.
//!
//! The hasher is FNV-1a: keys are short (table ids, 功能分类 codes, column labels) and come from
//! trusted templates or already-parsed reports, so a fast non-keyed hash is adequate here.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// FNV-1a, 64 bit.
#[derive(Clone, Copy)]
pub(crate) struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut h = self.0;
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }

    fn write_u32(&mut self, n: u32) {
        self.write(&n.to_le_bytes());
    }

    fn write_u64(&mut self, n: u64) {
        self.write(&n.to_le_bytes());
    }

    fn write_usize(&mut self, n: usize) {
        self.write(&n.to_le_bytes());
    }
}

/// A `HashMap` with the FNV hasher.
pub(crate) type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<Fnv>>;

/// Interned string id.
pub(crate) type Sym = u32;

/// Maps strings to dense ids and back.
#[derive(Debug, Default, Clone)]
pub(crate) struct Interner {
    ids: FastMap<Box<str>, Sym>,
    names: Vec<Box<str>>,
}

impl Interner {
    /// The id of `s`, allocating only the first time `s` is seen.
    pub(crate) fn intern(&mut self, s: &str) -> Sym {
        if let Some(id) = self.ids.get(s) {
            return *id;
        }
        let id = self.names.len() as Sym;
        self.names.push(s.into());
        self.ids.insert(s.into(), id);
        id
    }

    /// The id of `s` when it has been interned.
    pub(crate) fn get(&self, s: &str) -> Option<Sym> {
        self.ids.get(s).copied()
    }

    /// Number of interned strings.
    pub(crate) fn len(&self) -> usize {
        self.names.len()
    }

    /// The string of an id (empty for an unknown id).
    pub(crate) fn name(&self, id: Sym) -> &str {
        self.names.get(id as usize).map(|s| &**s).unwrap_or("")
    }
}

/// A `HashSet` with the FNV hasher.
pub(crate) type FastSet<K> = std::collections::HashSet<K, BuildHasherDefault<Fnv>>;
