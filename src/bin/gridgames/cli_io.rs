//! Shared file helpers for the CLI.
