#![doc = include_str!("README.md")]

pub(crate) mod delay;
pub(crate) mod fault;
pub(crate) mod forward;
pub(crate) mod hold;
pub(crate) mod timer;
