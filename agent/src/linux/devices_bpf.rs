//! Device access control on cgroup v2: a `BPF_PROG_TYPE_CGROUP_DEVICE`
//! program attached to the container's cgroup, which the kernel runs on
//! every open or mknod of a device node by a process in the cgroup (or
//! below it). v2 has no `devices.allow`/`devices.deny` files; the program
//! plays the part of the v1 whitelist (the same `c 1:3 rwm` entries),
//! as runc and crun do.
//!
//! The program is built instruction by instruction: the context is
//! `struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; }`
//! with `access_type = access << 16 | type`; each entry becomes a block
//! that returns 1 (allow) when type, access, major and minor match, and
//! falls through to the next one otherwise; the end returns 0 (deny).

use std::os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd};
use std::path::Path;

/// `BPF_DEVCG_DEV_BLOCK`.
const DEV_BLOCK: i32 = 1;
/// `BPF_DEVCG_DEV_CHAR`.
const DEV_CHAR: i32 = 2;
/// `BPF_DEVCG_ACC_MKNOD`, `_READ`, `_WRITE`.
const ACC_MKNOD: i32 = 1;
const ACC_READ: i32 = 2;
const ACC_WRITE: i32 = 4;
const ACC_ALL: i32 = ACC_MKNOD | ACC_READ | ACC_WRITE;

/// One whitelist entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceRule {
    /// `DEV_BLOCK`, `DEV_CHAR`, or `None` for both (`a`).
    kind: Option<i32>,
    /// `None` for `*`.
    major: Option<u32>,
    /// `None` for `*`.
    minor: Option<u32>,
    /// `ACC_*` bits.
    access: i32,
}

impl DeviceRule {
    /// Parses a devices-cgroup entry: `a`, or `c|b MAJOR:MINOR ACCESS`
    /// with `*` for any number and ACCESS of `r`, `w`, `m`.
    pub fn parse(entry: &str) -> Result<Self, String> {
        let bad = || format!("invalid device entry '{entry}'");
        let parts: Vec<&str> = entry.split_whitespace().collect();
        if parts == ["a"] {
            return Ok(Self {
                kind: None,
                major: None,
                minor: None,
                access: ACC_ALL,
            });
        }
        let [kind, numbers, access] = parts[..] else {
            return Err(bad());
        };
        let kind = match kind {
            "a" => None,
            "c" => Some(DEV_CHAR),
            "b" => Some(DEV_BLOCK),
            _ => return Err(bad()),
        };
        let (major, minor) = numbers.split_once(':').ok_or_else(bad)?;
        let number = |n: &str| -> Result<Option<u32>, String> {
            if n == "*" {
                Ok(None)
            } else {
                n.parse().map(Some).map_err(|_| bad())
            }
        };
        let mut bits = 0;
        for c in access.chars() {
            bits |= match c {
                'r' => ACC_READ,
                'w' => ACC_WRITE,
                'm' => ACC_MKNOD,
                _ => return Err(bad()),
            };
        }
        Ok(Self {
            kind,
            major: number(major)?,
            minor: number(minor)?,
            access: bits,
        })
    }
}

/// One eBPF instruction (`struct bpf_insn`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Insn {
    code: u8,
    /// dst in the low nibble, src in the high one.
    regs: u8,
    off: i16,
    imm: i32,
}

const fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        regs: dst | (src << 4),
        off,
        imm,
    }
}

/// `dst = *(u32 *)(src + off)`.
const fn load_word(dst: u8, src: u8, off: i16) -> Insn {
    insn(0x61, dst, src, off, 0)
}
/// `dst &= imm` (64-bit).
const fn and(dst: u8, imm: i32) -> Insn {
    insn(0x57, dst, 0, 0, imm)
}
/// `dst >>= imm` (64-bit).
const fn rsh(dst: u8, imm: i32) -> Insn {
    insn(0x77, dst, 0, 0, imm)
}
/// `dst = imm`.
const fn mov_imm(dst: u8, imm: i32) -> Insn {
    insn(0xb7, dst, 0, 0, imm)
}
/// `dst = src`.
const fn mov_reg(dst: u8, src: u8) -> Insn {
    insn(0xbf, dst, src, 0, 0)
}
/// `if dst != imm goto +off`.
const fn jne(dst: u8, imm: i32, off: i16) -> Insn {
    insn(0x55, dst, 0, off, imm)
}
/// `return r0`.
const fn exit() -> Insn {
    insn(0x95, 0, 0, 0, 0)
}

/// The program allowing exactly `rules`.
pub fn program(rules: &[DeviceRule]) -> Vec<Insn> {
    // r2 = type, r3 = access, r4 = major, r5 = minor.
    let mut out = vec![
        load_word(2, 1, 0),
        and(2, 0xffff),
        load_word(3, 1, 0),
        rsh(3, 16),
        load_word(4, 1, 4),
        load_word(5, 1, 8),
    ];
    for rule in rules {
        // The checks, each jumping past the block when it fails.
        let mut checks: Vec<(u8, i32, Option<Insn>)> = Vec::new();
        if let Some(kind) = rule.kind {
            checks.push((2, kind, None));
        }
        if rule.access != ACC_ALL {
            // r6 = access & ~allowed: any other bit fails the rule.
            checks.push((6, 0, Some(mov_reg(6, 3))));
        }
        if let Some(major) = rule.major {
            checks.push((4, major as i32, None));
        }
        if let Some(minor) = rule.minor {
            checks.push((5, minor as i32, None));
        }
        let mut block = Vec::new();
        let mut jumps = Vec::new();
        for (register, value, setup) in checks {
            if let Some(setup) = setup {
                block.push(setup);
                block.push(and(6, !rule.access & ACC_ALL));
            }
            jumps.push(block.len());
            block.push(jne(register, value, 0));
        }
        block.push(mov_imm(0, 1));
        block.push(exit());
        let end = block.len();
        for at in jumps {
            block[at].off = (end - at - 1) as i16;
        }
        out.extend(block);
    }
    out.push(mov_imm(0, 0));
    out.push(exit());
    out
}

fn bpf(command: libc::c_long, attr: &mut [u64; 16]) -> std::io::Result<libc::c_long> {
    // SAFETY: `attr` is a zeroed `union bpf_attr` of 128 bytes that the
    // caller filled for `command`; the kernel reads (and for some
    // commands writes) no more than the size given.
    let result = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            command,
            attr.as_mut_ptr(),
            std::mem::size_of_val(attr),
        )
    };
    if result < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(result)
    }
}

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_TYPE_CGROUP_DEVICE: u64 = 15;
const BPF_CGROUP_DEVICE: u64 = 6;

/// Loads the program for `rules` (`BPF_PROG_LOAD`); the fd holds it.
/// The verifier's log is asked for only when the load fails (a verbose
/// log of a long program overflows any small buffer: `ENOSPC`).
pub fn load(rules: &[DeviceRule]) -> Result<OwnedFd, String> {
    let insns = program(rules);
    let license = c"Apache-2.0";
    let attempt = |log: Option<&mut Vec<u8>>| {
        let mut attr = [0_u64; 16];
        // prog_type (u32) | insn_cnt (u32), insns, license,
        // log_level (u32) | log_size (u32), log_buf.
        attr[0] = BPF_PROG_TYPE_CGROUP_DEVICE | ((insns.len() as u64) << 32);
        attr[1] = insns.as_ptr() as u64;
        attr[2] = license.as_ptr() as u64;
        if let Some(log) = log {
            attr[3] = 1 | ((log.len() as u64) << 32);
            attr[4] = log.as_mut_ptr() as u64;
        }
        bpf(BPF_PROG_LOAD, &mut attr)
    };
    let fd = match attempt(None) {
        Ok(fd) => fd,
        Err(error) => {
            let mut log = vec![0_u8; 1 << 20];
            let _ = attempt(Some(&mut log));
            let end = log.iter().position(|b| *b == 0).unwrap_or(log.len());
            let log = String::from_utf8_lossy(&log[..end]);
            // The verdict is at the end of the log.
            let tail: Vec<&str> = log.lines().rev().take(3).collect();
            return Err(format!(
                "failed to load the device access program: {error}: {}",
                tail.into_iter().rev().collect::<Vec<_>>().join("; ")
            ));
        }
    };
    // SAFETY: the kernel returned a new fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Loads the program for `rules` and attaches it to the cgroup at
/// `cgroup` (`BPF_PROG_ATTACH`, `BPF_CGROUP_DEVICE`); it stays attached
/// until the cgroup is removed.
pub fn attach(cgroup: &Path, rules: &[DeviceRule]) -> Result<(), String> {
    let program = load(rules)?;
    let directory = std::fs::File::open(cgroup)
        .map_err(|e| format!("failed to open cgroup '{}': {e}", cgroup.display()))?;
    let mut attr = [0_u64; 16];
    // target_fd (u32) | attach_bpf_fd (u32), attach_type (u32) | attach_flags (u32).
    attr[0] = directory.as_raw_fd() as u64 | ((program.as_raw_fd() as u64) << 32);
    attr[1] = BPF_CGROUP_DEVICE;
    bpf(BPF_PROG_ATTACH, &mut attr).map_err(|error| {
        format!(
            "failed to attach the device access program to cgroup '{}': {error}",
            cgroup.display()
        )
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_parse_as_the_devices_cgroup_writes_them() {
        assert_eq!(
            DeviceRule::parse("c 1:3 rwm").unwrap(),
            DeviceRule {
                kind: Some(DEV_CHAR),
                major: Some(1),
                minor: Some(3),
                access: ACC_ALL
            }
        );
        let any_block = DeviceRule::parse("b *:* m").unwrap();
        assert_eq!(
            (
                any_block.kind,
                any_block.major,
                any_block.minor,
                any_block.access
            ),
            (Some(DEV_BLOCK), None, None, ACC_MKNOD)
        );
        assert_eq!(DeviceRule::parse("a").unwrap().access, ACC_ALL);
        assert!(DeviceRule::parse("x 1:3 r").is_err());
        assert!(DeviceRule::parse("c 1 r").is_err());
        assert!(DeviceRule::parse("c 1:3 q").is_err());
    }

    #[test]
    fn each_rule_is_a_block_whose_failed_checks_jump_past_it() {
        let rules = [
            DeviceRule::parse("c 1:3 rwm").unwrap(),
            DeviceRule::parse("c *:* m").unwrap(),
        ];
        let insns = program(&rules);
        // Prologue 6; rule 1: 3 checks + 2; rule 2: type, mask (3) + 2; end 2.
        assert_eq!(insns.len(), 6 + 5 + 6 + 2);
        // The first rule's checks jump to the second rule's first insn.
        assert_eq!(insns[6], jne(2, DEV_CHAR, 4));
        assert_eq!(insns[7], jne(4, 1, 3));
        assert_eq!(insns[8], jne(5, 3, 2));
        assert_eq!(insns[9], mov_imm(0, 1));
        // The second rule masks the access with what it does not allow.
        assert_eq!(insns[11], jne(2, DEV_CHAR, 5));
        assert_eq!(insns[12], mov_reg(6, 3));
        assert_eq!(insns[13], and(6, ACC_READ | ACC_WRITE));
        assert_eq!(insns[14], jne(6, 0, 2));
        assert_eq!(
            &insns[15..],
            &[mov_imm(0, 1), exit(), mov_imm(0, 0), exit()]
        );
    }
}
