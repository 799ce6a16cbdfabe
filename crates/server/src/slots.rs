//! Who may hold the server's connection slots. Every connection holds one of
//! `server.max_connections` while it is open; one client address may hold at most
//! `server.max_connections_per_client` of them, so a single client that opens connections
//! and keeps them busy cannot lock everyone else out.
//!
//! The reserve, when an API key is set: an eighth of the slots (at least one, none when there
//! is only one) is kept for addresses that sent the key. An address is trusted from its first
//! request with the right key until an hour after its last one; other addresses may fill only
//! the slots outside the reserve. So clients who never had the key, from however many
//! addresses, cannot take the last slots away from the operator's own clients. A client new to
//! the server needs a slot outside the reserve for its first request, as before.
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long an address stays trusted after its last request with the key.
const TRUST_FOR: Duration = Duration::from_secs(3600);

/// The most trusted addresses remembered (the oldest is forgotten beyond it). Only clients with
/// the key add to it.
const TRUSTED_KEPT: usize = 1024;

/// Why a connection gets no slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Every slot open to this address is taken.
    Full,
    /// This address holds `max_connections_per_client` already.
    PerClient,
}

#[derive(Debug)]
pub struct Slots {
    max: usize,
    per_client: usize,
    reserve: usize,
    counts: Mutex<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    open: usize,
    by_client: HashMap<IpAddr, usize>,
    /// Addresses that sent the key, and when they last did.
    trusted: HashMap<IpAddr, Instant>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Slots {
    /// `keyed`: an API key is set, so part of the slots is reserved (see the module's words).
    pub fn new(max: usize, per_client: usize, keyed: bool) -> Self {
        let reserve = if keyed && max > 1 { (max / 8).max(1) } else { 0 };
        Self { max, per_client: per_client.max(1), reserve, counts: Mutex::default() }
    }

    /// A slot for a connection from `client`, held until the `Slot` drops.
    pub fn take(self: &Arc<Self>, client: IpAddr, now: Instant) -> Result<Slot, Refusal> {
        let mut counts = lock(&self.counts);
        let trusted = counts.trusted.get(&client).is_some_and(|&last| now.duration_since(last) < TRUST_FOR);
        let open_to_it = if trusted { self.max } else { self.max - self.reserve };
        if counts.open >= open_to_it {
            return Err(Refusal::Full);
        }
        let held = counts.by_client.entry(client).or_default();
        if *held >= self.per_client {
            return Err(Refusal::PerClient);
        }
        *held += 1;
        counts.open += 1;
        Ok(Slot { slots: self.clone(), client })
    }

    /// `client` sent a request with the right key.
    pub fn trust(&self, client: IpAddr, now: Instant) {
        let mut counts = lock(&self.counts);
        if counts.trusted.len() >= TRUSTED_KEPT
            && !counts.trusted.contains_key(&client)
            && let Some(oldest) = counts.trusted.iter().min_by_key(|(_, at)| **at).map(|(ip, _)| *ip)
        {
            counts.trusted.remove(&oldest);
        }
        counts.trusted.insert(client, now);
    }

    pub fn max(&self) -> usize {
        self.max
    }

    pub fn per_client(&self) -> usize {
        self.per_client
    }
}

/// One connection's slot; given back when dropped.
#[derive(Debug)]
pub struct Slot {
    slots: Arc<Slots>,
    client: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = lock(&self.slots.counts);
        counts.open -= 1;
        if let Some(held) = counts.by_client.get_mut(&self.client) {
            *held -= 1;
            if *held == 0 {
                counts.by_client.remove(&self.client);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([10, 0, 0, last])
    }

    #[test]
    fn one_client_holds_at_most_its_share_and_a_freed_slot_serves_again() {
        let slots = Arc::new(Slots::new(8, 3, false));
        let now = Instant::now();
        let held: Vec<Slot> = (0..3).map(|_| slots.take(ip(1), now).unwrap()).collect();
        assert_eq!(slots.take(ip(1), now).unwrap_err(), Refusal::PerClient);
        let others: Vec<Slot> = (2..7).map(|i| slots.take(ip(i), now).unwrap()).collect();
        assert_eq!(slots.take(ip(9), now).unwrap_err(), Refusal::Full, "8 open");
        drop(held);
        assert!(slots.take(ip(1), now).is_ok());
        drop(others);
        assert!(lock(&slots.counts).by_client.len() <= 1, "addresses with no connection are forgotten");
    }

    #[test]
    fn with_a_key_the_reserve_is_for_addresses_that_sent_it() {
        let slots = Arc::new(Slots::new(16, 16, true));
        let now = Instant::now();
        let strangers: Vec<Slot> = (0..14).map(|i| slots.take(ip(i), now).unwrap()).collect();
        assert_eq!(slots.take(ip(100), now).unwrap_err(), Refusal::Full, "two of 16 are the reserve");
        slots.trust(ip(200), now);
        let operator: Vec<Slot> = (0..2).map(|_| slots.take(ip(200), now).unwrap()).collect();
        assert_eq!(slots.take(ip(200), now).unwrap_err(), Refusal::Full, "the whole cap is open");
        drop(operator);
        let later = now + TRUST_FOR + Duration::from_secs(1);
        assert_eq!(slots.take(ip(200), later).unwrap_err(), Refusal::Full, "trust lapses an hour after the last request");
        drop(strangers);
    }

    #[test]
    fn without_a_key_there_is_no_reserve() {
        let slots = Arc::new(Slots::new(2, 2, false));
        let _all: Vec<Slot> = (0..2).map(|i| slots.take(ip(i), Instant::now()).unwrap()).collect();
        assert_eq!(Slots::new(1, 1, true).reserve, 0, "one slot is never all reserve");
        assert_eq!(Slots::new(256, 32, true).reserve, 32);
    }

    #[test]
    fn trusted_addresses_are_bounded() {
        let slots = Slots::new(8, 8, true);
        let start = Instant::now();
        for i in 0..(TRUSTED_KEPT as u32 + 10) {
            slots.trust(IpAddr::from(i.to_be_bytes()), start + Duration::from_millis(i.into()));
        }
        let counts = lock(&slots.counts);
        assert_eq!(counts.trusted.len(), TRUSTED_KEPT);
        assert!(!counts.trusted.contains_key(&IpAddr::from(0u32.to_be_bytes())), "the oldest went first");
    }
}
