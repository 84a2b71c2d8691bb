//! gridgames: the bit-exact reference for microscaled 4-bit formats with one or more grids.
#![cfg_attr(not(feature = "std"), no_std)]
#![deny(unsafe_code)]

pub mod element;
pub mod grid;

#[cfg(feature = "std")]
pub mod emu;
