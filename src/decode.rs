//! Block decode.
