//! Whether each located address of a trace can really be where its source puts it, and why not, in plain words:
//! `shared::words::verdict`, which the server's offline copy words its places with too.

pub use tracemap_shared::words::verdict::*;
