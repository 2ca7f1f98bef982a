//! Where circuits are evaluated: the CPU, a GPU, or a GPU when there is one.

use std::fmt;
use std::str::FromStr;

use deeplog_gpu::{Gpu, GpuError};

/// `--device cpu|gpu|auto`, and the same for programs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Device {
    /// The CPU evaluator (rayon; `f64` where the algebra has it).
    #[default]
    Cpu,
    /// A GPU through wgpu (`f32`); an error when there is no adapter.
    Gpu,
    /// A GPU when wgpu finds an adapter, else the CPU.
    Auto,
}

impl Device {
    pub fn name(self) -> &'static str {
        match self {
            Device::Cpu => "cpu",
            Device::Gpu => "gpu",
            Device::Auto => "auto",
        }
    }

    /// The GPU to use: `None` for the CPU (asked for, or no adapter under
    /// `auto`).
    pub fn open(self) -> Result<Option<Gpu>, GpuError> {
        match self {
            Device::Cpu => Ok(None),
            Device::Gpu => Gpu::new().map(Some),
            Device::Auto => Ok(Gpu::new().ok()),
        }
    }
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A device name that is not `cpu`, `gpu` or `auto`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown device `{0}`; expected cpu, gpu or auto")]
pub struct UnknownDevice(pub String);

impl FromStr for Device {
    type Err = UnknownDevice;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "cpu" => Ok(Device::Cpu),
            "gpu" => Ok(Device::Gpu),
            "auto" => Ok(Device::Auto),
            _ => Err(UnknownDevice(s.to_string())),
        }
    }
}
