//! Opening the device `--device` names, type-erased to a [`Target`].

use aio_core::Target;
use aio_core::sync::Arc;
use blockdev::{Device, FileDevice, FileOptions, NbdDevice, RamDisk};

use crate::args::DeviceSpec;

/// The device, type-erased, with its shape.
pub(super) struct Dev {
    /// The device as the protocol sees it.
    pub(super) target: Arc<dyn Target>,
    /// The device's name, for the report.
    pub(super) name: String,
    /// Capacity in bytes (`u64::MAX`: unbounded).
    pub(super) capacity: u64,
    /// Block size: buffers are aligned to it and `--bs` must be a multiple.
    pub(super) align: usize,
}

/// Opens the device `--device` names, each error one line.
pub(super) fn open_device(spec: &DeviceSpec) -> Result<Dev, String> {
    fn erase<D: Device + 'static>(d: D) -> Dev {
        let g = d.geometry();
        let name = d.name().to_string();
        Dev {
            target: aio_core::into_dyn(d),
            name,
            capacity: g.capacity,
            align: g.block_size as usize,
        }
    }
    match spec {
        DeviceSpec::Ram { size } => RamDisk::new(*size)
            .map(erase)
            .map_err(|e| format!("cannot make a RAM disk of {size} bytes: {e}")),
        DeviceSpec::File { path, direct, size } => {
            let mut o = FileOptions::new().direct(*direct);
            if let Some(s) = size {
                o = o.create(*s);
            }
            FileDevice::open(path, o)
                .map(erase)
                .map_err(|e| format!("cannot open '{path}': {e}"))
        }
        DeviceSpec::NbdUnix { path, export } => NbdDevice::connect_unix(path, export)
            .map(erase)
            .map_err(|e| format!("cannot connect to nbd server at '{path}': {e}")),
        DeviceSpec::NbdTcp { host, port, export } => {
            NbdDevice::connect_tcp((host.as_str(), *port), export)
                .map(erase)
                .map_err(|e| format!("cannot connect to nbd server at {host}:{port}: {e}"))
        }
    }
}
