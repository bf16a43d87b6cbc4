//! HTTP pieces the server and the client sides share: the chunked
//! decoder, hop-by-hop headers and header names as nginx writes them.

pub(crate) mod chunked;
pub(crate) mod header_case;
pub(crate) mod hop;
