//! `llamadeck gpu`: the GPU panel's readings without a terminal, for scripts. The same NVML source
//! and sampler thread as the panel; one line per GPU per reading, comma-separated in the column
//! order of `nvidia-smi --query-gpu=index,name,memory.used,memory.total,utilization.gpu,
//! temperature.gpu,power.draw --format=csv,noheader,nounits`, after the reading's number.
use std::io::Write;
use std::time::Duration;

use super::nvml::{NvmlSource, why_unavailable};
use super::sampler::spawn_sampler;
use super::snapshot::GpuDevice;

pub const HEADER: &str =
    "# sample, index, name, memory.used [MiB], memory.total [MiB], utilization.gpu [%], temperature.gpu [C], power.draw [W]";

/// One GPU in one reading; a metric the card does not report (or a lost card's) is `n/a`.
pub fn line(sample: u32, device: &GpuDevice) -> String {
    fn or_na<T: ToString>(value: Option<T>) -> String {
        value.map_or_else(|| "n/a".to_string(), |v| v.to_string())
    }
    let mib = |bytes: Option<u64>| or_na(bytes.map(|b| b >> 20));
    let watts = device.power_mw.map(|mw| format!("{:.2}", f64::from(mw) / 1000.0));
    format!(
        "{sample}, {}, {}, {}, {}, {}, {}, {}",
        device.index,
        // The driver's name for the card, printed to a terminal: never a control sequence.
        llamadeck_words::text::sanitize(&device.name).replace('\n', " "),
        mib(device.memory_used),
        mib(device.memory_total),
        or_na(device.util_gpu),
        or_na(device.temperature_c),
        or_na(watts),
    )
}

/// `samples` readings `interval` apart. Exit code 1 when NVML cannot be used (the reason on
/// `err`) or sees no GPU.
pub fn run(samples: u32, interval: Duration, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    match report(samples, interval, out, err) {
        Ok(code) => code,
        Err(e) => {
            let _ = writeln!(err, "llamadeck gpu: cannot write the report: {e}");
            1
        }
    }
}

fn report(samples: u32, interval: Duration, out: &mut dyn Write, err: &mut dyn Write) -> std::io::Result<i32> {
    let source = match NvmlSource::open() {
        Ok(source) => source,
        Err(e) => {
            writeln!(err, "llamadeck gpu: {}", why_unavailable(&e))?;
            return Ok(1);
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread().build()?;
    let mut readings = spawn_sampler(Box::new(source), interval);
    writeln!(out, "{HEADER}")?;
    for sample in 1..=samples {
        if runtime.block_on(readings.changed()).is_err() {
            writeln!(err, "llamadeck gpu: the sampler thread stopped")?;
            return Ok(1);
        }
        let snapshot = readings.borrow_and_update().clone();
        if snapshot.devices.is_empty() {
            writeln!(err, "llamadeck gpu: NVML works but reports no GPU")?;
            return Ok(1);
        }
        for device in &snapshot.devices {
            writeln!(out, "{}", line(sample, device))?;
            if let Some(reason) = &device.lost {
                writeln!(err, "llamadeck gpu: GPU {} is lost: {reason}", device.index)?;
            }
        }
        out.flush()?;
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_has_the_header_columns_in_nvidia_smi_units() {
        let device = GpuDevice {
            index: 3,
            name: "NVIDIA H100 80GB HBM3".into(),
            memory_used: Some(1234 << 20 | 5),
            memory_total: Some(81_559 << 20),
            util_gpu: Some(97),
            temperature_c: Some(61),
            power_mw: Some(312_456),
            ..GpuDevice::default()
        };
        assert_eq!(line(2, &device), "2, 3, NVIDIA H100 80GB HBM3, 1234, 81559, 97, 61, 312.46");
        assert_eq!(line(2, &device).split(", ").count(), HEADER.split(", ").count());
    }

    #[test]
    fn metrics_a_card_does_not_report_are_n_a() {
        let device = GpuDevice { index: 0, name: "GPU 0".into(), ..GpuDevice::default() };
        assert_eq!(line(1, &device), "1, 0, GPU 0, n/a, n/a, n/a, n/a, n/a");
    }

    #[test]
    fn a_name_with_control_characters_is_printed_as_text() {
        let device = GpuDevice { index: 0, name: "GPU\u{1b}[2J\nzero".into(), ..GpuDevice::default() };
        let printed = line(1, &device);
        assert!(!printed.contains('\u{1b}') && !printed.contains('\n'), "{printed:?}");
        assert!(printed.starts_with("1, 0, GPU\u{241b}[2J zero, "), "{printed:?}");
    }

    /// Here (no driver) the NVML error and exit 1; on a GPU machine, a line per GPU per reading.
    #[test]
    fn explains_a_missing_driver_or_reports_every_gpu() {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = run(2, Duration::from_millis(100), &mut out, &mut err);
        let (out, err) = (String::from_utf8(out).unwrap(), String::from_utf8(err).unwrap());
        match code {
            1 => {
                assert!(err.starts_with("llamadeck gpu: NVML not available: "), "{err}");
                assert!(err.contains(" — "), "the error and its meaning: {err}");
                assert!(out.is_empty(), "{out}");
            }
            0 => {
                let lines: Vec<&str> = out.lines().collect();
                assert_eq!(lines[0], HEADER);
                assert!(lines.len() >= 3 && (lines.len() - 1).is_multiple_of(2), "{out}");
                assert!(lines[1..].iter().all(|l| l.split(", ").count() == 8), "{out}");
            }
            other => panic!("exit code {other}: {err}"),
        }
    }
}
