//! Loom models of aio-pool's protocols. Compiled only under `cfg(loom)`.
