//! Which burn device the engine and the trainer run on, chosen by name
//! (`cpu`, or `wgpu` / `wgpu:N` in a build with the `wgpu` feature).
//!
//! burn's `Device::default()` reads `BURN_DEVICE` and panics on a name it does
//! not know or a backend this build lacks, so nothing here calls it: the CPU
//! backend (flex) is the default, and a GPU is used only when asked for.

use burn::tensor::Device;

use crate::error::{ModelError, Result};

/// A device by name, as `--device` and the train config spell it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum DeviceChoice {
    /// burn's flex backend on this machine's cores.
    #[default]
    Cpu,
    /// A GPU through wgpu (Vulkan, Metal or DX12): the discrete GPU with this
    /// index, or the adapter wgpu prefers when `None`.
    Wgpu(Option<usize>),
}

impl DeviceChoice {
    /// Parses `cpu`, `wgpu` or `wgpu:N`.
    pub fn parse(name: &str) -> Result<Self> {
        let name = name.trim();
        if name.eq_ignore_ascii_case("cpu") {
            return Ok(Self::Cpu);
        }
        if name.eq_ignore_ascii_case("wgpu") {
            return Ok(Self::Wgpu(None));
        }
        if let Some(index) = name.strip_prefix("wgpu:") {
            return index.parse().map(|i| Self::Wgpu(Some(i))).map_err(|_| {
                ModelError::Setup(format!(
                    "device {name:?}: `wgpu:` takes a GPU index, such as `wgpu:0`"
                ))
            });
        }
        Err(ModelError::Setup(format!(
            "device {name:?}: expected `cpu`, `wgpu` or `wgpu:N`"
        )))
    }

    pub fn is_cpu(&self) -> bool {
        *self == Self::Cpu
    }

    /// The burn device; a GPU in a build without the `wgpu` feature is an
    /// error that says how to build one.
    pub fn device(self) -> Result<Device> {
        match self {
            Self::Cpu => Ok(cpu()),
            Self::Wgpu(index) => wgpu(index),
        }
    }
}

impl TryFrom<String> for DeviceChoice {
    type Error = ModelError;

    fn try_from(name: String) -> Result<Self> {
        Self::parse(&name)
    }
}

impl From<DeviceChoice> for String {
    fn from(choice: DeviceChoice) -> String {
        choice.to_string()
    }
}

impl std::str::FromStr for DeviceChoice {
    type Err = ModelError;

    fn from_str(name: &str) -> Result<Self> {
        Self::parse(name)
    }
}

impl std::fmt::Display for DeviceChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Cpu => f.write_str("cpu"),
            Self::Wgpu(None) => f.write_str("wgpu"),
            Self::Wgpu(Some(i)) => write!(f, "wgpu:{i}"),
        }
    }
}

/// The CPU device (burn's flex backend), whatever `BURN_DEVICE` says.
pub fn cpu() -> Device {
    Device::flex()
}

#[cfg(feature = "wgpu")]
fn wgpu(index: Option<usize>) -> Result<Device> {
    use burn::tensor::DeviceKind;
    Ok(Device::wgpu(match index {
        Some(i) => DeviceKind::DiscreteGpu(i),
        None => DeviceKind::DefaultDevice,
    }))
}

#[cfg(not(feature = "wgpu"))]
fn wgpu(_index: Option<usize>) -> Result<Device> {
    Err(ModelError::Setup(
        "this build has no GPU backend: build with `cargo build --release --features gpu` \
         (burn's wgpu backend; see README, \"Training on a GPU\")"
            .into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_and_bad_ones_are_named() {
        assert_eq!(DeviceChoice::parse("cpu").unwrap(), DeviceChoice::Cpu);
        assert_eq!(DeviceChoice::parse(" CPU ").unwrap(), DeviceChoice::Cpu);
        assert_eq!(
            DeviceChoice::parse("wgpu").unwrap(),
            DeviceChoice::Wgpu(None)
        );
        assert_eq!(
            DeviceChoice::parse("wgpu:1").unwrap(),
            DeviceChoice::Wgpu(Some(1))
        );
        for bad in ["cuda", "wgpu:x", "wgpu:-1", ""] {
            let error = DeviceChoice::parse(bad).unwrap_err().to_string();
            assert!(error.contains(&format!("{:?}", bad.trim())), "{error}");
        }
        for choice in [DeviceChoice::Cpu, DeviceChoice::Wgpu(Some(2))] {
            assert_eq!(DeviceChoice::parse(&choice.to_string()).unwrap(), choice);
        }
    }

    #[cfg(not(feature = "wgpu"))]
    #[test]
    fn a_gpu_in_a_cpu_build_says_how_to_build_one() {
        let error = DeviceChoice::Wgpu(None).device().unwrap_err().to_string();
        assert!(error.contains("--features gpu"), "{error}");
    }

    #[test]
    fn the_cpu_device_ignores_burn_device() {
        // `Device::default()` would panic on this; the engine never reads it.
        // SAFETY: no other thread of this test binary reads BURN_DEVICE.
        unsafe { std::env::set_var("BURN_DEVICE", "no-such-backend") };
        let device = DeviceChoice::Cpu.device().unwrap();
        let t = burn::tensor::Tensor::<1>::from_floats([1.0, 2.0], &device);
        assert_eq!(t.sum().into_scalar::<f32>(), 3.0);
        unsafe { std::env::remove_var("BURN_DEVICE") };
    }
}
