#![doc = include_str!("README.md")]

#[cfg(not(loom))]
mod client;
pub(crate) mod table;
#[cfg(not(loom))]
mod wire;

#[cfg(not(loom))]
pub use client::NbdDevice;
