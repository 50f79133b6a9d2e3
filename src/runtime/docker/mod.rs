//! Docker runtime (bollard).
