//! Addresses the engine routes on: IPv4-style 32-bit values. The engine never
//! parses the bytes it carries; the address pair travels beside them.

use core::fmt;
use core::str::FromStr;

/// A node address, displayed dotted-quad.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Addr(pub u32);

impl Addr {
    /// The address `a.b.c.d` (network byte order: `a` is the most significant octet).
    pub const fn new(a: u8, b: u8, c: u8, d: u8) -> Addr {
        Addr(u32::from_be_bytes([a, b, c, d]))
    }
    /// The four octets, most significant first (`[a, b, c, d]` of [`Addr::new`]).
    pub const fn octets(self) -> [u8; 4] {
        self.0.to_be_bytes()
    }
}

impl From<std::net::Ipv4Addr> for Addr {
    fn from(ip: std::net::Ipv4Addr) -> Addr {
        Addr(u32::from(ip))
    }
}
impl From<Addr> for std::net::Ipv4Addr {
    fn from(a: Addr) -> std::net::Ipv4Addr {
        std::net::Ipv4Addr::from(a.0)
    }
}

impl FromStr for Addr {
    type Err = std::net::AddrParseError;
    fn from_str(s: &str) -> Result<Addr, Self::Err> {
        s.parse::<std::net::Ipv4Addr>().map(Addr::from)
    }
}

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d] = self.octets();
        write!(f, "{a}.{b}.{c}.{d}")
    }
}
impl fmt::Debug for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A route prefix: `addr/len`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Prefix {
    /// The network address; bits past `len` are ignored by [`Prefix::contains`].
    pub addr: Addr,
    /// The prefix length in bits, `0..=32` (0 matches every address).
    pub len: u8,
}

impl Prefix {
    /// `addr/len`; a `len` above 32 is clamped to 32 (a host route).
    pub fn new(addr: Addr, len: u8) -> Prefix {
        Prefix {
            addr,
            len: len.min(32),
        }
    }
    fn mask(self) -> u32 {
        if self.len == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(self.len))
        }
    }
    /// Whether `a` agrees with `addr` in the first `len` bits.
    pub fn contains(self, a: Addr) -> bool {
        (a.0 & self.mask()) == (self.addr.0 & self.mask())
    }
}
