use super::*;
use std::ffi::{c_char, c_int, c_void, CString};

fn s(x: &str) -> Value {
    Value::Str(x.into())
}

fn f(fmt: &str, args: &[Value]) -> String {
    format(&parse_format(fmt).unwrap(), args)
}

/// glibc's rendering of one conversion, with the argument cast the way bpftrace casts
/// it before calling snprintf.
fn c_printf(fmt: &str, spec: &FormatSpec, raw: u64) -> String {
    let cfmt = CString::new(fmt).unwrap();
    let mut buf = vec![0u8; 512];
    let p = buf.as_mut_ptr() as *mut c_char;
    let n = buf.len();
    // SAFETY: buffer is large enough for these short conversions; the argument type
    // matches what the conversion reads after default promotions.
    let r = unsafe {
        match (spec.conv, spec.int_bits()) {
            (Conv::P, _) => libc::snprintf(p, n, cfmt.as_ptr(), raw as usize as *const c_void),
            (_, 8) => libc::snprintf(p, n, cfmt.as_ptr(), c_int::from(raw as u8)),
            (_, 16) => libc::snprintf(p, n, cfmt.as_ptr(), c_int::from(raw as u16)),
            (_, 32) => libc::snprintf(p, n, cfmt.as_ptr(), raw as u32),
            _ => libc::snprintf(p, n, cfmt.as_ptr(), raw as libc::c_ulong),
        }
    };
    assert!(r >= 0 && (r as usize) < n);
    let len = buf.iter().position(|&b| b == 0).unwrap();
    String::from_utf8(buf[..len].to_vec()).unwrap()
}

fn c_printf_str(fmt: &str, arg: &str) -> String {
    let cfmt = CString::new(fmt).unwrap();
    let carg = CString::new(arg).unwrap();
    let mut buf = vec![0u8; 512];
    // SAFETY: as above; %s reads a NUL-terminated string.
    let r = unsafe {
        libc::snprintf(
            buf.as_mut_ptr() as *mut c_char,
            buf.len(),
            cfmt.as_ptr(),
            carg.as_ptr(),
        )
    };
    assert!(r >= 0);
    let len = buf.iter().position(|&b| b == 0).unwrap();
    String::from_utf8(buf[..len].to_vec()).unwrap()
}

fn flag_sets() -> Vec<String> {
    (0..32u32)
        .map(|m| {
            "-+ #0"
                .chars()
                .enumerate()
                .filter(|(i, _)| m & (1 << i) != 0)
                .map(|(_, c)| c)
                .collect()
        })
        .collect()
}

#[test]
fn integers_match_glibc() {
    let values: [i64; 12] = [
        0,
        1,
        -1,
        7,
        42,
        -42,
        255,
        65535,
        1 << 31,
        (1 << 32) + 5,
        i64::MIN,
        i64::MAX,
    ];
    let mut checked = 0;
    for flags in flag_sets() {
        for width in ["", "1", "9", "24"] {
            for prec in ["", ".", ".0", ".3", ".12"] {
                for len in ["", "hh", "h", "l", "ll", "j", "z", "t"] {
                    for conv in ["d", "i", "u", "o", "x", "X", "p", "c"] {
                        if (conv == "p" || conv == "c") && (!len.is_empty() || !prec.is_empty()) {
                            continue;
                        }
                        if conv == "c" && flags.contains(['0', '#', '+', ' ']) {
                            continue;
                        }
                        let fmt = format!("%{flags}{width}{prec}{len}{conv}");
                        let pieces = parse_format(&fmt).unwrap();
                        let [Piece::Spec(spec)] = &pieces[..] else {
                            panic!("{fmt}")
                        };
                        for v in values {
                            let raw = v as u64;
                            if conv == "c" && (raw as u8 == 0 || raw as u8 >= 0x80) {
                                continue;
                            }
                            let want = c_printf(&fmt, spec, raw);
                            assert_eq!(format(&pieces, &[Value::Int(v)]), want, "{fmt} of {v}");
                            assert_eq!(
                                format(&pieces, &[Value::UInt(raw)]),
                                want,
                                "{fmt} of {raw}u"
                            );
                            checked += 1;
                        }
                    }
                }
            }
        }
    }
    assert!(checked > 100_000);
}

#[test]
fn strings_match_glibc() {
    for flags in ["", "-"] {
        for width in ["", "1", "3", "10"] {
            for prec in ["", ".", ".0", ".2", ".20"] {
                let fmt = format!("%{flags}{width}{prec}s");
                for arg in ["", "a", "hello", "hello world"] {
                    assert_eq!(
                        f(&fmt, &[s(arg)]),
                        c_printf_str(&fmt, arg),
                        "{fmt} of {arg:?}"
                    );
                }
            }
        }
    }
}

#[test]
fn bpftrace_examples() {
    let x = Value::Int(0x12345678abcdef);
    assert_eq!(
        f("%hhx %hx %x %jx\n", &[x.clone(), x.clone(), x.clone(), x]),
        "ef cdef 78abcdef 12345678abcdef\n"
    );
    assert_eq!(f("%lu", &[Value::UInt(u64::MAX)]), "18446744073709551615");
    assert_eq!(
        f(
            "%d %o 0x%x\n",
            &[Value::Int(123), Value::Int(0o775), Value::Int(0x123)]
        ),
        "123 775 0x123\n"
    );
    assert_eq!(
        f(
            "%d %d %d %d\n",
            &[
                Value::Int(-10),
                Value::Int(-5555),
                Value::Int(-123),
                Value::Int(100)
            ]
        ),
        "-10 -5555 -123 100\n"
    );
    assert_eq!(
        f("%c is the first letter", &[Value::Int(b'f' as i64)]),
        "f is the first letter"
    );
    assert_eq!(f("%s %d\n", &[s("SUCCESS"), Value::Int(1)]), "SUCCESS 1\n");
    assert_eq!(
        f("first byte: %x\n", &[Value::Int(0x39)]),
        "first byte: 39\n"
    );
    assert_eq!(f("%x", &[Value::Int(0x3412)]), "3412");
}

#[test]
fn conversions() {
    assert_eq!(f("100%%", &[]), "100%");
    assert_eq!(f("%%d %d%%", &[Value::Int(3)]), "%d 3%");
    assert_eq!(
        f("%s|%5s|%-5s|%.2s", &[s("x"), s("ab"), s("ab"), s("hello")]),
        "x|   ab|ab   |he"
    );
    assert_eq!(f("%s %s", &[Value::Int(-12), Value::UInt(7)]), "-12 7");
    assert_eq!(
        f(
            "%u %x %X",
            &[Value::Int(-1), Value::Int(-1), Value::Int(-255)]
        ),
        "4294967295 ffffffff FFFFFF01"
    );
    assert_eq!(
        f("%lu %lx", &[Value::Int(-1), Value::Int(-1)]),
        "18446744073709551615 ffffffffffffffff"
    );
    assert_eq!(f("%d", &[Value::Int((1 << 32) + 5)]), "5");
    assert_eq!(
        f("%ld %lld", &[Value::Int(1 << 40), Value::Int(-(1 << 40))]),
        "1099511627776 -1099511627776"
    );
    assert_eq!(
        f("%p %p", &[Value::UInt(0x7fff1234), Value::Int(4096)]),
        "0x7fff1234 0x1000"
    );
    assert_eq!(
        f("[%p] [%8p]", &[Value::Int(0), Value::Int(0)]),
        "[(nil)] [   (nil)]"
    );
    assert_eq!(
        f(
            "%05d|%-5d|%+d|% d|%#x|%#o|%.3d",
            &[42, 42, 42, 42, 255, 8, 7].map(Value::Int)
        ),
        "00042|42   |+42| 42|0xff|010|007"
    );
    assert_eq!(
        f("%hhd %hd", &[Value::Int(300), Value::Int(70000)]),
        "44 4464"
    );
    // A NUL %c ends that conversion's output, as with snprintf + C string copy.
    assert_eq!(f("a%cb", &[Value::Int(0)]), "ab");
    assert_eq!(f("[%3c]", &[Value::Int(65)]), "[  A]");
}

#[test]
fn buffers() {
    assert_eq!(buffer_text(b"hi\n\xfe", Conv::R), "hi\\x0a\\xfe");
    assert_eq!(buffer_text(b"hi", Conv::Rx), "\\x68\\x69");
    assert_eq!(buffer_text(b"\x0a\xfe", Conv::Rh), "0a fe");
    assert_eq!(buffer_text(b"", Conv::Rh), "");
    assert_eq!(
        f("%r|%rx|%rh", &[s("a"), s("\\x61"), s("61")]),
        "a|\\x61|61"
    );
}

#[test]
fn parsing() {
    let p = parse_format("a %-08.3lu b").unwrap();
    assert_eq!(p.len(), 3);
    let Piece::Spec(spec) = &p[1] else { panic!() };
    assert_eq!(
        *spec,
        FormatSpec {
            flags: Flags {
                minus: true,
                zero: true,
                ..Flags::default()
            },
            width: Some(8),
            precision: Some(3),
            length: Length::L,
            conv: Conv::U,
            text: "%-08.3lu".into(),
        }
    );
    assert_eq!(p[0], Piece::Lit("a ".into()));
    assert_eq!(p[2], Piece::Lit(" b".into()));
    assert_eq!(parse_format("").unwrap(), vec![]);
    assert_eq!(
        parse_format("50%) 100%").unwrap(),
        vec![Piece::Lit("50%) 100%".into())]
    );
    assert_eq!(conversion_count("%d %s %% %rx %p").unwrap(), 4);
    assert_eq!(conversion_count("no args %%").unwrap(), 0);
    assert_eq!(
        arg_kinds("%d %s %rh %c %llx").unwrap(),
        [
            ArgKind::Int,
            ArgKind::Any,
            ArgKind::Buffer,
            ArgKind::Int,
            ArgKind::Int
        ]
    );
    assert!(parse_format("%f").unwrap_err().contains("%f"));
    assert!(parse_format("%5.2lf").is_err());
    assert!(parse_format("%n").is_err());
    assert!(parse_format("%*d").is_err());
    assert!(parse_format("%.*d").is_err());
    // Missing arguments leave the conversion as written.
    assert_eq!(f("%d and %5s", &[Value::Int(1)]), "1 and %5s");
    assert_eq!(format_str("%f %d", &[Value::Int(1)]), "%f %d");
}
