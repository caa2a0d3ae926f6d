//! The examples live in `examples/`; this library holds no code. Its one module is PORTING.md, so that every
//! Rust block of the porting guide is compiled (and the small ones run) as a doc test.

#[doc = include_str!("../../PORTING.md")]
pub mod porting {}
