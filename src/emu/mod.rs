//! Tensor-core MMA emulator (filled in by the emulator work).
